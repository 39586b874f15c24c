//! `profdiff inspect` (stub until the CLI lands).

use std::process::ExitCode;

/// Arguments of `profdiff inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {}

/// Runs `profdiff inspect`.
pub fn run(_args: InspectArgs) -> ExitCode {
    eprintln!("profdiff inspect: not implemented yet");
    ExitCode::from(2)
}
