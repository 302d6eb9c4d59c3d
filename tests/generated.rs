//! The committed man pages (`man/`) and shell completions (`completions/`)
//! must match what the clap definitions generate now. After changing a flag,
//! regenerate them with `JOBCTL_REGENERATE=1 cargo test --test generated`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use jobctl::cli::Cli;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn regenerate() -> bool {
    std::env::var("JOBCTL_REGENERATE").is_ok_and(|v| v == "1")
}

/// Every file in `dir`, by name.
fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap())
                .map(|e| {
                    (
                        e.file_name().into_string().unwrap(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares `generated` with `dir`, or rewrites `dir` when regenerating.
fn check(dir: &Path, generated: BTreeMap<String, Vec<u8>>) {
    if regenerate() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in &generated {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    let committed = read_dir(dir);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "{} is out of date: run JOBCTL_REGENERATE=1 cargo test --test generated",
        dir.display()
    );
    for (name, bytes) in &generated {
        assert!(
            committed[name] == *bytes,
            "{}/{name} differs from the clap definitions: run JOBCTL_REGENERATE=1 cargo test --test generated",
            dir.display()
        );
    }
}

#[test]
fn man_pages_match_the_cli_definitions() {
    let out = tempfile::tempdir().unwrap();
    clap_mangen::generate_to(Cli::command(), out.path()).unwrap();
    let generated = read_dir(out.path());
    assert!(generated.contains_key("jobctl.1"));
    assert!(generated.contains_key("jobctl-logs.1"));
    assert!(
        String::from_utf8_lossy(&generated["jobctl-logs.1"]).contains("Exit status"),
        "the logs page documents its exit statuses"
    );
    check(&root().join("man"), generated);
}

#[test]
fn completions_match_the_cli_definitions() {
    let generated = [
        (Shell::Bash, "jobctl.bash"),
        (Shell::Zsh, "_jobctl"),
        (Shell::Fish, "jobctl.fish"),
        (Shell::Elvish, "jobctl.elv"),
        (Shell::PowerShell, "_jobctl.ps1"),
    ]
    .into_iter()
    .map(|(shell, file)| (file.to_string(), jobctl::cmd::completions::script(shell)))
    .collect();
    check(&root().join("completions"), generated);
}
