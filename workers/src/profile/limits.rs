//! Decoding budgets. Every hostile-input bound lives here as a named constant.

/// Deepest nesting any decoder follows (CPython's marshal stops at 2000; pstats data
/// needs about 6, code objects inside `profile` keys a few dozen).
pub const MAX_DEPTH: usize = 200;
/// Longest single string (file name, function name, code-object text) in bytes.
pub const MAX_STRING_BYTES: usize = 1 << 20;
/// Most functions (top-level stats entries) in one profile.
pub const MAX_FUNCTIONS: usize = 2_000_000;
/// Caller edges always allowed, whatever the input size.
pub const EDGE_FLOOR: usize = 262_144;
/// Extra caller edges allowed per input byte, as a divisor: real dumps spend
/// about 57 bytes per edge, so `len / 4` leaves a 14× margin while a callers dict
/// shared by reference 10,000 times is refused instead of expanded.
pub const EDGE_BYTES_DIVISOR: usize = 4;
/// Largest dump accepted at all (the web tier's upload limit is lower by default).
pub const MAX_INPUT_BYTES: usize = 1 << 30;

/// The budgets one decode runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`MAX_DEPTH`].
    pub max_depth: usize,
    /// See [`MAX_STRING_BYTES`].
    pub max_string_bytes: usize,
    /// See [`MAX_FUNCTIONS`].
    pub max_functions: usize,
    /// Total caller edges (after any reference expansion).
    pub max_edges: usize,
    /// See [`MAX_INPUT_BYTES`].
    pub max_input_bytes: usize,
}

impl Limits {
    /// The default budgets for an input of `input_len` bytes.
    pub fn for_input(input_len: usize) -> Self {
        Self {
            max_depth: MAX_DEPTH,
            max_string_bytes: MAX_STRING_BYTES,
            max_functions: MAX_FUNCTIONS,
            max_edges: EDGE_FLOOR.saturating_add(input_len / EDGE_BYTES_DIVISOR),
            max_input_bytes: MAX_INPUT_BYTES,
        }
    }
}
