//! `collect --rdd`: instance folders asked from rdd (a fake that answers as
//! DOMAIN.md says the real one does).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{FIXTURE, copy_tree, logkeep, manifest_json, read_tree, run, stderr};

const FAKE_RDD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-rdd/rdd");

/// A home where rdd's Linux folders of instances `a` and `b` hold fixture logs.
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for (instance, log_dir, lima_home) in [
        (
            "a",
            "logs/rancher-desktop-bats-lima-controller",
            "rdbats-lima-controller/lima",
        ),
        (
            "b",
            "logs/rancher-desktop-bats-app-controller",
            "rdbats-app-controller/lima",
        ),
    ] {
        copy_tree(
            &Path::new(FIXTURE).join(log_dir),
            &home
                .path()
                .join(format!(".local/state/rancher-desktop-{instance}")),
        );
        copy_tree(
            &Path::new(FIXTURE).join(lima_home),
            &home.path().join(format!(".rd{instance}/lima")),
        );
    }
    home
}

fn collect(home: &Path, out: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    collect_with(Path::new(FAKE_RDD), home, out, env, args)
}

/// `collect`, asking `rdd` (a script around the fake, say).
fn collect_with(
    rdd: &Path,
    home: &Path,
    out: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut command = logkeep();
    command
        .env("FAKE_RDD_HOME", home)
        .args(["collect", "--format", "dir", "--rdd"])
        .arg(rdd)
        .args(args)
        .arg("-o")
        .arg(out);
    for (k, v) in env {
        command.env(k, v);
    }
    run(&mut command)
}

#[test]
fn json_answers_give_each_instance_its_folders() {
    let home = home();
    let out = home.path().join("out");
    // An inherited RDD_LOG_DIR would override rdd's answer: it must be ignored.
    let result = collect(
        home.path(),
        &out,
        &[("RDD_LOG_DIR", "/nonexistent")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let files = read_tree(&out);
    assert!(
        files.contains_key("a/rdd.stderr.log")
            && files.contains_key("a/lima-test-stopped/serial.3.log")
    );
    assert!(files.contains_key("b/lima-app/ha.stderr.log"));
    let m = manifest_json(&out.join("manifest.json"));
    assert_eq!(
        m["instances"][0]["log_dir"],
        home.path()
            .join(".local/state/rancher-desktop-a")
            .display()
            .to_string()
    );
}

#[test]
fn an_older_rdd_without_json_is_asked_key_by_key() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_NO_JSON", "1")],
        &["--instance", "a"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(read_tree(&out).contains_key("a/lima-test-stopped/ha.stderr.log"));
}

#[test]
fn a_failing_instance_is_recorded_and_the_others_go_on() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_FAIL", "b")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success());
    assert!(
        stderr(&result).contains("instance b") && stderr(&result).contains("corrupt"),
        "{}",
        stderr(&result)
    );
    let m = manifest_json(&out.join("manifest.json"));
    assert!(
        m["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["message"].as_str().unwrap().contains("instance b"))
    );
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
}

#[test]
fn instance_names_can_come_from_a_command() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[],
        &["--instances-from", "printf 'a\\r\\nb\\n\\n'"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let files = read_tree(&out);
    assert!(files.keys().any(|p| p.starts_with("a/")) && files.keys().any(|p| p.starts_with("b/")));
}

/// `make -C bats bats-instances`, the suite's listing, has GNU make print
/// `make: Entering directory '…'` around the names on stdout (and
/// `make[1]: …` in a recursive make): those lines are not instances, and no
/// warning or --strict failure comes of them.
#[test]
fn make_directory_lines_are_not_instance_names() {
    let home = home();
    // What GNU make 4.3 prints for `make -C bats bats-instances` whose
    // recipe echoes a and runs `$(MAKE) more`, which echoes b.
    let listing = home.path().join("listing");
    fs::write(
        &listing,
        "make: Entering directory '/src/bats'\na\n\
         make[1]: Entering directory '/src/bats'\nb\n\
         make[1]: Leaving directory '/src/bats'\n\
         make: Leaving directory '/src/bats'\n",
    )
    .unwrap();
    let out = home.path().join("out");
    let command = format!("cat '{}'", listing.display());
    let result = collect(
        home.path(),
        &out,
        &[],
        &["--instances-from", &command, "--strict"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        !stderr(&result).contains("directory"),
        "{}",
        stderr(&result)
    );
    let manifest = manifest_json(&out.join("manifest.json"));
    let instances: Vec<&str> = manifest["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(instances, ["a", "b"]);
}

/// rdd.exe answers with Windows paths and CRLF; wslpath (a stand-in here,
/// mapping C:\ to a folder) turns them into paths this shell can read.
#[test]
fn windows_answers_are_converted_with_wslpath() {
    let home = home();
    let drive = home.path().join("c");
    let win_logs = drive.join("Users/runneradmin/AppData/Local/rancher-desktop-a-logs");
    copy_tree(
        &home.path().join(".local/state/rancher-desktop-a"),
        &win_logs,
    );
    let bin = home.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let wslpath = bin.join("wslpath");
    fs::write(
        &wslpath,
        format!("#!/bin/sh\n# wslpath -ua 'C:\\x\\y' -> {}/x/y\nprintf '%s\\n' \"$2\" | sed -e 's|^C:|{}|' -e 's|\\\\|/|g'\n", drive.display(), drive.display()),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wslpath)
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_OS", "windows"), ("PATH", &path)],
        &["--instance", "a"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
    let m = manifest_json(&out.join("manifest.json"));
    assert_eq!(
        PathBuf::from(m["instances"][0]["log_dir"].as_str().unwrap()),
        win_logs
    );
}

/// A wslpath that never answers (a wedged WSL) is under rdd's deadline too:
/// the path stays as rdd gave it, and the run goes on.
#[test]
fn a_wslpath_that_hangs_does_not_hang_the_run() {
    let home = home();
    let bin = home.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let wslpath = bin.join("wslpath");
    fs::write(&wslpath, "#!/bin/sh\nexec sleep 300\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wslpath)
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = home.path().join("out");
    let started = std::time::Instant::now();
    let result = collect(
        home.path(),
        &out,
        &[
            ("FAKE_RDD_OS", "windows"),
            ("PATH", &path),
            ("LOGKEEP_RDD_TIMEOUT", "1"),
        ],
        &["--instance", "a"],
    );
    // A hang guard, not a speed test: each of a few conversions waits 1 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let m = manifest_json(&out.join("manifest.json"));
    assert!(
        m["instances"][0]["log_dir"]
            .as_str()
            .unwrap()
            .starts_with("C:\\"),
        "{}",
        m["instances"][0]
    );
}

#[test]
fn the_config_file_can_name_rdd_and_instances() {
    let home = home();
    let config = home.path().join("logkeep.toml");
    fs::write(
        &config,
        format!("[rdd]\npath = \"{FAKE_RDD}\"\ninstances = [\"a\"]\ninstances_from = \"echo b\"\n"),
    )
    .unwrap();
    let out = home.path().join("out");
    let result = run(logkeep()
        .env("FAKE_RDD_HOME", home.path())
        .args(["collect", "--format", "dir", "-c"])
        .arg(&config)
        .arg("-o")
        .arg(&out));
    assert!(result.status.success(), "{}", stderr(&result));
    let files = read_tree(&out);
    assert!(files.keys().any(|p| p.starts_with("a/")) && files.keys().any(|p| p.starts_with("b/")));
}

/// An rdd that hangs is killed after LOGKEEP_RDD_TIMEOUT seconds, once (no
/// per-key retries); the other instances go on.
#[test]
fn a_hanging_rdd_is_given_up_on_and_the_others_go_on() {
    let home = home();
    let out = home.path().join("out");
    let started = std::time::Instant::now();
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_HANG", "b"), ("LOGKEEP_RDD_TIMEOUT", "1")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "no hang"
    );
    assert!(
        stderr(&result).contains("did not answer in time"),
        "{}",
        stderr(&result)
    );
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
}

/// Instances are asked at the same time: three that hang cost one timeout
/// (2 s here), not three one after the other (6 s); and with more instances
/// than are asked at once (8), one that hangs late in the list still costs
/// no second timeout.
#[test]
fn hanging_instances_cost_one_timeout_not_one_each() {
    let home = home();
    let out = home.path().join("out");
    let names: Vec<String> = "abcdefghij".chars().map(String::from).collect();
    let args: Vec<&str> = names
        .iter()
        .flat_map(|name| ["--instance", name.as_str()])
        .collect();
    let started = std::time::Instant::now();
    let result = collect(
        home.path(),
        &out,
        &[("FAKE_RDD_HANG", "b c j"), ("LOGKEEP_RDD_TIMEOUT", "2")],
        &args,
    );
    let took = started.elapsed();
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(
        stderr(&result).matches("did not answer in time").count(),
        3,
        "{}",
        stderr(&result)
    );
    assert!(took < std::time::Duration::from_millis(3500), "{took:?}");
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
}

/// Regression: an rdd that could not be started was a warning per instance,
/// and the run wrote an archive of nothing and exited 0, which a CI step
/// took for a collection. Not found on PATH, not found at a path, or not
/// executable: an error naming it, with what to do, before anything is written.
#[test]
fn an_rdd_that_cannot_be_run_stops_the_run_before_anything_is_written() {
    let home = home();
    let empty_path = tempfile::tempdir().unwrap();
    let not_executable = home.path().join("rdd-not-executable");
    fs::copy(FAKE_RDD, &not_executable).unwrap();
    fs::set_permissions(&not_executable, fs::Permissions::from_mode(0o644)).unwrap();
    let cases: [(&Path, &[&str]); 3] = [
        (Path::new("rdd"), &["`rdd` was not found on PATH", "PATH"]),
        (
            Path::new("/typo/rdd"),
            &["/typo/rdd does not exist", "--rdd PATH"],
        ),
        (
            &not_executable,
            &["rdd-not-executable", "ermission denied", "chmod +x"],
        ),
    ];
    for (rdd, said) in cases {
        let out = home.path().join("out");
        let result = collect_with(
            rdd,
            home.path(),
            &out,
            &[("PATH", empty_path.path().to_str().unwrap())],
            &["--instance", "a", "--instance", "b", "--preserve"],
        );
        assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
        let err = stderr(&result);
        assert!(err.contains("error: cannot run rdd"), "{err}");
        for words in said {
            assert!(err.contains(words), "{words:?} not in: {err}");
        }
        assert!(err.contains("hint:") && err.contains("--rdd PATH"), "{err}");
        assert!(!out.exists(), "nothing written");
        assert!(
            home.path()
                .join(".rda/lima/test-stopped/ha.stderr.log")
                .exists(),
            "nothing preserved"
        );
    }
}

/// A script that runs `body`, executable.
fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(path)
        .status()
        .unwrap();
}

/// The process id a command wrote to `file`.
fn pid_in(file: &Path) -> String {
    let pid = fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_string();
    assert!(pid.parse::<u32>().is_ok(), "{pid:?}");
    pid
}

/// Whether a process still runs: `kill -0` reaches it and it is not a
/// zombie waiting for its parent (or init) to reap it.
fn running(pid: &str) -> bool {
    let reached = std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let state = std::process::Command::new("ps")
        .args(["-o", "stat=", "-p", pid])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    reached && !state.starts_with('Z')
}

/// Whether a process is gone, given a few seconds to be killed and reaped.
fn gone(pid: &str) -> bool {
    for _ in 0..50 {
        if !running(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// An rdd that answers and exits, but leaves a process behind that holds its
/// output open (as a daemon it started would), is not waited for: its answer
/// is taken well within the deadline, and the process left behind is stopped.
#[test]
fn an_rdd_that_leaves_a_process_holding_its_output_is_not_waited_for() {
    let home = home();
    let pid_file = home.path().join("left-behind.pid");
    let rdd = home.path().join("bgrdd");
    script(
        &rdd,
        &format!(
            "\"{FAKE_RDD}\" \"$@\"\nstatus=$?\n(sleep 40 & echo $! > '{}')\nexit $status",
            pid_file.display()
        ),
    );
    let out = home.path().join("out");
    let started = std::time::Instant::now();
    let result = collect_with(
        &rdd,
        home.path(),
        &out,
        &[("LOGKEEP_RDD_TIMEOUT", "2")],
        &["--instance", "a"],
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "waited for the process left behind"
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        !stderr(&result).contains("instance a"),
        "{}",
        stderr(&result)
    );
    assert!(read_tree(&out).contains_key("a/lima-test-stopped/serial.3.log"));
    let pid = pid_in(&pid_file);
    assert!(gone(&pid), "process {pid} left behind by rdd still runs");
}

/// An rdd out of time is stopped with every process it started, not just
/// itself; the other instances go on.
#[test]
fn a_hanging_rdd_is_stopped_with_all_its_processes() {
    let home = home();
    let pid_file = home.path().join("child.pid");
    let rdd = home.path().join("slowrdd");
    script(
        &rdd,
        &format!(
            "[ \"$RDD_INSTANCE\" = b ] || exec \"{FAKE_RDD}\" \"$@\"\nsleep 102 &\necho $! > '{}'\nwait",
            pid_file.display()
        ),
    );
    let out = home.path().join("out");
    let result = collect_with(
        &rdd,
        home.path(),
        &out,
        &[("LOGKEEP_RDD_TIMEOUT", "2")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("instance b")
            && stderr(&result).contains("did not answer in time"),
        "{}",
        stderr(&result)
    );
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
    let pid = pid_in(&pid_file);
    assert!(gone(&pid), "process {pid} started by rdd still runs");
}

/// An --instances-from command out of time is an error that names it, and
/// none of its processes is left running.
#[test]
fn an_instances_from_command_out_of_time_leaves_no_process_behind() {
    let home = home();
    let pid_file = home.path().join("child.pid");
    let command = format!(
        "sleep 101 & echo $! > '{}'; wait; echo a",
        pid_file.display()
    );
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("LOGKEEP_RDD_TIMEOUT", "2")],
        &["--instances-from", &command],
    );
    assert!(!result.status.success());
    assert!(
        stderr(&result).contains("sleep 101") && stderr(&result).contains("did not answer in time"),
        "{}",
        stderr(&result)
    );
    let pid = pid_in(&pid_file);
    assert!(gone(&pid), "process {pid} of the command still runs");
}

/// A timeout that is not a number is said once, with its value; the default
/// applies and the collection goes on.
#[test]
fn a_timeout_that_is_not_a_number_is_warned_about_once() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(
        home.path(),
        &out,
        &[("LOGKEEP_RDD_TIMEOUT", "abc"), ("FAKE_RDD_NO_JSON", "1")],
        &["--instance", "a", "--instance", "b"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let err = stderr(&result);
    assert_eq!(
        err.matches("LOGKEEP_RDD_TIMEOUT=\"abc\"").count(),
        1,
        "{err}"
    );
    assert!(err.contains("warning:") && err.contains("30 s"), "{err}");
    assert!(read_tree(&out).contains_key("b/rdd.stderr.log"));

    // --quiet: no warnings, as its help says.
    let out = home.path().join("out-quiet");
    let result = collect(
        home.path(),
        &out,
        &[("LOGKEEP_RDD_TIMEOUT", "abc"), ("FAKE_RDD_NO_JSON", "1")],
        &["--instance", "a", "--instance", "b", "--quiet"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(stderr(&result), "");
}

/// A command that prints no instance names is named as the cause, not the
/// lack of --instance.
#[test]
fn an_instances_from_command_that_prints_no_names_says_so() {
    let home = home();
    let out = home.path().join("out");
    let result = collect(home.path(), &out, &[], &["--instances-from", "exit 0"]);
    assert!(!result.status.success());
    assert!(
        stderr(&result).contains("--instances-from: `exit 0` printed no instance names"),
        "{}",
        stderr(&result)
    );
    // With names given as well, those are collected, and the empty listing
    // is worth a warning (exit 3 under --strict).
    let result = collect(
        home.path(),
        &out,
        &[],
        &["--instances-from", "exit 0", "--instance", "a", "--strict"],
    );
    assert_eq!(result.status.code(), Some(3), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("--instances-from `exit 0` printed no instance names; only those given with --instance are collected"),
        "{}",
        stderr(&result)
    );
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));
}

/// A name that cannot be a folder is never asked of rdd: printed by
/// `--instances-from`, it is a problem that names the command; given with
/// `--instance`, an error before anything is written. (It used to be asked
/// first and refused after, and the problem named only rdd.)
#[test]
fn an_invalid_instance_name_is_not_asked_of_rdd() {
    let home = home();
    let out = home.path().join("out");
    // rdd would hang on this name: asked, it would take the timeout.
    let env = [("FAKE_RDD_HANG", "x:y"), ("LOGKEEP_RDD_TIMEOUT", "1")];
    let result = collect(
        home.path(),
        &out,
        &env,
        &["--instances-from", "printf 'a\\nx:y\\n'", "--strict"],
    );
    assert_eq!(result.status.code(), Some(3), "{}", stderr(&result));
    let err = stderr(&result);
    assert!(
        err.contains("instance name \"x:y\" must be one plain name")
            && err.contains("printed by --instances-from `printf 'a\\nx:y\\n'`"),
        "{err}"
    );
    assert!(!err.contains("in time"), "rdd was asked: {err}");
    assert!(read_tree(&out).contains_key("a/rdd.stderr.log"));

    let out = home.path().join("out-flag");
    let result = collect(home.path(), &out, &env, &["--instance", "x:y"]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("must be one plain name"),
        "{}",
        stderr(&result)
    );
    assert!(!stderr(&result).contains("in time"), "{}", stderr(&result));
    assert!(!out.exists());
}

/// An rdd that prints something besides the path on stdout (a banner, a
/// relative name): the answer is not taken as a folder, looked for and
/// preserved into below the current folder; the instance is a problem that
/// says what rdd answered, and the others go on.
#[test]
fn an_answer_that_is_not_one_absolute_path_is_not_taken() {
    let home = home();
    let rdd = home.path().join("chatty-rdd");
    script(
        &rdd,
        &format!(
            "if [ \"$RDD_INSTANCE\" = b ]; then\n  case \"$*\" in *lima_home*) echo lima ;; *log_dir*) echo state ;; *) echo 'a new rdd is available'; \"{FAKE_RDD}\" \"$@\" ;; esac\nelse\n  exec \"{FAKE_RDD}\" \"$@\"\nfi"
        ),
    );
    // What the relative answers would name, below the current folder.
    let cwd = home.path().join("cwd");
    fs::create_dir_all(cwd.join("lima/vm")).unwrap();
    fs::write(cwd.join("lima/vm/serial.log"), "not b's\n").unwrap();
    let out = home.path().join("out");
    let result = run(logkeep()
        .current_dir(&cwd)
        .env("FAKE_RDD_HOME", home.path())
        .args(["collect", "--preserve", "--format", "dir", "--rdd"])
        .arg(&rdd)
        .args(["--instance", "a", "--instance", "b", "-o"])
        .arg(&out));
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("instance b: rdd's log_dir is not one absolute path"),
        "{}",
        stderr(&result)
    );
    assert!(cwd.join("lima/vm/serial.log").exists(), "left where it was");
    assert!(
        !cwd.join("state").exists(),
        "nothing preserved below the current folder"
    );
    let files = read_tree(&out);
    assert!(
        files.contains_key("a/rdd.stderr.log"),
        "the other instance goes on"
    );
    assert!(
        !files.keys().any(|k| k.starts_with("b/")),
        "{:?}",
        files.keys()
    );
}
