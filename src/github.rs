//! GitHub Actions: step outputs (`GITHUB_OUTPUT`), a job summary
//! (`GITHUB_STEP_SUMMARY`) that often answers the question without a
//! download, and `::warning::` annotations for collection problems.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::manifest::Manifest;
use crate::redact::Redactor;

/// How many error lines of each log the summary shows, and how much of its end it reads.
const ERROR_LINES_PER_LOG: usize = 3;
const TAIL_BYTES: u64 = 256 * 1024;
/// Annotations beyond this are only counted: the run page stays readable.
const MAX_ANNOTATIONS: usize = 10;

/// On when `--github` is given or the run is inside GitHub Actions.
pub fn enabled(flag: bool) -> bool {
    flag || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Write outputs, summary and annotations; failures here are warnings only.
pub fn report(
    manifest: &Manifest,
    output: &Path,
    manifest_copy: Option<&Path>,
    redactor: Option<&Redactor>,
) {
    if let Err(e) = write_outputs(manifest, output, manifest_copy) {
        eprintln!("warning: cannot write GITHUB_OUTPUT: {e}");
    }
    if let Err(e) = write_summary(manifest, output, redactor) {
        eprintln!("warning: cannot write GITHUB_STEP_SUMMARY: {e}");
    }
    for problem in manifest.problems.iter().take(MAX_ANNOTATIONS) {
        println!(
            "::warning title=logkeep::{}",
            escape_data(&format!("{}: {}", problem.path, problem.message))
        );
    }
    if manifest.problems.len() > MAX_ANNOTATIONS {
        println!(
            "::warning title=logkeep::{} more collection problems are listed in the job summary and manifest.json",
            manifest.problems.len() - MAX_ANNOTATIONS
        );
    }
}

fn append(variable: &str) -> io::Result<Option<File>> {
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map(Some),
        _ => Ok(None),
    }
}

fn write_outputs(
    manifest: &Manifest,
    output: &Path,
    manifest_copy: Option<&Path>,
) -> io::Result<()> {
    let Some(mut file) = append("GITHUB_OUTPUT")? else {
        return Ok(());
    };
    let absolute = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let t = &manifest.totals;
    let mut lines = vec![
        format!("archive={}", absolute.display()),
        format!(
            "manifest={}",
            manifest_copy
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        format!("files={}", t.files),
        format!("bytes={}", t.bytes),
        format!("skipped={}", t.skipped),
        format!("problems={}", t.problems),
    ];
    lines.retain(|l| !l.contains('\n'));
    writeln!(file, "{}", lines.join("\n"))
}

fn write_summary(
    manifest: &Manifest,
    output: &Path,
    redactor: Option<&Redactor>,
) -> io::Result<()> {
    let Some(mut file) = append("GITHUB_STEP_SUMMARY")? else {
        return Ok(());
    };
    let mut md = String::new();
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let t = &manifest.totals;
    md.push_str(&format!(
        "### logkeep: `{}`\n\n{} files, {} collected; {} skipped; {} problems; redaction {}.\n\n",
        md_code(&name),
        t.files,
        human_bytes(t.bytes),
        t.skipped,
        t.problems,
        if manifest.redaction.enabled {
            "on"
        } else {
            "off"
        }
    ));
    // One row per instance and folder (service logs, each VM).
    let mut groups: BTreeMap<(String, String), (usize, u64)> = BTreeMap::new();
    for f in manifest.files.iter()? {
        let f = f?;
        let instance = f.instance.clone().unwrap_or_else(|| "(extra)".to_string());
        let folder = f
            .path
            .rsplit_once('/')
            .map(|(dir, _)| dir.to_string())
            .unwrap_or_default();
        let entry = groups.entry((instance, folder)).or_default();
        entry.0 += 1;
        entry.1 += f.size;
    }
    md.push_str("| instance | folder | files | size |\n|---|---|---:|---:|\n");
    for ((instance, folder), (count, bytes)) in &groups {
        md.push_str(&format!(
            "| {} | `{}` | {count} | {} |\n",
            md_cell(instance),
            md_code(folder),
            human_bytes(*bytes)
        ));
    }
    if !manifest.problems.is_empty() {
        md.push_str(&format!(
            "\n#### Problems ({})\n\n",
            manifest.problems.len()
        ));
        for p in manifest.problems.iter().take(50) {
            md.push_str(&format!(
                "- `{}`: {}\n",
                md_code(&p.path),
                md_cell(&p.message)
            ));
        }
    }
    let mut errors = String::new();
    for f in manifest.files.iter()? {
        let f = f?;
        let lines = last_error_lines(Path::new(&f.source), redactor);
        if !lines.is_empty() {
            errors.push_str(&format!(
                "\n`{}`\n```text\n{}\n```\n",
                md_code(&f.path),
                lines.join("\n").replace("```", "'''")
            ));
        }
    }
    if !errors.is_empty() {
        md.push_str("\n<details open><summary>Last error lines of each log</summary>\n");
        md.push_str(&errors);
        md.push_str("\n</details>\n");
    }
    file.write_all(md.as_bytes())
}

/// The last error-level lines near the end of a log, redacted, shortened.
fn last_error_lines(path: &Path, redactor: Option<&Redactor>) -> Vec<String> {
    let Ok(mut file) = crate::safe_fs::open_regular(path) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let from = len.saturating_sub(TAIL_BYTES);
    if file.seek(SeekFrom::Start(from)).is_err() {
        return Vec::new();
    }
    let mut tail = Vec::new();
    if file.take(TAIL_BYTES).read_to_end(&mut tail).is_err() {
        return Vec::new();
    }
    // Reading from the middle of a line would cut off what tells the
    // redactor a secret follows (`Bearer `, `password=`): drop that line.
    if from > 0 {
        let first_end = tail
            .iter()
            .position(|&b| b == b'\n')
            .map_or(tail.len(), |i| i + 1);
        tail.drain(..first_end);
    }
    let mut found: Vec<String> = tail
        .split(|&b| b == b'\n')
        .filter(|line| is_error_line(line))
        .map(|line| {
            let redacted = match redactor {
                Some(r) => r.redact_bytes(line).0,
                None => line.to_vec(),
            };
            let text = String::from_utf8_lossy(&redacted)
                .trim_end_matches('\r')
                .to_string();
            let text = strip_escapes(&text);
            if text.chars().count() > 300 {
                format!("{}…", text.chars().take(300).collect::<String>())
            } else {
                text
            }
        })
        .collect();
    let keep = found.len().saturating_sub(ERROR_LINES_PER_LOG);
    found.drain(..keep);
    found
}

/// Error-level lines in the formats of DOMAIN.md: logrus, JSON lines, klog,
/// Go panics, systemd failures. Serial consoles colour systemd's status
/// (`[\e[0;1;31mFAILED\e[0m]`): the line is read without its escapes, as
/// `summary` reads it.
fn is_error_line(raw: &[u8]) -> bool {
    let mut text = String::new();
    crate::logline::clean(raw, &mut text);
    let line = text.as_bytes();
    const MARKS: [&[u8]; 8] = [
        b"level=error",
        b"level=fatal",
        b"\"level\":\"error\"",
        b"\"level\":\"fatal\"",
        b"panic: ",
        b"[FAILED]",
        b" ERROR ",
        b"level=panic",
    ];
    let klog_error = line.len() > 5
        && (line[0] == b'E' || line[0] == b'F')
        && line[1..5].iter().all(u8::is_ascii_digit)
        && line[5] == b' ';
    klog_error || MARKS.iter().any(|m| line.windows(m.len()).any(|w| w == *m))
}

/// ANSI escape sequences and other control characters do not belong in Markdown.
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out
}

fn md_cell(text: &str) -> String {
    strip_escapes(text).replace('|', "\\|")
}

fn md_code(text: &str) -> String {
    strip_escapes(text).replace('`', "'")
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Workflow command data: `%`, CR and LF must be escaped.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_in_every_format() {
        assert!(is_error_line(
            br#"time="2026-06-11T04:50:00Z" level=error msg="boom""#
        ));
        assert!(is_error_line(br#"{"level":"error","msg":"x","time":"t"}"#));
        assert!(is_error_line(
            b"E0611 04:50:02.017245    5123 x.go:1] \"bad\""
        ));
        assert!(is_error_line(
            b"panic: runtime error: invalid memory address"
        ));
        assert!(is_error_line(b"[FAILED] Failed to start ssh.service"));
        assert!(is_error_line(
            b"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mssh.service\x1b[0m.\r"
        ));
        assert!(!is_error_line(
            br#"time="t" level=info msg="no errors here""#
        ));
        assert!(!is_error_line(b"Error handling is fine"));
    }

    #[test]
    fn escapes_workflow_command_data() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(strip_escapes("\u{1b}[31mred\u{1b}[0m"), "red");
    }
}
