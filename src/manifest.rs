//! `manifest.json`: what was collected, from where, when, and what was not.
//! Its shape is versioned and described by `schema/manifest.schema.json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use serde::Serialize;

use crate::layout::{Kind, Skipped};
use crate::preserve::Moved;
use crate::problem::Problem;
use crate::redact::{Counts, RedactionInfo};
use crate::sanitize::display_path;
use crate::sources::Instance;

/// Bumped whenever a field changes meaning or disappears.
pub const MANIFEST_VERSION: u32 = 1;
/// The name of the manifest inside every output.
pub const MANIFEST_NAME: &str = "manifest.json";

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub tool: Tool,
    pub created: String,
    pub host: Host,
    /// The GitHub Actions run this was collected in, when it was.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub github: BTreeMap<String, String>,
    pub archive: ArchiveInfo,
    /// Whether secrets were redacted, with which rules, and how many.
    pub redaction: RedactionInfo,
    pub instances: Vec<InstanceRecord>,
    pub files: Vec<FileRecord>,
    pub skipped: Vec<Skipped>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preserved: Vec<Moved>,
    pub problems: Vec<Problem>,
    pub totals: Totals,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Host {
    pub os: &'static str,
    pub arch: &'static str,
    pub hostname: String,
}

#[derive(Debug, Serialize)]
pub struct ArchiveInfo {
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
}

#[derive(Debug, Serialize)]
pub struct InstanceRecord {
    pub name: String,
    pub log_dir: Option<String>,
    pub log_dir_found: bool,
    pub lima_home: Option<String>,
    pub lima_home_found: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    /// Path inside the archive.
    pub path: String,
    /// Where it was read from.
    pub source: String,
    pub instance: Option<String>,
    pub vm: Option<String>,
    pub kind: Kind,
    pub log: Option<String>,
    pub rotation: Option<u64>,
    /// Bytes in the archive (the size when the file was opened).
    pub size: u64,
    /// SHA-256 of the bytes in the archive, lowercase hex.
    pub sha256: String,
    /// Modification time when opened, RFC 3339 UTC.
    pub mtime: Option<String>,
    /// The file grew, shrank or was modified while it was read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub changed_while_read: bool,
    /// Bytes that could not be read (the file shrank or a read failed) and
    /// were written as NUL so the entry keeps the size its header announced.
    #[serde(skip_serializing_if = "is_zero")]
    pub zero_filled: u64,
    /// The file's size when it was larger than `--max-file-size` and cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_size: Option<u64>,
    /// What was kept of a file cut to `--max-file-size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<Cut>,
    /// Secrets replaced by a marker in this file, per rule (never the secret).
    #[serde(skip_serializing_if = "Counts::is_empty")]
    pub redactions: Counts,
}

/// A file cut to `--max-file-size`: its first `head` and last `tail` bytes are
/// kept, with a marker line between them saying `removed` bytes were cut.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cut {
    pub head: u64,
    pub tail: u64,
    pub removed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub files: usize,
    pub bytes: u64,
    pub skipped: usize,
    pub problems: usize,
}

impl Manifest {
    pub fn new(instances: &[Instance], archive: ArchiveInfo) -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            created: rfc3339(SystemTime::now()).unwrap_or_default(),
            host: Host {
                os: std::env::consts::OS,
                arch: std::env::consts::ARCH,
                hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            },
            github: github_run_facts(),
            archive,
            redaction: RedactionInfo {
                enabled: false,
                rules: Vec::new(),
                replacements: Counts::new(),
            },
            instances: instances.iter().map(instance_record).collect(),
            files: Vec::new(),
            skipped: Vec::new(),
            preserved: Vec::new(),
            problems: Vec::new(),
            totals: Totals {
                files: 0,
                bytes: 0,
                skipped: 0,
                problems: 0,
            },
        }
    }

    /// Recount the totals from the lists; call before serializing.
    pub fn finish_totals(&mut self) {
        self.totals = Totals {
            files: self.files.len(),
            bytes: self.files.iter().map(|f| f.size).sum(),
            skipped: self.skipped.len(),
            problems: self.problems.len(),
        };
    }

    /// Write the manifest as pretty JSON with a final newline.
    pub fn write_json(&self, out: impl std::io::Write) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

fn instance_record(instance: &Instance) -> InstanceRecord {
    let found = |dir: &Option<std::path::PathBuf>| dir.as_ref().is_some_and(|d| d.is_dir());
    InstanceRecord {
        name: instance.name.clone(),
        log_dir: instance.log_dir.as_deref().map(display_path),
        log_dir_found: found(&instance.log_dir),
        lima_home: instance.lima_home.as_deref().map(display_path),
        lima_home_found: found(&instance.lima_home),
    }
}

/// The variables GitHub Actions sets that tell which run, job and commit this is.
const GITHUB_VARIABLES: &[&str] = &[
    "GITHUB_REPOSITORY",
    "GITHUB_WORKFLOW",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_JOB",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_SERVER_URL",
    "RUNNER_OS",
    "RUNNER_ARCH",
    "RUNNER_NAME",
];

fn github_run_facts() -> BTreeMap<String, String> {
    GITHUB_VARIABLES
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
            Some((name.to_ascii_lowercase(), value))
        })
        .collect()
}

/// A time as RFC 3339 in UTC, to the microsecond.
pub fn rfc3339(time: SystemTime) -> Option<String> {
    let time = time::OffsetDateTime::from(time);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time.format(&format).ok()
}
