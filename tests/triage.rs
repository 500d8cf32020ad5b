//! `grep`, `timeline`, `summary` and the time spans of `ls`: on archives the
//! collector made from the fixture tree, on archives packed by GNU tar, zstd
//! and Info-ZIP, on GitHub-style download zips around them, and on two runs
//! from "different jobs". Human output is snapshot-tested; `--json` output is
//! checked against the schemas in `schema/`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use common::{
    SmallDisk, Tree, big_archive, collect_cmd, logkeep, run, run_ok, signal_when, stderr, stdout,
    validate_json,
};

const TIMELINE_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/timeline");

/// Set the modification time of every file below `root`: yearless klog and
/// journal lines are placed by it, so tests must not depend on today's date.
fn set_mtimes(root: &Path, unix_seconds: u64) {
    let time = UNIX_EPOCH + Duration::from_secs(unix_seconds);
    for entry in walk(root) {
        fs::File::options()
            .write(true)
            .open(&entry)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn ok(command: &mut Command) {
    let status = command.status().expect("the tool starts");
    assert!(status.success(), "{command:?} failed");
}

/// 2027-01-01T00:00:30Z: see fixtures/timeline/README.md.
const TIMELINE_MTIME: u64 = 1_798_761_630;
/// 2026-06-11T05:10:30Z, just after the fixture tree's last line.
const RDD_MTIME: u64 = 1_781_154_630;

/// The timeline fixture as a folder, packed by GNU tar (gzip and zstd), by
/// Info-ZIP, and inside a zip as GitHub's artifact download gives it.
fn timeline_inputs(work: &Path) -> Vec<(String, PathBuf)> {
    let logs = work.join("logs");
    common::copy_tree(&Path::new(TIMELINE_FIXTURE).join("logs"), &logs);
    set_mtimes(&logs, TIMELINE_MTIME);
    ok(Command::new("tar")
        .args(["czf", "../logs.tar.gz", "."])
        .current_dir(&logs));
    ok(Command::new("tar")
        .args(["--zstd", "-cf", "../logs.tar.zst", "."])
        .current_dir(&logs));
    ok(Command::new("zip")
        .args(["-qr", "../logs.zip", "."])
        .current_dir(&logs));
    ok(Command::new("zip")
        .args(["-q", "download.zip", "logs.tar.zst"])
        .current_dir(work));
    [
        "logs",
        "logs.tar.gz",
        "logs.tar.zst",
        "logs.zip",
        "download.zip",
    ]
    .iter()
    .map(|name| (name.to_string(), work.join(name)))
    .collect()
}

fn expected_order() -> Vec<String> {
    fs::read_to_string(Path::new(TIMELINE_FIXTURE).join("expected-order.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

/// Each JSON line as `TIME PATH:LINE`, the form of expected-order.txt.
fn order_of(text: &str) -> Vec<String> {
    json_lines(text)
        .iter()
        .map(|l| {
            // GNU tar stores `./bats-a/…`; the layout path is what counts.
            let path = l["path"].as_str().unwrap().trim_start_matches("./");
            format!("{} {path}:{}", l["time"].as_str().unwrap(), l["line"])
        })
        .collect()
}

#[test]
fn timeline_merges_every_format_in_the_hand_checked_order() {
    let work = tempfile::tempdir().unwrap();
    let expected = expected_order();
    for (name, input) in timeline_inputs(work.path()) {
        let out = run_ok(logkeep().arg("timeline").arg(&input).arg("--json"));
        assert_eq!(order_of(&stdout(&out)), expected, "{name}");
        assert!(
            stderr(&out).contains("rdd.stdout.log"),
            "{name}: the file without times is named: {}",
            stderr(&out)
        );
    }
}

#[test]
fn timeline_text_shows_tests_and_keeps_records_together() {
    let work = tempfile::tempdir().unwrap();
    let inputs = timeline_inputs(work.path());
    let out = run_ok(logkeep().arg("timeline").arg(&inputs[0].1));
    insta::assert_snapshot!("timeline_fixture", stdout(&out));
}

#[test]
fn timeline_filters_by_level_and_around_a_time() {
    let work = tempfile::tempdir().unwrap();
    let inputs = timeline_inputs(work.path());
    let folder = &inputs[0].1;
    let errors = run_ok(
        logkeep()
            .arg("timeline")
            .arg(folder)
            .args(["--level", "error", "--json"]),
    );
    let lines = order_of(&stdout(&errors));
    assert_eq!(
        lines,
        [
            // The test in which the errors came; "stop VM vm1" had none and is left out.
            "2026-12-31T23:59:55Z bats-a/rdd.stderr.log:4",
            "2026-12-31T23:59:59Z bats-a/lima-vm1/serial.log:5",
            "2027-01-01T00:00:04Z bats-a/lima-vm1/ha.stderr.log:3",
            "2027-01-01T00:00:04Z bats-a/lima-vm1/ha.stderr.log:4",
            "2027-01-01T00:00:04Z bats-a/lima-vm1/ha.stderr.log:5",
            "2027-01-01T00:00:04Z bats-a/lima-vm1/ha.stderr.log:6",
            "2027-01-01T00:00:04Z bats-a/lima-vm1/ha.stderr.log:7",
            "2027-01-01T00:00:04Z bats-a/lima-vm1/ha.stderr.log:8",
            "2027-01-01T00:00:05Z bats-a/rdd.stderr.log:7",
            "2027-01-01T00:00:05.25Z bats-a/rdd.stderr.log:6",
        ]
    );
    let around = run_ok(logkeep().arg("timeline").arg(folder).args([
        "--around",
        "2027-01-01T00:00:04Z",
        "--window",
        "1s",
        "--json",
    ]));
    let around = json_lines(&stdout(&around));
    // First the test that was running when the window opened, then the window.
    assert_eq!(around[0]["test"], "start VM vm1");
    let times: Vec<&str> = around[1..]
        .iter()
        .map(|l| l["time"].as_str().unwrap())
        .collect();
    assert_eq!(times.first(), Some(&"2027-01-01T00:00:03Z"));
    assert_eq!(times.last(), Some(&"2027-01-01T00:00:05Z"));
    assert_eq!(times.len(), 10, "{times:?}");
    // A time of day is on the day the logs start, or the next when earlier.
    let by_clock = run_ok(
        logkeep()
            .arg("timeline")
            .arg(folder)
            .args(["--since", "00:00:05", "--until", "00:00:06", "--json"]),
    );
    assert_eq!(
        order_of(&stdout(&by_clock)),
        [
            "2026-12-31T23:59:55Z bats-a/rdd.stderr.log:4",
            "2027-01-01T00:00:05Z bats-a/rdd.stderr.log:7",
            "2027-01-01T00:00:05.25Z bats-a/rdd.stderr.log:6",
            "2027-01-01T00:00:06Z bats-a/lima-vm1/ha.stderr.log:9",
        ]
    );
}

/// A window or filter that matches nothing says so (it looks like a typo).
#[test]
fn empty_answers_to_windows_and_filters_say_why() {
    let work = tempfile::tempdir().unwrap();
    let inputs = timeline_inputs(work.path());
    let folder = &inputs[0].1;
    // What the timeline prints and says with these options.
    let timeline = |args: &[&str]| {
        let out = run_ok(logkeep().arg("timeline").arg(folder).args(args));
        (stdout(&out), stderr(&out))
    };
    let (late, said) = timeline(&["--since", "2027-02-01"]);
    assert_eq!(late, "");
    assert!(
        said.contains("no line falls in the window (the logs run from 2026-12-31T"),
        "{said}"
    );
    // A time of day is placed on a day; the note says which.
    let (before, said) = timeline(&["--since", "20:00"]);
    assert_eq!(before, "");
    assert!(
        said.contains("; the window starts at 2027-01-01T20:00:00Z)"),
        "{said}"
    );
    let (_, said) = timeline(&["--since", "00:00:06", "--until", "00:00:05"]);
    assert!(said.contains("--since is after --until"), "{said}");

    let tree = Tree::new();
    let input = work.path().join("rdd-logs.zip");
    collect_job(&tree, &input, "bats", "Linux");
    let out = run_ok(logkeep().arg("ls").arg(&input).args(["--instance", "nope"]));
    assert!(
        stderr(&out).contains(
            "no file has instance nope; the manifest has: bats-app-controller, bats-lima-controller"
        ),
        "{}",
        stderr(&out)
    );
}

/// Files without a dated line are named, a few of them: hundreds would bury
/// the rest of what the timeline says.
#[test]
fn undated_files_are_counted_and_a_few_named() {
    let mut files: Vec<(String, &str)> = (0..14)
        .map(|i| (format!("vm/undated-{i:02}.log"), "no time here\n"))
        .collect();
    files.push((
        "vm/dated.log".into(),
        "2026-11-27T05:03:04Z level=error msg=x\n",
    ));
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    let (_work, logs) = logs_folder(&files);
    let out = run_ok(logkeep().arg("timeline").arg(&logs));
    assert!(stdout(&out).contains("msg=x"), "{}", stdout(&out));
    let said = stderr(&out);
    assert!(
        said.contains("note: 14 file(s) have no line with a time and are not in the timeline:"),
        "{said}"
    );
    let named = said.lines().filter(|l| l.contains("vm/undated-")).count();
    assert_eq!(named, 10, "{said}");
    assert!(said.contains("  and 4 more (`logkeep ls`"), "{said}");
}

/// How the tests ended, from what bats-core itself writes (TAP on stdout,
/// a JUnit report): the failed ones named with where bats says they failed,
/// the hook of a file among them, and an error "during" a test that passed
/// said to be one.
#[test]
fn summary_names_the_failed_tests_from_bats_own_output() {
    common::require_tool("bats", "bats");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let suite = w.join("suite");
    fs::create_dir_all(&suite).unwrap();
    fs::create_dir_all(w.join("logs")).unwrap();
    fs::create_dir_all(w.join("ci")).unwrap();
    // Each test writes rdd's marker, as the rdd suites do, and its lines.
    let helpers = r#"
marker() { printf '=== BATS: %s %s ===\n' "$(date -u +%Y-%m-%dT%H:%M:%S+0000)" "$BATS_TEST_DESCRIPTION" >> "$LOGS/rdd.log"; }
say() { printf 'time="%s" level=%s msg="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$1" "$2" >> "$LOGS/rdd.log"; }
setup() { marker; }
"#;
    fs::write(
        suite.join("01-engine.bats"),
        format!(
            "{helpers}\n\
             @test \"passes but logs an error\" {{ say error \"probe failed\"; }}\n\
             @test \"fails — naïve ✓ # and a hash\" {{ say info starting; false; }}\n\
             @test \"skipped here\" {{ skip \"not on this OS\"; }}\n"
        ),
    )
    .unwrap();
    fs::write(
        suite.join("02-cluster.bats"),
        format!("{helpers}\nsetup_file() {{ return 3; }}\n@test \"never runs\" {{ true; }}\n"),
    )
    .unwrap();
    // Fails once, passes when bats tries it again.
    fs::write(
        suite.join("03-flaky.bats"),
        format!(
            "{helpers}\nBATS_TEST_RETRIES=1\n\
             @test \"flaky\" {{\n  [ -e \"$LOGS/tried\" ] || {{ touch \"$LOGS/tried\"; say error \"flaky try\"; false; }}\n}}\n"
        ),
    )
    .unwrap();
    let tap = Command::new("bats")
        .args([
            "--tap",
            "--report-formatter",
            "junit",
            "--output",
            "ci",
            "suite",
        ])
        .current_dir(w)
        .env("LOGS", w.join("logs"))
        .output()
        .unwrap();
    assert_eq!(tap.status.code(), Some(1), "{}", stdout(&tap));
    fs::write(w.join("ci/bats.log"), &tap.stdout).unwrap();
    let out = w.join("run.tar.gz");
    run_ok(
        logkeep()
            .args(["collect", "-q", "--instance", "rdd", "--log-dir"])
            .arg(w.join("logs"))
            .arg("--lima-home")
            .arg(w.join("none"))
            .arg("--include")
            .arg(format!("{}/ci/*", w.display()))
            .args(["--include-into", "ci", "-o"])
            .arg(&out),
    );
    let summary = run_ok(logkeep().args(["summary", "--json"]).arg(&out));
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    validate_json("summary.schema.json", std::slice::from_ref(&summary));
    let input = &summary["inputs"][0];
    assert_eq!(
        input["bats_results"],
        serde_json::json!({"passed": 2, "failed": 2, "skipped": 1}),
        "{input}"
    );
    let failed = input["failed_tests"].as_array().unwrap();
    let named: Vec<(&str, &str)> = failed
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["failed_at"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (
                "fails — naïve ✓ # and a hash",
                "in test file suite/01-engine.bats, line 7"
            ),
            (
                "setup_file failed",
                "from function `setup_file' in test file suite/02-cluster.bats, line 6"
            ),
        ],
        "{input}"
    );
    // Each found in both of bats' outputs.
    for test in failed {
        let found: Vec<&str> = test["found_in"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(
            found.len() == 2
                && found[0].starts_with("ci/bats.log:")
                && found[1].starts_with("ci/report.xml:"),
            "{test}"
        );
    }
    let text = stdout(&run_ok(logkeep().arg("summary").arg(&out)));
    assert!(
        text.contains("  results     2 failed, 2 passed, 1 skipped (bats' TAP lines)\n  failed      2 BATS tests:\n    \"fails — naïve ✓ # and a hash\" in test file suite/01-engine.bats, line 7; see ci/bats.log:"),
        "{text}"
    );
    assert!(
        text.contains(
            "  tests       4 BATS tests started, 1 of them more than once; the last: \"flaky\""
        ),
        "{text}"
    );
    assert!(
        text.contains("      in test \"flaky\" (which passed on a later try):\n"),
        "{text}"
    );
    assert!(
        text.contains("during test \"passes but logs an error\" (which passed: the error may be a hook's, or a parallel test's)"),
        "{text}"
    );
}

/// The fixture tree, with fixed modification times and the facts of a
/// GitHub job, collected as `name`.
fn collect_job(tree: &Tree, out: &Path, job: &str, os: &str) {
    set_mtimes(tree.dir.path(), RDD_MTIME);
    let mut command = collect_cmd(tree.config(), out);
    for variable in [
        "GITHUB_REPOSITORY",
        "GITHUB_WORKFLOW",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_SHA",
        "GITHUB_REF",
        "GITHUB_SERVER_URL",
        "RUNNER_ARCH",
        "RUNNER_NAME",
    ] {
        command.env_remove(variable);
    }
    run_ok(
        command
            .arg("-q")
            .env("GITHUB_JOB", job)
            .env("RUNNER_OS", os),
    );
}

#[test]
fn grep_finds_lines_in_every_format_and_inside_githubs_zip() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for name in ["out.tar.gz", "out.tar.zst", "out.zip"] {
        collect_job(&tree, &w.join(name), "bats", "Linux");
    }
    ok(Command::new("zip")
        .args(["-q", "gh.zip", "out.tar.gz"])
        .current_dir(w));
    for name in ["out.tar.gz", "out.tar.zst", "out.zip", "gh.zip"] {
        let out = run_ok(
            logkeep()
                .args(["grep", "-i", "timed out waiting"])
                .arg(w.join(name)),
        );
        assert_eq!(
            stdout(&out),
            "bats-lima-controller/rdd.stderr.log:30: E0611 05:03:05.599284    5123 lima.go:288] \"Timed out waiting for VM\" vm=\"test-stopped\" timeout=\"5m0s\"\n",
            "{name}"
        );
    }
    let input = w.join("out.tar.zst");
    // Lines of serial consoles are matched without their colours.
    let serial = run_ok(
        logkeep()
            .args([
                "grep",
                "-F",
                "Failed to start ssh.service",
                "--path",
                "*/serial.log",
            ])
            .arg(&input),
    );
    assert_eq!(stdout(&serial).lines().count(), 2, "{}", stdout(&serial));
    // --level keeps error records, a panic's stack with them.
    let errors = run_ok(
        logkeep()
            .args(["grep", "--level", "error", "goroutine"])
            .arg(&input),
    );
    assert!(stdout(&errors).contains("ha.stderr.log:18: goroutine 57 [running]:"));
    // --since/--until with times of day, klog lines placed by the mtime.
    let window = run_ok(
        logkeep()
            .args(["grep", "lima.go", "--since", "05:03", "--until", "05:04"])
            .arg(&input),
    );
    assert_eq!(
        stdout(&window)
            .lines()
            .map(|l| l.split(':').nth(1).unwrap())
            .collect::<Vec<_>>(),
        ["30", "32"],
        "{}",
        stdout(&window)
    );
    // No match: exit 3. A bad pattern is a wrong command line, as a bad
    // --redact regex is: exit 2, with what to do.
    let none = run(logkeep()
        .args(["grep", "no such text anywhere"])
        .arg(&input));
    assert_eq!(none.status.code(), Some(3));
    let bad = run(logkeep().args(["grep", "("]).arg(&input));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not a valid pattern") && stderr(&bad).contains("-F"));
    // A closed pipe is not an error.
    let head = run(Command::new("sh").arg("-c").arg(format!(
        "{} grep . {} | head -1",
        env!("CARGO_BIN_EXE_logkeep"),
        input.display()
    )));
    assert!(
        head.status.success() && stderr(&head).is_empty(),
        "{}",
        stderr(&head)
    );
}

/// A folder of logs as an output folder holds them (`logs/`, in a scratch
/// folder kept alive by the returned guard): each path with its text.
fn logs_folder(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    for (path, text) in files {
        let path = logs.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    (work, logs)
}

/// Errors before a log's first dated line (a serial console's `[FAILED]`
/// lines before its first journal line) happened just before that line, as
/// the timeline shows them: the summary's first error, in its test, and a
/// log's first error is its first, not its last.
#[test]
fn summary_places_errors_before_a_logs_first_dated_line() {
    let (_work, logs) = logs_folder(&[
        (
            "bats/rdd.stderr.log",
            "=== BATS: 2026-06-11T04:58:00+0000 boot vm1 ===\n\
             time=\"2026-06-11T04:58:30Z\" level=error msg=\"vm1 did not boot\"\n",
        ),
        (
            "bats/vm1/serial.log",
            "[FAILED] Failed to start ssh.service\r\n\
             [FAILED] Failed to start cloud-final.service\r\n\
             2026-06-11T04:58:20+0000 lima-vm1 systemd[1]: ssh.service: Failed\r\n",
        ),
    ]);
    let out = run_ok(logkeep().args(["summary", "--json"]).arg(&logs));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let input = &summary["inputs"][0];
    let first = &input["first_error"];
    assert_eq!(first["path"], "bats/vm1/serial.log");
    assert_eq!(first["line"], 1);
    assert_eq!(first["time"], "2026-06-11T04:58:20Z");
    assert_eq!(first["test"], "boot vm1");
    let serial = &input["logs_with_errors"][1];
    assert_eq!(serial["path"], "bats/vm1/serial.log");
    assert_eq!(serial["first"]["line"], 1);
    assert_eq!(serial["last"]["line"], 2);
}

/// A serial console's log that starts with a firmware's bytes is read as
/// the log it is, and the guest kernel's failures in it (an EXT4 error, a
/// panic) are errors: the summary starts from them, not from the service
/// that failed after.
#[test]
fn a_guest_kernels_failure_after_firmware_bytes_is_the_first_error() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    fs::create_dir_all(logs.join("vm1")).unwrap();
    let mut serial: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .map(|b| if b == b'\n' { 0 } else { b })
        .collect();
    for second in 0..100 {
        serial.extend(
            format!(
                "2026-06-11T04:57:{:02}+0000 lima-vm1 systemd[1]: Started unit {second}.\r\n",
                second % 60
            )
            .as_bytes(),
        );
    }
    serial.extend(
        b"[   31.100000] EXT4-fs error (device vda1): ext4_lookup:1855: inode #2: comm ls\r\n\
          2026-06-11T04:58:20+0000 lima-vm1 kernel: Kernel panic - not syncing: VFS\r\n",
    );
    fs::write(logs.join("vm1/serial.log"), serial).unwrap();
    fs::write(
        logs.join("rdd.stderr.log"),
        "time=\"2026-06-11T04:58:30Z\" level=error msg=\"vm1 did not boot\"\n",
    )
    .unwrap();
    let grep = run_ok(logkeep().args(["grep", "Kernel panic"]).arg(&logs));
    assert!(
        stdout(&grep).starts_with("vm1/serial.log:102: "),
        "{}",
        stdout(&grep)
    );
    let out = run_ok(logkeep().args(["summary", "--json"]).arg(&logs));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let first = &summary["inputs"][0]["first_error"];
    assert_eq!(first["path"], "vm1/serial.log", "{summary:#}");
    assert_eq!(first["line"], 101);
    let serial = &summary["inputs"][0]["logs_with_errors"][1];
    assert_eq!(serial["path"], "vm1/serial.log", "{summary:#}");
    assert_eq!(serial["last"]["line"], 102);
}

/// With a time window, `grep` places the lines before a log's first dated
/// line at its time, as `timeline` does: a serial log's `[FAILED]` lines
/// are found, with their context, and those of a log with no time at all
/// are not.
#[test]
fn grep_places_lines_before_a_logs_first_dated_line_at_its_time() {
    let (_work, logs) = logs_folder(&[
        (
            "bats/rdd.stderr.log",
            "time=\"2026-06-11T04:58:30Z\" level=error msg=\"vm1 did not boot\"\n",
        ),
        (
            "bats/vm1/serial.log",
            "booting\n\
             [FAILED] Failed to start ssh.service\n\
             2026-06-11T04:58:20+0000 lima-vm1 systemd[1]: ssh.service: Failed\n",
        ),
        ("bats/vm1/undated.log", "[FAILED] no time here\n"),
    ]);
    let found = run_ok(
        logkeep()
            .args(["grep", "-B", "1", "FAILED", "--since", "04:58"])
            .arg(&logs),
    );
    assert_eq!(
        stdout(&found),
        "bats/vm1/serial.log-1- booting\n\
         bats/vm1/serial.log:2: [FAILED] Failed to start ssh.service\n"
    );
    let json = run_ok(
        logkeep()
            .args([
                "grep", "--json", "--level", "error", "--since", "04:58", ".",
            ])
            .arg(&logs),
    );
    let lines = json_lines(&stdout(&json));
    let found: Vec<(&str, u64, &str, bool)> = lines
        .iter()
        .map(|l| {
            let path = l["path"].as_str().unwrap();
            let time = l["time"].as_str().unwrap();
            (
                path,
                l["line"].as_u64().unwrap(),
                time,
                l["dated"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        found.contains(&("bats/vm1/serial.log", 2, "2026-06-11T04:58:20Z", false)),
        "{found:?}"
    );
    // Outside the window, the held lines are left out with their dated line.
    let later = run(logkeep()
        .args(["grep", "FAILED", "--since", "04:58:25"])
        .arg(&logs));
    assert_eq!(
        (later.status.code(), stdout(&later)),
        (Some(3), String::new())
    );
}

/// A time of day is on the day the logs start, for `grep` as for
/// `timeline`, even when the file read first starts a day later.
#[test]
fn grep_places_a_time_of_day_on_the_day_the_logs_start() {
    let late = "time=\"2027-01-01T00:00:10Z\" level=info msg=later\n";
    let early = "time=\"2026-12-31T23:59:58Z\" level=error msg=earlier\n";
    let (_work, logs) = logs_folder(&[("bats/a.log", late), ("bats/b.log", early)]);
    let window = ["--since", "23:59:57", "--until", "23:59:59"];
    let found = run_ok(logkeep().args(["grep", "msg="]).args(window).arg(&logs));
    assert_eq!(stdout(&found), format!("bats/b.log:1: {early}"));
    let merged = run_ok(logkeep().arg("timeline").args(window).arg(&logs));
    assert!(
        stdout(&merged).contains("msg=earlier"),
        "{}",
        stdout(&merged)
    );
    // Two times of day are one window, on one day: 22:00 alone would be
    // the next day's (more than an hour before the logs' first line).
    for command in [&["grep", "msg="][..], &["timeline"]] {
        let found = run_ok(
            logkeep()
                .args(command)
                .args(["--since", "22:00", "--until", "23:59:59"])
                .arg(&logs),
        );
        assert!(
            stdout(&found).contains("msg=earlier") && !stdout(&found).contains("msg=later"),
            "{command:?}: {}",
            stdout(&found)
        );
    }
    // A time more than an hour before the logs' first is on the next day:
    // when nothing matches, grep says so.
    let missed = run(logkeep()
        .args(["grep", "msg=", "--since", "22:00"])
        .arg(&logs));
    assert_eq!(missed.status.code(), Some(3));
    assert!(
        stderr(&missed).contains(
            "note: nothing matched; the window starts at 2027-01-01T22:00:00Z, \
             the logs start at 2026-12-31T23:59:58Z"
        ),
        "{}",
        stderr(&missed)
    );
}

/// rdd's markers have whole seconds. A line written before a marker in the
/// same second belongs to the test before: the marker is placed at that
/// line's time, after it, in the timeline and in the summary.
#[test]
fn a_marker_in_the_second_of_a_line_before_it_comes_after_that_line() {
    let (_work, logs) = logs_folder(&[
        (
            "rdd/rdd.log",
            "=== BATS: 2027-01-01T00:00:10+0000 first ===\n\
             time=\"2027-01-01T00:00:10.5Z\" level=error msg=in-first\n\
             === BATS: 2027-01-01T00:00:10+0000 second ===\n\
             time=\"2027-01-01T00:00:10.7Z\" level=info msg=in-second\n",
        ),
        (
            "rdd/other.log",
            "time=\"2027-01-01T00:00:10.6Z\" level=info msg=other\n",
        ),
    ]);
    let timeline = stdout(&run_ok(
        logkeep().args(["timeline", "--level", "error"]).arg(&logs),
    ));
    let shown: Vec<&str> = timeline
        .lines()
        .skip(1)
        .map(|l| l.split_once(' ').unwrap().1)
        .collect::<Vec<_>>();
    assert_eq!(
        shown,
        [
            "════ test: first ════",
            "ERRO rdd/rdd.log    time=\"2027-01-01T00:00:10.5Z\" level=error msg=in-first"
        ],
        "{timeline}"
    );
    let all = stdout(&run_ok(logkeep().arg("timeline").arg(&logs)));
    let order: Vec<&str> = all
        .lines()
        .skip(1)
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["════", "msg=in-first", "════", "msg=other", "msg=in-second"],
        "{all}"
    );
    let summary = run_ok(logkeep().arg("summary").arg(&logs));
    assert!(
        stdout(&summary).contains("first error 2027-01-01T00:00:10.5Z, during test \"first\""),
        "{}",
        stdout(&summary)
    );
}

/// The BATS hook saves a copy of the logs for each failed test: the same
/// markers and errors stand in several files. A marker placed at a line's
/// time in another copy (it came after that line) does not take the line,
/// and the same error in two copies is one distinct error.
#[test]
fn copies_of_a_log_do_not_move_its_errors_to_a_later_test() {
    let first = "=== BATS: 2027-01-01T00:00:10+0000 first ===\n\
                 time=\"2027-01-01T00:00:10.5Z\" level=error msg=in-first\n";
    let later = format!("{first}=== BATS: 2027-01-01T00:00:10+0000 second ===\n");
    let (_work, logs) = logs_folder(&[
        ("bats/run/first/rdd/rdd.log", first),
        ("bats/run/second/rdd/rdd.log", &later),
    ]);
    let summary = stdout(&run_ok(logkeep().arg("summary").arg(&logs)));
    assert!(
        summary.contains("during test \"first\"") && !summary.contains("test \"second\":"),
        "{summary}"
    );
    // And the line is one error, in two copies.
    assert!(
        summary.contains(
            "  errors      2 errors in 2 logs, 1 of them distinct (copies of a log hold the same lines); 0 warnings\n"
        ),
        "{summary}"
    );
}

/// A time window leaves out every line of a file without a time (TAP
/// output, a report): grep says so, rather than only finding nothing.
#[test]
fn grep_says_a_time_window_leaves_out_files_without_times() {
    let dated = "time=\"2027-01-01T00:00:10Z\" level=info msg=started\n";
    let (_work, logs) = logs_folder(&[
        ("rdd/rdd.log", dated),
        ("ci/bats.log", "1..1\nnot ok 1 starts\n"),
    ]);
    let out = run(logkeep()
        .args(["grep", "not ok", "--since", "2027-01-01"])
        .arg(&logs));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains(
            "note: 1 file has no line with a time, so the time window leaves all its lines out: ci/bats.log ("
        ),
        "{}",
        stderr(&out)
    );
    // With several inputs, each file is named with its input's label, as
    // the lines found are.
    let out = run(logkeep()
        .args(["grep", "not ok", "--since", "2027-01-01"])
        .arg(&logs)
        .arg(&logs));
    assert!(
        stderr(&out).contains(
            "note: 2 files have no line with a time, so the time window leaves all their lines out: \
             [logs (logs #1)] ci/bats.log, [logs (logs #2)] ci/bats.log ("
        ),
        "{}",
        stderr(&out)
    );
    // Without a window, nothing to say.
    let out = run_ok(logkeep().args(["grep", "not ok"]).arg(&logs));
    assert_eq!(stdout(&out), "ci/bats.log:2: not ok 1 starts\n");
    assert!(
        !stderr(&out).contains("no line with a time"),
        "{}",
        stderr(&out)
    );
}

/// Two runs of "different jobs": the macOS one has an error the Linux one has not.
fn two_jobs(work: &Path) -> (PathBuf, PathBuf) {
    let error = "time=\"2026-06-11T05:10:03Z\" level=error msg=\"vz: cannot release the virtual machine\" vm=test-stopped";
    jobs_where_macos_adds(work, &[error.to_string()])
}

/// The run labels of the lines `grep` finds of the two jobs' failed VM start.
fn labels_of_failed_vm_starts(inputs: &[&Path]) -> Vec<String> {
    let grep = run_ok(
        logkeep()
            .args(["grep", "--level", "error", "failed to start VM"])
            .args(inputs),
    );
    stdout(&grep)
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// What `gh run download` gives: a folder per artifact, each holding its
/// archive. Given that folder, every command reads each archive as an input.
#[test]
fn a_folder_of_downloaded_archives_is_read_as_those_archives() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = two_jobs(work.path());
    let downloads = work.path().join("downloads");
    for (job, archive) in [("rdd-logs-linux", &a), ("rdd-logs-macos", &b)] {
        fs::create_dir_all(downloads.join(job)).unwrap();
        fs::rename(
            archive,
            downloads.join(job).join(archive.file_name().unwrap()),
        )
        .unwrap();
    }
    let summary = run_ok(logkeep().arg("summary").arg(&downloads));
    let text = stdout(&summary);
    assert!(text.contains("Errors not in every job (1):"), "{text}");
    assert!(
        stderr(&summary)
            .contains("holds archives and no logs: each is read as an input (rdd-logs-linux/"),
        "{}",
        stderr(&summary)
    );
    assert_eq!(
        labels_of_failed_vm_starts(&[&downloads]),
        ["[bats/Linux]", "[bats/macOS]"]
    );
    let verify = run_ok(logkeep().arg("verify").arg(&downloads));
    assert_eq!(
        stdout(&verify).matches("42 of 42 files match").count(),
        2,
        "{}",
        stdout(&verify)
    );
    // An artifact of logs beside them is an input of its own.
    fs::create_dir(downloads.join("ci-logs")).unwrap();
    fs::write(downloads.join("ci-logs/bats.log"), "not ok 1 boots\n").unwrap();
    let summary = run_ok(logkeep().arg("summary").arg(&downloads));
    assert!(
        stdout(&summary).contains("    \"boots\"; see bats.log:1\n"),
        "{}",
        stdout(&summary)
    );
    assert!(
        stderr(&summary).contains(
            "holds a folder per artifact: each is read as an input (ci-logs, rdd-logs-linux/"
        ),
        "{}",
        stderr(&summary)
    );
    assert_eq!(
        labels_of_failed_vm_starts(&[&downloads]),
        ["[bats/Linux]", "[bats/macOS]"]
    );
    // A folder of logs with an archive among them is a folder of logs.
    let logs = work.path().join("logs");
    fs::create_dir_all(logs.join("old")).unwrap();
    fs::write(logs.join("notes.log"), "level=error msg=x\n").unwrap();
    fs::copy(
        downloads
            .join("rdd-logs-linux")
            .join(a.file_name().unwrap()),
        logs.join("old").join(a.file_name().unwrap()),
    )
    .unwrap();
    let grep = run_ok(logkeep().args(["grep", "msg=x"]).arg(&logs));
    assert_eq!(stdout(&grep), "notes.log:1: level=error msg=x\n");
}

/// JSON lines as Python's `json.dumps` writes them (a blank after each
/// colon) and as zap writes them (`"ts"` in epoch seconds) have their time
/// and level, and take their place in the timeline.
#[test]
fn json_lines_of_other_writers_are_placed_in_time() {
    let (_work, logs) = logs_folder(&[
        (
            "app.log",
            "{\"time\": \"2026-06-11T04:50:03Z\", \"level\": \"error\", \"msg\": \"db down\"}\n",
        ),
        (
            "zap.log",
            "{\"level\":\"error\",\"ts\":1781153402.25,\"msg\":\"dial failed\"}\n",
        ),
    ]);
    let out = run_ok(logkeep().args(["timeline", "--level", "error"]).arg(&logs));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("04:50:02.250") && lines[0].contains("dial failed"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("04:50:03") && lines[1].contains("db down"),
        "{lines:?}"
    );
}

/// A line longer than the reader takes (64 KiB) is searched in its first
/// part only, and `grep` says so rather than just "no match".
#[test]
fn grep_says_which_long_lines_it_searched_in_part() {
    let long = format!("{} FINAL_ERROR\nshort\n", "x".repeat(3 << 20));
    let (_work, logs) = logs_folder(&[("support-bundle.log", &long)]);
    let grep = run(logkeep().args(["grep", "FINAL_ERROR"]).arg(&logs));
    assert_eq!(grep.status.code(), Some(3));
    assert!(
        stderr(&grep).contains(
            "note: 1 line is longer than 64 KiB (the first: support-bundle.log:1): only its \
             first 64 KiB were searched (`logkeep cat` shows it whole)"
        ),
        "{}",
        stderr(&grep)
    );
}

/// A folder of more than a thousand archives (a matrix's artifacts in one
/// folder) is read whole, and `grep` over them needs no open file per
/// input: under macOS's default limit of 256 open files (64 here), every
/// archive's line is found.
#[test]
fn grep_reads_a_thousand_archives_under_a_small_limit_of_open_files() {
    let (work, logs) = logs_folder(&[("rdd.log", "2026-11-28T01:00:00Z level=error msg=boom\n")]);
    let one = work.path().join("one.tar.gz");
    run_ok(
        logkeep()
            .args(["collect", "--instance", "rdd", "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&one),
    );
    let downloads = work.path().join("downloads");
    fs::create_dir(&downloads).unwrap();
    for job in 0..1001 {
        fs::copy(&one, downloads.join(format!("job{job:04}.tar.gz"))).unwrap();
    }
    let grep = run_ok(
        Command::new("sh")
            .args(["-c", "ulimit -n 64 && exec \"$0\" grep -c boom \"$1\""])
            .arg(env!("CARGO_BIN_EXE_logkeep"))
            .arg(&downloads),
    );
    assert_eq!(stdout(&grep).lines().count(), 1001, "{}", stderr(&grep));
    assert!(
        stdout(&grep).ends_with("(job1000.tar.gz)] rdd/rdd.log:1\n"),
        "{}",
        stdout(&grep)
    );
    assert!(
        stderr(&grep).contains("job0009.tar.gz, and 991 more)"),
        "{}",
        stderr(&grep)
    );
}

/// An RFC 3339 UTC time with 9 fractional digits, so strings sort as times.
fn sortable(time: &str) -> String {
    let time = time.trim_end_matches('Z');
    let (seconds, fraction) = time.split_once('.').unwrap_or((time, ""));
    format!("{seconds}.{fraction:0<9}Z")
}

#[test]
fn several_jobs_are_labelled_by_their_run_and_compared() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = two_jobs(work.path());
    let summary = run_ok(logkeep().arg("summary").arg(&a).arg(&b));
    let text = stdout(&summary);
    assert!(text.contains("Errors not in every job (1):"), "{text}");
    assert!(
        text.contains("only in bats/macOS: 1 line, e.g. bats-lima-controller/rdd.stderr.log:40:"),
        "{text}"
    );
    assert_eq!(
        labels_of_failed_vm_starts(&[&a, &b]),
        ["[bats/Linux]", "[bats/macOS]"]
    );
    let timeline = run_ok(
        logkeep()
            .args(["timeline", "--level", "error", "--json"])
            .arg(&a)
            .arg(&b),
    );
    let lines = json_lines(&stdout(&timeline));
    let last = lines.last().unwrap();
    assert_eq!(last["run"], "bats/macOS");
    assert!(last["text"].as_str().unwrap().contains("cannot release"));
    // Both jobs' lines are in one stream, in time order.
    let times: Vec<String> = lines
        .iter()
        .map(|l| sortable(l["time"].as_str().unwrap()))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(lines.iter().any(|l| l["run"] == "bats/Linux"));
}

/// Two jobs, Linux and macOS; `macos_lines` are added to the macOS job's
/// rdd.stderr.log (its 39 lines end at 05:10:02).
fn jobs_where_macos_adds(work: &Path, macos_lines: &[String]) -> (PathBuf, PathBuf) {
    let linux = Tree::new();
    let macos = Tree::new();
    let log = macos.path(&format!("{}/rdd.stderr.log", Tree::LIMA_LOG_DIR));
    let mut text = fs::read_to_string(&log).unwrap();
    for line in macos_lines {
        text.push_str(line);
        text.push('\n');
    }
    fs::write(&log, text).unwrap();
    let a = work.join("rdd-logs-linux.tar.zst");
    let b = work.join("rdd-logs-macos.zip");
    collect_job(&linux, &a, "bats", "Linux");
    collect_job(&macos, &b, "bats", "macOS");
    (a, b)
}

#[test]
fn summary_json_carries_the_whole_text_of_long_error_lines() {
    let work = tempfile::tempdir().unwrap();
    let message = format!(
        "vz: cannot release {}end",
        "the virtual machine ".repeat(15)
    );
    let line =
        format!("time=\"2026-06-11T05:10:03Z\" level=error msg=\"{message}\" vm=test-stopped");
    assert!(line.chars().count() > 250);
    let (a, b) = jobs_where_macos_adds(work.path(), std::slice::from_ref(&line));
    let json = run_ok(logkeep().args(["summary", "--json"]).arg(&a).arg(&b));
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let macos = &summary["inputs"][1];
    let log = macos["logs_with_errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == "bats-lima-controller/rdd.stderr.log")
        .unwrap();
    assert_eq!(log["last"]["text"], line.as_str());
    assert_eq!(
        summary["differences"][0]["example"],
        format!("bats-lima-controller/rdd.stderr.log:40: {line}").as_str()
    );
    validate_json("summary.schema.json", std::slice::from_ref(&summary));
    // The text output still fits a screen: the line is cut, and says so.
    let text = stdout(&run_ok(logkeep().arg("summary").arg(&a).arg(&b)));
    assert!(!text.contains(&line), "{text}");
    assert!(text.contains(&format!("{}…", &line[..200])), "{text}");
}

#[test]
fn errors_not_in_every_job_are_listed_in_time_order() {
    let work = tempfile::tempdir().unwrap();
    // Line 40 is the latest and its message sorts first; line 41 the earliest.
    let lines: Vec<String> = [
        ("05:10:09", "alpha broke"),
        ("05:10:03", "zeta broke"),
        ("05:10:05", "mid broke"),
    ]
    .iter()
    .map(|(time, msg)| format!("time=\"2026-06-11T{time}Z\" level=error msg=\"{msg}\""))
    .collect();
    let (a, b) = jobs_where_macos_adds(work.path(), &lines);
    let text = stdout(&run_ok(logkeep().arg("summary").arg(&a).arg(&b)));
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Errors not in every job"))
        .skip(1)
        .map(|l| l.split(" e.g. ").nth(1).unwrap_or(l))
        .collect();
    let at = |line: u32| format!("bats-lima-controller/rdd.stderr.log:{line}: ");
    assert_eq!(listed.len(), 3, "{text}");
    for (shown, line) in listed.iter().zip([41, 42, 40]) {
        assert!(shown.starts_with(&at(line)), "{line}: {text}");
    }
    let json = run_ok(logkeep().args(["summary", "--json"]).arg(&a).arg(&b));
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let times: Vec<&str> = summary["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-06-11T05:10:03Z",
            "2026-06-11T05:10:05Z",
            "2026-06-11T05:10:09Z"
        ]
    );
    validate_json("summary.schema.json", &[summary]);
}

#[test]
fn the_same_input_given_twice_gets_two_labels() {
    let work = tempfile::tempdir().unwrap();
    let tree = Tree::new();
    let a = work.path().join("a.tar.zst");
    collect_job(&tree, &a, "bats", "Linux");
    let (first, second) = ("bats/Linux (a.tar.zst #1)", "bats/Linux (a.tar.zst #2)");
    let summary = run_ok(logkeep().args(["summary", "--json"]).arg(&a).arg(&a));
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    assert_eq!(summary["inputs"][0]["label"], first);
    assert_eq!(summary["inputs"][1]["label"], second);
    let text = stdout(&run_ok(logkeep().arg("summary").arg(&a).arg(&a)));
    assert!(
        text.starts_with(&format!("{first}\n")) && text.contains(&format!("\n{second}\n")),
        "{text}"
    );
    let grep = run_ok(
        logkeep()
            .args(["grep", "--json", "failed to start VM"])
            .arg(&a)
            .arg(&a),
    );
    let runs: Vec<serde_json::Value> = json_lines(&stdout(&grep))
        .iter()
        .map(|l| l["run"].clone())
        .collect();
    assert_eq!(runs, [first, second], "{}", stdout(&grep));
    let timeline = run_ok(
        logkeep()
            .args(["timeline", "--json", "--level", "error"])
            .arg(&a)
            .arg(&a),
    );
    let lines = json_lines(&stdout(&timeline));
    for run in [first, second] {
        assert!(lines.iter().any(|l| l["run"] == run), "{run}");
    }
}

#[test]
fn summary_is_the_one_screen_answer() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("rdd-logs.tar.gz");
    collect_job(&tree, &input, "bats", "Linux");
    let out = run_ok(logkeep().arg("summary").arg(&input));
    insta::with_settings!({filters => vec![
        (r"input .*/rdd-logs.tar.gz", "input [path]/rdd-logs.tar.gz"),
        (r"collected .*", "collected [time, version and host of the collection]"),
    ]}, {
        insta::assert_snapshot!("summary_fixture", stdout(&out));
    });
}

#[test]
fn ls_shows_each_files_time_span() {
    let tree = Tree::new();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("rdd-logs.zip");
    collect_job(&tree, &input, "bats", "Linux");
    let out = run_ok(logkeep().arg("ls").arg(&input).args([
        "--instance",
        "bats-lima-controller",
        "--kind",
        "service",
    ]));
    insta::assert_snapshot!("ls_service_logs", stdout(&out));
}

#[test]
fn json_outputs_match_their_schemas() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = two_jobs(work.path());
    let grep = run_ok(
        logkeep()
            .args(["grep", "--json", "-i", "error|ssh"])
            .arg(&a)
            .arg(&b),
    );
    let matches = json_lines(&stdout(&grep));
    assert!(matches.len() > 10);
    validate_json("grep-match.schema.json", &matches);
    let single = run_ok(
        logkeep()
            .args(["grep", "--json", "--level", "warn", "."])
            .arg(&a),
    );
    validate_json("grep-match.schema.json", &json_lines(&stdout(&single)));
    let timeline = run_ok(logkeep().args(["timeline", "--json"]).arg(&a).arg(&b));
    validate_json("timeline-line.schema.json", &json_lines(&stdout(&timeline)));
    let summary = run_ok(logkeep().args(["summary", "--json"]).arg(&a).arg(&b));
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    assert_eq!(summary["inputs"][1]["label"], "bats/macOS");
    validate_json("summary.schema.json", &[summary]);
    let ls = run_ok(logkeep().args(["ls", "--json"]).arg(&b));
    validate_json(
        "ls.schema.json",
        &[serde_json::from_slice(&ls.stdout).unwrap()],
    );
}

#[test]
fn bad_times_and_inputs_are_refused_with_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    let bad_time = run(logkeep().args(["timeline", ".", "--since", "yesterday"]));
    assert_eq!(bad_time.status.code(), Some(2));
    assert!(
        stderr(&bad_time).contains("2026-06-11T04:50:00Z"),
        "{}",
        stderr(&bad_time)
    );
    let junk = work.path().join("junk.bin");
    fs::write(&junk, "not an archive").unwrap();
    let out = run(logkeep().arg("summary").arg(&junk));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("junk.bin") && stderr(&out).contains("hint:"));
}

#[test]
fn grep_counts_lists_inverts_and_shows_context_like_grep() {
    let work = tempfile::tempdir().unwrap();
    let inputs = timeline_inputs(work.path());
    let folder = &inputs[0].1;
    let count = run_ok(logkeep().args(["grep", "-c", "level="]).arg(folder));
    assert_eq!(stdout(&count), "bats-a/rdd.stderr.log:3\n");
    let files = run_ok(logkeep().args(["grep", "-l", "-i", "ssh"]).arg(folder));
    assert_eq!(
        stdout(&files),
        // ha.stdout.log by its `sshLocalPort`.
        "bats-a/guest-journal.log\nbats-a/lima-vm1/ha.stderr.log\nbats-a/lima-vm1/ha.stdout.log\nbats-a/lima-vm1/serial.log\n"
    );
    let inverted = run(logkeep()
        .args(["grep", "-v", "-c", "LIMA", "--path", "*/lima-init.log"])
        .arg(folder));
    // Every line of lima-init.log has LIMA: nothing selected, exit 3.
    assert_eq!(inverted.status.code(), Some(3));
    assert_eq!(stdout(&inverted), "");
    let context = run_ok(logkeep().args(["grep", "-C", "1", "goroutine"]).arg(folder));
    assert_eq!(
        stdout(&context),
        "bats-a/lima-vm1/ha.stderr.log-5- \n\
         bats-a/lima-vm1/ha.stderr.log:6: goroutine 57 [running]:\n\
         bats-a/lima-vm1/ha.stderr.log-7- github.com/lima-vm/lima/v2/pkg/hostagent.(*HostAgent).close(0xc0001e6000)\n"
    );
    // A --path that matches nothing says so; timeline then shows nothing
    // (not the tests' markers alone) and exits 3 too.
    let timeline = run(logkeep()
        .args(["timeline", "--path", "ha.stderr.log"])
        .arg(folder));
    assert_eq!(timeline.status.code(), Some(3));
    assert_eq!(stdout(&timeline), "");
    assert!(stderr(&timeline).contains("no file matched --path"));
    let nothing = run(logkeep()
        .args(["grep", "x", "--path", "ha.stderr.log"])
        .arg(folder));
    assert_eq!(nothing.status.code(), Some(3));
    let said = stderr(&nothing);
    assert!(said.contains("no file matched --path"), "{said}");
    // Its example is a path of the input, and the glob it offers finds it.
    let example = said
        .split_once("such as bats-a/")
        .and_then(|(_, rest)| rest.split_once(": try '"))
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(glob, _)| glob.to_string())
        .unwrap_or_else(|| panic!("{said}"));
    // It is the file the pattern meant, under any folder.
    assert_eq!(example, "*/ha.stderr.log", "{said}");
    let found = run(logkeep()
        .args(["grep", "-l", ".", "--path", &example])
        .arg(folder));
    assert!(found.status.success(), "{example}: {}", stderr(&found));
    assert_eq!(
        stdout(&found),
        "bats-a/lima-vm1/ha.stderr.log\n",
        "{example}"
    );
    // A part of a name offers that part within a name.
    let part = run(logkeep()
        .args(["grep", "x", "--path", "guest-jour"])
        .arg(folder));
    assert!(
        stderr(&part).contains(": try '*/guest-jour*'"),
        "{}",
        stderr(&part)
    );
    // A folder offers what is below it; a path's start, the paths it starts.
    for (pattern, offered) in [
        ("bats-a/lima-vm1", "bats-a/lima-vm1/*"),
        ("bats-a/guest", "bats-a/guest*"),
    ] {
        let said = run(logkeep().args(["grep", "x", "--path", pattern]).arg(folder));
        assert!(
            stderr(&said).contains(&format!(": try '{offered}'")),
            "{}",
            stderr(&said)
        );
    }
}

#[test]
fn grep_json_refuses_context_as_it_refuses_count_and_list() {
    let work = tempfile::tempdir().unwrap();
    let inputs = timeline_inputs(work.path());
    let folder = &inputs[0].1;
    for flags in [
        &["-C", "1"][..],
        &["-A", "1"],
        &["-B", "2"],
        &["-c"],
        &["-l"],
    ] {
        let out = run(logkeep()
            .args(["grep", "--json"])
            .args(flags)
            .arg("goroutine")
            .arg(folder));
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{flags:?}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{flags:?}");
    }
}

/// A reader that has read enough (`| head -1`) ends the output without an
/// error and with exit code 0: the output is larger than a pipe holds, so
/// logkeep's writes meet the closed pipe, and pipefail gives its exit code.
#[test]
fn a_closed_pipe_ends_json_output_quietly() {
    let lines: String = (0..20_000)
        .map(|i| {
            format!(
                "2026-06-11T04:{:02}:{:02}.{:03}Z ERROR step {i} failed\n",
                i / 60_000 % 60,
                i / 1000 % 60,
                i % 1000
            )
        })
        .collect();
    let (work, logs) = logs_folder(&[("inst/a.log", &lines)]);
    for command in [
        "timeline --json",
        "grep --json .",
        "timeline --level warn",
        "grep step",
    ] {
        let err = work.path().join("stderr");
        let out = run(Command::new("bash").arg("-c").arg(format!(
            "set -o pipefail; {} {command} {} 2>{} | head -1",
            env!("CARGO_BIN_EXE_logkeep"),
            logs.display(),
            err.display()
        )));
        let said = fs::read_to_string(&err).unwrap();
        assert!(out.status.success(), "{command}: {said}");
        assert!(!said.contains("error"), "{command}: {said}");
        assert_eq!(stdout(&out).lines().count(), 1, "{command}");
    }
}

#[test]
fn inputs_that_are_not_logkeep_outputs_are_said_to_be() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (a, b) = two_jobs(w);
    // A zip holding two archives (not what GitHub's download gives for one artifact).
    ok(Command::new("zip")
        .arg("-qj")
        .arg(w.join("two.zip"))
        .arg(&a)
        .arg(&b));
    let two = run_ok(logkeep().arg("summary").arg(w.join("two.zip")));
    assert!(
        stderr(&two).contains("holds no text files"),
        "{}",
        stderr(&two)
    );
    let empty = w.join("empty");
    fs::create_dir(&empty).unwrap();
    let nothing = run_ok(logkeep().arg("timeline").arg(&empty));
    assert!(
        stderr(&nothing).contains("holds no files"),
        "{}",
        stderr(&nothing)
    );
    let plain = run_ok(
        logkeep()
            .arg("summary")
            .arg(Path::new(TIMELINE_FIXTURE).join("logs")),
    );
    assert!(stdout(&plain).contains("no manifest"), "{}", stdout(&plain));
    assert!(stderr(&plain).contains("has no readable manifest.json"));
    // verify goes on past an input it cannot read, and fails.
    let verify = run(logkeep()
        .arg("verify")
        .arg(&a)
        .arg(w.join("missing.zip"))
        .arg(&b));
    assert_eq!(verify.status.code(), Some(1));
    assert_eq!(stdout(&verify).matches("42 of 42 files match").count(), 2);
    assert!(stderr(&verify).contains("missing.zip"));
}

/// Whether process `pid` has a file open in `dir`, named or not (an unnamed
/// temporary file shows as `dir/#inode (deleted)`).
fn has_file_open_in(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .any(|target| target.starts_with(dir))
}

/// Run `command` with TMPDIR set to a fresh folder, send it SIGINT once it
/// has a temporary file open there, and check that it exits 130 and leaves
/// nothing in that folder.
fn interrupted_leaves_no_temporary(command: &mut Command) {
    let tmp = tempfile::tempdir().unwrap();
    let tmp_path = tmp.path().canonicalize().unwrap();
    let (code, err) = signal_when(command.env("TMPDIR", &tmp_path), "INT", |pid| {
        has_file_open_in(pid, &tmp_path)
    });
    assert_eq!(code, Some(130), "{err}");
    // A reading command has no output to speak of.
    assert!(
        err.trim_end().ends_with("logkeep: interrupted (SIGINT)"),
        "{err}"
    );
    let left: Vec<_> = fs::read_dir(&tmp_path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{err}");
}

/// The timeline's merge spool (hundreds of MB for large logs) does not
/// outlive an interrupted run.
#[test]
fn sigint_mid_timeline_leaves_no_spool_and_exits_130() {
    let work = tempfile::tempdir().unwrap();
    let archive = big_archive(work.path());
    interrupted_leaves_no_temporary(logkeep().arg("timeline").arg(&archive));
}

/// Nor does the copy of the archive inside GitHub's artifact zip, which is
/// spooled to a temporary file to be read.
#[test]
fn sigint_mid_grep_of_a_wrapped_archive_leaves_no_spool_and_exits_130() {
    let work = tempfile::tempdir().unwrap();
    big_archive(work.path());
    ok(Command::new("zip")
        .args(["-q", "download.zip", "big.tar.zst"])
        .current_dir(work.path()));
    interrupted_leaves_no_temporary(
        logkeep()
            .args(["grep", "zzzz"])
            .arg(work.path().join("download.zip")),
    );
}

#[test]
fn nul_fill_and_a_byte_order_mark_hide_no_line() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    fs::create_dir(&logs).unwrap();
    let line = |second: u32, level: &str, msg: &str| {
        format!("time=\"2026-06-11T05:00:{second:02}Z\" level={level} msg=\"{msg}\"\n")
    };
    // What a copytruncate rotation leaves: the writer goes on at its old
    // offset, so the file starts with a hole of NULs (here longer than the
    // longest line triage keeps), and the text follows it.
    let mut truncated = vec![0u8; 100 * 1024];
    truncated.extend(line(1, "error", "after copytruncate").bytes());
    truncated.extend(line(2, "info", "then on").bytes());
    fs::write(logs.join("rdd.stderr.log"), truncated).unwrap();
    // NULs in the middle of a file, after its first 8 KiB of text.
    let mut middle = line(3, "info", "before").repeat(200).into_bytes();
    middle.extend([0u8; 4096]);
    middle.extend(line(4, "error", "after the fill").bytes());
    fs::write(logs.join("rdd.stdout.log"), middle).unwrap();
    let bom = [
        "\u{feff}",
        &line(5, "error", "bom first"),
        &line(6, "info", "x"),
    ]
    .concat();
    fs::write(logs.join("lima.stderr.log"), bom).unwrap();
    let out = work.path().join("out.tar.gz");
    collect_logs("n", &logs, &out);

    let errors = stdout(&run_ok(
        logkeep().args(["grep", "--level", "error", "."]).arg(&out),
    ));
    for (file, text) in [
        ("n/rdd.stderr.log:1:", "after copytruncate"),
        ("n/rdd.stdout.log:201:", "after the fill"),
        ("n/lima.stderr.log:1:", "bom first"),
    ] {
        let found = errors
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_default();
        assert!(found.starts_with(file), "{text}: {errors}");
        assert!(
            !found.contains("\\x00") && !found.contains('\u{feff}'),
            "{found}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&run_ok(logkeep().args(["summary", "--json"]).arg(&out)).stdout)
            .unwrap();
    assert_eq!(summary["inputs"][0]["errors"], 3, "{summary}");
    let timeline = stdout(&run_ok(logkeep().arg("timeline").arg(&out)));
    let order: Vec<&str> = [
        "after copytruncate",
        "then on",
        "after the fill",
        "bom first",
    ]
    .into_iter()
    .filter(|text| timeline.contains(text))
    .collect();
    assert_eq!(order.len(), 4, "{timeline}");
    let at = |text: &str| timeline.find(text).unwrap();
    assert!(at("after copytruncate") < at("then on") && at("then on") < at("after the fill"));
    assert!(at("after the fill") < at("bom first"), "{timeline}");
}

/// A whole tar.zst and a tar.gz cut in half, both of the fixture tree.
fn whole_and_cut(work: &Path) -> (PathBuf, PathBuf) {
    let tree = Tree::new();
    let whole = work.join("a.tar.zst");
    let source = work.join("a.tar.gz");
    collect_job(&tree, &whole, "whole", "Linux");
    collect_job(&tree, &source, "cut", "Linux");
    let bytes = fs::read(&source).unwrap();
    let cut = work.join("trunc.tar.gz");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    (whole, cut)
}

fn says_damaged(said: &str, input: &str) {
    assert!(
        said.contains(&format!("{input} looks truncated or damaged"))
            && said.contains("download it again"),
        "{said}"
    );
}

#[test]
fn one_damaged_input_does_not_wipe_out_the_others_or_what_was_read_of_it() {
    let work = tempfile::tempdir().unwrap();
    let (whole, cut) = whole_and_cut(work.path());
    let grep = run(logkeep()
        .args(["grep", "level=error"])
        .arg(&whole)
        .arg(&cut));
    assert_eq!(grep.status.code(), Some(3));
    assert!(
        stdout(&grep).contains("[whole/Linux] "),
        "{}",
        stdout(&grep)
    );
    says_damaged(&stderr(&grep), "trunc.tar.gz");
    // What was read of the cut input before the damage is there too.
    let grep = run(logkeep().args(["grep", "-c", "."]).arg(&whole).arg(&cut));
    assert_eq!(grep.status.code(), Some(3));
    assert!(
        stdout(&grep).contains("[trunc.tar.gz] "),
        "{}",
        stdout(&grep)
    );

    let timeline = run(logkeep().arg("timeline").arg(&whole).arg(&cut));
    assert_eq!(timeline.status.code(), Some(3));
    let text = stdout(&timeline);
    assert!(
        text.contains("[whole/Linux] ") && text.contains("[trunc.tar.gz] "),
        "{text}"
    );
    says_damaged(&stderr(&timeline), "trunc.tar.gz");
    let alone = run(logkeep().arg("timeline").arg(&cut));
    assert_eq!(alone.status.code(), Some(3));
    assert!(stdout(&alone).lines().count() > 10, "{}", stdout(&alone));
    // The test of its first error is the latest whose start was read: a
    // later one's may be in what was lost, and the summary says so.
    let summary = run(logkeep().arg("summary").arg(&cut));
    assert_eq!(summary.status.code(), Some(3));
    let first = stdout(&summary)
        .lines()
        .find(|l| l.contains("first error"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{}", stdout(&summary)));
    assert!(
        first.contains(", during test \"")
            && first.ends_with("\" (the latest started in what could be read)"),
        "{first}"
    );

    // An input of which nothing can be read: named, the other still shown.
    let zst = fs::read(&whole).unwrap();
    let nothing = work.path().join("trunc.tar.zst");
    fs::write(&nothing, &zst[..zst.len() / 2]).unwrap();
    let summary = run(logkeep().arg("summary").arg(&whole).arg(&nothing));
    assert_eq!(summary.status.code(), Some(3));
    assert!(
        stdout(&summary).contains("whole/Linux"),
        "{}",
        stdout(&summary)
    );
    says_damaged(&stderr(&summary), "trunc.tar.zst");
    let alone = run(logkeep().args(["grep", "x"]).arg(&nothing));
    assert_eq!(alone.status.code(), Some(1));
    says_damaged(&stderr(&alone), "trunc.tar.zst");
    // extract says so too: it unpacks what could be read (exit 3), and
    // leaves nothing when nothing could be (exit 1).
    for (damaged, code) in [(&cut, 3), (&nothing, 1)] {
        let to = work.path().join(format!("extracted-{code}"));
        let out = run(logkeep().arg("extract").arg(damaged).arg("--to").arg(&to));
        assert_eq!(out.status.code(), Some(code));
        says_damaged(
            &stderr(&out),
            &damaged.file_name().unwrap().to_string_lossy(),
        );
        assert_eq!(to.exists(), code == 3);
    }
}

/// `files` logs (`svc0.log`, …) of `lines` dated lines that hardly compress
/// (each holds a pseudo-random number), the same at every run: damage to
/// an archive of them falls inside a log's data.
fn incompressible_logs(dir: &Path, files: usize, lines: usize) {
    fs::create_dir_all(dir).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for n in 0..files {
        let text: String = (0..lines)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                format!("time=\"2026-06-11T05:00:00Z\" level=info msg=\"{seed:x}\"\n")
            })
            .collect();
        fs::write(dir.join(format!("svc{n}.log")), text).unwrap();
    }
}

/// Collect the logs in `logs` as instance `name` (without a Lima home) into `out`.
fn collect_logs(name: &str, logs: &Path, out: &Path) {
    let none = logs.with_file_name("no-lima-home");
    run_ok(
        logkeep()
            .args(["collect", "-q", "--instance", name, "--log-dir"])
            .arg(logs)
            .arg("--lima-home")
            .arg(none)
            .arg("-o")
            .arg(out),
    );
}

/// Flip one bit of `from` a third of the way in.
fn flip_bit(from: &Path, to: &Path) {
    let mut bytes = fs::read(from).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    fs::write(to, bytes).unwrap();
}

#[test]
fn a_flipped_bit_is_caught_by_the_streams_checksum_in_every_command() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("r3/log");
    // A flipped bit alters a literal: only the stream's checksum can tell.
    incompressible_logs(&logs, 4, 30_000);
    for name in ["r3.tar.zst", "r3.tar.gz"] {
        let whole = work.path().join(name);
        collect_logs("r3", &logs, &whole);
        let flipped = work.path().join(format!("flipped-{name}"));
        flip_bit(&whole, &flipped);
        let shown = format!("flipped-{name}");
        for args in [
            &["grep", "-c", "xyz"][..],
            &["summary"],
            &["timeline", "--level", "error"],
        ] {
            let out = run(logkeep().args(args).arg(&flipped));
            assert_eq!(out.status.code(), Some(3), "{args:?} {name}");
            says_damaged(&stderr(&out), &shown);
        }
        // cat checks what it printed against the manifest.
        let mut altered = 0;
        for n in 0..4 {
            let out = run(logkeep()
                .arg("cat")
                .arg(&flipped)
                .arg(format!("r3/svc{n}.log")));
            let said = stderr(&out);
            says_damaged(&said, &shown);
            if out.status.code() == Some(3) {
                // The manifest, after the damage, may be out of reach.
                assert!(
                    said.contains("does not match the manifest") || said.contains("may be altered"),
                    "{said}"
                );
                altered += 1;
            } else if out.status.code() == Some(1) {
                // The damage was met inside the file, or before it.
                assert!(
                    said.contains("is incomplete") || said.contains("was found)"),
                    "{said}"
                );
                altered += 1;
            } else {
                assert!(out.status.success(), "{said}");
                assert!(
                    said.contains("printed whole and matches the manifest"),
                    "{said}"
                );
            }
        }
        assert!(altered >= 1, "{name}: the flipped bit altered no file");
    }
}

/// `grep -c` counts, and `-l` names, a file that damage cuts short by its
/// lines before the damage, as a search without them shows those lines.
#[test]
fn counts_and_names_of_a_file_cut_short_are_those_of_its_lines_before_the_damage() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("big/log");
    incompressible_logs(&logs, 1, 100_000);
    for name in ["big.tar.gz", "big.tar.zst", "big.zip"] {
        let whole = work.path().join(name);
        collect_logs("big", &logs, &whole);
        let damaged = work.path().join(format!("damaged-{name}"));
        if name.ends_with(".zip") {
            // A zip cut short loses its directory: damage inside instead.
            flip_bit(&whole, &damaged);
        } else {
            let bytes = fs::read(&whole).unwrap();
            fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
        }
        let grep = |args: &[&str]| {
            let out = run(logkeep()
                .arg("grep")
                .args(args)
                .arg("level=info")
                .arg(&damaged));
            assert_eq!(
                out.status.code(),
                Some(3),
                "{name} {args:?}: {}",
                stderr(&out)
            );
            stdout(&out)
        };
        let shown = grep(&[]).lines().count();
        // A zip's entry may be read to its end before its checksum fails.
        assert!(
            shown > 1000 && shown <= 100_000,
            "{name}: {shown} lines shown"
        );
        assert_eq!(grep(&["-c"]), format!("big/svc0.log:{shown}\n"), "{name}");
        assert_eq!(grep(&["-l"]), "big/svc0.log\n", "{name}");
    }
}

/// A zip cut short has lost its central directory, at its end; the entries
/// before the cut are read from the front: logkeep's own zip, and GitHub's
/// zip of one archive (a streamed zip, with data descriptors, as GitHub's
/// is) whose archive inside is read up to the cut. A zip that lost only its
/// directory loses no file.
#[test]
fn a_zip_cut_short_shows_what_comes_before_the_cut() {
    let work = tempfile::tempdir().unwrap();
    let tree = Tree::new();
    let zip = work.path().join("a.zip");
    collect_job(&tree, &zip, "zipped", "Linux");
    let lines = |input: &Path| {
        let out = run(logkeep().args(["grep", "-c", "."]).arg(input));
        let total: u64 = stdout(&out)
            .lines()
            .map(|l| l.rsplit(':').next().unwrap().parse::<u64>().unwrap())
            .sum();
        (out, total)
    };
    let (whole, all_lines) = lines(&zip);
    assert!(
        whole.status.success() && all_lines > 100,
        "{}",
        stderr(&whole)
    );

    // Only the directory lost: every file is there, the damage said.
    let bytes = fs::read(&zip).unwrap();
    let no_directory = work.path().join("no-directory.zip");
    fs::write(&no_directory, &bytes[..bytes.len() - 200]).unwrap();
    let (out, read) = lines(&no_directory);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(read, all_lines);
    assert!(
        stderr(&out).contains("every entry before it was read"),
        "{}",
        stderr(&out)
    );
    let ls = run(logkeep().arg("ls").arg(&no_directory));
    assert!(
        stderr(&ls).contains("every file it lists was read"),
        "{}",
        stderr(&ls)
    );
    let verify = run(logkeep().arg("verify").arg(&no_directory));
    assert!(
        stdout(&verify).contains("files match the manifest"),
        "{}",
        stdout(&verify)
    );

    // Cut in half: the files before the cut, and the lines of the one cut.
    let half = work.path().join("half.zip");
    fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let (out, read) = lines(&half);
    assert_eq!(out.status.code(), Some(3));
    assert!(read > 0 && read < all_lines, "{read} of {all_lines}");
    says_damaged(&stderr(&out), "half.zip");
    for command in ["summary", "timeline"] {
        let out = run(logkeep().arg(command).arg(&half));
        assert_eq!(out.status.code(), Some(3), "{command}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{command}");
    }

    // GitHub's zip of one archive, streamed as GitHub's archiver does. The
    // logs inside take many zstd blocks, so that a cut leaves some whole.
    let logs = work.path().join("r4/log");
    incompressible_logs(&logs, 4, 30_000);
    let zst = work.path().join("r4.tar.zst");
    collect_logs("r4", &logs, &zst);
    // Written into a pipe, which a zip writer cannot seek back in: each
    // entry's sizes and checksum follow it in a data descriptor.
    let wrapped = work.path().join("rdd-logs-linux.zip");
    let script = format!(
        "import sys, zipfile\n\
         with zipfile.ZipFile(sys.stdout.buffer, 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.write({:?}, 'rdd-logs.tar.zst')",
        zst.display().to_string()
    );
    ok(Command::new("sh")
        .arg("-c")
        .arg("python3 -c \"$0\" | cat > \"$1\"")
        .arg(&script)
        .arg(&wrapped));
    let bytes = fs::read(&wrapped).unwrap();
    assert_eq!(bytes[6] & 8, 8, "the entry has a data descriptor");
    let (whole, wrapped_lines) = lines(&wrapped);
    assert!(whole.status.success(), "{}", stderr(&whole));
    assert_eq!(wrapped_lines, 120_000);
    let cut = work.path().join("cut-download.zip");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (out, read) = lines(&cut);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        read >= 30_000 && read < wrapped_lines,
        "{read} of {wrapped_lines}"
    );
    says_damaged(&stderr(&out), "cut-download.zip");
}

/// A FIFO where a folder's manifest.json should be is not opened (opening
/// it would wait for a writer): the folder is read without its manifest,
/// and `collect` does not replace it.
#[test]
fn a_fifo_in_place_of_a_folders_manifest_is_never_opened() {
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("out");
    fs::create_dir_all(folder.join("r")).unwrap();
    fs::write(folder.join("r/a.log"), "2026-06-11T05:00:00Z boom\n").unwrap();
    ok(Command::new("mkfifo").arg(folder.join("manifest.json")));
    let in_time = |args: &[&str]| {
        run(Command::new("timeout")
            .arg("20")
            .arg(env!("CARGO_BIN_EXE_logkeep"))
            .args(args))
    };
    let shown = folder.to_str().unwrap();
    for args in [
        &["grep", "boom", shown][..],
        &["summary", shown],
        &["timeline", shown],
        &["ls", shown],
    ] {
        let out = in_time(args);
        assert_ne!(out.status.code(), Some(124), "{args:?} waited");
    }
    assert!(stdout(&in_time(&["grep", "boom", shown])).contains("r/a.log:1:"));
    let logs = work.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join("a.log"), "x\n").unwrap();
    let out = in_time(&[
        "collect",
        "--instance",
        "i",
        "--log-dir",
        logs.to_str().unwrap(),
        "--format",
        "dir",
        "--force",
        "-o",
        shown,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// A pipe is refused at once, for what it is: reading an archive needs its
/// end (a zip's directory, a stream's checksum). Opening a FIFO with no
/// writer would wait for one forever.
#[test]
fn a_pipe_is_refused_at_once_and_named_as_one() {
    let work = tempfile::tempdir().unwrap();
    let fifo = work.path().join("fifo");
    ok(Command::new("mkfifo").arg(&fifo));
    for command in ["summary", "grep", "timeline", "verify", "ls"] {
        let mut args = vec![command];
        if command == "grep" {
            args.push("x");
        }
        let out = run(Command::new("timeout")
            .arg("20")
            .arg(env!("CARGO_BIN_EXE_logkeep"))
            .args(&args)
            .arg(&fifo));
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is a pipe or a device, not a file")
                && stderr(&out).contains("save the archive to a file first"),
            "{command}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_zip_of_several_archives_says_to_unzip_it() {
    let work = tempfile::tempdir().unwrap();
    let (whole, cut) = whole_and_cut(work.path());
    let two = work.path().join("two.zip");
    ok(Command::new("zip")
        .arg("-q")
        .arg("-j")
        .arg(&two)
        .arg(&whole)
        .arg(&cut));
    for command in ["grep", "verify"] {
        let mut args = vec![command];
        if command == "grep" {
            args.push("error");
        }
        let out = run(logkeep().args(&args).arg(&two));
        assert!(!out.status.success(), "{command}");
        let said = stderr(&out);
        assert!(
            said.contains("unzip ") && said.contains("two.zip"),
            "{command}: {said}"
        );
    }
    // Cut short, it is read from its front, and says so all the same.
    let bytes = fs::read(&two).unwrap();
    let cut_two = work.path().join("cut-two.zip");
    fs::write(&cut_two, &bytes[..bytes.len() - 100]).unwrap();
    let out = run(logkeep().args(["grep", "error"]).arg(&cut_two));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unzip "), "{}", stderr(&out));
}

#[test]
fn summary_says_a_compared_job_was_not_read_whole() {
    let work = tempfile::tempdir().unwrap();
    let (whole, cut) = whole_and_cut(work.path());
    let text = run(logkeep().arg("summary").arg(&whole).arg(&cut));
    assert!(
        stdout(&text).contains("caveat: ")
            && stdout(&text).contains("trunc.tar.gz was not read whole"),
        "{}",
        stdout(&text)
    );
    let json = run(logkeep().args(["summary", "--json"]).arg(&whole).arg(&cut));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let differences = report["differences"].as_array().unwrap();
    assert!(
        differences
            .iter()
            .filter(|d| d["only_in"] == serde_json::json!(["whole/Linux"]))
            .all(|d| d["unsure_for"] == serde_json::json!(["trunc.tar.gz"])),
        "{report}"
    );
    validate_json("summary.schema.json", &[report]);
}

/// Lines of one second in rotated backups of one log (`.1` is the oldest)
/// and the live log: the older file's lines come first, so `.9` before
/// `.10`, and the backups before the live log, as the lines were written.
#[test]
fn timeline_orders_backups_of_equal_time_by_their_number() {
    let line = |n: &str| format!("time=\"2026-06-11T04:58:30Z\" level=info msg=\"{n}\"\n");
    let (_work, logs) = logs_folder(&[
        ("bats/rdd.stderr.log", &line("live")),
        ("bats/rdd.stderr.10.log", &line("ten")),
        ("bats/rdd.stderr.9.log", &line("nine")),
        ("bats/rdd.stderr.2.log", &line("two")),
    ]);
    let out = run_ok(logkeep().args(["timeline", "--json"]).arg(&logs));
    let paths: Vec<String> = json_lines(&stdout(&out))
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "bats/rdd.stderr.2.log",
            "bats/rdd.stderr.9.log",
            "bats/rdd.stderr.10.log",
            "bats/rdd.stderr.log"
        ]
    );
}

/// Unwrapping GitHub's zip and sorting a timeline go through a temporary
/// file: when its folder is missing or full, the error names that folder
/// and says to set TMPDIR (it named the input, with "check that the path
/// exists" or "write the output elsewhere").
#[test]
fn a_missing_or_full_temporary_folder_is_named_with_what_to_do() {
    // Larger compressed than the full folder holds (256 KiB).
    let mut state = 7u64;
    let lines: String = (0..60_000)
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            format!("2026-06-11T04:00:{:02}Z INFO {:016x}\n", i % 60, state)
        })
        .collect();
    let (work, logs) = logs_folder(&[("inst/a.log", &lines)]);
    let inner = work.path().join("logs.tar.zst");
    run_ok(
        logkeep()
            .args(["collect", "-q", "--instance", "inst", "--log-dir"])
            .arg(logs.join("inst"))
            .arg("-o")
            .arg(&inner),
    );
    let download = work.path().join("download.zip");
    run_ok(Command::new("zip").arg("-qj").arg(&download).arg(&inner));

    let full = SmallDisk::new();
    for (temp, reason) in [
        (
            Path::new("/nonexistent-logkeep-temp"),
            "No such file or directory",
        ),
        (full.path(), "No space left on device"),
    ] {
        for args in [["summary"].as_slice(), &["timeline"]] {
            let input = if args[0] == "timeline" && reason.starts_with("No such") {
                &logs
            } else {
                &download
            };
            let out = run(logkeep().args(args).arg(input).env("TMPDIR", temp));
            let said = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?} {said}");
            assert!(
                said.contains(&format!("a temporary file in {}: {reason}", temp.display()))
                    && said.contains("hint: set TMPDIR to a folder that exists"),
                "{args:?}: {said}"
            );
        }
    }
    // So does collect, whose manifest goes through one.
    let out = run(logkeep()
        .args(["collect", "-q", "--instance", "inst", "--log-dir"])
        .arg(logs.join("inst"))
        .arg("-o")
        .arg(work.path().join("again.tar.gz"))
        .env("TMPDIR", "/nonexistent-logkeep-temp"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("a temporary file in /nonexistent-logkeep-temp: No such file"),
        "{}",
        stderr(&out)
    );
}

/// An input summary cannot read is named in its report, text and JSON, not
/// only on stderr, so a saved report shows it; an empty one is said to be
/// empty (a download that did not finish), by every reading command.
#[test]
fn an_input_that_cannot_be_read_is_in_the_report_and_an_empty_one_is_called_empty() {
    let work = tempfile::tempdir().unwrap();
    let (a, _) = two_jobs(work.path());
    let empty = work.path().join("empty.zip");
    fs::write(&empty, "").unwrap();

    let text = run(logkeep().arg("summary").arg(&a).arg(&empty));
    assert_eq!(text.status.code(), Some(3));
    let report = stdout(&text);
    assert!(
        report.contains(&format!(
            "Not read (1):\n  {}: {} is empty (0 bytes)\n",
            empty.display(),
            empty.display()
        )),
        "{report}"
    );
    let json = run(logkeep().arg("summary").arg("--json").arg(&a).arg(&empty));
    assert_eq!(json.status.code(), Some(3));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    validate_json("summary.schema.json", std::slice::from_ref(&value));
    assert_eq!(value["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(value["unreadable"][0]["input"], empty.display().to_string());

    for args in [
        vec!["summary"],
        vec!["verify"],
        vec!["ls"],
        vec!["timeline"],
        vec!["grep", "x"],
    ] {
        let out = run(logkeep().args(&args).arg(&empty));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("is empty (0 bytes)")
                && stderr(&out).contains("download the artifact again"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// grep's habits work: -w takes whole words only (as grep -w: no letter,
/// digit or `_` right before or after), and -n, -H and -E, which logkeep
/// always does, are taken rather than refused.
#[test]
fn grep_takes_whole_words_and_greps_usual_flags() {
    let (_work, logs) = logs_folder(&[(
        "inst/a.log",
        "sshd started\nssh.service failed\nno ssh here\nassh\n",
    )]);
    let words = run_ok(logkeep().args(["grep", "-w", "ssh"]).arg(&logs));
    assert_eq!(
        stdout(&words),
        "inst/a.log:2: ssh.service failed\ninst/a.log:3: no ssh here\n"
    );
    let fixed = run_ok(
        logkeep()
            .args(["grep", "-c", "-w", "-F", "ssh.service"])
            .arg(&logs),
    );
    assert_eq!(stdout(&fixed), "inst/a.log:1\n");
    let habits = run_ok(
        logkeep()
            .args(["grep", "-n", "-H", "-E", "ss(h|hd)"])
            .arg(&logs),
    );
    let plain = run_ok(logkeep().args(["grep", "ss(h|hd)"]).arg(&logs));
    assert_eq!(stdout(&habits), stdout(&plain));
    assert_eq!(stdout(&plain).lines().count(), 4);
}
