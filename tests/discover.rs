//! `collect --rdd`: instance folders asked from rdd (a fake that answers as
//! DOMAIN.md says the real one does).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{FIXTURE, copy_tree, logkeep, manifest_json, read_tree, run, stderr};

const FAKE_RDD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-rdd/rdd");

/// A home where rdd's Linux folders of instances `a` and `b` hold fixture logs.
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for (instance, log_dir, lima_home) in [
        (
            "a",
            "logs/rancher-desktop-bats-lima-controller",
            "rdbats-lima-controller/lima",
        ),
        (
            "b",
            "logs/rancher-desktop-bats-app-controller",
            "rdbats-app-controller/lima",
        ),
    ] {
        copy_tree(
            &Path::new(FIXTURE).join(log_dir),
            &home
                .path()
                .join(format!(".local/state/rancher-desktop-{instance}")),
        );
        copy_tree(
            &Path::new(FIXTURE).join(lima_home),
            &home.path().join(format!(".rd{instance}/lima")),
        );
    }
    home
}

fn collect(home: &Path, out: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = logkeep();
    command
        .env("FAKE_RDD_HOME", home)
        .args(["collect", "--format", "dir", "--rdd", FAKE_RDD])
        .args(args)
        .arg("-o")
        .arg(out);
    for (k, v) in env {
        command.env(k, v);
    }
    run(&mut command)
}

#[test]
fn json_answers_give_each_instance_its_folders() {
    let home = home();
    let out = home.path().join("out");
    // An inherited RDD_LOG_DIR would override rdd's answer: it must be ignored.
    let result = collect(
        home.path(),
        &out,
        &[("RDD_LOG_DIR", "/nonexistent")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let files = read_tree(&out);
    assert!(
        files.contains_key("a/rdd.stderr.log")
            && files.contains_key("a/lima-test-stopped/serial.3.log")
    );
    assert!(files.contains_key("b/lima-app/ha.stderr.log"));
    let m = manifest_json(&out.join("manifest.json"));
    assert_eq!(
        m["instances"][0]["log_dir"],
        home.path()
            .join(".local/state/rancher-desktop-a")
            .display()
            .to_string()
    );
}

#[test]
fn an_older_rdd_without_json_is_asked_key_by_key() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_NO_JSON", "1")],
        &["--instance", "a"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(read_tree(&out).contains_key("a/lima-test-stopped/ha.stderr.log"));
}

#[test]
fn a_failing_instance_is_recorded_and_the_others_go_on() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_FAIL", "b")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success());
    assert!(
        stderr(&result).contains("instance b") && stderr(&result).contains("corrupt"),
        "{}",
        stderr(&result)
    );
    let m = manifest_json(&out.join("manifest.json"));
    assert!(
        m["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["message"].as_str().unwrap().contains("instance b"))
    );
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
}

#[test]
fn instance_names_can_come_from_a_command() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[],
        &["--instances-from", "printf 'a\\r\\nb\\n\\n'"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let files = read_tree(&out);
    assert!(files.keys().any(|p| p.starts_with("a/")) && files.keys().any(|p| p.starts_with("b/")));
}

/// rdd.exe answers with Windows paths and CRLF; wslpath (a stand-in here,
/// mapping C:\ to a folder) turns them into paths this shell can read.
#[test]
fn windows_answers_are_converted_with_wslpath() {
    let home = home();
    let drive = home.path().join("c");
    let win_logs = drive.join("Users/runneradmin/AppData/Local/rancher-desktop-a-logs");
    copy_tree(
        &home.path().join(".local/state/rancher-desktop-a"),
        &win_logs,
    );
    let bin = home.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let wslpath = bin.join("wslpath");
    fs::write(
        &wslpath,
        format!("#!/bin/sh\n# wslpath -ua 'C:\\x\\y' -> {}/x/y\nprintf '%s\\n' \"$2\" | sed -e 's|^C:|{}|' -e 's|\\\\|/|g'\n", drive.display(), drive.display()),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wslpath)
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_OS", "windows"), ("PATH", &path)],
        &["--instance", "a"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
    let m = manifest_json(&out.join("manifest.json"));
    assert_eq!(
        PathBuf::from(m["instances"][0]["log_dir"].as_str().unwrap()),
        win_logs
    );
}

#[test]
fn the_config_file_can_name_rdd_and_instances() {
    let home = home();
    let config = home.path().join("logkeep.toml");
    fs::write(
        &config,
        format!("[rdd]\npath = \"{FAKE_RDD}\"\ninstances = [\"a\"]\ninstances_from = \"echo b\"\n"),
    )
    .unwrap();
    let out = home.path().join("out");
    let result = run(logkeep()
        .env("FAKE_RDD_HOME", home.path())
        .args(["collect", "--format", "dir", "-c"])
        .arg(&config)
        .arg("-o")
        .arg(&out));
    assert!(result.status.success(), "{}", stderr(&result));
    let files = read_tree(&out);
    assert!(files.keys().any(|p| p.starts_with("a/")) && files.keys().any(|p| p.starts_with("b/")));
}

/// An rdd that hangs is killed after LOGKEEP_RDD_TIMEOUT seconds, once (no
/// per-key retries); the other instances go on.
#[test]
fn a_hanging_rdd_is_given_up_on_and_the_others_go_on() {
    let home = home();
    let out = home.path().join("out");
    let started = std::time::Instant::now();
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_HANG", "b"), ("LOGKEEP_RDD_TIMEOUT", "1")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "no hang"
    );
    assert!(
        stderr(&result).contains("did not answer in time"),
        "{}",
        stderr(&result)
    );
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
}
