//! The output appears complete or not at all: everything is written under a
//! temporary name beside it and renamed into place at the end.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use tempfile::{TempDir, TempPath};

use crate::archive::{ArchiveWriter, DirWriter, Format, TarWriter, ZipWriter};
use crate::error::{Error, Result};
use crate::interrupt::{self, Remembered};
use crate::manifest::MANIFEST_NAME;
use crate::sanitize::display_path;

/// In the name of an output being written (`.NAME.logkeep-tmp-XXXXXX`),
/// beside where it goes; renamed into place when complete.
pub const TEMPORARY_OUTPUT_MARK: &str = ".logkeep-tmp-";
/// How a `--manifest-out` copy being written is named, beside the copy.
pub const MANIFEST_COPY_PREFIX: &str = ".logkeep-manifest-";

enum Temporary {
    File(TempPath),
    Dir(TempDir),
}

/// An output being written: committed by `commit`, removed if dropped.
pub struct PendingOutput {
    target: PathBuf,
    temporary: Temporary,
    force: bool,
    _on_interrupt: Remembered,
}

impl PendingOutput {
    /// Check the target and create the temporary output and its writer.
    pub fn create(
        target: &Path,
        format: Format,
        level: Option<i32>,
        force: bool,
    ) -> Result<(PendingOutput, Box<dyn ArchiveWriter>)> {
        check_target(target, format, force)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let prefix = format!(
            ".{}{TEMPORARY_OUTPUT_MARK}",
            target
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        // Registered before the temporary exists: a signal at any moment cleans up.
        let on_interrupt = interrupt::remember_prefix(parent, &prefix);
        let builder = {
            let mut b = tempfile::Builder::new();
            b.prefix(&prefix);
            b
        };
        let temp_error = |e: io::Error| {
            Error::io("create a temporary output in", parent, &e)
                .with_hint("the output's folder must exist and be writable")
        };
        let level = format.effective_level(level).unwrap_or_default();
        let archive_file = || {
            builder
                .tempfile_in(parent)
                .map(|t| t.into_parts())
                .map_err(temp_error)
        };
        // Made under the creation lock: an interruption either finds it and
        // removes it, or ends the run before it is made.
        let create = || -> Result<(Temporary, Box<dyn ArchiveWriter>)> {
            Ok(match format {
                Format::Dir => {
                    let dir = builder.tempdir_in(parent).map_err(temp_error)?;
                    let writer = Box::new(DirWriter::new(dir.path().to_path_buf(), target));
                    (Temporary::Dir(dir), writer)
                }
                Format::TarGz => {
                    let (file, path) = archive_file()?;
                    (
                        Temporary::File(path),
                        Box::new(TarWriter::gzip(file, level, target)),
                    )
                }
                Format::TarZst => {
                    let (file, path) = archive_file()?;
                    (
                        Temporary::File(path),
                        Box::new(TarWriter::zstd(file, level, target)?),
                    )
                }
                Format::Zip => {
                    let (file, path) = archive_file()?;
                    (
                        Temporary::File(path),
                        Box::new(ZipWriter::new(file, level, target)),
                    )
                }
            })
        };
        let (temporary, writer) = interrupt::exclusive(create)?;
        Ok((
            PendingOutput {
                target: target.to_path_buf(),
                temporary,
                force,
                _on_interrupt: on_interrupt,
            },
            writer,
        ))
    }

    /// Move the finished output into place.
    pub fn commit(self) -> Result<()> {
        let target = &self.target;
        match self.temporary {
            Temporary::File(path) => {
                set_readable_mode(&path);
                let result = if self.force {
                    path.persist(target)
                } else {
                    path.persist_noclobber(target)
                };
                result.map_err(|e| persist_error(target, &e.error))
            }
            Temporary::Dir(dir) => {
                if self.force && fs::symlink_metadata(target).is_ok() {
                    check_replaceable_dir(target)?;
                    fs::remove_dir_all(target)
                        .map_err(|e| Error::io("remove old output", target, &e))?;
                }
                let path = dir.keep();
                fs::rename(&path, target).map_err(|e| {
                    let _ = fs::remove_dir_all(&path);
                    persist_error(target, &e)
                })
            }
        }
    }
}

fn persist_error(target: &Path, e: &io::Error) -> Error {
    if e.kind() == io::ErrorKind::AlreadyExists {
        exists_error(target)
    } else {
        Error::io("write output", target, e)
    }
}

fn exists_error(target: &Path) -> Error {
    Error::new(format!("output {} already exists", display_path(target)))
        .with_hint("choose another output name, or add --force to replace it")
}

fn check_target(target: &Path, format: Format, force: bool) -> Result<()> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("inspect output", target, &e)),
        Ok(_) if !force => Err(exists_error(target)),
        Ok(meta) if format == Format::Dir => {
            if meta.is_dir() {
                check_replaceable_dir(target)
            } else {
                Err(Error::new(format!(
                    "output {} exists and is not a folder",
                    display_path(target)
                )))
            }
        }
        Ok(meta) if meta.is_dir() => Err(Error::new(format!(
            "output {} is a folder; --force replaces only files",
            display_path(target)
        ))
        .with_hint("name a file such as rdd-logs.tar.gz, or use --format dir")),
        Ok(meta) if meta.is_file() => check_replaceable_file(target),
        // A link is replaced as the link: what it points to stays.
        Ok(meta) if meta.is_symlink() => Ok(()),
        Ok(_) => Err(not_a_file(target, "output")),
    }
}

/// A FIFO, socket or device (or a folder, for a manifest's copy) where an
/// output goes: never an earlier output, and reading a FIFO to find out
/// would wait for a writer.
fn not_a_file(path: &Path, what: &str) -> Error {
    Error::new(format!(
        "{what} {} exists and is not a file (a folder, FIFO, socket or device); --force replaces only an earlier output",
        display_path(path)
    ))
    .with_hint("choose another name, or remove it yourself if it should go")
}

/// `--force` replaces a file only if it can be an earlier output: empty, or
/// an archive (gzip, zstd or zip data). It must never overwrite a log, for
/// one, when the output is named inside a folder being collected.
fn check_replaceable_file(target: &Path) -> Result<()> {
    let mut head = Vec::with_capacity(4);
    File::open(target)
        .and_then(|file| file.take(4).read_to_end(&mut head))
        .map_err(|e| Error::io("read", target, &e))?;
    const ARCHIVES: [&[u8]; 4] = [
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
        b"PK\x03\x04",
        b"PK\x05\x06",
    ];
    if head.is_empty() || ARCHIVES.iter().any(|magic| head.starts_with(magic)) {
        return Ok(());
    }
    Err(Error::new(format!(
        "output {} exists and is not an archive; --force replaces only an earlier output",
        display_path(target)
    ))
    .with_hint("choose another output name (outside the folders being collected), or remove the file yourself if it should go"))
}

/// `--force` replaces a manifest copy (`--manifest-out`) only if it is empty
/// or a logkeep manifest: never a log or any other file named by mistake.
pub fn check_replaceable_manifest(path: &Path) -> Result<()> {
    // (Through a link, as the copy is written.)
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(not_a_file(path, "--manifest-out"));
        }
        _ => {}
    }
    let bytes = match fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", path, &e)),
        Ok(bytes) => bytes,
    };
    let logkeeps =
        serde_json::from_slice::<Listing>(&bytes).is_ok_and(|l| l.tool.name == "logkeep");
    if bytes.is_empty() || logkeeps {
        return Ok(());
    }
    Err(Error::new(format!(
        "--manifest-out {} exists and is not a logkeep manifest; --force replaces only an earlier one",
        display_path(path)
    ))
    .with_hint("name another file for the manifest's copy, such as rdd-logs.manifest.json"))
}

/// `--force` replaces a folder only if it is an earlier logkeep output: it
/// must never wipe a folder the user named by mistake, nor files the user
/// added to an earlier output. So its manifest must be logkeep's, and every
/// file in it must be one the manifest lists.
fn check_replaceable_dir(target: &Path) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::new(format!(
            "output folder {} {why}; not replacing it",
            display_path(target)
        ))
        .with_hint("remove it yourself or choose another output"))
    };
    let manifest_path = target.join(MANIFEST_NAME);
    // Only a regular file is read: a FIFO would wait for a writer.
    if fs::symlink_metadata(&manifest_path).is_ok_and(|m| !m.is_file()) {
        return refuse(format!(
            "holds a {MANIFEST_NAME} that is not a regular file"
        ));
    }
    let listing = match fs::read(&manifest_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return refuse(format!(
                "exists and is not a logkeep output (no {MANIFEST_NAME})"
            ));
        }
        Err(e) => return Err(Error::io("read", &manifest_path, &e)),
        Ok(bytes) => serde_json::from_slice::<Listing>(&bytes).ok(),
    };
    let Some(listing) = listing.filter(|l| l.tool.name == "logkeep") else {
        return refuse(format!(
            "holds a {MANIFEST_NAME} that is not a logkeep manifest"
        ));
    };
    let listed: std::collections::HashSet<String> =
        listing.files.into_iter().map(|f| f.path).collect();
    for entry in walkdir::WalkDir::new(target).min_depth(1) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(target).to_path_buf();
            Error::io("inspect", &path, &io::Error::from(e))
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry.path().strip_prefix(target).unwrap_or(entry.path());
        let name: Vec<_> = relative.iter().map(|c| c.to_string_lossy()).collect();
        let name = name.join("/");
        if name != MANIFEST_NAME && !listed.contains(&name) {
            return refuse(format!(
                "holds {} that its {MANIFEST_NAME} does not list",
                display_path(relative)
            ));
        }
    }
    Ok(())
}

/// What `check_replaceable_dir` reads of a manifest.
#[derive(serde::Deserialize)]
struct Listing {
    tool: ListingTool,
    files: Vec<ListedFile>,
}

#[derive(serde::Deserialize)]
struct ListingTool {
    name: String,
}

#[derive(serde::Deserialize)]
struct ListedFile {
    path: String,
}

/// Temporary files are created 0600; an artifact is meant to be read.
pub(crate) fn set_readable_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = path;
}
