//! `logkeep rotate` against rdd's `logfile.Rotate` rule.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{SmallDisk, logkeep, run, run_ok, stderr, stdout};

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn renames_the_active_log_to_the_next_number_and_leaves_others_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("serial.log"), "boot 3").unwrap();
    fs::write(d.join("serial.1.log"), "boot 1").unwrap();
    fs::write(d.join("serial.2.log"), "boot 2").unwrap();
    fs::write(d.join("serialv.log"), "other log").unwrap();
    fs::write(d.join("serial.x.log"), "not a backup").unwrap();
    fs::write(d.join("lima.yaml"), "unrelated").unwrap();

    let out = run_ok(logkeep().arg("rotate").arg(d).arg("serial"));
    assert!(stdout(&out).contains("serial.log ->"), "{}", stdout(&out));
    assert_eq!(
        names(d),
        set(&[
            "serial.1.log",
            "serial.2.log",
            "serial.3.log",
            "serialv.log",
            "serial.x.log",
            "lima.yaml"
        ])
    );
    assert_eq!(
        fs::read_to_string(d.join("serial.3.log")).unwrap(),
        "boot 3"
    );
    assert_eq!(
        fs::read_to_string(d.join("serialv.log")).unwrap(),
        "other log"
    );
}

#[test]
fn keeps_the_five_newest_backups_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for n in 1..=5 {
        fs::write(d.join(format!("ha.stderr.{n}.log")), n.to_string()).unwrap();
    }
    fs::write(d.join("ha.stderr.log"), "6").unwrap();
    run_ok(logkeep().arg("rotate").arg(d).arg("ha.stderr"));
    // New number 6: remove n <= 6 - 5 = 1.
    assert_eq!(
        names(d),
        set(&[
            "ha.stderr.2.log",
            "ha.stderr.3.log",
            "ha.stderr.4.log",
            "ha.stderr.5.log",
            "ha.stderr.6.log"
        ])
    );
}

#[test]
fn a_gap_in_the_numbers_prunes_by_number_window_like_rdd() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for n in [1, 2, 7] {
        fs::write(d.join(format!("rdd.stderr.{n}.log")), n.to_string()).unwrap();
    }
    fs::write(d.join("rdd.stderr.log"), "8").unwrap();
    run_ok(
        logkeep()
            .args(["rotate", "--keep", "5"])
            .arg(d)
            .arg("rdd.stderr"),
    );
    // New number 8: remove n <= 3.
    assert_eq!(names(d), set(&["rdd.stderr.7.log", "rdd.stderr.8.log"]));
}

#[test]
fn keep_all_by_flag_and_by_rdd_keep_logs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for n in 1..=9 {
        fs::write(d.join(format!("serial.{n}.log")), "").unwrap();
    }
    fs::write(d.join("serial.log"), "").unwrap();
    run_ok(
        logkeep()
            .args(["rotate", "--keep-all"])
            .arg(d)
            .arg("serial"),
    );
    assert_eq!(names(d).len(), 10);

    fs::write(d.join("serial.log"), "").unwrap();
    run_ok(
        logkeep()
            .env("RDD_KEEP_LOGS", "0")
            .arg("rotate")
            .arg(d)
            .arg("serial"),
    );
    assert_eq!(
        names(d).len(),
        11,
        "a non-empty RDD_KEEP_LOGS keeps all, even \"0\", as rdd does"
    );
    // Given with --keep too, it still keeps all, and says --keep is not applied.
    fs::write(d.join("serial.log"), "").unwrap();
    let out = run_ok(
        logkeep()
            .env("RDD_KEEP_LOGS", "1")
            .args(["rotate", "--keep", "2"])
            .arg(d)
            .arg("serial"),
    );
    assert_eq!(names(d).len(), 12);
    assert!(
        stderr(&out).contains(
            "warning: RDD_KEEP_LOGS is set: every backup is kept, and --keep 2 is not applied"
        ),
        "{}",
        stderr(&out)
    );

    fs::write(d.join("serial.log"), "").unwrap();
    run_ok(
        logkeep()
            .env("RDD_KEEP_LOGS", "")
            .args(["rotate", "--keep", "2"])
            .arg(d)
            .arg("serial"),
    );
    assert_eq!(
        names(d),
        set(&["serial.12.log", "serial.13.log"]),
        "an empty RDD_KEEP_LOGS does not"
    );
}

#[test]
fn missing_folder_or_log_is_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-vm");
    let out = run_ok(
        logkeep()
            .arg("rotate")
            .arg(&missing)
            .args(["serial", "serialv"]),
    );
    assert!(stdout(&out).contains("serial.log: nothing to rotate"));
    assert!(!missing.exists(), "rotate must not create the folder");

    let out = run_ok(
        logkeep()
            .args(["rotate", "--json"])
            .arg(dir.path())
            .arg("serial"),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rotations"][0]["rotated_to"], serde_json::Value::Null);
}

#[test]
fn a_folder_or_fifo_named_like_a_log_is_not_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("serial.log")).unwrap();
    let fifo = run(Command::new("mkfifo").arg(d.join("serialv.log")));
    assert!(fifo.status.success());
    fs::write(d.join("serialp.log"), "boot").unwrap();
    let out = run(logkeep()
        .args(["rotate", "--strict"])
        .arg(d)
        .args(["serial", "serialv", "serialp"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("serial.log: not a regular file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        names(d),
        set(&["serial.log", "serialv.log", "serialp.1.log"]),
        "only the log was rotated"
    );
}

#[test]
fn several_names_and_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["serial", "serialp", "serialv"] {
        fs::write(d.join(format!("{name}.log")), name).unwrap();
    }
    let out = run_ok(logkeep().args(["rotate", "--json"]).arg(d).args([
        "serial",
        "serialp.log",
        "serialv",
    ]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rotations"].as_array().unwrap().len(), 3);
    assert_eq!(
        names(d),
        set(&["serial.1.log", "serialp.1.log", "serialv.1.log"])
    );
}

#[test]
fn a_name_with_a_slash_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(logkeep().arg("rotate").arg(dir.path()).arg("../serial"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("\"../serial\""), "{}", stderr(&out));
}

#[test]
fn keep_zero_is_a_usage_error() {
    let out = run(logkeep().args(["rotate", "--keep", "0", "/tmp", "serial"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_name_that_cannot_be_rotated_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("ha.log"), "ha").unwrap();
    fs::write(d.join("serial.log"), "this boot").unwrap();
    fs::write(
        d.join(format!("serial.{}.log", u64::MAX)),
        "the last number",
    )
    .unwrap();
    fs::write(d.join("serialv.log"), "this boot").unwrap();
    let out = run(logkeep()
        .arg("rotate")
        .arg(d)
        .args(["ha", "serial", "serialv", "--json"]));
    assert_eq!(out.status.code(), Some(1), "an error, after the others");
    assert!(
        stderr(&out).contains(&format!(
            "backup numbers are exhausted (its highest backup is serial.{}.log)",
            u64::MAX
        )),
        "{}",
        stderr(&out)
    );
    // The names before and after the failing one are rotated.
    assert_eq!(
        names(d),
        set(&[
            "ha.1.log",
            "serial.log",
            &format!("serial.{}.log", u64::MAX),
            "serialv.1.log"
        ])
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rotated: Vec<&str> = report["rotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(rotated, ["ha", "serialv"]);
    assert_eq!(report["errors"][0]["name"], "serial");
    assert!(report["errors"][0]["hint"].is_string(), "{report}");
}

/// A log folder on a read-only file system: exit 1, the log named, a hint
/// about that folder (not about an output, which rotate has none of), and
/// every log left as it was.
#[test]
fn a_read_only_log_folder_is_an_error_with_a_hint_about_it() {
    let mount = SmallDisk::new();
    let d = mount.path();
    fs::write(d.join("serial.log"), "boot 2").unwrap();
    fs::write(d.join("serial.1.log"), "boot 1").unwrap();
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(d)
        .status()
        .unwrap();
    assert!(remounted.success());
    let out = run(logkeep().arg("rotate").arg(d).arg("serial"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Read-only file system") && err.contains("serial.log"),
        "{err}"
    );
    assert!(err.contains("hint:") && !err.contains("output"), "{err}");
    assert_eq!(names(d), set(&["serial.log", "serial.1.log"]));
    assert_eq!(fs::read_to_string(d.join("serial.log")).unwrap(), "boot 2");
}
