//! Offline subcommands: `compare`, `inspect`, `merge`, and what they share: loading a
//! dump with a one-line error, exit codes, output writing and human units.

pub mod compare;
pub mod inspect;
pub mod merge;

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use profdiff_workers::profile::Limits;
use profdiff_workers::Profile;

/// Exit status: the regression gate tripped.
pub const EXIT_GATE: u8 = 1;
/// Exit status: bad input or usage.
pub const EXIT_BAD_INPUT: u8 = 2;

/// A failure that ends the command: printed as `profdiff: MESSAGE` on stderr.
#[derive(Debug)]
pub struct Failure {
    /// One line, naming the file where there is one.
    pub message: String,
    /// Process exit status.
    pub code: u8,
}

impl Failure {
    /// A bad-input or usage failure (exit 2).
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: EXIT_BAD_INPUT,
        }
    }
}

/// Prints a failure and turns it into an exit code; `Ok` codes pass through.
pub fn finish(result: Result<ExitCode, Failure>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(f) => {
            // Messages from the decoders are single lines; keep it so whatever they say.
            let line = f.message.replace(['\n', '\r'], " ");
            // Not eprintln!: it panics when stderr is a closed pipe.
            let _ = writeln!(io::stderr(), "profdiff: {line}");
            ExitCode::from(f.code)
        }
    }
}

/// `io::Error` text without Rust's " (os error N)" suffix, as the contract's messages read.
pub fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The display name of a dump: its file name without folders.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Reads and decodes a dump; failures name the path as the user gave it.
pub fn load(path: &Path) -> Result<Profile, Failure> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::bad_input(format!("{shown}: cannot read: {}", io_text(&e))))?;
    if meta.is_dir() {
        return Err(Failure::bad_input(format!(
            "{shown}: cannot read: is a directory"
        )));
    }
    let limit = Limits::for_input(0).max_input_bytes;
    // Checked before reading, so a huge file is refused without allocating for it.
    if meta.len() > limit as u64 {
        return Err(Failure::bad_input(format!(
            "{shown}: too large: {} bytes (limit {limit})",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::bad_input(format!("{shown}: cannot read: {}", io_text(&e))))?;
    profdiff_workers::decode(&bytes, &display_name(path))
        .map_err(|e| Failure::bad_input(format!("{shown}: {e}")))
}

/// Writes a line to stderr, ignoring a closed stderr (eprintln! would panic).
pub fn note(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// Writes command output; a closed pipe (`| head`) ends quietly, other errors fail.
pub fn write_out(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Failure> {
    let stdout = io::stdout();
    // Large documents (tens of MB) are written in 64 KiB chunks.
    let mut w = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match f(&mut w).and_then(|()| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::bad_input(format!(
            "cannot write output: {}",
            io_text(&e)
        ))),
    }
}

/// When to colour table output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour now.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                // https://no-color.org: any non-empty value disables colour.
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                !no_color && io::stdout().is_terminal()
            }
        }
    }
}

/// Seconds in a readable unit: `812.3µs`, `12.40ms`, `1.234s`.
pub fn human_time(secs: f64) -> String {
    let a = secs.abs();
    if secs == 0.0 {
        "0".to_owned()
    } else if !secs.is_finite() {
        format!("{secs}")
    } else if a >= 1.0 {
        format!("{secs:.3}s")
    } else if a >= 1e-3 {
        format!("{:.2}ms", secs * 1e3)
    } else {
        format!("{:.1}µs", secs * 1e6)
    }
}

/// Like [`human_time`] with an explicit `+` for increases.
pub fn signed_time(secs: f64) -> String {
    if secs > 0.0 {
        format!("+{}", human_time(secs))
    } else {
        human_time(secs)
    }
}

/// A percentage with sign and one decimal: `+17.3%`.
pub fn signed_percent(p: f64) -> String {
    if p.is_infinite() {
        if p > 0.0 { "+∞%" } else { "-∞%" }.to_owned()
    } else if p > 0.0 {
        format!("+{p:.1}%")
    } else {
        format!("{p:.1}%")
    }
}

/// An integer with thin grouping for readability: `1,234,567`.
pub fn grouped(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human_time(0.0), "0");
        assert_eq!(human_time(1.2345), "1.234s");
        assert_eq!(human_time(0.0124), "12.40ms");
        assert_eq!(human_time(0.0000123), "12.3µs");
        assert_eq!(signed_time(0.5), "+500.00ms");
        assert_eq!(signed_time(-0.5), "-500.00ms");
        assert_eq!(signed_percent(17.26), "+17.3%");
        assert_eq!(grouped(-1234567), "-1,234,567");
        assert_eq!(grouped(12), "12");
        assert_eq!(
            io_text(&io::Error::from_raw_os_error(2)),
            "No such file or directory"
        );
    }
}
