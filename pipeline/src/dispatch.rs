//! The dispatch loop: how queued events reach handlers, the tail and the head.

use std::io;

use crate::chain::{Event, Inbound, Outbound};
use crate::{Context, Handler, HeadOp, Message, Pipeline, KEPT_EXCEPTIONS};

impl Pipeline {
    /// Runs `events`, in order, and everything they cause, depth first.
    pub(crate) fn run_batch(&mut self, events: impl IntoIterator<Item = Event>) {
        let start = self.queue.len();
        for ev in events {
            self.queue.push(ev);
        }
        self.queue.close_batch(start);
        while let Some(ev) = self.queue.next() {
            self.dispatch(ev);
        }
        if self.chain.has_tombstones() {
            self.chain.compact();
        }
    }

    fn dispatch(&mut self, ev: Event) {
        match ev {
            Event::In(origin, ev) => {
                let Some(i) = self.chain.next_inbound(origin) else {
                    return self.tail(ev);
                };
                let Some((id, mut h, start)) = self.enter(i) else {
                    return;
                };
                let mut ctx = self.context(id);
                match ev {
                    Inbound::Active => h.channel_active(&mut ctx),
                    Inbound::Read(m) => h.read(&mut ctx, m),
                    Inbound::ReadComplete => h.read_complete(&mut ctx),
                    Inbound::User(e) => h.user_event(&mut ctx, e),
                    Inbound::Exception(e) => h.exception(&mut ctx, e),
                    Inbound::Writability(w) => h.writability_changed(&mut ctx, w),
                    Inbound::Inactive => h.channel_inactive(&mut ctx),
                }
                self.leave(id, h, start, true);
            }
            Event::Out(_, Outbound::AutoRead(on)) => {
                self.head_ops.push_back(HeadOp::SetAutoRead(on))
            }
            Event::Out(origin, ev) => {
                let Some(i) = self.chain.next_outbound(origin) else {
                    return self.head(ev);
                };
                let Some((id, mut h, start)) = self.enter(i) else {
                    return;
                };
                let mut ctx = self.context(id);
                match ev {
                    Outbound::Write(m, p) => h.write(&mut ctx, m, p),
                    Outbound::Flush => h.flush(&mut ctx),
                    Outbound::Close => h.close(&mut ctx),
                    Outbound::AutoRead(on) => ctx.set_auto_read(on),
                }
                self.leave(id, h, start, true);
            }
            Event::Added(id) => {
                if let Some(i) = self.chain.index_of_id(id) {
                    if !self.chain.entries[i].removed {
                        self.call(i, true, |h, ctx| h.handler_added(ctx));
                    }
                }
            }
            Event::Removed(id) => {
                if let Some(i) = self.chain.index_of_id(id) {
                    self.call(i, false, |h, ctx| h.handler_removed(ctx));
                }
            }
            Event::Timer(id) => {
                if let Some(i) = self.chain.index_of_id(id) {
                    if !self.chain.entries[i].removed {
                        self.call(i, true, |h, ctx| h.timer(ctx));
                    }
                }
            }
            Event::Deferred(id) => {
                if let Some(i) = self.chain.index_of_id(id) {
                    if !self.chain.entries[i].removed {
                        self.call(i, true, |h, ctx| h.deferred(ctx));
                    }
                }
            }
        }
    }

    /// Takes the handler at `i` out of its slot for a call: (id, handler,
    /// where the events it queues will start).
    fn enter(&mut self, i: usize) -> Option<(u64, Box<dyn Handler>, usize)> {
        let entry = self.chain.entries.get_mut(i)?;
        let h = entry.handler.take()?;
        Some((entry.id, h, self.queue.len()))
    }

    fn context(&mut self, id: u64) -> Context<'_> {
        Context {
            chain: &mut self.chain,
            queue: &mut self.queue,
            id,
            now: self.now,
            writable: self.writable,
        }
    }

    /// Puts the handler back (unless it leaves for good) and schedules what
    /// it queued to run next, in order.
    fn leave(&mut self, id: u64, h: Box<dyn Handler>, start: usize, keep: bool) {
        if keep {
            if let Some(j) = self.chain.index_of_id(id) {
                self.chain.entries[j].handler = Some(h);
            }
        }
        self.queue.close_batch(start);
    }

    /// Calls the handler at `i` with `f` (see [`enter`](Self::enter) and
    /// [`leave`](Self::leave)).
    fn call(&mut self, i: usize, keep: bool, f: impl FnOnce(&mut dyn Handler, &mut Context<'_>)) {
        let Some((id, mut h, start)) = self.enter(i) else {
            return;
        };
        f(&mut *h, &mut self.context(id));
        self.leave(id, h, start, keep);
    }

    fn tail(&mut self, ev: Inbound) {
        match ev {
            Inbound::Read(m) if self.capture => self.captured.push_back(m),
            Inbound::Read(m) => {
                self.stats.unconsumed_reads += 1;
                self.stats.unconsumed_bytes = self.stats.unconsumed_bytes.saturating_add(m.len());
                // Every one is counted; the 1st, 2nd, 4th, 8th, ... are logged,
                // so a peer cannot flood the log through a pipeline that
                // lacks a consumer.
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
            Inbound::User(e) if self.capture => self.captured_events.push_back(e),
            Inbound::User(_) => {
                self.stats.unhandled_user_events += 1;
                tracing::debug!("user event reached the tail of the pipeline unhandled");
            }
            Inbound::Exception(err) => {
                self.stats.unhandled_exceptions += 1;
                tracing::error!(error = %err, "exception reached the tail of the pipeline unhandled; closing the channel");
                if self.exceptions.len() >= KEPT_EXCEPTIONS {
                    self.exceptions.remove(0);
                }
                self.exceptions.push(err);
                self.head_ops.push_back(HeadOp::Close);
            }
            Inbound::Active
            | Inbound::ReadComplete
            | Inbound::Writability(_)
            | Inbound::Inactive => {}
        }
    }

    fn head(&mut self, ev: Outbound) {
        match ev {
            Outbound::Write(Message::User(_), promise) => {
                self.stats.unwritable_at_head += 1;
                tracing::warn!("a user message reached the head of the pipeline: no encoder turned it into bytes; dropped");
                if let Some(p) = promise {
                    p.fail(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "user message reached the head unencoded",
                    ));
                }
            }
            Outbound::Write(m, p) => self.head_ops.push_back(HeadOp::Write(m, p)),
            Outbound::Flush => self.head_ops.push_back(HeadOp::Flush),
            Outbound::Close => self.head_ops.push_back(HeadOp::Close),
            Outbound::AutoRead(on) => self.head_ops.push_back(HeadOp::SetAutoRead(on)),
        }
    }
}
