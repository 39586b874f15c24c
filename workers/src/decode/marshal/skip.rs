//! Generic, non-recursive walk over any marshal object: used for code objects inside
//! `profile` keys, the sampling marker's value, and to rank errors. It never copies a
//! referenced object; it records what each `FLAG_REF` object was, so later references
//! from the stats schema (a file name that is also a code object's `co_filename`)
//! resolve.

use super::decoder::{Decoder, Enc, Slot};
use super::reader::*;
use super::MarshalError;

/// Where a code object keeps its name, file and first line.
#[derive(Debug, Clone, Copy)]
pub(super) struct CodeInfo {
    pub(super) filename: Slot,
    pub(super) name: Slot,
    pub(super) line: i32,
}

/// CPython's code-object layouts (`r_object`, `TYPE_CODE`), which marshal does not label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// 3.11–3.14: 5 ints, then code, consts, names, localsplusnames, localspluskinds,
    /// filename, name, qualname, firstlineno, linetable, exceptiontable.
    Py311,
    /// 3.8–3.10: 6 ints (posonlyargcount and nlocals), then code, consts, names,
    /// varnames, freevars, cellvars, filename, name, firstlineno, lnotab/linetable.
    Py38,
    /// 3.0–3.7: as 3.8 without posonlyargcount.
    Py30,
}

/// What a code-object field must be; checking it is how the layout is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Bytes,
    Tuple,
    Str,
}

struct Spec {
    ints: usize,
    fields: &'static [(&'static str, Want)],
    /// `firstlineno` follows this many object fields.
    line_after: usize,
    filename: usize,
    name: usize,
}

const PY311_FIELDS: &[(&str, Want)] = &[
    ("co_code", Want::Bytes),
    ("co_consts", Want::Tuple),
    ("co_names", Want::Tuple),
    ("co_localsplusnames", Want::Tuple),
    ("co_localspluskinds", Want::Bytes),
    ("co_filename", Want::Str),
    ("co_name", Want::Str),
    ("co_qualname", Want::Str),
    ("co_linetable", Want::Bytes),
    ("co_exceptiontable", Want::Bytes),
];

const PY30_FIELDS: &[(&str, Want)] = &[
    ("co_code", Want::Bytes),
    ("co_consts", Want::Tuple),
    ("co_names", Want::Tuple),
    ("co_varnames", Want::Tuple),
    ("co_freevars", Want::Tuple),
    ("co_cellvars", Want::Tuple),
    ("co_filename", Want::Str),
    ("co_name", Want::Str),
    ("co_lnotab", Want::Bytes),
];

impl Layout {
    fn spec(self) -> Spec {
        match self {
            Layout::Py311 => Spec {
                ints: 5,
                fields: PY311_FIELDS,
                line_after: 8,
                filename: 5,
                name: 6,
            },
            Layout::Py38 | Layout::Py30 => Spec {
                ints: if self == Layout::Py38 { 6 } else { 5 },
                fields: PY30_FIELDS,
                line_after: 8,
                filename: 6,
                name: 7,
            },
        }
    }

    /// Most likely layouts first: `co_code` (a bytes object) follows 5 or 6 ints.
    fn guesses(buf: &[u8], at: usize) -> [Layout; 3] {
        let is_bytes = |off: usize| {
            buf.get(at + 1 + off)
                .is_some_and(|b| matches!(b & !FLAG_REF, TYPE_STRING | TYPE_REF))
        };
        if is_bytes(20) || !is_bytes(24) {
            [Layout::Py311, Layout::Py30, Layout::Py38]
        } else {
            [Layout::Py38, Layout::Py311, Layout::Py30]
        }
    }
}

enum Frame {
    Seq {
        kind: Kind,
        left: u32,
        slot: Option<u32>,
    },
    Dict {
        slot: Option<u32>,
        want_value: bool,
    },
    Code {
        layout: Layout,
        step: usize,
        slot: Option<u32>,
        at: usize,
        filename: Slot,
        name: Slot,
        line: i32,
    },
}

impl Decoder<'_> {
    #[inline]
    fn store(&mut self, code: u8, slot: Slot) -> Slot {
        self.reserve(code, slot);
        slot
    }

    fn text(&mut self, code: u8, n: usize, enc: Enc) -> Result<Slot, MarshalError> {
        let start = self.r.pos();
        self.r.bytes(n, "string bytes")?;
        // Offsets fit u32: decode() refuses inputs of 4 GiB and more.
        let slot = Slot::Text {
            at: start as u32,
            len: n as u32,
            enc,
        };
        if code == TYPE_INTERNED {
            self.py2_interned.push(slot);
        }
        Ok(self.store(code, slot))
    }

    /// Walks one object of any type starting at the cursor; `depth` is its nesting level
    /// (1 = top level). Returns what it was, for the caller and the reference table.
    pub(super) fn skip(&mut self, depth: usize) -> Result<Slot, MarshalError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let (at, code) = self.type_byte()?;
            let level = depth + stack.len();
            if level > self.max_depth {
                return Err(MarshalError::TooDeep {
                    limit: self.max_depth,
                    at,
                });
            }
            let ty = code & !FLAG_REF;
            let done = match ty {
                TYPE_NULL => Some(Slot::Null),
                TYPE_NONE => Some(Slot::Other(Kind::None)),
                TYPE_TRUE | TYPE_FALSE => Some(Slot::Other(Kind::Bool)),
                TYPE_STOPITER => Some(Slot::Other(Kind::StopIteration)),
                TYPE_ELLIPSIS => Some(Slot::Other(Kind::Ellipsis)),
                TYPE_INT => {
                    let v = i64::from(self.r.i32("a 4-byte int")?);
                    Some(self.store(code, Slot::Int(v)))
                }
                TYPE_INT64 => {
                    let v = self.r.i64("an 8-byte int")?;
                    Some(self.store(code, Slot::Int(v)))
                }
                TYPE_LONG => {
                    let slot = match read_long(&mut self.r, at)? {
                        Some(v) => Slot::Int(v),
                        None => Slot::BigInt,
                    };
                    Some(self.store(code, slot))
                }
                TYPE_FLOAT => {
                    let v = read_text_float(&mut self.r, at)?;
                    Some(self.store(code, Slot::Float(v)))
                }
                TYPE_BINARY_FLOAT => {
                    let v = self.r.f64("an 8-byte float")?;
                    Some(self.store(code, Slot::Float(v)))
                }
                TYPE_COMPLEX => {
                    read_text_float(&mut self.r, at)?;
                    read_text_float(&mut self.r, at)?;
                    Some(self.store(code, Slot::Other(Kind::Complex)))
                }
                TYPE_BINARY_COMPLEX => {
                    self.r.bytes(16, "a 16-byte complex")?;
                    Some(self.store(code, Slot::Other(Kind::Complex)))
                }
                TYPE_STRING => {
                    let n = self.r.len32("bytes object", "bytes", 1, at)?;
                    Some(self.text(code, n, Enc::Bytes)?)
                }
                TYPE_ASCII | TYPE_ASCII_INTERNED => {
                    let n = self.r.len32("str", "bytes", 1, at)?;
                    Some(self.text(code, n, Enc::Latin1)?)
                }
                TYPE_SHORT_ASCII | TYPE_SHORT_ASCII_INTERNED => {
                    let n = self.r.u8("a 1-byte string length")? as usize;
                    Some(self.text(code, n, Enc::Latin1)?)
                }
                TYPE_UNICODE | TYPE_INTERNED => {
                    let n = self.r.len32("str", "bytes", 1, at)?;
                    Some(self.text(code, n, Enc::Utf8)?)
                }
                // A reference is never expanded; one to a container still being read is
                // legal marshal (a list holding itself), so it is just noted by kind.
                TYPE_REF => Some(match self.read_ref(at)? {
                    Slot::Pending(k) => Slot::Other(k),
                    s => s,
                }),
                TYPE_STRINGREF => Some(self.read_stringref(at)?),
                TYPE_TUPLE | TYPE_SMALL_TUPLE | TYPE_LIST | TYPE_SET | TYPE_FROZENSET
                | TYPE_SLICE => {
                    let (n, kind) = match ty {
                        TYPE_SMALL_TUPLE => {
                            let n = self.r.u8("a 1-byte tuple size")? as usize;
                            (n, Kind::Tuple(n as u32))
                        }
                        TYPE_TUPLE => {
                            let n = self.r.len32("tuple", "elements", 1, at)?;
                            (n, Kind::Tuple(n as u32))
                        }
                        TYPE_LIST => (self.r.len32("list", "elements", 1, at)?, Kind::List),
                        TYPE_SET => (self.r.len32("set", "elements", 1, at)?, Kind::Set),
                        TYPE_FROZENSET => (
                            self.r.len32("frozenset", "elements", 1, at)?,
                            Kind::FrozenSet,
                        ),
                        _ => (3, Kind::Slice),
                    };
                    let slot = self.reserve(code, Slot::Pending(kind));
                    if n == 0 {
                        self.fill(slot, Slot::Other(kind));
                        Some(Slot::Other(kind))
                    } else {
                        stack.push(Frame::Seq {
                            kind,
                            // len32 bounds n by the input length, which fits u32.
                            left: n as u32,
                            slot,
                        });
                        None
                    }
                }
                TYPE_DICT => {
                    let slot = self.reserve(code, Slot::Pending(Kind::Dict));
                    stack.push(Frame::Dict {
                        slot,
                        want_value: false,
                    });
                    None
                }
                TYPE_CODE => match self.layout {
                    None => Some(self.detect_code(at, level)?),
                    Some(layout) => {
                        let slot = self.reserve(code, Slot::Pending(Kind::Code));
                        for _ in 0..layout.spec().ints {
                            self.r.i32("a 4-byte code object field")?;
                        }
                        stack.push(Frame::Code {
                            layout,
                            step: 0,
                            slot,
                            at,
                            filename: Slot::Null,
                            name: Slot::Null,
                            line: 0,
                        });
                        None
                    }
                },
                _ => return Err(MarshalError::UnknownType { code, at }),
            };
            let mut result = done;
            while let Some(val) = result.take() {
                let Some(top) = stack.last_mut() else {
                    if matches!(val, Slot::Null) {
                        return Err(MarshalError::UnexpectedNull {
                            at,
                            container: "the top level",
                        });
                    }
                    return Ok(val);
                };
                match top {
                    Frame::Seq { kind, left, slot } => {
                        if matches!(val, Slot::Null) {
                            return Err(MarshalError::UnexpectedNull {
                                at,
                                container: "a tuple, list or set",
                            });
                        }
                        *left -= 1;
                        if *left == 0 {
                            let (kind, slot) = (*kind, *slot);
                            stack.pop();
                            self.fill(slot, Slot::Other(kind));
                            result = Some(Slot::Other(kind));
                        }
                    }
                    Frame::Dict { slot, want_value } => {
                        if *want_value {
                            if matches!(val, Slot::Null) {
                                return Err(MarshalError::UnexpectedNull {
                                    at,
                                    container: "a dict value",
                                });
                            }
                            *want_value = false;
                        } else if matches!(val, Slot::Null) {
                            let slot = *slot;
                            stack.pop();
                            self.fill(slot, Slot::Other(Kind::Dict));
                            result = Some(Slot::Other(Kind::Dict));
                        } else {
                            *want_value = true;
                        }
                    }
                    Frame::Code {
                        layout,
                        step,
                        slot,
                        at: code_at,
                        filename,
                        name,
                        line,
                    } => {
                        let spec = layout.spec();
                        let Some(&(field, want)) = spec.fields.get(*step) else {
                            return Err(MarshalError::CodeObject {
                                at: *code_at,
                                detail: "too many fields".into(),
                            });
                        };
                        let kind = val.kind();
                        let fits = match want {
                            Want::Bytes => kind == Kind::Bytes,
                            Want::Str => kind == Kind::Str,
                            Want::Tuple => matches!(kind, Kind::Tuple(_)),
                        };
                        if !fits {
                            return Err(MarshalError::CodeObject {
                                at: *code_at,
                                detail: format!("{field} at byte {at} is {}", kind.describe()),
                            });
                        }
                        if *step == spec.filename {
                            *filename = val;
                        } else if *step == spec.name {
                            *name = val;
                        }
                        *step += 1;
                        if *step == spec.line_after {
                            *line = self.r.i32("a 4-byte first line number")?;
                        }
                        if *step == spec.fields.len() {
                            let info = CodeInfo {
                                filename: *filename,
                                name: *name,
                                line: *line,
                            };
                            let slot = *slot;
                            stack.pop();
                            self.codes.push(info);
                            let done = Slot::Code((self.codes.len() - 1) as u32);
                            self.fill(slot, done);
                            result = Some(done);
                        }
                    }
                }
            }
        }
    }

    /// Skips the first code object of a dump by trying each layout in turn (nested code
    /// objects then use the one that worked). Work is bounded: at most three passes
    /// over this one object, and only once per dump.
    fn detect_code(&mut self, at: usize, depth: usize) -> Result<Slot, MarshalError> {
        let snapshot = (
            self.refs.len(),
            self.codes.len(),
            self.py2_interned.len(),
            self.features,
        );
        let mut best: Option<(usize, MarshalError)> = None;
        for layout in Layout::guesses(self.r.buf(), at) {
            self.layout = Some(layout);
            self.r.set_pos(at);
            match self.skip(depth) {
                Ok(slot) => return Ok(slot),
                Err(e) => {
                    // The right layout gets furthest; report its error.
                    let reached = self.r.pos();
                    self.refs.truncate(snapshot.0);
                    self.codes.truncate(snapshot.1);
                    self.py2_interned.truncate(snapshot.2);
                    self.features = snapshot.3;
                    self.layout = None;
                    if best.as_ref().is_none_or(|(p, _)| reached > *p) {
                        best = Some((reached, e));
                    }
                }
            }
        }
        Err(best.map_or(
            MarshalError::CodeObject {
                at,
                detail: "no layout fits".into(),
            },
            |(_, e)| e,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Limits;

    fn skip(bytes: &[u8]) -> Result<(Slot, usize, u8), MarshalError> {
        let mut d = Decoder::new(bytes, Limits::for_input(bytes.len()));
        let slot = d.skip(1)?;
        Ok((slot, d.r.pos(), version_of(d.features)))
    }

    #[test]
    fn skips_every_type_code_without_recursion() {
        let mut b = vec![b'[', 11, 0, 0, 0];
        b.extend(b"NTFS.");
        b.extend([b'x', 1, b'1', 1, b'2']);
        b.extend([b'y']);
        b.extend([0u8; 16]);
        b.extend([b'<', 1, 0, 0, 0, b'i', 1, 0, 0, 0]);
        b.extend([b'>', 0, 0, 0, 0]);
        b.extend([b':', b'N', b'N', b'N']);
        b.extend([b'{', b'N', b'N', b'0']);
        let (slot, end, version) = skip(&b).unwrap();
        assert_eq!(slot, Slot::Other(Kind::List));
        assert_eq!(end, b.len());
        // binary complex → 2, slice → 5.
        assert_eq!(version, 5);
    }

    #[test]
    fn null_only_ends_dicts() {
        let e = skip(&[b'(', 1, 0, 0, 0, b'0']).unwrap_err();
        assert!(e.to_string().contains("NULL) at byte 5"), "{e}");
        let e = skip(b"{N0").unwrap_err();
        assert!(e.to_string().contains("a dict value"), "{e}");
        assert!(skip(b"0").is_err());
    }

    #[test]
    fn references_resolve_without_copying_and_may_point_at_open_containers() {
        // [ref to itself]: legal marshal (a list containing itself); never expanded.
        let b = [b'[' | FLAG_REF, 1, 0, 0, 0, b'r', 0, 0, 0, 0];
        assert_eq!(skip(&b).unwrap().0, Slot::Other(Kind::List));
        let b = [
            b'(',
            2,
            0,
            0,
            0,
            b'i' | FLAG_REF,
            5,
            0,
            0,
            0,
            b'r',
            0,
            0,
            0,
            0,
        ];
        let (_, _, version) = skip(&b).unwrap();
        assert_eq!(version, 3);
        let e = skip(&[b'r', 1, 0, 0, 0]).unwrap_err();
        assert_eq!(e.to_string(), "reference 1 at byte 0 was never stored");
        let e = skip(&[b'r', 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.to_string(), "reference -1 at byte 0 was never stored");
    }

    #[test]
    fn depth_is_capped_by_limits() {
        let mut b = Vec::new();
        for _ in 0..300 {
            b.extend([b')', 1]);
        }
        b.push(b'N');
        let e = skip(&b).unwrap_err();
        assert_eq!(e.to_string(), "nesting deeper than 200 at byte 400");
    }

    #[test]
    fn strings_are_remembered_by_position() {
        let b = [b'z' | FLAG_REF, 2, b'h', b'i'];
        let mut d = Decoder::new(&b, Limits::for_input(b.len()));
        let slot = d.skip(1).unwrap();
        assert_eq!(d.refs, vec![slot]);
        assert_eq!(d.slot_text(slot).as_deref(), Some("hi"));
        // ASCII codes are Latin-1 to CPython.
        let b = [b'z', 1, 0xe9];
        let mut d = Decoder::new(&b, Limits::for_input(b.len()));
        let slot = d.skip(1).unwrap();
        assert_eq!(d.slot_text(slot).as_deref(), Some("é"));
    }

    #[test]
    fn unknown_codes_and_bad_text_floats_are_named() {
        let e = skip(&[b'(', 1, 0, 0, 0, b'?']).unwrap_err();
        assert_eq!(e.to_string(), "unknown marshal type code 0x3f at byte 5");
        let e = skip(&[b'f', 3, b'a', b'b', b'c']).unwrap_err();
        assert_eq!(e.to_string(), "unparsable float text at byte 0");
    }
}
