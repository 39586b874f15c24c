//! The pickle machine: runs the data opcodes of protocols 0–5 into a value graph.
//!
//! Every length is checked against the bytes that remain before anything is read,
//! strings stay slices of the input where they can, the memo is a map (a claimed slot
//! number never sizes an allocation), and containers live in one arena so that a memo
//! reference shares a container instead of copying it. Each opcode creates at most one
//! container and pushes at most one value, so memory is linear in the input.

use std::collections::HashMap;

use super::PickleError;
use crate::profile::Limits;

/// Index of a container in [`Graph::containers`].
pub(super) type Cid = u32;

/// The globals a pstats.Stats pickle needs; every other global is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Allowed {
    /// `copyreg._reconstructor` (protocols 0 and 1 rebuild objects with it).
    Reconstructor,
    /// `pstats.Stats`.
    Stats,
    /// `builtins.object` (an argument of `_reconstructor`).
    Object,
    /// `builtins.set` (protocols below 4 rebuild the `top_level` set with it).
    Set,
    /// `builtins.frozenset`.
    FrozenSet,
}

impl Allowed {
    fn of(module: &[u8], name: &[u8]) -> Option<Allowed> {
        Some(match (module, name) {
            (b"copyreg" | b"copy_reg", b"_reconstructor") => Allowed::Reconstructor,
            (b"pstats", b"Stats") => Allowed::Stats,
            (b"builtins" | b"__builtin__", b"object") => Allowed::Object,
            (b"builtins" | b"__builtin__", b"set") => Allowed::Set,
            (b"builtins" | b"__builtin__", b"frozenset") => Allowed::FrozenSet,
            _ => return None,
        })
    }

    /// The dotted name, for messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Allowed::Reconstructor => "copyreg._reconstructor",
            Allowed::Stats => "pstats.Stats",
            Allowed::Object => "builtins.object",
            Allowed::Set => "builtins.set",
            Allowed::FrozenSet => "builtins.frozenset",
        }
    }
}

/// A value on the stack, in the memo or inside a container. 16 bytes and `Copy`
/// (offsets are u32: inputs past 4 GiB are refused up front), so a memo GET copies
/// no more than that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Val {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits 64 bits.
    Int(i64),
    /// An int beyond 64 bits; `at` is its opcode's offset.
    BigInt {
        /// Offset of the opcode.
        at: u32,
    },
    /// A float.
    Float(f64),
    /// Text stored in the input as UTF-8 (or Python 2 bytes): `input[start..start + len]`.
    Text {
        /// First byte in the input.
        start: u32,
        /// Length in bytes.
        len: u32,
    },
    /// Text decoded from a protocol-0 escaped form: [`Graph::owned`]`[i]`.
    OwnedText(u32),
    /// `bytes` / `bytearray` (never text in a stats dict).
    Bytes,
    /// A container.
    Ref(Cid),
    /// One of the allowed globals.
    Global(Allowed),
}

/// What a container holds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// A list.
    List(Vec<Val>),
    /// A tuple.
    Tuple(Vec<Val>),
    /// A dict, entries in insertion order (repeated keys are kept; readers decide).
    Dict(Vec<(Val, Val)>),
    /// A set or frozenset.
    Set(Vec<Val>),
    /// A `pstats.Stats` object and the state BUILD gave it.
    Stats {
        /// The state (a dict), once BUILD ran.
        state: Option<Val>,
    },
}

/// A container and the offset of the opcode that made it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Container {
    /// Offset of the creating opcode.
    pub(super) at: u32,
    /// Contents.
    pub(super) kind: Kind,
}

/// The result of running a pickle.
#[derive(Debug)]
pub(super) struct Graph {
    /// The value `STOP` returned.
    pub(super) root: Val,
    /// Every container made.
    pub(super) containers: Vec<Container>,
    /// Text decoded from escaped forms.
    pub(super) owned: Vec<String>,
    /// Protocol: from `PROTO`, else 1 if a binary opcode was seen, else 0.
    pub(super) protocol: u8,
}

/// Python's `sys.int_info.default_max_str_digits`: longer decimal ints are refused.
const MAX_INT_DIGITS: usize = 4300;
/// Longest text quoted back in an error message.
const CLIP: usize = 80;

/// Runs a pickle up to its `STOP`.
pub(super) fn run(input: &[u8], limits: &Limits) -> Result<Graph, PickleError> {
    if u32::try_from(input.len()).is_err() {
        return Err(PickleError::Malformed {
            at: 0,
            reason: format!(
                "{} bytes is past the 4 GiB a pickle may have here",
                input.len()
            ),
        });
    }
    let mut m = Machine {
        input,
        pos: 0,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Memo::default(),
        containers: Vec::new(),
        owned: Vec::new(),
        proto: None,
        binary: false,
        max_depth: limits.max_depth,
    };
    loop {
        m.at = m.pos;
        let op = *m
            .take(1, "an opcode; the pickle has no STOP")?
            .first()
            .unwrap_or(&0);
        if op == b'.' {
            let root = m.pop()?;
            let protocol = m.proto.unwrap_or(u8::from(m.binary));
            return Ok(Graph {
                root,
                containers: m.containers,
                owned: m.owned,
                protocol,
            });
        }
        m.op(op)?;
    }
}

/// The memo. Python numbers slots 0, 1, 2, ... so they live in a vector that grows by
/// one slot per PUT; any other slot number goes to a map, so a claimed slot never
/// sizes an allocation.
#[derive(Default)]
struct Memo {
    dense: Vec<Option<Val>>,
    sparse: HashMap<u64, Val>,
    /// Slots filled (what `MEMOIZE` numbers the next one by, as `len(memo)` in Python).
    len: u64,
}

impl Memo {
    fn get(&self, slot: u64) -> Option<Val> {
        let dense = usize::try_from(slot).ok().and_then(|i| self.dense.get(i));
        match dense {
            Some(&v) => v,
            None => self.sparse.get(&slot).copied(),
        }
    }

    fn put(&mut self, slot: u64, v: Val) {
        let index = usize::try_from(slot).ok();
        if let Some(cell) = index.and_then(|i| self.dense.get_mut(i)) {
            if cell.replace(v).is_none() {
                self.len += 1;
            }
        } else if index == Some(self.dense.len()) {
            if self.sparse.remove(&slot).is_none() {
                self.len += 1;
            }
            self.dense.push(Some(v));
        } else if self.sparse.insert(slot, v).is_none() {
            self.len += 1;
        }
    }
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run.
    at: usize,
    stack: Vec<Val>,
    marks: Vec<usize>,
    memo: Memo,
    containers: Vec<Container>,
    owned: Vec<String>,
    proto: Option<u8>,
    binary: bool,
    max_depth: usize,
}

fn clip(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > CLIP {
        let cut: String = s.chars().take(CLIP).collect();
        format!("{cut}…")
    } else {
        s.into_owned()
    }
}

impl<'a> Machine<'a> {
    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, expected: &'static str) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.input.get(self.pos..end)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(PickleError::Truncated {
                at: self.pos,
                expected,
            }),
        }
    }

    fn take_array<const N: usize>(
        &mut self,
        expected: &'static str,
    ) -> Result<[u8; N], PickleError> {
        let bytes = self.take(N, expected)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Takes `claimed` bytes named by a length field, refusing claims past the end.
    fn take_claimed(
        &mut self,
        claimed: u64,
        opcode: &'static str,
    ) -> Result<&'a [u8], PickleError> {
        let remaining = self.remaining();
        match usize::try_from(claimed) {
            Ok(n) if n <= remaining => self.take(n, "data"),
            _ => Err(PickleError::Claim {
                opcode,
                at: self.at,
                claimed,
                remaining,
            }),
        }
    }

    fn line(&mut self, expected: &'static str) -> Result<&'a [u8], PickleError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                let line = rest.get(..nl).unwrap_or_default();
                self.pos += nl + 1;
                Ok(line)
            }
            None => Err(PickleError::Truncated {
                at: self.input.len(),
                expected,
            }),
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> PickleError {
        PickleError::Malformed {
            at: self.at,
            reason: reason.into(),
        }
    }

    fn refused(&self, opcode: &'static str, reason: impl Into<String>) -> PickleError {
        PickleError::Refused {
            opcode,
            at: self.at,
            reason: reason.into(),
        }
    }

    /// The stack index below which the current MARK forbids popping.
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, v: Val) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Val, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(
                self.malformed("stack underflow (an opcode needs a value that is not there)")
            );
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn top(&self) -> Result<Val, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(
                self.malformed("stack underflow (an opcode needs a value that is not there)")
            );
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Val>, PickleError> {
        let Some(mark) = self.marks.pop() else {
            return Err(self.malformed("no MARK to collect items from"));
        };
        if mark > self.stack.len() {
            return Err(self.malformed("MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn new_container(&mut self, kind: Kind) -> Result<Val, PickleError> {
        let id = Cid::try_from(self.containers.len())
            .map_err(|_| self.malformed("more than 4 billion containers"))?;
        let at = self.at32();
        self.containers.push(Container { at, kind });
        Ok(Val::Ref(id))
    }

    fn container_mut(&mut self, v: Val, opcode: &'static str) -> Result<&mut Kind, PickleError> {
        let at = self.at;
        match v {
            Val::Ref(id) => match self.containers.get_mut(id as usize) {
                Some(c) => Ok(&mut c.kind),
                None => Err(PickleError::Malformed {
                    at,
                    reason: "internal: dangling container".into(),
                }),
            },
            other => Err(PickleError::Malformed {
                at,
                reason: format!("{opcode} on {}, not a container", short(&other)),
            }),
        }
    }

    fn memo_put(&mut self, slot: u64) -> Result<(), PickleError> {
        let v = self.top()?;
        self.memo.put(slot, v);
        Ok(())
    }

    fn memo_get(&mut self, slot: u64) -> Result<(), PickleError> {
        match self.memo.get(slot) {
            Some(v) => {
                self.push(v);
                Ok(())
            }
            None => Err(PickleError::MemoMissing { slot, at: self.at }),
        }
    }

    fn decimal_slot(&self, line: &[u8]) -> Result<u64, PickleError> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| self.malformed(format!("memo slot {:?} is not a number", clip(line))))
    }

    fn global(&mut self, module: &[u8], name: &[u8]) -> Result<Allowed, PickleError> {
        Allowed::of(module, name).ok_or_else(|| PickleError::RefusedGlobal {
            global: format!("{}.{}", clip(module), clip(name)),
            at: self.at,
        })
    }

    /// A text-line int (`INT`, `LONG`): i64, or a marker for bigger ones.
    fn text_int(&self, line: &[u8], opcode: &'static str) -> Result<Val, PickleError> {
        let s = std::str::from_utf8(line)
            .map_err(|_| self.malformed(format!("{opcode} argument is not ASCII")))?
            .trim();
        let digits = s.trim_start_matches(['-', '+']);
        if digits.len() > MAX_INT_DIGITS {
            return Err(self.malformed(format!(
                "{opcode} has {} decimal digits (Python refuses more than {MAX_INT_DIGITS})",
                digits.len()
            )));
        }
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Val::Int(i));
        }
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Val::BigInt { at: self.at32() });
        }
        Err(self.malformed(format!(
            "{opcode} argument {:?} is not an integer",
            clip(line)
        )))
    }

    fn binary_long(&self, bytes: &[u8]) -> Val {
        // Little-endian two's complement; minimal encodings of i64 take at most 8 bytes,
        // but longer ones whose extra bytes only repeat the sign still fit.
        let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
        let fill = if negative { 0xff } else { 0 };
        let (low, high) = bytes.split_at(bytes.len().min(8));
        let low_sign = low.last().is_some_and(|b| b & 0x80 != 0);
        if high.iter().any(|&b| b != fill) || (!high.is_empty() && low_sign != negative) {
            return Val::BigInt { at: self.at32() };
        }
        let mut buf = [fill; 8];
        buf.get_mut(..low.len())
            .map(|dst| dst.copy_from_slice(low))
            .unwrap_or(());
        Val::Int(i64::from_le_bytes(buf))
    }

    fn text_float(&self, line: &[u8]) -> Result<Val, PickleError> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(Val::Float)
            .ok_or_else(|| {
                self.malformed(format!("FLOAT argument {:?} is not a number", clip(line)))
            })
    }

    fn owned_text(&mut self, s: String) -> Result<Val, PickleError> {
        let id = u32::try_from(self.owned.len()).map_err(|_| self.malformed("too many strings"))?;
        self.owned.push(s);
        Ok(Val::OwnedText(id))
    }

    /// The text just taken: the last `len` bytes before `pos`.
    fn text_slice(&self, bytes: &[u8]) -> Val {
        let start = self.pos.saturating_sub(bytes.len());
        Val::Text {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(bytes.len()).unwrap_or(0),
        }
    }

    /// The opcode offset as u32 (`run` refused inputs that do not fit).
    fn at32(&self) -> u32 {
        u32::try_from(self.at).unwrap_or(u32::MAX)
    }

    fn op(&mut self, op: u8) -> Result<(), PickleError> {
        if matches!(
            op,
            b'J' | b'K'
                | b'M'
                | b'T'
                | b'U'
                | b'X'
                | b'G'
                | b']'
                | b'e'
                | b')'
                | b'}'
                | b'u'
                | b'q'
                | b'r'
                | b'h'
                | b'j'
                | b'1'
                | b'o'
                | b'Q'
        ) {
            self.binary = true;
        }
        match op {
            // MARK
            b'(' => {
                if self.marks.len() >= self.max_depth {
                    return Err(PickleError::TooDeep {
                        limit: self.max_depth,
                        at: self.at,
                    });
                }
                self.marks.push(self.stack.len());
            }
            // PROTO
            0x80 => {
                let [p] = self.take_array::<1>("a protocol number")?;
                if p > 5 {
                    return Err(PickleError::Protocol {
                        protocol: p,
                        at: self.at,
                    });
                }
                self.proto.get_or_insert(p);
            }
            // FRAME: only a hint for buffered readers; its length must still be honest.
            0x95 => {
                let n = u64::from_le_bytes(self.take_array::<8>("an 8-byte frame length")?);
                if usize::try_from(n).map_or(true, |n| n > self.remaining()) {
                    return Err(PickleError::Claim {
                        opcode: "FRAME",
                        at: self.at,
                        claimed: n,
                        remaining: self.remaining(),
                    });
                }
            }
            b'N' => self.push(Val::None),
            0x88 => self.push(Val::Bool(true)),
            0x89 => self.push(Val::Bool(false)),
            // INT: also protocol 0's spelling of booleans.
            b'I' => {
                let line = self.line("a newline after INT")?;
                let v = match line {
                    b"01" => Val::Bool(true),
                    b"00" => Val::Bool(false),
                    _ => self.text_int(line, "INT")?,
                };
                self.push(v);
            }
            b'J' => {
                let v = i32::from_le_bytes(self.take_array::<4>("a 4-byte int")?);
                self.push(Val::Int(v.into()));
            }
            b'K' => {
                let [v] = self.take_array::<1>("a 1-byte int")?;
                self.push(Val::Int(v.into()));
            }
            b'M' => {
                let v = u16::from_le_bytes(self.take_array::<2>("a 2-byte int")?);
                self.push(Val::Int(v.into()));
            }
            b'L' => {
                let line = self.line("a newline after LONG")?;
                let line = line.strip_suffix(b"L").unwrap_or(line);
                let v = self.text_int(line, "LONG")?;
                self.push(v);
            }
            0x8a => {
                let [n] = self.take_array::<1>("a LONG1 length")?;
                let bytes = self.take_claimed(n.into(), "LONG1")?;
                let v = self.binary_long(bytes);
                self.push(v);
            }
            0x8b => {
                let n = i32::from_le_bytes(self.take_array::<4>("a 4-byte LONG4 length")?);
                let n = u64::try_from(n).map_err(|_| self.malformed("negative LONG4 length"))?;
                let bytes = self.take_claimed(n, "LONG4")?;
                let v = self.binary_long(bytes);
                self.push(v);
            }
            b'F' => {
                let line = self.line("a newline after FLOAT")?;
                let v = self.text_float(line)?;
                self.push(v);
            }
            b'G' => {
                let v = f64::from_be_bytes(self.take_array::<8>("8-byte float")?);
                self.push(Val::Float(v));
            }
            // STRING: a Python 2 str literal with quotes and escapes.
            b'S' => {
                let line = self.line("a newline after STRING")?;
                let bytes = unquote_py_string(line).ok_or_else(|| {
                    self.malformed(format!(
                        "STRING argument {:?} is not a quoted string",
                        clip(line)
                    ))
                })?;
                let v = self.owned_text(String::from_utf8_lossy(&bytes).into_owned())?;
                self.push(v);
            }
            b'T' => {
                let n = i32::from_le_bytes(self.take_array::<4>("a 4-byte BINSTRING length")?);
                let n =
                    u64::try_from(n).map_err(|_| self.malformed("negative BINSTRING length"))?;
                let bytes = self.take_claimed(n, "BINSTRING")?;
                let v = self.text_slice(bytes);
                self.push(v);
            }
            b'U' => {
                let [n] = self.take_array::<1>("a SHORT_BINSTRING length")?;
                let bytes = self.take_claimed(n.into(), "SHORT_BINSTRING")?;
                let v = self.text_slice(bytes);
                self.push(v);
            }
            // UNICODE: raw-unicode-escape text on one line.
            b'V' => {
                let line = self.line("a newline after UNICODE")?;
                let s = raw_unicode_escape(line).ok_or_else(|| {
                    self.malformed("UNICODE argument has a broken \\u or \\U escape")
                })?;
                let v = self.owned_text(s)?;
                self.push(v);
            }
            b'X' => {
                let n = u32::from_le_bytes(self.take_array::<4>("a 4-byte BINUNICODE length")?);
                let bytes = self.take_claimed(n.into(), "BINUNICODE")?;
                let v = self.text_slice(bytes);
                self.push(v);
            }
            0x8c => {
                let [n] = self.take_array::<1>("a SHORT_BINUNICODE length")?;
                let bytes = self.take_claimed(n.into(), "SHORT_BINUNICODE")?;
                let v = self.text_slice(bytes);
                self.push(v);
            }
            0x8d => {
                let n = u64::from_le_bytes(self.take_array::<8>("an 8-byte BINUNICODE8 length")?);
                let bytes = self.take_claimed(n, "BINUNICODE8")?;
                let v = self.text_slice(bytes);
                self.push(v);
            }
            b'B' => {
                let n = u32::from_le_bytes(self.take_array::<4>("a 4-byte BINBYTES length")?);
                self.take_claimed(n.into(), "BINBYTES")?;
                self.push(Val::Bytes);
            }
            b'C' => {
                let [n] = self.take_array::<1>("a SHORT_BINBYTES length")?;
                self.take_claimed(n.into(), "SHORT_BINBYTES")?;
                self.push(Val::Bytes);
            }
            0x8e | 0x96 => {
                let name = if op == 0x8e {
                    "BINBYTES8"
                } else {
                    "BYTEARRAY8"
                };
                let n = u64::from_le_bytes(self.take_array::<8>("an 8-byte length")?);
                self.take_claimed(n, name)?;
                self.push(Val::Bytes);
            }
            b')' => {
                let v = self.new_container(Kind::Tuple(Vec::new()))?;
                self.push(v);
            }
            b't' => {
                let items = self.pop_mark()?;
                let v = self.new_container(Kind::Tuple(items))?;
                self.push(v);
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                let v = self.new_container(Kind::Tuple(items))?;
                self.push(v);
            }
            b']' => {
                let v = self.new_container(Kind::List(Vec::new()))?;
                self.push(v);
            }
            b'l' => {
                let items = self.pop_mark()?;
                let v = self.new_container(Kind::List(items))?;
                self.push(v);
            }
            b'a' => {
                let item = self.pop()?;
                let list = self.top()?;
                match self.container_mut(list, "APPEND")? {
                    Kind::List(items) => items.push(item),
                    _ => {
                        return Err(
                            self.refused("APPEND", "appends to something that is not a list")
                        )
                    }
                }
            }
            b'e' => {
                let items = self.pop_mark()?;
                let list = self.top()?;
                match self.container_mut(list, "APPENDS")? {
                    Kind::List(dst) => dst.extend(items),
                    _ => {
                        return Err(
                            self.refused("APPENDS", "appends to something that is not a list")
                        )
                    }
                }
            }
            b'}' => {
                let v = self.new_container(Kind::Dict(Vec::new()))?;
                self.push(v);
            }
            b'd' => {
                let items = self.pop_mark()?;
                let pairs =
                    pairs(items).ok_or_else(|| self.malformed("odd number of items for DICT"))?;
                let v = self.new_container(Kind::Dict(pairs))?;
                self.push(v);
            }
            b's' => {
                let value = self.pop()?;
                let key = self.pop()?;
                let dict = self.top()?;
                match self.container_mut(dict, "SETITEM")? {
                    Kind::Dict(entries) => entries.push((key, value)),
                    _ => {
                        return Err(
                            self.refused("SETITEM", "sets an item of something that is not a dict")
                        )
                    }
                }
            }
            b'u' => {
                let items = self.pop_mark()?;
                let new = pairs(items)
                    .ok_or_else(|| self.malformed("odd number of items for SETITEMS"))?;
                let dict = self.top()?;
                match self.container_mut(dict, "SETITEMS")? {
                    Kind::Dict(entries) => entries.extend(new),
                    _ => {
                        return Err(
                            self.refused("SETITEMS", "sets items of something that is not a dict")
                        )
                    }
                }
            }
            0x8f => {
                let v = self.new_container(Kind::Set(Vec::new()))?;
                self.push(v);
            }
            0x90 => {
                let items = self.pop_mark()?;
                let set = self.top()?;
                match self.container_mut(set, "ADDITEMS")? {
                    Kind::Set(dst) => dst.extend(items),
                    _ => {
                        return Err(
                            self.refused("ADDITEMS", "adds items to something that is not a set")
                        )
                    }
                }
            }
            0x91 => {
                let items = self.pop_mark()?;
                let v = self.new_container(Kind::Set(items))?;
                self.push(v);
            }
            b'0' => {
                if self.stack.len() == self.fence() && !self.marks.is_empty() {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?;
                self.push(v);
            }
            b'p' => {
                let line = self.line("a newline after PUT")?;
                let slot = self.decimal_slot(line)?;
                self.memo_put(slot)?;
            }
            b'q' => {
                let [slot] = self.take_array::<1>("a 1-byte memo slot")?;
                self.memo_put(slot.into())?;
            }
            b'r' => {
                let slot = u32::from_le_bytes(self.take_array::<4>("a 4-byte memo slot")?);
                self.memo_put(slot.into())?;
            }
            0x94 => {
                let slot = self.memo.len;
                self.memo_put(slot)?;
            }
            b'g' => {
                let line = self.line("a newline after GET")?;
                let slot = self.decimal_slot(line)?;
                self.memo_get(slot)?;
            }
            b'h' => {
                let [slot] = self.take_array::<1>("a 1-byte memo slot")?;
                self.memo_get(slot.into())?;
            }
            b'j' => {
                let slot = u32::from_le_bytes(self.take_array::<4>("a 4-byte memo slot")?);
                self.memo_get(slot.into())?;
            }
            b'c' => {
                let module = self.line("a newline after the GLOBAL module")?;
                let name = self.line("a newline after the GLOBAL name")?;
                let g = self.global(module, name)?;
                self.push(Val::Global(g));
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Val::Text { start: ms, len: ml }, Val::Text { start: ns, len: nl }) =
                    (module, name)
                else {
                    return Err(
                        self.refused("STACK_GLOBAL", "module and name are not both strings")
                    );
                };
                let input = self.input;
                let slice = |start: u32, len: u32| {
                    let start = start as usize;
                    input
                        .get(start..start.saturating_add(len as usize))
                        .unwrap_or_default()
                };
                let (module, name) = (slice(ms, ml), slice(ns, nl));
                let g = self.global(module, name)?;
                self.push(Val::Global(g));
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = self.reduce(callable, args)?;
                self.push(v);
            }
            0x81 => {
                let args = self.pop()?;
                let cls = self.pop()?;
                if cls != Val::Global(Allowed::Stats) || !self.is_empty_tuple(args) {
                    return Err(self.refused(
                        "NEWOBJ",
                        format!(
                            "creates {} from {}; only pstats.Stats() is allowed",
                            short(&cls),
                            self.describe(args)
                        ),
                    ));
                }
                let v = self.new_container(Kind::Stats { state: None })?;
                self.push(v);
            }
            0x92 => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let empty_kwargs = matches!(kwargs, Val::Ref(id) if matches!(self.containers.get(id as usize), Some(Container { kind: Kind::Dict(d), .. }) if d.is_empty()));
                if cls != Val::Global(Allowed::Stats) || !self.is_empty_tuple(args) || !empty_kwargs
                {
                    return Err(self.refused(
                        "NEWOBJ_EX",
                        format!("creates {}; only pstats.Stats() is allowed", short(&cls)),
                    ));
                }
                let v = self.new_container(Kind::Stats { state: None })?;
                self.push(v);
            }
            b'b' => {
                let state = self.pop()?;
                let obj = self.top()?;
                self.build(obj, state)?;
            }
            // INST: protocol 0's old-style instance (how Python 2 pickled pstats.Stats).
            b'i' => {
                let module = self.line("a newline after the INST module")?;
                let name = self.line("a newline after the INST name")?;
                let g = self.global(module, name)?;
                let args = self.pop_mark()?;
                if g != Allowed::Stats || !args.is_empty() {
                    return Err(self.refused(
                        "INST",
                        format!("creates {}; only pstats.Stats() is allowed", g.name()),
                    ));
                }
                let v = self.new_container(Kind::Stats { state: None })?;
                self.push(v);
            }
            b'o' => {
                let items = self.pop_mark()?;
                if items.as_slice() != [Val::Global(Allowed::Stats)] {
                    let what = items.first().map_or_else(|| "nothing".to_owned(), short);
                    return Err(self.refused(
                        "OBJ",
                        format!("creates {what}; only pstats.Stats() is allowed"),
                    ));
                }
                let v = self.new_container(Kind::Stats { state: None })?;
                self.push(v);
            }
            b'P' | b'Q' => {
                return Err(self.refused(
                    "PERSID",
                    "persistent ids load objects from outside the pickle",
                ))
            }
            0x82..=0x84 => {
                return Err(self.refused("EXT", "the extension registry imports globals"))
            }
            0x97 | 0x98 => {
                return Err(self.refused(
                    "NEXT_BUFFER",
                    "out-of-band buffers are not part of a stats pickle",
                ))
            }
            other => {
                return Err(PickleError::UnknownOpcode {
                    opcode: other,
                    at: self.at,
                })
            }
        }
        Ok(())
    }

    fn is_empty_tuple(&self, v: Val) -> bool {
        matches!(v, Val::Ref(id) if matches!(self.containers.get(id as usize), Some(Container { kind: Kind::Tuple(t), .. }) if t.is_empty()))
    }

    fn tuple_items(&self, v: Val) -> Option<&[Val]> {
        match v {
            Val::Ref(id) => match self.containers.get(id as usize) {
                Some(Container {
                    kind: Kind::Tuple(t),
                    ..
                }) => Some(t),
                _ => None,
            },
            _ => None,
        }
    }

    fn describe(&self, v: Val) -> String {
        match v {
            Val::Ref(id) => match self.containers.get(id as usize).map(|c| &c.kind) {
                Some(Kind::Tuple(t)) => format!("a {}-tuple", t.len()),
                Some(Kind::List(_)) => "a list".into(),
                Some(Kind::Dict(_)) => "a dict".into(),
                Some(Kind::Set(_)) => "a set".into(),
                Some(Kind::Stats { .. }) => "a pstats.Stats object".into(),
                None => "?".into(),
            },
            other => short(&other),
        }
    }

    /// REDUCE: only `_reconstructor(pstats.Stats, object, None)` and `set(list)`.
    fn reduce(&mut self, callable: Val, args: Val) -> Result<Val, PickleError> {
        let Some(items) = self.tuple_items(args) else {
            return Err(self.refused(
                "REDUCE",
                format!(
                    "calls {} with {}, not a tuple",
                    short(&callable),
                    self.describe(args)
                ),
            ));
        };
        match (callable, items) {
            (
                Val::Global(Allowed::Reconstructor),
                [Val::Global(Allowed::Stats), Val::Global(Allowed::Object), Val::None],
            ) => self.new_container(Kind::Stats { state: None }),
            (Val::Global(Allowed::Set | Allowed::FrozenSet), []) => {
                self.new_container(Kind::Set(Vec::new()))
            }
            (Val::Global(Allowed::Set | Allowed::FrozenSet), [Val::Ref(id)]) => {
                let from_sequence = matches!(
                    self.containers.get(*id as usize).map(|c| &c.kind),
                    Some(Kind::List(_) | Kind::Tuple(_) | Kind::Set(_))
                );
                if !from_sequence {
                    return Err(
                        self.refused("REDUCE", "builds a set from something that is not a list")
                    );
                }
                // A set is never part of a stats dict (only of the ignored `top_level`),
                // so its items are not copied: `set(shared_list)` repeated through the
                // memo must not multiply the list.
                self.new_container(Kind::Set(Vec::new()))
            }
            _ => {
                let args = self.describe(args);
                Err(self.refused(
                    "REDUCE",
                    format!(
                        "calls {} with {args}; only copyreg._reconstructor(pstats.Stats, object, None) and set(list) are allowed",
                        short(&callable)
                    ),
                ))
            }
        }
    }

    /// BUILD: only a dict state onto a fresh pstats.Stats object.
    fn build(&mut self, obj: Val, state: Val) -> Result<(), PickleError> {
        // `(state, slotstate)` with no slot state is also how a dict state can come.
        let state = match self.tuple_items(state) {
            Some(&[inner, Val::None]) => inner,
            _ => state,
        };
        let state_is_dict = matches!(state, Val::Ref(id) if matches!(self.containers.get(id as usize).map(|c| &c.kind), Some(Kind::Dict(_))));
        if !state_is_dict {
            let what = self.describe(state);
            return Err(self.refused(
                "BUILD",
                format!("sets the state of an object to {what}, not a dict"),
            ));
        }
        let what = self.describe(obj);
        match self.container_mut(obj, "BUILD") {
            Ok(Kind::Stats { state: slot @ None }) => {
                *slot = Some(state);
                Ok(())
            }
            _ => Err(self.refused(
                "BUILD",
                format!("sets the state of {what}; only a new pstats.Stats object may get one"),
            )),
        }
    }
}

fn pairs(items: Vec<Val>) -> Option<Vec<(Val, Val)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Some(out)
}

/// A short name for a value's type, for messages.
pub(super) fn short(v: &Val) -> String {
    match v {
        Val::None => "None".into(),
        Val::Bool(b) => if *b { "True" } else { "False" }.into(),
        Val::Int(i) => format!("the int {i}"),
        Val::BigInt { .. } => "an int beyond 64 bits".into(),
        Val::Float(f) => format!("the float {f:?}"),
        Val::Text { .. } | Val::OwnedText(_) => "a str".into(),
        Val::Bytes => "bytes".into(),
        Val::Ref(_) => "a container".into(),
        Val::Global(g) => g.name().into(),
    }
}

/// Decodes a protocol-0 `STRING` argument: a quoted Python 2 str literal.
fn unquote_py_string(line: &[u8]) -> Option<Vec<u8>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (&q, rest) = line.split_first()?;
    if q != b'\'' && q != b'"' {
        return None;
    }
    let body = rest.strip_suffix(&[q])?;
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *body.get(i)?;
        i += 1;
        match e {
            b'\\' | b'\'' | b'"' => out.push(e),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\n' => {}
            b'x' => {
                let hex = body.get(i..i + 2)?;
                i += 2;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Decodes Python's `raw-unicode-escape`: Latin-1 bytes plus `\uXXXX` / `\UXXXXXXXX`.
/// Surrogates (which Rust strings cannot hold) become U+FFFD, as lossy decoding does.
fn raw_unicode_escape(line: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        i += 1;
        let width = match (b, line.get(i)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            _ => {
                out.push(char::from(b));
                continue;
            }
        };
        let hex = line.get(i + 1..i + 1 + width)?;
        let code = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
        i += 1 + width;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_longs_fit_or_mark_big() {
        let m = |b: &[u8]| {
            let lim = Limits::for_input(0);
            let mut input = vec![0x80, 2, 0x8a, b.len() as u8];
            input.extend_from_slice(b);
            input.push(b'.');
            run(&input, &lim).unwrap().root
        };
        assert_eq!(m(&[]), Val::Int(0));
        assert_eq!(m(&[0xff]), Val::Int(-1));
        assert_eq!(m(&[0xff, 0x00]), Val::Int(255));
        assert_eq!(m(&[0, 0, 0, 0, 0, 0, 0, 0x80]), Val::Int(i64::MIN));
        assert_eq!(
            m(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0]),
            Val::Int(i64::MAX)
        );
        assert!(matches!(
            m(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0]),
            Val::BigInt { .. }
        ));
        assert!(matches!(
            m(&[0, 0, 0, 0, 0, 0, 0, 0, 1]),
            Val::BigInt { .. }
        ));
    }

    #[test]
    fn memo_is_dense_for_python_numbering_and_sparse_otherwise() {
        let mut m = Memo::default();
        m.put(0, Val::Int(0));
        m.put(1, Val::Int(1));
        m.put(1 << 40, Val::Int(2));
        m.put(3, Val::Int(3));
        m.put(2, Val::Int(4));
        m.put(3, Val::Int(5));
        assert_eq!(m.dense.len(), 4);
        assert_eq!(m.sparse.len(), 1);
        assert_eq!(m.len, 5);
        assert_eq!(m.get(3), Some(Val::Int(5)));
        assert_eq!(m.get(1 << 40), Some(Val::Int(2)));
        assert_eq!(m.get(4), None);
        assert_eq!(m.get(u64::MAX), None);
    }

    #[test]
    fn values_stay_small() {
        // The graph's memory per input byte depends on it.
        assert_eq!(std::mem::size_of::<Val>(), 16);
    }

    #[test]
    fn text_escapes() {
        assert_eq!(
            raw_unicode_escape(b"\xe9\\u005cx\\u20ac\\U0001f600\\u000a").unwrap(),
            "é\\x€😀\n"
        );
        assert_eq!(raw_unicode_escape(b"\\ud800").unwrap(), "\u{fffd}");
        assert!(raw_unicode_escape(b"\\u12").is_none());
        assert_eq!(
            unquote_py_string(b"'a\\'b\\x41\\n\\101'").unwrap(),
            b"a'bA\nA"
        );
        assert!(unquote_py_string(b"'abc").is_none());
    }
}
