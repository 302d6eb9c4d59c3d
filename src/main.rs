//! The `jobctl` binary: parse, set up logging, run, and turn the result
//! into an exit status. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use jobctl::cli::{Cli, Command};
use jobctl::exit;

fn main() -> ExitCode {
    let first = std::env::args_os().nth(1);
    if first.as_ref().is_some_and(|a| a == "__run-job") {
        return jobctl::worker::shim::run_from_argv(argv_without_subcommand());
    }
    // The worker's fork server: it starts supervisors without an exec each.
    if first.is_some_and(|a| a == "__zygote") {
        return jobctl::worker::zygote::serve();
    }
    let cli = Cli::parse();
    // The job supervisor stays minimal: no runtime, no logging.
    if let Command::RunJob(args) = cli.command {
        return jobctl::worker::shim::run(args);
    }
    if let Command::Redact(args) = cli.command {
        return jobctl::worker::redact::filter(&args);
    }
    jobctl::telemetry::init(cli.command.is_service(), cli.command.log_format());
    let runtime = match jobctl::runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(jobctl::run(cli)) {
        Ok(code) => code,
        // `jobctl logs ID | head` closing the pipe is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// argv with `__run-job` taken out: `jobctl __run-job --x …` → `jobctl --x …`.
fn argv_without_subcommand() -> impl Iterator<Item = std::ffi::OsString> {
    std::env::args_os()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, a)| a)
}

fn fail(e: &anyhow::Error) -> ExitCode {
    let label = console::style("error:").for_stderr().red().bold();
    eprintln!("jobctl: {label} {e:#}");
    ExitCode::from(exit::ERROR)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
