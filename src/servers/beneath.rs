//! Opening a file below a root directory so that nothing swapped in after
//! the path was checked can lead outside it (issue 17).
//!
//! A path is checked, then opened; a symbolic link swapped in between the
//! two must not lead the open outside. So [`open_beneath`] opens the
//! checked, link-free path relative to a descriptor of the root and
//! follows no link on the way: with `openat2` and `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS` where the kernel has it (Linux 5.6+), else one
//! `openat` with `O_NOFOLLOW` per component. A link that appeared since the
//! check makes the open fail instead of escaping. The opened descriptor is
//! then checked (`fstat`), not the path: only a regular file is read, so a
//! FIFO or a device inside the root can neither hang a thread nor stream
//! forever. The resources and roots servers open their files this way.
//!
//! The system calls come through `rustix`: safe wrappers of `openat2` and
//! `openat` with typed flags and errors, where `libc` would need `unsafe`
//! raw syscalls and a hand-declared `open_how`.

use std::fmt;
use std::fs::File;
use std::path::{Component, Path};
use std::time::Duration;

/// How long one file read may take before the request gets an error (a
/// file on a stalled network or FUSE mount). The blocking thread doing it
/// is left to finish on its own.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a file could not be opened below its root.
#[derive(Debug)]
pub enum OpenError {
    /// What was opened is not a regular file; says what it is ("a FIFO
    /// (named pipe)").
    NotRegular(&'static str),
    /// A symbolic link appeared on the checked path before it was opened,
    /// or the path left the root.
    Moved,
    /// The operating system refused.
    Io(std::io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NotRegular(what) => write!(
                f,
                "it is {what}, not a regular file; only regular files are read"
            ),
            OpenError::Moved => f.write_str(
                "a symbolic link appeared on its path while it was being opened; \
                 refusing to follow it",
            ),
            OpenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// What a file type is, in words, when it is not a regular file.
fn not_regular(kind: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    if kind.is_dir() {
        return Some("a directory");
    }
    if kind.is_symlink() {
        return Some("a symbolic link");
    }
    (!kind.is_file()).then_some("not a regular file")
}

/// Opens `rel` (relative, without `..` or links: a checked, canonical
/// path) below the directory `root` for reading, following no symbolic
/// link, and refuses anything but a regular file (checked on the opened
/// descriptor). A FIFO is opened without blocking, so refusing it cannot
/// hang. See the module docs.
pub fn open_beneath(root: &Path, rel: &Path) -> Result<File, OpenError> {
    let file = open_no_links(root, rel)?;
    let kind = file.metadata().map_err(OpenError::Io)?.file_type();
    match not_regular(kind) {
        Some(what) => Err(OpenError::NotRegular(what)),
        None => Ok(file),
    }
}

#[cfg(unix)]
fn open_no_links(root: &Path, rel: &Path) -> Result<File, OpenError> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    use rustix::io::Errno;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::CurDir => {}
            _ => return Err(OpenError::Moved),
        }
    }
    let io = |e: Errno| match e {
        // O_NOFOLLOW on a link, RESOLVE_NO_SYMLINKS, or RESOLVE_BENEATH
        // refusing an escape.
        Errno::LOOP | Errno::XDEV => OpenError::Moved,
        e => OpenError::Io(e.into()),
    };
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root_fd = openat(CWD, root, dir_flags, Mode::empty()).map_err(io)?;
    // NONBLOCK: opening a FIFO must not wait for a writer (it is refused
    // right after); it changes nothing for a regular file.
    let file_flags =
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let Some((last, dirs)) = parts.split_last() else {
        // The root itself: a directory, refused by the caller's check.
        return Ok(File::from(root_fd));
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{openat2, ResolveFlags};
        use std::sync::atomic::{AtomicBool, Ordering};
        /// Cleared when the kernel (or a seccomp filter) lacks openat2.
        static HAS_OPENAT2: AtomicBool = AtomicBool::new(true);
        if HAS_OPENAT2.load(Ordering::Relaxed) {
            let resolve =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match openat2(&root_fd, rel, file_flags, Mode::empty(), resolve) {
                Err(Errno::NOSYS) => HAS_OPENAT2.store(false, Ordering::Relaxed),
                other => return other.map(File::from).map_err(io),
            }
        }
    }
    let mut dir = root_fd;
    for part in dirs {
        dir = openat(&dir, *part, dir_flags | OFlags::NOFOLLOW, Mode::empty()).map_err(io)?;
    }
    openat(&dir, *last, file_flags, Mode::empty())
        .map(File::from)
        .map_err(io)
}

#[cfg(not(unix))]
fn open_no_links(root: &Path, rel: &Path) -> Result<File, OpenError> {
    // No descriptor-relative opens here: the checked path is opened as is.
    File::open(root.join(rel)).map_err(OpenError::Io)
}
