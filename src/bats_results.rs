//! How the BATS tests of a run ended, read from the logs collected with
//! it: bats' TAP lines (`not ok 3 NAME`, what bats prints in CI, kept by a
//! `| tee`), a JUnit report (`--report-formatter junit`), and the folders
//! the BATS hook saved for each failed test (`bats-test.txt`). The markers
//! rdd writes (`=== BATS: … ===`) say only when a test started.

use std::collections::BTreeSet;

use serde::Serialize;

/// A test (or a hook: `setup_file`, `teardown_suite`) that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedTest {
    pub name: String,
    /// What bats adds to the result: `timeout after 2s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where bats says it failed: `in test file suite/a.bats, line 5`,
    /// `from function `teardown' in test file suite/a.bats, line 2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<String>,
    /// Where it is said in the artifact: `PATH:LINE` of a TAP line or of a
    /// JUnit test case, or the folder the BATS hook saved its logs in.
    pub found_in: Vec<String>,
}

impl FailedTest {
    /// What tells two reports of one failure: the name, or for a hook of a
    /// whole file or suite (bats names it differently in TAP and JUnit)
    /// where it failed.
    fn key(&self) -> String {
        match &self.failed_at {
            Some(at)
                if FILE_HOOKS
                    .iter()
                    .any(|hook| at.contains(&format!("`{hook}'"))) =>
            {
                at.clone()
            }
            // bats' JUnit report leaves out the double quotes of a name
            // given in single quotes.
            _ => self.name.replace('"', ""),
        }
    }
}

/// The hooks of a whole file or suite, as bats names them.
pub const FILE_HOOKS: [&str; 4] = [
    "setup_file",
    "teardown_file",
    "setup_suite",
    "teardown_suite",
];

/// The counts of bats' TAP results.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TapCounts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// What the logs say of the tests' ends.
#[derive(Debug, Default)]
pub struct BatsResults {
    /// In the order first met.
    pub failed: Vec<FailedTest>,
    /// Tests TAP says passed (or were skipped).
    pub passed: BTreeSet<String>,
    /// From TAP lines, when there are any.
    pub tap: Option<TapCounts>,
}

impl BatsResults {
    /// Add what another file said.
    pub fn add(&mut self, other: BatsResults) {
        for failed in other.failed {
            self.add_failed(failed);
        }
        self.passed.extend(other.passed);
        if let Some(tap) = other.tap {
            let mine = self.tap.get_or_insert_default();
            mine.passed += tap.passed;
            mine.failed += tap.failed;
            mine.skipped += tap.skipped;
        }
    }

    /// Once every file is read: a test that passed in the end (a try bats
    /// made again, `BATS_TEST_RETRIES`) is not a failed test for the logs
    /// the BATS hook saved of its failed tries; what TAP or a report said
    /// failed stays.
    pub fn finish(&mut self) {
        let passed = &self.passed;
        self.failed.retain(|test| {
            !passed.contains(&test.name) || test.found_in.iter().any(|f| !f.ends_with('/'))
        });
    }

    fn add_failed(&mut self, failed: FailedTest) -> usize {
        let key = failed.key();
        match self.failed.iter().position(|known| known.key() == key) {
            Some(index) => {
                let known = &mut self.failed[index];
                known.detail = known.detail.take().or(failed.detail);
                known.failed_at = known.failed_at.take().or(failed.failed_at);
                known.found_in.extend(failed.found_in);
                index
            }
            None => {
                self.failed.push(failed);
                self.failed.len() - 1
            }
        }
    }
}

/// Reads one file's lines, keeping what spans lines (the comment after a
/// TAP failure, a JUnit test case).
#[derive(Debug, Default)]
pub struct BatsReader {
    /// The file is a `bats-test.txt` the BATS hook wrote: its folder.
    saved_folder: Option<String>,
    /// The failure whose `# (in test file …)` comment may come next.
    tap_failure: Option<usize>,
    /// The JUnit test case open: its name and class (file), its line.
    case: Option<(String, String, u64)>,
    /// The JUnit failure whose message may start on the next line.
    case_failure: Option<usize>,
}

impl BatsReader {
    /// A reader of the lines of the file at `path`.
    pub fn new(path: &str) -> BatsReader {
        BatsReader {
            saved_folder: path.strip_suffix("/bats-test.txt").map(str::to_string),
            ..BatsReader::default()
        }
    }

    /// Read one line of the file at `path` into `results`.
    pub fn line(&mut self, results: &mut BatsResults, path: &str, number: u64, text: &str) {
        if let Some(folder) = &self.saved_folder {
            return saved_test(results, folder, number, text);
        }
        let text = without_github_time(text);
        if let Some(index) = self.tap_failure.take()
            && let Some(at) = failed_at(text.strip_prefix("# ").unwrap_or(""))
        {
            results.failed[index].failed_at.get_or_insert(at);
            return;
        }
        if let Some((ok, name, directive)) = tap_result(text) {
            let tap = results.tap.get_or_insert_default();
            // (`# skip` after `ok`, and after `not ok` as bats' tap13
            // writes it. bats has no TODO: `# TODO` is part of a name.)
            let skipped = directive.is_some_and(|d| d.to_ascii_lowercase().starts_with("skip"));
            if skipped {
                tap.skipped += 1;
            } else if ok {
                tap.passed += 1;
            } else {
                tap.failed += 1;
            }
            if ok || skipped {
                results.passed.insert(name.to_string());
            } else {
                let index = results.add_failed(FailedTest {
                    name: name.to_string(),
                    detail: directive.map(str::to_string),
                    failed_at: None,
                    found_in: vec![format!("{path}:{number}")],
                });
                self.tap_failure = Some(index);
            }
            return;
        }
        self.junit_line(results, path, number, text.trim());
    }

    fn junit_line(&mut self, results: &mut BatsResults, path: &str, number: u64, text: &str) {
        if let Some(index) = self.case_failure.take()
            && let Some(at) = failed_at(text)
        {
            results.failed[index].failed_at.get_or_insert(at);
        }
        if text.starts_with("<testcase ") {
            let name = attribute(text, "name").unwrap_or_default();
            // bats' JUnit report puts a test's `begin N ` in the name of
            // the tests of a file whose teardown_file wrote output.
            let name = strip_begin(&name).to_string();
            let class = attribute(text, "classname").unwrap_or_default();
            self.case = (!text.ends_with("/>")).then_some((name, class, number));
            return;
        }
        if text.starts_with("</testcase>") {
            self.case = None;
            return;
        }
        let Some((name, class, line)) = &self.case else {
            return;
        };
        if !(text.starts_with("<failure") || text.starts_with("<error")) {
            return;
        }
        // The message, when it starts on this line.
        let message = text
            .split_once('>')
            .map(|(_, rest)| unescape(rest.split("</").next().unwrap_or(rest)))
            .unwrap_or_default();
        let at = failed_at(&message);
        // A hook of the whole file is named as TAP names it: bats' report
        // gives it no name (`name=""`), or the name of the file's last test.
        let name = match (at.as_deref().and_then(hook_of), name.is_empty()) {
            (Some(hook), _) => format!("{hook} failed"),
            (None, true) => format!("a hook of {class}"),
            (None, false) => name.clone(),
        };
        let index = results.add_failed(FailedTest {
            name,
            detail: None,
            failed_at: at.clone(),
            found_in: vec![format!("{path}:{line}")],
        });
        if at.is_none() {
            self.case_failure = Some(index);
        }
    }
}

/// A line of the `bats-test.txt` the BATS hook writes in the folder of a
/// test whose logs it saved: the test's description, then `result: failed`
/// (or `passed`, when it saves every test's logs).
fn saved_test(results: &mut BatsResults, folder: &str, number: u64, text: &str) {
    let found_in = format!("{folder}/");
    match number {
        1 => {
            results.add_failed(FailedTest {
                name: text.to_string(),
                detail: None,
                failed_at: None,
                found_in: vec![found_in],
            });
        }
        _ if text.trim() == "result: passed" => {
            // A passing test's logs, saved as asked: not a failure.
            if let Some(index) = results
                .failed
                .iter()
                .position(|f| f.found_in.last() == Some(&found_in))
            {
                let failed = &mut results.failed[index];
                failed.found_in.retain(|f| f != &found_in);
                results.passed.insert(failed.name.clone());
                if failed.found_in.is_empty() {
                    results.failed.remove(index);
                }
            }
        }
        _ => {}
    }
}

/// A TAP result line as bats writes it: whether it is `ok`, the test's
/// name, and the directive bats adds (`skip REASON`, `timeout after 2s`).
/// A name may hold ` # ` itself: only bats' own directives are taken.
fn tap_result(text: &str) -> Option<(bool, &str, Option<&str>)> {
    let (ok, rest) = match text.strip_prefix("not ok ") {
        Some(rest) => (false, rest),
        None => (true, text.strip_prefix("ok ")?),
    };
    let (number, name) = rest.split_once(' ')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    // The time a test took (`--timing`, or a report formatter) comes
    // before the directive or after it, as bats' versions write it.
    let (name, directive) = match directive_of(name) {
        Some((name, directive)) => (without_timing(name), Some(directive)),
        None => {
            let name = without_timing(name);
            match directive_of(name) {
                Some((name, directive)) => (name, Some(directive)),
                None => (name, None),
            }
        }
    };
    Some((ok, name, directive))
}

/// A name and bats' directive after it (`skip REASON`, `timeout after 2s`).
fn directive_of(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once(" # ").filter(|(_, directive)| {
        let lower = directive.to_ascii_lowercase();
        ["skip", "timeout after"]
            .iter()
            .any(|d| lower.starts_with(d))
    })
}

/// A TAP name without the time bats adds to it: ` in 5ms`, ` # in 5 ms`.
fn without_timing(name: &str) -> &str {
    let Some(rest) = name.strip_suffix("ms") else {
        return name;
    };
    let rest = rest.strip_suffix(' ').unwrap_or(rest);
    let digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return name;
    }
    let rest = &rest[..rest.len() - digits];
    rest.strip_suffix(" # in ")
        .or_else(|| rest.strip_suffix(" in "))
        .unwrap_or(name)
}

/// A line of GitHub's job log starts with the time it was printed.
fn without_github_time(text: &str) -> &str {
    // (Cheap first: this looks at every line of every log.)
    let bytes = text.as_bytes();
    if bytes.get(4) != Some(&b'-') || bytes.get(10) != Some(&b'T') {
        return text;
    }
    match text.split_once("Z ") {
        Some((time, rest))
            if time.len() >= 19
                && time.as_bytes()[4] == b'-'
                && time.as_bytes()[10] == b'T'
                && time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b":.-T".contains(&b)) =>
        {
            rest
        }
        _ => text,
    }
}

/// Where bats says a test failed: `(in test file F, line N)` or
/// `(from function `f' in test file F, line N)`.
fn failed_at(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix('(')?;
    let inner = inner.split_once(')').map_or(inner, |(inner, _)| inner);
    (inner.starts_with("in test file ") || inner.starts_with("from function "))
        .then(|| inner.to_string())
}

/// The hook of a whole file or suite a failure is in.
fn hook_of(failed_at: &str) -> Option<&'static str> {
    FILE_HOOKS
        .into_iter()
        .find(|hook| failed_at.starts_with(&format!("from function `{hook}'")))
}

fn strip_begin(name: &str) -> &str {
    name.strip_prefix("begin ")
        .and_then(|rest| rest.split_once(' '))
        .filter(|(number, _)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
        .map_or(name, |(_, rest)| rest)
}

/// The value of an XML attribute on a line, unescaped.
fn attribute(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!(" {name}=\""))? + name.len() + 3;
    let value = &text[start..];
    Some(unescape(&value[..value.find('"')?]))
}

/// XML's escapes: the five named ones and numeric ones.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(end) = rest.find(';').filter(|&end| end <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|n| n.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(files: &[(&str, &str)]) -> BatsResults {
        let mut all = BatsResults::default();
        for (path, text) in files {
            let mut results = BatsResults::default();
            let mut reader = BatsReader::new(path);
            for (i, line) in text.lines().enumerate() {
                reader.line(&mut results, path, i as u64 + 1, line);
            }
            all.add(results);
        }
        all
    }

    /// TAP as bats 1.8 prints it: a `#` in a name, a skip (also after `not
    /// ok`, as bats' tap13 writes it), a timeout, hooks of a file, and the
    /// comment that says where. bats has no TODO: it is part of a name.
    #[test]
    fn tap_results_and_where_each_failure_is() {
        let tap = "1..6\n\
            ok 1 unicode ✓ test \"quoted\" # hash\n\
            not ok 2 fails with # hash in name\n\
            # (in test file suite/01-basic.bats, line 5)\n\
            #   `@test \"fails with # hash in name\" { false; }' failed\n\
            ok 3 skipped test # skip not on this OS\n\
            not ok 4 setup_file failed\n\
            # (from function `setup_file' in test file suite/03.bats, line 2)\n\
            2026-11-28T00:45:47.1234567Z not ok 5 times out # timeout after 2s\n\
            not ok 6 marked # TODO not yet\n\
            not ok 7 skipped as tap13 writes it # SKIP\n\
            everything ok 7 here\n";
        let results = read(&[("ci/bats.log", tap)]);
        assert_eq!(
            results.tap,
            Some(TapCounts {
                passed: 1,
                failed: 4,
                skipped: 2
            })
        );
        let failed: Vec<(&str, Option<&str>, Option<&str>, &str)> = results
            .failed
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.detail.as_deref(),
                    f.failed_at.as_deref(),
                    f.found_in[0].as_str(),
                )
            })
            .collect();
        assert_eq!(
            failed,
            [
                (
                    "fails with # hash in name",
                    None,
                    Some("in test file suite/01-basic.bats, line 5"),
                    "ci/bats.log:3"
                ),
                (
                    "setup_file failed",
                    None,
                    Some("from function `setup_file' in test file suite/03.bats, line 2"),
                    "ci/bats.log:7"
                ),
                ("times out", Some("timeout after 2s"), None, "ci/bats.log:9"),
                ("marked # TODO not yet", None, None, "ci/bats.log:10"),
            ]
        );
        assert!(results.passed.contains("unicode ✓ test \"quoted\" # hash"));
        assert!(results.passed.contains("skipped as tap13 writes it"));
    }

    /// bats' JUnit report, with its quirks (no name for a file's hook, a
    /// `begin N ` in names), and the hook's saved folders: each failure
    /// once, found in every place that says it.
    #[test]
    fn junit_and_saved_folders_join_taps_failures() {
        let junit = r#"<testsuite name="01.bats" tests="3" failures="2">
    <testcase classname="01.bats" name="passes" time="0.2" />
    <testcase classname="01.bats" name="fails &quot;here&quot; &amp; now" time="0.2">
        <failure type="failure">
(in test file suite/01.bats, line 5)
  `@test` failed</failure>
    </testcase>
    <testcase classname="03.bats" name="" time="0">
        <failure type="failure">(from function `setup_file&#39; in test file suite/03.bats, line 2)
  `setup_file() { return 3; }&#39; failed with status 3</failure>
    </testcase>
    <testcase classname="04.bats" name="begin 12 tf pass 2" time="0">
        <failure type="failure">(from function `teardown_file&#39; in test file suite/04.bats, line 2)</failure>
    </testcase>
    <testcase classname="05.bats" name="says where on the next line" time="0.1">
        <error message="x">
(in test file suite/05.bats, line 9)</error>
    </testcase>
</testsuite>
"#;
        let tap = "not ok 2 fails \"here\" & now\n\
            # (in test file suite/01.bats, line 5)\n\
            not ok 9 setup_file failed\n\
            # (from function `setup_file' in test file suite/03.bats, line 2)\n";
        let results = read(&[
            ("ci/bats.log", tap),
            ("ci/report.xml", junit),
            (
                "bats/run-1/01-1/fails-2/bats-test.txt",
                "fails \"here\" & now\nresult: failed\n",
            ),
            (
                "bats/run-1/01-1/passes-3/bats-test.txt",
                "passes\nresult: passed\n",
            ),
            ("bats/run-1/old-1/older-4/bats-test.txt", "older\n"),
        ]);
        let failed: Vec<(&str, Vec<&str>)> = results
            .failed
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.found_in.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            failed,
            [
                (
                    "fails \"here\" & now",
                    vec![
                        "ci/bats.log:1",
                        "ci/report.xml:3",
                        "bats/run-1/01-1/fails-2/"
                    ]
                ),
                (
                    "setup_file failed",
                    vec!["ci/bats.log:3", "ci/report.xml:8"]
                ),
                ("teardown_file failed", vec!["ci/report.xml:12"]),
                ("says where on the next line", vec!["ci/report.xml:15"]),
                ("older", vec!["bats/run-1/old-1/older-4/"]),
            ]
        );
        assert_eq!(
            results.failed[3].failed_at.as_deref(),
            Some("in test file suite/05.bats, line 9")
        );
        assert!(results.passed.contains("passes"));
    }

    /// `--timing` (bats 1.8: `in 5ms`; later, and with a report formatter:
    /// `# in 5 ms`) is not part of the name.
    #[test]
    fn the_time_a_test_took_is_not_its_name() {
        for (line, name, directive) in [
            ("ok 1 a in 5ms", "a", None),
            ("ok 2 b in 6ms # skip why", "b", Some("skip why")),
            (
                "not ok 4 d # x in 1011ms # timeout after 1s",
                "d # x",
                Some("timeout after 1s"),
            ),
            ("not ok 3 c # in 9 ms", "c", None),
            ("ok 5 e # skip # in 3 ms", "e", Some("skip")),
            ("ok 6 done in time", "done in time", None),
            ("ok 7 f in ms", "f in ms", None),
        ] {
            let (_, got, got_directive) = tap_result(line).unwrap();
            assert_eq!((got, got_directive), (name, directive), "{line}");
        }
    }

    /// A test bats tried again and that passed in the end: the BATS hook's
    /// folders of its failed tries do not make it a failed test, whether
    /// TAP or the hook's last folder (`LOGKEEP_BATS_ALL`) says it passed.
    #[test]
    fn a_test_that_passed_on_a_later_try_is_not_failed() {
        let tries = [
            (
                "bats/run/f/flaky-1/bats-test.txt",
                "flaky\nresult: failed\n",
            ),
            (
                "bats/run/f/flaky-1-try2/bats-test.txt",
                "flaky\nresult: failed\n",
            ),
        ];
        let mut with_tap = read(&[
            tries[0],
            tries[1],
            ("ci/bats.log", "ok 1 flaky\nnot ok 2 other\n"),
        ]);
        with_tap.finish();
        let mut with_last_try = read(&[
            tries[0],
            tries[1],
            (
                "bats/run/f/flaky-1-try3/bats-test.txt",
                "flaky\nresult: passed\n",
            ),
        ]);
        with_last_try.finish();
        let names = |results: &BatsResults| -> Vec<String> {
            results.failed.iter().map(|f| f.name.clone()).collect()
        };
        assert_eq!(names(&with_tap), ["other"]);
        assert!(
            names(&with_last_try).is_empty(),
            "{:?}",
            with_last_try.failed
        );
    }

    #[test]
    fn only_lines_shaped_as_tap_results_are_taken() {
        for text in [
            "ok",
            "ok 1",
            "not ok x name",
            "ok  1 name",
            "booking 3 rooms",
            "ok 12",
        ] {
            assert_eq!(tap_result(text), None, "{text}");
        }
        assert_eq!(
            without_github_time("2026-11-28 not ok 1 x"),
            "2026-11-28 not ok 1 x"
        );
    }
}
