//! Plan the archive: decide, before anything is read, which source file goes
//! to which path in the layout, and which sources are skipped and why.
//!
//! ```text
//! <instance>/              service logs from the log dir
//! <instance>/<vm>[.N]/     preserved VM logs (folders in the log dir)
//! <instance>/lima-<vm>/    logs of VMs still in the Lima home
//! <into>/…                 extra files from include globs
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet, btree_map};
use std::ffi::{OsStr, OsString};
use std::fs::{self, FileType};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};

use crate::names::{archive_component, parse_log_name};
use crate::problem::Problem;
use crate::sanitize::display_path;
use crate::sources::{Include, Instance, Sources};

/// What a collected file is, for people and tools that read the archive.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A log of the rdd service itself (`rdd.stderr.log`, `support-bundle.log`, …).
    Service,
    /// A Lima host agent log (`ha.stderr.log`, `ha.stdout.log`).
    Hostagent,
    /// A VM serial console log (`serial.log`, `serialp.log`, `serialv.log`).
    Serial,
    /// Written from inside the guest (`guest-journal.log`, `lima-init.log`).
    Guest,
    /// Another log of a VM still in the Lima home.
    Vm,
    /// A log preserved from a deleted VM (`<instance>/<vm>[.N]/`).
    Preserved,
    /// A file from an include glob.
    Extra,
}

/// Why a source was not collected.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Only `*.log` files are collected from instance folders.
    NotALog,
    /// Lima's `_config` holds the SSH private key of every VM: never collected.
    LimaConfig,
    /// A folder in the Lima home starting with `_` holds no VM.
    NotAVm,
    /// Folders deeper than the layout's depth are not descended into.
    NestedFolder,
    /// Symbolic links are not followed: they could pull in anything.
    Symlink,
    /// Sockets are never opened (one is a live VM console).
    Socket,
    /// FIFOs are never opened (a read would block forever).
    Fifo,
    /// Block and character devices are never read.
    Device,
    /// A folder matched by an include glob (globs select files).
    Directory,
    /// The folder or file could not be listed or inspected.
    Unreadable,
    /// Holds a secret by its name or content (a private key, a kubeconfig…);
    /// `detail` says which rule.
    Secret,
    /// A VM's disk or cloud-init image (`disk`, `diffdisk`, `cidata.iso`,
    /// `ext4.vhdx`…): gigabytes, often sparse, and no log.
    VmImage,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    #[serde(serialize_with = "crate::sanitize::serde_path::one")]
    pub source: PathBuf,
    /// The path inside the archive, always relative and `/`-separated.
    pub path: String,
    pub instance: Option<String>,
    pub vm: Option<String>,
    pub kind: Kind,
    /// The log's name without rotation number and `.log` (`ha.stderr`).
    pub log: Option<String>,
    /// N of a `NAME.N.log` backup (1 is the oldest).
    pub rotation: Option<u64>,
    /// The size when planned, if planning measured it (see [`Sizes`]);
    /// what is archived is measured when packing opens the file (a small
    /// one again just before it is read, if opened a while before).
    #[serde(rename = "size", skip_serializing_if = "Option::is_none")]
    pub planned_size: Option<u64>,
    /// The file's inode number as listed (Unix; not for include globs): a
    /// file found at its path later with another one was replaced there.
    #[serde(skip)]
    pub ino: Option<u64>,
}

/// Whether planning measures each file's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sizes {
    /// A `stat` per file: a plan shown to the user says what it would write.
    #[default]
    Measured,
    /// Listing only, by the type the folder listing gives: packing measures
    /// each file when it opens it, so that with thousands of small logs the
    /// reading starts at once rather than after a `stat` of each.
    Deferred,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub reason: SkipReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Skipped {
    pub fn new(path: &Path, instance: Option<String>, reason: SkipReason) -> Skipped {
        Skipped {
            source: display_path(path),
            instance,
            reason,
            detail: None,
        }
    }
}

/// The planned files, kept compactly: with many files the plan is most of
/// the memory a collection takes. What the files of one folder share (where
/// they are read from, their archive folder, instance, VM) is kept once per
/// folder; per file only its name, size and folder (about 24 bytes and the
/// name). `iter` makes each `PlannedFile` when it is needed. Once planning is
/// done, `spool` moves the per-file part to a temporary file.
#[derive(Debug, Default)]
pub struct PlannedFiles {
    folders: Vec<Folder>,
    /// In archive path order once planned.
    entries: Vec<Entry>,
    /// The archive name of every entry, one after another.
    names: String,
    /// What the rare entry needs besides its name.
    extras: Vec<Extra>,
    /// Once `spool`ed, the entries and names are in a temporary file.
    spooled: Option<Spooled>,
    /// `Sizes::Deferred`: the entries' sizes are not known (they are 0).
    sizes: Sizes,
}

/// The entries and their names in a temporary file, in archive path order:
/// per entry its folder, extra, size, name length (little-endian `u32`,
/// `u32`, `u64`, `u32`) and name.
#[derive(Debug)]
struct Spooled {
    file: std::fs::File,
    len: usize,
    total_bytes: u64,
    /// A failed read back: `iter` ended early, and `spool_error` says why.
    error: std::sync::Mutex<Option<io::Error>>,
}

#[derive(Debug)]
struct Folder {
    source: PathBuf,
    /// The archive folder, without a final `/`.
    path: String,
    instance: Option<String>,
    vm: Option<String>,
    kind: fn(&str) -> Kind,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    folder: u32,
    /// Where its archive name starts in `names`; grows in planning order.
    name: u32,
    name_len: u32,
    /// An index in `extras`, or `NO_EXTRA`.
    extra: u32,
    /// 0 when planning did not measure it (`Sizes::Deferred`).
    size: u64,
    /// The inode number as listed; 0 when not known.
    ino: u64,
}

const NO_EXTRA: u32 = u32::MAX;

#[derive(Debug, Default)]
struct Extra {
    /// The source's file name, when its archive name has escaped bytes.
    source_name: Option<OsString>,
    /// The archive path, when another file took the planned one.
    path: Option<String>,
}

impl PlannedFiles {
    pub fn len(&self) -> usize {
        self.spooled.as_ref().map_or(self.entries.len(), |s| s.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The files in archive path order. Once spooled, a read that fails
    /// ends the iteration early; `spool_error` then says so. Several
    /// iterations may go on at once, each at its own pace.
    pub fn iter(&self) -> Box<dyn Iterator<Item = PlannedFile> + Send + '_> {
        match &self.spooled {
            None => Box::new(
                self.entries
                    .iter()
                    .map(|entry| self.planned(entry, self.name(entry))),
            ),
            Some(spooled) => {
                let mut reader = io::BufReader::new(SpoolCursor {
                    file: &spooled.file,
                    offset: 0,
                });
                let mut name = Vec::new();
                let mut count = 0;
                Box::new(std::iter::from_fn(move || {
                    // A spool that ends early has lost files: an error too.
                    let read = match read_spooled(&mut reader, &mut name) {
                        Ok(None) if count != spooled.len => Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("{count} of {} entries", spooled.len),
                        )),
                        read => read,
                    };
                    match read {
                        Ok(Some(entry)) => {
                            count += 1;
                            let name = String::from_utf8_lossy(&name);
                            Some(self.planned(&entry, &name))
                        }
                        Ok(None) => None,
                        Err(e) => {
                            spooled.failed(e);
                            None
                        }
                    }
                }))
            }
        }
    }

    /// `None` when planning did not measure the files.
    pub fn total_planned_bytes(&self) -> Option<u64> {
        self.measured().then(|| match &self.spooled {
            Some(spooled) => spooled.total_bytes,
            None => self.entries_bytes(),
        })
    }

    fn measured(&self) -> bool {
        self.sizes == Sizes::Measured
    }

    fn entries_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// Move the entries and their names to a temporary file, once planning
    /// is done: memory then stays the same whatever the number of files
    /// (what is left is per folder, and the rare renamed entry).
    pub fn spool(&mut self) -> io::Result<()> {
        if self.spooled.is_some() {
            return Ok(());
        }
        let mut out = io::BufWriter::new(tempfile::tempfile()?);
        for entry in &self.entries {
            let name = self.name(entry).as_bytes();
            out.write_all(&entry.folder.to_le_bytes())?;
            out.write_all(&entry.extra.to_le_bytes())?;
            out.write_all(&entry.size.to_le_bytes())?;
            out.write_all(&entry.ino.to_le_bytes())?;
            out.write_all(&entry.name_len.to_le_bytes())?;
            out.write_all(name)?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        self.spooled = Some(Spooled {
            file,
            len: self.entries.len(),
            total_bytes: self.entries_bytes(),
            error: std::sync::Mutex::new(None),
        });
        self.entries = Vec::new();
        self.names = String::new();
        Ok(())
    }

    /// Why `iter` ended early, if reading the spooled plan back failed.
    pub fn spool_error(&self) -> Option<io::Error> {
        self.spooled
            .as_ref()
            .and_then(|s| s.error.lock().ok().and_then(|mut e| e.take()))
    }

    fn add_folder(
        &mut self,
        source: &Path,
        path: String,
        instance: Option<String>,
        vm: Option<String>,
        kind: fn(&str) -> Kind,
    ) -> u32 {
        self.folders.push(Folder {
            source: source.to_path_buf(),
            path,
            instance,
            vm,
            kind,
        });
        u32::try_from(self.folders.len() - 1).expect("fewer than 4 billion folders")
    }

    /// Add a file of `folder` named `name` in the archive; `source_name` is
    /// its name on disk when escaping changed it.
    fn push(&mut self, folder: u32, name: &str, source_name: Option<&OsStr>, size: u64, ino: u64) {
        let too_many = "a plan holds less than 4 GiB of names and 4 billion files";
        let extra = match source_name {
            Some(source_name) => {
                self.extras.push(Extra {
                    source_name: Some(source_name.to_os_string()),
                    path: None,
                });
                u32::try_from(self.extras.len() - 1).expect(too_many)
            }
            None => NO_EXTRA,
        };
        self.entries.push(Entry {
            folder,
            name: u32::try_from(self.names.len()).expect(too_many),
            name_len: u32::try_from(name.len()).expect(too_many),
            extra,
            size,
            ino,
        });
        self.names.push_str(name);
    }

    fn name(&self, entry: &Entry) -> &str {
        &self.names[entry.name as usize..(entry.name + entry.name_len) as usize]
    }

    fn extra(&self, entry: &Entry) -> Option<&Extra> {
        self.extras.get(entry.extra as usize)
    }

    fn renamed(&self, entry: &Entry) -> Option<&str> {
        self.extra(entry).and_then(|e| e.path.as_deref())
    }

    fn path(&self, entry: &Entry, name: &str) -> String {
        match self.renamed(entry) {
            Some(path) => path.to_string(),
            None => format!("{}/{}", self.folders[entry.folder as usize].path, name),
        }
    }

    fn planned(&self, entry: &Entry, name: &str) -> PlannedFile {
        let folder = &self.folders[entry.folder as usize];
        let source_name = match self.extra(entry).and_then(|e| e.source_name.as_deref()) {
            Some(source_name) => source_name,
            None => OsStr::new(name),
        };
        let parsed = parse_log_name(name);
        PlannedFile {
            source: folder.source.join(source_name),
            path: self.path(entry, name),
            instance: folder.instance.clone(),
            vm: folder.vm.clone(),
            kind: (folder.kind)(parsed.map_or("", |(log, _)| log)),
            log: parsed.map(|(log, _)| log.to_string()),
            rotation: parsed.and_then(|(_, n)| n),
            planned_size: self.measured().then_some(entry.size),
            ino: (entry.ino != 0).then_some(entry.ino),
        }
    }

    /// Archive path order, without making the paths: ties (two files
    /// planned to one path) in planning order.
    fn compare(&self, a: &Entry, b: &Entry) -> Ordering {
        self.compare_paths(a, b).then(a.name.cmp(&b.name))
    }

    fn compare_paths(&self, a: &Entry, b: &Entry) -> Ordering {
        if a.folder == b.folder && a.extra == NO_EXTRA && b.extra == NO_EXTRA {
            self.name(a).cmp(self.name(b))
        } else {
            self.path_bytes(a).cmp(self.path_bytes(b))
        }
    }

    fn path_bytes<'s>(&'s self, entry: &'s Entry) -> impl Iterator<Item = u8> + 's {
        let (folder, separator, name) = match self.renamed(entry) {
            Some(path) => ("", "", path),
            None => (
                self.folders[entry.folder as usize].path.as_str(),
                "/",
                self.name(entry),
            ),
        };
        folder.bytes().chain(separator.bytes()).chain(name.bytes())
    }

    /// Store entry `i` at `path` rather than at its folder's path and name.
    fn set_path(&mut self, i: usize, path: String) {
        if self.entries[i].extra == NO_EXTRA {
            self.extras.push(Extra::default());
            self.entries[i].extra =
                u32::try_from(self.extras.len() - 1).expect("fewer extras than files");
        }
        let extra = self.entries[i].extra as usize;
        self.extras[extra].path = Some(path);
    }

    fn sort(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| self.compare(a, b));
        self.entries = entries;
    }
}

impl Spooled {
    /// Reading back failed: `spool_error` will say why.
    fn failed(&self, e: io::Error) {
        if let Ok(mut error) = self.error.lock() {
            error.get_or_insert(e);
        }
    }
}

/// Reads a spooled plan from its own offset, so that two threads can each
/// go through the plan at their own pace.
struct SpoolCursor<'f> {
    file: &'f std::fs::File,
    offset: u64,
}

impl io::Read for SpoolCursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(self.file, buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // Moves the file's own position too, which no reader of the spool uses.
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at(_file: &std::fs::File, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// One entry of a spooled plan, its name in `name`; `None` at the end.
fn read_spooled(reader: &mut impl io::Read, name: &mut Vec<u8>) -> io::Result<Option<Entry>> {
    let mut fixed = [0u8; 28];
    match reader.read_exact(&mut fixed[..1]) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    reader.read_exact(&mut fixed[1..])?;
    let u32_at = |i: usize| u32::from_le_bytes(fixed[i..i + 4].try_into().expect("4 bytes"));
    let entry = Entry {
        folder: u32_at(0),
        extra: u32_at(4),
        size: u64::from_le_bytes(fixed[8..16].try_into().expect("8 bytes")),
        ino: u64::from_le_bytes(fixed[16..24].try_into().expect("8 bytes")),
        name: 0,
        name_len: u32_at(24),
    };
    name.resize(entry.name_len as usize, 0);
    reader.read_exact(name)?;
    Ok(Some(entry))
}

impl Serialize for PlannedFiles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for file in self.iter() {
            seq.serialize_element(&file)?;
        }
        seq.end()
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    pub files: PlannedFiles,
    pub skipped: Vec<Skipped>,
    pub problems: Vec<Problem>,
    /// Leave out files that hold secrets by name (off only with the override).
    deny_secrets: bool,
    /// Each folder listed, with its modification time just before: a file
    /// created or renamed in it since changes that time.
    listed: Vec<Listing>,
    /// `Sources::written` that exist, as full paths.
    written: Vec<PathBuf>,
}

#[derive(Debug)]
struct Listing {
    dir: PathBuf,
    modified: Option<SystemTime>,
    /// Modified within a second or two of the listing: file systems keep
    /// times to a clock tick (4 ms on Linux, 2 s on FAT), so a change in the
    /// same tick would leave the time as it was. Always looked at again.
    recent: bool,
}

impl Listing {
    fn new(dir: &Path) -> Listing {
        let modified = modified(dir);
        let recent = modified.is_some_and(|time| {
            SystemTime::now()
                .duration_since(time)
                .map_or(true, |age| age < std::time::Duration::from_secs(3))
        });
        Listing {
            dir: dir.to_path_buf(),
            modified,
            recent,
        }
    }

    fn changed(&self) -> bool {
        self.recent || modified(&self.dir) != self.modified
    }
}

impl Plan {
    /// Is `path` what this run writes? Compared as full paths, only for a
    /// name that is one of theirs.
    fn writes(&self, path: &Path) -> bool {
        self.written.iter().any(|written| {
            written.file_name() == path.file_name()
                && fs::canonicalize(path).is_ok_and(|full| full == *written)
        })
    }

    /// `None` when planning did not measure the files.
    pub fn total_planned_bytes(&self) -> Option<u64> {
        self.files.total_planned_bytes()
    }
}

/// Plan what `sources` collect, measuring each file. `allow_secret_files` is
/// the loud override that lets key files, kubeconfigs and Lima's `_config`
/// through include globs.
pub fn plan(sources: &Sources, allow_secret_files: bool) -> Plan {
    plan_with(sources, allow_secret_files, Sizes::Measured)
}

/// Plan, measuring the files or not.
pub fn plan_with(sources: &Sources, allow_secret_files: bool, sizes: Sizes) -> Plan {
    let mut plan = Plan {
        deny_secrets: !allow_secret_files,
        written: sources
            .written
            .iter()
            .filter_map(|path| fs::canonicalize(path).ok())
            .collect(),
        ..Plan::default()
    };
    plan.files.sizes = sizes;
    for instance in &sources.instances {
        let files = plan.files.len();
        let mut looked_in: Vec<&Path> = Vec::new();
        if let Some(log_dir) = &instance.log_dir
            && exists(log_dir, instance, "log dir", &mut plan)
        {
            plan_log_dir(instance, log_dir, &mut plan);
            looked_in.push(log_dir);
        }
        if let Some(lima_home) = &instance.lima_home
            && exists(lima_home, instance, "Lima home", &mut plan)
        {
            plan_lima_home(instance, lima_home, &mut plan);
            looked_in.push(lima_home);
        }
        // Folders that hold no log at all are what a wrong path looks like
        // too (`--log-dir /etc`): an archive of nothing must not pass for a
        // collection.
        looked_in.dedup();
        if plan.files.len() == files
            && let Some((first, others)) = looked_in.split_first()
        {
            let nor: String = others
                .iter()
                .map(|d| format!(" nor in {}", display_path(d)))
                .collect();
            // A folder with nothing in it says the instance wrote nothing
            // (or this is not its folder); `--dry-run` would show nothing.
            let hint = match looked_in.iter().all(|d| is_empty_dir(d)) {
                true => "the folder is empty: did the instance run, and is this its folder?",
                false => {
                    "is this its folder? `logkeep collect --dry-run` lists what is skipped and why"
                }
            };
            plan.problems.push(Problem::new(
                first,
                format!(
                    "instance {} has no log here{nor}; nothing collected from it ({hint})",
                    instance.name
                ),
            ));
        }
    }
    for include in &sources.includes {
        plan_include(include, &mut plan);
    }
    plan.files.sort();
    make_paths_unique(&mut plan);
    plan.skipped.sort_by(|a, b| a.source.cmp(&b.source));
    plan
}

fn modified(dir: &Path) -> Option<SystemTime> {
    fs::metadata(dir).and_then(|m| m.modified()).ok()
}

/// The files that appeared in the instances' folders while `earlier` was
/// packed, planned as `earlier` would have planned them: a log a service
/// renamed away mid-run (`rdd.log` to `rdd.1.log`, its previous boot's
/// lines), the new log started in its place, or a VM's folder preserved
/// meanwhile. `None` when no folder listed changed since: one `stat` per
/// folder, so nothing is listed again in the usual run (nor in those
/// changed just before they were listed). A file is told by its inode
/// (Unix): one packed already, under any name, is not packed again;
/// `not_as_planned` says which planned files were packed as another inode
/// or not at all (see [`crate::pack::PackOptions`]). Elsewhere a file is
/// told by its path. Include globs are not listed again.
pub fn late_arrivals(
    sources: &Sources,
    allow_secret_files: bool,
    earlier: &Plan,
    not_as_planned: &[crate::pack::NotAsPlanned],
) -> Option<LateArrivals> {
    let changed: HashSet<&Path> = earlier
        .listed
        .iter()
        .filter(|listing| listing.changed())
        .map(|listing| listing.dir.as_path())
        .collect();
    if changed.is_empty() {
        return None;
    }
    let listed: HashSet<&Path> = earlier.listed.iter().map(|l| l.dir.as_path()).collect();
    // A file in a folder that changed, or in a new folder in one (a VM's
    // folder preserved or created meanwhile); not one of an include glob.
    let looked_at = |source: &Path| {
        source.parent().is_some_and(|dir| {
            changed.contains(dir)
                || (!listed.contains(dir) && dir.parent().is_some_and(|d| changed.contains(d)))
        })
    };
    let packed_otherwise: std::collections::HashMap<&Path, Option<u64>> = not_as_planned
        .iter()
        .map(|(source, ino)| (source.as_path(), *ino))
        .collect();
    // What was packed there: by inode, or by path on disk where there is
    // none; and the archive paths taken (case-folded: a late file must not
    // take one).
    let mut inodes_packed: HashSet<u64> = HashSet::new();
    let mut sources_packed: HashSet<PathBuf> = HashSet::new();
    let mut paths_before: HashSet<String> = HashSet::new();
    // Planned files that were not there to open, by inode.
    let mut not_opened: Vec<(u64, PathBuf)> = Vec::new();
    for file in earlier.files.iter() {
        if !looked_at(&file.source) {
            continue;
        }
        paths_before.insert(fold_case(&file.path));
        match (file.ino, packed_otherwise.get(file.source.as_path())) {
            // Not opened: moved away, unless it is still there (it could
            // not be read, which is a problem of its own).
            (Some(ino), Some(None)) if inode(&file.source) != Some(ino) => {
                not_opened.push((ino, file.source))
            }
            (Some(ino), Some(None)) => {
                inodes_packed.insert(ino);
            }
            (Some(_), Some(opened)) => inodes_packed.extend(*opened),
            (Some(ino), None) => {
                inodes_packed.insert(ino);
            }
            (None, _) => {
                sources_packed.insert(file.source);
            }
        }
    }
    let mut again = plan_with(sources, allow_secret_files, Sizes::Deferred);
    let files = &mut again.files;
    let entries = std::mem::take(&mut files.entries);
    for entry in entries {
        let planned = files.planned(&entry, files.name(&entry));
        let packed = match planned.ino {
            Some(ino) => inodes_packed.contains(&ino),
            None => sources_packed.contains(&planned.source),
        };
        if !looked_at(&planned.source) || packed {
            continue;
        }
        files.entries.push(entry);
        if paths_before.contains(&fold_case(&planned.path)) {
            let i = files.entries.len() - 1;
            let unique = free_path(&planned.path, |p| paths_before.contains(&fold_case(p)));
            files.set_path(i, unique);
        }
    }
    files.sort();
    if files.entries.is_empty() {
        return None;
    }
    let late_inodes: HashSet<u64> = files.entries.iter().map(|e| e.ino).collect();
    let found_elsewhere = not_opened
        .into_iter()
        .filter(|(ino, _)| late_inodes.contains(ino))
        .map(|(_, source)| source)
        .collect();
    Some(LateArrivals {
        files: std::mem::take(files),
        found_elsewhere,
    })
}

/// The inode of the file at `path` (not following a link); `None`
/// elsewhere than on Unix.
fn inode(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    return fs::symlink_metadata(path)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// What [`late_arrivals`] found.
pub struct LateArrivals {
    pub files: PlannedFiles,
    /// Planned files that were not there when they were to be read (they
    /// were moved: a VM's folder preserved), found among the late files.
    pub found_elsewhere: Vec<PathBuf>,
}

/// `path` with `~2`, `~3`… before its extension: the first that is not `taken`.
fn free_path(path: &str, taken: impl Fn(&str) -> bool) -> String {
    let (stem, ext) = match path.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => (stem.to_string(), format!(".{ext}")),
        _ => (path.to_string(), String::new()),
    };
    (2..)
        .map(|n| format!("{stem}~{n}{ext}"))
        .find(|candidate| !taken(candidate))
        .expect("an unbounded range finds a free name")
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// A missing folder is not an error (an instance that never started has
/// none), but it is worth a warning: it is also what a typo looks like.
fn exists(dir: &Path, instance: &Instance, what: &str, plan: &mut Plan) -> bool {
    if fs::symlink_metadata(dir).is_ok() {
        return true;
    }
    plan.problems.push(Problem::new(
        dir,
        format!(
            "{what} of instance {} not found; nothing collected from it (did the instance run?)",
            instance.name
        ),
    ));
    false
}

/// An entry of a listed folder, with its type as seen without following links.
struct Listed {
    path: PathBuf,
    /// The archive name; `escaped` when it differs from the name on disk.
    name: String,
    escaped: bool,
    file_type: FileType,
    size: u64,
    /// As the listing gives it (Unix); 0 elsewhere.
    ino: u64,
}

/// List a folder's entries, sorted. A missing folder is empty: an instance
/// that never started has none.
fn list(dir: &Path, instance: &Instance, plan: &mut Plan) -> Vec<Listed> {
    let folder = read_folder(dir, instance, plan.files.measured());
    plan.add_listing(folder)
}

/// A folder as listed, and what went wrong listing it, for the plan.
struct FolderListing {
    listing: Listing,
    entries: Vec<Listed>,
    problems: Vec<Problem>,
    skipped: Vec<Skipped>,
}

impl Plan {
    /// Record a folder's listing and its problems; its entries, sorted.
    fn add_listing(&mut self, folder: FolderListing) -> Vec<Listed> {
        self.listed.push(folder.listing);
        self.problems.extend(folder.problems);
        self.skipped.extend(folder.skipped);
        folder.entries
    }
}

/// How many folders each lister lists ahead of their planning.
const LIST_AHEAD: usize = 2;
/// Listers at most: listing is mostly the kernel's reading of folders.
const LISTERS: usize = 4;

/// Run `plan_them` over the listings of `dirs`, in order. With several
/// folders, they are listed on every core (up to `LISTERS`), each lister
/// taking every n-th folder: with many VM folders (20,000 logs in 100 of
/// them), listing is nearly all of the planning, which comes before any
/// file is read. A few folders ahead at most, so that memory does not grow
/// with their number.
fn with_listings<R>(
    dirs: Vec<PathBuf>,
    instance: &Instance,
    measured: bool,
    plan_them: impl FnOnce(&mut dyn Iterator<Item = FolderListing>) -> R,
) -> R {
    let listers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(LISTERS)
        .min(dirs.len());
    if listers < 2 {
        let mut listings = dirs.iter().map(|dir| read_folder(dir, instance, measured));
        return plan_them(&mut listings);
    }
    std::thread::scope(|scope| {
        let dirs = &dirs;
        let lanes: Vec<_> = (0..listers)
            .map(|lane| {
                let (listed, listings) = std::sync::mpsc::sync_channel(LIST_AHEAD);
                scope.spawn(move || {
                    for dir in dirs.iter().skip(lane).step_by(listers) {
                        if listed.send(read_folder(dir, instance, measured)).is_err() {
                            break; // planning stopped
                        }
                    }
                });
                listings
            })
            .collect();
        let mut listings = (0..dirs.len()).map(|i| {
            lanes[i % listers]
                .recv()
                .expect("a lister lists each of its folders")
        });
        plan_them(&mut listings)
    })
}

/// List a folder: its entries, sorted, with each one's type (and size when
/// `measured`).
fn read_folder(dir: &Path, instance: &Instance, measured: bool) -> FolderListing {
    let mut folder = FolderListing {
        listing: Listing::new(dir),
        entries: Vec::new(),
        problems: Vec::new(),
        skipped: Vec::new(),
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return folder,
        Err(e) => {
            folder.problems.push(Problem::io(dir, "list folder", &e));
            folder
                .skipped
                .push(skipped(dir, Some(instance), SkipReason::Unreadable));
            return folder;
        }
    };
    let listed = &mut folder.entries;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                folder.problems.push(Problem::io(dir, "list folder", &e));
                continue;
            }
        };
        let path = entry.path();
        // Never follow a link while planning: like `symlink_metadata`, the
        // entry's own metadata and type do not. On Linux the metadata is a
        // `stat` relative to the open folder (no lookup of the whole path),
        // and the type comes with the listing on most file systems; on
        // Windows both come with the listing, so the size may lag behind a
        // file being written (the size that counts is taken when the file
        // is opened).
        let inspected = match measured {
            true => entry.metadata().map(|m| (m.file_type(), m.len())),
            false => entry.file_type().map(|t| (t, 0)),
        };
        match inspected {
            Ok((file_type, size)) => listed.push({
                let (name, escaped) = archive_component(&entry.file_name());
                #[cfg(unix)]
                let ino = std::os::unix::fs::DirEntryExt::ino(&entry);
                #[cfg(not(unix))]
                let ino = 0;
                Listed {
                    name,
                    escaped,
                    file_type,
                    size,
                    path,
                    ino,
                }
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // gone since listed
            Err(e) => {
                folder.problems.push(Problem::io(&path, "inspect", &e));
                folder
                    .skipped
                    .push(skipped(&path, Some(instance), SkipReason::Unreadable));
            }
        }
    }
    // All in one folder, so the paths share their prefix byte for byte:
    // compared as bytes, they sort by name as a component-wise compare would,
    // at a fraction of its cost.
    listed.sort_by(|a, b| a.path.as_os_str().cmp(b.path.as_os_str()));
    folder
}

/// Go through a folder's `entries` in order, handing `each` every entry
/// and, for the subfolders `to_list` picks, that subfolder's listing
/// (made on every core: see `with_listings`).
fn with_subfolder_listings(
    entries: Vec<Listed>,
    to_list: impl Fn(&Listed) -> bool,
    instance: &Instance,
    measured: bool,
    mut each: impl FnMut(Listed, Option<FolderListing>),
) {
    let subfolders = entries
        .iter()
        .filter(|entry| to_list(entry))
        .map(|entry| entry.path.clone())
        .collect();
    with_listings(subfolders, instance, measured, |listings| {
        for entry in entries {
            let listing =
                to_list(&entry).then(|| listings.next().expect("each subfolder picked is listed"));
            each(entry, listing);
        }
    });
}

fn plan_log_dir(instance: &Instance, log_dir: &Path, plan: &mut Plan) {
    let mut service = ArchiveFolder::new(log_dir, instance.name.clone(), None, service_kind);
    let entries = list(log_dir, instance, plan);
    let measured = plan.files.measured();
    // A folder in the log dir holds the preserved logs of a deleted VM.
    let is_folder = |entry: &Listed| entry.file_type.is_dir();
    with_subfolder_listings(
        entries,
        is_folder,
        instance,
        measured,
        |entry, listing| match listing {
            Some(listing) => {
                let vm = preserved_vm_name(&entry.name);
                let folder = format!("{}/{}", instance.name, entry.name);
                let mut folder =
                    ArchiveFolder::new(&entry.path, folder, Some(vm), |_| Kind::Preserved);
                plan_log_folder(instance, &mut folder, listing, plan);
            }
            None => plan_log_file(instance, entry, &mut service, plan),
        },
    );
}

fn plan_lima_home(instance: &Instance, lima_home: &Path, plan: &mut Plan) {
    let entries = list(lima_home, instance, plan);
    let measured = plan.files.measured();
    // `_config` and other folders starting with `_` are Lima's own, not VMs.
    let is_vm = |entry: &Listed| entry.file_type.is_dir() && !entry.name.starts_with('_');
    with_subfolder_listings(entries, is_vm, instance, measured, |entry, listing| {
        if let Some(listing) = listing {
            let folder = format!("{}/lima-{}", instance.name, entry.name);
            let vm = entry.name.clone();
            let mut folder = ArchiveFolder::new(&entry.path, folder, Some(vm), vm_kind);
            plan_log_folder(instance, &mut folder, listing, plan);
        } else if entry.file_type.is_dir() && entry.name == "_config" {
            plan.skipped
                .push(skipped(&entry.path, Some(instance), SkipReason::LimaConfig));
        } else if entry.file_type.is_dir() {
            plan.skipped
                .push(skipped(&entry.path, Some(instance), SkipReason::NotAVm));
        } else {
            let reason = skip_reason(&entry.file_type).unwrap_or(SkipReason::NotAVm);
            plan.skipped
                .push(skipped(&entry.path, Some(instance), reason));
        }
    });
}

/// A source folder and the archive folder its logs go to; added to the plan
/// with its first file.
struct ArchiveFolder {
    source: PathBuf,
    path: String,
    vm: Option<String>,
    kind: fn(&str) -> Kind,
    index: Option<u32>,
}

impl ArchiveFolder {
    fn new(source: &Path, path: String, vm: Option<String>, kind: fn(&str) -> Kind) -> Self {
        ArchiveFolder {
            source: source.to_path_buf(),
            path,
            vm,
            kind,
            index: None,
        }
    }

    fn index(&mut self, instance: Option<&Instance>, files: &mut PlannedFiles) -> u32 {
        *self.index.get_or_insert_with(|| {
            files.add_folder(
                &self.source,
                self.path.clone(),
                instance.map(|i| i.name.clone()),
                self.vm.clone(),
                self.kind,
            )
        })
    }
}

/// The `*.log` files directly in a VM folder, as `listing` lists it;
/// anything deeper is skipped.
fn plan_log_folder(
    instance: &Instance,
    folder: &mut ArchiveFolder,
    listing: FolderListing,
    plan: &mut Plan,
) {
    for entry in plan.add_listing(listing) {
        if entry.file_type.is_dir() {
            plan.skipped.push(skipped(
                &entry.path,
                Some(instance),
                SkipReason::NestedFolder,
            ));
        } else {
            plan_log_file(instance, entry, folder, plan);
        }
    }
}

fn plan_log_file(instance: &Instance, entry: Listed, folder: &mut ArchiveFolder, plan: &mut Plan) {
    let parsed = parse_log_name(&entry.name);
    if let Some(reason) = skip_reason(&entry.file_type) {
        plan.skipped
            .push(skipped(&entry.path, Some(instance), reason));
        return;
    }
    if parsed.is_none() {
        plan.skipped
            .push(skipped(&entry.path, Some(instance), SkipReason::NotALog));
        return;
    }
    if let Some(rule) = secret_by_name(&entry.name).filter(|_| plan.deny_secrets) {
        let mut skip = skipped(&entry.path, Some(instance), SkipReason::Secret);
        skip.detail = Some(rule.to_string());
        plan.skipped.push(skip);
        return;
    }
    let index = folder.index(Some(instance), &mut plan.files);
    let source_name = entry.escaped.then(|| entry.path.file_name()).flatten();
    plan.files
        .push(index, &entry.name, source_name, entry.size, entry.ino);
}

/// Whether an include glob's file is a VM's image, by its name as Lima,
/// QEMU and WSL2 name them: a glob over a Lima home (`lima/**`) would
/// otherwise read each VM's disk, gigabytes of mostly holes.
fn is_vm_image(file_name: &str) -> bool {
    const NAMES: [&str; 6] = [
        "disk",
        "basedisk",
        "diffdisk",
        "image",
        "cidata.iso",
        "ext4.vhdx",
    ];
    const EXTENSIONS: [&str; 6] = [".iso", ".qcow2", ".vhdx", ".vhd", ".vmdk", ".vdi"];
    let name = file_name.to_ascii_lowercase();
    NAMES.contains(&name.as_str()) || EXTENSIONS.iter().any(|ext| name.ends_with(ext))
}

/// Regular files are collected; everything else is skipped for its type.
fn skip_reason(file_type: &FileType) -> Option<SkipReason> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_symlink() {
        return Some(SkipReason::Symlink);
    }
    if file_type.is_dir() {
        return Some(SkipReason::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_socket() {
            return Some(SkipReason::Socket);
        }
        if file_type.is_fifo() {
            return Some(SkipReason::Fifo);
        }
    }
    Some(SkipReason::Device)
}

fn service_kind(log: &str) -> Kind {
    match log {
        "guest-journal" | "lima-init" => Kind::Guest,
        _ => Kind::Service,
    }
}

fn vm_kind(log: &str) -> Kind {
    if log.starts_with("ha.") {
        Kind::Hostagent
    } else if log.starts_with("serial") {
        Kind::Serial
    } else {
        Kind::Vm
    }
}

/// `test-vm.2` → `test-vm`: preservation adds `.N` when the folder was taken.
/// Lima VM names have no dots, so the suffix is unambiguous.
fn preserved_vm_name(folder: &str) -> String {
    match folder.rsplit_once('.') {
        Some((vm, n))
            if !vm.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            vm.to_string()
        }
        _ => folder.to_string(),
    }
}

/// Files matching an include glob. The walk starts at the glob's fixed prefix
/// and never follows a symbolic link, so a link loop or a link out of the
/// tree cannot pull anything in.
fn plan_include(include: &Include, plan: &mut Plan) {
    let matcher = match globset::GlobBuilder::new(&include.pattern)
        .literal_separator(true)
        .build()
    {
        Ok(glob) => glob.compile_matcher(),
        Err(e) => {
            plan.problems.push(Problem::new(
                Path::new(&include.pattern),
                format!("not a valid glob: {e}"),
            ));
            return;
        }
    };
    let base = glob_base(&include.pattern);
    // Without `**`, nothing deeper than the pattern's own depth can match.
    let depth = match include.pattern.contains("**") {
        true => usize::MAX,
        false => Path::new(&include.pattern).components().count() - base.components().count(),
    };
    let mut walk = walkdir::WalkDir::new(&base)
        .follow_links(false)
        .max_depth(depth)
        .sort_by_file_name()
        .into_iter();
    let mut matched = 0usize;
    // A folder the glob names: a glob of a folder takes none of its files.
    // Only a glob without `**` is told to add one.
    let mut matched_folder: Option<PathBuf> = None;
    let recursive = include.pattern.contains("**");
    // A part that could not be read is a problem of its own: the files
    // there may have matched, so "matched no file" would mislead.
    let mut unread = false;
    let mut last_folder: Option<(u32, PathBuf)> = None;
    while let Some(result) = walk.next() {
        let entry = match result {
            Ok(entry) => entry,
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(e) => {
                unread = true;
                let path = e.path().unwrap_or(&base).to_path_buf();
                plan.problems.push(Problem::new(
                    &path,
                    format!("cannot read while matching include glob: {e}"),
                ));
                plan.skipped
                    .push(skipped(&path, None, SkipReason::Unreadable));
                continue;
            }
        };
        let file_type = entry.file_type();
        if file_type.is_dir() && entry.file_name() == "_config" && plan.deny_secrets {
            // Lima's _config holds the SSH key of every VM: no glob reaches it.
            plan.skipped
                .push(skipped(entry.path(), None, SkipReason::LimaConfig));
            walk.skip_current_dir();
            continue;
        }
        if is_in_progress_output(entry.file_name()) || plan.writes(entry.path()) {
            // An output a run is writing (this one's, when it is written
            // where the glob reaches, or the earlier one it replaces) is
            // not a file to collect.
            if file_type.is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        if !matcher.is_match(entry.path()) {
            continue;
        }
        if file_type.is_dir() {
            if !recursive {
                matched_folder.get_or_insert_with(|| entry.path().to_path_buf());
            }
            continue;
        }
        matched += 1;
        let path = entry.path().to_path_buf();
        if let Some(rule) =
            secret_by_name(&entry.file_name().to_string_lossy()).filter(|_| plan.deny_secrets)
        {
            let mut skip = skipped(&path, None, SkipReason::Secret);
            skip.detail = Some(rule.to_string());
            plan.skipped.push(skip);
            continue;
        }
        if let Some(reason) = skip_reason(&file_type) {
            plan.skipped.push(skipped(&path, None, reason));
            continue;
        }
        if is_vm_image(&entry.file_name().to_string_lossy()) {
            plan.skipped.push(skipped(&path, None, SkipReason::VmImage));
            continue;
        }
        let size = match plan.files.measured() {
            true => entry.metadata().map_or(0, |m| m.len()),
            false => 0,
        };
        let relative = path.strip_prefix(&base).unwrap_or(&path);
        let mut parts: Vec<(String, bool)> = relative
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(part) => Some(archive_component(part)),
                _ => None,
            })
            .collect();
        let (file_name, escaped) = parts.pop().unwrap_or_default();
        let source = path.parent().unwrap_or(&base);
        // Files of one folder come one after another in the walk. Told
        // apart by their folder on disk: two (`x:` and `x%3A`) may be
        // stored under one name, and each file is read from its own.
        let index = match &last_folder {
            Some((index, folder_source)) if folder_source == source => *index,
            _ => {
                let mut folder = include.into.clone();
                for (part, _) in &parts {
                    folder.push('/');
                    folder.push_str(part);
                }
                let index = plan
                    .files
                    .add_folder(source, folder, None, None, |_| Kind::Extra);
                last_folder = Some((index, source.to_path_buf()));
                index
            }
        };
        let source_name = escaped.then(|| path.file_name()).flatten();
        plan.files.push(index, &file_name, source_name, size, 0);
    }
    if matched == 0 && !unread {
        let message = match matched_folder {
            Some(folder) => {
                let folder = crate::sanitize::display_path(&folder);
                format!(
                    "include glob matched no file: {folder} is a folder; write '{folder}/**' for every file below it, or '{folder}/*' for those directly in it"
                )
            }
            None => "include glob matched no file; check the pattern and the folder it starts from"
                .to_string(),
        };
        plan.problems
            .push(Problem::new(Path::new(&include.pattern), message));
    }
}

/// The temporary names logkeep writes under until a file is complete: the
/// output (`.NAME.logkeep-tmp-XXXXXX`, a file or folder), the copy of the
/// manifest (`.logkeep-manifest-XXXXXX`) and a preserved log being copied
/// (`.NAME.logkeep-partial`).
fn is_in_progress_output(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    let mark = crate::output::TEMPORARY_OUTPUT_MARK.as_bytes();
    name.starts_with(b".")
        && (name.windows(mark.len()).any(|w| w == mark)
            || name.starts_with(crate::output::MANIFEST_COPY_PREFIX.as_bytes())
            || name.ends_with(crate::preserve::PARTIAL_SUFFIX.as_bytes()))
}

/// The fixed folder a glob starts from: its components before the first one
/// with a wildcard (`/x/_diag/**/*.txt` → `/x/_diag`).
fn glob_base(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    let path = Path::new(pattern);
    let count = path.components().count();
    for (i, component) in path.components().enumerate() {
        let text = component.as_os_str().to_string_lossy();
        if i + 1 == count || text.contains(['*', '?', '[']) {
            break;
        }
        base.push(component);
    }
    base
}

/// Two sources can map to one archive path (a VM named `lima-x` preserved,
/// next to VM `x` still in the Lima home): keep both, the later planned as
/// `name~2.log`. Called on sorted files, where such paths are neighbours.
fn make_paths_unique(plan: &mut Plan) {
    let files = &mut plan.files;
    // Paths that differ only in case are one file where the archive is
    // likely to be opened (Windows, macOS): they count as the same. A hash
    // of each case-folded path finds whether any two meet without keeping
    // the paths (one allocation-free pass; no false "unique").
    let mut folded = Vec::new();
    let mut hashes: Vec<u64> = files
        .entries
        .iter()
        .map(|entry| {
            folded.clear();
            folded.extend(files.path_bytes(entry).map(|b| b.to_ascii_lowercase()));
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hasher::write(&mut hasher, &folded);
            std::hash::Hasher::finish(&hasher)
        })
        .collect();
    hashes.sort_unstable();
    if !hashes.windows(2).any(|pair| pair[0] == pair[1]) {
        return;
    }
    drop(hashes);
    // Rare: rename in planning order, as the first planned keeps its path.
    files.entries.sort_unstable_by_key(|e| e.name);
    // Each path taken, case-folded, and the path as it was taken, with the
    // file that took it.
    let mut taken: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    // A file planned twice for one path (two include globs that match it,
    // into the same folder) is one file: the second goes.
    let mut twice: Vec<usize> = Vec::new();
    for i in 0..files.entries.len() {
        let entry = files.entries[i];
        let path = files.path(&entry, files.name(&entry));
        let source = files.planned(&entry, files.name(&entry)).source;
        let (other, other_source) = match taken.entry(fold_case(&path)) {
            btree_map::Entry::Vacant(free) => {
                free.insert((path, source));
                continue;
            }
            btree_map::Entry::Occupied(other) => other.get().clone(),
        };
        if other == path && other_source == source {
            twice.push(i);
            continue;
        }
        let unique = free_path(&path, |candidate| taken.contains_key(&fold_case(candidate)));
        let other_file = display_path(&other_source);
        let why = match other == path {
            true => format!("another file ({other_file}) already goes to {path}"),
            false => format!(
                "another file ({other_file}) already goes to {other}, which differs from {path} only in case (one file on Windows and macOS)"
            ),
        };
        plan.problems
            .push(Problem::new(&source, format!("{why}; stored as {unique}")));
        taken.insert(fold_case(&unique), (unique.clone(), source));
        files.set_path(i, unique);
    }
    let mut index = 0;
    files.entries.retain(|_| {
        index += 1;
        // (In index order: pushed as found.)
        twice.binary_search(&(index - 1)).is_err()
    });
    files.sort();
}

/// A path as a case-insensitive file system sees it (ASCII letters only:
/// log names seldom hold others, and the hash above folds the same way).
fn fold_case(path: &str) -> String {
    path.to_ascii_lowercase()
}

fn skipped(path: &Path, instance: Option<&Instance>, reason: SkipReason) -> Skipped {
    Skipped::new(path, instance.map(|i| i.name.clone()), reason)
}

/// Files that hold secrets by their name: never collected, whatever glob
/// names them, unless the user passes the loudly named override.
pub fn secret_by_name(file_name: &str) -> Option<&'static str> {
    // Compared without a lowercase copy: this runs for every file planned.
    let name = file_name.as_bytes();
    let starts = |prefix: &str| {
        name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    let ends = |suffix: &str| {
        name.len() >= suffix.len()
            && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    let any = |names: &[&str]| names.iter().any(|n| file_name.eq_ignore_ascii_case(n));
    if starts("id_") && !ends(".pub") {
        Some("an SSH private key by its name (id_*)")
    } else if ends(".key") {
        Some("a private key by its name (*.key)")
    } else if any(&["kube.config", "k3s.yaml", "k3s.yml", "kubeconfig"]) || ends(".kubeconfig") {
        Some("a kubeconfig (cluster credentials)")
    } else if any(&["vncpassword"]) {
        Some("the VM's VNC password")
    } else if any(&["config.yaml", "config.yml", "config.json"]) {
        Some("a service configuration (may hold credentials)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_known_by_name_in_any_case() {
        for (name, denied) in [
            ("id_rsa", true),
            ("ID_ED25519", true),
            ("id_rsa.pub", false),
            ("id_rsa.PUB", false),
            ("tls.KEY", true),
            ("key", false),
            ("KubeConfig", true),
            ("admin.kubeconfig", true),
            ("k3s.YAML", true),
            ("VNCPassword", true),
            ("Config.Json", true),
            ("config.yaml.log", false),
            ("serial.log", false),
            ("id", false),
        ] {
            assert_eq!(secret_by_name(name).is_some(), denied, "{name}");
        }
    }

    #[test]
    fn glob_base_stops_at_the_first_wildcard() {
        assert_eq!(glob_base("/x/_diag/**/*.txt"), PathBuf::from("/x/_diag"));
        assert_eq!(glob_base("/x/_diag/*"), PathBuf::from("/x/_diag"));
        assert_eq!(
            glob_base("/x/_diag/machine-info.txt"),
            PathBuf::from("/x/_diag")
        );
    }

    fn write(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"log\n").unwrap();
    }

    /// Spooling the plan to a temporary file changes nothing it yields.
    fn assert_spooling_keeps(plan: &mut Plan) {
        let before: Vec<String> = plan.files.iter().map(|f| format!("{f:?}")).collect();
        let (len, total) = (plan.files.len(), plan.total_planned_bytes());
        plan.files.spool().unwrap();
        assert!(plan.files.entries.is_empty() && plan.files.names.is_empty());
        for _ in 0..2 {
            let after: Vec<String> = plan.files.iter().map(|f| format!("{f:?}")).collect();
            assert_eq!(after, before);
        }
        assert_eq!((plan.files.len(), plan.total_planned_bytes()), (len, total));
        assert!(plan.files.spool_error().is_none());
        // A spool that holds fewer entries than were written is an error.
        plan.files.spooled.as_mut().unwrap().len += 1;
        assert_eq!(plan.files.iter().count(), len);
        assert!(plan.files.spool_error().is_some());
    }

    /// Folders listed on several threads come back in order, each with its
    /// own entries and problems, and the plan is the one listing them in
    /// turn would make.
    #[test]
    fn folders_listed_on_several_threads_are_planned_in_order() {
        let root = tempfile::tempdir().unwrap();
        let (log_dir, lima_home) = (root.path().join("logs"), root.path().join("lima"));
        for vm in 0..13 {
            for log in 0..=vm % 4 {
                write(&log_dir.join(format!("vm-{vm:02}/serial.{log}.log")));
                write(&lima_home.join(format!("vm-{vm:02}/ha.stderr.{log}.log")));
            }
            // Not a log, so skipped: each skip goes with its folder.
            write(&log_dir.join(format!("vm-{vm:02}/notes.txt")));
        }
        write(&lima_home.join("_config/user"));
        let instance = Instance {
            name: "i".into(),
            log_dir: Some(log_dir.clone()),
            lima_home: Some(lima_home.clone()),
        };
        let dirs: Vec<PathBuf> = (0..13)
            .map(|vm| log_dir.join(format!("vm-{vm:02}")))
            .collect();
        // What a listing says: its entries' names, and what it skipped.
        let names_and_skips = |folder: FolderListing| -> (Vec<String>, Vec<String>) {
            let names = folder.entries.iter().map(|e| e.name.clone()).collect();
            (
                names,
                folder.skipped.into_iter().map(|s| s.source).collect(),
            )
        };
        let one_by_one: Vec<_> = dirs
            .iter()
            .map(|dir| names_and_skips(read_folder(dir, &instance, false)))
            .collect();
        assert_eq!(one_by_one.len(), 13);
        let in_turn = with_listings(dirs.clone(), &instance, false, |listings| {
            listings.map(names_and_skips).collect::<Vec<_>>()
        });
        assert_eq!(in_turn, one_by_one);
        assert_eq!(in_turn[5].0, ["notes.txt", "serial.0.log", "serial.1.log"]);
        // The whole plan: every log, in order, each from its own folder.
        let sources = Sources {
            instances: vec![instance],
            ..Sources::default()
        };
        let plan = plan(&sources, false);
        let files: Vec<String> = plan.files.iter().map(|f| f.path).collect();
        let mut expected: Vec<String> = (0..13)
            .flat_map(|vm| {
                (0..=vm % 4).flat_map(move |log| {
                    [
                        format!("i/lima-vm-{vm:02}/ha.stderr.{log}.log"),
                        format!("i/vm-{vm:02}/serial.{log}.log"),
                    ]
                })
            })
            .collect();
        expected.sort();
        assert_eq!(files, expected);
        for file in plan.files.iter() {
            let folder = file
                .path
                .split('/')
                .nth(1)
                .unwrap()
                .trim_start_matches("lima-");
            assert!(file.source.parent().unwrap().ends_with(folder), "{file:?}");
        }
        let skipped: Vec<&str> = plan.skipped.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(skipped.len(), 14, "{skipped:?}");
        assert!(skipped.iter().any(|s| s.ends_with("_config")));
        assert_eq!(plan.listed.len(), 2 + 13 * 2);
    }

    #[test]
    fn a_second_file_for_one_archive_path_is_renamed_and_the_order_kept() {
        let root = tempfile::tempdir().unwrap();
        let (log_dir, lima_home) = (root.path().join("logs"), root.path().join("lima"));
        // A preserved VM named `lima-x` and VM `x` still in the Lima home.
        write(&log_dir.join("lima-x/ha.stderr.log"));
        write(&log_dir.join("lima-x/ha.stderr~2.log"));
        write(&lima_home.join("x/ha.stderr.log"));
        write(&lima_home.join("x/serial.log"));
        write(&log_dir.join("rdd.stderr.log"));
        let sources = Sources {
            instances: vec![Instance {
                name: "i".into(),
                log_dir: Some(log_dir.clone()),
                lima_home: Some(lima_home.clone()),
            }],
            ..Sources::default()
        };
        let mut plan = plan(&sources, false);
        let files: Vec<(String, PathBuf, Kind)> = plan
            .files
            .iter()
            .map(|f| (f.path, f.source, f.kind))
            .collect();
        assert_eq!(
            files,
            vec![
                (
                    "i/lima-x/ha.stderr.log".into(),
                    log_dir.join("lima-x/ha.stderr.log"),
                    Kind::Preserved
                ),
                (
                    "i/lima-x/ha.stderr~2.log".into(),
                    log_dir.join("lima-x/ha.stderr~2.log"),
                    Kind::Preserved
                ),
                (
                    "i/lima-x/ha.stderr~3.log".into(),
                    lima_home.join("x/ha.stderr.log"),
                    Kind::Hostagent
                ),
                (
                    "i/lima-x/serial.log".into(),
                    lima_home.join("x/serial.log"),
                    Kind::Serial
                ),
                (
                    "i/rdd.stderr.log".into(),
                    log_dir.join("rdd.stderr.log"),
                    Kind::Service
                ),
            ]
        );
        assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
        assert!(
            plan.problems[0]
                .message
                .ends_with("stored as i/lima-x/ha.stderr~3.log")
        );
        assert_spooling_keeps(&mut plan);
    }

    /// Windows and macOS do not tell `Serial.log` from `serial.log`, nor a
    /// folder `VM` from `vm`: extracted there, one file would overwrite the
    /// other. The second planned is renamed, as for a path taken twice.
    /// (Only where the tree itself can hold both names.)
    #[cfg(not(any(windows, target_os = "macos")))]
    #[test]
    fn paths_that_differ_only_in_case_are_made_unique() {
        let root = tempfile::tempdir().unwrap();
        let log_dir = root.path().join("logs");
        write(&log_dir.join("Serial.log"));
        write(&log_dir.join("serial.log"));
        write(&log_dir.join("VM/ha.stderr.log"));
        write(&log_dir.join("vm/HA.stderr.log"));
        write(&log_dir.join("other.log"));
        let sources = Sources {
            instances: vec![Instance {
                name: "i".into(),
                log_dir: Some(log_dir.clone()),
                lima_home: None,
            }],
            ..Sources::default()
        };
        let mut plan = plan(&sources, false);
        let paths: Vec<String> = plan.files.iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            [
                "i/Serial.log",
                "i/VM/ha.stderr.log",
                "i/other.log",
                "i/serial~2.log",
                "i/vm/HA.stderr~2.log",
            ]
        );
        let messages: Vec<&str> = plan.problems.iter().map(|p| p.message.as_str()).collect();
        let logs = display_path(&log_dir);
        assert_eq!(
            messages,
            [
                format!(
                    "another file ({logs}/Serial.log) already goes to i/Serial.log, which differs from i/serial.log only in case (one file on Windows and macOS); stored as i/serial~2.log"
                ),
                format!(
                    "another file ({logs}/VM/ha.stderr.log) already goes to i/VM/ha.stderr.log, which differs from i/vm/HA.stderr.log only in case (one file on Windows and macOS); stored as i/vm/HA.stderr~2.log"
                ),
            ]
        );
        assert_spooling_keeps(&mut plan);
    }

    /// Two include globs that match one file into one folder plan it once,
    /// with no problem: it is not two files for one path.
    #[test]
    fn a_file_two_globs_match_is_planned_once() {
        let root = tempfile::tempdir().unwrap();
        write(&root.path().join("ci/bats.log"));
        let glob = format!("{}/ci/*", root.path().display());
        let include = Include {
            pattern: glob,
            into: "ci".into(),
        };
        let sources = Sources {
            includes: vec![include.clone(), include],
            ..Sources::default()
        };
        let plan = plan(&sources, false);
        let paths: Vec<String> = plan.files.iter().map(|f| f.path).collect();
        assert_eq!(paths, ["ci/bats.log"]);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    }

    #[cfg(unix)]
    #[test]
    fn include_files_keep_their_folders_and_escaped_names() {
        use std::os::unix::ffi::OsStrExt;
        let root = tempfile::tempdir().unwrap();
        let diag = root.path().join("_diag");
        write(&diag.join("a/b/worker.log"));
        write(
            &diag
                .join("a/b")
                .join(OsStr::from_bytes(b"odd\xffname.3.log")),
        );
        write(&diag.join("top.txt"));
        let sources = Sources {
            includes: vec![Include {
                pattern: format!("{}/**/*", diag.display()),
                into: "extra".into(),
            }],
            ..Sources::default()
        };
        let mut plan = plan(&sources, false);
        let files: Vec<PlannedFile> = plan.files.iter().collect();
        let summary: Vec<(&str, &Path, Option<&str>, Option<u64>)> = files
            .iter()
            .map(|f| {
                (
                    f.path.as_str(),
                    f.source.as_path(),
                    f.log.as_deref(),
                    f.rotation,
                )
            })
            .collect();
        let odd = diag
            .join("a/b")
            .join(OsStr::from_bytes(b"odd\xffname.3.log"));
        assert_eq!(
            summary,
            vec![
                (
                    "extra/a/b/odd%FFname.3.log",
                    odd.as_path(),
                    Some("odd%FFname"),
                    Some(3)
                ),
                (
                    "extra/a/b/worker.log",
                    diag.join("a/b/worker.log").as_path(),
                    Some("worker"),
                    None
                ),
                ("extra/top.txt", diag.join("top.txt").as_path(), None, None),
            ]
        );
        assert!(
            files
                .iter()
                .all(|f| f.kind == Kind::Extra && f.instance.is_none())
        );
        assert_eq!(plan.total_planned_bytes(), Some(12));
        assert_spooling_keeps(&mut plan);
    }

    #[test]
    fn preserved_folder_suffix_is_not_part_of_the_vm_name() {
        assert_eq!(preserved_vm_name("test-vm.2"), "test-vm");
        assert_eq!(preserved_vm_name("test-vm"), "test-vm");
        assert_eq!(preserved_vm_name("test-vm.x"), "test-vm.x");
    }
}
