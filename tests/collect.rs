//! `logkeep collect` end to end on a copy of the fixture tree with the hazards
//! git cannot hold (sockets, a FIFO, sparse disk images, links), every output
//! read back with the tools users have: GNU tar, bsdtar, unzip, Python.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    Tree, collect_cmd, logkeep, manifest_json, mkfifo, python, read_tree, require_python_module,
    require_tool, run, run_ok, stderr, stdout, validate_manifest,
};

const LONG_NAME: &str = "a-very-long-log-name-that-goes-past-the-hundred-bytes-of-a-ustar-name-field-and-then-some-more-text-here.log";
const UNICODE_NAME: &str = "rdd ümlaut 日本.log";

/// The fixture tree plus what a live run has and git cannot hold.
struct LiveTree {
    tree: Tree,
    _sockets: Vec<UnixListener>,
}

impl LiveTree {
    fn new() -> LiveTree {
        let tree = Tree::new();
        let vm = tree.path(Tree::LIMA_HOME).join("test-stopped");
        let app = tree.path(Tree::APP_LIMA_HOME).join("app");
        let mut sockets = Vec::new();
        for name in ["ha.sock", "ssh.sock", "serial.sock", "qmp.sock"] {
            sockets.push(UnixListener::bind(vm.join(name)).unwrap());
        }
        sockets.push(UnixListener::bind(app.join("serial.sock")).unwrap());
        // A socket and a FIFO named like logs: opening either naively would hang or connect.
        sockets.push(UnixListener::bind(app.join("console.log")).unwrap());
        mkfifo(&vm.join("serialp.log"));
        // Disk images: huge and sparse.
        fs::File::create(vm.join("disk"))
            .unwrap()
            .set_len(100 << 30)
            .unwrap();
        fs::File::create(vm.join("cidata.iso"))
            .unwrap()
            .set_len(40 << 20)
            .unwrap();
        // Links must not smuggle in the SSH key or the host's files.
        std::os::unix::fs::symlink("../_config/user", vm.join("key.log")).unwrap();
        std::os::unix::fs::symlink(
            "/etc/passwd",
            tree.path(Tree::LIMA_LOG_DIR).join("passwd.log"),
        )
        .unwrap();
        // Folders below depth 1 are not descended into.
        fs::create_dir(vm.join("cidata")).unwrap();
        fs::write(vm.join("cidata/boot.log"), "nested").unwrap();
        // Names tar and zip must keep exactly.
        let log_dir = tree.path(Tree::LIMA_LOG_DIR);
        fs::write(log_dir.join(LONG_NAME), "long name\n").unwrap();
        fs::write(log_dir.join(UNICODE_NAME), "ünïcödé\n").unwrap();
        fs::write(log_dir.join("empty.log"), "").unwrap();
        LiveTree {
            tree,
            _sockets: sockets,
        }
    }

    fn collect(&self, output: &Path, extra: &[&str]) -> std::process::Output {
        run(logkeep()
            .arg("collect")
            .arg("--config")
            .arg(self.tree.config())
            .arg("-o")
            .arg(output)
            .args(extra))
    }

    /// What the archive must hold, by the layout rule, with the source bytes.
    fn expected(&self) -> BTreeMap<String, Vec<u8>> {
        let mut expected = BTreeMap::new();
        let t = &self.tree;
        for (instance, log_dir, lima_home) in [
            ("bats-lima-controller", Tree::LIMA_LOG_DIR, Tree::LIMA_HOME),
            (
                "bats-app-controller",
                Tree::APP_LOG_DIR,
                Tree::APP_LIMA_HOME,
            ),
        ] {
            for entry in fs::read_dir(t.path(log_dir)).unwrap().map(Result::unwrap) {
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    add_logs(
                        &mut expected,
                        &entry.path(),
                        &format!("{instance}/{}", name_of(&entry.path())),
                    );
                } else if kind.is_file() && name_of(&entry.path()).ends_with(".log") {
                    expected.insert(
                        format!("{instance}/{}", name_of(&entry.path())),
                        fs::read(entry.path()).unwrap(),
                    );
                }
            }
            for entry in fs::read_dir(t.path(lima_home)).unwrap().map(Result::unwrap) {
                let name = name_of(&entry.path());
                if entry.file_type().unwrap().is_dir() && !name.starts_with('_') {
                    add_logs(
                        &mut expected,
                        &entry.path(),
                        &format!("{instance}/lima-{name}"),
                    );
                }
            }
        }
        for entry in fs::read_dir(t.path("_diag")).unwrap().map(Result::unwrap) {
            expected.insert(
                format!("_diag/{}", name_of(&entry.path())),
                fs::read(entry.path()).unwrap(),
            );
        }
        expected
    }
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_string()
}

fn add_logs(expected: &mut BTreeMap<String, Vec<u8>>, dir: &Path, folder: &str) {
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let name = name_of(&entry.path());
        if entry.file_type().unwrap().is_file() && name.ends_with(".log") {
            expected.insert(format!("{folder}/{name}"), fs::read(entry.path()).unwrap());
        }
    }
}

/// Compare an unpacked output with the expected files, byte for byte, and
/// check the manifest in it: schema, and every checksum with `sha256sum -c`.
fn check_unpacked(root: &Path, expected: &BTreeMap<String, Vec<u8>>, reader: &str) {
    let mut found = read_tree(root);
    let manifest = found
        .remove("manifest.json")
        .unwrap_or_else(|| panic!("{reader}: no manifest.json"));
    let found_paths: BTreeSet<_> = found.keys().cloned().collect();
    let expected_paths: BTreeSet<_> = expected.keys().cloned().collect();
    assert_eq!(
        found_paths, expected_paths,
        "{reader}: the exact set of paths"
    );
    for (path, bytes) in expected {
        assert!(
            found[path] == *bytes,
            "{reader}: {path} differs from its source"
        );
    }
    assert!(!manifest.is_empty());
    validate_manifest(&root.join("manifest.json"));
    let manifest = manifest_json(&root.join("manifest.json"));
    let listed: BTreeSet<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed, expected_paths,
        "{reader}: the manifest lists exactly the archived files"
    );
    sha256sum_check(root);
}

/// The documented one-liner: checksums from the manifest, checked by sha256sum.
fn sha256sum_check(root: &Path) {
    let list = python(
        "import json, sys\n\
         m = json.load(open(sys.argv[1] + '/manifest.json'))\n\
         sys.stdout.write(''.join(f\"{f['sha256']}  {f['path']}\\n\" for f in m['files']))\n",
        &[root],
    );
    assert!(list.status.success());
    let checksums = root.join("../SHA256SUMS");
    fs::write(&checksums, &list.stdout).unwrap();
    let out = run(Command::new("sha256sum")
        .arg("--check")
        .arg("--strict")
        .arg(&checksums)
        .current_dir(root));
    assert!(
        out.status.success(),
        "sha256sum -c failed: {}",
        stdout(&out)
    );
}

fn fresh_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn tool_ok(command: &mut Command) {
    let out = run(command);
    assert!(out.status.success(), "{command:?} failed: {}", stderr(&out));
}

/// Unpack `archive` into a fresh folder `name` with `tool ARGS… ARCHIVE DIR_FLAG DIR`,
/// and check what came out.
fn unpack_with(
    work: &Path,
    name: &str,
    tool: &[&str],
    archive: &Path,
    dir_flag: &str,
    expected: &BTreeMap<String, Vec<u8>>,
) {
    let dir = fresh_dir(work, name);
    tool_ok(
        Command::new(tool[0])
            .args(&tool[1..])
            .arg(archive)
            .arg(dir_flag)
            .arg(&dir),
    );
    check_unpacked(&dir, expected, &tool.join(" "));
}

fn python_extract(kind: &str, archive: &Path, to: &Path) {
    let script = match kind {
        "tar" => {
            "import sys, tarfile\nwith tarfile.open(sys.argv[1]) as t:\n    t.extractall(sys.argv[2], filter='data')\n"
        }
        _ => {
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z:\n    assert z.testzip() is None\n    z.extractall(sys.argv[2])\n"
        }
    };
    let out = python(script, &[archive, to]);
    assert!(
        out.status.success(),
        "python {kind} failed: {}",
        stderr(&out)
    );
}

#[test]
fn tar_gz_reads_back_with_gnu_tar_bsdtar_and_python() {
    require_tool("bsdtar", "libarchive-tools");
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.tar.gz");
    let out = live.collect(&archive, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = live.expected();

    unpack_with(
        work.path(),
        "gnu",
        &["tar", "-xzf"],
        &archive,
        "-C",
        &expected,
    );
    unpack_with(
        work.path(),
        "bsd",
        &["bsdtar", "-xf"],
        &archive,
        "-C",
        &expected,
    );
    let py = fresh_dir(work.path(), "py");
    python_extract("tar", &archive, &py);
    check_unpacked(&py, &expected, "Python tarfile");
}

#[test]
fn tar_zst_reads_back_with_gnu_tar_bsdtar_and_python() {
    require_tool("bsdtar", "libarchive-tools");
    require_tool("zstd", "zstd");
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.tar.zst");
    assert!(live.collect(&archive, &[]).status.success());
    let expected = live.expected();

    unpack_with(
        work.path(),
        "gnu",
        &["tar", "--zstd", "-xf"],
        &archive,
        "-C",
        &expected,
    );
    unpack_with(
        work.path(),
        "bsd",
        &["bsdtar", "-xf"],
        &archive,
        "-C",
        &expected,
    );
    // Python 3.11's tarfile has no zstd: decompress with the zstd tool first.
    let plain = work.path().join("rdd-logs.tar");
    tool_ok(
        Command::new("zstd")
            .arg("-q")
            .arg("-d")
            .arg(&archive)
            .arg("-o")
            .arg(&plain),
    );
    let py = fresh_dir(work.path(), "py");
    python_extract("tar", &plain, &py);
    check_unpacked(&py, &expected, "Python tarfile");
}

#[test]
fn zip_reads_back_with_unzip_bsdtar_and_python() {
    require_tool("bsdtar", "libarchive-tools");
    require_tool("unzip", "unzip");
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.zip");
    assert!(live.collect(&archive, &[]).status.success());
    let expected = live.expected();

    tool_ok(Command::new("unzip").arg("-tq").arg(&archive));
    unpack_with(
        work.path(),
        "unzip",
        &["unzip", "-q"],
        &archive,
        "-d",
        &expected,
    );
    unpack_with(
        work.path(),
        "bsd",
        &["bsdtar", "-xf"],
        &archive,
        "-C",
        &expected,
    );
    let py = fresh_dir(work.path(), "py");
    python_extract("zip", &archive, &py);
    check_unpacked(&py, &expected, "Python zipfile");
}

#[test]
fn dir_format_writes_the_layout_as_a_folder() {
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("rdd-logs");
    assert!(
        live.collect(&out_dir, &["--format", "dir"])
            .status
            .success()
    );
    check_unpacked(&out_dir, &live.expected(), "dir");
}

#[test]
fn the_manifest_records_kinds_rotations_and_every_skip_with_its_reason() {
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    assert!(
        live.collect(&out_dir, &["--format", "dir"])
            .status
            .success()
    );
    let m = manifest_json(&out_dir.join("manifest.json"));
    let file = |path: &str| {
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path}"))
            .clone()
    };
    let serial = file("bats-lima-controller/lima-test-stopped/serial.2.log");
    assert_eq!(serial["kind"], "serial");
    assert_eq!(serial["vm"], "test-stopped");
    assert_eq!(serial["log"], "serial");
    assert_eq!(serial["rotation"], 2);
    assert_eq!(
        file("bats-lima-controller/lima-test-stopped/ha.stderr.log")["kind"],
        "hostagent"
    );
    let preserved = file("bats-lima-controller/test-vm-deleted.2/serial.log");
    assert_eq!(
        (preserved["kind"].as_str(), preserved["vm"].as_str()),
        (Some("preserved"), Some("test-vm-deleted"))
    );
    assert_eq!(
        file("bats-lima-controller/guest-journal.log")["kind"],
        "guest"
    );
    assert_eq!(
        file("bats-lima-controller/rdd.stderr.4.log")["kind"],
        "service"
    );
    assert_eq!(file("_diag/machine-info.txt")["kind"], "extra");
    assert!(m["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["manifest_version"], 1);
    assert_eq!(m["instances"].as_array().unwrap().len(), 2);

    let skipped: BTreeMap<String, String> = m["skipped"]
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
    let reason = |suffix: &str| {
        skipped
            .iter()
            .find(|(source, _)| source.ends_with(suffix))
            .map(|(_, reason)| reason.as_str())
            .unwrap_or_else(|| panic!("{suffix} is not recorded as skipped: {skipped:?}"))
    };
    assert_eq!(reason("test-stopped/ha.sock"), "socket");
    assert_eq!(reason("app/console.log"), "socket");
    assert_eq!(reason("test-stopped/serialp.log"), "fifo");
    assert_eq!(reason("test-stopped/key.log"), "symlink");
    assert_eq!(reason("passwd.log"), "symlink");
    assert_eq!(reason("test-stopped/disk"), "not-a-log");
    assert_eq!(reason("test-stopped/cidata.iso"), "not-a-log");
    assert_eq!(reason("test-stopped/cidata"), "nested-folder");
    assert_eq!(reason("lima/_config"), "lima-config");
    let all = fs::read(out_dir.join("manifest.json")).unwrap();
    assert!(!String::from_utf8_lossy(&all).contains("PRIVATE KEY"));
    for (path, bytes) in read_tree(&out_dir) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("OPENSSH PRIVATE KEY"),
            "{path} holds the SSH key"
        );
    }
}

#[test]
fn an_existing_output_is_never_overwritten_without_force() {
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.tar.gz");
    fs::write(&archive, "precious").unwrap();
    let out = live.collect(&archive, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&archive.display().to_string()),
        "names the path"
    );
    assert!(stderr(&out).contains("--force"), "says what to do");
    assert_eq!(fs::read_to_string(&archive).unwrap(), "precious");
    assert_eq!(
        fs::read_dir(work.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    // --force replaces an earlier output, never a file that cannot be one
    // (a log, when the output is named inside a folder being collected).
    let out = live.collect(&archive, &["--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not an archive"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read_to_string(&archive).unwrap(), "precious");
    fs::remove_file(&archive).unwrap();
    assert!(live.collect(&archive, &[]).status.success());
    assert!(live.collect(&archive, &["--force"]).status.success());
    tool_ok(Command::new("tar").arg("-tzf").arg(&archive));

    // The same for the manifest's copy: an earlier one, never a log.
    let log = work.path().join("r.log");
    fs::write(&log, "a log line\n").unwrap();
    let out = live.collect(
        &archive,
        &["--force", "--manifest-out", log.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a logkeep manifest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read_to_string(&log).unwrap(), "a log line\n");
    let copy = work.path().join("m.json");
    let twice = ["--force", "--manifest-out", copy.to_str().unwrap()];
    assert!(live.collect(&archive, &twice).status.success());
    assert!(live.collect(&archive, &twice).status.success());

    // Nor a FIFO, for either (reading one to tell would wait for a writer),
    // nor a folder for the copy.
    let fifo = work.path().join("fifo.tar.gz");
    mkfifo(&fifo);
    let folder_copy = work.path().join("copies");
    fs::create_dir(&folder_copy).unwrap();
    for (output, args) in [
        (&fifo, vec!["--force"]),
        (
            &archive,
            vec!["--force", "--manifest-out", fifo.to_str().unwrap()],
        ),
        (
            &archive,
            vec!["--force", "--manifest-out", folder_copy.to_str().unwrap()],
        ),
    ] {
        let out = live.collect(output, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("exists and is not a file"),
            "{}",
            stderr(&out)
        );
    }
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // A folder is replaced only if it is an earlier logkeep output.
    let folder = work.path().join("mine");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("notes.txt"), "keep me").unwrap();
    let out = live.collect(&folder, &["--format", "dir", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a logkeep output"),
        "{}",
        stderr(&out)
    );
    assert!(folder.join("notes.txt").exists());

    // Nor a folder that only has a file of that name…
    fs::write(folder.join("manifest.json"), "{}").unwrap();
    let out = live.collect(&folder, &["--format", "dir", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a logkeep manifest"),
        "{}",
        stderr(&out)
    );
    assert!(folder.join("notes.txt").exists());

    // …nor an earlier output to which the user added a file. Unchanged, it is.
    let earlier = work.path().join("earlier");
    assert!(
        live.collect(&earlier, &["--format", "dir"])
            .status
            .success()
    );
    fs::write(earlier.join("my-notes.txt"), "keep me").unwrap();
    let out = live.collect(&earlier, &["--format", "dir", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("my-notes.txt") && stderr(&out).contains("does not list"),
        "{}",
        stderr(&out)
    );
    assert!(earlier.join("my-notes.txt").exists());
    fs::remove_file(earlier.join("my-notes.txt")).unwrap();
    let out = live.collect(&earlier, &["--format", "dir", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The README's config example off CI: an include naming a variable this
/// machine does not set is skipped with a warning, the rest is collected.
#[test]
fn an_include_with_an_unset_variable_is_skipped_not_fatal() {
    let tree = Tree::new();
    let config = tree.config();
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("\n[[include]]\nglob = \"${LOGKEEP_TEST_UNSET}/_diag/*\"\ninto = \"_diag\"\n");
    fs::write(&config, text).unwrap();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.gz");
    let out = run(logkeep()
        .args(["collect", "--strict", "-c"])
        .arg(&config)
        .arg("-o")
        .arg(&archive)
        .env_remove("LOGKEEP_TEST_UNSET"));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("include \"${LOGKEEP_TEST_UNSET}/_diag/*\" skipped")
            && stderr(&out).contains("LOGKEEP_TEST_UNSET"),
        "{}",
        stderr(&out)
    );
    assert!(archive.exists());
    let listing = stdout(&run(Command::new("tar").arg("-tzf").arg(&archive)));
    assert!(
        listing.contains("bats-lima-controller/"),
        "the instances are collected: {listing}"
    );
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.zip");
    let out = run_ok(
        logkeep()
            .args(["collect", "--dry-run", "--config"])
            .arg(live.tree.config())
            .arg("-o")
            .arg(&archive),
    );
    let text = stdout(&out);
    assert!(
        text.contains("-> bats-lima-controller/lima-test-stopped/serial.3.log"),
        "{text}"
    );
    assert!(text.contains("(socket)"), "{text}");
    assert!(!text.contains("note: "), "{text}");
    assert!(!archive.exists());
    assert_eq!(fs::read_dir(work.path()).unwrap().count(), 0);
    // What the real run would refuse is said.
    let missing = work.path().join("missing");
    let out = run_ok(
        logkeep()
            .args(["collect", "--dry-run", "--config"])
            .arg(live.tree.config())
            .arg("-o")
            .arg(missing.join("rdd-logs.zip")),
    );
    assert!(
        stdout(&out).contains(&format!(
            "note: {} is not a folder; the real run would fail",
            missing.display()
        )),
        "{}",
        stdout(&out)
    );

    let out = run_ok(
        logkeep()
            .args(["collect", "--dry-run", "--json", "--config"])
            .arg(live.tree.config())
            .arg("-o")
            .arg(&archive),
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned: BTreeSet<String> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(planned, live.expected().keys().cloned().collect());

    // Into a pipe that is closed (`| head`), the listing stops quietly.
    let mut child = logkeep()
        .args(["collect", "--dry-run", "--config"])
        .arg(live.tree.config())
        .arg("-o")
        .arg(&archive)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(!errors.contains("panicked"), "{errors}");
    assert!(out.status.success(), "{:?} {errors}", out.status);
}

#[test]
fn json_summary_and_manifest_copy_beside_the_archive() {
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.tar.gz");
    let copy = work.path().join("rdd-logs.manifest.json");
    let out = live.collect(
        &archive,
        &["--json", "--manifest-out", copy.to_str().unwrap()],
    );
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["manifest"]["totals"]["files"],
        live.expected().len()
    );
    validate_manifest(&copy);
    assert_eq!(manifest_json(&copy)["files"], summary["manifest"]["files"]);
}

/// The manifest's copy is uploaded with the archive, often by another user
/// than the one who collected (a job container running as root): it is as
/// readable as the archive, not private like the temporary file it was.
#[test]
fn the_manifest_copy_is_as_readable_as_the_archive() {
    use std::os::unix::fs::PermissionsExt;
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("rdd-logs.tar.gz");
    let copy = work.path().join("rdd-logs.manifest.json");
    run_ok(
        collect_cmd(tree.config(), &archive)
            .arg("--manifest-out")
            .arg(&copy),
    );
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&archive), 0o644);
    assert_eq!(mode(&copy), 0o644);
}

#[test]
fn flags_give_one_instance_and_missing_folders_are_not_errors() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    run_ok(
        logkeep()
            .args(["collect", "--instance", "solo", "--log-dir"])
            .arg(tree.path(Tree::APP_LOG_DIR))
            .arg("--lima-home")
            .arg(tree.path("does/not/exist"))
            .arg("-o")
            .arg(&out_dir)
            .args(["--format", "dir"]),
    );
    let files = read_tree(&out_dir);
    assert!(files.contains_key("solo/rdd.stderr.log"));
    let m = manifest_json(&out_dir.join("manifest.json"));
    assert_eq!(m["instances"][0]["lima_home_found"], false);
    assert_eq!(m["instances"][0]["log_dir_found"], true);
}

#[test]
fn preserve_first_moves_vm_logs_then_collects_them_from_the_log_dir() {
    let live = LiveTree::new();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    assert!(
        live.collect(&out_dir, &["--preserve", "--format", "dir"])
            .status
            .success()
    );
    let files = read_tree(&out_dir);
    assert!(files.contains_key("bats-lima-controller/test-stopped/serial.3.log"));
    assert!(files.contains_key("bats-app-controller/app/ha.stderr.log"));
    assert!(
        !files
            .keys()
            .any(|p| p.contains("/lima-test-stopped/") || p.contains("/lima-app/")),
        "no VM logs left in the Lima homes"
    );
    let m = manifest_json(&out_dir.join("manifest.json"));
    assert_eq!(m["preserved"].as_array().unwrap().len(), 16 + 4);
    validate_manifest(&out_dir.join("manifest.json"));
}

#[test]
fn errors_name_the_path_and_say_what_to_do() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();

    let out = run(&mut collect_cmd(
        tree.config(),
        work.path().join("no/such/dir/x.tar.gz"),
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint:"), "{}", stderr(&out));

    let out = run(&mut collect_cmd(tree.config(), work.path().join("x.rar")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--format"), "{}", stderr(&out));

    let missing = work.path().join("nope.toml");
    let out = run(&mut collect_cmd(&missing, work.path().join("x.zip")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.toml"), "{}", stderr(&out));

    let bad = work.path().join("bad.toml");
    fs::write(&bad, "[[instance]]\nname = \"a\"\nlog-dir = \"x\"\n").unwrap();
    let out = run(&mut collect_cmd(&bad, work.path().join("x.zip")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.toml") && stderr(&out).contains("log-dir"),
        "{}",
        stderr(&out)
    );

    let out = run(logkeep().args(["collect", "-o", "x.zip"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nothing to collect"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_dir(work.path()).unwrap().count(),
        1,
        "only bad.toml: no output, no temp file"
    );
}

#[test]
fn python_tools_are_present_for_the_checks() {
    // The checks above lean on these; fail loudly rather than skip.
    require_python_module("jsonschema", "jsonschema");
    require_tool("sha256sum", "coreutils");
}

/// Regression: a VM log whose name is not UTF-8 made `collect --preserve`
/// panic while writing the manifest, after the logs had been moved.
#[test]
fn a_log_name_that_is_not_utf8_is_preserved_and_collected() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tree = Tree::new();
    let vm = tree.path(Tree::LIMA_HOME).join("test-stopped");
    fs::write(vm.join(OsStr::from_bytes(b"bad\xffname.log")), "bytes\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.zip");
    let out = run(logkeep()
        .args(["collect", "--preserve", "--json", "--config"])
        .arg(tree.config())
        .arg("-o")
        .arg(&archive));
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = summary["manifest"]["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "bats-lima-controller/test-stopped/bad%FFname.log")
    );
    let moved = summary["manifest"]["preserved"].as_array().unwrap();
    assert!(
        moved
            .iter()
            .any(|m| m["to"].as_str().unwrap().ends_with("bad\\xffname.log")),
        "{moved:?}"
    );
    tool_ok(Command::new("unzip").arg("-tq").arg(&archive));
}

#[test]
fn include_globs_never_reach_the_lima_ssh_key() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let glob = format!("{}/**/*", tree.path(Tree::LIMA_HOME).display());
    let out = run_ok(
        logkeep()
            .args(["collect", "--format", "dir", "--include", &glob, "-o"])
            .arg(&out_dir),
    );
    let files = read_tree(&out_dir);
    assert!(
        files.keys().any(|p| p.starts_with("extra/test-stopped/")),
        "{:?}",
        files.keys()
    );
    assert!(
        !files.keys().any(|p| p.contains("_config")),
        "{:?}",
        files.keys()
    );
    let m = manifest_json(&out_dir.join("manifest.json"));
    assert!(
        m["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["reason"] == "lima-config")
    );
    assert!(stdout(&out).contains("wrote"));
}

#[test]
fn missing_folders_and_empty_globs_are_warned_about_and_fail_strict() {
    let work = tempfile::tempdir().unwrap();
    let out = run(logkeep()
        .args([
            "collect",
            "--instance",
            "x",
            "--log-dir",
            "/nope/typo",
            "--include",
            "/nope/glob/*",
            "--strict",
            "-o",
        ])
        .arg(work.path().join("a.tar.gz")));
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("/nope/typo") && err.contains("not found"),
        "{err}"
    );
    assert!(
        err.contains("/nope/glob/*") && err.contains("matched no file"),
        "{err}"
    );
}

/// A folder that is there but holds no log (a wrong path such as `/etc`,
/// or an instance's folders left empty) makes an archive of nothing: said,
/// and a failure with `--strict`, as a missing folder is.
#[test]
fn an_instance_whose_folders_hold_no_log_is_warned_about_and_fails_strict() {
    let work = tempfile::tempdir().unwrap();
    let not_logs = work.path().join("etc");
    fs::create_dir_all(not_logs.join("ssh")).unwrap();
    fs::write(not_logs.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    let empty = work.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = run(logkeep()
        .args(["collect", "--instance", "x", "--log-dir"])
        .arg(&not_logs)
        .arg("--lima-home")
        .arg(&empty)
        .arg("--strict")
        .arg("-o")
        .arg(work.path().join("a.tar.gz")));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: {}: instance x has no log here nor in {}; nothing collected from it \
             (is this its folder? `logkeep collect --dry-run` lists what is skipped and why)",
            not_logs.display(),
            empty.display()
        )),
        "{err}"
    );
    // A folder with nothing in it: the instance wrote nothing, or this is
    // not its folder.
    let out = run(logkeep()
        .args(["collect", "--instance", "x", "--log-dir"])
        .arg(&empty)
        .arg("--lima-home")
        .arg(work.path().join("none"))
        .arg("--force")
        .arg("-o")
        .arg(work.path().join("a.tar.gz")));
    assert!(
        stderr(&out).contains(&format!(
            "warning: {}: instance x has no log here; nothing collected from it \
             (the folder is empty: did the instance run, and is this its folder?)",
            empty.display()
        )),
        "{}",
        stderr(&out)
    );
    // One folder with a log is enough: nothing to say.
    fs::write(empty.join("ha.stderr.log"), "up\n").unwrap();
    let out = run(logkeep()
        .args(["collect", "--instance", "x", "--log-dir"])
        .arg(&not_logs)
        .arg("--lima-home")
        .arg(work.path())
        .arg("--strict")
        .arg("--force")
        .arg("-o")
        .arg(work.path().join("a.tar.gz")));
    assert!(!stderr(&out).contains("has no log"), "{}", stderr(&out));
}

#[test]
fn nothing_moves_when_the_output_would_be_refused() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("exists.tar.gz");
    fs::write(&archive, "old").unwrap();
    let out = run(logkeep()
        .args(["collect", "--preserve", "-c"])
        .arg(tree.config())
        .arg("-o")
        .arg(&archive));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        tree.path(Tree::LIMA_HOME)
            .join("test-stopped/serial.log")
            .exists(),
        "no log was preserved"
    );

    let out = run(logkeep()
        .args(["collect", "--preserve", "-c"])
        .arg(tree.config())
        .arg("-o")
        .arg(work.path().join("new.tar.gz"))
        .arg("--manifest-out")
        .arg(work.path().join("no/such/dir/m.json")));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
    assert!(
        tree.path(Tree::LIMA_HOME)
            .join("test-stopped/serial.log")
            .exists(),
        "no log was preserved"
    );
    assert!(!work.path().join("new.tar.gz").exists());

    // The manifest's copy named as the output itself (even spelt otherwise).
    fs::create_dir(work.path().join("sub")).unwrap();
    let out = run(logkeep()
        .args(["collect", "--preserve", "-c"])
        .arg(tree.config())
        .arg("-o")
        .arg(work.path().join("same.tar.gz"))
        .arg("--manifest-out")
        .arg(work.path().join("sub/../same.tar.gz")));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is the output itself"),
        "{}",
        stderr(&out)
    );
    assert!(
        tree.path(Tree::LIMA_HOME)
            .join("test-stopped/serial.log")
            .exists(),
        "no log was preserved"
    );
    assert!(!work.path().join("same.tar.gz").exists());
}

#[test]
fn bad_names_and_stdout_output_are_usage_errors() {
    let tree = Tree::new();
    let out = run(logkeep()
        .args(["preserve", "--vm", "../../etc", "--lima-home"])
        .arg(tree.path(Tree::LIMA_HOME))
        .arg("--log-dir")
        .arg(tree.path(Tree::LIMA_LOG_DIR)));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("../../etc"), "{}", stderr(&out));
    let out = run(logkeep()
        .args(["collect", "-c"])
        .arg(tree.config())
        .args(["-o", "-", "--format", "tar.gz"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("standard output"), "{}", stderr(&out));
    let out = run(logkeep().args(["collect", "--include", "", "-o", "x.tar.gz"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("an include glob is empty"),
        "{}",
        stderr(&out)
    );
}

/// Every way a file goes through the packer, many files deep so that they
/// cross the reader's batches: small files read whole (some redacted), one
/// read whole that ends a batch by its size alone (with a token), a large
/// clean file (hashed by its scan, streamed under the guard), a large
/// file with a token (two redaction passes), a large key file (skipped by its
/// first bytes), an empty file. Each archive holds them in path order, each
/// entry's bytes match the manifest's size and SHA-256, and clean files are
/// the sources byte for byte. Read back with Python's tarfile and zipfile.
#[test]
fn every_path_through_the_packer_keeps_order_bytes_and_checksums() {
    require_tool("zstd", "zstd");
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let line = |i: usize| {
        format!(
            "time=\"2026-06-11T04:50:{:02}Z\" level=info msg=\"line {i}\"\n",
            i % 60
        )
    };
    let text = |lines: usize| (0..lines).map(line).collect::<String>();
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0".repeat(2));
    let mut clean = BTreeMap::new();
    for i in 0..300 {
        let name = format!("svc.{i:03}.log");
        let mut body = text(20 + i % 7);
        if i % 50 == 7 {
            body.push_str(&format!("token={token}\n"));
        } else {
            clean.insert(name.clone(), body.clone().into_bytes());
        }
        fs::write(logs.join(&name), body).unwrap();
    }
    let big_clean = text(120_000); // about 6 MiB
    clean.insert("big-clean.log".into(), big_clean.clone().into_bytes());
    fs::write(logs.join("big-clean.log"), &big_clean).unwrap();
    fs::write(
        logs.join("big-token.log"),
        format!(
            "{}Authorization: Bearer {token}\n{}",
            text(60_000),
            text(60_000)
        ),
    )
    .unwrap();
    fs::write(
        logs.join("mid-token.log"),
        format!("{}password={token}\n", text(12_000)), // about 650 KiB
    )
    .unwrap();
    fs::write(
        logs.join("key.log"),
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}", text(100_000)),
    )
    .unwrap();
    fs::write(logs.join("empty.log"), "").unwrap();
    clean.insert("empty.log".into(), Vec::new());

    let work = tempfile::tempdir().unwrap();
    for format in ["tar.gz", "tar.zst", "zip"] {
        let archive = work.path().join(format!("out.{format}"));
        run_ok(
            logkeep()
                .args(["collect", "--quiet", "--instance", "x", "--log-dir"])
                .arg(&logs)
                .arg("-o")
                .arg(&archive),
        );
        run_ok(logkeep().arg("verify").arg(&archive));
        // Python lists the entries in archive order, with each one's SHA-256
        // and, for the files named on the command line, its bytes.
        let out = python(
            "import hashlib, io, json, subprocess, sys, tarfile, zipfile\n\
             path = sys.argv[1]\n\
             if path.endswith('.zip'):\n\
             \x20   z = zipfile.ZipFile(path)\n\
             \x20   entries = [(i.filename, z.read(i)) for i in z.infolist()]\n\
             else:\n\
             \x20   if path.endswith('.zst'):\n\
             \x20       raw = subprocess.run(['zstd', '-dc', path], capture_output=True, check=True).stdout\n\
             \x20       t = tarfile.open(fileobj=io.BytesIO(raw))\n\
             \x20   else:\n\
             \x20       t = tarfile.open(path)\n\
             \x20   entries = [(m.name, t.extractfile(m).read()) for m in t.getmembers()]\n\
             print(json.dumps([[n, hashlib.sha256(b).hexdigest(), b.hex()] for n, b in entries]))\n",
            &[&archive],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let entries: Vec<(String, String, String)> =
            serde_json::from_slice(&out.stdout).expect("a JSON list");
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        let (last, files) = names.split_last().unwrap();
        assert_eq!(*last, "manifest.json", "{format}");
        let mut sorted = files.to_vec();
        sorted.sort();
        assert_eq!(files, sorted.as_slice(), "{format}: entries in path order");
        assert_eq!(files.len(), 304, "{format}: all but the key file");
        assert!(!files.contains(&"x/key.log"), "{format}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&hex::decode(&entries.last().unwrap().2).unwrap()).unwrap();
        let recorded: BTreeMap<&str, &str> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["sha256"].as_str().unwrap()))
            .collect();
        for (name, sha256, hex_bytes) in &entries[..entries.len() - 1] {
            assert_eq!(
                recorded.get(name.as_str()),
                Some(&sha256.as_str()),
                "{format}: {name}"
            );
            let bytes = hex::decode(hex_bytes).unwrap();
            let file = name.trim_start_matches("x/");
            match clean.get(file) {
                Some(original) => assert!(&bytes == original, "{format}: {name} changed"),
                None => {
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(!text.contains(&token), "{format}: {name} holds the token");
                    assert!(
                        text.contains("[REDACTED:"),
                        "{format}: {name} has no marker"
                    );
                }
            }
        }
    }
}

/// `collect --include '_diag/*' --include-into INTO -o OUTPUT`.
fn collect_into(into: &str, output: &Path) -> std::process::Output {
    run(logkeep()
        .args([
            "collect",
            "--include",
            "_diag/*",
            "--include-into",
            into,
            "-o",
        ])
        .arg(output))
}

/// Regression: `--include-into /abs` was refused as `include folder name ""`
/// and `../up` as `".."`: the message named a piece, not what was given.
#[test]
fn a_bad_include_folder_is_named_whole_with_what_is_allowed() {
    let work = tempfile::tempdir().unwrap();
    for into in ["/abs", "../up", "ci//diag", "a\\b"] {
        let out = collect_into(into, &work.path().join("a.tar.gz"));
        assert_eq!(out.status.code(), Some(2), "{into}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("include folder {into:?}")),
            "{into:?} not named whole: {err}"
        );
        assert!(err.contains("--include-into"), "{err}");
        assert!(
            err.contains("relative") && err.contains("'..'") && err.contains("ci/_diag"),
            "what is allowed: {err}"
        );
        assert_eq!(fs::read_dir(work.path()).unwrap().count(), 0);
    }
}

/// Regression: a glob with `**` that matched only folders was told to add
/// `/**` to one of them; and a walk that failed somewhere also said the glob
/// "matched no file", when files there may have matched.
#[test]
fn a_recursive_glob_or_a_failed_walk_gets_no_folder_advice() {
    let work = tempfile::tempdir().unwrap();
    fs::create_dir_all(work.path().join("_diag/empty")).unwrap();
    let out = run(logkeep().current_dir(work.path()).args([
        "collect",
        "--include",
        "_diag/**",
        "-o",
        "a.tar.gz",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("include glob matched no file"), "{err}");
    assert!(!err.contains("is a folder"), "{err}");

    // A folder whose path is longer than the system takes (PATH_MAX, 4096
    // bytes), made one step at a time from inside.
    let made = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import os\nos.mkdir('deep')\nfd = os.open('deep', os.O_RDONLY)\n\
             for _ in range(20):\n    os.mkdir('d' * 250, dir_fd=fd)\n    \
             fd = os.open('d' * 250, os.O_RDONLY, dir_fd=fd)\n",
        )
        .current_dir(work.path())
        .status()
        .unwrap();
    assert!(made.success());
    let out = run(logkeep().current_dir(work.path()).args([
        "collect",
        "--include",
        "deep/**",
        "-o",
        "b.tar.gz",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("cannot read while matching include glob"),
        "{err}"
    );
    assert!(!err.contains("matched no file"), "{err}");
}

/// Regression: `--include _diag`, a folder, said only "include glob matched
/// no file"; the warning says it is a folder and how to take what is in it.
#[test]
fn an_include_naming_a_folder_says_so_and_suggests_a_glob() {
    let work = tempfile::tempdir().unwrap();
    fs::create_dir_all(work.path().join("_diag/perf")).unwrap();
    fs::write(work.path().join("_diag/machine-info.txt"), "os\n").unwrap();
    fs::write(work.path().join("_diag/perf/typeperf.tsv"), "cpu\n").unwrap();
    let out = run(logkeep().current_dir(work.path()).args([
        "collect",
        "--include",
        "_diag",
        "-o",
        "a.tar.gz",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    // As the run sees its working folder: with links resolved.
    let folder = work.path().canonicalize().unwrap().join("_diag");
    assert!(
        err.contains(&format!("{} is a folder", folder.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("'{}/**'", folder.display())),
        "suggests the glob of everything below it: {err}"
    );

    // The suggestion works: every file below the folder is collected.
    let suggested = format!("{}/**", folder.display());
    run_ok(
        logkeep()
            .args(["collect", "--format", "dir", "--include", &suggested, "-o"])
            .arg(work.path().join("out")),
    );
    let files = read_tree(&work.path().join("out"));
    assert!(
        files.contains_key("extra/machine-info.txt")
            && files.contains_key("extra/perf/typeperf.tsv"),
        "{:?}",
        files.keys()
    );
}

/// Instance and include folders are archive folders as they are named: a
/// name Windows cannot create (`aux`, `a?b`, `logs.`) would make an archive
/// that cannot be extracted there, so it is refused before anything is
/// written, as a `:` is.
#[test]
fn archive_folder_names_windows_cannot_create_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    fs::create_dir(&logs).unwrap();
    fs::write(logs.join("rdd.stderr.log"), "line\n").unwrap();
    let archive = work.path().join("a.tar.gz");
    for instance in ["aux", "a?b", "logs.", "com1"] {
        let out = run(logkeep()
            .args(["collect", "--instance", instance, "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&archive));
        assert_ne!(out.status.code(), Some(0), "{instance}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("instance name {instance:?}")) && err.contains("Windows"),
            "{instance}: {err}"
        );
        assert!(!archive.exists(), "{instance}");
    }
    for into in ["ci/nul", "a|b"] {
        let out = collect_into(into, &archive);
        assert_ne!(out.status.code(), Some(0), "{into}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("include folder {into:?}")) && err.contains("Windows"),
            "{into}: {err}"
        );
        assert!(!archive.exists(), "{into}");
    }
}

/// An include glob over a VM's folder (or a whole Lima home) leaves out its
/// disk and cloud-init images: gigabytes of mostly holes and no log. The
/// manifest lists each under `skipped` as `vm-image`; the rest is collected.
#[test]
fn include_globs_leave_out_vm_images() {
    let tree = Tree::new();
    let vm = tree.path(Tree::LIMA_HOME).join("test-stopped");
    for (name, len) in [
        ("disk", 64 << 20),
        ("basedisk", 1 << 20),
        ("cidata.iso", 1 << 20),
    ] {
        fs::File::create(vm.join(name))
            .unwrap()
            .set_len(len)
            .unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.gz");
    let glob = format!("{}/*", vm.display());
    run_ok(collect_cmd(tree.config(), &archive).args(["--include", &glob]));
    let manifest_path = work.path().join("manifest.json");
    run_ok(
        logkeep()
            .arg("cat")
            .arg(&archive)
            .arg("manifest.json")
            .stdout(fs::File::create(&manifest_path).unwrap()),
    );
    validate_manifest(&manifest_path);
    let manifest = manifest_json(&manifest_path);
    let images: BTreeSet<String> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "vm-image")
        .map(|s| {
            s["source"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        images,
        BTreeSet::from(["basedisk", "cidata.iso", "disk"].map(String::from)),
        "{manifest}"
    );
    let extra: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .filter(|p| p.starts_with("extra/"))
        .collect();
    assert!(extra.iter().any(|p| p.ends_with("/lima.yaml")), "{extra:?}");
    assert!(
        !extra
            .iter()
            .any(|p| p.ends_with("disk") || p.ends_with(".iso")),
        "{extra:?}"
    );
}
