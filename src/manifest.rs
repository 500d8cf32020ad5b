//! `manifest.json`: what was collected, from where, when, and what was not.
//! Its shape is versioned and described by `schema/manifest.schema.json`.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::time::SystemTime;

use serde::ser::{Error as _, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

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
    pub files: FileRecords,
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

// Deserialize reads a record back from the spool of `FileRecords`.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed_while_read: bool,
    /// Bytes that could not be read (the file shrank or a read failed) and
    /// were written as NUL so the entry keeps the size its header announced.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub zero_filled: u64,
    /// The file's size when it was larger than `--max-file-size` and cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_size: Option<u64>,
    /// What was kept of a file cut to `--max-file-size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<Cut>,
    /// Secrets replaced by a marker in this file, per rule (never the secret).
    #[serde(default, skip_serializing_if = "Counts::is_empty")]
    pub redactions: Counts,
}

impl FileRecord {
    /// Archived other than as the file was when opened (it changed, or was cut).
    pub fn altered(&self) -> bool {
        self.changed_while_read || self.cut.is_some()
    }
}

/// A file cut to `--max-file-size`: its first `head` and last `tail` bytes are
/// kept, with a marker line between them saying `removed` bytes were cut.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
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
            files: FileRecords::default(),
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
            bytes: self.files.bytes(),
            skipped: self.skipped.len(),
            problems: self.problems.len(),
        };
    }

    /// Write the manifest as pretty JSON with a final newline.
    pub fn write_json(&mut self, mut out: impl Write) -> io::Result<()> {
        io::copy(&mut self.json()?, &mut out)?;
        out.flush()
    }

    /// The manifest as pretty JSON with a final newline, read in one pass:
    /// the text around `files` is serialized with no records in it, and the
    /// records go between, from their spool as they are. The same text as
    /// `serde_json::to_writer_pretty`, whose `RawValue` would parse each
    /// record again (20,000 files: 6.6 MB of JSON, written at the end of a
    /// run while the other cores wait).
    pub fn json(&mut self) -> io::Result<ManifestJson<'_>> {
        // In memory unless large (thousands of files skipped): memory stays
        // the same whatever their number.
        let text = self.text_without_records(tempfile::SpooledTempFile::new(TEXT_IN_MEMORY))?;
        let at = text
            .found
            .ok_or_else(|| io::Error::other("the manifest has no files field"))?
            + EMPTY_FILES.len() as u64
            - EMPTY_ARRAY.len() as u64;
        let mut text_file = text.out;
        text_file.seek(SeekFrom::Start(0))?;
        let records = self.files.json()?;
        Ok(ManifestJson {
            len: text.written - EMPTY_ARRAY.len() as u64 + records.len,
            text: text_file,
            at,
            read: 0,
            records,
            part: Part::BeforeRecords,
        })
    }

    /// The manifest with an empty `files`, pretty, with a final newline,
    /// written to `out`; every write error is returned (a cut text would
    /// be a manifest that does not parse).
    fn text_without_records<W: Write>(&mut self, out: W) -> io::Result<FieldFinder<W>> {
        let mut text = io::BufWriter::new(FieldFinder {
            out,
            written: 0,
            tail: Vec::new(),
            found: None,
        });
        let records = std::mem::take(&mut self.files);
        let serialized = serde_json::to_writer_pretty(&mut text, &*self);
        self.files = records;
        serialized?;
        text.write_all(b"\n")?;
        text.into_inner().map_err(|e| e.into_error())
    }
}

/// The text of a manifest without its records stays in memory up to this.
const TEXT_IN_MEMORY: usize = 1 << 20;

/// The records' field as a manifest with no records prints it: a key at the
/// top level starts a line, and JSON strings hold no raw newline, so this is
/// the field itself, never text inside a value.
const EMPTY_FILES: &[u8] = b"\n  \"files\": []";
const EMPTY_ARRAY: &[u8] = b"[]";

/// Writes through to `out`, and notes where `EMPTY_FILES` first starts.
struct FieldFinder<W> {
    out: W,
    written: u64,
    /// The last bytes written, shorter than `EMPTY_FILES`: the field may be
    /// split between writes.
    tail: Vec<u8>,
    found: Option<u64>,
}

impl<W: Write> Write for FieldFinder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        if self.found.is_none() {
            // Looked for in this write joined to the end of the ones before.
            let start = self.written - self.tail.len() as u64;
            self.tail.extend_from_slice(&buf[..n]);
            if let Some(i) = memchr::memmem::find(&self.tail, EMPTY_FILES) {
                self.found = Some(start + i as u64);
            }
            let excess = self.tail.len().saturating_sub(EMPTY_FILES.len() - 1);
            self.tail.drain(..excess);
        }
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The manifest's JSON text: `len` bytes, read from its text without records
/// up to where their array goes, then the records, then the rest.
pub struct ManifestJson<'m> {
    pub len: u64,
    text: tempfile::SpooledTempFile,
    /// Where the empty array of records is in `text`.
    at: u64,
    /// How much of `text` was read before the records.
    read: u64,
    records: RecordsJson<'m>,
    part: Part,
}

enum Part {
    BeforeRecords,
    Records,
    AfterRecords,
}

impl Read for ManifestJson<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.part {
                Part::BeforeRecords => {
                    let left = usize::try_from(self.at - self.read).unwrap_or(usize::MAX);
                    if left == 0 {
                        self.part = Part::Records;
                        continue;
                    }
                    let want = out.len().min(left);
                    let n = self.text.read(&mut out[..want])?;
                    if n == 0 && !out.is_empty() {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    self.read += n as u64;
                    return Ok(n);
                }
                Part::Records => match self.records.read(out)? {
                    0 if !out.is_empty() => {
                        self.text
                            .seek(SeekFrom::Start(self.at + EMPTY_ARRAY.len() as u64))?;
                        self.part = Part::AfterRecords;
                    }
                    n => return Ok(n),
                },
                Part::AfterRecords => return self.text.read(out),
            }
        }
    }
}

/// The records' JSON array as the pretty printer lays it out at the
/// manifest's top level: a spooled line each, indented, with commas between.
pub struct RecordsJson<'m> {
    spool: Option<BufReader<File>>,
    /// Lines of the spool still to copy.
    lines: usize,
    /// Brackets, commas and indents, written before the next spooled byte.
    pending: &'static [u8],
    len: u64,
    _records: std::marker::PhantomData<&'m FileRecords>,
}

impl Read for RecordsJson<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if out.is_empty() {
                return Ok(0);
            }
            if !self.pending.is_empty() {
                let n = self.pending.len().min(out.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending = &self.pending[n..];
                return Ok(n);
            }
            let Some(spool) = self.spool.as_mut().filter(|_| self.lines > 0) else {
                return Ok(0);
            };
            let buf = spool.fill_buf()?;
            if buf.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the spooled file records ended early",
                ));
            }
            match memchr::memchr(b'\n', buf) {
                Some(0) => {
                    spool.consume(1);
                    self.lines -= 1;
                    self.pending = match self.lines {
                        0 => b"\n  ]",
                        _ => b",\n    ",
                    };
                }
                end => {
                    let n = end.unwrap_or(buf.len()).min(out.len());
                    out[..n].copy_from_slice(&buf[..n]);
                    spool.consume(n);
                    return Ok(n);
                }
            }
        }
    }
}

/// The records of the collected files, spooled as JSON lines to an unnamed
/// temporary file as they are made: memory stays the same whatever the number
/// of files. Serialized as a JSON array, read back one record at a time.
#[derive(Default)]
pub struct FileRecords {
    spool: RefCell<Option<BufWriter<File>>>,
    /// The spool was read since the last write: its position is not at the end.
    read: Cell<bool>,
    len: usize,
    bytes: u64,
    altered: usize,
    /// Bytes of JSON spooled, newlines included.
    spooled: u64,
    /// One record's JSON, made before it is spooled (to count its bytes).
    line: Vec<u8>,
}

impl FileRecords {
    pub fn push(&mut self, record: &FileRecord) -> io::Result<()> {
        let spool = self.spool.get_mut();
        if spool.is_none() {
            *spool = Some(BufWriter::new(tempfile::tempfile()?));
        }
        let spool = spool.as_mut().expect("created above");
        if self.read.replace(false) {
            spool.seek(SeekFrom::End(0))?;
        }
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)?;
        self.line.push(b'\n');
        spool.write_all(&self.line)?;
        self.spooled += self.line.len() as u64;
        self.len += 1;
        self.bytes += record.size;
        self.altered += usize::from(record.altered());
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sum of the records' sizes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// How many files changed while read or were cut.
    pub fn altered(&self) -> usize {
        self.altered
    }

    /// The records in the order they were pushed, read back from the spool.
    pub fn iter(&self) -> io::Result<impl Iterator<Item = io::Result<FileRecord>>> {
        Ok(self.lines()?.map(|line| Ok(serde_json::from_str(&line?)?)))
    }

    /// The spool, from its start.
    fn reader(&self) -> io::Result<Option<BufReader<File>>> {
        let mut reader = None;
        if let Some(spool) = self.spool.borrow_mut().as_mut() {
            spool.flush()?;
            // The clone shares the position: the next push seeks back to the end.
            let mut file = spool.get_ref().try_clone()?;
            self.read.set(true);
            file.seek(SeekFrom::Start(0))?;
            reader = Some(BufReader::with_capacity(1 << 16, file));
        }
        Ok(reader)
    }

    /// The records as the JSON array of a pretty-printed manifest.
    fn json(&self) -> io::Result<RecordsJson<'_>> {
        let (pending, len): (&[u8], u64) = match self.len {
            0 => (b"[]", 2),
            // `[`, then each line indented by four (its newline becomes the
            // next one's `,\n`), and `\n  ]` after the last.
            n => (b"[\n    ", self.spooled + 5 * n as u64 + 4),
        };
        Ok(RecordsJson {
            spool: self.reader()?,
            lines: self.len,
            pending,
            len,
            _records: std::marker::PhantomData,
        })
    }

    /// The records as spooled: one line of JSON each, without its newline.
    fn lines(&self) -> io::Result<impl Iterator<Item = io::Result<String>>> {
        let mut reader = self.reader()?;
        Ok(std::iter::from_fn(move || {
            let mut line = String::new();
            match reader.as_mut()?.read_line(&mut line) {
                Ok(0) => None,
                Ok(_) => {
                    line.truncate(line.trim_end_matches('\n').len());
                    Some(Ok(line))
                }
                Err(e) => Some(Err(e)),
            }
        })
        .take(self.len))
    }
}

/// Each record as it was spooled, one compact JSON object per line of the
/// manifest: no parse and re-print of every record at the end of a run, and
/// a manifest that `grep` reads a file at a time.
impl Serialize for FileRecords {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for line in self.lines().map_err(S::Error::custom)? {
            let raw =
                RawValue::from_string(line.map_err(S::Error::custom)?).map_err(S::Error::custom)?;
            seq.serialize_element(&raw)?;
        }
        seq.end()
    }
}

impl std::fmt::Debug for FileRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileRecords({} spooled)", self.len)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u64) -> FileRecord {
        FileRecord {
            path: format!("i/vm/serial.{n}.log"),
            source: format!("/logs/vm/serial.{n}.log"),
            instance: Some("i".into()),
            vm: n.is_multiple_of(2).then(|| "vm".into()),
            kind: Kind::Serial,
            log: Some("serial".into()),
            rotation: Some(n),
            size: 10 * n,
            sha256: "ab".repeat(32),
            mtime: None,
            changed_while_read: n == 2,
            zero_filled: n,
            original_size: (n == 3).then_some(99),
            cut: (n == 3).then_some(Cut {
                head: 1,
                tail: 2,
                removed: 3,
            }),
            redactions: [("token \"x\"\n".to_string(), n)].into_iter().collect(),
        }
    }

    #[test]
    fn spooled_records_serialize_as_the_array_they_were() {
        let records: Vec<FileRecord> = (0..5).map(record).collect();
        let mut spooled = FileRecords::default();
        for r in &records[..3] {
            spooled.push(r).unwrap();
        }
        // Reading in between does not lose or overwrite anything.
        assert_eq!(spooled.iter().unwrap().count(), 3);
        for r in &records[3..] {
            spooled.push(r).unwrap();
        }
        let json = serde_json::to_string_pretty(&spooled).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::to_value(&records).unwrap()
        );
        // One record per line, between the brackets' own lines.
        assert_eq!(json.lines().count(), 5 + 2, "{json}");
        assert_eq!(
            (spooled.len(), spooled.bytes(), spooled.altered()),
            (5, 100, 2)
        );
    }

    /// A manifest of no instances and no files yet.
    fn manifest() -> Manifest {
        let archive = ArchiveInfo {
            format: "tar.zst".into(),
            level: Some(3),
        };
        Manifest::new(&[], archive)
    }

    /// What `Manifest::json` must yield, byte for byte.
    fn pretty(manifest: &Manifest) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(manifest).unwrap();
        text.push(b'\n');
        text
    }

    /// Read in pieces of `piece` bytes, as a writer with a small buffer would.
    fn read_in_pieces(mut reader: ManifestJson<'_>, piece: usize) -> Vec<u8> {
        let (mut text, mut buf) = (Vec::new(), vec![0; piece]);
        loop {
            match reader.read(&mut buf).unwrap() {
                0 => return text,
                n => text.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn the_streamed_manifest_is_the_pretty_printed_one_and_as_long_as_announced() {
        for count in [0, 1, 2, 5] {
            let mut manifest = manifest();
            for n in 0..count {
                manifest.files.push(&record(n)).unwrap();
            }
            // Fields after `files`, with text that looks like the field.
            manifest.problems.push(Problem::new(
                std::path::Path::new("/x"),
                "\n  \"files\": [] in a message".to_string(),
            ));
            manifest.finish_totals();
            let expected = pretty(&manifest);
            for piece in [1, 3, 7, 4096] {
                let json = manifest.json().unwrap();
                assert_eq!(json.len, expected.len() as u64, "{count} records");
                let text = read_in_pieces(json, piece);
                assert_eq!(
                    String::from_utf8_lossy(&text),
                    String::from_utf8_lossy(&expected),
                    "{count} records, read {piece} bytes at a time"
                );
            }
            let mut written = Vec::new();
            manifest.write_json(&mut written).unwrap();
            assert_eq!(written, expected);
            // Records pushed after a read are kept too.
            manifest.files.push(&record(9)).unwrap();
            assert_eq!(manifest.files.iter().unwrap().count(), count as usize + 1);
        }
    }

    #[test]
    fn the_records_field_is_found_however_the_text_is_split_into_writes() {
        let text = b"{\n  \"x\": \"  \\\"files\\\": []\",\n  \"files\": [],\n  \"files\": []\n}";
        let expected = text
            .windows(EMPTY_FILES.len())
            .position(|w| w == EMPTY_FILES);
        for piece in 1..text.len() {
            let mut finder = FieldFinder {
                out: Vec::new(),
                written: 0,
                tail: Vec::new(),
                found: None,
            };
            for chunk in text.chunks(piece) {
                finder.write_all(chunk).unwrap();
            }
            assert_eq!(
                finder.found,
                expected.map(|at| at as u64),
                "pieces of {piece}"
            );
            assert_eq!(finder.out, text);
        }
    }

    /// Takes `room` bytes, then fails: a full disk.
    struct FillsUp {
        room: usize,
    }

    impl Write for FillsUp {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self.room {
                0 => Err(io::Error::new(io::ErrorKind::StorageFull, "full")),
                room => {
                    let n = buf.len().min(room);
                    self.room -= n;
                    Ok(n)
                }
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_of_the_manifest_text_is_an_error_even_the_last() {
        let mut manifest = manifest();
        manifest.finish_totals();
        let whole = pretty(&manifest).len();
        // Failing at the end, past the last full buffer, or anywhere before.
        for room in [whole - 1, whole - 2, whole / 2, 10, 0] {
            assert!(
                manifest.text_without_records(FillsUp { room }).is_err(),
                "{room} of {whole} bytes written"
            );
        }
        assert!(
            manifest
                .text_without_records(FillsUp { room: whole })
                .is_ok()
        );
    }

    #[test]
    fn a_manifest_too_large_for_memory_streams_the_same() {
        let mut manifest = manifest();
        manifest.files.push(&record(1)).unwrap();
        // Twice `TEXT_IN_MEMORY` of skipped files, after the records.
        let skipped = Skipped::new(
            std::path::Path::new(&"s".repeat(200)),
            None,
            crate::layout::SkipReason::NotALog,
        );
        manifest.skipped = vec![skipped; 2 * TEXT_IN_MEMORY / 200];
        manifest.finish_totals();
        let expected = pretty(&manifest);
        let json = manifest.json().unwrap();
        assert_eq!(json.len, expected.len() as u64);
        assert!(read_in_pieces(json, 1 << 16) == expected);
    }

    #[test]
    fn no_records_serialize_as_an_empty_array() {
        let spooled = FileRecords::default();
        assert_eq!(serde_json::to_string_pretty(&spooled).unwrap(), "[]");
    }
}
