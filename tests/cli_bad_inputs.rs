//! Hostile dumps through the real binary: exit 2 with one clear line naming the file,
//! never a panic, also under a tight address-space limit.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Files that pstats loads and whose numbers we accept (signed counts, negative times).
const ACCEPTED: &[&str] = &["shape_negative_counts.prof", "shape_negative_time.prof"];

fn bad_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    assert!(files.len() >= 60, "bad corpus incomplete: {}", files.len());
    files
}

fn inspect(prefix: &[&str], file: &Path) -> Output {
    let (program, pre) = match prefix.split_first() {
        Some((p, rest)) => (*p, rest),
        None => (env!("CARGO_BIN_EXE_profdiff"), &[][..]),
    };
    let mut cmd = Command::new(program);
    cmd.args(pre);
    if !prefix.is_empty() {
        cmd.arg(env!("CARGO_BIN_EXE_profdiff"));
    }
    cmd.args(["inspect", "--format", "json"])
        .arg(file)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// Checks the outcome of one bad file; returns a description of what is wrong.
fn judge(file: &Path, out: &Output) -> Option<String> {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(sig) = out.status.signal() {
        return Some(format!("{name}: killed by signal {sig}; stderr: {stderr}"));
    }
    for bad in [
        "panicked",
        "internal error",
        "memory allocation",
        "stack backtrace",
        "RUST_BACKTRACE",
    ] {
        if stderr.contains(bad) {
            return Some(format!("{name}: stderr mentions {bad:?}: {stderr}"));
        }
    }
    let code = out.status.code();
    if ACCEPTED.contains(&name.as_str()) {
        return (code != Some(0)).then(|| format!("{name}: exit {code:?}, want 0: {stderr}"));
    }
    if code != Some(2) {
        return Some(format!("{name}: exit {code:?}, want 2; stderr: {stderr}"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 {
        return Some(format!(
            "{name}: {} stderr lines, want 1: {stderr}",
            lines.len()
        ));
    }
    let line = lines[0];
    if !line.starts_with("profdiff: ") || !line.contains(&name) {
        return Some(format!("{name}: stderr does not name the file: {line}"));
    }
    // Something after "FILE: " explains the problem.
    let why = line.split_once(&format!("{name}: ")).map(|(_, w)| w.trim());
    if why.is_none_or(|w| w.len() < 8) {
        return Some(format!("{name}: no reason given: {line}"));
    }
    if !out.stdout.is_empty() {
        return Some(format!("{name}: printed to stdout on failure"));
    }
    None
}

#[test]
fn every_bad_file_is_refused_cleanly() {
    let failures: Vec<String> = bad_files()
        .iter()
        .filter_map(|f| judge(f, &inspect(&[], f)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_file_is_refused_within_a_memory_limit() {
    let prlimit = Path::new("/usr/bin/prlimit");
    if !prlimit.exists() {
        // util-linux is part of the base system here and in CI; say so loudly if not.
        eprintln!("NOTICE: /usr/bin/prlimit missing; skipping the memory-limit run");
        return;
    }
    // RLIMIT_AS (address space), not RLIMIT_DATA: measured on this machine the debug
    // binary starts and decodes a tiny valid dump under 16 MiB of address space, so
    // 80 MiB + 8 × the file size leaves room for the program and bounds the decoder.
    // (It was 64 MiB until jemalloc was linked in for the service: its load-time
    // constructor reserves arenas that count toward RLIMIT_AS even in the CLI, which
    // allocates with the platform allocator; see src/alloc.rs.)
    let failures: Vec<String> = bad_files()
        .iter()
        .filter_map(|f| {
            let size = std::fs::metadata(f).unwrap().len();
            let limit = format!("--as={}", (80u64 << 20) + 8 * size);
            judge(f, &inspect(&[prlimit.to_str().unwrap(), &limit], f))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_valid_dump_decodes_under_the_same_kind_of_limit() {
    // Shows the limit above is not so tight that everything fails for its own reasons.
    let prlimit = Path::new("/usr/bin/prlimit");
    if !prlimit.exists() {
        eprintln!("NOTICE: /usr/bin/prlimit missing; skipping");
        return;
    }
    let f = fixtures().join("edge/single_entry.prof");
    let size = std::fs::metadata(&f).unwrap().len();
    let limit = format!("--as={}", (80u64 << 20) + 8 * size);
    let out = inspect(&[prlimit.to_str().unwrap(), &limit], &f);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
