//! `logkeep extract` on hostile archives: each fixture in fixtures/malicious/
//! (made by its make.py) is refused and nothing is written anywhere. A
//! damaged or cut-short archive gives what can be read of it.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

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

/// A new folder holding the fixture tree collected into `name` (its format
/// told by its extension), and that archive's path.
fn collected(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join(name);
    collect(&Tree::new(), &archive);
    (work, archive)
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
    let (work, archive) = collected("out.zip");
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
    let (work, archive) = collected("out.tar.zst");
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

// Damaged archives: what can be read is unpacked --------------------------

/// `logkeep extract ARCHIVE --to TARGET`.
fn extract(archive: &Path, target: &Path) -> std::process::Output {
    run(logkeep()
        .arg("extract")
        .arg(archive)
        .arg("--to")
        .arg(target))
}

/// The files of a folder, by their path in it.
fn files_of(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    common::read_tree(folder)
}

/// The files of a good `archive`, extracted into `to` by logkeep.
fn extracted_whole(archive: &Path, to: &Path) -> BTreeMap<String, Vec<u8>> {
    run_ok(logkeep().arg("extract").arg(archive).arg("--to").arg(to));
    files_of(to)
}

/// The entry names of a tar archive in their order, as GNU tar lists them.
fn tar_order(archive: &Path) -> Vec<String> {
    let out = run_ok(Command::new("tar").arg("-tf").arg(archive));
    common::stdout(&out).lines().map(str::to_string).collect()
}

/// Run Python `body` on a copy of the zip `src`: it finds `data` (its
/// bytes, to change), `zip` (a `zipfile.ZipFile` of it), `dst` (where to
/// write the result) and `args` (the rest of `args`). Its run is checked;
/// what it printed is given back, trimmed.
fn alter_zip(src: &Path, dst: &Path, args: &[&Path], body: &str) -> String {
    let script = format!(
        "import struct, sys, zipfile
src, dst, *args = sys.argv[1:]
data = bytearray(open(src, 'rb').read())
zip = zipfile.ZipFile(src)
{body}"
    );
    let out = python(&script, &[&[src, dst], args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    common::stdout(&out).trim().to_string()
}

/// `whole` and `cut`: a good archive's files (extracted by logkeep and
/// checked by GNU tar's listing) and what logkeep extracted of the same
/// archive cut short. The files before the damaged one are whole, the
/// damaged one is kept as `NAME.damaged` holding the start of it, and
/// nothing after it (nor the manifest, written last) is there.
fn check_cut(archive: &Path, whole: &BTreeMap<String, Vec<u8>>, cut: &Path, said: &str) {
    let got = files_of(cut);
    let damaged: Vec<&String> = got.keys().filter(|k| k.ends_with(".damaged")).collect();
    assert_eq!(damaged.len(), 1, "{got:?}");
    let name = damaged[0].trim_end_matches(".damaged");
    let order = tar_order(archive);
    let at = order.iter().position(|n| n == name).unwrap();
    assert!(at > 0, "some files come before the damage");
    let before: Vec<&String> = order[..at].iter().collect();
    let mut whole_got: Vec<&String> = got.keys().filter(|k| !k.ends_with(".damaged")).collect();
    let mut before_sorted = before.clone();
    whole_got.sort();
    before_sorted.sort();
    assert_eq!(
        whole_got, before_sorted,
        "the files before the damage, whole"
    );
    for path in &before {
        assert_eq!(got[*path], whole[*path], "{path} is whole");
    }
    let partial = &got[damaged[0]];
    assert!(
        !partial.is_empty() && whole[name].starts_with(partial),
        "{name}"
    );
    assert!(partial.len() < whole[name].len(), "{name} is cut");
    assert!(!got.contains_key("manifest.json"));
    assert!(
        said.contains(&format!("warning: reading stopped at {name};"))
            && said.contains("the files after it, and the manifest, are not extracted")
            && said.contains("download it again"),
        "{said}"
    );
}

#[test]
fn a_cut_archive_gives_the_files_before_the_cut_and_exits_3() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    // Logs that take several zstd blocks: a block is what a cut tar.zst
    // can still be read to.
    let logs = work.path().join("logs");
    fs::create_dir_all(logs.join("vm")).unwrap();
    let mut state = 1u64;
    for n in 0..6 {
        let mut text = String::new();
        while text.len() < 300_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(&format!(
                "2026-06-11T04:50:{:02}Z level=info n={state:x}\n",
                n * 7
            ));
        }
        fs::write(logs.join(format!("vm/serial.{n}.log")), text).unwrap();
    }
    for (name, cut_at) in [("out.tar.gz", 2.0 / 3.0), ("out.tar.zst", 0.5)] {
        let archive = work.path().join(name);
        match name {
            "out.tar.gz" => collect(&tree, &archive),
            _ => {
                run_ok(
                    logkeep()
                        .args(["collect", "-q", "--instance", "ci", "--log-dir"])
                        .arg(&logs)
                        .arg("-o")
                        .arg(&archive),
                );
            }
        }
        let whole = extracted_whole(&archive, &work.path().join(format!("{name}-whole")));
        let bytes = fs::read(&archive).unwrap();
        let cut = work.path().join(format!("cut-{name}"));
        fs::write(&cut, &bytes[..(bytes.len() as f64 * cut_at) as usize]).unwrap();
        let target = work.path().join(format!("{name}-cut"));
        let out = extract(&cut, &target);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        check_cut(&archive, &whole, &target, &stderr(&out));
        assert!(
            common::stdout(&out).starts_with("extracted "),
            "{}",
            common::stdout(&out)
        );
        assert_no_temporary_folder(work.path());
    }

    // A cut zip (its directory lost) is read from its front, entry by entry.
    let archive = work.path().join("out.zip");
    collect(&tree, &archive);
    let whole = extracted_whole(&archive, &work.path().join("zip-whole"));
    let bytes = fs::read(&archive).unwrap();
    let cut = work.path().join("cut.zip");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = extract(&cut, &work.path().join("zip-cut"));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let got = files_of(&work.path().join("zip-cut"));
    assert!(got.len() > 10, "{got:?}");
    for (path, data) in &got {
        match path.strip_suffix(".damaged") {
            Some(name) => assert!(whole[name].starts_with(data), "{name}"),
            None => assert_eq!(data, &whole[path], "{path} is whole"),
        }
    }

    // Nothing asked for before the damage: an error that says so, no folder.
    let target = work.path().join("only");
    let out = run(logkeep()
        .arg("extract")
        .arg(work.path().join("cut-out.tar.gz"))
        .arg("--to")
        .arg(&target)
        .args(["--only", "nomatch/**"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no file that --only \"nomatch/**\" matches comes before the damage"),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists());

    // Nothing readable: an error, and no folder.
    let cut = work.path().join("front.tar.gz");
    fs::write(
        &cut,
        &fs::read(work.path().join("out.tar.gz")).unwrap()[..100],
    )
    .unwrap();
    let target = work.path().join("front");
    let out = extract(&cut, &target);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("looks truncated or damaged"),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists());
    assert_no_temporary_folder(work.path());
}

/// A tar.gz is a series of gzip members (1 MiB of tar each): cut after a
/// member, it is still a valid gzip stream, and only the tar inside tells
/// that it is cut (an entry's bytes, or the blocks of zeros that end a tar,
/// are missing). GNU tar says so too.
#[test]
fn a_tar_gz_cut_between_its_gzip_members_is_known_to_be_cut() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    fs::create_dir_all(logs.join("vm")).unwrap();
    // a.log fills the first member with its header; b.log spans three.
    fs::write(logs.join("vm/a.log"), "a line of a.log\n".repeat(65504)).unwrap();
    fs::write(logs.join("vm/b.log"), "b line of b.log\n".repeat(3 << 16)).unwrap();
    let archive = work.path().join("out.tar.gz");
    run_ok(
        logkeep()
            .args(["collect", "-q", "--instance", "ci", "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&archive),
    );
    let whole = extracted_whole(&archive, &work.path().join("whole"));
    // Where each gzip member ends.
    let ends = python(
        "import sys, zlib
data = open(sys.argv[1], 'rb').read()
at = 0
while at < len(data):
    d = zlib.decompressobj(31)
    d.decompress(data[at:])
    at = len(data) - len(d.unused_data)
    print(at)",
        &[&archive],
    );
    let ends: Vec<usize> = common::stdout(&ends)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert!(ends.len() >= 4, "{ends:?}");
    let bytes = fs::read(&archive).unwrap();
    // Cuts between the files, and inside b.log.
    let (mut between, mut inside) = (0, 0);
    for (n, end) in ends[..3].iter().enumerate() {
        let cut = work.path().join(format!("cut-{n}.tar.gz"));
        fs::write(&cut, &bytes[..*end]).unwrap();
        // gzip finds nothing wrong.
        assert!(
            run(Command::new("gzip").arg("-t").arg(&cut))
                .status
                .success()
        );
        let gnu_tar_ok = run(Command::new("tar").arg("-tzf").arg(&cut))
            .status
            .success();
        let target = work.path().join(format!("cut-{n}"));
        let out = extract(&cut, &target);
        assert_eq!(out.status.code(), Some(3), "member {n}: {}", stderr(&out));
        let got = files_of(&target);
        assert_eq!(
            got.get("ci/vm/a.log"),
            whole.get("ci/vm/a.log"),
            "member {n}"
        );
        assert!(!got.contains_key("ci/vm/b.log") && !got.contains_key("manifest.json"));
        let said = stderr(&out);
        match got.get("ci/vm/b.log.damaged") {
            // Cut between the two files: the tar's end is missing (which
            // GNU tar lets pass).
            None => {
                between += 1;
                assert!(
                    said.contains("ends after ci/vm/a.log without the blocks that end a tar"),
                    "member {n}: {said}"
                );
            }
            Some(part) => {
                inside += 1;
                assert!(!gnu_tar_ok, "member {n}: GNU tar finds b.log cut too");
                assert!(whole["ci/vm/b.log"].starts_with(part), "member {n}");
                assert!(
                    said.contains("cannot read ci/vm/b.log in ")
                        && said.contains("the archive ends inside it, after"),
                    "member {n}: {said}"
                );
            }
        }
    }
    assert_eq!((between, inside), (1, 2));

    // One block of zeros at the end, not two: not cut (GNU tar reads it).
    let lone = work.path().join("lone.tar.gz");
    let made = python(
        "import gzip, sys
data = gzip.decompress(open(sys.argv[1], 'rb').read())
assert data.endswith(bytes(1024))
open(sys.argv[2], 'wb').write(gzip.compress(data[:-512]))",
        &[&archive, &lone],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(
        run(Command::new("tar").arg("-tzf").arg(&lone))
            .status
            .success()
    );
    let out = extract(&lone, &work.path().join("lone"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(files_of(&work.path().join("lone")), whole);
}

/// A zip whose entry has a damaged local header: the entry is named from
/// the central directory, and every other entry still comes out, as unzip
/// and `logkeep verify` find.
#[test]
fn a_zip_entry_with_a_damaged_header_is_named_and_the_rest_extracted() {
    let (work, archive) = collected("out.zip");
    let flipped = work.path().join("header.zip");
    let damaged = alter_zip(
        &archive,
        &flipped,
        &[],
        "info = zip.infolist()[1]
data[info.header_offset] ^= 0xff
open(dst, 'wb').write(data)
print(info.filename)",
    );
    let target = work.path().join("out");
    let out = extract(&flipped, &target);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let got = files_of(&target);
    assert_eq!(got.len(), 42, "{:?}", got.keys());
    assert!(!got.contains_key(&damaged));
    assert!(
        stderr(&out).contains(&format!("warning: cannot read {damaged} in ")),
        "{}",
        stderr(&out)
    );
    let cat = run(logkeep().arg("cat").arg(&flipped).arg(&damaged));
    assert_eq!(cat.status.code(), Some(1));
    assert!(cat.stdout.is_empty());
    assert!(
        stderr(&cat).contains(&format!("nothing of {damaged} could be printed")),
        "{}",
        stderr(&cat)
    );
    // An encrypted zip is not passed over entry by entry: one error, which
    // says why.
    let plain = work.path().join("plain");
    fs::create_dir_all(&plain).unwrap();
    fs::write(plain.join("a.log"), "a line\n").unwrap();
    let encrypted = work.path().join("encrypted.zip");
    run_ok(
        Command::new("zip")
            .args(["-q", "-P", "secret", "-r"])
            .arg(&encrypted)
            .arg(".")
            .current_dir(&plain),
    );
    // Nor is one compressed in a way logkeep does not read, which the zip
    // library finds out only at the first read.
    let bzip2 = work.path().join("bzip2.zip");
    let made = python(
        "import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_BZIP2) as z:
    z.writestr('a.log', 'a line\\n')",
        &[&bzip2],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    for (zip, says) in [
        (
            &encrypted,
            "a.log: unsupported Zip archive: Password required",
        ),
        (
            &bzip2,
            "a.log is compressed with bzip2, which logkeep does not read",
        ),
    ] {
        for command in ["extract", "grep", "verify"] {
            let mut logkeep = logkeep();
            match command {
                "extract" => logkeep
                    .arg("extract")
                    .arg(zip)
                    .arg("--to")
                    .arg(work.path().join("unsupported")),
                "grep" => logkeep.args(["grep", "line"]).arg(zip),
                _ => logkeep.arg("verify").arg(zip),
            };
            let out = run(&mut logkeep);
            assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
            assert!(stderr(&out).contains(says), "{command}: {}", stderr(&out));
            // Not taken for damage: the hint is how to open it, not to
            // download it again.
            assert!(
                stderr(&out).contains("then give logkeep the folder")
                    && !stderr(&out).contains("again"),
                "{command}: {}",
                stderr(&out)
            );
        }
    }
    let verified = run(logkeep().arg("verify").arg(&flipped));
    assert_eq!(verified.status.code(), Some(3));
    assert!(
        common::stdout(&verified).contains(&format!("unreadable: {damaged}: ")),
        "{}",
        common::stdout(&verified)
    );
}

/// A zip cut short, read from its front: an entry whose checksum fails
/// after its bytes were written is moved to `NAME.damaged`.
#[test]
fn an_altered_entry_of_a_cut_zip_is_not_left_under_its_name() {
    let (work, archive) = collected("out.zip");
    let altered = work.path().join("altered.zip");
    let name = alter_zip(
        &archive,
        &altered,
        &[],
        "info = zip.infolist()[3]
# A byte of its stored or deflated data, then the zip cut after it.
at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 2
data[at] ^= 0x01
open(dst, 'wb').write(data[:at + info.compress_size + 200])
print(info.filename)",
    );
    let target = work.path().join("out");
    let out = extract(&altered, &target);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let got = files_of(&target);
    assert!(!got.contains_key(&name), "{:?}", got.keys());
    assert!(
        stderr(&out).contains(&format!("cannot read {name} in ")),
        "{}",
        stderr(&out)
    );
}

/// A zip whose central directory alone is damaged (its first record's
/// signature, or its offset, so that no entry is where it says) or cut:
/// every entry is read from the front, whole, and none is said to be
/// altered (of the cut one, that no file is missing).
#[test]
fn a_zip_whose_directory_alone_is_damaged_gives_every_file() {
    let (work, archive) = collected("out.zip");
    let whole = extracted_whole(&archive, &work.path().join("whole"));
    let made = python(
        "import struct, sys
src, signature, cut, offset = sys.argv[1:]
data = bytearray(open(src, 'rb').read())
end = data.rfind(b'PK\\x05\\x06')
directory = struct.unpack('<I', data[end + 16:end + 20])[0]
open(cut, 'wb').write(data[:-20])
shifted = bytearray(data)
struct.pack_into('<I', shifted, end + 16, directory - 4)
open(offset, 'wb').write(shifted)
data[directory + 2] ^= 0xff
open(signature, 'wb').write(data)",
        &[
            &archive,
            &work.path().join("signature.zip"),
            &work.path().join("cut.zip"),
            &work.path().join("offset.zip"),
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    for name in ["signature.zip", "cut.zip", "offset.zip"] {
        let target = work.path().join(name.replace(".zip", ""));
        let out = extract(&work.path().join(name), &target);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        assert_eq!(files_of(&target), whole, "{name}");
        let said = stderr(&out);
        assert!(!said.contains("altered"), "{name}: {said}");
        if name == "cut.zip" {
            assert!(said.contains("no file is missing"), "{said}");
        }
    }
}

/// A damaged tar header's bytes, which the tar reader's message quotes,
/// reach the terminal escaped: a colour code or worse stays text.
#[test]
fn bytes_of_a_damaged_header_are_escaped_in_messages() {
    let (work, archive) = collected("out.tar.gz");
    let damaged = work.path().join("escape.tar.gz");
    let made = python(
        "import gzip, sys
src, dst = sys.argv[1:]
data = bytearray(gzip.decompress(open(src, 'rb').read()))
size = int(data[124:136].strip(b'\\0 ') or b'0', 8)
at = 512 + (size + 511) // 512 * 512
data[at + 148:at + 156] = b'\\x1b[31mX\\0\\0'
open(dst, 'wb').write(gzip.compress(bytes(data)))",
        &[&archive, &damaged],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    for command in ["extract", "ls"] {
        let mut logkeep = logkeep();
        logkeep.arg(command).arg(&damaged);
        if command == "extract" {
            logkeep.arg("--to").arg(work.path().join("out"));
        }
        let said = stderr(&run(&mut logkeep));
        assert!(
            said.contains("looks truncated or damaged"),
            "{command}: {said}"
        );
        assert!(
            !said.contains('\x1b') && said.contains("\\x1b[31mX"),
            "{command}: {said:?}"
        );
    }
}

/// No `.logkeep-extract-*` folder is left in `dir`.
fn assert_no_temporary_folder(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().starts_with(".logkeep-extract-"),
            "{name:?} left behind"
        );
    }
}

#[test]
fn a_damaged_zip_entry_is_named_and_the_files_after_it_are_still_extracted() {
    let (work, archive) = collected("out.zip");
    let whole = extracted_whole(&archive, &work.path().join("whole"));
    // Two bytes flipped in the middle of one entry's compressed data.
    let damaged = "bats-lima-controller/lima-test-stopped/serial.1.log";
    let flipped = work.path().join("flipped.zip");
    alter_zip(
        &archive,
        &flipped,
        &[Path::new(damaged)],
        "info = zip.getinfo(args[0])
at = info.header_offset
n, extra = struct.unpack('<HH', data[at + 26:at + 30])
middle = at + 30 + n + extra + info.compress_size // 2
data[middle] ^= 0xff
data[middle + 1] ^= 0xff
open(dst, 'wb').write(data)",
    );
    // unzip, the peer, finds the same damage.
    let unzip = run(Command::new("unzip").arg("-tq").arg(&flipped));
    assert!(!unzip.status.success());
    assert!(
        common::stdout(&unzip).contains(damaged),
        "{}",
        common::stdout(&unzip)
    );

    let target = work.path().join("some");
    let out = extract(&flipped, &target);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let got = files_of(&target);
    for (path, data) in &whole {
        if path != damaged {
            assert_eq!(got.get(path), Some(data), "{path} is whole");
        }
    }
    assert!(!got.contains_key(damaged));
    assert!(
        got.keys()
            .all(|k| whole.contains_key(k) || k == &format!("{damaged}.damaged"))
    );
    let said = stderr(&out);
    assert!(
        said.contains(&format!("warning: cannot read {damaged} in "))
            && said.contains("the other files are whole")
            && !said.contains("reading stopped"),
        "{said}"
    );
}

#[test]
fn a_stream_whose_end_does_not_check_is_extracted_whole_and_said_to_be_maybe_altered() {
    let (work, archive) = collected("out.tar.gz");
    // The gzip trailer's CRC-32, flipped: every byte of data is still right.
    let mut bytes = fs::read(&archive).unwrap();
    let crc = bytes.len() - 6;
    bytes[crc] ^= 0xff;
    let flipped = work.path().join("crc.tar.gz");
    fs::write(&flipped, &bytes).unwrap();
    // GNU tar and gzip see it too.
    assert!(
        !run(Command::new("gzip").arg("-t").arg(&flipped))
            .status
            .success()
    );

    let target = work.path().join("all");
    let out = extract(&flipped, &target);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(files_of(&target).len(), 43);
    let said = stderr(&out);
    assert!(
        said.contains("every file was read, but what was extracted may be altered")
            && said.contains("logkeep verify"),
        "{said}"
    );
    // And verify, told to, finds the files right.
    run_ok(logkeep().arg("verify").arg(&target));
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
