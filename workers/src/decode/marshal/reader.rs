//! Bounds-checked cursor over the dump, marshal type codes, and object kinds for messages.

use super::MarshalError;

/// Marks an object that is added to the reference table (marshal v3+).
pub(super) const FLAG_REF: u8 = 0x80;

pub(super) const TYPE_NULL: u8 = b'0';
pub(super) const TYPE_NONE: u8 = b'N';
pub(super) const TYPE_FALSE: u8 = b'F';
pub(super) const TYPE_TRUE: u8 = b'T';
pub(super) const TYPE_STOPITER: u8 = b'S';
pub(super) const TYPE_ELLIPSIS: u8 = b'.';
pub(super) const TYPE_INT: u8 = b'i';
/// Python 2 only (64-bit int); CPython 3 still reads it.
pub(super) const TYPE_INT64: u8 = b'I';
pub(super) const TYPE_FLOAT: u8 = b'f';
pub(super) const TYPE_BINARY_FLOAT: u8 = b'g';
pub(super) const TYPE_COMPLEX: u8 = b'x';
pub(super) const TYPE_BINARY_COMPLEX: u8 = b'y';
pub(super) const TYPE_LONG: u8 = b'l';
pub(super) const TYPE_STRING: u8 = b's';
pub(super) const TYPE_INTERNED: u8 = b't';
pub(super) const TYPE_REF: u8 = b'r';
/// Python 2 only: index into the list of interned strings read so far.
pub(super) const TYPE_STRINGREF: u8 = b'R';
pub(super) const TYPE_TUPLE: u8 = b'(';
pub(super) const TYPE_LIST: u8 = b'[';
pub(super) const TYPE_DICT: u8 = b'{';
pub(super) const TYPE_CODE: u8 = b'c';
pub(super) const TYPE_UNICODE: u8 = b'u';
pub(super) const TYPE_SET: u8 = b'<';
pub(super) const TYPE_FROZENSET: u8 = b'>';
/// Marshal v5 (CPython 3.14): slices in code constants.
pub(super) const TYPE_SLICE: u8 = b':';
pub(super) const TYPE_ASCII: u8 = b'a';
pub(super) const TYPE_ASCII_INTERNED: u8 = b'A';
pub(super) const TYPE_SMALL_TUPLE: u8 = b')';
pub(super) const TYPE_SHORT_ASCII: u8 = b'z';
pub(super) const TYPE_SHORT_ASCII_INTERNED: u8 = b'Z';

/// Feature bits per type byte: bit N set means "needs marshal version >= N".
/// The decoder ORs them over every type byte it reads, which costs one load per object.
pub(super) const FEATURES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let ty = (i as u8) & !FLAG_REF;
        let mut bits = if i as u8 & FLAG_REF != 0 { 1 << 3 } else { 0 };
        bits |= match ty {
            TYPE_INTERNED | TYPE_STRINGREF => 1 << 1,
            TYPE_BINARY_FLOAT | TYPE_BINARY_COMPLEX | TYPE_SET | TYPE_FROZENSET => 1 << 2,
            TYPE_REF => 1 << 3,
            TYPE_ASCII
            | TYPE_ASCII_INTERNED
            | TYPE_SMALL_TUPLE
            | TYPE_SHORT_ASCII
            | TYPE_SHORT_ASCII_INTERNED => 1 << 4,
            TYPE_SLICE => 1 << 5,
            _ => 0,
        };
        t[i] = bits;
        i += 1;
    }
    t
};

/// Lowest marshal version whose features a feature mask (see [`FEATURES`]) uses.
pub(super) fn version_of(features: u8) -> u8 {
    (8 - features.leading_zeros()).saturating_sub(1) as u8
}

/// What kind of Python object something is, for error messages and code-object checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    None,
    Bool,
    Int,
    Float,
    Complex,
    Str,
    Bytes,
    Tuple(u32),
    List,
    Dict,
    Set,
    FrozenSet,
    Code,
    Slice,
    Ellipsis,
    StopIteration,
    Null,
    /// A back-reference whose target is not known at that point.
    Ref,
}

impl Kind {
    /// The kind a type code announces (tuples of unknown arity count as 0).
    pub(super) fn of_code(code: u8) -> Option<Kind> {
        Some(match code & !FLAG_REF {
            TYPE_NONE => Kind::None,
            TYPE_TRUE | TYPE_FALSE => Kind::Bool,
            TYPE_INT | TYPE_INT64 | TYPE_LONG => Kind::Int,
            TYPE_FLOAT | TYPE_BINARY_FLOAT => Kind::Float,
            TYPE_COMPLEX | TYPE_BINARY_COMPLEX => Kind::Complex,
            TYPE_UNICODE
            | TYPE_INTERNED
            | TYPE_ASCII
            | TYPE_ASCII_INTERNED
            | TYPE_SHORT_ASCII
            | TYPE_SHORT_ASCII_INTERNED => Kind::Str,
            TYPE_STRING => Kind::Bytes,
            TYPE_TUPLE | TYPE_SMALL_TUPLE => Kind::Tuple(0),
            TYPE_LIST => Kind::List,
            TYPE_DICT => Kind::Dict,
            TYPE_SET => Kind::Set,
            TYPE_FROZENSET => Kind::FrozenSet,
            TYPE_CODE => Kind::Code,
            TYPE_SLICE => Kind::Slice,
            TYPE_ELLIPSIS => Kind::Ellipsis,
            TYPE_STOPITER => Kind::StopIteration,
            TYPE_NULL => Kind::Null,
            TYPE_REF | TYPE_STRINGREF => Kind::Ref,
            _ => return None,
        })
    }

    /// "a list", "a 2-tuple", "None", ...
    pub(super) fn describe(self) -> String {
        match self {
            Kind::None => "None".into(),
            Kind::Bool => "a bool".into(),
            Kind::Int => "an int".into(),
            Kind::Float => "a float".into(),
            Kind::Complex => "a complex number".into(),
            Kind::Str => "a str".into(),
            Kind::Bytes => "a bytes object".into(),
            Kind::Tuple(0) => "a tuple".into(),
            Kind::Tuple(n) => format!("a {n}-tuple"),
            Kind::List => "a list".into(),
            Kind::Dict => "a dict".into(),
            Kind::Set => "a set".into(),
            Kind::FrozenSet => "a frozenset".into(),
            Kind::Code => "a code object".into(),
            Kind::Slice => "a slice".into(),
            Kind::Ellipsis => "Ellipsis".into(),
            Kind::StopIteration => "StopIteration".into(),
            Kind::Null => "the end-of-dict marker (NULL)".into(),
            Kind::Ref => "a reference".into(),
        }
    }
}

/// A cursor that never reads past the end and names what it wanted when it would.
#[derive(Debug, Clone)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to a position seen earlier (only ever to rewind a type byte or a trial).
    #[inline]
    pub(super) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(super) fn buf(&self) -> &'a [u8] {
        self.buf
    }

    #[cold]
    fn truncated(&self, expected: &'static str) -> MarshalError {
        MarshalError::Truncated {
            at: self.pos,
            expected,
        }
    }

    #[inline]
    pub(super) fn u8(&mut self, expected: &'static str) -> Result<u8, MarshalError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(expected)),
        }
    }

    #[inline]
    pub(super) fn array<const N: usize>(
        &mut self,
        expected: &'static str,
    ) -> Result<[u8; N], MarshalError> {
        match self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
        {
            Some(a) => {
                self.pos += N;
                Ok(*a)
            }
            None => Err(self.truncated(expected)),
        }
    }

    #[inline]
    pub(super) fn i32(&mut self, expected: &'static str) -> Result<i32, MarshalError> {
        self.array::<4>(expected).map(i32::from_le_bytes)
    }

    #[inline]
    pub(super) fn i64(&mut self, expected: &'static str) -> Result<i64, MarshalError> {
        self.array::<8>(expected).map(i64::from_le_bytes)
    }

    #[inline]
    pub(super) fn f64(&mut self, expected: &'static str) -> Result<f64, MarshalError> {
        self.array::<8>(expected).map(f64::from_le_bytes)
    }

    #[inline]
    pub(super) fn bytes(
        &mut self,
        n: usize,
        expected: &'static str,
    ) -> Result<&'a [u8], MarshalError> {
        match self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(expected)),
        }
    }

    /// Reads a 4-byte length for an object starting at `at` and checks that `n * unit`
    /// bytes remain, so no caller ever allocates or loops on a claimed size.
    #[inline]
    pub(super) fn len32(
        &mut self,
        what: &'static str,
        unit: &'static str,
        unit_bytes: usize,
        at: usize,
    ) -> Result<usize, MarshalError> {
        let n = self.i32("a 4-byte length")?;
        let Ok(n) = usize::try_from(n) else {
            return Err(MarshalError::NegativeLength {
                what,
                at,
                claimed: i64::from(n),
            });
        };
        self.check_claim(n, what, unit, unit_bytes, at)?;
        Ok(n)
    }

    /// Checks that `n` items of at least `unit_bytes` each fit in what remains.
    #[inline]
    pub(super) fn check_claim(
        &self,
        n: usize,
        what: &'static str,
        unit: &'static str,
        unit_bytes: usize,
        at: usize,
    ) -> Result<(), MarshalError> {
        if n.saturating_mul(unit_bytes) > self.remaining() {
            return Err(MarshalError::Claim {
                what,
                at,
                claimed: n as u64,
                unit,
                remaining: self.remaining(),
            });
        }
        Ok(())
    }
}

/// Reads a TYPE_LONG body (after the type byte): `Ok(Some(v))` when it fits `i64`,
/// `Ok(None)` when it is a valid integer beyond 64 bits.
pub(super) fn read_long(r: &mut Reader<'_>, at: usize) -> Result<Option<i64>, MarshalError> {
    let n = r.i32("a 4-byte digit count")?;
    let negative = n < 0;
    let count = n.unsigned_abs() as usize;
    r.check_claim(count, "int", "15-bit digits of 2 bytes", 2, at)?;
    let digits = r.bytes(count * 2, "15-bit digits")?;
    let mut acc: u128 = 0;
    let mut big = false;
    for (i, d) in digits.chunks_exact(2).enumerate() {
        let d = u16::from_le_bytes([d[0], d[1]]);
        if d >= 1 << 15 {
            return Err(MarshalError::BadLong {
                at,
                detail: "digit out of range",
            });
        }
        if i + 1 == count && d == 0 {
            return Err(MarshalError::BadLong {
                at,
                detail: "unnormalized (leading zero digit)",
            });
        }
        if d != 0 {
            let shift = 15 * i;
            if shift >= 64 {
                big = true;
            } else {
                acc |= u128::from(d) << shift;
            }
        }
    }
    if big {
        return Ok(None);
    }
    let value = if negative {
        if acc > 1u128 << 63 {
            return Ok(None);
        }
        (acc as i128).wrapping_neg() as i64
    } else {
        if acc > i64::MAX as u128 {
            return Ok(None);
        }
        acc as i64
    };
    Ok(Some(value))
}

/// Parses a TYPE_FLOAT body (1-byte length + ASCII text, as `repr` writes it).
pub(super) fn read_text_float(r: &mut Reader<'_>, at: usize) -> Result<f64, MarshalError> {
    let n = r.u8("a 1-byte float text length")? as usize;
    let text = r.bytes(n, "float text")?;
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .ok_or(MarshalError::BadFloat { at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(bytes: &[u8]) -> Result<Option<i64>, MarshalError> {
        read_long(&mut Reader::new(bytes), 0)
    }

    fn digits(n: i32, ds: &[u16]) -> Vec<u8> {
        let mut v = n.to_le_bytes().to_vec();
        for d in ds {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v
    }

    #[test]
    fn longs_fit_i64_exactly_at_the_edges() {
        assert_eq!(long(&digits(0, &[])).unwrap(), Some(0));
        // i64::MAX = 2^63 - 1: five 15-bit digits of all ones, then 0b111.
        let max = digits(5, &[0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7]);
        assert_eq!(long(&max).unwrap(), Some(i64::MAX));
        let min = digits(-5, &[0, 0, 0, 0, 0x8]);
        assert_eq!(long(&min).unwrap(), Some(i64::MIN));
        let over = digits(5, &[0, 0, 0, 0, 0x8]);
        assert_eq!(long(&over).unwrap(), None);
        let under = digits(-5, &[1, 0, 0, 0, 0x8]);
        assert_eq!(long(&under).unwrap(), None);
        assert_eq!(long(&digits(7, &[0, 0, 0, 0, 0, 0, 1])).unwrap(), None);
    }

    #[test]
    fn longs_reject_bad_digits_and_claims() {
        let e = long(&digits(1, &[0x8000])).unwrap_err();
        assert!(e.to_string().contains("digit out of range"), "{e}");
        let e = long(&digits(2, &[1, 0])).unwrap_err();
        assert!(e.to_string().contains("unnormalized"), "{e}");
        let e = long(&digits(i32::MIN, &[1])).unwrap_err();
        assert!(e.to_string().contains("claims 2147483648"), "{e}");
    }

    #[test]
    fn reads_are_bounds_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert!(r.i32("x").is_err());
        assert_eq!(r.pos(), 0);
        assert_eq!(r.u8("x").unwrap(), 1);
        assert!(r.bytes(usize::MAX, "x").is_err());
        let e = Reader::new(&[0xff, 0xff, 0xff, 0x7f])
            .len32("tuple", "elements", 1, 0)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "tuple at byte 0 claims 2147483647 elements but only 0 bytes remain"
        );
        let e = Reader::new(&[0xff, 0xff, 0xff, 0xff])
            .len32("tuple", "elements", 1, 0)
            .unwrap_err();
        assert!(e.to_string().contains("negative length -1"), "{e}");
    }

    #[test]
    fn text_floats_parse_like_python_repr() {
        let mut b = vec![5u8];
        b.extend_from_slice(b"1e-05");
        assert_eq!(read_text_float(&mut Reader::new(&b), 0).unwrap(), 1e-5);
        let b = [3u8, b'i', b'n', b'f'];
        assert_eq!(
            read_text_float(&mut Reader::new(&b), 0).unwrap(),
            f64::INFINITY
        );
        let b = [2u8, b'x', b'y'];
        assert!(read_text_float(&mut Reader::new(&b), 0).is_err());
    }

    #[test]
    fn versions_from_features() {
        assert_eq!(version_of(0), 0);
        assert_eq!(version_of(FEATURES[b'g' as usize]), 2);
        assert_eq!(version_of(FEATURES[0xe9] | FEATURES[b'g' as usize]), 3);
        assert_eq!(version_of(FEATURES[b'z' as usize]), 4);
    }
}
