//! `profdiff merge` (stub until the CLI lands).

use std::process::ExitCode;

/// Arguments of `profdiff merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {}

/// Runs `profdiff merge`.
pub fn run(_args: MergeArgs) -> ExitCode {
    eprintln!("profdiff merge: not implemented yet");
    ExitCode::from(2)
}
