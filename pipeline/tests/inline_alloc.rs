//! A user frame type that fits `INLINE_BYTES` travels between handlers
//! without a heap allocation: counted with a global allocator of this
//! test binary's own (so this file holds nothing else).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use weft_pipeline::{Batch, Context, Handler, Message, MessageType, Nothing, Pipeline, Value};

/// Counts the allocations made on this thread while `COUNTING` is set.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to `System` unchanged; the counter is a
// const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

/// A decoded request: 48 bytes, inline.
struct Small {
    _key: Bytes,
    _id: u64,
}
impl MessageType for Small {}
const _: () = assert!(Value::fits_inline::<Small>());

/// 128 bytes: boxed.
struct Big {
    _data: [u64; 16],
}
impl MessageType for Big {}
const _: () = assert!(!Value::fits_inline::<Big>());

/// On each read, fires `n` frames made by `make`.
struct Emit<T> {
    n: usize,
    make: fn() -> T,
}
impl<T: MessageType> Handler for Emit<T> {
    type In = Message;
    type Out = T;
    fn read(&mut self, ctx: &mut Context<'_, T>, _msg: Message) {
        for _ in 0..self.n {
            ctx.fire_read((self.make)());
        }
    }
}

/// Takes the frames and drops them.
struct Sink<T>(std::marker::PhantomData<T>);
impl<T: MessageType> Handler for Sink<T> {
    type In = T;
    type Out = Nothing;
    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _msg: T) {}
    fn read_batch(&mut self, _ctx: &mut Context<'_, Nothing>, batch: Batch<'_, T>) {
        batch.for_each(drop);
    }
}

/// Allocations of one read that makes `n` frames, after a warm-up that
/// leaves the pipeline's reusable buffers at their size.
fn per_read<T: MessageType>(n: usize, make: fn() -> T) -> u64 {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("emit", Emit { n, make })
        .unwrap()
        .add_last("sink", Sink::<T>(std::marker::PhantomData))
        .unwrap();
    let read = Message::from(Bytes::from_static(b"go"));
    for _ in 0..3 {
        p.fire_read(Message::from(Bytes::from_static(b"go")));
    }
    allocations(|| p.fire_read(read))
}

fn small() -> Small {
    Small {
        _key: Bytes::from_static(b"key"),
        _id: 7,
    }
}

fn big() -> Big {
    Big { _data: [0; 16] }
}

#[test]
fn a_user_frame_that_fits_inline_travels_without_a_heap_allocation() {
    let one = per_read(1, small);
    let many = per_read(16, small);
    assert_eq!(many, one, "16 inline frames cost no more than 1");
}

#[test]
fn a_frame_too_large_to_fit_inline_costs_one_allocation_each() {
    // the control: the counter sees the boxes when there are some
    let one = per_read(1, big);
    let many = per_read(16, big);
    assert_eq!(many, one + 15);
}
