//! The two timers of an HTTP connection, as a state machine with no clock
//! of its own: the handler feeds it what happened and when, and asks it
//! for the next deadline.
//!
//! ```text
//!   active / request / body skipped ──▶ idle clock runs from then
//!   HeadStarted (a head spans reads) ──▶ header clock runs from then,
//!                                        until its request arrives
//!   a request with a body ─────────────▶ neither runs until BodySkipped
//!   idle deadline while a response drains (not writable)
//!                                    ──▶ suspended until writable again
//! ```

use std::time::{Duration, Instant};

/// How long a client may take from the first byte of a request head to its
/// end before it is answered 408 and closed (slowloris defence).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a kept-alive connection may sit with nothing to send and no
/// request arriving before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Which timer ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// A head did not complete in time: answer 408 and close.
    Header,
    /// Nothing arrived and nothing was left to send: close.
    Idle,
}

/// The header and idle timers of one connection.
#[derive(Debug)]
pub(crate) struct Timeouts {
    header: Duration,
    idle: Duration,
    /// When the first byte of the head now arriving came.
    head_started: Option<Instant>,
    /// A request's body is still arriving.
    skipping_body: bool,
    /// Since when the connection has been waiting for a request (`None`
    /// while suspended).
    waiting_since: Option<Instant>,
    /// Set when the idle wait must restart at the next timer.
    rearm_at: Option<Instant>,
    /// A timer ran out; nothing more is timed.
    stopped: bool,
}

impl Timeouts {
    pub(crate) fn new(header: Duration, idle: Duration) -> Timeouts {
        Timeouts {
            header,
            idle,
            head_started: None,
            skipping_body: false,
            waiting_since: None,
            rearm_at: None,
            stopped: false,
        }
    }

    pub(crate) fn set(&mut self, header: Duration, idle: Duration) {
        self.header = header;
        self.idle = idle;
    }

    /// The connection is up: it waits for its first request.
    pub(crate) fn active(&mut self, now: Instant) {
        self.waiting_since = Some(now);
    }

    /// The first bytes of a head arrived.
    pub(crate) fn head_started(&mut self, now: Instant) {
        self.head_started.get_or_insert(now);
    }

    /// A whole head arrived; a body may follow.
    pub(crate) fn request(&mut self, now: Instant, has_body: bool) {
        self.head_started = None;
        self.skipping_body = has_body;
        self.waiting_since = Some(now);
    }

    /// The body of the last request is past.
    pub(crate) fn body_skipped(&mut self, now: Instant) {
        self.skipping_body = false;
        self.waiting_since = Some(now);
    }

    /// The outbound buffer drained below the low watermark: the idle wait
    /// starts again. The transport may fire this event with a clock as
    /// old as the last read, so the restart happens at a timer due at once,
    /// which reads a fresh clock.
    pub(crate) fn writable_again(&mut self, now: Instant) {
        self.rearm_at.get_or_insert(now);
    }

    /// When the next timer is due, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        if let Some(started) = self.head_started {
            return started.checked_add(self.header);
        }
        if self.rearm_at.is_some() {
            return self.rearm_at;
        }
        if self.skipping_body {
            return None;
        }
        self.waiting_since?.checked_add(self.idle)
    }

    /// What ran out at `now`, if anything. `idle_ok` is false while
    /// answers are still going out (the channel is not writable): the
    /// idle wait is then suspended until [`writable_again`](Self::writable_again).
    pub(crate) fn expired(&mut self, now: Instant, idle_ok: bool) -> Option<Expired> {
        if self.stopped {
            return None;
        }
        if self.rearm_at.take().is_some() {
            self.waiting_since = Some(now);
        }
        let due = |from: Instant, d: Duration| from.checked_add(d).is_some_and(|t| now >= t);
        if let Some(started) = self.head_started {
            if due(started, self.header) {
                self.stopped = true;
                return Some(Expired::Header);
            }
            return None;
        }
        if self.skipping_body {
            return None;
        }
        let since = self.waiting_since?;
        if !due(since, self.idle) {
            return None;
        }
        if idle_ok {
            self.stopped = true;
            Some(Expired::Idle)
        } else {
            self.waiting_since = None;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_head_that_began_must_end_within_the_header_timeout() {
        let t0 = Instant::now();
        let mut t = Timeouts::new(5 * S, 30 * S);
        t.active(t0);
        t.head_started(t0 + S);
        t.head_started(t0 + 2 * S);
        assert_eq!(t.deadline(), Some(t0 + 6 * S), "from the first byte");
        assert_eq!(t.expired(t0 + 5 * S, true), None);
        assert_eq!(t.expired(t0 + 6 * S, true), Some(Expired::Header));
        assert_eq!(t.deadline(), None, "stopped");
    }

    #[test]
    fn no_timer_runs_while_a_body_arrives() {
        let t0 = Instant::now();
        let mut t = Timeouts::new(5 * S, 30 * S);
        t.request(t0, true);
        assert_eq!(t.deadline(), None);
        assert_eq!(t.expired(t0 + 100 * S, true), None);
        t.body_skipped(t0 + 100 * S);
        assert_eq!(t.deadline(), Some(t0 + 130 * S));
        assert_eq!(t.expired(t0 + 130 * S, true), Some(Expired::Idle));
    }

    #[test]
    fn the_idle_wait_is_suspended_while_answers_drain_and_restarts_after() {
        let t0 = Instant::now();
        let mut t = Timeouts::new(5 * S, 30 * S);
        t.request(t0, false);
        assert_eq!(t.expired(t0 + 31 * S, false), None);
        assert_eq!(t.deadline(), None, "suspended, no busy timer");
        t.writable_again(t0 + 40 * S);
        assert_eq!(t.deadline(), Some(t0 + 40 * S), "due at once");
        assert_eq!(t.expired(t0 + 41 * S, true), None);
        assert_eq!(t.deadline(), Some(t0 + 71 * S), "from the fresh clock");
        assert_eq!(t.expired(t0 + 71 * S, true), Some(Expired::Idle));
    }
}
