//! `profdiff compare BASELINE CANDIDATE`: table, JSON or CSV, and the regression gate.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{presets, Cell, CellAlignment, Color, ContentArrangement, Table, TableComponent};
use profdiff_workers::compare::{
    compare, write_csv, Comparison, FunctionDiff, Numbers, SortSpec, Status, ViewOptions,
};

use super::groups::GroupFormat;
use super::{
    finish, grouped, human_time, load, signed_percent, signed_time, write_out, ColorChoice,
    Failure, EXIT_GATE,
};

/// Rows a table shows when `--limit` is not given.
const TABLE_DEFAULT_LIMIT: usize = 30;

/// Output format of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// Aligned columns for a terminal.
    Table,
    /// One `profdiff.comparison/v1` document.
    Json,
    /// One row per function, with a header.
    Csv,
    /// Markdown for a pull-request comment (groups only).
    Markdown,
}

fn parse_sort(s: &str) -> Result<SortSpec, String> {
    s.parse()
        .map_err(|e: profdiff_workers::compare::SortKeyError| e.to_string())
}

fn parse_regex(s: &str) -> Result<regex::Regex, String> {
    // A size limit keeps a hostile pattern from costing unbounded memory.
    regex::RegexBuilder::new(s)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// A finite float from the command line.
pub fn parse_finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{s:?} is not a finite number"))
    }
}

/// A comma-separated status list (a newtype: clap would read `Vec<T>` as repeated values).
#[derive(Debug, Clone)]
pub struct StatusList(Vec<Status>);

fn parse_statuses(s: &str) -> Result<StatusList, String> {
    s.split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map(StatusList)
}

/// Arguments of `profdiff compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The reference dump (before).
    #[arg(required_unless_present = "baseline_group")]
    pub baseline: Option<PathBuf>,
    /// The dump to judge (after).
    #[arg(required_unless_present = "candidate_group")]
    pub candidate: Option<PathBuf>,
    /// Repeated runs of the baseline (instead of BASELINE): compares medians and tests
    /// the difference against the run-to-run noise.
    #[arg(long, num_args = 1.., value_name = "DUMP", requires = "candidate_group",
          conflicts_with_all = ["baseline", "candidate"])]
    pub baseline_group: Vec<PathBuf>,
    /// Repeated runs of the candidate (with --baseline-group).
    #[arg(long, num_args = 1.., value_name = "DUMP", requires = "baseline_group")]
    pub candidate_group: Vec<PathBuf>,
    /// Groups: significance level of the Mann-Whitney test (default 0.05); with it the
    /// regression gate trips only on a significant increase.
    #[arg(long, value_name = "ALPHA", value_parser = parse_finite, requires = "baseline_group")]
    pub significance: Option<f64>,
    /// Output format (markdown: groups only).
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Sort column: abs_delta_tt (default), delta_tt, delta_ct, delta_nc, percent,
    /// baseline_{cc,nc,tt,ct}, candidate_{cc,nc,tt,ct} (or cc, nc, tt, ct), name, file,
    /// line, status. Prefix '-' for descending, '+' for ascending.
    #[arg(long, value_name = "KEY", value_parser = parse_sort, allow_hyphen_values = true)]
    pub sort: Option<SortSpec>,
    /// Most rows to print (table default 30, json/csv default all; 0 = all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Exit 1 when the candidate's total time is PCT percent or more above the baseline's.
    #[arg(long, value_name = "PCT", value_parser = parse_finite, allow_hyphen_values = true)]
    pub fail_on_regression: Option<f64>,
    /// Keep functions whose file, name or file:line(name) matches this regex.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub filter: Option<regex::Regex>,
    /// Hide built-in (C) functions.
    #[arg(long)]
    pub hide_builtins: bool,
    /// Hide standard-library and site-/dist-packages code.
    #[arg(long)]
    pub hide_stdlib: bool,
    /// Keep functions whose own time changed by at least SECS (either way).
    #[arg(long, value_name = "SECS", value_parser = parse_finite)]
    pub min_delta: Option<f64>,
    /// Show times as fractions of each side's total time.
    #[arg(long)]
    pub normalize: bool,
    /// Keep only these statuses (comma-separated: added,removed,changed,unchanged).
    #[arg(long, value_name = "LIST", value_parser = parse_statuses)]
    pub status: Option<StatusList>,
    /// Colour the table (auto: only on a terminal, and not when NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Runs `profdiff compare`.
pub fn run(args: CompareArgs) -> ExitCode {
    finish(execute(args))
}

fn execute(args: CompareArgs) -> Result<ExitCode, Failure> {
    let (Some(baseline), Some(candidate)) = (&args.baseline, &args.candidate) else {
        let format = match args.format {
            CompareFormat::Table => GroupFormat::Table,
            CompareFormat::Json => GroupFormat::Json,
            CompareFormat::Markdown => GroupFormat::Markdown,
            CompareFormat::Csv => {
                return Err(Failure::bad_input(
                    "--format csv is not available for groups (use table, json or markdown)",
                ))
            }
        };
        return super::groups::run_offline(
            &args.baseline_group,
            &args.candidate_group,
            format,
            args.limit,
            args.fail_on_regression,
            args.significance,
        );
    };
    if args.format == CompareFormat::Markdown {
        return Err(Failure::bad_input(
            "--format markdown needs --baseline-group/--candidate-group",
        ));
    }
    let baseline = load(baseline)?;
    let candidate = load(candidate)?;
    let full = compare(&baseline, &candidate);
    drop((baseline, candidate));

    let mut opts = ViewOptions {
        filter: args.filter.clone(),
        hide_builtins: args.hide_builtins,
        hide_stdlib: args.hide_stdlib,
        min_delta: args.min_delta,
        normalize: args.normalize,
        statuses: args.status.clone().map(|l| l.0),
        ..ViewOptions::default()
    };
    if let Some(spec) = args.sort {
        opts.sort = spec.key;
        opts.descending = spec.descending;
    }
    opts.limit = match (args.limit, args.format) {
        (Some(0), _) => None,
        (Some(n), _) => Some(n),
        (None, CompareFormat::Table) => Some(TABLE_DEFAULT_LIMIT),
        (None, _) => None,
    };
    let view = full.view(&opts);
    let doc = &view.document;
    match args.format {
        CompareFormat::Json => write_out(|w| {
            serde_json::to_writer(&mut *w, doc).map_err(io::Error::from)?;
            writeln!(w)
        })?,
        CompareFormat::Csv => write_out(|w| Ok(write_csv(w, doc)?))?,
        CompareFormat::Table | CompareFormat::Markdown => {
            let color = args.color.enabled();
            write_out(|w| write_table(w, doc, view.total_rows, full.functions.len(), &opts, color))?
        }
    }
    Ok(match args.fail_on_regression {
        Some(pct) if gate(&full, pct) => ExitCode::from(EXIT_GATE),
        _ => ExitCode::SUCCESS,
    })
}

/// Reports the gate on stderr; true when it tripped.
fn gate(c: &Comparison, pct: f64) -> bool {
    let (b, cand) = (c.baseline.total_time, c.candidate.total_time);
    let change = match c.total_time_percent() {
        Some(p) => p,
        // A zero baseline: any increase is an unbounded regression.
        None if cand > b => f64::INFINITY,
        None if cand < b => f64::NEG_INFINITY,
        None => 0.0,
    };
    let tripped = change >= pct;
    super::note(&format!(
        "regression gate: total time {} → {} ({}) {} {}%{}",
        human_time(b),
        human_time(cand),
        signed_percent(change),
        if tripped { "≥" } else { "<" },
        pct,
        if tripped { "" } else { ": ok" }
    ));
    tripped
}

fn side_line(label: &str, s: &profdiff_workers::compare::SideSummary) -> String {
    format!(
        "{label:<9}  {}  {} functions, {} calls ({} primitive), {} total",
        s.name,
        grouped(s.functions as i128),
        grouped(s.total_calls.into()),
        grouped(s.primitive_calls.into()),
        human_time(s.total_time)
    )
}

fn arrow<T>(b: Option<T>, c: Option<T>, f: impl Fn(T) -> String) -> String {
    let show = |v: Option<T>| v.map_or_else(|| "—".to_owned(), &f);
    format!("{} → {}", show(b), show(c))
}

fn write_table(
    w: &mut dyn Write,
    doc: &Comparison,
    matched: usize,
    all: usize,
    opts: &ViewOptions,
    color: bool,
) -> io::Result<()> {
    writeln!(w, "{}", side_line("baseline", &doc.baseline))?;
    writeln!(w, "{}", side_line("candidate", &doc.candidate))?;
    let change = doc
        .total_time_percent()
        .map_or_else(|| "n/a (baseline total is 0)".to_owned(), signed_percent);
    let filtered = if matched < all {
        format!("; {matched} of {all} functions match the filters")
    } else {
        String::new()
    };
    writeln!(
        w,
        "total time {} → {} ({change}){filtered}{}\n",
        human_time(doc.baseline.total_time),
        human_time(doc.candidate.total_time),
        if opts.normalize {
            "; times are fractions of each side's total"
        } else {
            ""
        }
    )?;
    let time = |v: f64| {
        if opts.normalize {
            format!("{:.2}%", v * 100.0)
        } else {
            human_time(v)
        }
    };
    let dtime = |v: f64| {
        if opts.normalize {
            format!("{:+.2}pp", v * 100.0)
        } else {
            signed_time(v)
        }
    };
    let mut table = Table::new();
    table.load_preset(presets::UTF8_HORIZONTAL_ONLY);
    // A rule under the header and around the table, none between rows.
    for part in [
        TableComponent::HorizontalLines,
        TableComponent::MiddleIntersections,
        TableComponent::LeftBorderIntersections,
        TableComponent::RightBorderIntersections,
    ] {
        table.remove_style(part);
    }
    if io::stdout().is_terminal() {
        // Wrap to the terminal only when its width is known and usable; a pty that
        // reports no width (e.g. `script`) would otherwise squeeze columns to one char.
        if table.width().is_some_and(|w| w >= 80) {
            table.set_content_arrangement(ContentArrangement::Dynamic);
        }
    } else {
        table.force_no_tty();
    }
    if color {
        table.enforce_styling();
    }
    table.set_header(vec![
        "Δ tottime",
        "Δ %",
        "tottime",
        "cumtime",
        "calls",
        "status",
        "function",
    ]);
    for r in &doc.functions {
        let mut delta = Cell::new(dtime(r.delta.tt));
        if color {
            // Red for a slower function, green for a faster one; unchanged stays plain.
            if r.delta.tt > 0.0 {
                delta = delta.fg(Color::Red);
            } else if r.delta.tt < 0.0 {
                delta = delta.fg(Color::Green);
            }
        }
        let pct = match (r.status, r.percent_tt()) {
            (Status::Added, _) => "new".to_owned(),
            (Status::Removed, _) => "gone".to_owned(),
            (_, Some(p)) => signed_percent(p),
            (_, None) => "—".to_owned(),
        };
        let calls = |n: Numbers| {
            if n.nc == n.cc {
                grouped(n.nc.into())
            } else {
                format!("{}/{}", grouped(n.nc.into()), grouped(n.cc.into()))
            }
        };
        table.add_row(vec![
            delta.set_alignment(CellAlignment::Right),
            Cell::new(pct).set_alignment(CellAlignment::Right),
            Cell::new(arrow(
                r.baseline.map(|n| n.tt),
                r.candidate.map(|n| n.tt),
                time,
            ))
            .set_alignment(CellAlignment::Right),
            Cell::new(arrow(
                r.baseline.map(|n| n.ct),
                r.candidate.map(|n| n.ct),
                time,
            ))
            .set_alignment(CellAlignment::Right),
            Cell::new(arrow(r.baseline, r.candidate, calls)).set_alignment(CellAlignment::Right),
            Cell::new(r.status.as_str()),
            Cell::new(label(r)),
        ]);
    }
    if doc.functions.is_empty() {
        writeln!(w, "(no functions match)")?;
    } else {
        writeln!(w, "{table}")?;
    }
    let shown = doc.functions.len();
    if matched > shown {
        writeln!(w, "({} more; use --limit)", matched - shown)?;
    }
    Ok(())
}

/// pstats' `func_std_string`: cProfile built-ins print as `{built-in method ...}`.
pub fn label(r: &FunctionDiff) -> String {
    std_label(&r.file, r.line, &r.name)
}

/// `file:line(name)`, or the bare built-in name as pstats prints it.
pub fn std_label(file: &str, line: i64, name: &str) -> String {
    if file == "~" && line == 0 {
        if let Some(inner) = name.strip_prefix('<').and_then(|n| n.strip_suffix('>')) {
            return format!("{{{inner}}}");
        }
        return name.to_owned();
    }
    format!("{file}:{line}({name})")
}
