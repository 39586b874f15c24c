//! The one seam between the job side and the comparison engine.
//!
//! TEMPORARY stand-in until `crate::compare` lands in main: a minimal comparison with
//! the announced API (`compare`, `Comparison::view`, `ViewOptions`, `SortKey`). After the
//! merge this file shrinks to re-exports of `crate::compare`.

use std::str::FromStr;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::profile::Profile;

/// One side's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Display name.
    pub name: String,
    /// Number of entries.
    pub functions: usize,
    /// Σ nc.
    pub total_calls: i64,
    /// Σ cc.
    pub primitive_calls: i64,
    /// Σ tt.
    pub total_time: f64,
}

/// One function's numbers on one side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nums {
    /// Primitive calls.
    pub cc: i64,
    /// All calls.
    pub nc: i64,
    /// Own time.
    pub tt: f64,
    /// Cumulative time.
    pub ct: f64,
}

/// Differences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Δ nc.
    pub nc: i64,
    /// Δ tt.
    pub tt: f64,
    /// Δ ct.
    pub ct: f64,
}

/// One row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// File.
    pub file: String,
    /// Line.
    pub line: i64,
    /// Name.
    pub name: String,
    /// Baseline numbers.
    pub baseline: Option<Nums>,
    /// Candidate numbers.
    pub candidate: Option<Nums>,
    /// Differences.
    pub delta: Delta,
    /// added/removed/changed/unchanged.
    pub status: String,
}

/// The `profdiff.comparison/v1` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Schema tag.
    pub schema: String,
    /// Baseline totals.
    pub baseline: Side,
    /// Candidate totals.
    pub candidate: Side,
    /// Rows.
    pub functions: Vec<Row>,
}

/// Sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// |Δtt|.
    #[default]
    DeltaTt,
    /// Name.
    Name,
}

impl FromStr for SortKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "delta_tt" | "tt" => Ok(SortKey::DeltaTt),
            "name" => Ok(SortKey::Name),
            other => Err(format!("unknown sort key {other:?}")),
        }
    }
}

/// View options.
#[derive(Debug, Clone, Default)]
pub struct ViewOptions {
    /// Sort key.
    pub sort: SortKey,
    /// Descending.
    pub descending: bool,
    /// Page size.
    pub limit: Option<usize>,
    /// Page start.
    pub offset: usize,
    /// Regex on file/name.
    pub filter: Option<Regex>,
    /// Hide built-ins.
    pub hide_builtins: bool,
    /// Hide stdlib.
    pub hide_stdlib: bool,
    /// Minimum |Δtt|.
    pub min_delta: Option<f64>,
    /// Normalise by total time.
    pub normalize: bool,
}

impl ViewOptions {
    /// Sets key and direction from `KEY`, `-KEY` or `+KEY`.
    pub fn set_sort(&mut self, spec: &str) -> Result<(), String> {
        let (desc, key) = match spec.as_bytes().first() {
            Some(b'-') => (true, &spec[1..]),
            Some(b'+') => (false, &spec[1..]),
            _ => (true, spec),
        };
        self.sort = key.parse()?;
        self.descending = desc;
        Ok(())
    }
}

/// A filtered, sorted page.
#[derive(Debug, Clone)]
pub struct ComparisonView {
    /// Rows after filtering, before paging.
    pub total_rows: usize,
    /// The page as a document.
    pub document: Comparison,
}

fn side(p: &Profile) -> Side {
    Side {
        name: p.name.clone(),
        functions: p.len(),
        total_calls: p.totals.total_calls,
        primitive_calls: p.totals.primitive_calls,
        total_time: p.totals.total_time,
    }
}

/// Compares two profiles.
pub fn compare(a: &Profile, b: &Profile) -> Comparison {
    use std::collections::BTreeMap;
    type Sides = (Option<Nums>, Option<Nums>);
    let mut map: BTreeMap<(String, i64, String), Sides> = BTreeMap::new();
    for (which, p) in [(0, a), (1, b)] {
        for f in &p.functions {
            let (file, line, name) = p.key_parts(f.key);
            let n = Nums {
                cc: f.stats.cc,
                nc: f.stats.nc,
                tt: f.stats.tt,
                ct: f.stats.ct,
            };
            let e = map
                .entry((file.to_string(), line, name.to_string()))
                .or_default();
            if which == 0 {
                e.0 = Some(n);
            } else {
                e.1 = Some(n);
            }
        }
    }
    let zero = Nums {
        cc: 0,
        nc: 0,
        tt: 0.0,
        ct: 0.0,
    };
    let mut rows: Vec<Row> = map
        .into_iter()
        .map(|((file, line, name), (ba, ca))| {
            let (x, y) = (ba.unwrap_or(zero), ca.unwrap_or(zero));
            let status = match (ba, ca) {
                (None, _) => "added",
                (_, None) => "removed",
                _ if x == y => "unchanged",
                _ => "changed",
            };
            Row {
                file,
                line,
                name,
                baseline: ba,
                candidate: ca,
                delta: Delta {
                    nc: y.nc.wrapping_sub(x.nc),
                    tt: y.tt - x.tt,
                    ct: y.ct - x.ct,
                },
                status: status.into(),
            }
        })
        .collect();
    rows.sort_by(|r, s| s.delta.tt.abs().total_cmp(&r.delta.tt.abs()));
    Comparison {
        schema: "profdiff.comparison/v1".into(),
        baseline: side(a),
        candidate: side(b),
        functions: rows,
    }
}

impl Comparison {
    /// Filters, sorts and pages.
    pub fn view(&self, o: &ViewOptions) -> ComparisonView {
        let mut rows: Vec<Row> = self
            .functions
            .iter()
            .filter(|r| !o.hide_builtins || !(r.file == "~" || r.file.is_empty()))
            .filter(|r| {
                o.filter
                    .as_ref()
                    .is_none_or(|re| re.is_match(&r.file) || re.is_match(&r.name))
            })
            .filter(|r| o.min_delta.is_none_or(|m| r.delta.tt.abs() >= m))
            .cloned()
            .collect();
        if o.sort == SortKey::Name {
            rows.sort_by(|a, b| a.name.cmp(&b.name));
            if o.descending {
                rows.reverse();
            }
        }
        let total_rows = rows.len();
        let rows: Vec<Row> = rows
            .into_iter()
            .skip(o.offset)
            .take(o.limit.unwrap_or(usize::MAX))
            .collect();
        ComparisonView {
            total_rows,
            document: Comparison {
                functions: rows,
                ..self.clone()
            },
        }
    }
}
