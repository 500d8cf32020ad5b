//! `dir`: the layout written as a plain folder.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::PathBuf;

use super::{ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};

pub struct DirWriter {
    root: PathBuf,
}

impl DirWriter {
    pub fn new(root: PathBuf) -> DirWriter {
        DirWriter { root }
    }
}

impl ArchiveWriter for DirWriter {
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        let path = self.root.join(entry.path);
        // The root is a temporary folder: an interruption must not find a
        // folder made under it after its removal.
        let mut file = crate::interrupt::exclusive(|| {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, &e))?;
            }
            File::create_new(&path).map_err(|e| Error::io("create", &path, &e))
        })?;
        io::copy(data, &mut file).map_err(|e| Error::io("write", &path, &e))?;
        if let Some(mtime) = entry.mtime {
            let _ = file.set_modified(mtime);
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
