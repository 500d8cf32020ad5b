//! Test helpers: the real binary, a scratch copy of the fixture tree, and the
//! real tools users check archives with. A missing tool fails the test with
//! what to install: no test skips silently.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/rdd");

pub fn logkeep() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_logkeep"));
    // The environment of a CI job must not change what the tests see.
    for variable in [
        "RDD_KEEP_LOGS",
        "RDD_LOG_DIR",
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
    ] {
        command.env_remove(variable);
    }
    command
}

/// `logkeep collect -c CONFIG -o OUTPUT`, for more arguments to be added.
pub fn collect_cmd(
    config: impl AsRef<std::ffi::OsStr>,
    output: impl AsRef<std::ffi::OsStr>,
) -> Command {
    let mut command = logkeep();
    command
        .arg("collect")
        .arg("-c")
        .arg(config)
        .arg("-o")
        .arg(output);
    command
}

/// Run and return the output, printing it if the test fails later.
pub fn run(command: &mut Command) -> Output {
    let output = command.output().expect("the command starts");
    eprintln!(
        "$ {command:?}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn run_ok(command: &mut Command) -> Output {
    let output = run(command);
    assert!(output.status.success(), "command failed: {command:?}");
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Make a FIFO at `path` (what a serial console or a pipe leaves in a log folder).
pub fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Fail with what to do when a tool the test needs is missing.
pub fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is not installed; run ./scripts/test, which installs {package}, or install it yourself"
    );
}

pub fn require_python_module(module: &str, package: &str) {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 module {module} is missing; run ./scripts/test, which installs {package} with pip"
    );
}

/// A scratch copy of `fixtures/rdd`, with the config pointing into it.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().expect("a temp dir");
        copy_tree(Path::new(FIXTURE), dir.path());
        Tree { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config(&self) -> PathBuf {
        self.path("logkeep.toml")
    }

    pub const LIMA_LOG_DIR: &'static str = "logs/rancher-desktop-bats-lima-controller";
    pub const LIMA_HOME: &'static str = "rdbats-lima-controller/lima";
    pub const APP_LOG_DIR: &'static str = "logs/rancher-desktop-bats-app-controller";
    pub const APP_LIMA_HOME: &'static str = "rdbats-app-controller/lima";
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every regular file below `root`, by relative `/` path, with its bytes.
pub fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            walk(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(relative, fs::read(&path).unwrap());
        }
    }
}

pub fn python(script: &str, args: &[&Path]) -> Output {
    let mut command = Command::new("python3");
    command.arg("-c").arg(script).args(args);
    run(&mut command)
}

/// Validate a manifest against the repository's JSON Schema.
pub fn validate_manifest(manifest: &Path) {
    validate_json("manifest.schema.json", &[manifest_json(manifest)]);
}

/// Validate each JSON document against a schema of `schema/` with Python's
/// jsonschema, the reference implementation (the schema itself is checked
/// too, and `format`s such as `date-time` are enforced).
pub fn validate_json(schema: &str, documents: &[serde_json::Value]) {
    require_python_module("jsonschema", "jsonschema");
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs.json");
    fs::write(&docs, serde_json::to_vec(documents).unwrap()).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(schema);
    let out = python(
        "import json, sys, jsonschema\n\
         schema = json.load(open(sys.argv[1]))\n\
         jsonschema.Draft202012Validator.check_schema(schema)\n\
         v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())\n\
         for doc in json.load(open(sys.argv[2])): v.validate(doc)\n",
        &[&schema, &docs],
    );
    assert!(
        out.status.success(),
        "does not match {}: {}",
        schema.display(),
        stderr(&out)
    );
}

pub fn manifest_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).expect("manifest.json is JSON")
}

/// A tar.zst in `dir` holding one log of 200 MiB of dated lines: reading it
/// keeps a command busy long enough to be interrupted.
pub fn big_archive(dir: &Path) -> PathBuf {
    use std::io::Write;
    let logs = dir.join("big");
    fs::create_dir_all(logs.join("inst")).unwrap();
    let mut out = std::io::BufWriter::new(fs::File::create(logs.join("inst/big.log")).unwrap());
    let (mut written, mut ms) = (0usize, 0u64);
    while written < 200 << 20 {
        let line = format!(
            "2026-06-11T{:02}:{:02}:{:02}.{:03}Z INFO step {ms} of the long job went fine\n",
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len();
        ms += 1;
    }
    out.flush().unwrap();
    let archive = dir.join("big.tar.zst");
    run_ok(
        Command::new("tar")
            .args(["--zstd", "-cf"])
            .arg(&archive)
            .arg("-C")
            .arg(&logs)
            .arg("inst"),
    );
    fs::remove_dir_all(&logs).unwrap();
    archive
}

/// Start `command`, send it `signal` (`INT`, `TERM`) once `ready` says it is
/// under way, and return its exit code and what it said on stderr.
pub fn signal_when(
    command: &mut Command,
    signal: &str,
    ready: impl Fn(u32) -> bool,
) -> (Option<i32>, String) {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready(child.id()) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the command ended ({status}) before it could be signalled: {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the command never got under way"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    run_ok(
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string()),
    );
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// A 256 KiB tmpfs, unmounted when dropped (the folder goes after it).
pub struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    pub fn new() -> SmallDisk {
        let mount = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(mount.path())
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "this test mounts a small tmpfs (needs root, as tests have here)"
        );
        SmallDisk { mount }
    }

    pub fn path(&self) -> &Path {
        self.mount.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.mount.path()).status();
    }
}
