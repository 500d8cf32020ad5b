//! The writers of one plan: a tar.gz, a tar.zst, a zip, or a plain folder.
//! Each takes entries in order and never sees where they came from.

mod dir;
mod parallel;
mod tar;
mod writeback;
mod zip;

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::time::SystemTime;

use crate::error::Result;

pub use dir::DirWriter;
pub use tar::TarWriter;
pub use zip::ZipWriter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    TarZst,
    Zip,
    Dir,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::TarGz, Format::TarZst, Format::Zip, Format::Dir];

    pub fn name(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::TarZst => "tar.zst",
            Format::Zip => "zip",
            Format::Dir => "dir",
        }
    }

    /// The format an output name asks for by its extension.
    pub fn from_output_name(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Format::TarGz)
        } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Some(Format::TarZst)
        } else if name.ends_with(".zip") {
            Some(Format::Zip)
        } else {
            None
        }
    }

    /// The level to use: the one given, or this format's default.
    pub fn effective_level(self, level: Option<i32>) -> Option<i32> {
        level.or(self.level_range().map(|(default, _)| default))
    }

    /// The compression level used when none is given, and the valid range.
    pub fn level_range(self) -> Option<(i32, std::ops::RangeInclusive<i32>)> {
        match self {
            Format::TarGz | Format::Zip => Some((6, 1..=9)),
            Format::TarZst => Some((3, 1..=19)),
            Format::Dir => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format {s:?}: use tar.gz, tar.zst, zip or dir"))
    }
}

/// How much of an entry's data the tar writer asks for at a time, and the
/// size of gzip's and zip's compression blocks (zip reads one block at a
/// time). Readers that check their data in blocks use the same size, so a
/// block is read straight into the writer's buffer.
pub const READ_SIZE: usize = parallel::BLOCK_SIZE;

/// A buffer of `READ_SIZE` bytes that starts on a page: the kernel copies a
/// file's data into it faster than into what `malloc` gives for a buffer
/// this large (a mapping 16 bytes past a page's start). On 1 GiB to
/// tar.zst, the kernel's copy went from 6.4-6.8% to 5.3-5.6% of the samples.
pub struct ReadBuffer {
    bytes: Vec<u8>,
    start: usize,
}

/// What read buffers are aligned to.
pub const PAGE: usize = 4096;

impl ReadBuffer {
    pub fn new() -> ReadBuffer {
        let bytes = vec![0; READ_SIZE + PAGE];
        let start = to_page(&bytes);
        ReadBuffer { bytes, start }
    }
}

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer::new()
    }
}

impl std::ops::Deref for ReadBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[self.start..self.start + READ_SIZE]
    }
}

impl std::ops::DerefMut for ReadBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + READ_SIZE]
    }
}

/// How far into `bytes` the next page starts, within a page (0 should the
/// platform not say: the buffer is then only slower).
pub fn to_page(bytes: &[u8]) -> usize {
    Some(bytes.as_ptr().align_offset(PAGE))
        .filter(|&offset| offset < PAGE)
        .unwrap_or(0)
}

/// What a writer needs to know of a file besides its bytes.
#[derive(Debug, Clone)]
pub struct EntryMeta<'a> {
    /// Relative, `/`-separated, checked by the planner.
    pub path: &'a str,
    /// Exactly the number of bytes `data` yields.
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

impl EntryMeta<'_> {
    /// The data ended after `yielded` bytes, short of `size`. The callers
    /// yield exactly the size they give; a short entry would not match its
    /// header (and in a tar, shift every later one), so the writer stops.
    pub fn ended_early(&self, yielded: u64) -> std::io::Error {
        std::io::Error::other(format!(
            "{} yielded {yielded} of its {} bytes",
            self.path, self.size
        ))
    }
}

pub trait ArchiveWriter {
    /// Add one regular file; `data` yields exactly `entry.size` bytes.
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()>;
    /// Add one regular file held in memory (`entry.size` is its length).
    fn add_bytes(&mut self, entry: &EntryMeta<'_>, mut data: &[u8]) -> Result<()> {
        self.add_file(entry, &mut data)
    }
    /// Add the manifest, the last entry: JSON with a random SHA-256 per
    /// file, which some compressors take better with other settings.
    fn add_manifest(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        self.add_file(entry, data)
    }
    /// Write the end of the archive and flush it to disk.
    fn finish(self: Box<Self>) -> Result<()>;
}
