//! The `jobctl` binary: parse, set up logging, run, and turn the result
//! into an exit status. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use jobctl::cli::{Cli, Command};
use jobctl::exit;

fn main() -> ExitCode {
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
