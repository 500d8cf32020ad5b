//! SHA-256 of a stream, with its length: what the manifest records and what
//! `verify` and preservation compare.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Read `reader` to its end; its length and lowercase hex SHA-256.
pub fn sha256_hex(reader: &mut dyn Read) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok((len, hex::encode(hasher.finalize()))),
            Ok(n) => {
                hasher.update(&buf[..n]);
                len += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
