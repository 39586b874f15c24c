//! The comparison as CSV, one row per function: the CLI's `--format csv` and the
//! service's `?format=csv` both write it here, so the two exports cannot drift apart.

use std::io::Write;

use super::{Comparison, Numbers};

/// Column names, in order.
pub const HEADER: [&str; 16] = [
    "file",
    "line",
    "name",
    "status",
    "baseline_cc",
    "baseline_nc",
    "baseline_tt",
    "baseline_ct",
    "candidate_cc",
    "candidate_nc",
    "candidate_tt",
    "candidate_ct",
    "delta_nc",
    "delta_tt",
    "delta_ct",
    "percent_tt",
];

fn float(v: f64) -> String {
    // Debug formatting is Rust's shortest round-trip repr.
    format!("{v:?}")
}

/// Writes `doc`'s rows as CSV with a header; an absent side leaves its cells empty.
pub fn write_csv<W: Write>(w: W, doc: &Comparison) -> csv::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(HEADER)?;
    let side = |n: Option<Numbers>| -> [String; 4] {
        match n {
            Some(n) => [n.cc.to_string(), n.nc.to_string(), float(n.tt), float(n.ct)],
            None => Default::default(),
        }
    };
    for r in &doc.functions {
        let mut rec = Vec::with_capacity(HEADER.len());
        rec.extend([
            r.file.clone(),
            r.line.to_string(),
            r.name.clone(),
            r.status.as_str().to_owned(),
        ]);
        rec.extend(side(r.baseline));
        rec.extend(side(r.candidate));
        rec.push(r.delta.nc.to_string());
        rec.push(float(r.delta.tt));
        rec.push(float(r.delta.ct));
        rec.push(r.percent_tt().map(float).unwrap_or_default());
        out.write_record(&rec)?;
    }
    out.flush()?;
    Ok(())
}
