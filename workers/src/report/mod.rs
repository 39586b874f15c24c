//! One profile → the `profdiff.profile/v1` document (what `python -m pstats` shows,
//! with callers and callees), and a cheap summary for lists.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::profile::{EdgeStats, Profile};

/// The `schema` value of a profile document.
pub const PROFILE_SCHEMA: &str = "profdiff.profile/v1";

/// One caller→callee pair as pstats stores it, seen from either end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeEntry {
    /// File of the function at the other end.
    pub file: String,
    /// Line of the function at the other end.
    pub line: i64,
    /// Name of the function at the other end.
    pub name: String,
    /// Primitive calls along the edge (the call count for `profile` dumps).
    pub cc: i64,
    /// All calls along the edge.
    pub nc: i64,
    /// Time in the callee along the edge; `None` for a bare `profile` count.
    pub tt: Option<f64>,
    /// Cumulative time along the edge; `None` for a bare `profile` count.
    pub ct: Option<f64>,
}

/// One stats entry with its callers and callees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileEntry {
    /// File part of the key.
    pub file: String,
    /// Line part of the key.
    pub line: i64,
    /// Name part of the key.
    pub name: String,
    /// Primitive calls.
    pub cc: i64,
    /// All calls.
    pub nc: i64,
    /// Own time.
    pub tt: f64,
    /// Cumulative time.
    pub ct: f64,
    /// Who called it, by (file, line, name).
    pub callers: Vec<EdgeEntry>,
    /// What it called (pstats `calc_callees`), by (file, line, name).
    pub callees: Vec<EdgeEntry>,
}

impl ProfileEntry {
    /// `file:line(name)`, as pstats prints a function.
    pub fn label(&self) -> String {
        format!("{}:{}({})", self.file, self.line, self.name)
    }
}

/// The `profdiff.profile/v1` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileDocument {
    /// Always [`PROFILE_SCHEMA`].
    pub schema: String,
    /// The dump's file name without folders.
    pub name: String,
    /// Number of stats entries.
    pub functions: usize,
    /// Σ nc.
    pub total_calls: i64,
    /// Σ cc.
    pub primitive_calls: i64,
    /// Σ tt in file order.
    pub total_time: f64,
    /// Entries, tt descending, ties by (file, line, name).
    pub entries: Vec<ProfileEntry>,
}

fn key_cmp(a: (&str, i64, &str), b: (&str, i64, &str)) -> Ordering {
    a.0.cmp(b.0).then(a.1.cmp(&b.1)).then_with(|| a.2.cmp(b.2))
}

fn edge(p: &Profile, key: u32, s: &EdgeStats) -> EdgeEntry {
    let (file, line, name) = p.key_parts(key);
    EdgeEntry {
        file: file.to_owned(),
        line,
        name: name.to_owned(),
        cc: s.cc,
        nc: s.nc,
        tt: s.tt(),
        ct: s.ct(),
    }
}

fn sort_edges(v: &mut [EdgeEntry]) {
    v.sort_by(|a, b| key_cmp((&a.file, a.line, &a.name), (&b.file, b.line, &b.name)));
}

impl ProfileDocument {
    /// Describes a profile in contract order.
    pub fn from_profile(p: &Profile) -> Self {
        let callees = p.callees();
        let mut entries: Vec<ProfileEntry> = p
            .functions
            .iter()
            .map(|f| {
                let (file, line, name) = p.key_parts(f.key);
                let mut callers: Vec<EdgeEntry> = p
                    .callers(f)
                    .iter()
                    .map(|e| edge(p, e.caller, &e.stats))
                    .collect();
                sort_edges(&mut callers);
                let mut out: Vec<EdgeEntry> = callees
                    .get(f.key as usize)
                    .map(|list| {
                        list.iter()
                            .filter_map(|(callee, s)| {
                                p.functions
                                    .get(*callee as usize)
                                    .map(|cf| edge(p, cf.key, s))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                sort_edges(&mut out);
                ProfileEntry {
                    file: file.to_owned(),
                    line,
                    name: name.to_owned(),
                    cc: f.stats.cc,
                    nc: f.stats.nc,
                    tt: f.stats.tt,
                    ct: f.stats.ct,
                    callers,
                    callees: out,
                }
            })
            .collect();
        // partial_cmp: -0.0 and 0.0 tie, as in Python's sort.
        entries.sort_by(|a, b| {
            b.tt.partial_cmp(&a.tt)
                .unwrap_or(Ordering::Equal)
                .then_with(|| key_cmp((&a.file, a.line, &a.name), (&b.file, b.line, &b.name)))
        });
        Self {
            schema: PROFILE_SCHEMA.to_owned(),
            name: p.name.clone(),
            functions: p.functions.len(),
            total_calls: p.totals.total_calls,
            primitive_calls: p.totals.primitive_calls,
            total_time: p.totals.total_time,
            entries,
        }
    }
}

/// A profile's headline numbers, cheap to compute and to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// The dump's file name without folders.
    pub name: String,
    /// Number of stats entries.
    pub functions: usize,
    /// Σ nc.
    pub total_calls: i64,
    /// Σ cc.
    pub primitive_calls: i64,
    /// Σ tt in file order.
    pub total_time: f64,
    /// Container, e.g. `marshal v4`.
    pub format: String,
    /// Likely producer, e.g. `cProfile`.
    pub producer: String,
}

impl ProfileSummary {
    /// The summary of a profile.
    pub fn of(p: &Profile) -> Self {
        Self {
            name: p.name.clone(),
            functions: p.functions.len(),
            total_calls: p.totals.total_calls,
            primitive_calls: p.totals.primitive_calls,
            total_time: p.totals.total_time,
            format: p.format.label(),
            producer: p.producer.label().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Limits, ProfileBuilder, SourceFormat, Stats};

    #[test]
    fn entries_callers_and_callees_in_contract_order() {
        let mut b = ProfileBuilder::new(Limits::for_input(0), 0);
        let file = b.intern("m.py").unwrap();
        let (main, f, g) = (
            b.intern("main").unwrap(),
            b.intern("f").unwrap(),
            b.intern("g").unwrap(),
        );
        let (km, kf, kg) = (b.key(file, 1, main), b.key(file, 5, f), b.key(file, 9, g));
        let s = |tt: f64| Stats {
            cc: 1,
            nc: 2,
            tt,
            ct: tt * 2.0,
        };
        b.begin_function(km, s(0.1)).unwrap();
        b.begin_function(kg, s(0.3)).unwrap();
        b.add_caller(kf, EdgeStats::timed(4, 3, 0.2, 0.25)).unwrap();
        b.add_caller(km, EdgeStats::timed(2, 1, 0.1, 0.05)).unwrap();
        b.begin_function(kf, s(0.3)).unwrap();
        b.add_caller(km, EdgeStats::count(7)).unwrap();
        let p = b
            .finish("m.prof", SourceFormat::Marshal { version: 4 })
            .unwrap();
        let d = ProfileDocument::from_profile(&p);
        let names: Vec<&str> = d.entries.iter().map(|e| e.name.as_str()).collect();
        // f and g tie on tt: line 5 before line 9.
        assert_eq!(names, ["f", "g", "main"]);
        let g = &d.entries[1];
        assert_eq!(
            g.callers
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["main", "f"]
        );
        assert_eq!((g.callers[1].nc, g.callers[1].cc), (4, 3));
        let main = &d.entries[2];
        assert_eq!(
            main.callees
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["f", "g"]
        );
        assert_eq!((main.callees[0].nc, main.callees[0].tt), (7, None));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["schema"], PROFILE_SCHEMA);
        assert_eq!(
            json["entries"][2]["callees"][0]["ct"],
            serde_json::Value::Null
        );
        let back: ProfileDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
        let sum = ProfileSummary::of(&p);
        assert_eq!((sum.functions, sum.total_calls), (3, 6));
        assert_eq!(sum.format, "marshal v4");
    }
}
