//! `profdiff` binary entry point: parses the command line and hands off.
//! `anyhow` lives only here and in the service start-up; the library crates use `thiserror`.

mod cli;
mod config;
mod service;
mod telemetry;
mod web;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

/// Caps glibc's malloc arenas at two unless `MALLOC_ARENA_MAX` says otherwise.
///
/// glibc gives threads that contend for malloc arenas of their own (up to 8 per core);
/// the service's many short-lived blocking threads then scatter large upload and blob
/// buffers over them, and the server's RSS crept up by ~18 % over 10,000 uploads before
/// levelling off. Two arenas halved RSS and kept it flat, at no CPU cost we could
/// measure (docs/service.md, "Measured").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable; called before the runtime starts threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn run_service(cfg: config::Config, role: Option<service::Role>) -> ExitCode {
    limit_malloc_arenas();
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
