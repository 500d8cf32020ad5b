//! Read what logkeep wrote: a tar.gz, tar.zst, zip or folder, also when
//! GitHub's artifact download wrapped it in a zip of its own (one archive
//! inside, or the folder's files). Entries are streamed, never unpacked.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::manifest::MANIFEST_NAME;
use crate::sanitize::{display_path, display_str};
use crate::timestamp::Timestamp;
use zip::CompressionMethod;
use zip::result::ZipError;

/// One regular file as it is read: its path in the layout, its size, its bytes.
pub type Visit<'a> = dyn FnMut(&str, u64, &mut dyn Read) -> Result<()> + 'a;

/// What an archive entry is. logkeep writes only files; anything else in an
/// archive did not come from logkeep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Device,
    Other,
}

/// An entry as stored: its raw name, kind, size and modification time.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'n> {
    pub name: &'n str,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime: Option<Timestamp>,
}

/// Every entry with its bytes.
pub type VisitEntry<'a> = dyn FnMut(&Entry<'_>, &mut dyn Read) -> Result<()> + 'a;

/// Call `visit` for every regular file of the logkeep output at `path`.
pub fn for_each_file(path: &Path, visit: &mut Visit<'_>) -> Result<()> {
    for_each_entry(path, &mut |entry, data| match entry.kind {
        EntryKind::File => visit(entry.name, entry.size, data),
        _ => Ok(()),
    })
}

/// Like [`for_each_file`], with each file's modification time.
pub fn for_each_file_entry(path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    for_each_entry(path, &mut |entry, data| match entry.kind {
        EntryKind::File => visit(entry, data),
        _ => Ok(()),
    })
}

/// Call `visit` for every entry of the output at `path`, whatever its kind.
pub fn for_each_entry(path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io("read", path, &e))?;
    if meta.is_dir() {
        let root = output_root(path);
        return visit_dir(&root, &root, visit);
    }
    if !meta.is_file() {
        return Err(Error::new(format!(
            "{} is a pipe or a device, not a file",
            display_path(path)
        ))
        .with_hint(
            "save the archive to a file first: logkeep reads an archive at its end too \
             (a zip's directory, a stream's checksum), which a pipe cannot give",
        ));
    }
    let file = File::open(path).map_err(|e| Error::io("open", path, &e))?;
    visit_file(file, path, visit)
}

/// The entries of the archive open in `file`, named `path` in messages.
fn visit_file(mut file: File, path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    let mut magic = [0u8; 4];
    let n = file
        .read(&mut magic)
        .map_err(|e| Error::io("read", path, &e))?;
    file.rewind().map_err(|e| Error::io("read", path, &e))?;
    match &magic[..n] {
        [0x1f, 0x8b, ..] => {
            let gzip = |file| flate2::read::MultiGzDecoder::new(BufReader::new(file));
            let folder = tar_packed_folder(&mut file, |file| Some(gzip(file)));
            in_folder(folder, visit, |visit| visit_tar(gzip(file), path, visit))
        }
        [0x28, 0xb5, 0x2f, 0xfd] => {
            let zstd = |file| zstd::Decoder::new(file);
            let folder = tar_packed_folder(&mut file, |file| zstd(file).ok());
            let decoder = zstd(file).map_err(|e| Error::io("read zstd stream of", path, &e))?;
            in_folder(folder, visit, |visit| visit_tar(decoder, path, visit))
        }
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => visit_zip(file, path, visit),
        // Not an output of anyone's: what an upload or download cut at its
        // start leaves.
        [] => Err(
            Error::new(format!("{} is empty (0 bytes)", display_path(path)))
                .with_hint("an upload or a download did not finish: download the artifact again"),
        ),
        _ => Err(Error::new(format!(
            "{} is not a logkeep output (tar.gz, tar.zst, zip or folder)",
            display_path(path)
        ))
        .with_hint(
            "name the archive logkeep wrote, or the zip GitHub's artifact download gave you",
        )),
    }
}

/// Where in the folder `path` the output is: the folder itself, or the one
/// folder it holds when only that one has the manifest (a folder output
/// unzipped from an archive that was packed by hand, see [`packed_folder`]).
pub fn output_root(path: &Path) -> PathBuf {
    let root = path.to_path_buf();
    if fs::symlink_metadata(root.join(MANIFEST_NAME)).is_ok() {
        return root;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return root;
    };
    let mut inside = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "__MACOSX");
    match (inside.next(), inside.next()) {
        (Some(only), None)
            if only.file_type().is_ok_and(|t| t.is_dir())
                && fs::symlink_metadata(only.path().join(MANIFEST_NAME))
                    .is_ok_and(|m| m.is_file()) =>
        {
            only.path()
        }
        _ => root,
    }
}

/// The inputs, each folder that holds archives and nothing else replaced by
/// those archives, each an input of its own (said on stderr). That is what
/// `gh run download` gives: a folder per artifact, each holding its archive.
/// Among such folders, one that holds logs (an artifact of logs, or a
/// folder output) is an input too.
pub fn archives_in_folders(inputs: Vec<PathBuf>) -> Vec<PathBuf> {
    const NAMED_INPUTS: usize = 10;
    let mut expanded = Vec::with_capacity(inputs.len());
    for input in inputs {
        let (inside, what) = match archives_in(&input) {
            Some(archives) => (archives, "archives and no logs"),
            None => match artifact_folders(&input) {
                Some(inputs) => (inputs, "a folder per artifact"),
                None => {
                    expanded.push(input);
                    continue;
                }
            },
        };
        // The first few by name: a note, not a listing.
        let mut names: Vec<String> = inside
            .iter()
            .take(NAMED_INPUTS)
            .map(|a| display_path(a.strip_prefix(&input).unwrap_or(a)))
            .collect();
        if inside.len() > NAMED_INPUTS {
            names.push(format!("and {} more", inside.len() - NAMED_INPUTS));
        }
        eprintln!(
            "note: {} holds {what}: each is read as an input ({})",
            display_path(&input),
            names.join(", ")
        );
        expanded.extend(inside);
    }
    expanded
}

/// A folder of artifacts' folders (`gh run download`), when at least one of
/// them holds archives only: those archives, and each other folder, as
/// inputs.
fn artifact_folders(folder: &Path) -> Option<Vec<PathBuf>> {
    // (An output holds its manifest, a file: it is never one.) A folder of
    // logs is told by its first file, before the rest is listed.
    let mut children = Vec::new();
    for entry in fs::read_dir(folder).ok()?.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().ok()?.is_dir() || path.is_dir();
        if !is_dir {
            return None;
        }
        children.push(path);
    }
    children.sort();
    let mut inputs = Vec::new();
    let mut any_archives = false;
    for child in children {
        match archives_in(&child) {
            Some(archives) => {
                any_archives = true;
                inputs.extend(archives);
            }
            None => inputs.push(child),
        }
    }
    any_archives.then_some(inputs)
}

/// The archives a folder holds, when it holds nothing else (no manifest, no
/// log; hidden files aside), in a few levels of folders.
fn archives_in(folder: &Path) -> Option<Vec<PathBuf>> {
    // (An output holds its manifest, not an archive: it is never one.)
    if !fs::metadata(folder).ok()?.is_dir() {
        return None;
    }
    let mut archives = Vec::new();
    // Unsorted, so that a folder of logs is told by its first log, not
    // after its whole listing is read and sorted; the archives are sorted
    // after (as paths: the order of a sorted walk).
    let walk = walkdir::WalkDir::new(folder)
        .max_depth(3)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.ok()?;
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() || !is_archive_name(&entry.file_name().to_string_lossy()) {
            return None;
        }
        archives.push(entry.into_path());
    }
    archives.sort();
    (!archives.is_empty()).then_some(archives)
}

/// The folder an output was packed under when it was packed again by hand
/// (`zip -r logs.zip rdd-logs`, `tar czf logs.tgz rdd-logs notes.txt`,
/// macOS's Compress): `rdd-logs/` when it is the one folder that holds a
/// manifest (`rdd-logs/manifest.json`) and there is none at the top; an
/// empty string when the names start with `./` (`tar czf logs.tgz -C
/// rdd-logs .`) and the manifest is `./manifest.json`. The output is read
/// without that folder; what is beside it keeps its name (`verify` lists it
/// as not in the manifest), and macOS's `__MACOSX/` copies of file
/// attributes are left out.
fn packed_folder<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut all_dotted = true;
    let mut manifest_at_top = false;
    let mut with_manifest: Vec<&str> = Vec::new();
    for raw in names {
        let name = raw.trim_start_matches("./");
        all_dotted &= name.len() != raw.len();
        if name.is_empty() || name.starts_with("__MACOSX/") {
            continue;
        }
        manifest_at_top |= name == MANIFEST_NAME;
        if let Some((top, MANIFEST_NAME)) = name.split_once('/')
            && !with_manifest.contains(&top)
        {
            with_manifest.push(top);
        }
    }
    match (manifest_at_top, with_manifest.as_slice()) {
        (true, _) => all_dotted.then(String::new),
        (false, [folder]) => Some(format!("{folder}/")),
        _ => None,
    }
}

/// The folder a tar was packed under by hand ([`packed_folder`]), read from
/// its names. logkeep's own tars start with a file named without `./`, and
/// are not read twice for it; another's, which starts with a folder or
/// `./`, is.
fn tar_packed_folder<R: Read>(
    file: &mut File,
    decoder: impl Fn(File) -> Option<R>,
) -> Option<String> {
    let names = |file: &File| -> Option<Vec<String>> {
        let mut file = file.try_clone().ok()?;
        file.rewind().ok()?;
        let mut archive = tar::Archive::new(decoder(file)?);
        let mut names = Vec::new();
        for entry in archive.entries().ok()? {
            let entry = entry.ok()?;
            let hand_packed =
                entry.header().entry_type().is_dir() || entry.path_bytes().starts_with(b"./");
            if names.is_empty() && !hand_packed {
                return None;
            }
            names.push(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
        }
        Some(names)
    };
    let folder = names(file).and_then(|names| packed_folder(names.iter().map(String::as_str)));
    file.rewind().ok()?;
    folder
}

/// Read an output through `read`, without the folder it was packed under
/// (see [`packed_folder`]), if any.
fn in_folder(
    folder: Option<String>,
    visit: &mut VisitEntry<'_>,
    read: impl FnOnce(&mut VisitEntry<'_>) -> Result<()>,
) -> Result<()> {
    let Some(folder) = folder else {
        return read(visit);
    };
    read(&mut |entry: &Entry<'_>, data: &mut dyn Read| {
        let name = entry.name.trim_start_matches("./");
        if name.starts_with("__MACOSX/") {
            return Ok(());
        }
        match name.strip_prefix(folder.as_str()) {
            // The folder's own entry.
            Some("") => Ok(()),
            Some(name) => visit(&Entry { name, ..*entry }, data),
            None => visit(entry, data),
        }
    })
}

fn visit_dir(root: &Path, dir: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    let mut entries: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        // A folder inside removed since its parent was listed: nothing of it
        // to read, and the rest goes on.
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir != root => return Ok(()),
        Err(e) => return Err(Error::io("list", dir, &e)),
    };
    entries.sort();
    for path in entries {
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            // Removed since listed (a folder being cleaned up): gone, not damaged.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("inspect", &path, &e)),
        };
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let mtime = meta.modified().ok().and_then(Timestamp::from_system_time);
        if meta.is_dir() {
            visit_dir(root, &path, visit)?;
        } else if meta.is_file() {
            let entry = Entry {
                name: &relative,
                kind: EntryKind::File,
                size: meta.len(),
                mtime,
            };
            // One that cannot be opened fails when read, as a damaged entry
            // of an archive does: a visitor may pass it over and go on.
            match File::open(&path) {
                Ok(mut file) => visit(&entry, &mut file)?,
                Err(e) => visit(&entry, &mut Unopened(Some(e)))?,
            }
        } else {
            let kind = if meta.file_type().is_symlink() {
                EntryKind::Symlink
            } else {
                EntryKind::Other
            };
            let entry = Entry {
                name: &relative,
                kind,
                size: 0,
                mtime,
            };
            visit(&entry, &mut io::empty())?;
        }
    }
    Ok(())
}

/// The bytes of a file that could not be opened: its error, on the first read.
struct Unopened(Option<io::Error>);

impl Read for Unopened {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("the file could not be opened")))
    }
}

fn visit_tar(stream: impl Read, path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    let mut archive = tar::Archive::new(Counted {
        inner: stream,
        count: 0,
    });
    let entries = archive
        .entries()
        .map_err(|e| Error::io("read tar in", path, &e))?;
    // The last entry met, to say where a damaged header is.
    let mut last: Option<String> = None;
    // Where the last entry's data ends, padded to a block.
    let mut data_end = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| match &last {
            Some(last) => Error::new(format!(
                "cannot read the tar header after {} in {}: {}",
                display_str(last),
                display_path(path),
                crate::error::io_reason(&e)
            )),
            None => Error::io("read tar entry in", path, &e),
        })?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                EntryKind::Device
            }
            _ => EntryKind::Other,
        };
        // The name as stored, not cleaned up: `extract` must see what is there.
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let info = Entry {
            name: &name,
            kind,
            size: entry.size(),
            mtime: entry
                .header()
                .mtime()
                .ok()
                .and_then(|secs| i64::try_from(secs).ok())
                .map(|secs| Timestamp(secs.saturating_mul(1_000_000_000))),
        };
        let size = info.size;
        // (As stored: a sparse file's size is that of its data.)
        let stored = entry.header().entry_size().unwrap_or(size);
        data_end = (entry.raw_file_position() + stored).div_ceil(512) * 512;
        visit(
            &info,
            &mut WholeEntry {
                inner: &mut entry,
                size,
                left: size,
            },
        )?;
        last = Some(name);
    }
    // gzip's CRC and zstd's content checksum are checked only when the
    // decoder reaches them, after the tar's end-of-archive blocks: read on
    // to the end, or a damaged byte inside goes unnoticed.
    let mut stream = archive.into_inner();
    // What the tar reader took: up to a block of zeros, or the stream's end.
    let consumed = stream.count;
    let rest = io::copy(&mut stream, &mut io::sink()).map_err(|e| {
        Error::new(format!(
            "{DAMAGED_END} of {}: {}",
            display_path(path),
            crate::error::io_reason(&e)
        ))
    })?;
    // The tar reader takes the stream's end for the archive's: a stream cut
    // where it could end (between two of a tar.gz's gzip members) lacks the
    // blocks of zeros that end a tar. (One is enough: GNU tar reads a tar
    // with a lone zero block.)
    if rest == 0 && consumed < data_end + 512 {
        let after = match &last {
            Some(last) => format!(" after {}", display_str(last)),
            None => String::new(),
        };
        return Err(Error::new(format!(
            "{} ends{after} without the blocks that end a tar",
            display_path(path)
        )));
    }
    Ok(())
}

/// A stream that counts the bytes it yields.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// A tar entry's bytes: the tar reader yields fewer than its size, without
/// an error, when the stream ends inside it (cut where a stream can end).
struct WholeEntry<R> {
    inner: R,
    size: u64,
    left: u64,
}

impl<R: Read> Read for WholeEntry<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the archive ends inside it, after {} of its {} bytes",
                    self.size - self.left,
                    self.size
                ),
            ));
        }
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}

/// Said of a compressed stream whose every entry was read but whose end
/// (the checksum of all its data) does not check: what was read from it may
/// be altered.
const DAMAGED_END: &str = "cannot check the end of the compressed data";

/// Whether `error` says a stream's end does not check (see [`DAMAGED_END`]).
pub fn is_damaged_end(error: &Error) -> bool {
    is_damaged_end_message(&error.message)
}

/// Whether `error` says data read before it may be altered: a stream's end
/// that does not check, or a checksum that failed mid-way (a tar.gz of
/// several gzip members has one CRC per member, so the altered byte may be
/// anywhere in the member before it).
pub fn may_be_altered(error: &Error) -> bool {
    is_damaged_end(error) || error.message.contains("checksum")
}

/// Whether `error` says only a zip's central directory is damaged: every
/// entry was read.
pub fn only_directory_damaged(error: &Error) -> bool {
    only_directory_damaged_message(&error.message)
}

/// [`only_directory_damaged`] of an error's message.
pub fn only_directory_damaged_message(message: &str) -> bool {
    message.contains(crate::zip_recovery::DIRECTORY_ONLY)
}

/// [`is_damaged_end`] of an error's message.
pub fn is_damaged_end_message(message: &str) -> bool {
    message.contains(DAMAGED_END)
}

/// What to do with an input that holds archives instead of logs: GitHub's
/// download of several artifacts is a zip of them (unzip it), a folder of
/// them is read archive by archive, and a tar of them is unpacked first.
/// Each case gets a command that works on it.
pub fn unzip_hint(input: &Path) -> String {
    const INSIDE: &str = "give logkeep the archives inside, one input each";
    let shown = display_path(input);
    if input.is_dir() {
        let inside = display_path(&input.join("*"));
        return format!("if it holds archives, {INSIDE} (`{inside}`)");
    }
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let unpacked = |suffix: &str| {
        let name = input.file_name().unwrap_or_default().to_string_lossy();
        let stem = &name[..name.len() - suffix.len()];
        let stem = if stem.is_empty() { "unpacked" } else { stem };
        display_path(&input.with_file_name(stem))
    };
    if name.ends_with(".zip") {
        format!(
            "if it holds archives, unzip it (`unzip {shown} -d {}`) and {INSIDE}",
            unpacked(".zip")
        )
    } else {
        let suffix = [".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar"]
            .into_iter()
            .find(|suffix| name.ends_with(suffix) && name.len() > suffix.len())
            .unwrap_or("");
        let folder = if suffix.is_empty() {
            let name = input.file_name().unwrap_or_default().to_string_lossy();
            display_path(&input.with_file_name(format!("{name}.d")))
        } else {
            unpacked(suffix)
        };
        format!(
            "if it holds archives, unpack it (`mkdir {folder} && tar -xf {shown} -C {folder}`) and {INSIDE}"
        )
    }
}

/// A zip entry's modification time: the Unix extended timestamp when
/// present, else the DOS time (local time of the packer, read as UTC).
fn zip_mtime<R: Read>(entry: &zip::read::ZipFile<'_, R>) -> Option<Timestamp> {
    let extended = entry.extra_data_fields().find_map(|field| match field {
        zip::extra_fields::ExtraField::ExtendedTimestamp(ts) => ts.mod_time(),
        _ => None,
    });
    if let Some(secs) = extended {
        return Some(Timestamp(i64::from(secs) * 1_000_000_000));
    }
    let dos = entry.last_modified()?;
    crate::zip_recovery::dos_time(dos.datepart(), dos.timepart())
}

/// Refuse a zip whose central directory holds a name twice or a name with a
/// NUL byte. logkeep writes neither; the zip crate keys its index by name,
/// so a second entry of a name would hide the first, and a name cut at its
/// NUL byte (as C code reads it) would be another entry's.
/// `file` is a second handle on the zip's file: rawzip reads at offsets,
/// leaving the zip crate's position alone.
fn check_zip_names(file: File, zip: &zip::ZipArchive<BufReader<File>>, path: &Path) -> Result<()> {
    let refuse = |name: &[u8], why: &str| {
        Error::new(format!(
            "refusing {}: entry \"{}\" {why}",
            display_path(path),
            display_str(&String::from_utf8_lossy(name))
        ))
        .with_hint("logkeep writes each name once and without NUL bytes; this archive was not made by logkeep, or was altered")
    };
    // The names as the central directory stores them.
    let raw_error = |e: rawzip::Error| {
        Error::new(format!(
            "cannot read the central directory of zip {}: {e}",
            display_path(path)
        ))
    };
    let mut buffer = vec![0u8; rawzip::RECOMMENDED_BUFFER_SIZE];
    let raw = rawzip::ZipArchive::from_file(file, &mut buffer).map_err(raw_error)?;
    let mut entries = raw.entries(&mut buffer);
    let mut seen = HashSet::new();
    while let Some(entry) = entries.next_entry().map_err(raw_error)? {
        let name = entry.file_path().as_bytes();
        if name.contains(&0) {
            return Err(refuse(name, "has a NUL byte in its name"));
        }
        if !seen.insert(name.to_vec()) {
            return Err(refuse(name, "appears twice"));
        }
    }
    // The names as the zip crate reads them (an extra field can replace
    // the stored name).
    if let Some(name) = zip.file_names_raw().find(|name| name.contains(&0)) {
        return Err(refuse(name, "has a NUL byte in its name"));
    }
    if zip.has_duplicate_names() {
        return Err(Error::new(format!(
            "refusing {}: two entries have the same name",
            display_path(path)
        ))
        .with_hint(
            "logkeep writes each name once; this archive was not made by logkeep, or was altered",
        ));
    }
    Ok(())
}

/// An error reading the zip `path` (at its entry `entry`, if known).
fn zip_error(path: &Path, e: ZipError, entry: Option<&str>) -> Error {
    let entry = entry.map_or(String::new(), |name| format!("{}: ", display_str(name)));
    let error = Error::new(format!(
        "cannot read zip {}: {entry}{e}",
        display_path(path)
    ));
    match e {
        ZipError::UnsupportedArchive(_)
        | ZipError::CompressionMethodNotSupported(_)
        | ZipError::InvalidPassword => error.with_hint(NOT_LOGKEEPS_ZIP),
        _ => error,
    }
}

fn visit_zip(file: File, path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    let copy = file.try_clone().map_err(|e| Error::io("read", path, &e))?;
    let zip = match zip::ZipArchive::new(BufReader::new(file)) {
        Ok(zip) => zip,
        // Without its central directory (cut short), what the front holds.
        Err(_) => return visit_zip_front(copy, path, visit),
    };
    check_zip_names(copy, &zip, path)?;
    // (A name that cannot be read keeps the zip as it is: the error comes
    // when its entry is read.)
    let names: Option<Vec<_>> = zip.file_names().map(|name| name.ok()).collect();
    let folder = names.and_then(|names| packed_folder(names.iter().map(|name| name.as_ref())));
    if let Some(folder) = folder {
        return in_folder(Some(folder), visit, |visit| {
            visit_zip_entries(zip, path, visit)
        });
    }
    visit_zip_entries(zip, path, visit)
}

/// The entries of a zip whose central directory could be read.
fn visit_zip_entries(
    mut zip: zip::ZipArchive<BufReader<File>>,
    path: &Path,
    visit: &mut VisitEntry<'_>,
) -> Result<()> {
    let zip_error = |e, entry| zip_error(path, e, entry);
    let names: Vec<String> = (0..zip.len())
        .filter_map(|i| {
            zip.by_index(i).ok().and_then(|f| {
                (!f.is_dir())
                    .then(|| f.name().ok().map(|n| n.into_owned()))
                    .flatten()
            })
        })
        .collect();
    // GitHub's download of a single archive: a zip holding just that archive.
    if let [only] = names.as_slice()
        && is_archive_name(only)
    {
        // Spooled to a temporary file, as a zip inside needs to seek. It has
        // no name: nothing is left behind, even when the run is interrupted.
        let mut spool = tempfile::tempfile().map_err(|e| unwrap_error(path, &e, true))?;
        io::copy(
            &mut zip.by_index(0).map_err(|e| zip_error(e, None))?,
            &mut spool,
        )
        .map_err(|e| unwrap_error(path, &e, false))?;
        spool.rewind().map_err(|e| unwrap_error(path, &e, true))?;
        return visit_file(spool, &path.join(only), visit);
    }
    // A zip none of whose entries is where its directory says (the
    // directory's offset is damaged) is read from its front, as if it had
    // no directory. (Opening the first entry tells, in nearly every zip.)
    let damaged_header = |e: &ZipError| matches!(e, ZipError::InvalidArchive(_) | ZipError::Io(_));
    if !zip.is_empty() && (0..zip.len()).all(|i| zip.by_index(i).is_err_and(|e| damaged_header(&e)))
    {
        let file = zip.into_inner().into_inner();
        return visit_zip_front(file, path, visit);
    }
    for i in 0..zip.len() {
        let listed = zip
            .name_for_index(i)
            .and_then(|name| name.ok())
            .map(|name| name.into_owned());
        let mut entry = match zip.by_index(i) {
            Ok(entry) => entry,
            // Its local header is damaged: the entry, named from the central
            // directory, cannot be read, and the entries after it still can.
            Err(e) => {
                // (An encrypted entry, or one compressed in a way logkeep
                // does not read, is not damage: a clear error.)
                if !damaged_header(&e) {
                    return Err(zip_error(e, listed.as_deref()));
                }
                let Some(name) = listed else {
                    return Err(zip_error(e, None));
                };
                let info = Entry {
                    name: &name,
                    kind: match name.ends_with('/') {
                        true => EntryKind::Dir,
                        false => EntryKind::File,
                    },
                    size: 0,
                    mtime: None,
                };
                visit(&info, &mut Unopened(Some(io::Error::other(e.to_string()))))?;
                continue;
            }
        };
        let kind = if entry.is_dir() {
            EntryKind::Dir
        } else if entry.is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::File
        };
        let name = entry.name().map_err(|e| zip_error(e, None))?.into_owned();
        // The zip crate finds out only at the first read, as an I/O error
        // that would be taken for damage.
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(Error::new(format!(
                "cannot read zip {}: {} is compressed with {}, which logkeep does not read",
                display_path(path),
                display_str(&name),
                zip_method_name(entry.compression())
            ))
            .with_hint(NOT_LOGKEEPS_ZIP));
        }
        let info = Entry {
            name: &name,
            kind,
            size: entry.size(),
            mtime: zip_mtime(&entry),
        };
        visit(&info, &mut entry)?;
    }
    Ok(())
}

/// What to do with a zip that is encrypted, or compressed in a way logkeep
/// does not read: not damage, so downloading it again would not help.
const NOT_LOGKEEPS_ZIP: &str = "logkeep writes zips deflated and without a password, so \
     another tool made or changed this one: unpack it with that tool (`unzip` asks for a \
     zip's password; 7-Zip also reads AES, bzip2 and LZMA), then give logkeep the folder";

/// A zip compression method logkeep does not read, by name.
fn zip_method_name(method: CompressionMethod) -> String {
    #[allow(deprecated)] // The zip crate's only way to the number.
    match method {
        CompressionMethod::Unsupported(number) => crate::zip_recovery::method_name(number),
        _ => format!("{method:?}"),
    }
}

/// An error unwrapping the archive inside GitHub's zip `path` into a
/// temporary file: the temporary folder's (where it is, what to do) when it
/// is the file's (`spooling`) or out of room, else the input's.
fn unwrap_error(path: &Path, e: &io::Error, spooling: bool) -> Error {
    if spooling || e.kind() == io::ErrorKind::StorageFull {
        Error::temp_file(&format!("unwrap {}", display_path(path)), e)
    } else {
        Error::io("unwrap", path, e)
    }
}

/// Whether a file of GitHub's zip is named as an archive logkeep reads.
pub fn is_archive_name(name: &str) -> bool {
    [".tar.gz", ".tgz", ".tar.zst", ".tzst", ".zip"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Whether the zip open in `file` has no central directory that can be
/// read: it is then read from its front (see `visit_zip_front`).
pub fn zip_lacks_directory(file: File) -> bool {
    zip::ZipArchive::new(BufReader::new(file)).is_err()
}

/// The entries at the front of a zip without its central directory (see
/// `zip_recovery`). GitHub's download of a single archive is a zip holding
/// that archive alone, which is read as that archive (as far as it could
/// be unpacked). Whether it is alone shows only when the zip goes on: the
/// first file, if an archive, waits in a temporary file until a second file
/// comes (it is then an entry like any other) or the zip ends.
fn visit_zip_front(mut file: File, path: &Path, visit: &mut VisitEntry<'_>) -> Result<()> {
    file.rewind().map_err(|e| Error::io("read", path, &e))?;
    let unwrap_error = |e: io::Error| unwrap_error(path, &e, true);
    // The first file, an archive: its name, size, time and bytes.
    let mut waiting: Option<(String, u64, Option<Timestamp>, File)> = None;
    let mut files = 0u64;
    let front = crate::zip_recovery::visit_local_entries(file, path, &mut |entry, data| {
        if entry.kind != EntryKind::File {
            return visit(entry, data);
        }
        files += 1;
        if let Some((name, size, mtime, mut spool)) = waiting.take() {
            spool.rewind().map_err(unwrap_error)?;
            let first = Entry {
                name: &name,
                kind: EntryKind::File,
                size,
                mtime,
            };
            visit(&first, &mut spool)?;
        }
        let archive = is_archive_name(entry.name);
        if files > 1 || !archive {
            return visit(entry, data);
        }
        let mut spool = tempfile::tempfile().map_err(unwrap_error)?;
        // As much as can be unpacked (the archive inside says where it
        // ends); a failure to write it here is this machine's.
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            match data.read(&mut buffer) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(0) | Err(_) => break,
                Ok(n) => io::Write::write_all(&mut spool, &buffer[..n]).map_err(unwrap_error)?,
            }
        }
        waiting = Some((entry.name.to_string(), entry.size, entry.mtime, spool));
        Ok(())
    });
    match waiting {
        Some((name, _, _, mut spool)) => {
            spool.rewind().map_err(unwrap_error)?;
            visit_file(spool, &path.join(name), visit).and(front)
        }
        None => front,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file or folder removed while the folder is read (after it was
    /// listed) is passed over: what comes after it is still read.
    #[test]
    fn a_folder_read_goes_on_past_what_was_removed_since_listed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.log"), "a\n").unwrap();
        fs::write(dir.path().join("b.log"), "b\n").unwrap();
        fs::create_dir(dir.path().join("c")).unwrap();
        fs::write(dir.path().join("c/x.log"), "x\n").unwrap();
        fs::write(dir.path().join("d.log"), "d\n").unwrap();
        let mut seen = Vec::new();
        for_each_entry(dir.path(), &mut |entry, _| {
            if entry.name == "a.log" {
                fs::remove_file(dir.path().join("b.log")).unwrap();
                fs::remove_dir_all(dir.path().join("c")).unwrap();
            }
            seen.push(entry.name.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["a.log", "d.log"]);
    }
}
