//! The key space: values as slices of read buffers, expiry lazily on access
//! plus a bounded sweep. No clock of its own: every call takes `now`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use bytes::Bytes;

use super::stats::Stats;
use super::value::Value;

/// Keys removed at most by one [`Db::sweep`] call, so a sweep never holds
/// the lock for long (Redis' active expiry is bounded likewise).
pub const SWEEP_BATCH: usize = 1000;

/// A stored value and its deadline.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value, as segments of the reads it arrived in.
    pub value: Value,
    /// When the key stops existing, if ever.
    pub expires_at: Option<Instant>,
    /// How redis-server would have encoded this value, for `OBJECT
    /// ENCODING`; it depends on the command that wrote it.
    pub encoding: Encoding,
}

/// How redis-server encodes a string value, which depends on what wrote it
/// (`SET` tries an integer, `APPEND` and `SETRANGE` leave a plain buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// As `SET` leaves it: `int` when it reads as a 64-bit integer of at
    /// most 20 bytes, else `embstr` up to 44 bytes, else `raw`.
    #[default]
    Set,
    /// `embstr` up to 44 bytes, else `raw` (`INCRBYFLOAT`'s result).
    Created,
    /// Always `raw` (after `APPEND` or `SETRANGE` changed it).
    Raw,
}

impl Entry {
    /// The name `OBJECT ENCODING` answers for this value.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_examples::resp::{db::Db, value::Value};
    /// let now = std::time::Instant::now();
    /// let mut db = Db::new();
    /// db.set(Bytes::from_static(b"k"), Value::from(&b"12"[..]), None);
    /// assert_eq!(db.get(b"k", now).unwrap().encoding_name(), "int");
    /// ```
    pub fn encoding_name(&self) -> &'static str {
        let len = self.value.len();
        match self.encoding {
            Encoding::Set if len <= 20 && self.value.to_i64().is_some() => "int",
            Encoding::Set | Encoding::Created if len <= 44 => "embstr",
            _ => "raw",
        }
    }
}

/// An in-memory key space with expiry.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use bytes::Bytes;
/// use weft_examples::resp::{db::Db, value::Value};
///
/// let now = Instant::now();
/// let mut db = Db::new();
/// db.set(Bytes::from_static(b"k"), Value::from(&b"v"[..]), Some(now + Duration::from_secs(1)));
/// assert!(db.get(b"k", now).is_some());
/// assert!(db.get(b"k", now + Duration::from_secs(2)).is_none());
/// assert_eq!(db.len(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Db {
    map: HashMap<Bytes, Entry>,
    /// Deadlines, soonest first. An item whose key has since been removed or
    /// given another deadline is stale and skipped.
    deadlines: BinaryHeap<Reverse<(Instant, Bytes)>>,
    /// Keys some connection `WATCH`es: how many times each was modified
    /// (set, deleted, expired, given a deadline) and how many watchers it
    /// has. Empty unless a transaction watches, so writes pay one
    /// `is_empty` check.
    watched: HashMap<Bytes, (u64, usize)>,
    /// What `INFO` reports about the server.
    pub stats: Stats,
}

impl Db {
    /// An empty key space.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_examples::resp::db::Db::new().is_empty());
    /// ```
    pub fn new() -> Db {
        Db::default()
    }

    /// Number of keys, including expired ones not yet swept (as Redis'
    /// `DBSIZE`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::resp::db::Db::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_examples::resp::db::Db::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live entry under `key`; an expired one is removed on the way.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut db = weft_examples::resp::db::Db::new();
    /// assert!(db.get(b"nope", std::time::Instant::now()).is_none());
    /// ```
    pub fn get(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        let expired = self
            .map
            .get(key)
            .is_some_and(|e| e.expires_at.is_some_and(|t| t <= now));
        if expired {
            self.map.remove(key);
            self.stats.expired_keys += 1;
            self.touch(key);
            return None;
        }
        self.map.get_mut(key)
    }

    /// Like [`get`](Self::get) for an owned key, with one hash of it
    /// instead of two (the entry API needs the key by value; a `Bytes`
    /// clone is a reference count).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_examples::resp::value::Value;
    /// let now = std::time::Instant::now();
    /// let mut db = weft_examples::resp::db::Db::new();
    /// db.set(Bytes::from_static(b"k"), Value::from(&b"v"[..]), None);
    /// assert!(db.get_owned(Bytes::from_static(b"k"), now).is_some());
    /// assert!(db.get_owned(Bytes::from_static(b"x"), now).is_none());
    /// ```
    pub fn get_owned(&mut self, key: Bytes, now: Instant) -> Option<&mut Entry> {
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => {
                if o.get().expires_at.is_some_and(|t| t <= now) {
                    let (key, _) = o.remove_entry();
                    self.stats.expired_keys += 1;
                    touch_watched(&mut self.watched, &key);
                    None
                } else {
                    Some(o.into_mut())
                }
            }
            std::collections::hash_map::Entry::Vacant(_) => None,
        }
    }

    /// Stores `value` under `key` with a deadline (or none), replacing what
    /// was there.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut db = weft_examples::resp::db::Db::new();
    /// db.set(Bytes::from_static(b"k"), weft_examples::resp::value::Value::from(&b"v"[..]), None);
    /// assert_eq!(db.len(), 1);
    /// ```
    pub fn set(&mut self, key: Bytes, value: Value, expires_at: Option<Instant>) {
        if let Some(t) = expires_at {
            self.deadlines.push(Reverse((t, key.clone())));
        }
        self.touch(&key);
        self.map.insert(
            key,
            Entry {
                value,
                expires_at,
                encoding: Encoding::Set,
            },
        );
        self.compact_deadlines();
    }

    /// Changes the deadline of a live key. Returns whether the key exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let mut db = weft_examples::resp::db::Db::new();
    /// assert!(!db.set_expiry(b"k", Some(Instant::now()), Instant::now()));
    /// ```
    pub fn set_expiry(&mut self, key: &[u8], expires_at: Option<Instant>, now: Instant) -> bool {
        let Some(entry) = self.get(key, now) else {
            return false;
        };
        entry.expires_at = expires_at;
        self.touch(key);
        if let Some(t) = expires_at {
            if let Some((k, _)) = self.map.get_key_value(key) {
                let k = k.clone();
                self.deadlines.push(Reverse((t, k)));
            }
        }
        self.compact_deadlines();
        true
    }

    /// Removes `key`; returns whether a live key was removed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut db = weft_examples::resp::db::Db::new();
    /// assert!(!db.remove(b"k", std::time::Instant::now()));
    /// ```
    pub fn remove(&mut self, key: &[u8], now: Instant) -> bool {
        match self.map.remove(key) {
            Some(e) => {
                self.touch(key);
                e.expires_at.map_or(true, |t| t > now)
            }
            None => false,
        }
    }

    /// Records that `key` was modified, for `WATCH`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut db = weft_examples::resp::db::Db::new();
    /// let v = db.watch(Bytes::from_static(b"k"));
    /// db.touch(b"k");
    /// assert_ne!(db.version(b"k"), v);
    /// ```
    pub fn touch(&mut self, key: &[u8]) {
        touch_watched(&mut self.watched, key);
    }

    /// Starts watching `key` (one more watcher); returns its version.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut db = weft_examples::resp::db::Db::new();
    /// let v = db.watch(Bytes::from_static(b"k"));
    /// assert_eq!(db.version(b"k"), v);
    /// db.unwatch(b"k");
    /// ```
    pub fn watch(&mut self, key: Bytes) -> u64 {
        let w = self.watched.entry(key).or_insert((0, 0));
        w.1 += 1;
        w.0
    }

    /// One watcher fewer for `key`; forgotten when none is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// let mut db = weft_examples::resp::db::Db::new();
    /// db.watch(Bytes::from_static(b"k"));
    /// db.unwatch(b"k");
    /// db.unwatch(b"k");
    /// ```
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.1 = w.1.saturating_sub(1);
            if w.1 == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// How many times a watched `key` was modified since it was first
    /// watched (0 for a key nobody watches).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::resp::db::Db::new().version(b"k"), 0);
    /// ```
    pub fn version(&self, key: &[u8]) -> u64 {
        self.watched.get(key).map_or(0, |w| w.0)
    }

    /// Every live key and its entry, in no particular order. O(keys).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use bytes::Bytes;
    /// use weft_examples::resp::{db::Db, value::Value};
    /// let now = Instant::now();
    /// let mut db = Db::new();
    /// db.set(Bytes::from_static(b"a"), Value::default(), None);
    /// db.set(Bytes::from_static(b"b"), Value::default(), Some(now));
    /// let keys: Vec<_> = db.live(now).map(|(k, _)| k.clone()).collect();
    /// assert_eq!(keys, [Bytes::from_static(b"a")]);
    /// ```
    pub fn live(&self, now: Instant) -> impl Iterator<Item = (&Bytes, &Entry)> + '_ {
        self.map
            .iter()
            .filter(move |(_, e)| e.expires_at.map_or(true, |t| t > now))
    }

    /// Removes every key.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut db = weft_examples::resp::db::Db::new();
    /// db.clear();
    /// assert!(db.is_empty());
    /// ```
    pub fn clear(&mut self) {
        let watched: Vec<Bytes> = self
            .watched
            .keys()
            .filter(|k| self.map.contains_key(*k))
            .cloned()
            .collect();
        for k in watched {
            self.touch(&k);
        }
        self.map.clear();
        self.deadlines.clear();
    }

    /// Removes up to `max` keys whose deadline has passed, soonest first,
    /// and returns how many were removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use bytes::Bytes;
    /// let now = Instant::now();
    /// let mut db = weft_examples::resp::db::Db::new();
    /// db.set(Bytes::from_static(b"k"), weft_examples::resp::value::Value::default(), Some(now));
    /// assert_eq!(db.sweep(now, 10), 1);
    /// assert!(db.is_empty());
    /// ```
    pub fn sweep(&mut self, now: Instant, max: usize) -> usize {
        let mut removed = 0;
        let mut looked = 0;
        // Stale heap items cost a look each; bound those too.
        while removed < max && looked < max.saturating_mul(4) {
            let Some(Reverse((t, _))) = self.deadlines.peek() else {
                break;
            };
            if *t > now {
                break;
            }
            let Some(Reverse((t, key))) = self.deadlines.pop() else {
                break;
            };
            looked += 1;
            let current = self.map.get(&key).and_then(|e| e.expires_at);
            if current == Some(t) {
                self.map.remove(&key);
                self.stats.expired_keys += 1;
                self.touch(&key);
                removed += 1;
            }
        }
        removed
    }

    /// Rebuilds the deadline heap when stale items outnumber live keys, so
    /// keys that are re-set with new deadlines cannot grow it without bound.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() > 2 * self.map.len() + 1024 {
            self.deadlines = self
                .map
                .iter()
                .filter_map(|(k, e)| e.expires_at.map(|t| Reverse((t, k.clone()))))
                .collect();
        }
    }
}

/// [`Db::touch`] on the watched map alone, for where the key map is
/// borrowed at the same time.
fn touch_watched(watched: &mut HashMap<Bytes, (u64, usize)>, key: &[u8]) {
    if watched.is_empty() {
        return;
    }
    if let Some((version, _)) = watched.get_mut(key) {
        *version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v(s: &'static [u8]) -> Value {
        Value::from(s)
    }

    #[test]
    fn sweep_is_bounded_and_removes_only_expired_keys() {
        let now = Instant::now();
        let mut db = Db::new();
        for i in 0..2500u32 {
            let key = Bytes::from(i.to_string());
            let dl = if i % 2 == 0 {
                now
            } else {
                now + Duration::from_secs(60)
            };
            db.set(key, v(b"x"), Some(dl));
        }
        db.set(Bytes::from_static(b"forever"), v(b"x"), None);
        assert_eq!(db.sweep(now, SWEEP_BATCH), 1000);
        assert_eq!(db.sweep(now, SWEEP_BATCH), 250);
        assert_eq!(db.sweep(now, SWEEP_BATCH), 0);
        assert_eq!(db.len(), 1251);
    }

    #[test]
    fn a_key_given_a_later_deadline_is_not_swept_by_the_old_one() {
        let now = Instant::now();
        let mut db = Db::new();
        db.set(Bytes::from_static(b"k"), v(b"1"), Some(now));
        db.set_expiry(
            b"k",
            Some(now + Duration::from_secs(5)),
            now - Duration::from_secs(1),
        );
        assert_eq!(db.sweep(now, 10), 0);
        assert!(db.get(b"k", now).is_some());
        db.set(Bytes::from_static(b"k"), v(b"2"), None);
        assert_eq!(db.sweep(now + Duration::from_secs(10), 10), 0);
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn get_owned_removes_an_expired_key_as_get_does() {
        let now = Instant::now();
        let mut db = Db::new();
        db.set(Bytes::from_static(b"k"), v(b"1"), Some(now));
        db.set(Bytes::from_static(b"live"), v(b"2"), None);
        assert!(db.get_owned(Bytes::from_static(b"k"), now).is_none());
        assert_eq!(db.len(), 1);
        let e = db.get_owned(Bytes::from_static(b"live"), now).unwrap();
        assert_eq!(e.value, &b"2"[..]);
    }

    #[test]
    fn resetting_deadlines_many_times_keeps_the_heap_bounded() {
        let now = Instant::now();
        let mut db = Db::new();
        for i in 0..10_000u64 {
            db.set(
                Bytes::from_static(b"k"),
                v(b"x"),
                Some(now + Duration::from_secs(i)),
            );
        }
        assert!(db.deadlines.len() <= 2 * db.map.len() + 1025);
    }
}
