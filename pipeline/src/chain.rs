//! The ordered list of named handlers, the type check between them, and the
//! queue of events waiting to run.

use crate::erased::Erased;
use crate::{Direction, Event, Message, MessageTypes, PipelineError, TypeFlow, WritePromise};

/// One slot of the chain. A removed handler stays as a tombstone until the
/// current dispatch is over, so events it fires still know where it was.
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) handler: Option<Box<dyn Erased>>,
    inbound: TypeFlow,
    outbound: TypeFlow,
    pub(crate) removed: bool,
}

/// Where an event starts: it travels to the next live handler after (inbound)
/// or before (outbound) this point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Head,
    Tail,
    Handler(u64),
}

pub(crate) enum Inbound {
    /// A batch of messages, delivered in one call.
    Read(Vec<Message>),
    Event(Event),
}

pub(crate) enum Outbound {
    Write(Message, Option<WritePromise>),
    Flush,
    Close,
}

pub(crate) enum Ev {
    In(Origin, Inbound),
    Out(Origin, Outbound),
    Added(u64),
    Removed(u64),
    Timer(u64),
    Deferred(u64),
}

/// Batch vectors kept for reuse, and the largest capacity kept.
const SPARE_BATCHES: usize = 16;
const SPARE_CAPACITY: usize = 4096;

/// The events waiting to run: one arena of slots, read as a stack of
/// batches. Each handler call's events form one batch, run in order; a
/// batch pushed later (by a handler reacting to an event) runs completely
/// before its parent batch goes on: depth first, with each event moved
/// only into its slot and out of it.
///
/// Consecutive reads a handler fires in one call share one slot (a vector
/// of messages, reused), so the frames of one read travel in one dispatch.
#[derive(Default)]
pub(crate) struct EventQueue {
    slots: Vec<Option<Ev>>,
    /// (first slot, next slot to run, end) of each open batch.
    batches: Vec<(usize, usize, usize)>,
    spare: Vec<Vec<Message>>,
}

impl EventQueue {
    #[inline]
    pub(crate) fn push(&mut self, ev: Ev) {
        self.slots.push(Some(ev));
    }

    /// Queues a read from `from`; joins the read slot `from` queued last if
    /// nothing was queued after it in this call (slots from `start` on).
    #[inline]
    pub(crate) fn push_read(&mut self, from: Origin, start: usize, msg: Message) {
        if self.slots.len() > start {
            if let Some(Some(Ev::In(o, Inbound::Read(v)))) = self.slots.last_mut() {
                if *o == from {
                    v.push(msg);
                    return;
                }
            }
        }
        let mut v = self.spare.pop().unwrap_or_default();
        v.push(msg);
        self.slots.push(Some(Ev::In(from, Inbound::Read(v))));
    }

    /// Frees the arena, the batch stack and the spare vectors while
    /// nothing is queued (an idle channel's pipeline holds no queue memory).
    pub(crate) fn release(&mut self) {
        if self.slots.is_empty() && self.batches.is_empty() {
            self.slots = Vec::new();
            self.batches = Vec::new();
            self.spare = Vec::new();
        }
    }

    /// Gives a drained batch vector back for reuse.
    #[inline]
    pub(crate) fn recycle(&mut self, mut v: Vec<Message>) {
        v.clear();
        if v.capacity() <= SPARE_CAPACITY && self.spare.len() < SPARE_BATCHES {
            self.spare.push(v);
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Makes the events pushed since `start` a batch that runs next.
    #[inline]
    pub(crate) fn close_batch(&mut self, start: usize) {
        if self.slots.len() > start {
            self.batches.push((start, start, self.slots.len()));
        }
    }

    /// The next event to run, depth first.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<Ev> {
        loop {
            let top = self.batches.last_mut()?;
            if top.1 >= top.2 {
                let start = top.0;
                self.batches.pop();
                self.slots.truncate(start);
                continue;
            }
            let i = top.1;
            top.1 += 1;
            if let Some(ev) = self.slots.get_mut(i).and_then(Option::take) {
                return Some(ev);
            }
        }
    }
}

/// Where to insert a new handler.
enum At<'n> {
    First,
    Last,
    Before(&'n str),
    After(&'n str),
}

#[derive(Default)]
pub(crate) struct Chain {
    pub(crate) entries: Vec<Entry>,
    next_id: u64,
}

impl Chain {
    pub(crate) fn index_of_id(&self, id: u64) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// The name of the handler `id` ("" if it is gone).
    pub(crate) fn name_of(&self, id: u64) -> &str {
        self.index_of_id(id)
            .and_then(|i| self.entries.get(i))
            .map_or("", |e| e.name.as_str())
    }

    pub(crate) fn live_index(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| !e.removed && e.name == name)
    }

    pub(crate) fn names(&self) -> Vec<&str> {
        self.live().map(|e| e.name.as_str()).collect()
    }

    fn live(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.removed)
    }

    /// The next live handler an inbound event from `origin` reaches.
    pub(crate) fn next_inbound(&self, origin: Origin) -> Option<usize> {
        let start = match origin {
            Origin::Head => 0,
            Origin::Tail => return None,
            Origin::Handler(id) => self.index_of_id(id)? + 1,
        };
        (start..self.entries.len()).find(|&i| !self.entries[i].removed)
    }

    /// The next live handler an outbound event from `origin` reaches.
    pub(crate) fn next_outbound(&self, origin: Origin) -> Option<usize> {
        let end = match origin {
            Origin::Head => return None,
            Origin::Tail => self.entries.len(),
            Origin::Handler(id) => self.index_of_id(id)?,
        };
        (0..end).rev().find(|&i| !self.entries[i].removed)
    }

    pub(crate) fn has_tombstones(&self) -> bool {
        self.entries.iter().any(|e| e.removed)
    }

    /// Drops the tombstones; called when no event is in flight.
    pub(crate) fn compact(&mut self) {
        self.entries.retain(|e| !e.removed);
    }

    /// Checks that neighbouring handlers' types meet, both ways.
    pub(crate) fn check(&self) -> Result<(), PipelineError> {
        check_direction(Direction::Inbound, "head", self.live())?;
        check_direction(Direction::Outbound, "tail", self.live().rev())
    }

    fn insert(
        &mut self,
        at: At<'_>,
        name: &str,
        handler: Box<dyn Erased>,
    ) -> Result<u64, PipelineError> {
        let pos = match at {
            At::First => 0,
            At::Last => self.entries.len(),
            At::Before(other) => self
                .live_index(other)
                .ok_or_else(|| PipelineError::UnknownName(other.to_string()))?,
            At::After(other) => {
                self.live_index(other)
                    .ok_or_else(|| PipelineError::UnknownName(other.to_string()))?
                    + 1
            }
        };
        self.insert_at(pos, name, handler)
    }

    fn insert_at(
        &mut self,
        pos: usize,
        name: &str,
        handler: Box<dyn Erased>,
    ) -> Result<u64, PipelineError> {
        if self.live_index(name).is_some() {
            return Err(PipelineError::DuplicateName(name.to_string()));
        }
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry {
            id,
            name: name.to_string(),
            inbound: handler.inbound_types(),
            outbound: handler.outbound_types(),
            handler: Some(handler),
            removed: false,
        };
        self.entries.insert(pos, entry);
        if let Err(e) = self.check() {
            self.entries.remove(pos);
            return Err(e);
        }
        Ok(id)
    }

    pub(crate) fn add_first(
        &mut self,
        name: &str,
        h: Box<dyn Erased>,
    ) -> Result<u64, PipelineError> {
        self.insert(At::First, name, h)
    }

    pub(crate) fn add_last(
        &mut self,
        name: &str,
        h: Box<dyn Erased>,
    ) -> Result<u64, PipelineError> {
        self.insert(At::Last, name, h)
    }

    pub(crate) fn add_before(
        &mut self,
        base: &str,
        name: &str,
        h: Box<dyn Erased>,
    ) -> Result<u64, PipelineError> {
        self.insert(At::Before(base), name, h)
    }

    pub(crate) fn add_after(
        &mut self,
        base: &str,
        name: &str,
        h: Box<dyn Erased>,
    ) -> Result<u64, PipelineError> {
        self.insert(At::After(base), name, h)
    }

    /// Marks `name` removed (a tombstone) and returns its id.
    pub(crate) fn remove(&mut self, name: &str) -> Result<u64, PipelineError> {
        let i = self
            .live_index(name)
            .ok_or_else(|| PipelineError::UnknownName(name.to_string()))?;
        self.remove_at(i)
    }

    fn remove_at(&mut self, i: usize) -> Result<u64, PipelineError> {
        let Some(entry) = self.entries.get_mut(i) else {
            return Err(PipelineError::UnknownName(format!("#{i}")));
        };
        entry.removed = true;
        let id = entry.id;
        if let Err(e) = self.check() {
            if let Some(entry) = self.entries.get_mut(i) {
                entry.removed = false;
            }
            return Err(e);
        }
        Ok(id)
    }

    /// Replaces the handler `old` with `name`/`h` in the same place; returns
    /// (removed id, added id).
    pub(crate) fn replace(
        &mut self,
        old: &str,
        name: &str,
        h: Box<dyn Erased>,
    ) -> Result<(u64, u64), PipelineError> {
        let i = self
            .live_index(old)
            .ok_or_else(|| PipelineError::UnknownName(old.to_string()))?;
        if name != old && self.live_index(name).is_some() {
            return Err(PipelineError::DuplicateName(name.to_string()));
        }
        let old_id = self.entries[i].id;
        self.entries[i].removed = true;
        match self.insert_at(i + 1, name, h) {
            Ok(new_id) => Ok((old_id, new_id)),
            Err(e) => {
                self.entries[i].removed = false;
                Err(e)
            }
        }
    }
}

fn check_direction<'a>(
    direction: Direction,
    end: &str,
    entries: impl Iterator<Item = &'a Entry>,
) -> Result<(), PipelineError> {
    let mut producer = end;
    let mut current = MessageTypes::ANY;
    for e in entries {
        let flow = match direction {
            Direction::Inbound => &e.inbound,
            Direction::Outbound => &e.outbound,
        };
        if let TypeFlow::Transform { accepts, emits } = flow {
            if !current.fits_into(accepts) {
                return Err(PipelineError::TypeMismatch {
                    direction,
                    from: producer.to_string(),
                    emits: current.to_string(),
                    to: e.name.clone(),
                    accepts: accepts.to_string(),
                });
            }
            current = emits.clone();
            producer = &e.name;
        }
    }
    Ok(())
}
