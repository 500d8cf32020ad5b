//! `logkeep preserve`: move VM logs out of the Lima home before deletion.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Tree, logkeep, read_tree, run, run_ok, stderr, stdout};

fn preserve(tree: &Tree, extra: &[&str]) -> std::process::Output {
    run(logkeep()
        .arg("preserve")
        .arg("--lima-home")
        .arg(tree.path(Tree::LIMA_HOME))
        .arg("--log-dir")
        .arg(tree.path(Tree::LIMA_LOG_DIR))
        .args(extra))
}

fn logs_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

#[test]
fn moves_every_log_of_the_vm_and_nothing_else() {
    let tree = Tree::new();
    let vm_dir = tree.path(Tree::LIMA_HOME).join("test-stopped");
    let before = read_tree(&vm_dir);
    let out = preserve(&tree, &[]);
    assert!(out.status.success());

    let dest = tree.path(Tree::LIMA_LOG_DIR).join("test-stopped");
    let moved = read_tree(&dest);
    let expected: Vec<_> = before
        .iter()
        .filter(|(name, _)| name.ends_with(".log"))
        .collect();
    assert_eq!(moved.len(), expected.len());
    for (name, bytes) in expected {
        assert_eq!(&moved[name], bytes, "{name} moved byte for byte");
    }
    assert!(logs_in(&vm_dir).is_empty(), "no log left behind");
    assert!(vm_dir.join("lima.yaml").exists(), "non-log files stay");
    assert_eq!(
        fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(
        !tree.path(Tree::LIMA_LOG_DIR).join("_config").exists(),
        "_config is not a VM"
    );
    assert!(
        stdout(&out).contains("test-stopped/serial.log"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn taken_folders_get_the_next_free_suffix() {
    let tree = Tree::new();
    let log_dir = tree.path(Tree::LIMA_LOG_DIR);
    // The fixture already holds test-vm-deleted and test-vm-deleted.2.
    for round in 3..=4 {
        let vm = tree.path(Tree::LIMA_HOME).join("test-vm-deleted");
        fs::create_dir_all(&vm).unwrap();
        fs::write(vm.join("serial.log"), format!("round {round}")).unwrap();
        run_ok(
            logkeep()
                .arg("preserve")
                .arg("--lima-home")
                .arg(tree.path(Tree::LIMA_HOME))
                .arg("--log-dir")
                .arg(&log_dir)
                .args(["--vm", "test-vm-deleted"]),
        );
        let dest = log_dir.join(format!("test-vm-deleted.{round}"));
        assert_eq!(
            fs::read_to_string(dest.join("serial.log")).unwrap(),
            format!("round {round}")
        );
    }
    // The earlier preserved folders were not touched.
    assert_eq!(logs_in(&log_dir.join("test-vm-deleted")).len(), 4);
    assert_eq!(logs_in(&log_dir.join("test-vm-deleted.2")).len(), 4);
}

#[test]
fn a_vm_without_logs_gets_no_folder_and_a_missing_lima_home_is_only_a_warning() {
    let tree = Tree::new();
    let vm = tree.path(Tree::LIMA_HOME).join("empty-vm");
    fs::create_dir_all(&vm).unwrap();
    fs::write(vm.join("lima.yaml"), "x").unwrap();
    fs::create_dir(vm.join("sub.log")).unwrap(); // a folder named *.log is not a log
    std::os::unix::fs::symlink("../test-stopped/serial.log", vm.join("link.log")).unwrap();
    run_ok(
        logkeep()
            .arg("preserve")
            .arg("--lima-home")
            .arg(tree.path(Tree::LIMA_HOME))
            .arg("--log-dir")
            .arg(tree.path(Tree::LIMA_LOG_DIR))
            .args(["--vm", "empty-vm"]),
    );
    assert!(!tree.path(Tree::LIMA_LOG_DIR).join("empty-vm").exists());
    assert!(
        vm.join("link.log").symlink_metadata().is_ok(),
        "links are not moved"
    );

    let out = run_ok(
        logkeep()
            .arg("preserve")
            .arg("--lima-home")
            .arg(tree.path("no/such/lima"))
            .arg("--log-dir")
            .arg(tree.path("no/such/logs")),
    );
    assert!(stdout(&out).contains("no logs to preserve"));
    // Fine, but worth a warning: it is also what a typo looks like.
    assert!(
        stderr(&out).contains("no/such/lima: Lima home not found"),
        "{}",
        stderr(&out)
    );
    assert!(
        !tree.path("no").exists(),
        "nothing is created when there is nothing to preserve"
    );
}

#[test]
fn json_report_lists_each_move() {
    let tree = Tree::new();
    let out = preserve(&tree, &["--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved = json["moved"].as_array().unwrap();
    assert_eq!(moved.len(), 16, "test-stopped has 16 logs");
    assert!(
        moved
            .iter()
            .all(|m| m["method"] == "rename" && m["vm"] == "test-stopped")
    );
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);
}

/// /dev/shm is a tmpfs and the temp folder is not: rename fails with EXDEV
/// and the verified copy takes over.
#[test]
fn across_file_systems_logs_are_copied_verified_and_removed() {
    let tree = Tree::new();
    let shm = tempfile::tempdir_in("/dev/shm").expect("/dev/shm is writable");
    let lima_home = tree.path(Tree::LIMA_HOME);
    assert_ne!(
        fs::metadata(shm.path()).unwrap().dev(),
        fs::metadata(&lima_home).unwrap().dev(),
        "this test needs /dev/shm on another file system than the temp folder"
    );
    let vm_dir = lima_home.join("test-stopped");
    let before = read_tree(&vm_dir);
    let out = run_ok(
        logkeep()
            .args(["preserve", "--json", "--lima-home"])
            .arg(&lima_home)
            .arg("--log-dir")
            .arg(shm.path()),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved = json["moved"].as_array().unwrap();
    assert!(!moved.is_empty());
    assert!(moved.iter().all(|m| m["method"] == "copy"), "{json}");
    let copied = read_tree(&shm.path().join("test-stopped"));
    for (name, bytes) in before.iter().filter(|(n, _)| n.ends_with(".log")) {
        assert_eq!(&copied[name], bytes);
    }
    assert!(
        logs_in(&vm_dir).is_empty(),
        "sources removed after a verified copy"
    );
}

/// A log whose name is near the file-name limit (255 bytes) is copied
/// across file systems too: the temporary copy's name must fit the limit.
#[test]
fn across_file_systems_a_log_with_a_long_name_is_copied() {
    let tree = Tree::new();
    let shm = tempfile::tempdir_in("/dev/shm").expect("/dev/shm is writable");
    let lima_home = tree.path(Tree::LIMA_HOME);
    let vm_dir = lima_home.join("test-stopped");
    let long = format!("{}.log", "bats-test-".repeat(25));
    assert_eq!(long.len(), 254);
    fs::write(vm_dir.join(&long), "a test's own log\n").unwrap();
    let out = run_ok(
        logkeep()
            .args(["preserve", "--json", "--vm", "test-stopped", "--lima-home"])
            .arg(&lima_home)
            .arg("--log-dir")
            .arg(shm.path()),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["problems"].as_array().unwrap().len(), 0, "{json}");
    let dest = shm.path().join("test-stopped");
    assert_eq!(
        fs::read_to_string(dest.join(&long)).unwrap(),
        "a test's own log\n"
    );
    assert!(logs_in(&vm_dir).is_empty(), "every source moved");
    assert!(
        fs::read_dir(&dest).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("partial")),
        "no partial copy left"
    );
}

/// When the source cannot be removed (here: an unprivileged user and a VM
/// folder it may not write), the verified copy and the source are both kept.
#[test]
fn a_source_that_cannot_be_removed_is_kept_beside_its_copy() {
    let tree = Tree::new();
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    // Let `nobody` walk to the files and write the destination, not the source folder.
    fs::set_permissions(tree.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(shm.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let lima_home = tree.path(Tree::LIMA_HOME);
    let vm_dir = lima_home.join("test-stopped");
    let out = run(std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_logkeep"))
        .args(["preserve", "--json", "--vm", "test-stopped", "--lima-home"])
        .arg(&lima_home)
        .arg("--log-dir")
        .arg(shm.path()));
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let moved = json["moved"].as_array().unwrap();
    assert_eq!(moved.len(), 16);
    assert!(
        moved.iter().all(|m| m["method"] == "copy-kept-source"),
        "{json}"
    );
    assert_eq!(
        json["problems"].as_array().unwrap().len(),
        16,
        "each kept source is reported"
    );
    assert!(stderr(&out).contains("source was kept"), "{}", stderr(&out));
    assert_eq!(logs_in(&vm_dir).len(), 16, "sources still there");
    assert_eq!(
        read_tree(&shm.path().join("test-stopped")).len(),
        16,
        "copies there too"
    );

    // A second run (the BATS hook preserves after each failed test) copies
    // nothing again while the sources are unchanged: no test-stopped.2.
    let again = |log: Option<&str>| {
        if let Some(log) = log {
            fs::write(vm_dir.join(log), "a line more\n").unwrap();
        }
        run(std::process::Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_logkeep"))
            .args(["preserve", "--vm", "test-stopped", "--lima-home"])
            .arg(&lima_home)
            .arg("--log-dir")
            .arg(shm.path()))
    };
    let out = again(None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out)
            .matches("unchanged since it was preserved as ")
            .count(),
        16,
        "{}",
        stdout(&out)
    );
    assert!(!shm.path().join("test-stopped.2").exists());
    // A log that changed since is copied, alone.
    let out = again(Some("serial.log"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_tree(&shm.path().join("test-stopped.2"))
            .keys()
            .collect::<Vec<_>>(),
        ["serial.log"]
    );
}
