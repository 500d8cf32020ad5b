//! Preservation and rotation while other processes act on the same files.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{logkeep, read_tree, run, run_ok, stderr};

fn make_vms(lima_home: &Path, vms: usize, logs: usize) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    for v in 0..vms {
        let vm = lima_home.join(format!("vm{v:02}"));
        fs::create_dir_all(&vm).unwrap();
        for l in 0..logs {
            let content = format!("vm{v:02} log {l}\n").repeat(50).into_bytes();
            fs::write(vm.join(format!("serial.{l}.log")), &content).unwrap();
            all.insert(format!("vm{v:02}/serial.{l}.log"), content);
        }
    }
    all
}

/// Every log ends in exactly one place (the Lima home or one preserved
/// folder), byte for byte.
fn assert_each_log_once(lima_home: &Path, log_dir: &Path, expected: &BTreeMap<String, Vec<u8>>) {
    let mut found: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for (path, bytes) in read_tree(lima_home).into_iter().chain(read_tree(log_dir)) {
        if !path.ends_with(".log") {
            continue;
        }
        let (folder, name) = path.rsplit_once('/').unwrap();
        let vm = folder.split('.').next().unwrap();
        found
            .entry(format!("{vm}/{name}"))
            .or_default()
            .push((path.clone(), bytes));
    }
    for (log, bytes) in expected {
        let places = found.get(log).unwrap_or_else(|| panic!("{log} was lost"));
        assert_eq!(
            places.len(),
            1,
            "{log} is in several places: {:?}",
            places.iter().map(|p| &p.0).collect::<Vec<_>>()
        );
        assert_eq!(&places[0].1, bytes, "{log} changed");
    }
}

#[test]
fn two_preserve_runs_at_once_share_no_folder_and_lose_nothing() {
    let work = tempfile::tempdir().unwrap();
    let (lima_home, log_dir) = (work.path().join("lima"), work.path().join("logs"));
    let expected = make_vms(&lima_home, 12, 20);
    let spawn = || {
        logkeep()
            .args(["preserve", "--json", "--lima-home"])
            .arg(&lima_home)
            .arg("--log-dir")
            .arg(&log_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let reports: Vec<serde_json::Value> = [a, b]
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    assert_each_log_once(&lima_home, &log_dir, &expected);
    // Each folder was created by exactly one run, and holds only that run's moves.
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (run_index, report) in reports.iter().enumerate() {
        for moved in report["moved"].as_array().unwrap() {
            let folder = Path::new(moved["to"].as_str().unwrap())
                .parent()
                .unwrap()
                .display()
                .to_string();
            assert_eq!(
                *owner.entry(folder.clone()).or_insert(run_index),
                run_index,
                "{folder} shared by two runs"
            );
        }
    }
    let leftovers: BTreeSet<_> = fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| fs::read_dir(p).unwrap().count() == 0)
        .collect();
    assert!(leftovers.is_empty(), "no empty folder left: {leftovers:?}");
}

/// A preserve across file systems killed with SIGKILL in the middle of a copy
/// (no chance to clean up), then run again: nothing lost, nothing silently
/// duplicated, and the cut-short copy is not a `*.log`.
#[test]
fn preserve_killed_mid_copy_then_rerun_loses_and_duplicates_nothing() {
    let work = tempfile::tempdir().unwrap();
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let lima_home = work.path().join("lima");
    let vm = lima_home.join("vm");
    fs::create_dir_all(&vm).unwrap();
    let big: Vec<u8> = (0..(400u32 << 20) / 4)
        .flat_map(|i| i.to_le_bytes())
        .collect();
    fs::write(vm.join("serial.log"), &big).unwrap();
    fs::write(vm.join("ha.stderr.log"), "small\n").unwrap();
    let mut child = logkeep()
        .args(["preserve", "--lima-home"])
        .arg(&lima_home)
        .arg("--log-dir")
        .arg(shm.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = shm.path().join("vm/.serial.log.logkeep-partial");
    let started = Instant::now();
    while !partial.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the copy never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        fs::read(vm.join("serial.log")).unwrap().len(),
        big.len(),
        "the source is untouched"
    );

    run_ok(
        logkeep()
            .args(["preserve", "--lima-home"])
            .arg(&lima_home)
            .arg("--log-dir")
            .arg(shm.path()),
    );
    let mut logs: Vec<(String, usize)> = read_tree(shm.path())
        .into_iter()
        .filter(|(p, _)| p.ends_with(".log"))
        .map(|(p, b)| (p, b.len()))
        .collect();
    logs.sort();
    let serials: Vec<_> = logs
        .iter()
        .filter(|(p, _)| p.ends_with("/serial.log"))
        .collect();
    assert_eq!(serials.len(), 1, "one serial.log in all: {logs:?}");
    assert_eq!(serials[0].1, big.len());
    assert_eq!(fs::read(shm.path().join(&serials[0].0)).unwrap(), big);
    assert_eq!(
        logs.iter()
            .filter(|(p, _)| p.ends_with("/ha.stderr.log"))
            .count(),
        1
    );
    assert!(
        fs::read_dir(&vm).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".log"))
    );
}

#[test]
fn a_running_vm_is_left_alone_unless_asked() {
    let work = tempfile::tempdir().unwrap();
    let (lima_home, log_dir) = (work.path().join("lima"), work.path().join("logs"));
    let vm = lima_home.join("busy");
    fs::create_dir_all(&vm).unwrap();
    fs::write(vm.join("serial.log"), "booting\n").unwrap();
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    fs::write(vm.join("ha.pid"), format!("{}\n", sleeper.id())).unwrap();

    let out = run(logkeep()
        .args(["preserve", "--lima-home"])
        .arg(&lima_home)
        .arg("--log-dir")
        .arg(&log_dir));
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("is running") && stderr(&out).contains("--even-if-running"),
        "{}",
        stderr(&out)
    );
    assert!(
        common::stdout(&out).contains("no logs moved from"),
        "not 'nothing to preserve': {}",
        common::stdout(&out)
    );
    assert!(vm.join("serial.log").exists());
    assert!(!log_dir.join("busy").exists());

    run_ok(
        logkeep()
            .args(["preserve", "--even-if-running", "--lima-home"])
            .arg(&lima_home)
            .arg("--log-dir")
            .arg(&log_dir),
    );
    assert_eq!(
        fs::read_to_string(log_dir.join("busy/serial.log")).unwrap(),
        "booting\n"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

/// Across file systems a log still held open by a writer is copied but not
/// removed: removing it would lose every line written afterwards.
#[test]
fn a_log_held_open_by_a_writer_is_copied_and_kept() {
    let work = tempfile::tempdir().unwrap();
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let vm = work.path().join("lima/vm");
    fs::create_dir_all(&vm).unwrap();
    let log = vm.join("serial.log");
    fs::write(&log, "line 1\n").unwrap();
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg("exec 3>>\"$1\"; echo ready; exec sleep 60")
        .arg("sh")
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(writer.stdout.as_mut().unwrap(), &mut ready).unwrap();
    let out = run(logkeep()
        .args(["preserve", "--json", "--lima-home"])
        .arg(work.path().join("lima"))
        .arg("--log-dir")
        .arg(shm.path()));
    writer.kill().unwrap();
    writer.wait().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["moved"][0]["method"], "copy-kept-source", "{report}");
    assert!(
        report["moved"][0]["rename_error"]
            .as_str()
            .unwrap()
            .contains("still has the source open")
    );
    assert!(log.exists(), "the source is kept");
    assert_eq!(
        fs::read_to_string(shm.path().join("vm/serial.log")).unwrap(),
        "line 1\n"
    );
}

/// A writer that opens the log for every line (as `echo >> serial.log` does)
/// races many rotations: every line written ends up in exactly one file.
/// (That two rotators never replace each other's backup is proven without
/// timing luck by the unit test `rotate::tests::a_stale_listing_never_replaces_a_backup`.)
#[test]
fn rotation_racing_a_writer_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let lines = 3000;
    let writer = {
        let d = d.clone();
        std::thread::spawn(move || {
            for i in 0..lines {
                let mut f = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(d.join("serial.log"))
                    .unwrap();
                writeln!(f, "line {i}").unwrap();
            }
        })
    };
    let mut rotations = 0;
    while !writer.is_finished() {
        run_ok(
            logkeep()
                .args(["rotate", "--keep-all", "--quiet"])
                .arg(&d)
                .arg("serial"),
        );
        rotations += 1;
    }
    writer.join().unwrap();
    assert!(rotations > 1);
    let mut seen = BTreeMap::new();
    for bytes in read_tree(&d).into_values() {
        for line in String::from_utf8(bytes).unwrap().lines() {
            *seen.entry(line.to_string()).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), lines, "every line is somewhere");
    assert!(seen.values().all(|&n| n == 1), "no line twice");
}
