//! `profdiff compare` (stub until the CLI lands).

use std::process::ExitCode;

/// Arguments of `profdiff compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {}

/// Runs `profdiff compare`.
pub fn run(_args: CompareArgs) -> ExitCode {
    eprintln!("profdiff compare: not implemented yet");
    ExitCode::from(2)
}
