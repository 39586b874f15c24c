//! Schema-directed decoder for the marshal subset pstats dumps use.
//!
//! A `.prof`/`.pstats` file is `marshal.dump(stats)` of a dict
//! `{(file, line, name): (cc, nc, tt, ct, {caller_key: (nc, cc, tt, ct) | int})}`.
//! Instead of building Python-like objects and then checking their shape, the decoder
//! reads that schema directly: every position knows what it may hold, numbers and
//! names go straight into the [`ProfileBuilder`] (names interned), and no position
//! allocates per object. Only code objects (the `('profile', 0, <code object>)` keys of
//! `python -m profile`) and the value of CPython 3.15's `("__sampled__",)` marker are
//! walked generically, with an explicit stack capped at [`Limits::max_depth`] instead
//! of recursion.
//!
//! Rules worth knowing (the README repeats them):
//! - **Marshal versions 0–4** are read (and CPython 3.14's v5 slices inside code
//!   objects). [`SourceFormat::Marshal`]'s `version` is the lowest version whose
//!   features the data uses: binary floats and sets need 2, references (`FLAG_REF`/`TYPE_REF`)
//!   3, short ASCII strings and small tuples 4, Python 2 interned strings 1. A v4
//!   writer that happened to use none of those would be reported lower; real dumps
//!   always use them.
//! - **References** are resolved through a table of what each `FLAG_REF` object
//!   decoded to (a name, a key, a number, a range of caller edges, ...), never by
//!   copying objects. A callers dict shared by many entries is re-attached edge by
//!   edge only after [`ProfileBuilder::reserve_edges`] accepted the count, so a
//!   reference amplification is refused as "too large" instead of expanded. A
//!   reference to a container still being read (a self-containing dict) is refused
//!   as a cycle; a reference to an index never stored is refused.
//! - **Trailing bytes** after the stats dict are ignored, as `marshal.load` and
//!   pstats ignore them.
//! - **Text**: invalid UTF-8 (lone surrogates written with `surrogatepass`) becomes
//!   U+FFFD. A bytes object (`TYPE_STRING`) where a file or function name belongs is
//!   accepted and decoded the same lossy way: Python 2 dumps store names as byte
//!   strings. Python 2's interned-string references (`R`) and 64-bit ints (`I`) are
//!   read too, so Python 2 dumps decode.
//! - **Numbers**: counts must be integers that fit a signed 64-bit integer; times may
//!   be floats or integers (converted to `f64`); NaN/infinite times are refused by the
//!   builder. A code object stands for its `repr` without the address:
//!   `<code object NAME, file "FILENAME", line N>` (CPython 3.0–3.14 layouts).
//! - **Errors** name the byte offset. When the stats shape is wrong, the whole stream
//!   is first checked as plain marshal data, so corrupt data (truncation, unknown type
//!   codes, absurd lengths, nesting) is reported before a shape complaint, the order
//!   `pstats.Stats` reports them in.

mod decoder;
mod reader;
mod skip;

use crate::profile::{Limits, Profile, ShapeError};

#[cfg(doc)]
use crate::profile::{ProfileBuilder, SourceFormat};

/// Why a marshal dump was refused. Messages are user-facing and name byte offsets.
#[derive(Debug, thiserror::Error)]
pub enum MarshalError {
    /// Content is not a valid stats dict or exceeds a budget.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The data ends in the middle of an object.
    #[error("truncated marshal data at byte {at} (expected {expected})")]
    Truncated {
        /// Where the missing bytes should start.
        at: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// A type byte marshal does not define.
    #[error("unknown marshal type code 0x{code:02x} at byte {at}")]
    UnknownType {
        /// The byte.
        code: u8,
        /// Its offset.
        at: usize,
    },
    /// A length field claims more than the rest of the data could hold.
    #[error("{what} at byte {at} claims {claimed} {unit} but only {remaining} bytes remain")]
    Claim {
        /// The object (`tuple`, `str`, ...).
        what: &'static str,
        /// Offset of the object's type byte.
        at: usize,
        /// The claimed count.
        claimed: u64,
        /// What is counted.
        unit: &'static str,
        /// Bytes left after the length field.
        remaining: usize,
    },
    /// A length field is negative.
    #[error("{what} at byte {at} has a negative length {claimed}")]
    NegativeLength {
        /// The object.
        what: &'static str,
        /// Offset of its type byte.
        at: usize,
        /// The length read.
        claimed: i64,
    },
    /// Containers nested deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {limit} at byte {at}")]
    TooDeep {
        /// The budget.
        limit: usize,
        /// Offset of the first object past it.
        at: usize,
    },
    /// `TYPE_REF` to an index no object was stored under.
    #[error("reference {index} at byte {at} was never stored")]
    DanglingRef {
        /// The index.
        index: i64,
        /// Offset of the reference.
        at: usize,
    },
    /// `TYPE_REF` back into a container that is still being read.
    #[error("reference {index} at byte {at} points back into a container that is still being read (a cycle)")]
    RefCycle {
        /// The index.
        index: i64,
        /// Offset of the reference.
        at: usize,
    },
    /// A malformed `TYPE_LONG`.
    #[error("malformed int at byte {at}: {detail}")]
    BadLong {
        /// Offset of the int.
        at: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// A `TYPE_FLOAT` whose text is not a number.
    #[error("unparsable float text at byte {at}")]
    BadFloat {
        /// Offset of the float.
        at: usize,
    },
    /// The end-of-dict marker where an object must be.
    #[error("unexpected end-of-dict marker (NULL) at byte {at} inside {container}")]
    UnexpectedNull {
        /// Its offset.
        at: usize,
        /// Where it was found.
        container: &'static str,
    },
    /// A code object that fits none of the known CPython layouts.
    #[error("code object at byte {at} does not match the CPython 3.0-3.14 layouts ({detail})")]
    CodeObject {
        /// Offset of the code object.
        at: usize,
        /// What did not fit.
        detail: String,
    },
    /// Valid marshal data of the wrong kind for its place in a stats dict.
    #[error("{what} at byte {at} is {found}, expected {expected}")]
    Unexpected {
        /// The place (`stats key`, `nc of f.py:3(g)`, ...).
        what: String,
        /// Offset of the object.
        at: usize,
        /// What was found (`a list`, `a 2-tuple`, ...).
        found: String,
        /// What belongs there.
        expected: &'static str,
    },
    /// An integer beyond 64 bits where a count or line belongs.
    #[error("{what} at byte {at} is an integer beyond 64 bits")]
    IntOverflow {
        /// The place.
        what: String,
        /// Offset of the int.
        at: usize,
    },
    /// Too big for 32-bit offsets.
    #[error("too large: {len} bytes (the marshal decoder reads at most 4 GiB)")]
    InputTooLarge {
        /// Input size.
        len: usize,
    },
}

impl MarshalError {
    /// True for errors about what valid marshal data means, as opposed to broken data.
    fn is_content(&self) -> bool {
        matches!(
            self,
            MarshalError::Shape(_)
                | MarshalError::Unexpected { .. }
                | MarshalError::IntOverflow { .. }
                | MarshalError::RefCycle { .. }
        )
    }
}

/// Decodes a marshal dump of a pstats dict. `name` is display text only.
///
/// Bytes after the stats dict are ignored, as `marshal.load`/pstats ignore them.
pub fn decode(bytes: &[u8], name: &str, limits: Limits) -> Result<Profile, MarshalError> {
    if u32::try_from(bytes.len()).is_err() {
        return Err(MarshalError::InputTooLarge { len: bytes.len() });
    }
    match decoder::Decoder::new(bytes, limits).decode_stats(name) {
        Ok(p) => Ok(p),
        Err(e) if e.is_content() => {
            // Report broken data before shape complaints, as marshal.load + pstats would.
            match decoder::Decoder::new(bytes, limits).validate() {
                Err(marshal_err) => Err(marshal_err),
                Ok(()) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}
