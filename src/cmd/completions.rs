//! `jobctl completions SHELL`: print a completion script.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Flags of `jobctl completions`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

/// The completion script for `shell`, as bytes.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "jobctl", &mut out);
    out
}

/// Prints the script on stdout.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    std::io::stdout().write_all(&script(args.shell))?;
    Ok(ExitCode::SUCCESS)
}
