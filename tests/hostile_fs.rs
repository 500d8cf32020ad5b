//! Collection on a live, hostile file system: one test per hazard. Each drives
//! the real binary (or, where the timing cannot be made from outside, the
//! library between planning and packing) and checks the archive with GNU tar.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{
    SmallDisk, Tree, collect_cmd, logkeep, manifest_json, mkfifo, python, read_tree, run, run_ok,
    signal_when, stderr, stdout, validate_manifest,
};

/// An empty manifest, for packing `sources` into a folder through the library.
fn folder_manifest(sources: &logkeep::sources::Sources) -> logkeep::manifest::Manifest {
    logkeep::manifest::Manifest::new(
        &sources.instances,
        logkeep::manifest::ArchiveInfo {
            format: "dir".into(),
            level: None,
        },
    )
}

/// Fail instead of hanging: run `f` on a thread and wait at most `secs`.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} did not finish within {secs} s"))
}

/// Collect into a folder on another thread, failing the test instead of hanging.
fn collect_dir_within(config: &Path, out_dir: &Path, what: &str) -> std::process::Output {
    let mut command = collect_cmd(config, out_dir);
    command.args(["--format", "dir"]);
    within(60, what, move || command.output().unwrap())
}

fn collect_dir(tree: &Tree, out: &Path, extra: &[&str]) -> std::process::Output {
    run(logkeep()
        .arg("collect")
        .arg("--config")
        .arg(tree.config())
        .arg("-o")
        .arg(out)
        .args(["--format", "dir"])
        .args(extra))
}

fn file_record(manifest: &serde_json::Value, path: &str) -> serde_json::Value {
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the manifest"))
        .clone()
}

/// Python's tarfile: each member's size equals the bytes it holds, and every
/// file in the manifest has the size and checksum the archive holds.
fn check_tar_against_manifest(archive: &Path) {
    let script = r#"
import sys, tarfile, json, hashlib
t = tarfile.open(sys.argv[1])
members = {m.name: m for m in t.getmembers()}
m = json.load(t.extractfile('manifest.json'))
for f in m['files']:
    data = t.extractfile(members[f['path']]).read()
    assert len(data) == members[f['path']].size == f['size'], f['path']
    assert hashlib.sha256(data).hexdigest() == f['sha256'], f['path']
print(len(m['files']), 'files consistent')
"#;
    let out = python(script, &[archive]);
    assert!(
        out.status.success(),
        "archive and manifest disagree: {}",
        stderr(&out)
    );
}

// 1. Growing files ----------------------------------------------------------

#[test]
fn growing_file_is_archived_up_to_its_size_when_opened() {
    let tree = Tree::new();
    let log = tree.path(Tree::LIMA_LOG_DIR).join("guest-journal.log");
    {
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        let line =
            b"2026-06-11T04:50:11+0000 host unit[1]: filler line to make reading take a while\n";
        for _ in 0..(48 << 20) / line.len() {
            f.write_all(line).unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut f = OpenOptions::new().append(true).open(&log).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                writeln!(
                    f,
                    "2026-06-11T04:59:59+0000 host appended[{n}]: still writing"
                )
                .unwrap();
                n += 1;
            }
        })
    };
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.gz");
    let out = run(collect_cmd(tree.config(), &archive).args(["--level", "1"]));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("changed as we read"));
    // The summary line counts it, as --strict does.
    assert!(
        stdout(&out).contains("0 problems, 1 changed while read or cut"),
        "{}",
        stdout(&out)
    );

    let listing = run(Command::new("tar").arg("-tzf").arg(&archive));
    assert!(listing.status.success(), "GNU tar reads it with exit 0");
    check_tar_against_manifest(&archive);
    let extract = tempfile::tempdir().unwrap();
    assert!(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(extract.path())
            .status()
            .unwrap()
            .success()
    );
    let manifest = manifest_json(&extract.path().join("manifest.json"));
    let record = file_record(&manifest, "bats-lima-controller/guest-journal.log");
    assert_eq!(record["changed_while_read"], true, "{record}");
    let archived = fs::read(
        extract
            .path()
            .join("bats-lima-controller/guest-journal.log"),
    )
    .unwrap();
    let now = fs::read(&log).unwrap();
    assert!(now.len() > archived.len(), "the writer kept appending");
    assert!(
        now.starts_with(&archived),
        "the archived bytes are the file as it was when opened"
    );
}

// 2. Shrinking, replaced and vanishing files ---------------------------------

#[test]
fn file_truncated_and_rewritten_during_collection_keeps_archive_consistent() {
    let tree = Tree::new();
    let log = tree.path(Tree::LIMA_LOG_DIR).join("rdd.stderr.log");
    fn fill(f: &mut File) {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            f.write_all(&chunk).unwrap();
        }
    }
    fill(&mut File::create(&log).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // copytruncate-style rotation, over and over: the file shrinks to nothing and grows again.
    let rotator = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut f = OpenOptions::new().write(true).open(&log).unwrap();
                f.set_len(0).unwrap();
                f.seek(SeekFrom::Start(0)).unwrap();
                f.write_all(b"short\n").unwrap();
                std::thread::sleep(Duration::from_millis(2));
                fill(&mut f);
            }
        })
    };
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.gz");
    let out = run(collect_cmd(tree.config(), &archive).args(["--level", "1"]));
    stop.store(true, Ordering::Relaxed);
    rotator.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        run(Command::new("tar").arg("-tzf").arg(&archive))
            .status
            .success()
    );
    check_tar_against_manifest(&archive);
}

/// Files and a whole VM folder deleted between planning and reading. The
/// window is made with the library: plan, delete, then pack.
#[test]
fn files_and_vm_folder_vanishing_after_planning_are_recorded() {
    use logkeep::archive::DirWriter;
    use logkeep::sources::Sources;

    let tree = Tree::new();
    let sources = Sources::from_config_file(&tree.config()).unwrap();
    let plan = logkeep::layout::plan(&sources, false);
    fs::remove_file(tree.path(Tree::LIMA_LOG_DIR).join("rdd.stdout.log")).unwrap();
    fs::remove_dir_all(tree.path(Tree::LIMA_HOME).join("test-stopped")).unwrap();

    let out = tempfile::tempdir().unwrap();
    let mut manifest = folder_manifest(&sources);
    let writer = Box::new(DirWriter::new(out.path().to_path_buf(), out.path()));
    logkeep::pack::pack(
        &plan.files,
        Default::default(),
        &mut manifest,
        writer,
        &mut |_, _| {},
    )
    .unwrap();

    let problems: Vec<String> = manifest
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("rdd.stdout.log: vanished")),
        "{problems:?}"
    );
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.contains("test-stopped/") && p.contains("vanished"))
            .count(),
        16
    );
    let files = read_tree(out.path());
    assert!(
        !files
            .keys()
            .any(|p| p.contains("lima-test-stopped") || p == "bats-lima-controller/rdd.stdout.log")
    );
    assert_eq!(manifest.files.len() + 17, plan.files.len());
    validate_manifest(&out.path().join("manifest.json"));
}

/// A log renamed away after planning, as a service start rotates it
/// (`rdd.stderr.log` to `rdd.stderr.5.log`, and a new `rdd.stderr.log`):
/// the previous boot's lines are packed under their new name. So are the
/// logs of a VM preserved meanwhile, moved from the Lima home to the log
/// dir. The window is made with the library: plan, rotate, then pack.
#[test]
fn a_log_rotated_after_planning_is_packed_under_its_new_name() {
    use logkeep::archive::DirWriter;
    use logkeep::manifest::Manifest;
    use logkeep::sources::Sources;

    let tree = Tree::new();
    let sources = Sources::from_config_file(&tree.config()).unwrap();
    let plan = logkeep::layout::plan(&sources, false);
    let log_dir = tree.path(Tree::LIMA_LOG_DIR);
    let previous_boot = fs::read(log_dir.join("rdd.stderr.log")).unwrap();
    fs::rename(
        log_dir.join("rdd.stderr.log"),
        log_dir.join("rdd.stderr.5.log"),
    )
    .unwrap();
    fs::write(log_dir.join("rdd.stderr.log"), "new boot\n").unwrap();
    fs::rename(
        tree.path(Tree::LIMA_HOME).join("test-stopped"),
        log_dir.join("test-stopped"),
    )
    .unwrap();
    let vm_logs: Vec<String> = plan
        .files
        .iter()
        .filter_map(|f| {
            let name = f
                .path
                .strip_prefix("bats-lima-controller/lima-test-stopped/")?;
            Some(format!("bats-lima-controller/test-stopped/{name}"))
        })
        .collect();
    assert!(vm_logs.len() > 3, "{vm_logs:?}");

    let out = tempfile::tempdir().unwrap();
    let mut manifest = folder_manifest(&sources);
    let mut writer: Box<dyn logkeep::archive::ArchiveWriter> =
        Box::new(DirWriter::new(out.path().to_path_buf(), out.path()));
    // What packing met: here the new rdd.stderr.log, opened in place of
    // the one listed, and the VM's logs, moved away before they were opened.
    let not_as_planned = std::sync::Mutex::new(Vec::new());
    let options = logkeep::pack::PackOptions {
        not_as_planned: Some(&not_as_planned),
        ..Default::default()
    };
    let pack = |files: &logkeep::layout::PlannedFiles,
                manifest: &mut Manifest,
                writer: &mut Box<dyn logkeep::archive::ArchiveWriter>| {
        logkeep::pack::pack_files(files, options, manifest, writer.as_mut(), &mut |_, _| {})
            .unwrap()
    };
    pack(&plan.files, &mut manifest, &mut writer);
    let met = not_as_planned.lock().unwrap().clone();
    assert_eq!(met.len(), vm_logs.len() + 1, "{met:?}");
    let arrivals =
        logkeep::layout::late_arrivals(&sources, false, &plan, &met).expect("a file appeared");
    let late = arrivals.files;
    // The VM's logs, not there to be read, were found where they went.
    assert_eq!(arrivals.found_elsewhere.len(), vm_logs.len());
    let mut expected = vm_logs.clone();
    expected.push("bats-lima-controller/rdd.stderr.5.log".to_string());
    expected.sort();
    assert_eq!(late.iter().map(|f| f.path).collect::<Vec<_>>(), expected);
    pack(&late, &mut manifest, &mut writer);
    logkeep::pack::add_manifest_and_finish(&mut manifest, writer).unwrap();

    let files = read_tree(out.path());
    assert_eq!(
        files["bats-lima-controller/rdd.stderr.5.log"],
        previous_boot
    );
    assert_eq!(files["bats-lima-controller/rdd.stderr.log"], b"new boot\n");
    assert!(files.contains_key(&vm_logs[0]));
    // Each of the VM's logs is recorded as vanished from the Lima home, and
    // packed from where it went.
    assert_eq!(manifest.files.len(), plan.files.len() + 1);
    validate_manifest(&out.path().join("manifest.json"));
}

/// The same through the command: `collect` is under way (it has opened a
/// log) when the last log of the folder is rotated; the previous boot's
/// lines are in the archive under the new name, and the note says so. When
/// the first log, opened already, is rotated too, what was packed of it is
/// not packed again under its new name, and the new log started in its
/// place is packed beside it.
#[test]
fn collect_packs_a_log_rotated_while_it_runs() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    fs::create_dir(&logs).unwrap();
    // Enough ahead of the last log that it is not opened yet when rotated
    // (when a log is open: not the folder, which is open before).
    for i in 0..150 {
        fs::write(logs.join(format!("a{i:03}.log")), noise(128 << 10)).unwrap();
    }
    fs::write(logs.join("zz.log"), "previous boot\n").unwrap();
    fs::create_dir(logs.join("zzvm")).unwrap();
    fs::write(logs.join("zzvm/serial.log"), "the VM's boot\n").unwrap();
    let archive = work.path().join("out.tar.gz");
    let child = logkeep()
        .args(["collect", "--strict", "--instance", "svc", "--log-dir"])
        .arg(&logs)
        .arg("-o")
        .arg(&archive)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let fds = format!("/proc/{}/fd", child.id());
    let started = std::time::Instant::now();
    while !fs::read_dir(&fds).is_ok_and(|fds| {
        fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
            .any(|target| target.parent() == Some(logs.as_path()))
    }) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "collect never opened a log"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    fs::rename(logs.join("zz.log"), logs.join("zz.1.log")).unwrap();
    fs::write(logs.join("zz.log"), "new boot\n").unwrap();
    fs::rename(logs.join("a000.log"), logs.join("a000.1.log")).unwrap();
    fs::write(logs.join("a000.log"), "a000's new boot\n").unwrap();
    // A preserved VM's folder moved on: packed from where it went, and
    // no problem (--strict would fail on one).
    fs::rename(logs.join("zzvm"), logs.join("zzvm.2")).unwrap();
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("3 file(s) appeared while collecting (a log rotated, a VM's logs preserved), collected too: svc/a000~2.log, svc/zz.1.log, svc/zzvm.2/serial.log"),
        "{err}"
    );
    let cat = |path: &str| stdout(&run_ok(logkeep().arg("cat").arg(&archive).arg(path)));
    assert_eq!(cat("svc/zz.1.log"), "previous boot\n");
    assert_eq!(cat("svc/zz.log"), "new boot\n");
    assert_eq!(cat("svc/a000~2.log"), "a000's new boot\n");
    assert_eq!(cat("svc/zzvm.2/serial.log"), "the VM's boot\n");
    let listed = stdout(&run_ok(logkeep().arg("ls").arg(&archive)));
    assert!(!listed.contains("svc/a000.1.log"), "{listed}");
    run_ok(logkeep().arg("verify").arg(&archive));
}

/// A log replaced by a FIFO after planning is neither opened blocking nor read.
#[test]
fn log_replaced_by_a_fifo_after_planning_does_not_block() {
    use logkeep::archive::DirWriter;
    use logkeep::sources::Sources;

    let tree = Tree::new();
    let sources = Sources::from_config_file(&tree.config()).unwrap();
    let plan = logkeep::layout::plan(&sources, false);
    let victim = tree.path(Tree::LIMA_LOG_DIR).join("lima-init.log");
    fs::remove_file(&victim).unwrap();
    mkfifo(&victim);

    let out = tempfile::tempdir().unwrap();
    let root = out.path().to_path_buf();
    let problems = within(30, "packing with a FIFO in place of a log", move || {
        let mut manifest = folder_manifest(&sources);
        logkeep::pack::pack(
            &plan.files,
            Default::default(),
            &mut manifest,
            Box::new(DirWriter::new(root.clone(), &root)),
            &mut |_, _| {},
        )
        .unwrap();
        manifest.problems
    });
    assert!(
        problems
            .iter()
            .any(|p| p.path.ends_with("lima-init.log") && p.message.contains("not a regular file"))
    );
}

// 3. Sockets, FIFOs, devices --------------------------------------------------

#[test]
fn fifo_without_writer_and_listening_socket_are_skipped_promptly() {
    let tree = Tree::new();
    let vm = tree.path(Tree::LIMA_HOME).join("test-stopped");
    mkfifo(&vm.join("serialp.log"));
    let listener = UnixListener::bind(vm.join("serial.sock")).unwrap();
    let _listener2 = UnixListener::bind(vm.join("ha.stdout.9.log")).unwrap();
    listener.set_nonblocking(true).unwrap();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let output = collect_dir_within(
        &tree.config(),
        &out_dir,
        "collect beside a FIFO and a socket",
    );
    assert!(output.status.success());
    assert!(listener.accept().is_err(), "nobody connected to the socket");
    let m = manifest_json(&out_dir.join("manifest.json"));
    let reasons: Vec<(String, String)> = m["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(reasons.contains(&(vm.join("serialp.log").display().to_string(), "fifo".into())));
    assert!(reasons.contains(&(
        vm.join("serial.sock").display().to_string(),
        "socket".into()
    )));
    assert!(reasons.contains(&(
        vm.join("ha.stdout.9.log").display().to_string(),
        "socket".into()
    )));
}

#[test]
fn device_files_are_never_read() {
    let tree = Tree::new();
    // A character device named like a log: /dev/zero would never end.
    let device = tree.path(Tree::LIMA_LOG_DIR).join("zero.log");
    let status = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "5"])
        .status()
        .unwrap();
    assert!(status.success(), "mknod needs root, which tests have here");
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let output = collect_dir_within(&tree.config(), &out_dir, "collect beside /dev/zero");
    assert!(output.status.success());
    let m = manifest_json(&out_dir.join("manifest.json"));
    assert!(
        m["skipped"].as_array().unwrap().iter().any(|s| s["source"]
            .as_str()
            .unwrap()
            .ends_with("zero.log")
            && s["reason"] == "device")
    );
}

// 4. Symbolic links -----------------------------------------------------------

#[test]
fn symlinks_are_not_followed_and_loops_do_not_hang() {
    let tree = Tree::new();
    let log_dir = tree.path(Tree::LIMA_LOG_DIR);
    std::os::unix::fs::symlink("/etc", log_dir.join("etc-vm")).unwrap(); // looks like a preserved VM folder
    std::os::unix::fs::symlink(
        "../../rdbats-lima-controller/lima/_config/user",
        log_dir.join("key.log"),
    )
    .unwrap();
    std::os::unix::fs::symlink("loop-b.log", log_dir.join("loop-a.log")).unwrap();
    std::os::unix::fs::symlink("loop-a.log", log_dir.join("loop-b.log")).unwrap();
    // A directory loop under an include glob with **.
    let diag = tree.path("_diag");
    fs::create_dir(diag.join("nested")).unwrap();
    std::os::unix::fs::symlink("..", diag.join("nested/up")).unwrap();
    let config = tree.config();
    let mut text = fs::read_to_string(&config).unwrap();
    text = text.replace("glob = \"_diag/*\"", "glob = \"_diag/**/*\"");
    fs::write(&config, text).unwrap();

    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let mut command = logkeep();
    command
        .arg("collect")
        .arg("-c")
        .arg(&config)
        .arg("-o")
        .arg(&out_dir)
        .args(["--format", "dir"]);
    let output = within(60, "collect over symlink loops", move || {
        command.output().unwrap()
    });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files = read_tree(&out_dir);
    assert!(
        !files
            .keys()
            .any(|p| p.contains("etc-vm") || p.contains("key.log") || p.contains("loop-")),
        "{:?}",
        files.keys()
    );
    assert!(
        !files.keys().any(|p| p.contains("/up/")),
        "the link back up was not followed"
    );
    for bytes in files.values() {
        assert!(!String::from_utf8_lossy(bytes).contains("PRIVATE KEY"));
    }
    let m = manifest_json(&out_dir.join("manifest.json"));
    let symlinks = m["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "symlink")
        .count();
    assert!(
        symlinks >= 5,
        "each link is recorded as skipped: {symlinks}"
    );

    let help = stdout(&run_ok(logkeep().args(["collect", "--help"])));
    assert!(help.contains("Symbolic links are not followed"), "{help}");
}

// 5. Unreadable files and folders ----------------------------------------------

fn as_nobody(command: &mut Command) -> Command {
    let mut wrapped = Command::new("setpriv");
    wrapped.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
    wrapped.arg(command.get_program()).args(command.get_args());
    wrapped
}

/// Open the tree to `nobody` (tests run as root, which ignores permissions).
fn open_tree_to_everyone(root: &Path) {
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn unreadable_file_and_folder_are_recorded_and_the_rest_goes_on() {
    let tree = Tree::new();
    open_tree_to_everyone(tree.dir.path());
    let secret_log = tree.path(Tree::LIMA_LOG_DIR).join("rdd.stdout.log");
    fs::set_permissions(&secret_log, fs::Permissions::from_mode(0o600)).unwrap();
    let closed_vm = tree.path(Tree::LIMA_HOME).join("test-stopped");
    fs::set_permissions(&closed_vm, fs::Permissions::from_mode(0o700)).unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let archive = work.path().join("out.tar.gz");

    let output = run(&mut as_nobody(&mut collect_cmd(tree.config(), &archive)));
    assert_eq!(
        output.status.code(),
        Some(0),
        "a problem file does not fail the run"
    );
    let err = stderr(&output);
    assert!(
        err.contains("rdd.stdout.log") && err.contains("ermission denied"),
        "{err}"
    );
    assert!(err.contains("test-stopped"), "{err}");
    check_tar_against_manifest(&archive);
    let extract = tempfile::tempdir().unwrap();
    assert!(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(extract.path())
            .status()
            .unwrap()
            .success()
    );
    let files = read_tree(extract.path());
    assert!(
        files.contains_key("bats-lima-controller/rdd.stderr.log"),
        "the rest is collected"
    );
    assert!(!files.contains_key("bats-lima-controller/rdd.stdout.log"));
    let m = manifest_json(&extract.path().join("manifest.json"));
    let skipped = m["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(
        |s| s["source"].as_str().unwrap().ends_with("rdd.stdout.log")
            && s["reason"] == "unreadable"
    ));
    assert!(
        skipped
            .iter()
            .any(|s| s["source"].as_str().unwrap().ends_with("test-stopped")
                && s["reason"] == "unreadable")
    );

    // --strict turns the same run into exit 3.
    let strict = work.path().join("strict.tar.gz");
    let output = run(&mut as_nobody(
        logkeep()
            .arg("collect")
            .arg("--strict")
            .arg("-c")
            .arg(tree.config())
            .arg("-o")
            .arg(&strict),
    ));
    assert_eq!(output.status.code(), Some(3));
    assert!(strict.exists(), "strict still writes the archive");
}

// 6. Odd names and sizes ---------------------------------------------------------

#[test]
fn odd_names_are_archived_portably_and_printed_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tree = Tree::new();
    let log_dir = tree.path(Tree::LIMA_LOG_DIR);
    let names: [&[u8]; 8] = [
        b"with space.log",
        b"new\nline.log",
        b"esc\x1b[31mred.log",
        b"tab\there.log",
        b"latin1-\xe9t\xe9.log",
        // Names Windows cannot create: a `:` (an alternate data stream
        // there), other forbidden characters, a device name.
        b"run-10:00:00.log",
        b"what?|*.log",
        b"nul.log",
    ];
    for name in names {
        fs::write(log_dir.join(OsStr::from_bytes(name)), b"odd\n").unwrap();
    }
    // A path past 255 bytes through an include glob over a deep folder.
    let mut deep = tree.path("_diag");
    for i in 0..6 {
        deep = deep.join(format!("level-{i}-{}", "d".repeat(40)));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("deep.log"), "deep\n").unwrap();
    fs::write(log_dir.join("empty.log"), "").unwrap();
    let config = tree.config();
    fs::write(
        &config,
        fs::read_to_string(&config)
            .unwrap()
            .replace("\"_diag/*\"", "\"_diag/**/*\""),
    )
    .unwrap();

    let dry = run_ok(
        logkeep()
            .arg("collect")
            .arg("--dry-run")
            .arg("-c")
            .arg(&config)
            .args(["-o", "x.zip"]),
    );
    let text = stdout(&dry);
    assert!(
        text.contains("new\\nline.log") && text.contains("esc\\x1b[31mred.log"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no raw escape reaches the terminal");

    let work = tempfile::tempdir().unwrap();
    for format in ["tar.gz", "zip"] {
        let archive = work.path().join(format!("odd.{format}"));
        run_ok(&mut collect_cmd(&config, &archive));
        let script = r#"
import sys, tarfile, zipfile
p = sys.argv[1]
names = tarfile.open(p).getnames() if p.endswith('gz') else zipfile.ZipFile(p).namelist()
print('\n'.join(repr(n) for n in names))
"#;
        let out = python(script, &[&archive]);
        let listing = stdout(&out);
        for expected in [
            "'bats-lima-controller/with space.log'",
            "'bats-lima-controller/new%0Aline.log'",
            "'bats-lima-controller/esc%1B[31mred.log'",
            "'bats-lima-controller/tab%09here.log'",
            "'bats-lima-controller/latin1-%E9t%E9.log'",
            "'bats-lima-controller/empty.log'",
            "'bats-lima-controller/run-10%3A00%3A00.log'",
            "'bats-lima-controller/what%3F%7C%2A.log'",
            "'bats-lima-controller/%6Eul.log'",
        ] {
            assert!(
                listing.contains(expected),
                "{format}: {expected} missing in\n{listing}"
            );
        }
        let long = listing
            .lines()
            .find(|l| l.ends_with("deep.log'"))
            .expect("the deep file");
        assert!(long.len() > 255, "{long}");
    }
    let gnu = tempfile::tempdir().unwrap();
    let archive = work.path().join("odd.tar.gz");
    assert!(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(gnu.path())
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        fs::read(gnu.path().join("bats-lima-controller/new%0Aline.log")).unwrap(),
        b"odd\n"
    );
    assert!(
        Command::new("unzip")
            .arg("-tq")
            .arg(work.path().join("odd.zip"))
            .status()
            .unwrap()
            .success()
    );
}

/// Escaping writes a `:` as `%3A`: a name of 254 bytes on disk would be
/// 750 in the archive, past what any file system takes (255), and unpacking
/// it, or writing a folder output, would fail as a whole. Such a name is
/// shortened, stays the same log (and backup), and every output unpacks.
#[test]
fn a_name_that_escaping_makes_too_long_is_shortened_and_every_output_unpacks() {
    let tree = Tree::new();
    let log_dir = tree.path(Tree::LIMA_LOG_DIR);
    let long = format!("{}.log", ":".repeat(250));
    let backup = format!("{}.2.log", ":".repeat(240));
    fs::write(log_dir.join(&long), "long\n").unwrap();
    fs::write(log_dir.join(&backup), "backup\n").unwrap();
    let work = tempfile::tempdir().unwrap();

    let folder = work.path().join("out");
    let done = collect_dir(&tree, &folder, &[]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let manifest = manifest_json(&folder.join("manifest.json"));
    let records = manifest["files"].as_array().unwrap();
    for (name, content, tail) in [(&long, "long\n", ".log"), (&backup, "backup\n", ".2.log")] {
        let record = records
            .iter()
            .find(|f| f["source"].as_str().unwrap().ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("{name} not in {records:?}"));
        let path = record["path"].as_str().unwrap();
        let file_name = path.rsplit('/').next().unwrap();
        assert!(file_name.len() <= 255, "{path}");
        assert!(
            file_name.starts_with("%3A%3A") && file_name.ends_with(tail),
            "{path}"
        );
        assert_eq!(fs::read_to_string(folder.join(path)).unwrap(), content);
    }
    // Every run writes its own manifest; the logs are the same.
    let logs = |dir: &Path| {
        let mut tree = read_tree(dir);
        tree.remove("manifest.json");
        tree
    };
    for format in ["tar.gz", "zip"] {
        let archive = work.path().join(format!("long.{format}"));
        run_ok(&mut collect_cmd(tree.config(), &archive));
        let unpacked = work.path().join(format!("unpacked-{format}"));
        run_ok(
            logkeep()
                .arg("extract")
                .arg(&archive)
                .arg("--to")
                .arg(&unpacked),
        );
        let got = logs(&unpacked);
        assert!(got == logs(&folder), "{format}: {:?}", got.keys());
        let by_tool = work.path().join(format!("by-tool-{format}"));
        fs::create_dir(&by_tool).unwrap();
        let status = match format {
            "zip" => Command::new("unzip")
                .arg("-q")
                .arg(&archive)
                .arg("-d")
                .arg(&by_tool)
                .status(),
            _ => Command::new("tar")
                .arg("-xzf")
                .arg(&archive)
                .arg("-C")
                .arg(&by_tool)
                .status(),
        };
        assert!(status.unwrap().success(), "{format}");
        let got = logs(&by_tool);
        assert!(got == logs(&folder), "{format}: {:?}", got.keys());
    }
}

#[test]
fn a_sparse_log_larger_than_8_gib_is_archived_with_its_full_size() {
    let tree = Tree::new();
    let size: u64 = (8 << 30) + 4096 + 7;
    let big = tree.path(Tree::LIMA_LOG_DIR).join("packet-trace.log");
    {
        let mut f = File::create(&big).unwrap();
        f.write_all(b"first line\n").unwrap();
        f.set_len(size).unwrap();
        f.seek(SeekFrom::End(-6)).unwrap();
        f.write_all(b"last!\n").unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("big.tar.zst");
    run_ok(&mut collect_cmd(tree.config(), &archive));
    let script = r#"
import sys, subprocess, tarfile
z = subprocess.Popen(['zstd', '-dcq', sys.argv[1]], stdout=subprocess.PIPE)
with tarfile.open(fileobj=z.stdout, mode='r|') as t:
    for m in t:
        if m.name.endswith('packet-trace.log'):
            f = t.extractfile(m)
            head = f.read(11)
            left = m.size - 11
            while left > 6:
                left -= len(f.read(min(left - 6, 1 << 24)))
            print(m.size, head, f.read(6))
"#;
    let out = python(script, &[&archive]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("{size} b'first line\\n' b'last!\\n'")
    );
}

#[test]
fn max_file_size_keeps_head_and_tail_with_a_visible_marker() {
    let tree = Tree::new();
    let log = tree.path(Tree::LIMA_LOG_DIR).join("rdd.stderr.log");
    let mut content = Vec::new();
    for i in 0..100_000 {
        content.extend_from_slice(format!("line {i:06}\n").as_bytes());
    }
    fs::write(&log, &content).unwrap();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    assert!(
        collect_dir(&tree, &out_dir, &["--max-file-size", "64K"])
            .status
            .success()
    );
    let kept = fs::read_to_string(out_dir.join("bats-lima-controller/rdd.stderr.log")).unwrap();
    assert!(kept.starts_with("line 000000\n"));
    assert!(kept.ends_with("line 099999\n"));
    assert!(
        kept.contains("[logkeep: ")
            && kept.contains(&format!("the file had {} bytes", content.len())),
        "marker"
    );
    let m = manifest_json(&out_dir.join("manifest.json"));
    let record = file_record(&m, "bats-lima-controller/rdd.stderr.log");
    assert_eq!(record["original_size"], content.len());
    assert_eq!(record["size"], kept.len());
    // Whole lines on both sides of the marker (12 bytes each here), within the cap.
    let kept_bytes =
        record["cut"]["head"].as_u64().unwrap() + record["cut"]["tail"].as_u64().unwrap();
    assert!(
        kept_bytes <= 64 << 10 && kept_bytes > (64 << 10) - 24,
        "{kept_bytes}"
    );
    for line in kept.lines().filter(|l| !l.starts_with("[logkeep: ")) {
        assert!(
            line.len() == 11 && line.starts_with("line "),
            "a line cut in the middle: {line:?}"
        );
    }
    validate_manifest(&out_dir.join("manifest.json"));
    let small = file_record(&m, "bats-lima-controller/rdd.stdout.log");
    assert!(small.get("cut").is_none(), "small files are untouched");
}

/// Bytes no compressor can shrink (xorshift64).
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

// 7. The output side fails --------------------------------------------------------

#[test]
fn disk_full_leaves_no_partial_output_and_says_so() {
    let mount = SmallDisk::new();
    let tree = Tree::new();
    fs::write(
        tree.path(Tree::LIMA_LOG_DIR).join("noise.log"),
        noise(2 << 20),
    )
    .unwrap();
    for (name, format) in [("rdd-logs.tar.gz", "tar.gz"), ("rdd-logs", "dir")] {
        let archive = mount.path().join(name);
        let out = run(collect_cmd(tree.config(), &archive).args(["--format", format]));
        assert_eq!(out.status.code(), Some(1), "{format}");
        let err = stderr(&out);
        // The error names the output asked for, not the temporary one
        // already removed when it is read.
        assert!(
            err.contains("No space left") && err.contains(&archive.display().to_string()),
            "{format}: {err}"
        );
        assert!(!err.contains(".logkeep-tmp"), "{format}: {err}");
        assert!(err.contains("hint:"), "{format}: {err}");
        assert_eq!(
            fs::read_dir(mount.path()).unwrap().count(),
            0,
            "{format}: no partial or temporary file left"
        );
    }
}

/// The archive is in place when the manifest's copy is written: a full disk
/// there does not fail the run, but it is a problem the summary counts.
#[test]
fn a_manifest_copy_on_a_full_disk_is_a_counted_problem() {
    let disk = SmallDisk::new();
    let mut filler = File::create(disk.path().join("filler")).unwrap();
    while filler.write_all(&[0; 4096]).is_ok() {}
    drop(filler);
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.tar.gz");
    let copy = disk.path().join("manifest.json");
    let out = run(collect_cmd(tree.config(), &archive)
        .arg("--manifest-out")
        .arg(&copy));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("No space left") && err.contains(&copy.display().to_string()),
        "{err}"
    );
    assert!(stdout(&out).contains(" 1 problems"), "{}", stdout(&out));
    assert!(archive.exists());
    assert!(!copy.exists());
    let strict = run(collect_cmd(tree.config(), &archive)
        .args(["--force", "--strict", "--manifest-out"])
        .arg(&copy));
    assert_eq!(strict.status.code(), Some(3), "{}", stderr(&strict));
}

#[test]
fn read_only_output_folder_is_a_clear_error() {
    let tree = Tree::new();
    open_tree_to_everyone(tree.dir.path());
    let work = tempfile::tempdir().unwrap();
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let archive = work.path().join("out.zip");
    let out = run(&mut as_nobody(&mut collect_cmd(tree.config(), &archive)));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&work.path().display().to_string()) && err.contains("ermission denied"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

fn interrupt_collect(signal: &str, expected_code: i32) {
    interrupt_collect_with(signal, expected_code, false);
}

/// Interrupt a collect once its temporary output is there (and, with
/// `manifest_out`, the temporary copy of the manifest too, in a folder of
/// its own): neither folder may keep anything.
fn interrupt_collect_with(signal: &str, expected_code: i32, manifest_out: bool) {
    let tree = Tree::new();
    // A large log that is slow to compress keeps the run busy long enough.
    fs::write(
        tree.path(Tree::LIMA_LOG_DIR).join("noise.log"),
        noise(96 << 20),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let manifests = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.zip");
    let mut command = collect_cmd(tree.config(), &archive);
    command.args(["--level", "9"]);
    let mut folders = vec![work.path()];
    if manifest_out {
        command
            .arg("--manifest-out")
            .arg(manifests.path().join("m.json"));
        folders.push(manifests.path());
    }
    // Once the temporary output (and manifest copy) appear.
    let (code, err) = signal_when(&mut command, signal, |_| {
        folders.iter().all(|f| fs::read_dir(f).unwrap().count() > 0)
    });
    assert_eq!(code, Some(expected_code), "{err}");
    assert!(err.contains("the output was not written"), "{err}");
    for folder in &folders {
        let left: Vec<_> = fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            left.is_empty(),
            "no partial output and no temporary file: {left:?}"
        );
    }
}

#[test]
fn sigint_mid_run_removes_the_temporary_output_and_exits_130() {
    interrupt_collect("INT", 130);
}

#[test]
fn sigterm_mid_run_removes_the_temporary_output_and_exits_143() {
    interrupt_collect("TERM", 143);
}

/// Regression: the temporary copy of `--manifest-out` (`.logkeep-manifest-*`)
/// was not removed on interruption, one more left by every interrupted run.
#[test]
fn sigint_with_manifest_out_leaves_no_temporary_manifest() {
    interrupt_collect_with("INT", 130, true);
}

#[test]
fn sigterm_with_manifest_out_leaves_no_temporary_manifest() {
    interrupt_collect_with("TERM", 143, true);
}

#[test]
fn sighup_with_manifest_out_leaves_no_temporary_manifest() {
    interrupt_collect_with("HUP", 129, true);
}

/// Zip64: an entry past 4 GiB keeps its size and CRC (unzip checks both).
#[test]
fn a_sparse_log_larger_than_4_gib_fits_in_a_zip() {
    let tree = Tree::new();
    let size: u64 = (4 << 30) + 12345;
    let big = tree.path(Tree::LIMA_LOG_DIR).join("packet-trace.log");
    let f = File::create(&big).unwrap();
    f.set_len(size).unwrap();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("big.zip");
    run_ok(collect_cmd(tree.config(), &archive).args(["--level", "1"]));
    let script = r#"
import sys, zipfile
print(zipfile.ZipFile(sys.argv[1]).getinfo('bats-lima-controller/packet-trace.log').file_size)
"#;
    let out = python(script, &[&archive]);
    assert_eq!(stdout(&out).trim(), size.to_string());
    let test = run(Command::new("unzip").arg("-tq").arg(&archive));
    assert!(
        test.status.success(),
        "unzip verifies every CRC: {}",
        stdout(&test)
    );
}

/// An output written inside a folder an include glob takes: the temporary
/// output and the manifest copy's temporary file, still being written, are
/// this run's own and never archived (they used to be, under names that
/// exist nowhere once the run is done).
#[test]
fn an_output_inside_an_include_glob_does_not_archive_itself() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("machine-info.txt"), "runner facts\n").unwrap();
    let glob = format!("{}/**", work.path().display());
    for name in ["out.tar.gz", "out.zip"] {
        let archive = work.path().join(name);
        run_ok(
            collect_cmd(tree.config(), &archive)
                .args(["--include", &glob, "--include-into", "work"])
                .arg("--manifest-out")
                .arg(work.path().join(format!("{name}.manifest.json"))),
        );
        let unpacked = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("bsdtar")
                .arg("-xf")
                .arg(&archive)
                .arg("-C")
                .arg(unpacked.path()),
        );
        let manifest = manifest_json(&unpacked.path().join("manifest.json"));
        let extras: Vec<&str> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["path"].as_str())
            .filter(|p| p.starts_with("work/"))
            .collect();
        // The first run's archive and manifest copy are the user's files now.
        let expected: &[&str] = match name {
            "out.tar.gz" => &["work/machine-info.txt"],
            _ => &[
                "work/machine-info.txt",
                "work/out.tar.gz",
                "work/out.tar.gz.manifest.json",
            ],
        };
        assert_eq!(extras, expected, "{manifest}");
        let on_disk: Vec<_> = fs::read_dir(unpacked.path().join("work"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(on_disk.is_empty(), "{on_disk:?}");
    }
    // Nor is the earlier output (and its manifest copy) that `--force`
    // replaces, also when the glob names it by another path.
    let archive = work.path().join("out.zip");
    let glob = format!(
        "{}/../{}/*",
        work.path().display(),
        work.path().file_name().unwrap().to_str().unwrap()
    );
    run_ok(
        collect_cmd(tree.config(), &archive)
            .args(["--force", "--include", &glob, "--include-into", "work"])
            .arg("--manifest-out")
            .arg(work.path().join("out.zip.manifest.json")),
    );
    let listed = stdout(&run_ok(logkeep().arg("ls").arg(&archive)));
    let extras: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|p| p.starts_with("work/"))
        .collect();
    assert_eq!(
        extras,
        [
            "work/machine-info.txt",
            "work/out.tar.gz",
            "work/out.tar.gz.manifest.json"
        ],
        "{listed}"
    );
}

/// Two include folders whose names are stored alike (`x:` is stored as
/// `x%3A`, next to a real `x%3A`): each file is read from its own folder.
/// The second folder's files used to be read from the first (one archived
/// twice, another "vanished").
#[test]
fn include_folders_stored_under_one_name_keep_their_own_files() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("logs");
    for (folder, file, text) in [
        ("x%3A", "a.log", "percent a\n"),
        ("x:", "a.log", "colon a\n"),
        ("x:", "b.log", "colon b\n"),
    ] {
        fs::create_dir_all(src.join(folder)).unwrap();
        fs::write(src.join(folder).join(file), text).unwrap();
    }
    let out_dir = work.path().join("out");
    let glob = format!("{}/**", src.display());
    let out = run(logkeep()
        .args(["collect", "--format", "dir", "--include", &glob, "-o"])
        .arg(&out_dir));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("vanished"), "{}", stderr(&out));
    let manifest = manifest_json(&out_dir.join("manifest.json"));
    let files = read_tree(&out_dir);
    let mut archived = Vec::new();
    for record in manifest["files"].as_array().unwrap() {
        let path = record["path"].as_str().unwrap();
        let text = String::from_utf8(files[path].clone()).unwrap();
        let source = record["source"].as_str().unwrap();
        assert_eq!(fs::read_to_string(source).unwrap(), text, "{path}");
        archived.push(text);
    }
    archived.sort();
    assert_eq!(archived, ["colon a\n", "colon b\n", "percent a\n"]);
}

/// `collect` plans without a `stat` per file (packing measures each one): that
/// plan must hold the same files, archive paths and skips as one that
/// measures, whatever the log tree holds.
#[test]
fn a_plan_that_defers_sizes_finds_what_a_measuring_plan_does() {
    use logkeep::layout::{Sizes, plan_with};
    use logkeep::sources::Sources;

    let tree = Tree::new();
    let logs = tree.path(Tree::LIMA_LOG_DIR);
    let vm = tree.path(Tree::LIMA_HOME).join("test-stopped");
    mkfifo(&logs.join("fifo.log"));
    let _socket = UnixListener::bind(vm.join("serial.sock.log")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", logs.join("link.log")).unwrap();
    fs::create_dir_all(logs.join("old-vm/nested")).unwrap();
    fs::write(logs.join("old-vm/nested/deep.log"), "deep\n").unwrap();
    fs::write(logs.join("old-vm/ha.stderr.log"), "x".repeat(3 << 20)).unwrap();
    fs::write(logs.join("notes.txt"), "not a log\n").unwrap();

    let sources = Sources::from_config_file(&tree.config()).unwrap();
    let measured = plan_with(&sources, false, Sizes::Measured);
    let deferred = plan_with(&sources, false, Sizes::Deferred);
    let files = |plan: &logkeep::layout::Plan| {
        plan.files
            .iter()
            .map(|f| format!("{} {} {:?}", f.path, f.source.display(), f.kind))
            .collect::<Vec<_>>()
    };
    assert!(files(&measured).len() > 10, "{:?}", files(&measured));
    assert_eq!(files(&deferred), files(&measured));
    assert_eq!(deferred.skipped, measured.skipped);
    assert!(measured.skipped.len() >= 5, "{:?}", measured.skipped);
    assert_eq!(deferred.problems.len(), measured.problems.len());
    // Only the measuring plan knows sizes.
    assert!(measured.files.iter().all(|f| f.planned_size.is_some()));
    assert!(measured.total_planned_bytes().unwrap() > 3 << 20);
    assert!(deferred.files.iter().all(|f| f.planned_size.is_none()));
    assert_eq!(deferred.total_planned_bytes(), None);
}

/// Packing a plan that deferred the sizes measures each file itself, when
/// the scanner gets to it: files that grew past the streaming threshold or
/// shrank below it since planning, vanished, were replaced by a FIFO, a
/// link or a socket, or whose folder was removed and made again, are each
/// archived as they are, or skipped and reported, in plan order, whichever
/// thread took them; the small files around them come in runs longer than
/// the scanner's.
#[test]
fn a_deferred_plan_is_packed_as_the_files_are_when_packed() {
    use logkeep::archive::DirWriter;
    use logkeep::layout::{Sizes, plan_with};
    use logkeep::pack::PackOptions;
    use logkeep::redact::{Redactor, builtin_rules};
    use logkeep::sources::{Instance, Sources};

    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    let vm = logs.join("vm");
    fs::create_dir_all(&vm).unwrap();
    let big = 3 << 20;
    let content = |name: &str, len: usize| -> Vec<u8> {
        format!("{name}: a line of the log\n")
            .bytes()
            .cycle()
            .take(len)
            .collect()
    };
    let name = |i: usize| format!("l{i:03}.log");
    let write = |dir: &Path, name: &str, len: usize| {
        fs::write(dir.join(name), content(name, len)).unwrap();
    };
    for i in 0..200 {
        let len = if [20, 70, 130].contains(&i) {
            big
        } else {
            100 + i
        };
        write(&logs, &name(i), len);
    }
    write(&vm, "serial.log", 10);
    write(&vm, "ha.stderr.log", big);
    let sources = Sources {
        instances: vec![Instance {
            name: "ci".into(),
            log_dir: Some(logs.clone()),
            lima_home: None,
        }],
        ..Sources::default()
    };
    let mut plan = plan_with(&sources, false, Sizes::Deferred);
    plan.files.spool().unwrap();
    assert_eq!(plan.files.len(), 202);

    write(&logs, &name(20), 10); // shrank
    write(&logs, &name(30), big); // grew
    fs::remove_file(logs.join(name(70))).unwrap();
    fs::remove_file(logs.join(name(80))).unwrap();
    mkfifo(&logs.join(name(80)));
    fs::remove_file(logs.join(name(90))).unwrap();
    std::os::unix::fs::symlink(logs.join(name(130)), logs.join(name(90))).unwrap();
    fs::remove_file(logs.join(name(100))).unwrap();
    let _socket = UnixListener::bind(logs.join(name(100))).unwrap();
    fs::remove_dir_all(&vm).unwrap();
    fs::create_dir(&vm).unwrap();
    write(&vm, "serial.log", big);
    write(&vm, "ha.stderr.log", 10);
    let gone = [name(70), name(80), name(90), name(100)];

    let redactor = Redactor::new(builtin_rules(), Vec::new());
    let runs = [
        ("redacted", Some(&redactor), None),
        ("plain", None, None),
        ("cut", Some(&redactor), Some(2 << 20)),
    ];
    for (run, redactor, max_file_size) in runs {
        let out = work.path().join(run);
        let mut manifest = folder_manifest(&sources);
        let options = PackOptions {
            redactor,
            max_file_size,
            exclude_private_keys: true,
            not_as_planned: None,
        };
        let (files, writer) = (&plan.files, Box::new(DirWriter::new(out.clone(), &out)));
        // A FIFO is there: fail rather than hang.
        std::thread::scope(|scope| {
            let packing = scope.spawn(|| {
                logkeep::pack::pack(files, options, &mut manifest, writer, &mut |_, _| {})
            });
            let start = std::time::Instant::now();
            while !packing.is_finished() {
                assert!(start.elapsed() < Duration::from_secs(60), "{run}: hangs");
                std::thread::sleep(Duration::from_millis(10));
            }
            packing.join().unwrap().unwrap();
        });

        let planned: Vec<String> = plan.files.iter().map(|f| f.path).collect();
        let records: Vec<_> = manifest.files.iter().unwrap().map(|r| r.unwrap()).collect();
        let archived: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
        let expected: Vec<&str> = planned
            .iter()
            .map(String::as_str)
            .filter(|p| !gone.iter().any(|g| p.ends_with(g.as_str())))
            .collect();
        assert_eq!(archived, expected, "{run}: not every file, in plan order");
        for record in &records {
            let bytes = fs::read(out.join(&record.path)).unwrap();
            let now = fs::read(&record.source).unwrap();
            assert_eq!(record.size, bytes.len() as u64, "{run}: {}", record.path);
            match max_file_size {
                Some(cap) if now.len() as u64 > cap => {
                    assert!(record.cut.is_some(), "{run}: {} not cut", record.path);
                    assert!(
                        now.starts_with(&bytes[..cap as usize / 4]),
                        "{run}: {}",
                        record.path
                    );
                }
                _ => assert!(bytes == now, "{run}: {} not as it is", record.path),
            }
        }
        for gone in &gone {
            assert!(
                manifest
                    .skipped
                    .iter()
                    .any(|s| s.source.ends_with(gone.as_str())),
                "{run}: {gone} not recorded as skipped"
            );
            assert!(
                manifest
                    .problems
                    .iter()
                    .any(|p| p.path.ends_with(gone.as_str())),
                "{run}: {gone} not reported"
            );
        }
    }
}

// 6. A low limit of open files ---------------------------------------------------

/// Packing opens files ahead of reading them: under a low `ulimit -n` it
/// opens fewer, and the output and the temporary files still get theirs.
#[test]
fn a_low_limit_of_open_files_still_archives_every_file() {
    use std::os::unix::process::CommandExt;
    let logs = tempfile::tempdir().unwrap();
    for i in 0..300 {
        fs::write(
            logs.path().join(format!("small.{i}.log")),
            format!("line {i}\n"),
        )
        .unwrap();
    }
    // Large ones too, after the small ones (before them, the writer waits
    // for their scan, and the race for the last descriptors is less often
    // lost).
    for i in 0..3 {
        let large = format!("a longer line of log {i}\n").repeat(80_000);
        fs::write(logs.path().join(format!("trace.{i}.log")), large).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    // Opening 32 ahead whatever the limit, one run in two failed at 16 or 24.
    for (round, limit) in [16, 24, 40, 64].repeat(5).into_iter().enumerate() {
        let archive = work.path().join(format!("out-{round}.tar.zst"));
        let mut command = logkeep();
        command
            .args(["collect", "--instance", "ci", "--log-dir"])
            .arg(logs.path())
            .arg("-o")
            .arg(&archive);
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                match libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
        let output = run(&mut command);
        assert_eq!(output.status.code(), Some(0), "limit {limit}");
        assert!(
            stdout(&output).contains("303 files") && stdout(&output).contains("0 problems"),
            "limit {limit}: {}",
            stdout(&output)
        );
        let listed = run_ok(Command::new("tar").arg("-tf").arg(&archive));
        assert_eq!(stdout(&listed).lines().count(), 304, "limit {limit}");
    }
}
