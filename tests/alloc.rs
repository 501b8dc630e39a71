//! Encoding the hot-path messages (ping and ack, sent on every probe) into a
//! buffer that already has room must not touch the heap.
//!
//! A counting global allocator records every allocation made by the current
//! thread. Counting per thread keeps the figures exact even though the test
//! harness runs tests concurrently on several threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use swimlist::wire::{Ack, Context, Message, Ping};

thread_local! {
    // Const-initialised and without a destructor, so reading it from inside
    // the allocator never allocates and works during thread teardown.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting each allocation and reallocation (a
/// `Vec` growing is as much a heap trip as a fresh allocation).
struct Counting;

fn count() {
    // `try_with` rather than `with`: the allocator must never panic.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only a
// thread-local `Cell`, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations this thread made while running `f`.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = f();
    (ALLOCATIONS.with(Cell::get) - before, result)
}

/// Encodes `msg` once as a warm-up, then asserts that a second encode into
/// the cleared buffer (capacity kept) allocates nothing and writes the same
/// bytes.
fn assert_encode_allocation_free(msg: &Message) {
    let mut buf = Vec::with_capacity(256);
    msg.encode(Context::Packet, &mut buf);
    let expected = buf.clone();
    buf.clear();
    let (n, ()) = allocations_during(|| msg.encode(Context::Packet, &mut buf));
    assert_eq!(n, 0, "encoding {msg:?} allocated {n} times");
    assert_eq!(buf, expected);
}

fn ping() -> Message {
    Message::Ping(Ping {
        seq_no: 48_213,
        node: "node-042".into(),
        source_addr: vec![10, 0, 0, 7],
        source_port: 7946,
        source_node: "node-007".into(),
    })
}

#[test]
fn ping_encode_does_not_allocate() {
    assert_encode_allocation_free(&ping());
}

#[test]
fn ack_encode_does_not_allocate() {
    for payload in [None, Some(b"delegate payload".to_vec())] {
        assert_encode_allocation_free(&Message::Ack(Ack {
            seq_no: 48_213,
            payload,
        }));
    }
}

/// Positive control: the counter does see this thread's allocations, so the
/// zeros above are real.
#[test]
fn counter_sees_allocations() {
    let msg = ping();
    let mut buf = Vec::new();
    // The same encode into a buffer without room must grow it: the zeros
    // above come from the reserved capacity, not from a blind counter.
    let (n, ()) = allocations_during(|| msg.encode(Context::Packet, &mut buf));
    assert!(n > 0, "growing an empty buffer was not counted");

    // Decoding a ping builds its `String`s and `Vec`s.
    let (n, decoded) = allocations_during(|| Message::decode(&buf, Context::Packet));
    assert!(n > 0, "decoding a ping was counted as allocation-free");
    assert_eq!(decoded, Ok(msg));
}
