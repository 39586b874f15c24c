//! `profdiff merge OUT IN...`: `pstats.Stats(IN1).add(IN2, ...).dump_stats(OUT)`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use profdiff_workers::encode::marshal;
use profdiff_workers::merge::merge;

use super::{display_name, finish, grouped, human_time, io_text, load, write_out, Failure};

/// Arguments of `profdiff merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Where to write the merged marshal dump (never one of the inputs).
    pub out: PathBuf,
    /// Dumps to merge, in `pstats.Stats(first).add(rest...)` order.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
}

/// Runs `profdiff merge`.
pub fn run(args: MergeArgs) -> ExitCode {
    finish(execute(args))
}

/// True when both paths name the same existing file (also through links or `..`).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn execute(args: MergeArgs) -> Result<ExitCode, Failure> {
    let out = &args.out;
    if let Some(input) = args.inputs.iter().find(|i| same_file(out, i)) {
        return Err(Failure::bad_input(format!(
            "{}: refusing to overwrite input file {}",
            out.display(),
            input.display()
        )));
    }
    let profiles = args
        .inputs
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<_> = profiles.iter().collect();
    let merged = merge(&refs, &display_name(out))
        .map_err(|e| Failure::bad_input(format!("{}: {e}", out.display())))?;
    drop(profiles);
    let bytes = marshal::write(&merged);
    write_atomically(out, &bytes).map_err(|e| {
        Failure::bad_input(format!("{}: cannot write: {}", out.display(), io_text(&e)))
    })?;
    let t = merged.totals;
    let summary = format!(
        "merged {} dumps into {}: {} functions, {} calls ({} primitive), {} total",
        args.inputs.len(),
        out.display(),
        grouped(merged.functions.len() as i128),
        grouped(t.total_calls.into()),
        grouped(t.primitive_calls.into()),
        human_time(t.total_time)
    );
    write_out(|w| writeln!(w, "{summary}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes next to the target and renames, so a failed write never leaves half a dump.
fn write_atomically(out: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.profdiff-{}.tmp",
        display_name(out),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
