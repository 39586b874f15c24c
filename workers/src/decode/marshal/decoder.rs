//! The schema-directed part: the stats dict, its keys, values and callers dicts.

use crate::profile::{EdgeStats, KeyId, Limits, Profile, ProfileBuilder, SourceFormat, Stats, Sym};

use super::reader::*;
use super::skip::{CodeInfo, Layout};
use super::MarshalError;

/// How the bytes of a string are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Enc {
    /// UTF-8 with surrogates (`u`, `t`): decoded lossily.
    Utf8,
    /// The ASCII codes: CPython reads the bytes as Latin-1.
    Latin1,
    /// A bytes object: decoded as lossy UTF-8 where text is needed.
    Bytes,
}

/// What a `FLAG_REF` object decoded to: the reference table's entries. 16 bytes, so
/// the table stays small next to the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Slot {
    /// A container still being read; a reference to it is a cycle.
    Pending(Kind),
    /// An int that fits 64 bits.
    Int(i64),
    /// An int beyond 64 bits.
    BigInt,
    /// A float.
    Float(f64),
    /// A string not interned yet: `len` bytes at offset `at` of the input.
    Text { at: u32, len: u32, enc: Enc },
    /// An interned string.
    Sym(Sym),
    /// A `(file, line, name)` key tuple.
    Key(KeyId),
    /// A callers dict: the builder's edges `start..end`.
    Callers { start: u32, end: u32 },
    /// A stats value tuple: index into `Decoder::entry_values`.
    EntryValue(u32),
    /// A callers value tuple: index into `Decoder::edge_values`.
    EdgeValue(u32),
    /// A code object: index into `Decoder::codes`.
    Code(u32),
    /// Anything else, remembered only by kind.
    Other(Kind),
    /// The end-of-dict marker (never stored in the table).
    Null,
}

// The table holds one entry per shared object; keep it at two words.
const _: () = assert!(std::mem::size_of::<Slot>() == 16);

impl Slot {
    /// The Python kind this entry stands for.
    pub(super) fn kind(&self) -> Kind {
        match *self {
            Slot::Pending(k) | Slot::Other(k) => k,
            Slot::Int(_) | Slot::BigInt => Kind::Int,
            Slot::Float(_) => Kind::Float,
            Slot::Text {
                enc: Enc::Bytes, ..
            } => Kind::Bytes,
            Slot::Text { .. } | Slot::Sym(_) => Kind::Str,
            Slot::Key(_) => Kind::Tuple(3),
            Slot::Callers { .. } => Kind::Dict,
            Slot::EntryValue(_) => Kind::Tuple(5),
            Slot::EdgeValue(_) => Kind::Tuple(4),
            Slot::Code(_) => Kind::Code,
            Slot::Null => Kind::Null,
        }
    }
}

/// A stats value tuple stored by reference: its numbers and its callers' edges.
#[derive(Debug, Clone, Copy)]
pub(super) struct EntryValue {
    stats: Stats,
    start: u32,
    end: u32,
}

/// Where a key sits, for messages and for the sampled marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    StatsKey,
    CallerKey,
}

impl Role {
    fn what(self) -> &'static str {
        match self {
            Role::StatsKey => "stats key",
            Role::CallerKey => "caller key",
        }
    }
}

/// A key as read: a function key, or CPython 3.15's sampling marker.
enum KeyRead {
    Key(KeyId),
    Marker,
}

const SAMPLED_MARKER: &str = "__sampled__";
const KEY_EXPECTED: &str = "a (file, line, function) tuple";

/// One decode: the input cursor, the reference table and the builder.
pub(super) struct Decoder<'a> {
    pub(super) r: Reader<'a>,
    pub(super) refs: Vec<Slot>,
    /// Python 2: every interned string, for `TYPE_STRINGREF`.
    pub(super) py2_interned: Vec<Slot>,
    pub(super) codes: Vec<CodeInfo>,
    entry_values: Vec<EntryValue>,
    edge_values: Vec<EdgeStats>,
    pub(super) b: ProfileBuilder,
    pub(super) features: u8,
    pub(super) layout: Option<Layout>,
    pub(super) max_depth: usize,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(bytes: &'a [u8], limits: Limits) -> Self {
        Self {
            r: Reader::new(bytes),
            refs: Vec::new(),
            py2_interned: Vec::new(),
            codes: Vec::new(),
            entry_values: Vec::new(),
            edge_values: Vec::new(),
            b: ProfileBuilder::new(limits, bytes.len()),
            features: 0,
            layout: None,
            max_depth: limits.max_depth,
        }
    }

    /// Checks the whole first object as plain marshal data (used to rank errors).
    pub(super) fn validate(mut self) -> Result<(), MarshalError> {
        self.skip(1).map(|_| ())
    }

    /// Reads a type byte and notes the version features it uses.
    #[inline]
    pub(super) fn type_byte(&mut self) -> Result<(usize, u8), MarshalError> {
        let at = self.r.pos();
        let code = self.r.u8("a type code")?;
        self.features |= FEATURES[code as usize];
        Ok((at, code))
    }

    /// Adds a table entry when `code` carries `FLAG_REF`; returns its index.
    #[inline]
    pub(super) fn reserve(&mut self, code: u8, slot: Slot) -> Option<u32> {
        if code & FLAG_REF == 0 {
            return None;
        }
        self.refs.push(slot);
        Some((self.refs.len() - 1) as u32)
    }

    #[inline]
    pub(super) fn fill(&mut self, index: Option<u32>, slot: Slot) {
        if let Some(i) = index {
            if let Some(s) = self.refs.get_mut(i as usize) {
                *s = slot;
            }
        }
    }

    /// Resolves a `TYPE_REF` body (after its type byte at `at`).
    #[inline]
    pub(super) fn read_ref(&mut self, at: usize) -> Result<Slot, MarshalError> {
        self.read_ref_indexed(at).map(|(_, slot)| slot)
    }

    /// Like [`read_ref`](Self::read_ref), also returning the table index.
    #[inline]
    fn read_ref_indexed(&mut self, at: usize) -> Result<(usize, Slot), MarshalError> {
        let index = self.r.i32("a 4-byte reference index")?;
        usize::try_from(index)
            .ok()
            .and_then(|i| self.refs.get(i).map(|s| (i, *s)))
            .ok_or_else(|| MarshalError::DanglingRef {
                index: i64::from(index),
                at,
            })
    }

    /// Resolves a Python 2 `TYPE_STRINGREF` body.
    pub(super) fn read_stringref(&mut self, at: usize) -> Result<Slot, MarshalError> {
        let index = self.r.i32("a 4-byte interned-string index")?;
        usize::try_from(index)
            .ok()
            .and_then(|i| self.py2_interned.get(i))
            .copied()
            .ok_or_else(|| MarshalError::DanglingRef {
                index: i64::from(index),
                at,
            })
    }

    /// Decodes the stats dict into a profile.
    pub(super) fn decode_stats(mut self, name: &str) -> Result<Profile, MarshalError> {
        let (at, code) = self.type_byte()?;
        if code & !FLAG_REF != TYPE_DICT {
            return Err(self.unexpected_code("top-level object".into(), at, code, "a stats dict"));
        }
        // Real dumps spend about 57 bytes per caller edge and 180 per function (v4);
        // guess high, since unused capacity is not resident.
        let len = self.r.buf().len();
        self.b.reserve_hint(len / 96, len / 40);
        self.refs.reserve(len / 96);
        // The stats dict stays "being read" to the end: a reference to it is a cycle.
        self.reserve(code, Slot::Pending(Kind::Dict));
        loop {
            let (at, code) = self.type_byte()?;
            if code & !FLAG_REF == TYPE_NULL {
                break;
            }
            match self.read_key(at, code, Role::StatsKey)? {
                KeyRead::Key(key) => self.read_entry_value(key)?,
                KeyRead::Marker => {
                    self.b.mark_sampled();
                    self.skip(2)?;
                }
            }
        }
        let version = version_of(self.features);
        Ok(self.b.finish(name, SourceFormat::Marshal { version })?)
    }

    /// Reads a key whose type byte `code` at `at` was just read.
    fn read_key(&mut self, at: usize, code: u8, role: Role) -> Result<KeyRead, MarshalError> {
        let n = match code & !FLAG_REF {
            TYPE_SMALL_TUPLE => self.r.u8("a 1-byte tuple size")? as usize,
            TYPE_TUPLE => self.r.len32("tuple", "elements", 1, at)?,
            TYPE_REF => {
                return match self.read_ref(at)? {
                    Slot::Key(k) => Ok(KeyRead::Key(k)),
                    other => Err(self.bad_ref(role.what().into(), at, other, KEY_EXPECTED)),
                };
            }
            _ => return Err(self.unexpected_code(role.what().into(), at, code, KEY_EXPECTED)),
        };
        if n == 1 && role == Role::StatsKey {
            let slot = self.reserve(code, Slot::Pending(Kind::Tuple(1)));
            let inner = self.skip(3)?;
            self.fill(slot, Slot::Other(Kind::Tuple(1)));
            if self.slot_text_is(inner, SAMPLED_MARKER) {
                return Ok(KeyRead::Marker);
            }
        }
        if n != 3 {
            return Err(MarshalError::Unexpected {
                what: role.what().into(),
                at,
                found: Kind::Tuple(n as u32).describe(),
                expected: KEY_EXPECTED,
            });
        }
        let slot = self.reserve(code, Slot::Pending(Kind::Tuple(3)));
        let file = self.read_name(role, false)?;
        let line = self.read_line(role)?;
        let name = self.read_name(role, true)?;
        let key = self.b.key(file, line, name);
        self.fill(slot, Slot::Key(key));
        Ok(KeyRead::Key(key))
    }

    fn slot_text_is(&self, slot: Slot, want: &str) -> bool {
        match slot {
            Slot::Text { at, len, .. } => {
                let (at, len) = (at as usize, len as usize);
                self.r.buf().get(at..at + len) == Some(want.as_bytes())
            }
            Slot::Sym(s) => self.b.str(s) == want,
            _ => false,
        }
    }

    /// Reads a file name (`code_ok` false) or function name (a code object allowed).
    fn read_name(&mut self, role: Role, code_ok: bool) -> Result<Sym, MarshalError> {
        let (at, code) = self.type_byte()?;
        let (bytes, enc) = match code & !FLAG_REF {
            TYPE_SHORT_ASCII | TYPE_SHORT_ASCII_INTERNED => {
                let n = self.r.u8("a 1-byte string length")? as usize;
                (self.r.bytes(n, "string bytes")?, Enc::Latin1)
            }
            TYPE_ASCII | TYPE_ASCII_INTERNED => {
                let n = self.r.len32("str", "bytes", 1, at)?;
                (self.r.bytes(n, "string bytes")?, Enc::Latin1)
            }
            TYPE_UNICODE | TYPE_INTERNED => {
                let n = self.r.len32("str", "bytes", 1, at)?;
                (self.r.bytes(n, "string bytes")?, Enc::Utf8)
            }
            TYPE_STRING => {
                let n = self.r.len32("bytes object", "bytes", 1, at)?;
                (self.r.bytes(n, "bytes")?, Enc::Bytes)
            }
            TYPE_REF => {
                let (index, slot) = self.read_ref_indexed(at)?;
                let sym = self.name_from_slot(slot, role, at, code_ok)?;
                if let (Slot::Text { .. }, Some(s)) = (slot, self.refs.get_mut(index)) {
                    // Later references to the same string skip the hashing.
                    *s = Slot::Sym(sym);
                }
                return Ok(sym);
            }
            TYPE_STRINGREF => {
                let slot = self.read_stringref(at)?;
                return self.name_from_slot(slot, role, at, code_ok);
            }
            TYPE_CODE if code_ok => {
                self.r.set_pos(at);
                let slot = self.skip(3)?;
                return self.name_from_slot(slot, role, at, code_ok);
            }
            _ => {
                let what = name_what(role, code_ok);
                let expected = if code_ok {
                    "a str"
                } else {
                    "a str (a file name)"
                };
                return Err(self.unexpected_code(what, at, code, expected));
            }
        };
        let sym = self.intern(bytes, enc)?;
        self.reserve(code, Slot::Sym(sym));
        if code == TYPE_INTERNED {
            self.py2_interned.push(Slot::Sym(sym));
        }
        Ok(sym)
    }

    fn name_from_slot(
        &mut self,
        slot: Slot,
        role: Role,
        at: usize,
        code_ok: bool,
    ) -> Result<Sym, MarshalError> {
        match slot {
            Slot::Sym(s) => Ok(s),
            Slot::Text { at: t, len, enc } => {
                let (t, len) = (t as usize, len as usize);
                let bytes = self.r.buf().get(t..t + len).unwrap_or_default();
                self.intern(bytes, enc)
            }
            Slot::Code(i) if code_ok => {
                let text = self.code_text(i);
                Ok(self.b.intern(&text)?)
            }
            other => {
                let expected = if code_ok {
                    "a str"
                } else {
                    "a str (a file name)"
                };
                Err(self.bad_ref(name_what(role, code_ok), at, other, expected))
            }
        }
    }

    /// Interns string bytes read as `enc`.
    pub(super) fn intern(&mut self, bytes: &[u8], enc: Enc) -> Result<Sym, MarshalError> {
        Ok(match enc {
            Enc::Latin1 if !bytes.is_ascii() => {
                let s: String = bytes.iter().map(|&b| char::from(b)).collect();
                self.b.intern(&s)?
            }
            _ => self.b.intern_lossy(bytes)?,
        })
    }

    /// Text of a string slot, for code-object names.
    pub(super) fn slot_text(&self, slot: Slot) -> Option<String> {
        match slot {
            Slot::Sym(s) => Some(self.b.str(s).to_owned()),
            Slot::Text { at, len, enc } => {
                let (at, len) = (at as usize, len as usize);
                let bytes = self.r.buf().get(at..at + len)?;
                Some(match enc {
                    Enc::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
                    _ => String::from_utf8_lossy(bytes).into_owned(),
                })
            }
            _ => None,
        }
    }

    /// `<code object NAME, file "FILE", line N>`: Python's repr without the address.
    fn code_text(&self, index: u32) -> String {
        let Some(info) = self.codes.get(index as usize) else {
            return "<code object ???>".into();
        };
        let name = self.slot_text(info.name).unwrap_or_else(|| "???".into());
        let file = self
            .slot_text(info.filename)
            .unwrap_or_else(|| "???".into());
        format!("<code object {name}, file \"{file}\", line {}>", info.line)
    }

    fn read_line(&mut self, role: Role) -> Result<i64, MarshalError> {
        let (at, code) = self.type_byte()?;
        let r = self.read_int(at, code, "an int (a line number)");
        self.titled(r, |_| format!("line number of a {}", role.what()))
    }

    /// Reads an integer (count or line) whose type byte was just read. Errors carry an
    /// empty `what`, filled in by [`titled`](Self::titled) off the hot path.
    #[inline]
    fn read_int(
        &mut self,
        at: usize,
        code: u8,
        expected: &'static str,
    ) -> Result<i64, MarshalError> {
        match code & !FLAG_REF {
            TYPE_INT => {
                let v = i64::from(self.r.i32("a 4-byte int")?);
                self.reserve(code, Slot::Int(v));
                Ok(v)
            }
            TYPE_REF => match self.read_ref(at)? {
                Slot::Int(v) => Ok(v),
                Slot::BigInt => Err(MarshalError::IntOverflow {
                    what: String::new(),
                    at,
                }),
                other => Err(self.bad_ref(String::new(), at, other, expected)),
            },
            TYPE_LONG => match read_long(&mut self.r, at)? {
                Some(v) => {
                    self.reserve(code, Slot::Int(v));
                    Ok(v)
                }
                None => {
                    self.reserve(code, Slot::BigInt);
                    Err(MarshalError::IntOverflow {
                        what: String::new(),
                        at,
                    })
                }
            },
            TYPE_INT64 => {
                let v = self.r.i64("an 8-byte int")?;
                self.reserve(code, Slot::Int(v));
                Ok(v)
            }
            _ => Err(self.unexpected_code(String::new(), at, code, expected)),
        }
    }

    /// Reads a time: a float, or an int converted to `f64`. Errors carry an empty `what`.
    #[inline]
    fn read_time(&mut self) -> Result<f64, MarshalError> {
        let (at, code) = self.type_byte()?;
        match code & !FLAG_REF {
            TYPE_BINARY_FLOAT => {
                let v = self.r.f64("an 8-byte float")?;
                self.reserve(code, Slot::Float(v));
                Ok(v)
            }
            TYPE_REF => match self.read_ref(at)? {
                Slot::Float(v) => Ok(v),
                Slot::Int(v) => Ok(v as f64),
                Slot::BigInt => Err(MarshalError::IntOverflow {
                    what: String::new(),
                    at,
                }),
                other => Err(self.bad_ref(String::new(), at, other, TIME_EXPECTED)),
            },
            TYPE_FLOAT => {
                let v = read_text_float(&mut self.r, at)?;
                self.reserve(code, Slot::Float(v));
                Ok(v)
            }
            TYPE_INT | TYPE_LONG | TYPE_INT64 => {
                self.read_int(at, code, TIME_EXPECTED).map(|v| v as f64)
            }
            _ => Err(self.unexpected_code(String::new(), at, code, TIME_EXPECTED)),
        }
    }

    /// Fills the empty `what` of an error raised by the number readers.
    #[inline]
    fn titled<T>(
        &self,
        r: Result<T, MarshalError>,
        what: impl FnOnce(&Self) -> String,
    ) -> Result<T, MarshalError> {
        r.map_err(|e| match e {
            MarshalError::Unexpected {
                what: w,
                at,
                found,
                expected,
            } if w.is_empty() => MarshalError::Unexpected {
                what: what(self),
                at,
                found,
                expected,
            },
            MarshalError::IntOverflow { what: w, at } if w.is_empty() => {
                MarshalError::IntOverflow {
                    what: what(self),
                    at,
                }
            }
            other => other,
        })
    }

    #[inline]
    fn read_count(&mut self, field: &'static str, key: KeyId) -> Result<i64, MarshalError> {
        let (at, code) = self.type_byte()?;
        let r = self.read_int(at, code, COUNT_EXPECTED);
        self.titled(r, |d| format!("{field} of {}", d.b.describe(key)))
    }

    #[inline]
    fn read_entry_time(&mut self, field: &'static str, key: KeyId) -> Result<f64, MarshalError> {
        let r = self.read_time();
        self.titled(r, |d| format!("{field} of {}", d.b.describe(key)))
    }

    /// Reads `(cc, nc, tt, ct, callers)` for `key` and feeds the builder.
    fn read_entry_value(&mut self, key: KeyId) -> Result<(), MarshalError> {
        let (at, code) = self.type_byte()?;
        let n = match code & !FLAG_REF {
            TYPE_SMALL_TUPLE => self.r.u8("a 1-byte tuple size")? as usize,
            TYPE_TUPLE => self.r.len32("tuple", "elements", 1, at)?,
            TYPE_REF => {
                return match self.read_ref(at)? {
                    Slot::EntryValue(i) => {
                        let Some(v) = self.entry_values.get(i as usize).copied() else {
                            return Err(MarshalError::DanglingRef {
                                index: i64::from(i),
                                at,
                            });
                        };
                        self.b.begin_function(key, v.stats)?;
                        self.b.repeat_edges(v.start as usize, v.end as usize)?;
                        Ok(())
                    }
                    other => {
                        let what = format!("stats value of {}", self.b.describe(key));
                        Err(self.bad_ref(what, at, other, VALUE_EXPECTED))
                    }
                };
            }
            _ => {
                let what = format!("stats value of {}", self.b.describe(key));
                return Err(self.unexpected_code(what, at, code, VALUE_EXPECTED));
            }
        };
        if n != 5 {
            return Err(MarshalError::Unexpected {
                what: format!("stats value of {}", self.b.describe(key)),
                at,
                found: Kind::Tuple(n as u32).describe(),
                expected: VALUE_EXPECTED,
            });
        }
        let slot = self.reserve(code, Slot::Pending(Kind::Tuple(5)));
        let cc = self.read_count("cc", key)?;
        let nc = self.read_count("nc", key)?;
        let tt = self.read_entry_time("tt", key)?;
        let ct = self.read_entry_time("ct", key)?;
        let stats = Stats { cc, nc, tt, ct };
        self.b.begin_function(key, stats)?;
        let start = self.b.edges_len();
        self.read_callers(key)?;
        if slot.is_some() {
            let end = self.b.edges_len();
            self.entry_values.push(EntryValue {
                stats,
                start: start as u32,
                end: end as u32,
            });
            let i = (self.entry_values.len() - 1) as u32;
            self.fill(slot, Slot::EntryValue(i));
        }
        Ok(())
    }

    fn read_callers(&mut self, key: KeyId) -> Result<(), MarshalError> {
        let (at, code) = self.type_byte()?;
        match code & !FLAG_REF {
            TYPE_DICT => {}
            TYPE_REF => {
                return match self.read_ref(at)? {
                    Slot::Callers { start, end } => {
                        Ok(self.b.repeat_edges(start as usize, end as usize)?)
                    }
                    other => {
                        let what = format!("callers of {}", self.b.describe(key));
                        Err(self.bad_ref(what, at, other, "a dict"))
                    }
                };
            }
            _ => {
                let what = format!("callers of {}", self.b.describe(key));
                return Err(self.unexpected_code(what, at, code, "a dict"));
            }
        }
        let slot = self.reserve(code, Slot::Pending(Kind::Dict));
        let start = self.b.edges_len();
        loop {
            let (at, code) = self.type_byte()?;
            if code & !FLAG_REF == TYPE_NULL {
                break;
            }
            let KeyRead::Key(caller) = self.read_key(at, code, Role::CallerKey)? else {
                // read_key only reports the marker for stats keys.
                continue;
            };
            let stats = self.read_edge_value(key, caller)?;
            self.b.add_caller(caller, stats)?;
        }
        let end = self.b.edges_len();
        self.fill(
            slot,
            Slot::Callers {
                start: start as u32,
                end: end as u32,
            },
        );
        Ok(())
    }

    fn edge_what(&self, field: &str, key: KeyId, caller: KeyId) -> String {
        format!(
            "{field} of {} (called from {})",
            self.b.describe(key),
            self.b.describe(caller)
        )
    }

    fn read_edge_value(&mut self, key: KeyId, caller: KeyId) -> Result<EdgeStats, MarshalError> {
        let (at, code) = self.type_byte()?;
        let n = match code & !FLAG_REF {
            TYPE_SMALL_TUPLE => self.r.u8("a 1-byte tuple size")? as usize,
            TYPE_TUPLE => self.r.len32("tuple", "elements", 1, at)?,
            TYPE_INT | TYPE_LONG | TYPE_INT64 => {
                let r = self.read_int(at, code, EDGE_EXPECTED).map(EdgeStats::count);
                return self.titled(r, |d| d.edge_what("callers value", key, caller));
            }
            TYPE_REF => {
                let r = match self.read_ref(at)? {
                    Slot::Int(v) => Ok(EdgeStats::count(v)),
                    Slot::EdgeValue(i) => match self.edge_values.get(i as usize) {
                        Some(&e) => Ok(e),
                        None => Err(MarshalError::DanglingRef {
                            index: i64::from(i),
                            at,
                        }),
                    },
                    Slot::BigInt => Err(MarshalError::IntOverflow {
                        what: String::new(),
                        at,
                    }),
                    other => Err(self.bad_ref(String::new(), at, other, EDGE_EXPECTED)),
                };
                return self.titled(r, |d| d.edge_what("callers value", key, caller));
            }
            _ => {
                let what = self.edge_what("callers value", key, caller);
                return Err(self.unexpected_code(what, at, code, EDGE_EXPECTED));
            }
        };
        if n != 4 {
            return Err(MarshalError::Unexpected {
                what: self.edge_what("callers value", key, caller),
                at,
                found: Kind::Tuple(n as u32).describe(),
                expected: EDGE_EXPECTED,
            });
        }
        let slot = self.reserve(code, Slot::Pending(Kind::Tuple(4)));
        // pstats reads a callers value as (nc, cc, tt, ct).
        let nc = self.read_edge_count("caller nc", key, caller)?;
        let cc = self.read_edge_count("caller cc", key, caller)?;
        let tt = self.read_time();
        let tt = self.titled(tt, |d| d.edge_what("caller tt", key, caller))?;
        let ct = self.read_time();
        let ct = self.titled(ct, |d| d.edge_what("caller ct", key, caller))?;
        let e = self.b.timed_edge(caller, nc, cc, tt, ct)?;
        if slot.is_some() {
            self.edge_values.push(e);
            let i = (self.edge_values.len() - 1) as u32;
            self.fill(slot, Slot::EdgeValue(i));
        }
        Ok(e)
    }

    #[inline]
    fn read_edge_count(
        &mut self,
        field: &'static str,
        key: KeyId,
        caller: KeyId,
    ) -> Result<i64, MarshalError> {
        let (at, code) = self.type_byte()?;
        let r = self.read_int(at, code, COUNT_EXPECTED);
        self.titled(r, |d| d.edge_what(field, key, caller))
    }

    #[cold]
    fn unexpected_code(
        &self,
        what: String,
        at: usize,
        code: u8,
        expected: &'static str,
    ) -> MarshalError {
        match Kind::of_code(code) {
            Some(kind) => MarshalError::Unexpected {
                what,
                at,
                found: kind.describe(),
                expected,
            },
            None => MarshalError::UnknownType { code, at },
        }
    }

    #[cold]
    fn bad_ref(&self, what: String, at: usize, slot: Slot, expected: &'static str) -> MarshalError {
        match slot {
            Slot::Pending(_) => MarshalError::RefCycle {
                index: self.ref_index_at(at),
                at,
            },
            other => MarshalError::Unexpected {
                what,
                at,
                found: format!("a reference to {}", other.kind().describe()),
                expected,
            },
        }
    }

    /// The index a `TYPE_REF` at `at` named (for messages).
    fn ref_index_at(&self, at: usize) -> i64 {
        let b = self.r.buf();
        b.get(at + 1..at + 5)
            .and_then(|s| s.try_into().ok())
            .map(|a: [u8; 4]| i64::from(i32::from_le_bytes(a)))
            .unwrap_or(-1)
    }
}

const COUNT_EXPECTED: &str = "an int (a call count)";
const TIME_EXPECTED: &str = "a number (a time)";
const VALUE_EXPECTED: &str = "a (cc, nc, tt, ct, callers) tuple";
const EDGE_EXPECTED: &str = "an (nc, cc, tt, ct) tuple or an int call count";

fn name_what(role: Role, function: bool) -> String {
    let part = if function {
        "function name"
    } else {
        "file name"
    };
    format!("{part} in a {}", role.what())
}
