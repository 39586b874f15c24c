//! `profdiff inspect FILE`: one dump as `python -m pstats` prints it, or as the
//! `profdiff.profile/v1` document.

use std::cmp::Ordering;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use profdiff_workers::report::{ProfileDocument, ProfileEntry};

use super::compare::std_label;
use super::{finish, load, write_out, Failure};

/// Rows a table shows when `--limit` is not given.
const TABLE_DEFAULT_LIMIT: usize = 30;

/// Output format of `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InspectFormat {
    /// pstats-style listing.
    Table,
    /// One `profdiff.profile/v1` document.
    Json,
}

/// Columns `inspect` sorts by (pstats' `sort_stats` names work too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectKey {
    /// Own time.
    Tottime,
    /// Cumulative time.
    Cumtime,
    /// All calls.
    Calls,
    /// Primitive calls.
    Pcalls,
    /// Function name.
    Name,
    /// File name.
    File,
    /// Line number.
    Line,
}

const INSPECT_NAMES: &[(InspectKey, &[&str], &str)] = &[
    (
        InspectKey::Tottime,
        &["tottime", "tt", "time"],
        "internal time",
    ),
    (
        InspectKey::Cumtime,
        &["cumtime", "ct", "cumulative"],
        "cumulative time",
    ),
    (InspectKey::Calls, &["ncalls", "nc", "calls"], "call count"),
    (
        InspectKey::Pcalls,
        &["pcalls", "cc"],
        "primitive call count",
    ),
    (InspectKey::Name, &["name"], "function name"),
    (
        InspectKey::File,
        &["file", "filename", "module"],
        "file name",
    ),
    (InspectKey::Line, &["line", "lineno"], "line number"),
];

/// A sort key and direction for `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectSort {
    key: InspectKey,
    descending: bool,
}

impl FromStr for InspectSort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (sign, bare) = match s.as_bytes().first() {
            Some(b'-') => (Some(true), &s[1..]),
            Some(b'+') => (Some(false), &s[1..]),
            _ => (None, s),
        };
        let lower = bare.to_ascii_lowercase();
        let Some((key, _, _)) = INSPECT_NAMES
            .iter()
            .find(|(_, n, _)| n.contains(&lower.as_str()))
        else {
            let valid: Vec<&str> = INSPECT_NAMES.iter().map(|(_, n, _)| n[0]).collect();
            return Err(format!(
                "unknown sort key {s:?}; valid keys: {} (prefix '-' for descending, '+' for ascending)",
                valid.join(", ")
            ));
        };
        let natural = !matches!(key, InspectKey::Name | InspectKey::File | InspectKey::Line);
        Ok(Self {
            key: *key,
            descending: sign.unwrap_or(natural),
        })
    }
}

impl InspectSort {
    fn describe(&self) -> &'static str {
        INSPECT_NAMES
            .iter()
            .find(|(k, _, _)| *k == self.key)
            .map_or("internal time", |(_, _, d)| d)
    }

    fn cmp(&self, a: &ProfileEntry, b: &ProfileEntry) -> Ordering {
        let o = match self.key {
            InspectKey::Tottime => a.tt.partial_cmp(&b.tt).unwrap_or(Ordering::Equal),
            InspectKey::Cumtime => a.ct.partial_cmp(&b.ct).unwrap_or(Ordering::Equal),
            InspectKey::Calls => a.nc.cmp(&b.nc),
            InspectKey::Pcalls => a.cc.cmp(&b.cc),
            InspectKey::Name => a.name.cmp(&b.name),
            InspectKey::File => a.file.cmp(&b.file),
            InspectKey::Line => a.line.cmp(&b.line),
        };
        let o = if self.descending { o.reverse() } else { o };
        o.then_with(|| {
            a.file
                .cmp(&b.file)
                .then(a.line.cmp(&b.line))
                .then_with(|| a.name.cmp(&b.name))
        })
    }
}

/// Arguments of `profdiff inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The dump to describe.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    pub format: InspectFormat,
    /// Sort column: tottime (default), cumtime, ncalls, pcalls, name, file, line.
    /// Prefix '-' for descending, '+' for ascending.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub sort: Option<InspectSort>,
    /// Most entries to print (table default 30, json default all; 0 = all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Runs `profdiff inspect`.
pub fn run(args: InspectArgs) -> ExitCode {
    finish(execute(args))
}

fn execute(args: InspectArgs) -> Result<ExitCode, Failure> {
    let profile = load(&args.file)?;
    let mut doc = ProfileDocument::from_profile(&profile);
    let sort = args.sort.unwrap_or(InspectSort {
        key: InspectKey::Tottime,
        descending: true,
    });
    // The document already is in tottime-descending order.
    if args.sort.is_some() {
        doc.entries.sort_by(|a, b| sort.cmp(a, b));
    }
    let limit = match (args.limit, args.format) {
        (Some(0), _) => None,
        (Some(n), _) => Some(n),
        (None, InspectFormat::Table) => Some(TABLE_DEFAULT_LIMIT),
        (None, InspectFormat::Json) => None,
    };
    let all = doc.entries.len();
    if let Some(n) = limit {
        doc.entries.truncate(n);
    }
    match args.format {
        InspectFormat::Json => write_out(|w| {
            serde_json::to_writer(&mut *w, &doc).map_err(io::Error::from)?;
            writeln!(w)
        })?,
        InspectFormat::Table => write_out(|w| {
            let header = format!(
                "{}  ({}, {})",
                doc.name,
                profile.producer.label(),
                profile.format.label()
            );
            write_table(w, &header, &doc, all, sort.describe())
        })?,
    }
    Ok(ExitCode::SUCCESS)
}

/// pstats' `f8`: `%8.3f`.
fn f8(v: f64) -> String {
    format!("{v:8.3}")
}

fn write_table(
    w: &mut dyn Write,
    header: &str,
    doc: &ProfileDocument,
    all: usize,
    order: &str,
) -> io::Result<()> {
    writeln!(w, "{header}")?;
    writeln!(w)?;
    // The same header lines `pstats.Stats.print_stats` writes.
    let calls = if doc.total_calls != doc.primitive_calls {
        format!(
            "{} function calls ({} primitive calls)",
            doc.total_calls, doc.primitive_calls
        )
    } else {
        format!("{} function calls", doc.total_calls)
    };
    writeln!(w, "         {calls} in {:.3} seconds", doc.total_time)?;
    writeln!(w)?;
    writeln!(w, "   Ordered by: {order}")?;
    if doc.entries.len() < all {
        writeln!(
            w,
            "   List reduced from {all} to {} due to restriction <{}>",
            doc.entries.len(),
            doc.entries.len()
        )?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)"
    )?;
    for e in &doc.entries {
        let mut c = e.nc.to_string();
        if e.nc != e.cc {
            c = format!("{c}/{}", e.cc);
        }
        let per_tt = if e.nc == 0 {
            " ".repeat(8)
        } else {
            f8(e.tt / e.nc as f64)
        };
        let per_ct = if e.cc == 0 {
            " ".repeat(8)
        } else {
            f8(e.ct / e.cc as f64)
        };
        writeln!(
            w,
            "{c:>9} {} {per_tt} {} {per_ct} {}",
            f8(e.tt),
            f8(e.ct),
            std_label(&e.file, e.line, &e.name)
        )?;
    }
    if doc.entries.len() < all {
        writeln!(w)?;
        writeln!(w, "({} more; use --limit)", all - doc.entries.len())?;
    }
    Ok(())
}
