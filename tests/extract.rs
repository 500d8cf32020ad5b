//! `logkeep extract` on hostile archives: each fixture in fixtures/malicious/
//! (made by its make.py) is refused and nothing is written anywhere.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Tree, big_archive, logkeep, python, run, run_ok, signal_when, stderr};

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

/// Collect the fixture tree into `archive`.
fn collect(tree: &Tree, archive: &Path) {
    run_ok(
        logkeep()
            .args(["collect", "-q", "-c"])
            .arg(tree.config())
            .arg("-o")
            .arg(archive),
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
    collect(&tree, &archive);
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

#[test]
fn an_only_glob_that_matches_nothing_is_said_and_exits_3() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("out.tar.zst");
    collect(&tree, &archive);
    let target = work.path().join("ex3");
    let out = run(logkeep()
        .arg("extract")
        .arg(&archive)
        .arg("--to")
        .arg(&target)
        .args(["--only", "nomatch/**"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(
            r#"warning: no file matched --only "nomatch/**"; paths are as `logkeep ls` shows them"#
        ),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("holds only its manifest.json"));
    // The glob it offers, taken from the archive's own paths, finds files.
    let said = stderr(&out);
    let example = said
        .split_once(": try '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(glob, _)| glob.to_string())
        .unwrap_or_else(|| panic!("{said}"));
    let offered = run(logkeep()
        .arg("extract")
        .arg(&archive)
        .arg("--to")
        .arg(work.path().join("ex3-offered"))
        .args(["--only", &example]));
    assert!(offered.status.success(), "{example}: {}", stderr(&offered));
    // A file's name alone, as one would type it first, is offered under any folder.
    let by_name = run(logkeep()
        .arg("extract")
        .arg(&archive)
        .arg("--to")
        .arg(work.path().join("ex3-name"))
        .args(["--only", "rdd.stderr.log"]));
    assert_eq!(by_name.status.code(), Some(3));
    assert!(
        stderr(&by_name).contains("/rdd.stderr.log: try '**/rdd.stderr.log' (`*` stops"),
        "{}",
        stderr(&by_name)
    );
    assert!(
        common::stdout(&out).starts_with("extracted 1 file ("),
        "{}",
        common::stdout(&out)
    );
    assert_eq!(
        common::read_tree(&target).into_keys().collect::<Vec<_>>(),
        ["manifest.json"]
    );
}

/// Zips whose central directory holds a name twice, or a name with a NUL
/// byte, written by Python's zipfile: a placeholder name of the same length
/// is written, then its bytes are replaced by the real name's.
fn hostile_zips(dir: &Path) {
    let script = r#"
import os, sys, warnings, zipfile
warnings.simplefilter("ignore")  # zipfile warns of the duplicate it writes
os.chdir(sys.argv[1])
def write(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for placeholder, _, data in entries:
            z.writestr(placeholder, data)
    data = open(path, "rb").read()
    for placeholder, name, _ in entries:
        assert len(placeholder) == len(name)
        data = data.replace(placeholder.encode(), name)
    open(path, "wb").write(data)
write("twice.zip", [("inst/a.log", b"inst/a.log", "x"), ("inst/a.log", b"inst/a.log", "y")])
write("nul-twin.zip", [("inst/a.log", b"inst/a.log", "first"),
                       ("inst/a.logXevil", b"inst/a.log\0evil", "second")])
write("nul.zip", [("inst/aXb.log", b"inst/a\0b.log", "data")])
# GitHub's artifact download around the first.
with zipfile.ZipFile("download.zip", "w") as z:
    z.write("twice.zip", "logs.zip")
"#;
    let out = python(script, &[dir]);
    assert!(out.status.success(), "python3 writes the zips");
}

/// A name stored twice, or with a NUL byte, refuses the whole zip in every
/// command that reads it: the zip crate's index keeps one entry per name (a
/// first copy vanished), and a name cut at its NUL byte would be another's.
#[test]
fn a_zip_with_a_name_twice_or_a_nul_byte_is_refused_by_every_reader() {
    let work = tempfile::tempdir().unwrap();
    hostile_zips(work.path());
    let cases = [
        ("twice.zip", r#"entry "inst/a.log" appears twice"#),
        ("download.zip", r#"entry "inst/a.log" appears twice"#),
        (
            "nul-twin.zip",
            r#"entry "inst/a.log\x00evil" has a NUL byte in its name"#,
        ),
        (
            "nul.zip",
            r#"entry "inst/a\x00b.log" has a NUL byte in its name"#,
        ),
    ];
    for (zip, why) in cases {
        let archive = work.path().join(zip);
        let expected = format!("refusing {}", archive.display());
        let target = work.path().join("out");
        let commands: [&[&str]; 7] = [
            &["extract"],
            &["cat"],
            &["grep", "."],
            &["ls"],
            &["timeline"],
            &["summary"],
            &["verify"],
        ];
        for args in commands {
            let mut command = logkeep();
            command.args(args).arg(&archive);
            match args[0] {
                "extract" => command.arg("--to").arg(&target),
                "cat" => command.arg("inst/a.log"),
                _ => &mut command,
            };
            let out = run(&mut command);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?} {zip}: {err}");
            assert!(
                err.contains(&expected) && err.contains(why),
                "{args:?} {zip}: {err}"
            );
            assert!(out.stdout.is_empty(), "{args:?} {zip}: nothing read");
        }
        let left: Vec<_> = fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| !name.to_string_lossy().ends_with(".zip"))
            .collect();
        assert!(left.is_empty(), "{zip}: nothing written: {left:?}");
    }
}

/// Ctrl-C while files are being written: the temporary folder beside the
/// target goes, with what was already in it, and nothing else appears.
#[test]
fn sigint_mid_extract_removes_the_temporary_folder_and_exits_130() {
    let input = tempfile::tempdir().unwrap();
    let archive = big_archive(input.path());
    let work = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut command = logkeep();
    command
        .arg("extract")
        .arg(&archive)
        .arg("--to")
        .arg(work.path().join("out"))
        .args(["--max-ratio", "1000000"])
        .env("TMPDIR", tmp.path());
    // Under way once the first file is in the temporary folder.
    let (code, err) = signal_when(&mut command, "INT", |_| {
        fs::read_dir(work.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.path().join("inst/big.log").exists())
    });
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted (SIGINT)"), "{err}");
    for dir in [work.path(), tmp.path()] {
        let left: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}\n{err}");
    }
}
