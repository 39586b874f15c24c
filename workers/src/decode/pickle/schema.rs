//! Reads the value graph as a pstats stats dict and feeds the profile builder.
//!
//! The walk follows the fixed shape `{(file, line, name): (cc, nc, tt, ct, {caller:
//! (nc, cc, tt, ct) | int})}` and never recurses into anything else, so cycles and
//! deep nesting in the graph cannot make it loop or overflow. Ignored parts of a
//! pickled Stats object (`all_callees`, `fcn_list`, totals, ...) are not visited.

use std::collections::HashMap;

use super::vm::{short, Container, Graph, Kind, Val};
use super::PickleError;
use crate::profile::{EdgeStats, KeyId, Limits, Profile, ProfileBuilder, SourceFormat, Stats, Sym};

/// Builds the profile from a decoded pickle.
pub(super) fn build(
    graph: &Graph,
    input: &[u8],
    name: &str,
    limits: Limits,
) -> Result<Profile, PickleError> {
    let w = Walker { graph, input };
    let (stats, format) = match w.kind(graph.root) {
        Some(Kind::Dict(entries)) => (
            entries.as_slice(),
            SourceFormat::Pickle {
                protocol: graph.protocol,
            },
        ),
        Some(Kind::Stats { state }) => (
            w.stats_of_state(*state)?,
            SourceFormat::PickledStats {
                protocol: graph.protocol,
            },
        ),
        _ => {
            return Err(PickleError::NotStats(format!(
                "the pickle holds {}, not a stats dict or a pstats.Stats object",
                w.describe(graph.root)
            )))
        }
    };
    let mut b = ProfileBuilder::new(limits, input.len());
    let mut callers: Vec<(KeyId, EdgeStats)> = Vec::new();
    let mut seen: HashMap<KeyId, usize> = HashMap::new();
    for (index, &(key, value)) in stats.iter().enumerate() {
        let entry = index + 1;
        if let Some(&[marker]) = w.tuple(key) {
            if w.text_bytes(marker) == Some(b"__sampled__".as_slice()) {
                b.mark_sampled();
                continue;
            }
        }
        let k = w.key(&mut b, key, || format!("the key of entry {entry}"))?;
        let bad = |b: &ProfileBuilder, field: &str, msg: String| {
            PickleError::NotStats(format!("{field} of {} {msg}", k.describe(b)))
        };
        let Some(&[cc, nc, tt, ct, callers_val]) = w.tuple(value) else {
            let msg = format!(
                "is {}, not a (cc, nc, tt, ct, callers) tuple",
                w.describe(value)
            );
            return Err(bad(&b, "the value", msg));
        };
        let stats = Stats {
            cc: w.count(cc).map_err(|m| bad(&b, "cc", m))?,
            nc: w.count(nc).map_err(|m| bad(&b, "nc", m))?,
            tt: w.time(tt).map_err(|m| bad(&b, "tt", m))?,
            ct: w.time(ct).map_err(|m| bad(&b, "ct", m))?,
        };
        b.begin_function(k.id, stats)?;
        let Some(Kind::Dict(edges)) = w.kind(callers_val) else {
            let msg = format!("are {}, not a dict", w.describe(callers_val));
            return Err(bad(&b, "the callers", msg));
        };
        // A callers dict can be one memo object reached from every entry: measure it
        // against the edge budget before copying it into this entry.
        b.reserve_edges(edges.len())?;
        let func = k.describe(&b);
        callers.clear();
        seen.clear();
        for &(ck, cv) in edges {
            let c = w.key(&mut b, ck, || format!("a caller key of {func}"))?;
            let edge = w.edge(cv).map_err(|(field, m)| {
                let func = format!("{func} (called from {})", c.describe(&b));
                PickleError::NotStats(format!("{field} of {func} {m}"))
            })?;
            // A repeated caller key replaces the earlier value in place, as in a dict.
            match seen.get(&c.id) {
                Some(&i) => {
                    if let Some(slot) = callers.get_mut(i) {
                        slot.1 = edge;
                    }
                }
                None => {
                    seen.insert(c.id, callers.len());
                    callers.push((c.id, edge));
                }
            }
        }
        for &(caller, edge) in &callers {
            b.add_caller(caller, edge)?;
        }
    }
    Ok(b.finish(name, format)?)
}

/// A decoded key and its parts, for messages.
#[derive(Clone, Copy)]
struct Key {
    id: KeyId,
    file: Sym,
    line: i64,
    name: Sym,
}

impl Key {
    fn describe(&self, b: &ProfileBuilder) -> String {
        format!("{}:{}({})", b.str(self.file), self.line, b.str(self.name))
    }
}

struct Walker<'g> {
    graph: &'g Graph,
    input: &'g [u8],
}

impl<'g> Walker<'g> {
    fn container(&self, v: Val) -> Option<&'g Container> {
        match v {
            Val::Ref(id) => self.graph.containers.get(id as usize),
            _ => None,
        }
    }

    fn kind(&self, v: Val) -> Option<&'g Kind> {
        self.container(v).map(|c| &c.kind)
    }

    fn tuple(&self, v: Val) -> Option<&'g [Val]> {
        match self.kind(v) {
            Some(Kind::Tuple(items)) => Some(items),
            _ => None,
        }
    }

    fn describe(&self, v: Val) -> String {
        match self.container(v) {
            Some(c) => {
                let what = match &c.kind {
                    Kind::Tuple(t) => format!("a {}-tuple", t.len()),
                    Kind::List(_) => "a list".into(),
                    Kind::Dict(_) => "a dict".into(),
                    Kind::Set(_) => "a set".into(),
                    Kind::Stats { .. } => "a pstats.Stats object".into(),
                };
                format!("{what} (made at byte {})", c.at)
            }
            None => short(&v),
        }
    }

    fn text_bytes(&self, v: Val) -> Option<&'g [u8]> {
        match v {
            Val::Text { start, len } => {
                let start = start as usize;
                self.input.get(start..start.checked_add(len as usize)?)
            }
            Val::OwnedText(i) => self.graph.owned.get(i as usize).map(|s| s.as_bytes()),
            _ => None,
        }
    }

    /// The `stats` entry of a pickled Stats object's state dict.
    fn stats_of_state(&self, state: Option<Val>) -> Result<&'g [(Val, Val)], PickleError> {
        let Some(Kind::Dict(fields)) = state.and_then(|s| self.kind(s)) else {
            return Err(PickleError::NotStats(
                "the pstats.Stats object has no state (no BUILD)".into(),
            ));
        };
        // The last `stats` wins, as in a dict.
        let stats = fields
            .iter()
            .rev()
            .find(|(k, _)| self.text_bytes(*k) == Some(b"stats".as_slice()))
            .map(|&(_, v)| v);
        let Some(stats) = stats else {
            return Err(PickleError::NotStats(
                "the pstats.Stats object has no 'stats' attribute".into(),
            ));
        };
        match self.kind(stats) {
            Some(Kind::Dict(entries)) => Ok(entries),
            _ => Err(PickleError::NotStats(format!(
                "the 'stats' attribute of the pstats.Stats object is {}, not a dict",
                self.describe(stats)
            ))),
        }
    }

    fn key(
        &self,
        b: &mut ProfileBuilder,
        key: Val,
        what: impl Fn() -> String,
    ) -> Result<Key, PickleError> {
        let Some(&[file, line, name]) = self.tuple(key) else {
            return Err(PickleError::NotStats(format!(
                "{} is {}, not a (file, line, name) tuple",
                what(),
                self.describe(key)
            )));
        };
        let text = |v: Val, part: &str| {
            self.text_bytes(v).ok_or_else(|| {
                PickleError::NotStats(format!(
                    "the {part} in {} is {}, not a str",
                    what(),
                    self.describe(v)
                ))
            })
        };
        let file = b.intern_lossy(text(file, "file name")?)?;
        let line = match line {
            Val::Int(i) => i,
            Val::Bool(v) => i64::from(v),
            other => {
                return Err(PickleError::NotStats(format!(
                    "the line number in {} is {}, not a 64-bit int",
                    what(),
                    self.describe(other)
                )))
            }
        };
        let name = b.intern_lossy(text(name, "function name")?)?;
        Ok(Key {
            id: b.key(file, line, name),
            file,
            line,
            name,
        })
    }

    /// A count, or what is wrong with it (to follow "FIELD of FUNCTION ").
    fn count(&self, v: Val) -> Result<i64, String> {
        match v {
            Val::Int(i) => Ok(i),
            Val::Bool(b) => Ok(i64::from(b)),
            Val::BigInt { at } => Err(format!(
                "is an integer beyond 64 bits (at byte {at}); counts must fit a signed 64-bit integer"
            )),
            Val::Float(f) => Err(format!("is the float {f:?}; counts must be integers")),
            other => Err(format!("is {}, not an integer", self.describe(other))),
        }
    }

    /// A time (int or float; finiteness is the builder's check).
    fn time(&self, v: Val) -> Result<f64, String> {
        match v {
            Val::Float(f) => Ok(f),
            // Python adds int times as floats (the `profile` root stores int 0).
            Val::Int(i) => Ok(i as f64),
            Val::Bool(b) => Ok(f64::from(u8::from(b))),
            Val::BigInt { at } => Err(format!(
                "is an integer beyond 64 bits (at byte {at}), not a time"
            )),
            other => Err(format!("is {}, not a number", self.describe(other))),
        }
    }

    /// A caller value: pstats reads a tuple as (nc, cc, tt, ct), nc first; an int is
    /// the `profile` module's bare call count.
    fn edge(&self, v: Val) -> Result<EdgeStats, (&'static str, String)> {
        if let Some(&[nc, cc, tt, ct]) = self.tuple(v) {
            // NaN is the model's "no time" sentinel, so the builder cannot see a NaN
            // edge time: refuse non-finite ones here.
            let finite = |t: f64, field: &'static str| {
                if t.is_finite() {
                    Ok(t)
                } else {
                    Err((field, format!("is {t}, not a finite number")))
                }
            };
            return Ok(EdgeStats::timed(
                self.count(nc).map_err(|m| ("caller nc", m))?,
                self.count(cc).map_err(|m| ("caller cc", m))?,
                finite(self.time(tt).map_err(|m| ("caller tt", m))?, "caller tt")?,
                finite(self.time(ct).map_err(|m| ("caller ct", m))?, "caller ct")?,
            ));
        }
        match v {
            Val::Int(_) | Val::Bool(_) | Val::BigInt { .. } | Val::Float(_) => self
                .count(v)
                .map(EdgeStats::count)
                .map_err(|m| ("the caller count", m)),
            _ => Err((
                "the caller value",
                format!(
                    "is {}, not an (nc, cc, tt, ct) tuple or an int",
                    self.describe(v)
                ),
            )),
        }
    }
}
