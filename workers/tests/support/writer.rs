//! A small marshal writer for tests (versions 0–4), following CPython's `w_object`:
//! which type code each version uses, `FLAG_REF` on first sight of a shared object and
//! `TYPE_REF` after. Only shared objects (`Obj::Shared`) are flagged, as CPython flags
//! only objects referenced more than once.

use std::collections::HashMap;
use std::rc::Rc;

/// A Python value to marshal.
#[derive(Debug, Clone)]
pub enum Obj {
    None,
    Bool(bool),
    Int(i64),
    /// An int of any size: sign and magnitude.
    Big(bool, u128),
    Float(f64),
    Str(String),
    /// An interned str (`Z`/`A` in v4 when ASCII, `t` from v3).
    Interned(String),
    /// TYPE_UNICODE with raw bytes (e.g. surrogates written with surrogatepass).
    RawUnicode(Vec<u8>),
    Bytes(Vec<u8>),
    Tuple(Vec<Obj>),
    List(Vec<Obj>),
    Dict(Vec<(Obj, Obj)>),
    /// The same Python object wherever the same id appears.
    Shared(u32, Rc<Obj>),
    /// Bytes copied as they are.
    Raw(Vec<u8>),
}

/// Shorthand for a str.
pub fn s(text: &str) -> Obj {
    Obj::Str(text.to_owned())
}

/// Shorthand for a tuple.
pub fn t(items: Vec<Obj>) -> Obj {
    Obj::Tuple(items)
}

/// Marshals `obj` with marshal `version` (0–4).
pub fn dumps(obj: &Obj, version: u8) -> Vec<u8> {
    let mut w = Writer {
        version,
        out: Vec::new(),
        refs: HashMap::new(),
    };
    w.write(obj, 0);
    w.out
}

struct Writer {
    version: u8,
    out: Vec<u8>,
    refs: HashMap<u32, u32>,
}

impl Writer {
    fn pstring(&mut self, bytes: &[u8]) {
        self.out
            .extend_from_slice(&(bytes.len() as i32).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    fn long(&mut self, negative: bool, mut mag: u128, flag: u8) {
        self.out.push(b'l' | flag);
        let mut digits = Vec::new();
        while mag != 0 {
            digits.push((mag & 0x7fff) as u16);
            mag >>= 15;
        }
        let n = digits.len() as i32;
        self.out
            .extend_from_slice(&(if negative { -n } else { n }).to_le_bytes());
        for d in digits {
            self.out.extend_from_slice(&d.to_le_bytes());
        }
    }

    fn write(&mut self, obj: &Obj, flag: u8) {
        let v = self.version;
        match obj {
            Obj::None => self.out.push(b'N'),
            Obj::Bool(b) => self.out.push(if *b { b'T' } else { b'F' }),
            Obj::Int(i) => {
                if let Ok(small) = i32::try_from(*i) {
                    self.out.push(b'i' | flag);
                    self.out.extend_from_slice(&small.to_le_bytes());
                } else {
                    self.long(*i < 0, i.unsigned_abs() as u128, flag);
                }
            }
            Obj::Big(neg, mag) => self.long(*neg, *mag, flag),
            Obj::Float(f) => {
                if v > 1 {
                    self.out.push(b'g' | flag);
                    self.out.extend_from_slice(&f.to_le_bytes());
                } else {
                    self.out.push(b'f' | flag);
                    let text = format!("{f:e}");
                    self.out.push(text.len() as u8);
                    self.out.extend_from_slice(text.as_bytes());
                }
            }
            Obj::Str(text) | Obj::Interned(text) => {
                let interned = matches!(obj, Obj::Interned(_));
                if v >= 4 && text.is_ascii() {
                    if text.len() < 256 {
                        self.out.push(if interned { b'Z' } else { b'z' } | flag);
                        self.out.push(text.len() as u8);
                        self.out.extend_from_slice(text.as_bytes());
                    } else {
                        self.out.push(if interned { b'A' } else { b'a' } | flag);
                        self.pstring(text.as_bytes());
                    }
                } else {
                    let code = if v >= 3 && interned { b't' } else { b'u' };
                    self.out.push(code | flag);
                    self.pstring(text.as_bytes());
                }
            }
            Obj::RawUnicode(bytes) => {
                self.out.push(b'u' | flag);
                self.pstring(bytes);
            }
            Obj::Bytes(bytes) => {
                self.out.push(b's' | flag);
                self.pstring(bytes);
            }
            Obj::Tuple(items) => {
                if v >= 4 && items.len() < 256 {
                    self.out.push(b')' | flag);
                    self.out.push(items.len() as u8);
                } else {
                    self.out.push(b'(' | flag);
                    self.out
                        .extend_from_slice(&(items.len() as i32).to_le_bytes());
                }
                for item in items {
                    self.write(item, 0);
                }
            }
            Obj::List(items) => {
                self.out.push(b'[' | flag);
                self.out
                    .extend_from_slice(&(items.len() as i32).to_le_bytes());
                for item in items {
                    self.write(item, 0);
                }
            }
            Obj::Dict(pairs) => {
                self.out.push(b'{' | flag);
                for (k, val) in pairs {
                    self.write(k, 0);
                    self.write(val, 0);
                }
                self.out.push(b'0');
            }
            Obj::Shared(id, inner) => {
                let singleton = matches!(**inner, Obj::None | Obj::Bool(_) | Obj::Raw(_));
                if v < 3 || singleton {
                    // No references before v3: a shared object is written in full each time.
                    self.write(inner, 0);
                } else if let Some(&index) = self.refs.get(id) {
                    self.out.push(b'r');
                    self.out.extend_from_slice(&index.to_le_bytes());
                } else {
                    let index = self.refs.len() as u32;
                    self.refs.insert(*id, index);
                    self.write(inner, 0x80);
                }
            }
            Obj::Raw(bytes) => self.out.extend_from_slice(bytes),
        }
    }
}
