//! The dispatch loop: how queued events reach handlers, the tail and the head.

use std::io;

use crate::chain::{Ev, Inbound, Outbound};
use crate::context::Core;
use crate::erased::Erased;
use crate::{Event, Message, Pipeline, PipelineError, Wire, KEPT_EXCEPTIONS};

impl Pipeline {
    /// Runs `events`, in order, and everything they cause, depth first.
    pub(crate) fn run_batch(&mut self, events: impl IntoIterator<Item = Ev>) {
        let start = self.queue.len();
        for ev in events {
            self.queue.push(ev);
        }
        self.queue.close_batch(start);
        self.run_queue();
    }

    /// Runs whatever is queued, depth first.
    pub(crate) fn run_queue(&mut self) {
        while let Some(ev) = self.queue.next() {
            self.dispatch(ev);
        }
        if self.chain.has_tombstones() {
            self.chain.compact();
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::In(origin, ev) => match self.chain.next_inbound(origin) {
                Some(i) => {
                    let drained = self.call(i, true, |h, core| match ev {
                        Inbound::Read(mut batch) => {
                            h.on_reads(core, &mut batch);
                            Some(batch)
                        }
                        Inbound::Event(e) => {
                            h.on_event(core, e);
                            None
                        }
                    });
                    if let Some(Some(v)) = drained {
                        self.queue.recycle(v);
                    }
                }
                None => self.tail(ev),
            },
            Ev::Out(origin, ev) => match self.chain.next_outbound(origin) {
                Some(i) => {
                    self.call(i, true, |h, core| match ev {
                        Outbound::Write(m, p) => h.on_write(core, m, p),
                        Outbound::Flush => h.on_flush(core),
                        Outbound::Close => h.on_close(core),
                    });
                }
                None => self.head(ev),
            },
            Ev::Added(id) => self.call_live(id, |h, core| h.on_added(core)),
            Ev::Removed(id) => {
                if let Some(i) = self.chain.index_of_id(id) {
                    self.call(i, false, |h, core| h.on_removed(core));
                }
            }
            Ev::Timer(id) => self.call_live(id, |h, core| h.on_timer(core)),
            Ev::Deferred(id) => self.call_live(id, |h, core| h.on_deferred(core)),
        }
    }

    /// Calls the handler `id` with `f` if it is still in the pipeline.
    pub(crate) fn call_live(&mut self, id: u64, f: impl FnOnce(&mut dyn Erased, Core<'_>)) {
        if let Some(i) = self.chain.index_of_id(id) {
            if !self.chain.entries[i].removed {
                self.call(i, true, f);
            }
        }
    }

    /// Takes the handler at `i` out of its slot, calls `f` with it and a
    /// core for its context, puts it back (unless `keep` is false: it left
    /// for good), and schedules what it queued to run next, in order.
    fn call<R>(
        &mut self,
        i: usize,
        keep: bool,
        f: impl FnOnce(&mut dyn Erased, Core<'_>) -> R,
    ) -> Option<R> {
        let entry = self.chain.entries.get_mut(i)?;
        let mut h = entry.handler.take()?;
        let id = entry.id;
        let start = self.queue.len();
        let core = Core {
            chain: &mut self.chain,
            queue: &mut self.queue,
            head: &mut *self.head,
            id,
            now: self.now,
            start,
        };
        let r = f(&mut *h, core);
        if keep {
            if let Some(j) = self.chain.index_of_id(id) {
                self.chain.entries[j].handler = Some(h);
            }
        }
        self.queue.close_batch(start);
        Some(r)
    }

    fn tail(&mut self, ev: Inbound) {
        match ev {
            Inbound::Read(mut batch) => {
                for m in batch.drain(..) {
                    self.unconsumed(m);
                }
                self.queue.recycle(batch);
            }
            Inbound::Event(Event::User(e)) if self.capture => self.captured_events.push_back(e),
            Inbound::Event(Event::User(_)) => {
                self.stats.unhandled_user_events += 1;
                tracing::debug!("user event reached the tail of the pipeline unhandled");
            }
            Inbound::Event(Event::Exception(err)) => {
                self.stats.unhandled_exceptions += 1;
                let chain = error_chain(&err);
                if matches!(err, PipelineError::Io(_)) {
                    // The transport's own failures (a peer's reset, a failed
                    // TLS handshake): routine, and logged where they happen.
                    tracing::debug!(error = %chain, "i/o error reached the tail of the pipeline; closing the channel");
                } else {
                    tracing::error!(error = %chain, "exception reached the tail of the pipeline unhandled; closing the channel");
                }
                if self.exceptions.len() >= KEPT_EXCEPTIONS {
                    self.exceptions.remove(0);
                }
                self.exceptions.push(err);
                self.head.close();
            }
            Inbound::Event(_) => {}
        }
    }

    fn unconsumed(&mut self, m: Message) {
        if self.capture {
            self.captured.push_back(m);
            return;
        }
        self.stats.unconsumed_reads += 1;
        self.stats.unconsumed_bytes = self.stats.unconsumed_bytes.saturating_add(m.len());
        // Every one is counted; the 1st, 2nd, 4th, 8th, ... are logged, so
        // a peer cannot flood the log through a pipeline that lacks a
        // consumer.
        let n = self.stats.unconsumed_reads;
        if n.is_power_of_two() {
            tracing::warn!(
                kind = %m.kind(),
                len = m.len(),
                total = n,
                "message reached the tail of the pipeline unconsumed; dropped"
            );
        }
    }

    fn head(&mut self, ev: Outbound) {
        match ev {
            Outbound::Write(m, promise) => match Wire::try_from(m) {
                Ok(w) => self.head.write(w, promise),
                Err(m) => {
                    self.stats.unwritable_at_head += 1;
                    tracing::warn!(kind = %m.kind(), "a user message reached the head of the pipeline: no encoder turned it into bytes; dropped");
                    if let Some(p) = promise {
                        p.fail(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("{} reached the head unencoded", m.kind()),
                        ));
                    }
                }
            },
            Outbound::Flush => self.head.flush(),
            Outbound::Close => self.head.close(),
        }
    }
}

/// `err` and its sources, as "error: cause: cause".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
