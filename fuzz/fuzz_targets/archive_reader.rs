//! Any bytes as an output to read: tar.gz, tar.zst, zip (also a zip around
//! an archive, as GitHub's download gives it). Reading must never panic,
//! hang or take unbounded memory; errors are fine.
#![no_main]

use std::io::{Read, Write};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("a temp file");
    file.write_all(data).expect("write the input");
    let _ = logkeep::reader::for_each_entry(file.path(), &mut |entry, reader| {
        // Read a bounded amount: a bomb is extract's job to refuse, not ours here.
        let mut sink = Vec::new();
        let _ = reader.take(1 << 20).read_to_end(&mut sink);
        let _ = (entry.name.len(), entry.size, entry.mtime);
        Ok(())
    });
});
