//! Mapping a request target to a file under the root, and refusing every
//! way out of it.
//!
//! The target is percent-decoded once, split on `/`, and any `..` segment is
//! refused outright (so `%2e%2e` and `%2F..` fare no better than `..`). The
//! joined path is then canonicalized, which resolves symlinks, and must still
//! start with the canonical root: a symlink that points outside is refused.

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::Status;

/// A file opened for an answer: the handle, its metadata (from `fstat` on
/// the handle) and its canonical path.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) meta: Metadata,
    pub(crate) path: PathBuf,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s`; `None` if an escape is malformed.
pub(crate) fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The path part of a request target in origin form (`/a/b?q`) or absolute
/// form (`http://host/a/b?q`), without query or fragment.
fn path_of(target: &str) -> Option<&str> {
    let rest = if target.starts_with('/') {
        target
    } else {
        let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
        let after = if lower.starts_with("http://") {
            &target[7..]
        } else if lower.starts_with("https://") {
            &target[8..]
        } else {
            return None;
        };
        let slash = after.find('/')?;
        &after[slash..]
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn io_status(e: &io::Error) -> Status {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Status::Forbidden,
        // ELOOP under O_NOFOLLOW: the checked path became a symlink since
        // it was canonicalized. Refuse it rather than follow it.
        _ if e.raw_os_error() == Some(libc::ELOOP) => Status::Forbidden,
        _ => Status::NotFound,
    }
}

/// Canonicalizes `p` and checks it is still under `root` (canonical).
fn inside(root: &Path, p: &Path) -> Result<PathBuf, Status> {
    let canon = p.canonicalize().map_err(|e| io_status(&e))?;
    if canon.starts_with(root) {
        Ok(canon)
    } else {
        Err(Status::Forbidden)
    }
}

/// Opens a canonical path: `O_NOFOLLOW` (it has no symlinks; one that
/// appeared since is refused) and `O_NONBLOCK` (a FIFO must not block the
/// event loop; for regular files it changes nothing).
fn open_checked(path: PathBuf) -> Result<Opened, Status> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| io_status(&e))?;
    let meta = file.metadata().map_err(|e| io_status(&e))?;
    Ok(Opened { file, meta, path })
}

/// Resolves `target` against `root` (canonical) and opens the regular file
/// it names (a directory's `index.html`). The metadata comes from the open
/// handle, so what is checked is what is served.
pub(crate) fn resolve(root: &Path, target: &str) -> Result<Opened, Status> {
    let path = path_of(target).ok_or(Status::BadRequest)?;
    let decoded = percent_decode(path).ok_or(Status::BadRequest)?;
    if decoded.contains(&0) {
        return Err(Status::BadRequest);
    }
    let mut joined = root.to_path_buf();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => return Err(Status::Forbidden),
            seg => joined.push(OsStr::from_bytes(seg)),
        }
    }
    let mut opened = open_checked(inside(root, &joined)?)?;
    if opened.meta.is_dir() {
        opened = open_checked(inside(root, &opened.path.join("index.html"))?)?;
    }
    if opened.meta.is_file() {
        Ok(opened)
    } else {
        Err(Status::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::ffi::OsStringExt;

    struct Tree {
        _outer: tempfile::TempDir,
        root: PathBuf,
    }

    fn tree() -> Tree {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        fs::create_dir_all(root.join("sub/empty")).unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("sub/index.html"), "<p>").unwrap();
        fs::write(root.join("with space.txt"), "s").unwrap();
        fs::write(outer.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("leak")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("alias")).unwrap();
        let root = root.canonicalize().unwrap();
        Tree {
            _outer: outer,
            root,
        }
    }

    fn file(t: &Tree, rel: &str) -> Result<PathBuf, Status> {
        Ok(t.root.join(rel))
    }

    fn resolve(root: &Path, target: &str) -> Result<PathBuf, Status> {
        super::resolve(root, target).map(|o| o.path)
    }

    #[test]
    fn files_and_directory_indexes_resolve() {
        let t = tree();
        assert_eq!(resolve(&t.root, "/a.txt"), file(&t, "a.txt"));
        assert_eq!(resolve(&t.root, "/a.txt?v=1#x"), file(&t, "a.txt"));
        assert_eq!(resolve(&t.root, "/./sub/"), file(&t, "sub/index.html"));
        assert_eq!(resolve(&t.root, "/sub"), file(&t, "sub/index.html"));
        assert_eq!(
            resolve(&t.root, "/with%20space.txt"),
            file(&t, "with space.txt")
        );
        assert_eq!(resolve(&t.root, "//a.txt"), file(&t, "a.txt"));
        assert_eq!(resolve(&t.root, "http://h/a.txt"), file(&t, "a.txt"));
        assert_eq!(
            resolve(&t.root, "/alias"),
            file(&t, "a.txt"),
            "symlink inside"
        );
    }

    #[test]
    fn missing_files_and_index_less_directories_are_404() {
        let t = tree();
        for target in ["/nope", "/sub/empty/", "/a.txt/x", "/"] {
            assert_eq!(resolve(&t.root, target), Err(Status::NotFound), "{target}");
        }
    }

    #[test]
    fn every_way_out_of_the_root_is_refused() {
        let t = tree();
        for target in [
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2fsecret.txt",
            "/sub%2f..%2f..%2fsecret.txt",
            "/leak",
        ] {
            assert_eq!(resolve(&t.root, target), Err(Status::Forbidden), "{target}");
        }
        // An absolute path inside the target stays under the root.
        let abs = format!("/{}", t.root.parent().unwrap().join("secret.txt").display());
        assert_eq!(resolve(&t.root, &abs), Err(Status::NotFound));
    }

    #[test]
    fn a_fifo_is_404_and_opening_it_does_not_block() {
        let t = tree();
        let fifo = std::ffi::CString::new(t.root.join("pipe").into_os_string().into_vec()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        assert_eq!(resolve(&t.root, "/pipe"), Err(Status::NotFound));
    }

    #[test]
    fn malformed_targets_are_400() {
        let t = tree();
        for target in ["a.txt", "*", "/%zz", "/%2", "/a%00.txt", "ftp://h/a.txt"] {
            assert_eq!(
                resolve(&t.root, target),
                Err(Status::BadRequest),
                "{target}"
            );
        }
    }
}
