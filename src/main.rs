//! `profdiff` binary entry point: parses the command line and hands off.
//! `anyhow` lives only here and in the service start-up; the library crates use `thiserror`.

#[cfg(target_os = "linux")]
mod alloc;
mod cli;
mod config;
mod service;
mod telemetry;
mod web;

/// jemalloc for the service, the platform allocator for one-shot commands (see alloc.rs).
#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: alloc::ByCommand = alloc::ByCommand;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Which allocator this process runs on (`jemalloc` or `system`).
pub(crate) fn allocator_name() -> &'static str {
    #[cfg(target_os = "linux")]
    return alloc::name();
    #[cfg(not(target_os = "linux"))]
    return "system";
}

/// Decode and compare Python profile dumps (cProfile, profile, yappi; marshal or pickle).
#[derive(Debug, Parser)]
#[command(name = "profdiff", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare a baseline dump with a candidate dump (offline; no server needed).
    Compare(cli::compare::CompareArgs),
    /// Describe one dump, like `python -m pstats`.
    Inspect(cli::inspect::InspectArgs),
    /// Merge several dumps into one marshal dump that pstats loads (like `Stats.add`).
    Merge(cli::merge::MergeArgs),
    /// Upload a batch (baseline runs and candidates) to a server, wait, print the summary.
    Submit(cli::submit::SubmitArgs),
    /// Run the web tier, the workers and the janitor in one process.
    Serve(config::Config),
    /// Run the web tier only (workers run elsewhere against the same Redis).
    Web(config::Config),
    /// Run job workers (and the janitor) only.
    Worker(config::Config),
    /// Bring the Redis keyspace layout up to date and exit.
    Migrate(config::Config),
}

fn run_service(cfg: config::Config, role: Option<service::Role>) -> ExitCode {
    telemetry::init();
    // SyncArbiter actors need an actix System around the async runtime.
    let system = actix_web::rt::System::new();
    let result = system.block_on(async move {
        match role {
            Some(role) => service::run(cfg, role).await,
            None => service::migrate_cmd(cfg).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("profdiff: {e:#}");
            if e.downcast_ref::<service::StartError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn main() -> ExitCode {
    // A bug must still end in one line and a contract exit code, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = format!("profdiff: internal error (a bug; please report it): {what}{at}");
        let _ = writeln!(std::io::stderr(), "{}", line.replace('\n', " "));
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => ExitCode::from(2),
    }
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap uses 0 for --help/--version and 2 for usage errors, as the contract wants.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match cli.command {
        Command::Compare(args) => cli::compare::run(args),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Merge(args) => cli::merge::run(args),
        Command::Submit(args) => cli::submit::run(args),
        Command::Serve(cfg) => run_service(cfg, Some(service::Role::Serve)),
        Command::Web(cfg) => run_service(cfg, Some(service::Role::Web)),
        Command::Worker(cfg) => run_service(cfg, Some(service::Role::Worker)),
        Command::Migrate(cfg) => run_service(cfg, None),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
