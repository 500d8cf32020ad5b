//! The command line as people meet it: help that teaches, completions and a
//! man page generated from the definition.

mod common;

use std::process::Command;

use common::{logkeep, run, run_ok, stderr, stdout};

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        "rotate",
        "preserve",
        "collect",
        "verify",
        "completions",
        "man",
    ] {
        let help = stdout(&run_ok(logkeep().args([command, "--help"])));
        assert!(
            help.contains("Example"),
            "{command} --help has an example:\n{help}"
        );
    }
    let top = stdout(&run_ok(logkeep().arg("--help")));
    assert!(top.contains("Exit codes:") && top.contains("130"), "{top}");
}

#[test]
fn bash_completions_are_valid_bash_and_know_the_commands() {
    let script = stdout(&run_ok(logkeep().args(["completions", "bash"])));
    for word in [
        "rotate",
        "preserve",
        "collect",
        "--max-file-size",
        "--unsafe-include-secret-files",
    ] {
        assert!(script.contains(word), "{word}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("logkeep.bash");
    std::fs::write(&file, script).unwrap();
    assert!(
        Command::new("bash")
            .arg("-n")
            .arg(&file)
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn the_man_page_lists_the_commands() {
    let page = stdout(&run_ok(logkeep().arg("man")));
    assert!(
        page.starts_with(".ie") || page.contains(".TH logkeep 1"),
        "{page}"
    );
    for word in ["rotate", "preserve", "collect"] {
        assert!(page.contains(word), "{word}");
    }
    // Each command's own page, as logkeep(1) refers to it, with its options.
    let collect = stdout(&run_ok(logkeep().args(["man", "collect"])));
    assert!(collect.contains(".TH logkeep-collect 1"), "{collect}");
    assert!(
        collect.contains(&format!(
            "\"logkeep-collect {}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "the page names the version, as logkeep(1) does: {collect}"
    );
    assert!(collect.contains("max\\-file\\-size"), "{collect}");
    let out = run(logkeep().args(["man", "colect"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("collect, verify"), "{}", stderr(&out));
}

#[test]
fn verbose_lists_each_file_and_skip_on_stderr() {
    let tree = common::Tree::new();
    let work = tempfile::tempdir().unwrap();
    let out = run_ok(
        logkeep()
            .args(["collect", "-v", "--format", "dir", "-c"])
            .arg(tree.config())
            .arg("-o")
            .arg(work.path().join("o")),
    );
    let err = common::stderr(&out);
    assert!(
        err.contains("-> bats-lima-controller/lima-test-stopped/serial.2.log"),
        "{err}"
    );
    assert!(err.contains("(lima-config)"), "{err}");
    let quiet = run_ok(
        logkeep()
            .args(["collect", "-q", "--format", "dir", "-c"])
            .arg(tree.config())
            .arg("-o")
            .arg(work.path().join("q")),
    );
    assert!(common::stderr(&quiet).is_empty());
}

/// `-v` lists what `collect` archives; `rotate` and `preserve` have nothing
/// of the kind to list, and used to offer it (doing nothing with it).
#[test]
fn only_collect_offers_verbose() {
    for command in ["rotate", "preserve"] {
        let help = common::stdout(&run_ok(logkeep().args([command, "--help"])));
        assert!(!help.contains("--verbose"), "{command}: {help}");
    }
    let help = common::stdout(&run_ok(logkeep().args(["collect", "--help"])));
    assert!(help.contains("-v, --verbose"), "{help}");
}
