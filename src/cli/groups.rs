//! Groups of repeated runs: `profdiff compare --baseline-group … --candidate-group …`
//! (offline) and the rendering and CI gate that `profdiff submit` shares.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{presets, Table};
use profdiff_workers::compare::{
    compare_groups, min_p_value, FunctionGroupDiff, GroupComparison, GroupDiff, Verdict,
    DEFAULT_ALPHA,
};
use profdiff_workers::Profile;

use super::{human_time, load, note, signed_percent, signed_time, write_out, Failure, EXIT_GATE};

/// Output formats of a group comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupFormat {
    /// Aligned columns for a terminal.
    Table,
    /// One `profdiff.group_comparison/v1` document.
    Json,
    /// GitHub-flavoured Markdown, fit for a pull-request comment.
    Markdown,
}

/// Loads both groups, compares them, prints, and applies the gate.
pub fn run_offline(
    baseline: &[PathBuf],
    candidate: &[PathBuf],
    format: GroupFormat,
    limit: Option<usize>,
    fail_on_regression: Option<f64>,
    significance: Option<f64>,
) -> Result<ExitCode, Failure> {
    let gate = Gate::new(fail_on_regression, significance)?;
    let load_all = |paths: &[PathBuf]| -> Result<Vec<Profile>, Failure> {
        paths.iter().map(|p| load(p)).collect()
    };
    let (b, c) = (load_all(baseline)?, load_all(candidate)?);
    let br: Vec<&Profile> = b.iter().collect();
    let cr: Vec<&Profile> = c.iter().collect();
    let doc = compare_groups(&br, &cr, gate.alpha())
        .ok_or_else(|| Failure::bad_input("each group needs at least one dump"))?;
    drop((b, c));
    gate.check_sizes(doc.baseline.runs.len(), doc.candidate.runs.len())?;
    let limit = match (limit, format) {
        (Some(0), _) => None,
        (Some(n), _) => Some(n),
        (None, GroupFormat::Json) => None,
        (None, _) => Some(30),
    };
    write_out(|w| render(w, &doc, format, limit, &[]))?;
    Ok(if gate.tripped(&doc.total_time) {
        ExitCode::from(EXIT_GATE)
    } else {
        ExitCode::SUCCESS
    })
}

/// One candidate of a batch against the baseline median.
pub use profdiff_workers::compare::CandidateTotal as CandidateLine;

/// The CI gate: a total-time increase of at least `pct`, and (when `alpha` is given)
/// significant at `alpha`.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    pct: Option<f64>,
    alpha: Option<f64>,
}

impl Gate {
    /// Validates the options; `--significance` alone means "any significant increase".
    pub fn new(pct: Option<f64>, alpha: Option<f64>) -> Result<Self, Failure> {
        if let Some(a) = alpha {
            if !(a > 0.0 && a < 1.0) {
                return Err(Failure::bad_input(format!(
                    "--significance must be between 0 and 1 (exclusive), got {a}"
                )));
            }
        }
        Ok(Self { pct, alpha })
    }

    /// The alpha the verdicts use.
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(DEFAULT_ALPHA)
    }

    /// Refuses group sizes that can never reach the requested significance, so a CI gate
    /// cannot silently never trip.
    pub fn check_sizes(&self, nb: usize, nc: usize) -> Result<(), Failure> {
        match self.alpha {
            Some(a) if min_p_value(nb, nc) >= a => Err(Failure::bad_input(format!(
                "{nb} baseline and {nc} candidate runs can never be significant at {a} \
                 (smallest possible p-value {:.4}); give more runs (e.g. 4 and 4 for 0.05)",
                min_p_value(nb, nc)
            ))),
            _ => Ok(()),
        }
    }

    /// Reports the gate on stderr; true when it tripped.
    pub fn tripped(&self, total: &GroupDiff) -> bool {
        if self.pct.is_none() && self.alpha.is_none() {
            return false;
        }
        let pct = self.pct.unwrap_or(0.0);
        let change = match total.percent {
            Some(p) => p,
            None if total.delta_median > 0.0 => f64::INFINITY,
            None if total.delta_median < 0.0 => f64::NEG_INFINITY,
            None => 0.0,
        };
        let p = total.test.map_or(1.0, |t| t.p_value);
        let big = change >= pct && (self.pct.is_some() || change > 0.0);
        let significant = self.alpha.is_none_or(|a| p < a);
        let tripped = big && significant;
        let why = match self.alpha {
            Some(a) => format!(", p = {p:.4} {} {a}", if p < a { "<" } else { "≥" }),
            None => String::new(),
        };
        note(&format!(
            "regression gate: median total time {} → {} ({}) {} {pct}%{why}{}",
            human_time(total.baseline.median),
            human_time(total.candidate.median),
            signed_percent(change),
            if change >= pct { "≥" } else { "<" },
            if tripped { "" } else { ": ok" }
        ));
        tripped
    }
}

fn pct_text(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".to_owned(), signed_percent)
}

fn p_text(d: &GroupDiff) -> String {
    d.test
        .map_or_else(|| "–".to_owned(), |t| format!("{:.3}", t.p_value))
}

fn effect_text(d: &GroupDiff) -> String {
    d.test
        .map_or_else(|| "–".to_owned(), |t| format!("{:+.2}", t.effect))
}

fn med_iqr(s: &profdiff_workers::compare::Spread) -> String {
    format!("{} ± {}", human_time(s.median), human_time(s.iqr))
}

/// Renders a group comparison (plus per-candidate lines for a batch, when given).
pub fn render(
    w: &mut dyn Write,
    doc: &GroupComparison,
    format: GroupFormat,
    limit: Option<usize>,
    candidates: &[CandidateLine],
) -> io::Result<()> {
    let rows: Vec<&FunctionGroupDiff> = doc
        .functions
        .iter()
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let (nb, nc) = (doc.baseline.runs.len(), doc.candidate.runs.len());
    let t = &doc.total_time;
    match format {
        GroupFormat::Json => {
            let mut shown = doc.clone();
            shown.functions.truncate(rows.len());
            let mut v = serde_json::to_value(&shown).map_err(io::Error::from)?;
            if !candidates.is_empty() {
                v["candidates"] = serde_json::to_value(candidates).map_err(io::Error::from)?;
            }
            serde_json::to_writer(&mut *w, &v).map_err(io::Error::from)?;
            writeln!(w)
        }
        GroupFormat::Markdown => {
            writeln!(
                w,
                "### profdiff: {nb} baseline run{} vs {nc} candidate run{}\n",
                if nb == 1 { "" } else { "s" },
                if nc == 1 { "" } else { "s" }
            )?;
            writeln!(
                w,
                "**Total time** (median ± IQR): {} → {} (**{}**), p = {}, Cliff's δ = {}: **{}** (α = {})\n",
                med_iqr(&t.baseline),
                med_iqr(&t.candidate),
                pct_text(t.percent),
                p_text(t),
                effect_text(t),
                t.verdict.as_str(),
                doc.alpha
            )?;
            if !candidates.is_empty() {
                writeln!(w, "| candidate | total time | Δ vs baseline | Δ % |")?;
                writeln!(w, "|---|---:|---:|---:|")?;
                for c in candidates {
                    writeln!(
                        w,
                        "| `{}` | {} | {} | {} |",
                        md_escape(&c.name),
                        human_time(c.total_time),
                        signed_time(c.delta),
                        pct_text(c.percent)
                    )?;
                }
                writeln!(w)?;
            }
            writeln!(
                w,
                "| function | baseline | candidate | Δ median | Δ % | p | δ | verdict |"
            )?;
            writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---|")?;
            for r in &rows {
                let verdict = match r.tt.verdict {
                    Verdict::Slower => "🔴 slower",
                    Verdict::Faster => "🟢 faster",
                    Verdict::Noise => "noise",
                };
                writeln!(
                    w,
                    "| `{}` | {} | {} | {} | {} | {} | {} | {verdict} |",
                    md_escape(&r.label()),
                    med_iqr(&r.tt.baseline),
                    med_iqr(&r.tt.candidate),
                    signed_time(r.tt.delta_median),
                    pct_text(r.tt.percent),
                    p_text(&r.tt),
                    effect_text(&r.tt)
                )?;
            }
            if rows.len() < doc.functions.len() {
                writeln!(
                    w,
                    "\n_{} more functions not shown._",
                    doc.functions.len() - rows.len()
                )?;
            }
            Ok(())
        }
        GroupFormat::Table => {
            writeln!(
                w,
                "baseline   {nb} run(s): {}",
                doc.baseline.runs.join(", ")
            )?;
            writeln!(
                w,
                "candidate  {nc} run(s): {}",
                doc.candidate.runs.join(", ")
            )?;
            writeln!(
                w,
                "total time (median ± IQR) {} → {} ({}), p = {}, δ = {}: {}\n",
                med_iqr(&t.baseline),
                med_iqr(&t.candidate),
                pct_text(t.percent),
                p_text(t),
                effect_text(t),
                t.verdict.as_str()
            )?;
            if !candidates.is_empty() {
                let mut ct = Table::new();
                ct.load_preset(presets::UTF8_HORIZONTAL_ONLY).force_no_tty();
                ct.set_header(vec!["candidate", "total time", "Δ vs baseline", "Δ %"]);
                for c in candidates {
                    ct.add_row(vec![
                        c.name.clone(),
                        human_time(c.total_time),
                        signed_time(c.delta),
                        pct_text(c.percent),
                    ]);
                }
                writeln!(w, "{ct}\n")?;
            }
            let mut table = Table::new();
            table
                .load_preset(presets::UTF8_HORIZONTAL_ONLY)
                .force_no_tty();
            table.set_header(vec![
                "Δ median",
                "Δ %",
                "baseline",
                "candidate",
                "p",
                "δ",
                "verdict",
                "function",
            ]);
            for r in &rows {
                table.add_row(vec![
                    signed_time(r.tt.delta_median),
                    pct_text(r.tt.percent),
                    med_iqr(&r.tt.baseline),
                    med_iqr(&r.tt.candidate),
                    p_text(&r.tt),
                    effect_text(&r.tt),
                    r.tt.verdict.as_str().to_owned(),
                    r.label(),
                ]);
            }
            writeln!(w, "{table}")?;
            if rows.len() < doc.functions.len() {
                writeln!(
                    w,
                    "({} more functions; --limit 0 shows all)",
                    doc.functions.len() - rows.len()
                )?;
            }
            Ok(())
        }
    }
}

/// Keeps a function label from breaking a Markdown table or code span.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'").replace('\n', " ")
}
