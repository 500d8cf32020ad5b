//! File-system primitives that a live, hostile log tree needs: a rename that
//! never replaces, an open that never blocks or follows a link, a private mkdir.

use std::fs::{self, File};
use std::io;
use std::path::Path;

/// Rename `from` to `to`, failing with `AlreadyExists` instead of replacing `to`.
/// Two rotators running at once must never overwrite each other's backup.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        match linux_renameat2_noreplace(from, to) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                // The file system does not know RENAME_NOREPLACE: fall back below.
            }
            other => return other,
        }
    }
    // Windows renames without replacing natively. A hard link would not do
    // there: a log held open without FILE_SHARE_DELETE (any Go program, QEMU)
    // can be linked but neither it nor the new link can then be removed, which
    // would leave a stray backup behind every failed rotation.
    #[cfg(windows)]
    {
        windows_move_noreplace(from, to)
    }
    #[cfg(not(windows))]
    {
        link_then_unlink(from, to)
    }
}

#[cfg(not(windows))]
fn link_then_unlink(from: &Path, to: &Path) -> io::Result<()> {
    // A hard link fails when `to` exists, so it is the portable no-replace rename.
    // Where hard links are not supported, check then rename: racy, but the best left.
    match fs::hard_link(from, to) {
        Ok(()) => match fs::remove_file(from) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = fs::remove_file(to);
                Err(e)
            }
        },
        Err(e)
            if e.kind() == io::ErrorKind::AlreadyExists || e.kind() == io::ErrorKind::NotFound =>
        {
            Err(e)
        }
        Err(_) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            fs::rename(from, to)
        }
    }
}

/// `MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`: fails with
/// `AlreadyExists` when `to` exists, and with a sharing violation, touching
/// nothing, when another process holds `from` without FILE_SHARE_DELETE.
#[cfg(windows)]
fn windows_move_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::MoveFileExW;
    let wide = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
    let (from, to) = (wide(from), wide(to));
    // SAFETY: both are valid NUL-terminated UTF-16 strings that outlive the call.
    if unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), 0) } != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(target_os = "linux")]
fn linux_renameat2_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Open a file for reading without following a final symbolic link and without
/// blocking on a FIFO; fails with `InvalidInput` when what was opened is not a
/// regular file (it may have been replaced since it was listed).
pub fn open_regular(path: &Path) -> io::Result<File> {
    open_regular_with_metadata(path).map(|(file, _)| file)
}

/// `open_regular`, and the metadata it checked (one `fstat` less per file).
pub fn open_regular_with_metadata(path: &Path) -> io::Result<(File, fs::Metadata)> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    regular_with_metadata(options.open(path)?)
}

/// The file and its metadata if it is a regular file.
fn regular_with_metadata(file: File) -> io::Result<(File, fs::Metadata)> {
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok((file, metadata))
}

/// Opens files one after another, most of them in the folder of the one
/// before, as `open_regular_with_metadata` does. On Unix each is opened
/// relative to its open folder: a lookup of its whole path would cost as
/// much again as the open itself with thousands of small logs.
#[derive(Default)]
pub struct Opener {
    #[cfg(unix)]
    folder: Option<(std::path::PathBuf, std::os::fd::OwnedFd)>,
}

impl Opener {
    /// The regular file at `path` and its metadata, without blocking on a
    /// FIFO or following a final symbolic link.
    pub fn open_regular_with_metadata(&mut self, path: &Path) -> io::Result<(File, fs::Metadata)> {
        #[cfg(unix)]
        if let (Some(folder), Some(name)) = (path.parent(), path.file_name()) {
            use rustix::fs::{Mode, OFlags};
            // A bare file name is in the current folder.
            let folder = match folder.as_os_str().is_empty() {
                true => Path::new("."),
                false => folder,
            };
            if self.folder.as_ref().is_none_or(|(open, _)| open != folder) {
                #[cfg(target_os = "linux")]
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                // Not blocking should the folder have become a FIFO since
                // it was listed.
                #[cfg(not(target_os = "linux"))]
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK;
                self.folder = rustix::fs::open(folder, flags, Mode::empty())
                    .ok()
                    .map(|fd| (folder.to_path_buf(), fd));
            }
            // A folder that cannot be opened: the whole path's open below
            // says why.
            if let Some((_, fd)) = &self.folder {
                let flags = OFlags::RDONLY
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY
                    | OFlags::CLOEXEC;
                let file = File::from(rustix::fs::openat(fd, name, flags, Mode::empty())?);
                return regular_with_metadata(file);
            }
        }
        open_regular_with_metadata(path)
    }
}

/// Create one folder, private to the user (mode 0700 on Unix), failing with
/// `AlreadyExists` if it is there: mkdir is atomic, so two callers never share it.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().mode(0o700).create(path)
    }
    #[cfg(not(unix))]
    fs::DirBuilder::new().create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_noreplace_refuses_an_existing_target_and_keeps_both() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "a").unwrap();
        fs::write(&b, "b").unwrap();
        let err = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&a).unwrap(), "a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "b");
        fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read_to_string(&b).unwrap(), "a");
    }

    #[test]
    fn an_opener_opens_each_file_in_its_own_folder_and_follows_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("x.log"), "12345").unwrap();
        fs::write(a.join("y.log"), "123").unwrap();
        fs::write(b.join("x.log"), "1").unwrap();
        let mut opener = Opener::default();
        let mut read = |path: &Path| -> io::Result<String> {
            let (mut file, metadata) = opener.open_regular_with_metadata(path)?;
            let mut text = String::new();
            io::Read::read_to_string(&mut file, &mut text)?;
            assert_eq!(metadata.len(), text.len() as u64);
            Ok(text)
        };
        assert_eq!(read(&a.join("x.log")).unwrap(), "12345");
        assert_eq!(read(&a.join("y.log")).unwrap(), "123");
        // Same name, another folder: not the open folder's file.
        assert_eq!(read(&b.join("x.log")).unwrap(), "1");
        assert_eq!(read(&a.join("x.log")).unwrap(), "12345");
        let kind = |e: io::Error| e.kind();
        assert_eq!(
            read(&a.join("gone.log")).map_err(kind),
            Err(io::ErrorKind::NotFound)
        );
        let no_folder = dir.path().join("none/x.log");
        assert_eq!(read(&no_folder).map_err(kind), Err(io::ErrorKind::NotFound));
        #[cfg(unix)]
        {
            // Not a regular file: a folder (which Windows refuses to open).
            assert_eq!(read(&b).map_err(kind), Err(io::ErrorKind::InvalidInput));
            std::os::unix::fs::symlink(a.join("x.log"), b.join("link.log")).unwrap();
            assert!(read(&b.join("link.log")).is_err(), "followed a link");
            let fifo = b.join("fifo.log");
            let status = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap();
            assert!(status.success());
            assert_eq!(read(&fifo).map_err(kind), Err(io::ErrorKind::InvalidInput));
        }
    }

    /// A log held open the way Go and QEMU open files on Windows (no
    /// FILE_SHARE_DELETE) cannot be renamed: the rename fails and leaves
    /// nothing at the target, so no stray backup is made.
    #[cfg(windows)]
    #[test]
    fn rename_noreplace_of_a_held_file_fails_and_leaves_no_target() {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_SHARE_READ: u32 = 1;
        const FILE_SHARE_WRITE: u32 = 2;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("rdd.stderr.log"),
            dir.path().join("rdd.stderr.1.log"),
        );
        fs::write(&a, "held").unwrap();
        let held = fs::OpenOptions::new()
            .append(true)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
            .open(&a)
            .unwrap();
        assert!(rename_noreplace(&a, &b).is_err());
        assert!(fs::symlink_metadata(&b).is_err(), "no backup left behind");
        drop(held);
        rename_noreplace(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(&b).unwrap(), "held");
        assert!(fs::symlink_metadata(&a).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn open_regular_neither_blocks_on_a_fifo_nor_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.log");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            open_regular(&fifo).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(open_regular(&link).is_err());
    }
}
