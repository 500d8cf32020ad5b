//! `dir`: the layout written as a plain folder.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};

pub struct DirWriter {
    root: PathBuf,
    /// The folder the user named, which errors speak of: `root` is a
    /// temporary folder that is gone by the time the error is read.
    output: PathBuf,
}

impl DirWriter {
    /// Write into `root`, a temporary folder that becomes `output` when done.
    pub fn new(root: PathBuf, output: &Path) -> DirWriter {
        DirWriter {
            root,
            output: output.to_path_buf(),
        }
    }
}

impl ArchiveWriter for DirWriter {
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        let path = self.root.join(entry.path);
        let shown = self.output.join(entry.path);
        let shown_parent = shown.parent().unwrap_or(&self.output);
        // The root is a temporary folder: an interruption must not find a
        // folder made under it after its removal.
        let mut file = crate::interrupt::exclusive(|| {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| Error::io("create folder", shown_parent, &e))?;
            }
            File::create_new(&path).map_err(|e| Error::io("create", &shown, &e))
        })?;
        io::copy(data, &mut file).map_err(|e| Error::io("write", &shown, &e))?;
        if let Some(mtime) = entry.mtime {
            let _ = file.set_modified(mtime);
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
