//! `logkeep extract` on hostile archives: each fixture in fixtures/malicious/
//! (made by its make.py) is refused and nothing is written anywhere.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Tree, logkeep, run, run_ok, stderr};

const MALICIOUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/malicious");

/// Extract `fixture` into a fresh folder; it must be refused with `why`, and
/// leave nothing: no target, no temporary folder, nothing outside.
fn refused(fixture: &str, why: &str) {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("out");
    let out = run(logkeep()
        .arg("extract")
        .arg(Path::new(MALICIOUS).join(fixture))
        .arg("--to")
        .arg(&target));
    assert_eq!(out.status.code(), Some(1), "{fixture}");
    assert!(stderr(&out).contains(why), "{fixture}: {}", stderr(&out));
    assert_eq!(
        fs::read_dir(work.path()).unwrap().count(),
        0,
        "{fixture}: nothing left behind"
    );
    assert!(
        !Path::new("/tmp/logkeep-pwned.log").exists(),
        "{fixture}: nothing written outside"
    );
}

#[test]
fn absolute_paths_are_refused() {
    refused("absolute-path.tar.gz", "is an absolute path");
}

#[test]
fn dot_dot_paths_are_refused() {
    refused("dot-dot.tar.gz", "goes up with `..`");
}

#[test]
fn windows_drive_and_unc_paths_are_refused() {
    refused("windows-drive.zip", "starts with a drive letter");
    refused("unc-path.zip", "has a backslash");
    refused("backslash-dot-dot.zip", "has a backslash");
}

#[test]
fn a_symlink_then_a_write_through_it_is_refused() {
    refused("symlink-then-write.tar.gz", "is a symbolic link");
}

#[test]
fn links_pointing_outside_are_refused() {
    refused("symlink-outside.tar.gz", "is a symbolic link");
    refused("hardlink-outside.tar.gz", "is a hard link");
}

#[test]
fn device_entries_are_refused() {
    refused("device.tar.gz", "is a device or FIFO");
}

#[test]
fn duplicate_names_are_refused() {
    refused("duplicate-names.tar.gz", "appears twice");
}

#[test]
fn a_bomb_is_refused_unless_the_caps_are_raised() {
    refused("bomb.tar.gz", "--max-ratio");
    let work = tempfile::tempdir().unwrap();
    let out = run(logkeep()
        .arg("extract")
        .arg(Path::new(MALICIOUS).join("bomb.tar.gz"))
        .arg("--to")
        .arg(work.path().join("a"))
        .args(["--max-total", "32M", "--max-ratio", "100000"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--max-total"), "{}", stderr(&out));
    run_ok(
        logkeep()
            .arg("extract")
            .arg(Path::new(MALICIOUS).join("bomb.tar.gz"))
            .arg("--to")
            .arg(work.path().join("b"))
            .args(["--max-ratio", "100000"]),
    );
    assert_eq!(
        fs::metadata(work.path().join("b/inst/zeros.log"))
            .unwrap()
            .len(),
        64 << 20
    );
}

#[test]
fn setuid_bits_are_stripped() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("out");
    run_ok(
        logkeep()
            .arg("extract")
            .arg(Path::new(MALICIOUS).join("setuid.tar.gz"))
            .arg("--to")
            .arg(&target),
    );
    let mode = fs::metadata(target.join("inst/run.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o7000,
        0,
        "no setuid, setgid or sticky bit: {mode:o}"
    );
}

#[test]
fn a_good_output_extracts_whole_or_in_part_and_never_into_an_existing_folder() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.zip");
    run_ok(
        logkeep()
            .args(["collect", "-q", "-c"])
            .arg(tree.config())
            .arg("-o")
            .arg(&archive),
    );
    run_ok(
        logkeep()
            .arg("extract")
            .arg(&archive)
            .arg("--to")
            .arg(work.path().join("all")),
    );
    assert_eq!(common::read_tree(&work.path().join("all")).len(), 43);
    run_ok(
        logkeep()
            .arg("extract")
            .arg(&archive)
            .arg("--to")
            .arg(work.path().join("some"))
            .args(["--only", "bats-lima-controller/lima-test-stopped/*"]),
    );
    // The 16 files asked for, and the manifest: the index of what came out.
    let some = common::read_tree(&work.path().join("some"));
    assert_eq!(some.len(), 17);
    assert!(some.contains_key("manifest.json"));
    let again = run(logkeep()
        .arg("extract")
        .arg(&archive)
        .arg("--to")
        .arg(work.path().join("all")));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"));
}
