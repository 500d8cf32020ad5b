//! zip: deflate, UTF-8 names, Zip64 for entries past 4 GiB.

use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::{ArchiveWriter, EntryMeta};
use crate::error::{Error, Result};

pub struct ZipWriter {
    zip: zip::ZipWriter<BufWriter<File>>,
    level: i32,
    output: PathBuf,
}

impl ZipWriter {
    pub fn new(file: File, level: i32, output: &Path) -> ZipWriter {
        ZipWriter {
            zip: zip::ZipWriter::new(BufWriter::with_capacity(256 * 1024, file)),
            level,
            output: output.to_path_buf(),
        }
    }
}

fn zip_error(output: &Path, e: zip::result::ZipError) -> Error {
    let io = match e {
        zip::result::ZipError::Io(io) => io,
        other => io::Error::other(other.to_string()),
    };
    Error::io("write to", output, &io)
}

impl ArchiveWriter for ZipWriter {
    fn add_file(&mut self, entry: &EntryMeta<'_>, data: &mut dyn Read) -> Result<()> {
        let mut options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(i64::from(self.level)))
            .unix_permissions(0o644)
            .large_file(entry.size >= u64::from(u32::MAX));
        if let Some(time) = entry.mtime
            && let Ok(datetime) = zip_datetime(time)
        {
            options = options.last_modified_time(datetime);
        }
        self.zip
            .start_file(entry.path, options)
            .map_err(|e| zip_error(&self.output, e))?;
        io::copy(data, &mut self.zip).map_err(|e| Error::io("write to", &self.output, &e))?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let output = self.output;
        let buffered = self.zip.finish().map_err(|e| zip_error(&output, e))?;
        let file = buffered
            .into_inner()
            .map_err(|e| Error::io("finish", &output, e.error()))?;
        file.sync_all()
            .map_err(|e| Error::io("flush to disk", &output, &e))
    }
}

/// Zip stores local time without a zone and only from 1980 on: store UTC.
fn zip_datetime(time: std::time::SystemTime) -> Result<zip::DateTime, ()> {
    let utc = time::OffsetDateTime::from(time);
    zip::DateTime::try_from(time::PrimitiveDateTime::new(utc.date(), utc.time())).map_err(|_| ())
}
