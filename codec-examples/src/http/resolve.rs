//! Mapping a request target to a file under the root, and refusing every
//! way out of it.
//!
//! The target is percent-decoded once, split on `/`, and any `..` segment is
//! refused outright (so `%2e%2e` and `%2F..` fare no better than `..`). The
//! joined path is then canonicalized, which resolves symlinks, and must still
//! start with the canonical root: a symlink that points outside is refused.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Status;

/// Where a request target leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A regular file inside the root, by its canonical path.
    File(PathBuf),
    /// The answer is this error status.
    Refused(Status),
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

/// Resolves `target` against `root`, which must already be canonical.
pub(crate) fn resolve(root: &Path, target: &str) -> Resolved {
    match resolve_inner(root, target) {
        Ok(p) => Resolved::File(p),
        Err(s) => Resolved::Refused(s),
    }
}

fn resolve_inner(root: &Path, target: &str) -> Result<PathBuf, Status> {
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
    let canon = inside(root, &joined)?;
    let meta = canon.metadata().map_err(|e| io_status(&e))?;
    let file = if meta.is_dir() {
        inside(root, &canon.join("index.html"))?
    } else {
        canon
    };
    let meta = file.metadata().map_err(|e| io_status(&e))?;
    if meta.is_file() {
        Ok(file)
    } else {
        Err(Status::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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

    fn file(t: &Tree, rel: &str) -> Resolved {
        Resolved::File(t.root.join(rel))
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
            assert_eq!(
                resolve(&t.root, target),
                Resolved::Refused(Status::NotFound),
                "{target}"
            );
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
            assert_eq!(
                resolve(&t.root, target),
                Resolved::Refused(Status::Forbidden),
                "{target}"
            );
        }
        // An absolute path inside the target stays under the root.
        let abs = format!("/{}", t.root.parent().unwrap().join("secret.txt").display());
        assert_eq!(resolve(&t.root, &abs), Resolved::Refused(Status::NotFound));
    }

    #[test]
    fn malformed_targets_are_400() {
        let t = tree();
        for target in ["a.txt", "*", "/%zz", "/%2", "/a%00.txt", "ftp://h/a.txt"] {
            assert_eq!(
                resolve(&t.root, target),
                Resolved::Refused(Status::BadRequest),
                "{target}"
            );
        }
    }
}
