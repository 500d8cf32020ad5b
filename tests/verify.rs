//! `logkeep verify`: every format, GitHub's zip around it, and tampering found.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Tree, logkeep, mkfifo, python, run, run_ok, stderr, stdout, validate_json};

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
    // All at once, for scripts: one clean verdict per input, in order.
    let names = ["out.tar.zst", "folder", "gh-folder.zip"];
    let out = run_ok(
        logkeep()
            .args(["verify", "--json"])
            .args(names.map(|name| w.join(name))),
    );
    let verdicts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_json("verify.schema.json", std::slice::from_ref(&verdicts));
    for (verdict, name) in verdicts.as_array().unwrap().iter().zip(names) {
        assert_eq!(verdict["input"], w.join(name).display().to_string());
        assert_eq!(
            (&verdict["files"], &verdict["ok"]),
            (&42.into(), &42.into())
        );
        assert_eq!(verdict["changed"], serde_json::json!([]), "{verdict}");
    }
    assert_eq!(verdicts.as_array().unwrap().len(), names.len());
}

/// A folder output packed again by hand under its folder's name (`zip -r`,
/// GNU tar, bsdtar, macOS's Compress with its `__MACOSX/` entries), or with
/// `./` names (`tar -C folder .`), or unzipped into a folder of its own, is
/// read as the output: every command finds its manifest and its names.
#[test]
fn an_output_packed_again_by_hand_is_read_as_the_output() {
    common::require_tool("bsdtar", "libarchive-tools");
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    collect(&tree, &w.join("rdd-logs"), &["--format", "dir"]);
    let sh = |script: &str| {
        let status = Command::new("sh")
            .args(["-ec", script])
            .current_dir(w)
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    };
    sh("zip -qr info-zip.zip rdd-logs");
    sh("tar czf gnu.tar.gz rdd-logs");
    sh("tar --zstd -cf dotted.tar.zst -C rdd-logs .");
    sh("tar czf dotted-folder.tgz ./rdd-logs");
    sh("bsdtar -a -cf bsdtar.zip rdd-logs");
    sh("mkdir unzipped && cd unzipped && unzip -q ../info-zip.zip");
    // macOS's Compress: the folder's entries, and an `__MACOSX/` copy of
    // each file's attributes.
    let finder = python(
        r#"
import sys, zipfile, pathlib
root = pathlib.Path(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(root.rglob("*")):
        name = str(p.relative_to(root.parent))
        z.write(p, name)
        if p.is_file():
            parent, _, leaf = name.rpartition("/")
            z.writestr(f"__MACOSX/{parent}/._{leaf}", b"\0\5\26\7")
"#,
        &[&w.join("rdd-logs"), &w.join("finder.zip")],
    );
    assert!(finder.status.success(), "{}", stderr(&finder));
    for name in [
        "info-zip.zip",
        "gnu.tar.gz",
        "dotted.tar.zst",
        "dotted-folder.tgz",
        "bsdtar.zip",
        "finder.zip",
        "unzipped",
    ] {
        let input = w.join(name);
        let says = |command: &str, expected: &str| {
            let out = run_ok(logkeep().arg(command).arg(&input));
            assert!(
                stdout(&out).contains(expected),
                "{name} {command}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        };
        says("verify", "42 of 42 files match the manifest");
        says("summary", "by logkeep");
        let out = run_ok(
            logkeep()
                .args(["cat"])
                .arg(&input)
                .arg("_diag/typeperf.tsv"),
        );
        assert_eq!(
            out.stdout,
            fs::read(w.join("rdd-logs/_diag/typeperf.tsv")).unwrap(),
            "{name}"
        );
    }
    // A path as `unzip -l` lists it, with the folder: the hint says the
    // path to give.
    let out = run(logkeep()
        .arg("cat")
        .arg(w.join("info-zip.zip"))
        .arg("rdd-logs/_diag/typeperf.tsv"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "hint: the output is read without the folder it was packed under: `logkeep cat "
        ) && stderr(&out).ends_with("info-zip.zip _diag/typeperf.tsv`\n"),
        "{}",
        stderr(&out)
    );
    // A file packed beside the output's folder is read as it is: not in
    // the manifest.
    sh("echo notes > notes.txt && zip -qr beside.zip rdd-logs notes.txt");
    let out = run(logkeep().arg("verify").arg(w.join("beside.zip")));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("42 of 42 files match the manifest:\n  not in the manifest: notes.txt"),
        "{}",
        stdout(&out)
    );
    // Logs packed under a folder without a manifest keep their names.
    sh(
        "mkdir -p plain/vm && echo 'level=error msg=boom' > plain/vm/a.log && tar czf plain.tgz plain",
    );
    let out = run_ok(
        logkeep()
            .args(["grep", "-H", "boom"])
            .arg(w.join("plain.tgz")),
    );
    assert!(stdout(&out).contains("plain/vm/a.log:"), "{}", stdout(&out));
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
    std::os::unix::fs::symlink("/etc/passwd", folder.join("link.log")).unwrap();
    mkfifo(&folder.join("fifo.log"));
    let out = run(logkeep().args(["verify", "--json"]).arg(&folder));
    assert_eq!(out.status.code(), Some(3));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_json("verify.schema.json", std::slice::from_ref(&verdict));
    assert_eq!(
        verdict[0]["changed"][0],
        "bats-lima-controller/rdd.stdout.log"
    );
    assert_eq!(verdict[0]["missing"][0], "_diag/typeperf.tsv");
    assert_eq!(
        verdict[0]["unlisted"],
        serde_json::json!([
            "fifo.log (not a regular file)",
            "link.log (a symbolic link)",
            "smuggled.log"
        ])
    );
    assert_eq!(verdict[0]["ok"], 40);
}

/// A file the manifest records as NUL-filled at collection (it shrank
/// while read) matches its manifest, and `verify` says which it is: those
/// NUL bytes are not the log.
#[test]
fn files_nul_filled_at_collection_are_named_but_match() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("folder");
    collect(&tree, &folder, &["--format", "dir"]);
    // As a collection that met a log truncated under it records it.
    let manifest_path = folder.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    let record = manifest["files"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["path"] == "bats-lima-controller/rdd.stdout.log")
        .unwrap();
    record["changed_while_read"] = true.into();
    record["zero_filled"] = 100.into();
    fs::write(&manifest_path, manifest.to_string()).unwrap();
    let text = run_ok(logkeep().arg("verify").arg(&folder));
    assert!(
        stdout(&text).contains(
            "  note: bats-lima-controller/rdd.stdout.log holds 100 NUL bytes where its log \
             could not be read at collection"
        ),
        "{}",
        stdout(&text)
    );
    let json = run_ok(logkeep().args(["verify", "--json"]).arg(&folder));
    let verdict: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    validate_json("verify.schema.json", std::slice::from_ref(&verdict));
    assert_eq!(
        verdict[0]["nul_filled"],
        serde_json::json!([{"path": "bats-lima-controller/rdd.stdout.log", "zero_filled": 100}])
    );
}

#[test]
fn something_that_is_not_an_output_is_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let junk = work.path().join("notes.txt");
    fs::write(&junk, "hello").unwrap();
    let out = run(logkeep().arg("verify").arg(&junk));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("notes.txt") && stderr(&out).contains("not a logkeep output"));
}

#[test]
fn verify_json_gives_every_input_a_verdict_in_order_even_one_it_cannot_read() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("good.tar.zst");
    collect(&tree, &good, &[]);
    let junk = work.path().join("notes.txt");
    fs::write(&junk, "hello").unwrap();
    let out = run(logkeep().args(["verify", "--json"]).arg(&junk).arg(&good));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("notes.txt"));
    let verdicts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts = verdicts.as_array().unwrap();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    let (unread, read) = (&verdicts[0], &verdicts[1]);
    assert!(unread["input"].as_str().unwrap().ends_with("notes.txt"));
    assert!(
        unread["error"].as_str().unwrap().contains("notes.txt"),
        "{unread}"
    );
    assert_eq!(
        (unread["files"].as_u64(), unread["ok"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(read["input"].as_str().unwrap().ends_with("good.tar.zst"));
    assert_eq!(read["error"], serde_json::Value::Null);
    assert_eq!(read["ok"], 42);
    validate_json(
        "verify.schema.json",
        &[serde_json::Value::Array(verdicts.clone())],
    );
    // One input alone: still a verdict on stdout, and the error on stderr.
    let alone = run(logkeep().args(["verify", "--json"]).arg(&junk));
    assert_eq!(alone.status.code(), Some(1));
    let verdicts: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    assert!(verdicts[0]["error"].is_string(), "{verdicts}");
    assert!(stderr(&alone).contains("not a logkeep output"));
    // The text output is unchanged: the error on stderr, no verdict line.
    let text = run(logkeep().arg("verify").arg(&junk).arg(&good));
    assert_eq!(text.status.code(), Some(1));
    assert!(!stdout(&text).contains("notes.txt"), "{}", stdout(&text));
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
        stderr(&missing).contains("logkeep ls"),
        "{}",
        stderr(&missing)
    );
    // A file's name without its folder: the paths that end with it.
    for (name, hint) in [
        (
            "machine-info.txt",
            "hint: paths start with their folder: `logkeep cat ",
        ),
        (
            "rdd.stderr.log",
            "files of that name: bats-app-controller/rdd.stderr.log, \
             bats-lima-controller/rdd.stderr.log (",
        ),
    ] {
        let out = run(logkeep().arg("cat").arg(&archive).arg(name));
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(hint), "{}", stderr(&out));
    }
    let out = run(logkeep().arg("cat").arg(&archive).arg("machine-info.txt"));
    assert!(
        stderr(&out).contains(" _diag/machine-info.txt`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cat_of_a_file_the_manifest_lists_but_the_output_lost_says_so() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("m.d");
    collect(&tree, &folder, &["--format", "dir"]);
    let path = "bats-lima-controller/rdd.stderr.log";
    fs::remove_file(folder.join(path)).unwrap();
    let out = run(logkeep().arg("cat").arg(&folder).arg(path));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "has no file {path}: it is listed in the manifest but missing from the output"
        )) && err.contains("logkeep verify"),
        "{err}"
    );
    assert!(!err.contains("holds no file"), "{err}");
}

// Damaged and unreadable outputs ---------------------------------------------

const DAMAGED: &str = "bats-lima-controller/lima-test-stopped/serial.1.log";

/// A copy of the zip at `from` with 2 bytes flipped inside the compressed
/// data of the entry `name`.
fn flip_entry(from: &Path, to: &Path, name: &str) {
    let mut bytes = fs::read(from).unwrap();
    let (header, size) = {
        let mut zip = zip::ZipArchive::new(fs::File::open(from).unwrap()).unwrap();
        let entry = zip.by_name(name).unwrap();
        (
            entry.header_start() as usize,
            entry.compressed_size() as usize,
        )
    };
    let field = |at: usize| usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let data = header + 30 + field(header + 26) + field(header + 28);
    let middle = data + size / 2;
    bytes[middle] ^= 0xff;
    bytes[middle + 1] ^= 0xff;
    fs::write(to, bytes).unwrap();
}

#[test]
fn a_damaged_zip_entry_is_named_and_the_rest_is_still_read() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("out.zip");
    collect(&tree, &good, &["--format", "zip"]);
    let corrupt = work.path().join("corrupt.zip");
    flip_entry(&good, &corrupt, DAMAGED);

    // verify: one finding among the others, every other file checked, exit 3.
    let out = run(logkeep().arg("verify").arg(&corrupt));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("41 of 42 files match the manifest:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("unreadable: {DAMAGED}: Invalid checksum")),
        "{text}"
    );
    let out = run(logkeep().args(["verify", "--json"]).arg(&corrupt));
    assert_eq!(out.status.code(), Some(3));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_json("verify.schema.json", std::slice::from_ref(&verdict));
    assert_eq!(verdict[0]["ok"], 41);
    assert_eq!(verdict[0]["unreadable"][0]["path"], DAMAGED);
    assert_eq!(verdict[0]["missing"], serde_json::json!([]));
    assert_eq!(verdict[0]["not_checked"], serde_json::json!([]));
    assert_eq!(verdict[0]["stopped"], serde_json::Value::Null);

    // ls: the listing is the manifest's, whole; the damaged file is named.
    let out = run_ok(logkeep().arg("ls").arg(&corrupt));
    assert_eq!(stdout(&out).lines().count(), 43, "a header and 42 files");
    assert!(stderr(&out).contains(DAMAGED));

    // summary: the damaged log left out and named, the rest summed up.
    // Shown, but not whole: exit 3.
    let out = run(logkeep().arg("summary").arg(&corrupt));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains(&format!("unreadable  {DAMAGED}: Invalid checksum")),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains(DAMAGED));
    let damaged: serde_json::Value =
        serde_json::from_slice(&run(logkeep().args(["summary", "--json"]).arg(&corrupt)).stdout)
            .unwrap();
    let whole: serde_json::Value =
        serde_json::from_slice(&run_ok(logkeep().args(["summary", "--json"]).arg(&good)).stdout)
            .unwrap();
    let (damaged, whole) = (&damaged["inputs"][0], &whole["inputs"][0]);
    assert_eq!(damaged["unreadable"][0]["path"], DAMAGED);
    assert_eq!(damaged["has_manifest"], true);
    assert_eq!(damaged["tests"], whole["tests"]);
    assert_eq!(whole["unreadable"], serde_json::json!([]));
    validate_json(
        "summary.schema.json",
        &[serde_json::json!({"inputs": [damaged]})],
    );
}

#[test]
fn an_unreadable_file_of_a_folder_output_is_named_and_the_rest_checked() {
    use std::os::unix::fs::PermissionsExt;
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    // Tests run as root: `nobody` must reach the folder, not the one file.
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let folder = work.path().join("folder");
    collect(&tree, &folder, &["--format", "dir"]);
    let closed = "bats-lima-controller/rdd.stderr.log";
    fs::set_permissions(folder.join(closed), fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_logkeep"))
        .args(["verify", "--json"])
        .arg(&folder));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_json("verify.schema.json", std::slice::from_ref(&verdict));
    assert_eq!(verdict[0]["ok"], 41);
    assert_eq!(verdict[0]["unreadable"][0]["path"], closed);
    assert_eq!(verdict[0]["unreadable"][0]["reason"], "Permission denied");
    assert_eq!(verdict[0]["missing"], serde_json::json!([]));

    // ls and summary pass over it too, and read the files after it.
    let as_nobody = |args: &[&str]| {
        run(Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_logkeep"))
            .args(args)
            .arg(&folder))
    };
    let ls = as_nobody(&["ls"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let listed = stdout(&ls);
    assert_eq!(listed.lines().count(), 43, "{listed}");
    // A file after the closed one in path order keeps its times.
    let later = listed
        .lines()
        .find(|l| l.ends_with("bats-lima-controller/support-bundle.log"))
        .unwrap();
    assert!(later.contains("06-11"), "{later}");
    let summary = as_nobody(&["summary", "--json"]);
    assert_eq!(summary.status.code(), Some(3), "{}", stderr(&summary));
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    let input = &summary["inputs"][0];
    assert_eq!(input["unreadable"][0]["path"], closed, "{input}");
    assert_eq!(input["stopped"], serde_json::Value::Null, "{input}");
    assert!(input["first_error"].is_object(), "{input}");
}

#[test]
fn a_stream_damaged_after_its_manifest_leaves_the_rest_unchecked() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("folder");
    collect(&tree, &folder, &["--format", "dir"]);
    // The manifest first, then the logs: a tar.gz cut short loses logs only.
    let ordered = work.path().join("ordered.tar.gz");
    assert!(
        Command::new("tar")
            .arg("-C")
            .arg(&folder)
            .arg("-czf")
            .arg(&ordered)
            .args([
                "manifest.json",
                "_diag",
                "bats-app-controller",
                "bats-lima-controller"
            ])
            .status()
            .unwrap()
            .success()
    );
    let bytes = fs::read(&ordered).unwrap();
    let cut = work.path().join("cut.tar.gz");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = run(logkeep().args(["verify", "--json"]).arg(&cut));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_json("verify.schema.json", std::slice::from_ref(&verdict));
    let v = &verdict[0];
    let count = |key: &str| v[key].as_array().unwrap().len();
    assert!(v["stopped"].is_string(), "{v}");
    assert!(count("not_checked") > 0, "{v}");
    assert_eq!(count("missing"), 0, "not claimed missing: {v}");
    assert_eq!(
        v["ok"].as_u64().unwrap() as usize + count("unreadable") + count("not_checked"),
        42,
        "{v}"
    );
    let text = stdout(&run(logkeep().arg("verify").arg(&cut)));
    assert!(text.contains("could not be checked"), "{text}");
    assert!(text.contains("not checked: "), "{text}");
}

#[test]
fn a_truncated_archive_says_so_and_to_download_it_again() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    for name in ["out.zip", "out.tar.gz", "out.tar.zst"] {
        let whole = work.path().join(name);
        collect(&tree, &whole, &[]);
        let bytes = fs::read(&whole).unwrap();
        let cut = work.path().join(format!("cut-{name}"));
        fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        for command in ["verify", "ls"] {
            let out = run(logkeep().arg(command).arg(&cut));
            assert_eq!(out.status.code(), Some(1), "{command} {name}");
            let said = stderr(&out);
            assert!(
                said.contains("looks truncated or damaged") && said.contains("download it again"),
                "{command} {name}: {said}"
            );
        }
        // summary shows what it could read, and says the rest is not there.
        let out = run(logkeep().args(["summary", "--json"]).arg(&cut));
        let said = stderr(&out);
        assert!(
            said.contains("looks truncated or damaged") && said.contains("download it again"),
            "summary {name}: {said}"
        );
        // 3: a summary of what could be read; 1: nothing could be.
        if out.status.code() == Some(3) {
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(summary["inputs"][0]["stopped"].is_string(), "{summary}");
            validate_json("summary.schema.json", &[summary]);
        } else {
            assert_eq!(out.status.code(), Some(1), "summary {name}");
        }
    }
}

#[test]
fn cat_of_a_whole_file_in_a_cut_archive_exits_0_and_says_the_rest_is_damaged() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let whole = work.path().join("a.tar.gz");
    collect(&tree, &whole, &[]);
    let bytes = fs::read(&whole).unwrap();
    let cut = work.path().join("trunc.tar.gz");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let path = "bats-app-controller/rdd.stderr.log";
    let expected = stdout(&run_ok(logkeep().arg("cat").arg(&whole).arg(path)));
    let out = run(logkeep().arg("cat").arg(&cut).arg(path));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), expected);
    let said = stderr(&out);
    assert!(
        said.contains("trunc.tar.gz looks truncated or damaged")
            && said.contains(&format!("{path} was printed whole"))
            && said.contains("download it again"),
        "{said}"
    );
    // A file past the damage is not found, and the message says why.
    let out = run(logkeep()
        .arg("cat")
        .arg(&cut)
        .arg("bats-lima-controller/rdd.stderr.log"));
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains(
            "looks truncated or damaged (before bats-lima-controller/rdd.stderr.log was found)"
        ),
        "{said}"
    );
}

/// An input that holds archives instead of logs gets a hint that works on
/// it: a zip is unzipped, a tar is unpacked with tar, and a folder (as
/// actions/download-artifact leaves it) is given archive by archive (what
/// `verify` does itself). Never `unzip` on a folder or a tar.
#[test]
fn an_input_of_archives_gets_a_hint_that_fits_its_kind() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let folder = w.join("artifacts");
    fs::create_dir(&folder).unwrap();
    collect(&tree, &folder.join("a.tar.zst"), &[]);
    collect(&tree, &folder.join("b.tar.gz"), &[]);
    let tar = |args: &[&str]| {
        assert!(
            Command::new("tar")
                .args(args)
                .current_dir(&folder)
                .status()
                .unwrap()
                .success()
        )
    };
    tar(&["-czf", "../both.tar.gz", "a.tar.zst", "b.tar.gz"]);
    assert!(
        Command::new("zip")
            .args(["-q", "../both.zip", "a.tar.zst", "b.tar.gz"])
            .current_dir(&folder)
            .status()
            .unwrap()
            .success()
    );
    // `verify` takes several inputs: a folder of archives is read as them.
    let out = run_ok(logkeep().arg("verify").arg(&folder));
    assert_eq!(
        stdout(&out).matches("42 of 42 files match").count(),
        2,
        "{}",
        stdout(&out)
    );
    for command in ["verify", "ls"] {
        if command == "ls" {
            let err = stderr(&run(logkeep().arg(command).arg(&folder)));
            assert!(!err.contains("unzip"), "{command} on a folder: {err}");
            assert!(
                err.contains("give logkeep the archives inside")
                    && err.contains(&format!("{}/*", folder.display())),
                "{command} on a folder: {err}"
            );
        }
        let err = stderr(&run(logkeep().arg(command).arg(w.join("both.tar.gz"))));
        assert!(!err.contains("unzip"), "{command} on a tar.gz: {err}");
        assert!(
            err.contains(&format!(
                "mkdir {0} && tar -xf {1} -C {0}",
                w.join("both").display(),
                w.join("both.tar.gz").display()
            )),
            "{command} on a tar.gz: {err}"
        );
        let err = stderr(&run(logkeep().arg(command).arg(w.join("both.zip"))));
        assert!(
            err.contains(&format!(
                "unzip {} -d {}",
                w.join("both.zip").display(),
                w.join("both").display()
            )),
            "{command} on a zip: {err}"
        );
    }
}

/// Reading a zip allocates and frees a decompressor for each entry; what
/// verify keeps for each file (its path and checksum) once sat in the
/// freed space, and the heap grew with every file: 210 MB for these 9,000
/// files (500 MB for the benchmark's 20,000). It now stays well under 64 MiB.
#[test]
fn verify_of_a_zip_of_many_files_stays_within_64_mib() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    let mut state = 1u64;
    for vm in 0..30 {
        let folder = logs.join(format!("vm-{vm:03}"));
        fs::create_dir_all(&folder).unwrap();
        for i in 0..300 {
            let text: String = (0..60)
                .map(|j| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!(
                        "2026-06-11T04:00:{:02}Z INFO step {} of job {i}\n",
                        j % 60,
                        state >> 34
                    )
                })
                .collect();
            fs::write(folder.join(format!("serialv.{}.log", i * 7 + vm)), text).unwrap();
        }
    }
    let zip = work.path().join("many.zip");
    run_ok(
        logkeep()
            .args(["collect", "-q", "--instance", "bench", "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&zip),
    );
    // The peak resident memory of verify alone, as the kernel counts it.
    let script = r#"
import resource, subprocess, sys
subprocess.run([sys.argv[1], 'verify', sys.argv[2]], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"#;
    let out = python(script, &[Path::new(env!("CARGO_BIN_EXE_logkeep")), &zip]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kib: u64 = stdout(&out).trim().parse().unwrap();
    assert!(kib < 64 * 1024, "verify peaked at {kib} KiB");
}

/// ls filters that each name something there, but no file together, say so
/// (each alone that names nothing says what there is).
#[test]
fn ls_filters_that_match_nothing_together_say_so() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.gz");
    collect(&tree, &archive, &[]);
    let out = run_ok(logkeep().arg("ls").arg(&archive).args([
        "--vm",
        "test-vm-deleted",
        "--kind",
        "hostagent",
    ]));
    assert_eq!(stdout(&out).lines().count(), 1, "the header alone");
    assert!(
        stderr(&out).contains(
            "note: files have each of vm test-vm-deleted, kind hostagent, but none has them all"
        ),
        "{}",
        stderr(&out)
    );
}
