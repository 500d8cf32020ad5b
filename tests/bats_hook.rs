//! The BATS teardown hook under real bats-core: only the failing test's logs
//! are saved, under its name; results are unchanged; the suite's archive
//! names the failing test.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Tree, read_tree, require_tool, run, stdout};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn bats(tree: &Tree, saved: &Path, with_hook: bool, extra: &[&str]) -> std::process::Output {
    let mut command = Command::new("bats");
    command
        .args(extra)
        .arg(Path::new(ROOT).join("tests/bats/sample.bats"))
        .env("LOGKEEP", env!("CARGO_BIN_EXE_logkeep"))
        .env("LOGKEEP_CONFIG", tree.config())
        .env("LOGKEEP_BATS_DIR", saved)
        .env_remove("LOGKEEP_BATS_ALL");
    let hook = Path::new(ROOT).join("contrib/bats/logkeep");
    if with_hook {
        command.env("LOGKEEP_HOOK", hook);
    } else {
        // The same suite with hooks that do nothing: the baseline results.
        let noop = saved.with_extension("noop");
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
    let work = tempfile::tempdir().unwrap();
    let baseline = bats(
        &Tree::new(),
        &work.path().join("baseline"),
        false,
        &["--tap"],
    );
    let tree = Tree::new();
    let saved = work.path().join("saved");
    let hooked = bats(&tree, &saved, true, &["--tap"]);
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

    let files = fs::read_dir(
        saved.join(
            fs::read_dir(&saved)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .file_name(),
        ),
    )
    .unwrap();
    let tests: Vec<String> = files
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(tests.len(), 1, "one saved test: {tests:?}");
    assert!(
        tests[0].starts_with("a_failing_test__VM__test-stopped__won_t_start"),
        "{tests:?}"
    );
    let test_dir = saved
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join(&tests[0]);
    let kept = read_tree(&test_dir);
    assert!(
        kept.contains_key("bats-lima-controller/test-stopped/serial.log"),
        "VM logs preserved and saved"
    );
    assert_eq!(
        String::from_utf8_lossy(&kept["bats-test.txt"]).trim(),
        "a failing test: VM \"test-stopped\" won't start (50% of the time)"
    );

    // teardown_suite packed it all; the manifest names the failing test.
    let archive = saved.with_extension("tar.zst");
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
}

#[test]
fn parallel_bats_runs_keep_the_same_results() {
    require_tool("bats", "bats");
    require_tool("parallel", "parallel");
    let work = tempfile::tempdir().unwrap();
    let tree = Tree::new();
    let out = bats(
        &tree,
        &work.path().join("saved"),
        true,
        &["--tap", "--jobs", "2"],
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
}
