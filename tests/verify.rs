//! `logkeep verify`: every format, GitHub's zip around it, and tampering found.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Tree, logkeep, run, run_ok, stdout};

fn collect(tree: &Tree, out: &Path, extra: &[&str]) {
    run_ok(
        logkeep()
            .args(["collect", "-q", "-c"])
            .arg(tree.config())
            .arg("-o")
            .arg(out)
            .args(extra),
    );
}

#[test]
fn every_format_and_github_wrapped_zips_verify_clean() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for name in ["out.tar.gz", "out.tar.zst", "out.zip"] {
        collect(&tree, &w.join(name), &[]);
    }
    collect(&tree, &w.join("folder"), &["--format", "dir"]);
    // What actions/download-artifact gives: a zip around one archive, or around the folder's files.
    assert!(
        Command::new("zip")
            .arg("-q")
            .arg("gh-archive.zip")
            .arg("out.tar.zst")
            .current_dir(w)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("zip")
            .args(["-q", "-r", "../gh-folder.zip", "."])
            .current_dir(w.join("folder"))
            .status()
            .unwrap()
            .success()
    );
    for name in [
        "out.tar.gz",
        "out.tar.zst",
        "out.zip",
        "folder",
        "gh-archive.zip",
        "gh-folder.zip",
    ] {
        let out = run_ok(logkeep().arg("verify").arg(w.join(name)));
        assert!(
            stdout(&out).contains("42 of 42 files match the manifest"),
            "{name}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn changed_missing_and_unlisted_files_are_named_and_exit_3() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("folder");
    collect(&tree, &folder, &["--format", "dir"]);
    fs::write(
        folder.join("bats-lima-controller/rdd.stdout.log"),
        "tampered\n",
    )
    .unwrap();
    fs::remove_file(folder.join("_diag/typeperf.tsv")).unwrap();
    fs::write(folder.join("smuggled.log"), "x\n").unwrap();
    let out = run(logkeep().args(["verify", "--json"]).arg(&folder));
    assert_eq!(out.status.code(), Some(3));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        verdict[0]["changed"][0],
        "bats-lima-controller/rdd.stdout.log"
    );
    assert_eq!(verdict[0]["missing"][0], "_diag/typeperf.tsv");
    assert_eq!(verdict[0]["unlisted"][0], "smuggled.log");
    assert_eq!(verdict[0]["ok"], 40);
}

#[test]
fn something_that_is_not_an_output_is_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let junk = work.path().join("notes.txt");
    fs::write(&junk, "hello").unwrap();
    let out = run(logkeep().arg("verify").arg(&junk));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("notes.txt")
            && common::stderr(&out).contains("not a logkeep output")
    );
}

#[test]
fn ls_filters_from_the_manifest_and_cat_prints_one_file() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.zst");
    collect(&tree, &archive, &[]);
    let out = run_ok(
        logkeep()
            .args(["ls", "--json", "--kind", "serial", "--vm", "test-stopped"])
            .arg(&archive),
    );
    let files: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 8, "{paths:?}");
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with("bats-lima-controller/lima-test-stopped/serial"))
    );
    let table = stdout(&run_ok(logkeep().arg("ls").arg(&archive)));
    assert!(table.lines().next().unwrap().starts_with("KIND"));
    assert_eq!(table.lines().count(), 43, "a header and 42 files");

    let path = "bats-lima-controller/lima-test-stopped/ha.stderr.log";
    let printed = run_ok(logkeep().arg("cat").arg(&archive).arg(path));
    assert_eq!(
        printed.stdout,
        fs::read(
            tree.path(Tree::LIMA_HOME)
                .join("test-stopped/ha.stderr.log")
        )
        .unwrap()
    );
    let missing = run(logkeep().arg("cat").arg(&archive).arg("no/such.log"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        common::stderr(&missing).contains("logkeep ls"),
        "{}",
        common::stderr(&missing)
    );
}
