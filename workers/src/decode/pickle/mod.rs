//! Data-only pickle decoder for pstats stats dicts and pickled `pstats.Stats` objects.
//!
//! Nothing in a pickle is ever imported or called. A small pickle machine ([`vm`]) runs
//! only the opcodes plain data needs, plus the exact shapes that rebuild a
//! `pstats.Stats` object, and builds a graph of values in which memo references stay
//! shared. A schema walk ([`schema`]) then feeds the stats dict to the validating
//! [`ProfileBuilder`](crate::profile::ProfileBuilder); a callers dict reached many times
//! is measured against the edge budget before it is copied.
//!
//! Why not a pickle crate: serde-pickle 1.2 cannot decode real pstats pickles (memo
//! bug). deser-pickle 0.10.2 decodes every fixture and never runs code, but it accepts
//! every global (`os.system(cmd)` reads as `cmd`, the class kept only as metadata to
//! check afterwards), expands shared values before anything can measure them (a
//! callers dict shared by 10,000 entries grew to 135 MB before its 2^20-event limit
//! fired), has no nesting limit (100,000 nested lists accepted), and reports length
//! claims as "unexpected end of input" at the end of the file. Wrapping it would mean
//! a pre-scan that is this machine again, so the decoder is hand-written and data-only.

mod schema;
mod vm;

use crate::profile::{Limits, Profile, ShapeError};

/// Why a pickle was refused. Messages are user-facing and name byte offsets.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    /// Content is not a valid stats dict or exceeds a budget.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The input ends inside an opcode or before `STOP`.
    #[error("truncated pickle at byte {at} (expected {expected})")]
    Truncated {
        /// Where the missing bytes should start.
        at: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// A length field claims more bytes than the input has.
    #[error("pickle {opcode} at byte {at} claims {claimed} bytes but only {remaining} remain")]
    Claim {
        /// The opcode's name.
        opcode: &'static str,
        /// The opcode's offset.
        at: usize,
        /// The claimed length.
        claimed: u64,
        /// Bytes left after the length field.
        remaining: usize,
    },
    /// A global (class or function) that a stats pickle never needs.
    #[error("refused pickle global {global} at byte {at}: only the globals of a pstats.Stats pickle are allowed")]
    RefusedGlobal {
        /// `module.name`, clipped.
        global: String,
        /// The opcode's offset.
        at: usize,
    },
    /// A call, object build or other code-running opcode outside the Stats shapes.
    #[error("refused pickle {opcode} at byte {at}: {reason}")]
    Refused {
        /// The opcode's name.
        opcode: &'static str,
        /// The opcode's offset.
        at: usize,
        /// What it would have done.
        reason: String,
    },
    /// A memo GET of a slot that no PUT filled.
    #[error("pickle memo slot {slot} at byte {at} was never stored")]
    MemoMissing {
        /// The slot index.
        slot: u64,
        /// The opcode's offset.
        at: usize,
    },
    /// More nested MARKs than [`Limits::max_depth`].
    #[error("too deep: pickle nesting beyond {limit} levels at byte {at}")]
    TooDeep {
        /// The budget.
        limit: usize,
        /// The opcode's offset.
        at: usize,
    },
    /// A byte that is no pickle opcode.
    #[error("unknown pickle opcode 0x{opcode:02x} at byte {at}")]
    UnknownOpcode {
        /// The byte.
        opcode: u8,
        /// Its offset.
        at: usize,
    },
    /// `PROTO` above 5.
    #[error("unsupported pickle protocol {protocol} at byte {at} (protocols 0 to 5 are read)")]
    Protocol {
        /// The protocol number.
        protocol: u8,
        /// The opcode's offset.
        at: usize,
    },
    /// Any other broken opcode or argument.
    #[error("malformed pickle at byte {at}: {reason}")]
    Malformed {
        /// The opcode's offset.
        at: usize,
        /// What is wrong.
        reason: String,
    },
    /// The pickle decoded, but its value is not a stats dict.
    #[error("not a pstats stats pickle: {0}")]
    NotStats(String),
}

/// Decodes a pickle of a pstats stats dict or of a `pstats.Stats` object.
pub fn decode(bytes: &[u8], name: &str, limits: Limits) -> Result<Profile, PickleError> {
    let graph = vm::run(bytes, &limits)?;
    schema::build(&graph, bytes, name, limits)
}
