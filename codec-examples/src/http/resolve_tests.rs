//! Tests of path resolution: traversal, symlinks, openat2 and the fallback, odd names.
use super::*;
use std::fs;
use std::os::unix::ffi::OsStringExt;

struct Tree {
    _outer: tempfile::TempDir,
    root: PathBuf,
    roots: [FileRoot; 2],
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
    let roots = [
        FileRoot::open(&root).unwrap(),
        FileRoot::without_openat2(&root).unwrap(),
    ];
    let root = root.canonicalize().unwrap();
    Tree {
        _outer: outer,
        root,
        roots,
    }
}

fn file(t: &Tree, rel: &str) -> Result<PathBuf, Status> {
    Ok(t.root.join(rel))
}

/// Resolves with both strategies and checks they agree: the file's
/// path, or a redirect's `Location` as `Err(Ok(location))`.
fn resolve_or_redirect(t: &Tree, target: &str) -> Result<PathBuf, Result<String, Status>> {
    let each = |root: &FileRoot| {
        let t = Target::parse(target).map_err(Err)?;
        match t.open(root) {
            Ok(Opening::File(o)) => Ok(o.path),
            Ok(Opening::Directory) => Err(Ok(t.directory_location(target))),
            Err(s) => Err(Err(s)),
        }
    };
    let (a, b) = (each(&t.roots[0]), each(&t.roots[1]));
    assert_eq!(a, b, "openat2 and O_NOFOLLOW disagree on {target}");
    a
}

/// As [`resolve_or_redirect`], for targets that must not redirect.
fn resolve(t: &Tree, target: &str) -> Result<PathBuf, Status> {
    resolve_or_redirect(t, target).map_err(|e| match e {
        Ok(loc) => panic!("{target} redirects to {loc}"),
        Err(s) => s,
    })
}

#[test]
fn files_and_directory_indexes_resolve() {
    let t = tree();
    assert_eq!(resolve(&t, "/a.txt"), file(&t, "a.txt"));
    assert_eq!(resolve(&t, "/a.txt?v=1#x"), file(&t, "a.txt"));
    assert_eq!(resolve(&t, "/./sub/"), file(&t, "sub/index.html"));
    assert_eq!(resolve(&t, "/with%20space.txt"), file(&t, "with space.txt"));
    assert_eq!(resolve(&t, "//a.txt"), file(&t, "a.txt"));
    assert_eq!(resolve(&t, "http://h/a.txt"), file(&t, "a.txt"));
    assert_eq!(resolve(&t, "/alias"), file(&t, "a.txt"), "symlink inside");
}

#[test]
fn a_directory_without_its_slash_redirects_to_the_normalized_path() {
    let t = tree();
    for (target, location) in [
        ("/sub", "/sub/"),
        ("/sub?a=1&b=%20#frag", "/sub/?a=1&b=%20"),
        ("//sub", "/sub/"),
        ("/./sub", "/sub/"),
        ("/sub/empty", "/sub/empty/"),
        ("/su%62", "/sub/"),
        ("http://h/sub", "/sub/"),
    ] {
        assert_eq!(
            resolve_or_redirect(&t, target),
            Err(Ok(location.to_owned())),
            "{target}"
        );
    }
    fs::create_dir(t.root.join("a b%")).unwrap();
    assert_eq!(
        resolve_or_redirect(&t, "/a%20b%25"),
        Err(Ok("/a%20b%25/".to_owned()))
    );
}

#[test]
fn missing_files_and_index_less_directories_are_404() {
    let t = tree();
    for target in ["/nope", "/sub/empty/", "/a.txt/x", "/a.txt/", "/"] {
        assert_eq!(resolve(&t, target), Err(Status::NotFound), "{target}");
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
        assert_eq!(resolve(&t, target), Err(Status::Forbidden), "{target}");
    }
    // An absolute path inside the target stays under the root.
    let abs = format!("/{}", t.root.parent().unwrap().join("secret.txt").display());
    assert_eq!(resolve(&t, &abs), Err(Status::NotFound));
}

#[test]
fn openat2_is_used_where_the_kernel_has_it() {
    let t = tree();
    // Linux 5.6+ has it; say so in the test output either way.
    println!("openat2 in use: {}", t.roots[0].uses_openat2());
    assert!(!t.roots[1].uses_openat2());
}

#[test]
fn a_symlink_swapped_in_after_the_check_is_not_followed() {
    let t = tree();
    // As if `sub` had been replaced by a symlink to the outside after
    // canonicalization: open the unchecked path directly.
    std::os::unix::fs::symlink(t.root.parent().unwrap(), t.root.join("swapped")).unwrap();
    let raced = t.root.join("swapped/secret.txt");
    if t.roots[0].uses_openat2() {
        assert_eq!(
            open_checked(&t.roots[0], raced).map(|o| o.path),
            Err(Status::Forbidden)
        );
    }
    // The fallback guards only the last component:
    assert_eq!(
        open_checked(&t.roots[1], t.root.join("leak")).map(|o| o.path),
        Err(Status::Forbidden)
    );
}

#[test]
fn a_fifo_is_404_and_opening_it_does_not_block() {
    let t = tree();
    let fifo = std::ffi::CString::new(t.root.join("pipe").into_os_string().into_vec()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    assert_eq!(resolve(&t, "/pipe"), Err(Status::NotFound));
}

#[test]
fn malformed_targets_are_400() {
    let t = tree();
    for target in ["a.txt", "*", "/%zz", "/%2", "/a%00.txt", "ftp://h/a.txt"] {
        assert_eq!(resolve(&t, target), Err(Status::BadRequest), "{target}");
    }
}
