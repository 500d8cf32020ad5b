//! The BATS teardown hook under real bats-core: only the failing test's logs
//! are saved, under its name; results are unchanged; the suite's archive
//! names the failing test and nothing of an earlier run, whose archive it
//! does not replace; the README's
//! snippet works as written.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Tree, logkeep, read_tree, require_tool, run, run_ok, stdout};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Run the sample suite from the tree's folder, with the settings relative
/// to it as a user would write them (the suite's tests cd elsewhere), and
/// `env` besides.
fn bats(
    tree: &Tree,
    saved: &str,
    with_hook: bool,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = Command::new("bats");
    command
        .args(extra)
        .arg(Path::new(ROOT).join("tests/bats/sample.bats"))
        .current_dir(tree.path(""))
        .env("LOGKEEP", env!("CARGO_BIN_EXE_logkeep"))
        .env("LOGKEEP_CONFIG", "logkeep.toml")
        .env("LOGKEEP_BATS_DIR", saved)
        .env_remove("LOGKEEP_BATS_ALL")
        .env_remove("LOGKEEP_BATS_ARCHIVE")
        .env_remove("SAMPLE_ALL_PASS")
        .envs(env.iter().copied());
    let hook = Path::new(ROOT).join("contrib/bats/logkeep");
    if with_hook {
        command.env("LOGKEEP_HOOK", hook);
    } else {
        // The same suite with hooks that do nothing: the baseline results.
        let noop = tree.path(saved).with_extension("noop");
        let script = format!("{}.bash", noop.display());
        fs::write(
            script,
            "logkeep_teardown() { :; }\nlogkeep_teardown_suite() { :; }\n",
        )
        .unwrap();
        command.env("LOGKEEP_HOOK", noop);
    }
    run(&mut command)
}

/// The only entry of a folder.
fn only_entry(dir: &Path) -> std::path::PathBuf {
    let entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

/// TAP lines that carry results (comments stripped).
fn results(out: &std::process::Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok ") || l.starts_with("1.."))
        .map(str::to_string)
        .collect()
}

#[test]
fn only_the_failing_test_is_saved_and_results_are_unchanged() {
    require_tool("bats", "bats");
    let baseline = bats(&Tree::new(), "baseline", false, &["--tap"], &[]);
    let tree = Tree::new();
    let hooked = bats(&tree, "saved", true, &["--tap"], &[]);
    assert_eq!(
        results(&hooked),
        results(&baseline),
        "the hook changes no result"
    );
    assert_eq!(hooked.status.code(), baseline.status.code());
    assert_eq!(hooked.status.code(), Some(1), "the failure is not hidden");
    assert!(
        results(&hooked)
            .iter()
            .any(|l| l.starts_with("not ok 2 a failing test"))
    );

    // saved/<run>/<file>/<test>, in the folder bats started in.
    let run_dir = only_entry(&tree.path("saved"));
    let test_dir = only_entry(&only_entry(&run_dir));
    let test = test_dir.file_name().unwrap().to_str().unwrap();
    assert!(
        test.starts_with("a_failing_test__VM__test-stopped__won_t_start"),
        "{test}"
    );
    let kept = read_tree(&test_dir);
    assert!(
        kept.contains_key("bats-lima-controller/test-stopped/serial.log"),
        "VM logs preserved and saved"
    );
    assert_eq!(
        String::from_utf8_lossy(&kept["bats-test.txt"]),
        "a failing test: VM \"test-stopped\" won't start (50% of the time)\nresult: failed\n"
    );

    // teardown_suite packed it all; the manifest names the failing test.
    let archive = tree.path("saved.tar.zst");
    let listing = run(Command::new("tar")
        .arg("--zstd")
        .arg("-xOf")
        .arg(&archive)
        .arg("manifest.json"));
    let manifest = stdout(&listing);
    assert!(
        manifest.contains("bats/sample-") && manifest.contains("a_failing_test__VM__test-stopped"),
        "{manifest}"
    );
    // And `summary` names it, with the folder its logs are in.
    let summary = run_ok(logkeep().arg("summary").arg(&archive));
    let said = stdout(&summary);
    let failed = said
        .lines()
        .skip_while(|l| !l.starts_with("  failed      1 BATS test:"))
        .nth(1)
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        failed.starts_with(
            "    \"a failing test: VM \\\"test-stopped\\\" won't start (50% of the time)\"; see bats/"
        ) && failed.contains("/a_failing_test__VM__test-stopped"),
        "{said}"
    );

    // A later run where every test passes saves nothing and packs nothing:
    // the earlier run's logs stay in their own folder, out of any archive.
    fs::remove_file(&archive).unwrap();
    let mut command = Command::new("bats");
    let passing = run(command
        .arg("--tap")
        .arg(Path::new(ROOT).join("tests/bats/sample.bats"))
        .current_dir(tree.path(""))
        .env("LOGKEEP", env!("CARGO_BIN_EXE_logkeep"))
        .env("LOGKEEP_CONFIG", "logkeep.toml")
        .env("LOGKEEP_BATS_DIR", "saved")
        .env("LOGKEEP_HOOK", Path::new(ROOT).join("contrib/bats/logkeep"))
        .env("SAMPLE_ALL_PASS", "1"));
    assert_eq!(passing.status.code(), Some(0), "{}", stdout(&passing));
    assert!(!archive.exists(), "nothing packed: {}", stdout(&passing));
    assert_eq!(only_entry(&tree.path("saved")), run_dir);
}

#[test]
fn runs_with_a_fixed_tempdir_keep_their_logs_apart() {
    require_tool("bats", "bats");
    let tree = Tree::new();
    // bats refuses a --tempdir that exists, and removes it after each run:
    // every run has the same BATS_RUN_TMPDIR.
    let fixed = tree.path("bats-tmp");
    let tempdir = fixed.to_str().unwrap();
    let first = bats(&tree, "saved", true, &["--tap", "--tempdir", tempdir], &[]);
    assert_eq!(first.status.code(), Some(1), "{}", stdout(&first));
    assert!(!fixed.exists(), "bats removed its run folder");
    let second = bats(&tree, "saved", true, &["--tap", "--tempdir", tempdir], &[]);
    assert_eq!(second.status.code(), Some(1), "{}", stdout(&second));
    let runs: Vec<String> = fs::read_dir(tree.path("saved"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 2, "one folder per run: {runs:?}");
    assert!(runs.iter().all(|r| r.starts_with("bats-tmp-")), "{runs:?}");
    // Each run's archive holds its own failing test only once: the second
    // run's goes beside the first's, which it does not replace.
    let mut packed_runs = Vec::new();
    for archive in ["saved.tar.zst", "saved-2.tar.zst"] {
        let listing = run(Command::new("tar")
            .arg("--zstd")
            .arg("-tf")
            .arg(tree.path(archive)));
        let bats_txt: Vec<String> = stdout(&listing)
            .lines()
            .filter(|l| l.ends_with("bats-test.txt"))
            .map(str::to_string)
            .collect();
        assert_eq!(bats_txt.len(), 1, "{}", stdout(&listing));
        let manifest = stdout(&run(Command::new("tar")
            .arg("--zstd")
            .arg("-xOf")
            .arg(tree.path(archive))
            .arg("manifest.json")));
        let packed: Vec<&String> = runs.iter().filter(|r| manifest.contains(*r)).collect();
        assert_eq!(packed.len(), 1, "{manifest}");
        packed_runs.push(packed[0].clone());
    }
    assert_ne!(
        packed_runs[0], packed_runs[1],
        "each archive holds its own run"
    );
    assert!(!tree.path("saved-3.tar.zst").exists());
}

/// Two suites that pack at once may pick the same free name for their
/// archives: the one that finds it taken takes the next, and neither
/// replaces the other's. The race is made certain with a logkeep that
/// writes the suite's archive just before it is asked to.
#[test]
fn a_suite_that_finds_its_archive_name_taken_takes_the_next() {
    require_tool("bats", "bats");
    use std::os::unix::fs::PermissionsExt;
    let tree = Tree::new();
    let racer = tree.path("racer");
    fs::write(
        &racer,
        format!(
            "#!/bin/bash\n\
             prev=\n\
             for a in \"$@\"; do\n\
             \x20 if [ \"$prev\" = -o ] && [[ $a == *.tar.zst ]] && [ ! -e \"${{a%/*}}/raced\" ]; then\n\
             \x20   touch \"${{a%/*}}/raced\"; echo \"another suite's\" > \"$a\"\n\
             \x20 fi\n\
             \x20 prev=$a\n\
             done\n\
             exec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_logkeep")
        ),
    )
    .unwrap();
    fs::set_permissions(&racer, fs::Permissions::from_mode(0o755)).unwrap();
    let out = bats(
        &tree,
        "saved",
        true,
        &["--tap"],
        &[("LOGKEEP", racer.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        fs::read_to_string(tree.path("saved.tar.zst")).unwrap(),
        "another suite's\n"
    );
    assert!(
        stdout(&out).contains("# logkeep: packed the saved logs into "),
        "{}",
        stdout(&out)
    );
    run_ok(logkeep().arg("verify").arg(tree.path("saved-2.tar.zst")));
}

/// The README's BATS snippet, copied as a user would: it must run the suite.
#[test]
fn the_readme_snippet_runs_as_written() {
    require_tool("bats", "bats");
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let snippet = readme
        .split("```bash\n# setup_suite.bash\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has the BATS snippet")
        .replace("/path/to/logkeep", ROOT);
    let (suite, test_file) = snippet
        .split_once("# each test file\n")
        .expect("the snippet names the test file's part");
    let tree = Tree::new();
    let dir = tree.path("suite");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("setup_suite.bash"), suite).unwrap();
    fs::write(
        dir.join("one.bats"),
        format!("{test_file}\n@test \"passes\" {{ true; }}\n@test \"fails\" {{ false; }}\n"),
    )
    .unwrap();
    let out = run(Command::new("bats")
        .arg("--tap")
        .arg(&dir)
        .current_dir(tree.path(""))
        .env("LOGKEEP", env!("CARGO_BIN_EXE_logkeep"))
        .env("LOGKEEP_CONFIG", "logkeep.toml")
        .env_remove("LOGKEEP_BATS_DIR")
        .env_remove("LOGKEEP_BATS_ARCHIVE"));
    assert_eq!(
        results(&out),
        ["1..2", "ok 1 passes", "not ok 2 fails"],
        "{}",
        stdout(&out)
    );
    assert!(
        tree.path("logkeep-bats.tar.zst").exists(),
        "{}",
        stdout(&out)
    );
}

#[test]
fn parallel_bats_runs_keep_the_same_results() {
    require_tool("bats", "bats");
    require_tool("parallel", "parallel");
    let tree = Tree::new();
    // Every test saves its logs, at the same time: one run, one folder.
    let out = bats(
        &tree,
        "saved",
        true,
        &["--tap", "--jobs", "2"],
        &[("LOGKEEP_BATS_ALL", "1")],
    );
    let mut lines = results(&out);
    lines.sort();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("not ok") && l.contains("a failing test")),
        "{lines:?}"
    );
    assert_eq!(out.status.code(), Some(1));
    let run_dir = only_entry(&tree.path("saved"));
    let tests = fs::read_dir(only_entry(&run_dir)).unwrap().count();
    assert_eq!(
        tests, 2,
        "the passing and the failing test, in one run's folder"
    );
}

/// A test retried by bats (`BATS_TEST_RETRIES`) that fails every try: each
/// try's logs are saved, the last one's too, which is the failure bats reports.
#[test]
fn every_failed_try_of_a_retried_test_is_saved() {
    require_tool("bats", "bats");
    let tree = Tree::new();
    let suite = tree.path("retried.bats");
    fs::write(
        &suite,
        format!(
            r#"load "{}/contrib/bats/logkeep"
BATS_TEST_RETRIES=2
teardown() {{ logkeep_teardown; }}
@test "fails every try" {{
  mkdir -p "$BATS_CWD/{lima}/retry-vm"
  echo "try $BATS_TEST_TRY_NUMBER" > "$BATS_CWD/{lima}/retry-vm/serial.log"
  false
}}
"#,
            ROOT,
            lima = Tree::LIMA_HOME
        ),
    )
    .unwrap();
    let out = run(Command::new("bats")
        .arg("--tap")
        .arg(&suite)
        .current_dir(tree.path(""))
        .env("LOGKEEP", env!("CARGO_BIN_EXE_logkeep"))
        .env("LOGKEEP_CONFIG", "logkeep.toml")
        .env("LOGKEEP_BATS_DIR", "saved")
        .env_remove("LOGKEEP_BATS_ALL")
        .env_remove("LOGKEEP_BATS_ARCHIVE"));
    let tap = stdout(&out);
    assert_eq!(results(&out), ["1..1", "not ok 1 fails every try"], "{tap}");
    assert!(!tap.contains("could not save"), "{tap}");
    let file_dir = only_entry(&only_entry(&tree.path("saved")));
    let mut tries: Vec<String> = fs::read_dir(&file_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    tries.sort();
    assert_eq!(tries.len(), 3, "one folder per try: {tries:?}");
    assert!(
        tries[1].ends_with("-try2") && tries[2].ends_with("-try3"),
        "{tries:?}"
    );
    let last = read_tree(&file_dir.join(&tries[2]));
    assert_eq!(
        last.get("bats-lima-controller/retry-vm.3/serial.log")
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        Some("try 3\n".to_string()),
        "{:?}",
        last.keys().collect::<Vec<_>>()
    );
}

/// When the logs cannot be saved, the TAP comment says why (here: logkeep
/// is not where `LOGKEEP` says), and the results stay as they were.
#[test]
fn a_hook_that_cannot_save_says_why() {
    require_tool("bats", "bats");
    let tree = Tree::new();
    let out = bats(
        &tree,
        "saved",
        true,
        &["--tap"],
        &[("LOGKEEP", "/nonexistent/logkeep")],
    );
    let tap = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{tap}");
    assert!(
        results(&out)
            .iter()
            .any(|l| l.starts_with("not ok 2 a failing test")),
        "{tap}"
    );
    let comment = tap
        .lines()
        .find(|l| l.starts_with("# logkeep: could not save"))
        .unwrap_or_else(|| panic!("{tap}"));
    assert!(comment.contains("/nonexistent/logkeep"), "{comment}");
    assert!(!tree.path("saved.tar.zst").exists());
}

/// bats waits for every process holding its fd 3 (the TAP stream). A process
/// left running by rdd or by the instances_from command must not get it
/// through the hook, or the suite hangs until that process ends.
#[test]
fn a_process_left_running_by_discovery_does_not_hang_bats() {
    require_tool("bats", "bats");
    let tree = Tree::new();
    let pid_file = tree.path("left-running.pid");
    fs::write(
        tree.path("left-running.toml"),
        format!(
            "[rdd]\npath = '{}/tests/fake-rdd/rdd'\ninstances_from = 'sleep 60 >/dev/null 2>&1 </dev/null & echo $! > {}; echo bats-lima-controller'\n",
            ROOT,
            pid_file.display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = bats(
        &tree,
        "saved",
        true,
        &["--tap"],
        &[
            ("LOGKEEP_CONFIG", "left-running.toml"),
            ("FAKE_RDD_HOME", tree.path("home").to_str().unwrap()),
        ],
    );
    let took = started.elapsed();
    if let Ok(pid) = fs::read_to_string(&pid_file) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("# logkeep: saved the logs of \"a failing test"),
        "{}",
        stdout(&out)
    );
    assert!(
        took < std::time::Duration::from_secs(30),
        "bats waited {took:?} for the process left running"
    );
}
