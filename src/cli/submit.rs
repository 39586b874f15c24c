//! `profdiff submit --server URL --baseline A [--baseline …] CANDIDATES…`: uploads one
//! batch, waits for the server's summary, prints it and applies the CI gate.
//!
//! Exit status: 0 done, 1 the gate tripped, 2 bad input, usage, or a server/network error
//! (one line on stderr saying which).

use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use profdiff_workers::compare::BatchSummary;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::Client;
use serde_json::Value;

use super::compare::parse_finite;
use super::groups::{render, Gate, GroupFormat};
use super::{display_name, finish, io_text, note, write_out, Failure, EXIT_GATE};

/// Arguments of `profdiff submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The profdiff service, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", env = "PROFDIFF_SERVER")]
    pub server: String,
    /// A baseline dump; repeat for a group of baseline runs.
    #[arg(long, value_name = "DUMP", required = true)]
    pub baseline: Vec<PathBuf>,
    /// Candidate dumps (several candidates, or repeated runs of one).
    #[arg(required = true, value_name = "CANDIDATES")]
    pub candidates: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GroupFormat::Table)]
    pub format: GroupFormat,
    /// Functions to list (default 30; 0 = all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Exit 1 when the candidates' median total time is PCT percent or more above the
    /// baseline's.
    #[arg(long, value_name = "PCT", value_parser = parse_finite, allow_hyphen_values = true)]
    pub fail_on_regression: Option<f64>,
    /// Significance level: the gate trips only on a significant increase (Mann-Whitney U).
    #[arg(long, value_name = "ALPHA", value_parser = parse_finite)]
    pub significance: Option<f64>,
    /// Give up waiting for the server after SECS.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
}

/// Runs `profdiff submit`.
pub fn run(args: SubmitArgs) -> ExitCode {
    finish(execute(args))
}

fn server_error(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::bad_input(format!("{what}: {e}"))
}

/// The server's `{"error":{"message"}}`, or the status line.
fn error_text(status: reqwest::StatusCode, body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .map(|m| format!("{m} (HTTP {})", status.as_u16()))
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// Counts uploaded bytes into the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn bar(len: u64, template: &str) -> ProgressBar {
    // Only on a terminal: a CI log gets no bar at all.
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let b = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b
}

fn execute(args: SubmitArgs) -> Result<ExitCode, Failure> {
    let gate = Gate::new(args.fail_on_regression, args.significance)?;
    gate.check_sizes(args.baseline.len(), args.candidates.len())?;
    let base = args.server.trim_end_matches('/').to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(Failure::bad_input(format!(
            "--server {base:?}: expected an http:// or https:// URL"
        )));
    }
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for (role, path) in args
        .baseline
        .iter()
        .map(|p| ("baseline", p))
        .chain(args.candidates.iter().map(|p| ("candidate", p)))
    {
        let shown = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| Failure::bad_input(format!("{shown}: cannot read: {}", io_text(&e))))?;
        if !meta.is_file() {
            return Err(Failure::bad_input(format!("{shown}: not a file")));
        }
        total += meta.len();
        files.push((role, path.clone(), meta.len()));
    }
    let client = Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .build()
        .map_err(|e| server_error("cannot start the HTTP client", e))?;

    let upload_bar = bar(total, "uploading {bar:30} {bytes}/{total_bytes}");
    let mut form = Form::new();
    for (role, path, len) in &files {
        let f = std::fs::File::open(path).map_err(|e| {
            Failure::bad_input(format!("{}: cannot read: {}", path.display(), io_text(&e)))
        })?;
        let reader = Counting {
            inner: f,
            bar: upload_bar.clone(),
        };
        form = form.part(
            role.to_string(),
            Part::reader_with_length(reader, *len).file_name(display_name(path)),
        );
    }
    let res = client
        .post(format!("{base}/api/batches"))
        .multipart(form)
        .send()
        .map_err(|e| server_error(&format!("cannot reach {base}"), e))?;
    upload_bar.finish_and_clear();
    let status = res.status();
    let body: Value = res.json().unwrap_or(Value::Null);
    if status != reqwest::StatusCode::ACCEPTED {
        return Err(Failure::bad_input(format!(
            "the server refused the batch: {}",
            error_text(status, &body)
        )));
    }
    let bid = body["batch_id"]
        .as_str()
        .ok_or_else(|| Failure::bad_input("the server's answer has no batch_id"))?
        .to_owned();

    let wait_bar = bar(files.len() as u64, "processing {bar:30} {pos}/{len} jobs");
    let deadline = Instant::now() + Duration::from_secs(args.timeout.max(1));
    let doc = loop {
        let res = client
            .get(format!("{base}/api/batches/{bid}?limit=0"))
            .send()
            .map_err(|e| server_error(&format!("cannot reach {base}"), e))?;
        let status = res.status();
        let doc: Value = res.json().unwrap_or(Value::Null);
        // Parse and compare jobs (n of N) where the server reports both phases.
        let (done, total) = match &doc["progress"]["jobs"] {
            Value::Object(j) => (j.get("done"), j.get("total")),
            _ => (doc["progress"].get("done"), doc["progress"].get("total")),
        };
        if let Some(n) = total.and_then(Value::as_u64) {
            wait_bar.set_length(n);
        }
        wait_bar.set_position(done.and_then(Value::as_u64).unwrap_or(0));
        match status.as_u16() {
            200 => break doc,
            202 => {}
            _ => {
                wait_bar.finish_and_clear();
                let mut msg = error_text(status, &doc);
                if let Some(m) = doc["error"].as_str() {
                    msg = m.to_owned();
                }
                return Err(Failure::bad_input(format!(
                    "batch {bid} failed: {msg}{}",
                    failures_text(&doc)
                )));
            }
        }
        if Instant::now() > deadline {
            wait_bar.finish_and_clear();
            return Err(Failure::bad_input(format!(
                "batch {bid} not done after {} s (--timeout)",
                args.timeout
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    wait_bar.finish_and_clear();
    let summary: BatchSummary = serde_json::from_value(doc["summary"].clone())
        .map_err(|e| server_error("the server's summary is not readable", e))?;
    let limit = match (args.limit, args.format) {
        (Some(0), _) => None,
        (Some(n), _) => Some(n),
        (None, GroupFormat::Json) => None,
        (None, _) => Some(30),
    };
    match args.format {
        GroupFormat::Json => {
            let mut s = summary.clone();
            if let Some(n) = limit {
                s.groups.functions.truncate(n);
            }
            write_out(|w| {
                serde_json::to_writer(&mut *w, &s).map_err(io::Error::from)?;
                writeln!(w)
            })?
        }
        f => write_out(|w| render(w, &summary.groups, f, limit, &summary.candidates))?,
    }
    let failures = failures_text(&doc);
    if !failures.is_empty() {
        return Err(Failure::bad_input(format!(
            "some dumps could not be parsed{failures}"
        )));
    }
    Ok(if gate.tripped(&summary.groups.total_time) {
        ExitCode::from(EXIT_GATE)
    } else {
        if summary.groups.total_time.verdict != profdiff_workers::compare::Verdict::Noise {
            note(&format!(
                "total time: {}",
                summary.groups.total_time.verdict.as_str()
            ));
        }
        ExitCode::SUCCESS
    })
}

fn failures_text(doc: &Value) -> String {
    doc["failures"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|f| {
                    format!(
                        "; {}: {}",
                        f["name"].as_str().unwrap_or("?"),
                        f["error"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
