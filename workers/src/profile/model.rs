//! Compact profile representation: interned strings, function keys, stats, caller edges.

use serde::{Deserialize, Serialize};

/// Index into [`Profile::strings`].
pub type Sym = u32;
/// Index into [`Profile::keys`].
pub type KeyId = u32;

/// A pstats function key `(filename, lineno, funcname)`, with interned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FuncKey {
    /// File name (`~` for cProfile built-ins, `''` for `profile` built-ins).
    pub file: Sym,
    /// Line number as stored in the dump.
    pub line: i64,
    /// Function name (or the canonical text of a code object).
    pub name: Sym,
}

/// Top-level numbers pstats keeps per function: `(cc, nc, tt, ct)`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Primitive (non-recursive) calls.
    pub cc: i64,
    /// All calls.
    pub nc: i64,
    /// Time in the function itself.
    pub tt: f64,
    /// Cumulative time.
    pub ct: f64,
}

/// Numbers stored for one caller→callee pair.
///
/// cProfile/yappi store `(nc, cc, tt, ct)`; the `profile` module stores a bare call
/// count, kept in both `nc` and `cc` with no times. Times use NaN as "absent": the
/// decoders reject NaN in real data, so the sentinel is unambiguous and keeps an edge
/// at 40 bytes (edges dominate memory on large dumps).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EdgeStats {
    /// All calls along this edge.
    pub nc: i64,
    /// Primitive calls along this edge.
    pub cc: i64,
    tt: f64,
    ct: f64,
}

impl EdgeStats {
    /// An edge with full numbers (cProfile, yappi).
    pub fn timed(nc: i64, cc: i64, tt: f64, ct: f64) -> Self {
        Self { nc, cc, tt, ct }
    }
    /// An edge holding only a call count (pure-Python `profile`).
    pub fn count(n: i64) -> Self {
        Self {
            nc: n,
            cc: n,
            tt: f64::NAN,
            ct: f64::NAN,
        }
    }
    /// Time in the callee along this edge, if recorded.
    pub fn tt(&self) -> Option<f64> {
        (!self.tt.is_nan()).then_some(self.tt)
    }
    /// Cumulative time along this edge, if recorded.
    pub fn ct(&self) -> Option<f64> {
        (!self.ct.is_nan()).then_some(self.ct)
    }
    /// True when the edge carries times (not a bare `profile` count).
    pub fn has_times(&self) -> bool {
        !self.tt.is_nan()
    }
}

/// One caller of a function, with the pair's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// The calling function's key (it need not have a stats entry of its own).
    pub caller: KeyId,
    /// What pstats stores for the pair.
    pub stats: EdgeStats,
}

/// One top-level stats entry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// This function's key.
    pub key: KeyId,
    /// Its own numbers.
    pub stats: Stats,
    /// Its callers: `edges[callers_start..callers_end]`.
    pub callers_start: u32,
    /// End (exclusive) of its caller edges.
    pub callers_end: u32,
}

/// pstats' summary numbers, computed exactly as pstats does.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Σ nc.
    pub total_calls: i64,
    /// Σ cc.
    pub primitive_calls: i64,
    /// Σ tt in file order (float sum in the same order as pstats' `total_tt`).
    pub total_time: f64,
}

/// The container the dump came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceFormat {
    /// `marshal` dump (`.prof`/`.pstats`), with the marshal version when it can be told.
    Marshal {
        /// Lowest marshal version whose features the data uses (0–4).
        version: u8,
    },
    /// Pickle of the stats dict.
    Pickle {
        /// Pickle protocol (0–5).
        protocol: u8,
    },
    /// Pickle of a `pstats.Stats` object.
    PickledStats {
        /// Pickle protocol (0–5).
        protocol: u8,
    },
}

impl SourceFormat {
    /// Short label for lists and tables, e.g. `marshal v4`, `pickle p5`.
    pub fn label(&self) -> String {
        match self {
            SourceFormat::Marshal { version } => format!("marshal v{version}"),
            SourceFormat::Pickle { protocol } => format!("pickle p{protocol}"),
            SourceFormat::PickledStats { protocol } => format!("pickled pstats.Stats p{protocol}"),
        }
    }
}

/// Which program most likely wrote the dump (a best guess from its shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Producer {
    /// `cProfile` (built-ins keyed `('~', 0, ...)`).
    Cprofile,
    /// The pure-Python `profile` module (int caller counts, fake `profile` roots).
    Profile,
    /// yappi (built-ins keyed `('builtins', 0, ...)`, cc and nc swapped).
    Yappi,
    /// pyinstrument (counts of -1).
    Pyinstrument,
    /// CPython's sampling profiler (`("__sampled__",)` marker key).
    Sampling,
    /// Could not tell.
    Unknown,
}

impl Producer {
    /// Human label.
    pub fn label(&self) -> &'static str {
        match self {
            Producer::Cprofile => "cProfile",
            Producer::Profile => "profile",
            Producer::Yappi => "yappi",
            Producer::Pyinstrument => "pyinstrument",
            Producer::Sampling => "sampling profiler",
            Producer::Unknown => "unknown",
        }
    }
}

/// A decoded profile: what pstats would hold after loading the dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Display name (the upload's file name without folders).
    pub name: String,
    /// Interned text.
    pub strings: Vec<Box<str>>,
    /// Every key seen, functions and callers alike.
    pub keys: Vec<FuncKey>,
    /// Stats entries in file (dict) order.
    pub functions: Vec<Function>,
    /// All caller edges, grouped per function.
    pub edges: Vec<Edge>,
    /// pstats totals.
    pub totals: Totals,
    /// Container format.
    pub format: SourceFormat,
    /// Best guess at the producing profiler.
    pub producer: Producer,
}

impl Profile {
    /// Text of an interned symbol.
    pub fn str(&self, sym: Sym) -> &str {
        &self.strings[sym as usize]
    }
    /// The `(file, line, name)` of a key as text.
    pub fn key_parts(&self, key: KeyId) -> (&str, i64, &str) {
        let k = self.keys[key as usize];
        (self.str(k.file), k.line, self.str(k.name))
    }
    /// Caller edges of a function.
    pub fn callers(&self, f: &Function) -> &[Edge] {
        &self.edges[f.callers_start as usize..f.callers_end as usize]
    }
    /// Callees of every key, as `pstats.calc_callees` derives them:
    /// `result[caller_key]` lists `(callee function index, edge)`.
    pub fn callees(&self) -> Vec<Vec<(u32, EdgeStats)>> {
        let mut out = vec![Vec::new(); self.keys.len()];
        for (i, f) in self.functions.iter().enumerate() {
            for e in self.callers(f) {
                out[e.caller as usize].push((i as u32, e.stats));
            }
        }
        out
    }
    /// Index of the function entry with this key, if any (linear; build a map for bulk use).
    pub fn function_of_key(&self, key: KeyId) -> Option<usize> {
        self.functions.iter().position(|f| f.key == key)
    }
    /// Number of stats entries.
    pub fn len(&self) -> usize {
        self.functions.len()
    }
    /// True when there are no entries (decoders never produce that).
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}
