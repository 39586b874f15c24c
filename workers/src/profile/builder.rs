//! Validating builder shared by all decoders: interns text, enforces budgets and
//! pstats' number rules, and computes totals the way pstats does.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::limits::Limits;
use super::model::{
    Edge, EdgeStats, FuncKey, Function, KeyId, Producer, Profile, SourceFormat, Stats, Sym, Totals,
};

/// A dump whose container decoded fine but whose content is not a valid stats dict,
/// or that exceeds a budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShapeError {
    /// The stats dict holds no entries (pstats refuses it too).
    #[error("the stats dict is empty (pstats refuses it: nothing was profiled)")]
    Empty,
    /// A time is NaN or infinite.
    #[error("{field} of {function} is {value}, not a finite number")]
    NonFiniteTime {
        /// Which number (`tt`, `ct`, caller `tt`, ...).
        field: &'static str,
        /// The function, as `file:line(name)`.
        function: String,
        /// The offending value.
        value: f64,
    },
    /// More functions than [`Limits::max_functions`].
    #[error("too large: more than {limit} functions")]
    TooManyFunctions {
        /// The budget.
        limit: usize,
    },
    /// More caller edges than [`Limits::max_edges`] (e.g. a callers dict shared by reference).
    #[error("too large: more than {limit} caller edges for a {input_len}-byte dump (a shared callers dict would be expanded past the memory budget)")]
    TooManyEdges {
        /// The budget.
        limit: usize,
        /// Input size the budget was derived from.
        input_len: usize,
    },
    /// A string longer than [`Limits::max_string_bytes`].
    #[error("too large: a {len}-byte string (limit {limit})")]
    StringTooLong {
        /// Its length.
        len: usize,
        /// The budget.
        limit: usize,
    },
    /// A sum of counts does not fit 64 bits.
    #[error("the sum of {what} over all functions overflows a 64-bit integer")]
    TotalOverflow {
        /// `nc` or `cc`.
        what: &'static str,
    },
    /// A caller was added before any function.
    #[error("internal: caller edge outside a function entry")]
    EdgeOutsideFunction,
}

/// One 16-byte hash input per key instead of three field writes.
#[inline]
fn key_hash(hasher: &DefaultHashBuilder, k: FuncKey) -> u64 {
    hasher.hash_one((u64::from(k.file) << 32 | u64::from(k.name), k.line))
}

/// Marks a key without a stats entry in `function_of_key`.
const NO_FUNCTION: u32 = u32::MAX;

/// Streams functions and caller edges into a [`Profile`].
#[derive(Debug)]
pub struct ProfileBuilder {
    limits: Limits,
    input_len: usize,
    strings: Vec<Box<str>>,
    /// Symbols by the hash of their text; the text itself lives only in `strings`.
    string_index: HashTable<Sym>,
    hasher: DefaultHashBuilder,
    keys: Vec<FuncKey>,
    /// Key ids by the hash of their key; the keys themselves live only in `keys`.
    key_index: HashTable<KeyId>,
    functions: Vec<Function>,
    /// Function index per key id (`NO_FUNCTION` when the key has no entry).
    function_of_key: Vec<u32>,
    edges: Vec<Edge>,
    current: Option<usize>,
    sampled: bool,
}

impl ProfileBuilder {
    /// A builder for an input of `input_len` bytes under `limits`.
    pub fn new(limits: Limits, input_len: usize) -> Self {
        Self {
            limits,
            input_len,
            strings: Vec::new(),
            string_index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            keys: Vec::new(),
            key_index: HashTable::new(),
            functions: Vec::new(),
            function_of_key: Vec::new(),
            edges: Vec::new(),
            current: None,
            sampled: false,
        }
    }

    /// The budgets in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Interns a string.
    #[inline]
    pub fn intern(&mut self, s: &str) -> Result<Sym, ShapeError> {
        let hash = self.hasher.hash_one(s);
        let strings = &self.strings;
        if let Some(&sym) = self
            .string_index
            .find(hash, |&sym| &*strings[sym as usize] == s)
        {
            return Ok(sym);
        }
        if s.len() > self.limits.max_string_bytes {
            return Err(ShapeError::StringTooLong {
                len: s.len(),
                limit: self.limits.max_string_bytes,
            });
        }
        let sym = self.strings.len() as Sym;
        self.strings.push(s.into());
        let (strings, hasher) = (&self.strings, &self.hasher);
        self.string_index
            .insert_unique(hash, sym, |&sym| hasher.hash_one(&*strings[sym as usize]));
        Ok(sym)
    }

    /// Interns bytes that should be UTF-8, replacing invalid sequences (lone surrogates
    /// written with `surrogatepass`) by U+FFFD as the design asks.
    pub fn intern_lossy(&mut self, bytes: &[u8]) -> Result<Sym, ShapeError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => self.intern(s),
            Err(_) => {
                let s = String::from_utf8_lossy(bytes);
                self.intern(&s)
            }
        }
    }

    /// Text of an interned symbol.
    pub fn str(&self, sym: Sym) -> &str {
        &self.strings[sym as usize]
    }

    /// The id for key `(file, line, name)`, creating it if new.
    #[inline]
    pub fn key(&mut self, file: Sym, line: i64, name: Sym) -> KeyId {
        let k = FuncKey { file, line, name };
        let hash = key_hash(&self.hasher, k);
        let keys = &self.keys;
        if let Some(&id) = self.key_index.find(hash, |&id| keys[id as usize] == k) {
            return id;
        }
        let id = self.keys.len() as KeyId;
        self.keys.push(k);
        let (keys, hasher) = (&self.keys, &self.hasher);
        self.key_index
            .insert_unique(hash, id, |&id| key_hash(hasher, keys[id as usize]));
        self.function_of_key.push(NO_FUNCTION);
        id
    }

    /// Notes that the dump carried CPython's sampling-profiler marker key.
    pub fn mark_sampled(&mut self) {
        self.sampled = true;
    }

    /// A key as `file:line(name)`, for error messages.
    pub fn describe(&self, key: KeyId) -> String {
        let k = self.keys[key as usize];
        format!("{}:{}({})", self.str(k.file), k.line, self.str(k.name))
    }

    /// Starts a stats entry; following [`add_caller`](Self::add_caller) calls belong to it.
    /// A key seen before replaces the earlier entry in place, as a Python dict would.
    pub fn begin_function(&mut self, key: KeyId, stats: Stats) -> Result<(), ShapeError> {
        for (field, value) in [("tt", stats.tt), ("ct", stats.ct)] {
            if !value.is_finite() {
                return Err(ShapeError::NonFiniteTime {
                    field,
                    function: self.describe(key),
                    value,
                });
            }
        }
        let start = self.edges.len() as u32;
        let entry = Function {
            key,
            stats,
            callers_start: start,
            callers_end: start,
        };
        let known = self
            .function_of_key
            .get(key as usize)
            .copied()
            .filter(|&i| i != NO_FUNCTION);
        let index = if let Some(i) = known {
            let i = i as usize;
            self.functions[i] = entry;
            i
        } else {
            if self.functions.len() >= self.limits.max_functions {
                return Err(ShapeError::TooManyFunctions {
                    limit: self.limits.max_functions,
                });
            }
            self.functions.push(entry);
            if let Some(slot) = self.function_of_key.get_mut(key as usize) {
                *slot = (self.functions.len() - 1) as u32;
            }
            self.functions.len() - 1
        };
        self.current = Some(index);
        Ok(())
    }

    /// Checks that `extra` more edges fit the budget, before a decoder expands them.
    #[inline]
    pub fn reserve_edges(&self, extra: usize) -> Result<(), ShapeError> {
        if self.edges.len().saturating_add(extra) > self.limits.max_edges {
            return Err(ShapeError::TooManyEdges {
                limit: self.limits.max_edges,
                input_len: self.input_len,
            });
        }
        Ok(())
    }

    /// Pre-sizes the function and edge tables for about this many entries, so large
    /// dumps do not pay for doubling (two tables alive at once). Untouched capacity of a
    /// large allocation is not resident, so a generous guess costs little memory.
    pub fn reserve_hint(&mut self, functions: usize, edges: usize) {
        let functions = functions.min(self.limits.max_functions);
        let edges = edges.min(self.limits.max_edges);
        self.functions.reserve(functions);
        self.keys.reserve(functions);
        self.function_of_key.reserve(functions);
        self.edges.reserve(edges);
        // Hash tables hold 4-byte ids, so pre-sizing them is cheap and saves rehashing.
        let (keys, strings, hasher) = (&self.keys, &self.strings, &self.hasher);
        self.key_index
            .reserve(functions, |&id| key_hash(hasher, keys[id as usize]));
        self.string_index
            .reserve(functions, |&sym| hasher.hash_one(&*strings[sym as usize]));
    }

    /// Number of caller edges added so far (decoders remember ranges of them).
    pub fn edges_len(&self) -> usize {
        self.edges.len()
    }

    /// Gives the current function a copy of the edges `start..end` added earlier (a
    /// callers dict shared by reference). The budget is checked for the whole range
    /// before anything is copied, so a shared dict is refused rather than expanded.
    pub fn repeat_edges(&mut self, start: usize, end: usize) -> Result<(), ShapeError> {
        let Some(current) = self.current else {
            return Err(ShapeError::EdgeOutsideFunction);
        };
        let end = end.min(self.edges.len());
        let start = start.min(end);
        self.reserve_edges(end - start)?;
        self.edges.extend_from_within(start..end);
        self.functions[current].callers_end = self.edges.len() as u32;
        Ok(())
    }

    /// Builds a timed edge `(nc, cc, tt, ct)` for the current function, refusing NaN and
    /// infinite times here: NaN is the model's "no time" sentinel, so once inside an
    /// [`EdgeStats`] a NaN from the dump could no longer be told from a count-only edge.
    pub fn timed_edge(
        &self,
        caller: KeyId,
        nc: i64,
        cc: i64,
        tt: f64,
        ct: f64,
    ) -> Result<EdgeStats, ShapeError> {
        for (field, value) in [("caller tt", tt), ("caller ct", ct)] {
            if !value.is_finite() {
                let callee = self.current.map(|i| self.functions[i].key);
                let function = match callee {
                    Some(callee) => format!(
                        "{} (called from {})",
                        self.describe(callee),
                        self.describe(caller)
                    ),
                    None => self.describe(caller),
                };
                return Err(ShapeError::NonFiniteTime {
                    field,
                    function,
                    value,
                });
            }
        }
        Ok(EdgeStats::timed(nc, cc, tt, ct))
    }

    /// Adds a caller edge to the current function.
    #[inline]
    pub fn add_caller(&mut self, caller: KeyId, stats: EdgeStats) -> Result<(), ShapeError> {
        let Some(current) = self.current else {
            return Err(ShapeError::EdgeOutsideFunction);
        };
        self.reserve_edges(1)?;
        for (field, value) in [("caller tt", stats.tt()), ("caller ct", stats.ct())] {
            if let Some(v) = value {
                if !v.is_finite() {
                    let callee = self.functions[current].key;
                    return Err(ShapeError::NonFiniteTime {
                        field,
                        function: format!(
                            "{} (called from {})",
                            self.describe(callee),
                            self.describe(caller)
                        ),
                        value: v,
                    });
                }
            }
        }
        self.edges.push(Edge { caller, stats });
        self.functions[current].callers_end = self.edges.len() as u32;
        Ok(())
    }

    /// Validates, computes totals and returns the profile.
    pub fn finish(self, name: &str, format: SourceFormat) -> Result<Profile, ShapeError> {
        if self.functions.is_empty() {
            return Err(ShapeError::Empty);
        }
        let mut totals = Totals::default();
        for f in &self.functions {
            totals.total_calls = totals
                .total_calls
                .checked_add(f.stats.nc)
                .ok_or(ShapeError::TotalOverflow { what: "nc" })?;
            totals.primitive_calls = totals
                .primitive_calls
                .checked_add(f.stats.cc)
                .ok_or(ShapeError::TotalOverflow { what: "cc" })?;
            totals.total_time += f.stats.tt;
        }
        let producer = self.guess_producer();
        let mut strings = self.strings;
        strings.shrink_to_fit();
        let mut edges = self.edges;
        edges.shrink_to_fit();
        Ok(Profile {
            name: name.to_owned(),
            strings,
            keys: self.keys,
            functions: self.functions,
            edges,
            totals,
            format,
            producer,
        })
    }

    fn guess_producer(&self) -> Producer {
        if self.sampled {
            return Producer::Sampling;
        }
        let file_is = |k: &FuncKey, s: &str| &*self.strings[k.file as usize] == s;
        let has_file = |s: &str| self.keys.iter().any(|k| file_is(k, s) && k.line == 0);
        if self
            .functions
            .iter()
            .any(|f| f.stats.nc == -1 || f.stats.cc == -1)
        {
            return Producer::Pyinstrument;
        }
        if self.edges.iter().any(|e| !e.stats.has_times()) || has_file("profile") {
            return Producer::Profile;
        }
        if has_file("~") {
            return Producer::Cprofile;
        }
        if has_file("builtins") || self.functions.iter().any(|f| f.stats.cc > f.stats.nc) {
            return Producer::Yappi;
        }
        Producer::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ProfileBuilder {
        ProfileBuilder::new(Limits::for_input(0), 0)
    }

    #[test]
    fn totals_follow_file_order_and_duplicates_replace_in_place() {
        let mut b = builder();
        let f = b.intern("a.py").unwrap();
        let (n1, n2) = (b.intern("f").unwrap(), b.intern("g").unwrap());
        let (k1, k2) = (b.key(f, 1, n1), b.key(f, 2, n2));
        b.begin_function(
            k1,
            Stats {
                cc: 1,
                nc: 2,
                tt: 0.1,
                ct: 0.2,
            },
        )
        .unwrap();
        b.add_caller(k2, EdgeStats::count(3)).unwrap();
        b.begin_function(
            k2,
            Stats {
                cc: 5,
                nc: 5,
                tt: 0.2,
                ct: 0.3,
            },
        )
        .unwrap();
        b.begin_function(
            k1,
            Stats {
                cc: 7,
                nc: 7,
                tt: 0.5,
                ct: 0.5,
            },
        )
        .unwrap();
        let p = b.finish("x", SourceFormat::Marshal { version: 4 }).unwrap();
        assert_eq!(p.functions.len(), 2);
        assert_eq!(p.functions[0].stats.nc, 7);
        assert!(p.callers(&p.functions[0]).is_empty());
        assert_eq!(p.totals.total_calls, 12);
        assert_eq!(p.totals.total_time, 0.5 + 0.2);
    }

    #[test]
    fn rejects_nan_and_empty_and_edge_budget() {
        let mut b = builder();
        let f = b.intern("a.py").unwrap();
        let k = b.key(f, 1, f);
        let err = b
            .begin_function(
                k,
                Stats {
                    cc: 1,
                    nc: 1,
                    tt: f64::NAN,
                    ct: 0.0,
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("not a finite number"), "{err}");
        assert_eq!(
            builder()
                .finish("x", SourceFormat::Marshal { version: 4 })
                .unwrap_err(),
            ShapeError::Empty
        );
        let mut b = ProfileBuilder::new(
            Limits {
                max_edges: 1,
                ..Limits::for_input(0)
            },
            0,
        );
        let f = b.intern("a.py").unwrap();
        let k = b.key(f, 1, f);
        b.begin_function(k, Stats::default()).unwrap();
        b.add_caller(k, EdgeStats::count(1)).unwrap();
        assert!(matches!(
            b.add_caller(k, EdgeStats::count(1)),
            Err(ShapeError::TooManyEdges { .. })
        ));
    }
}
