//! Group commit: one `fdatasync` acknowledges every record written before
//! it started.
//!
//! With `--fsync always` a produce is acknowledged only once its records
//! are on disk. Syncing once per produce makes concurrent producers queue
//! behind each other's `fdatasync`. Here a producer writes its records
//! (under the log's lock, which is then released) and waits for the log to
//! be durable up to its last offset: if no sync is running, it becomes the
//! leader and syncs everything written so far; if one is running, it waits
//! for it, and then either it is covered or it leads the next one. So at
//! most one sync runs at a time and each covers every producer that wrote
//! before it began (PostgreSQL's and Kafka's group commit):
//!
//! ```text
//!  producer A: write ─ lead: fdatasync(all up to 12) ──────────────▶ ack
//!  producer B:   write ─ wait ─────────────────────── covered (10) ─▶ ack
//!  producer C:                 write ─ wait ───────── not covered (14): lead the next sync ─▶ ack
//! ```
//!
//! A failed sync fails its leader, every producer waiting for it and every
//! later one: after a failed `fdatasync` Linux may drop the dirty pages'
//! error state, so a second sync can report success for data that never
//! reached the disk (PostgreSQL's "fsyncgate"; PostgreSQL stops the server).
//! Nothing is acknowledged from then on; a restart recovers the log from
//! what is really on disk.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// Every offset below this is durable.
    durable: u64,
    /// A sync is running.
    syncing: bool,
    /// Callers blocked waiting for a running sync.
    waiting: usize,
    /// Syncs run so far.
    syncs: u64,
    /// The first failed sync, as (kind, message): every caller fails with it.
    failed: Option<(io::ErrorKind, String)>,
}

impl State {
    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some((kind, msg)) => Err(io::Error::new(
                *kind,
                format!(
                    "an earlier fdatasync failed ({msg}): nothing is acknowledged until a restart"
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Makes the log durable up to an offset, one sync at a time for any
/// number of waiting producers (see the module docs).
///
/// # Examples
///
/// ```
/// use weft_examples::log::commit::GroupCommit;
/// let commit = GroupCommit::new(0);
/// // Nothing durable yet: this caller leads a sync, which reports it made
/// // the log durable up to offset 5.
/// commit.wait_durable(3, || Ok(5)).unwrap();
/// // Offsets below 5 need no new sync.
/// commit.wait_durable(5, || unreachable!("covered")).unwrap();
/// assert_eq!(commit.syncs(), 1);
/// ```
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    /// A group commit whose offsets below `durable` are already on disk
    /// (the recovered log's end).
    ///
    /// # Examples
    ///
    /// ```
    /// let commit = weft_examples::log::commit::GroupCommit::new(7);
    /// commit.wait_durable(7, || unreachable!("already durable")).unwrap();
    /// ```
    pub fn new(durable: u64) -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State {
                durable,
                ..State::default()
            }),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few counters that are consistent at every store.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until every offset below `end` is durable. If no sync is
    /// running and `end` is not covered, runs `sync`, which must make the
    /// log durable up to the offset it returns (everything written when it
    /// started), on this thread; otherwise waits for the running one.
    ///
    /// # Errors
    ///
    /// The error of the `sync` this caller ran, or of any earlier failed
    /// one (see the module docs).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn wait_durable(
        &self,
        end: u64,
        mut sync: impl FnMut() -> io::Result<u64>,
    ) -> io::Result<()> {
        let mut st = self.lock();
        loop {
            st.check()?;
            if st.durable >= end {
                return Ok(());
            }
            if !st.syncing {
                st.syncing = true;
                drop(st);
                let result = sync();
                st = self.lock();
                st.syncing = false;
                st.syncs += 1;
                match &result {
                    Ok(upto) => st.durable = st.durable.max(*upto),
                    Err(e) => st.failed = Some((e.kind(), e.to_string())),
                }
                self.done.notify_all();
                // Covered, unless the sync started before our write.
                result?;
                continue;
            }
            st.waiting += 1;
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
            st.waiting -= 1;
        }
    }

    /// Syncs run so far (for tests and statistics).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::log::commit::GroupCommit::new(0).syncs(), 0);
    /// ```
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Callers blocked waiting for a running sync (for tests).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::log::commit::GroupCommit::new(0).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    /// Waits (bounded) until `n` callers block on the running sync.
    fn until_waiting(commit: &GroupCommit, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while commit.waiting() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} waiting",
                commit.waiting()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A producer of offset 0 whose sync, once `release` is sent, reports
    /// every offset below `durable` synced.
    fn gated_leader(
        commit: &Arc<GroupCommit>,
        durable: u64,
    ) -> (mpsc::Sender<()>, std::thread::JoinHandle<io::Result<()>>) {
        let (release, gate) = mpsc::channel::<()>();
        let commit = commit.clone();
        let leader = std::thread::spawn(move || {
            commit.wait_durable(1, || {
                gate.recv().unwrap();
                Ok(durable)
            })
        });
        (release, leader)
    }

    #[test]
    fn one_sync_acknowledges_every_producer_that_wrote_before_it_started() {
        let commit = Arc::new(GroupCommit::new(0));
        // The leader's sync covers offsets below 16 once released.
        let (release, leader) = gated_leader(&commit, 16);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !commit.lock().syncing {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        let followers: Vec<_> = (2..=16)
            .map(|end| {
                let commit = commit.clone();
                std::thread::spawn(move || commit.wait_durable(end, || panic!("covered")))
            })
            .collect();
        until_waiting(&commit, 15);
        release.send(()).unwrap();
        leader.join().unwrap().unwrap();
        for f in followers {
            f.join().unwrap().unwrap();
        }
        assert_eq!(commit.syncs(), 1);
    }

    #[test]
    fn a_waiter_the_sync_did_not_cover_leads_the_next_one() {
        let commit = Arc::new(GroupCommit::new(0));
        // Started before the late writer's record: covers offset 0 only.
        let (release, leader) = gated_leader(&commit, 1);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !commit.lock().syncing {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        let late = {
            let commit = commit.clone();
            std::thread::spawn(move || commit.wait_durable(2, || Ok(2)))
        };
        until_waiting(&commit, 1);
        release.send(()).unwrap();
        leader.join().unwrap().unwrap();
        late.join().unwrap().unwrap();
        assert_eq!(commit.syncs(), 2);
    }

    #[test]
    fn after_a_failed_sync_nothing_is_acknowledged_not_even_what_was_durable() {
        let commit = Arc::new(GroupCommit::new(0));
        commit.wait_durable(1, || Ok(1)).unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let leader = {
            let commit = commit.clone();
            std::thread::spawn(move || {
                commit.wait_durable(2, || {
                    gate.recv().unwrap();
                    Err(io::Error::other("EIO"))
                })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !commit.lock().syncing {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        let waiter = {
            let commit = commit.clone();
            std::thread::spawn(move || commit.wait_durable(3, || panic!("no second sync")))
        };
        until_waiting(&commit, 1);
        release.send(()).unwrap();
        assert_eq!(leader.join().unwrap().unwrap_err().to_string(), "EIO");
        let later = "an earlier fdatasync failed (EIO): nothing is acknowledged until a restart";
        assert_eq!(waiter.join().unwrap().unwrap_err().to_string(), later);
        let err = commit
            .wait_durable(1, || panic!("no sync after a failure"))
            .unwrap_err();
        assert_eq!(err.to_string(), later);
        assert_eq!(commit.syncs(), 2);
    }
}
