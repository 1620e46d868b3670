//! A file's validators (`ETag`, `Last-Modified`) and a small cache of
//! their formatted text, shared by every connection through the
//! [`FileRoot`](super::FileRoot).

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::date::{format_http_date, unix_secs};

/// The validator pair of a file.
#[derive(Debug)]
pub(crate) struct Validators {
    /// The strong entity tag, quoted.
    pub(crate) etag: String,
    /// The modification time as an IMF-fixdate.
    pub(crate) last_modified: String,
    /// The modification time in whole seconds since the epoch.
    pub(crate) mtime_secs: u64,
}

/// What [`validators`] reads of a file's metadata.
type ValidatorKey = (u64, i64, i64, u64);

/// Entries kept by a [`ValidatorCache`].
const VALIDATOR_SLOTS: usize = 16;

/// The entries of a [`ValidatorCache`] and the one to replace next.
type Slots = (
    [Option<(ValidatorKey, Arc<Validators>)>; VALIDATOR_SLOTS],
    usize,
);

/// The formatted validators of recently served files. Each answer still
/// takes the metadata from `fstat` on the file it opened; the cache only
/// saves formatting the same (inode, mtime, size) into text again, so a
/// file that changes gets new validators at once: its mtime or size is a
/// new key.
#[derive(Debug, Default)]
pub(crate) struct ValidatorCache {
    slots: std::sync::Mutex<Slots>,
}

impl ValidatorCache {
    pub(crate) fn get(&self, meta: &std::fs::Metadata) -> Arc<Validators> {
        let key = (meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.len());
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, v)) = slots.0.iter().flatten().find(|(k, _)| *k == key) {
            return v.clone();
        }
        let v = Arc::new(validators(meta));
        let next = slots.1;
        slots.0[next] = Some((key, v.clone()));
        slots.1 = (next + 1) % VALIDATOR_SLOTS;
        v
    }
}

fn validators(meta: &std::fs::Metadata) -> Validators {
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    let nanos = mtime
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos();
    let mtime_secs = unix_secs(mtime);
    Validators {
        etag: format!(
            "\"{:x}-{mtime_secs:x}.{nanos:x}-{:x}\"",
            meta.ino(),
            meta.len()
        ),
        last_modified: format_http_date(mtime),
        mtime_secs,
    }
}
