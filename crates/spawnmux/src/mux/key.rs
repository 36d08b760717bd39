//! Poller keys: `(slab index << KIND_BITS) | kind`, one key per child stream, child exit and
//! user source.
//!
//! `usize::MAX` is `polling`'s own and `usize::MAX - 1` the exit watcher's shared source
//! ([`GLOBAL_EXIT_KEY`](crate::sys::GLOBAL_EXIT_KEY)); neither has a kind below. A key whose
//! index was reused by a newer child is harmless: readiness is only a hint (every read and
//! write is non-blocking, every exit confirmed by `try_wait`).

const KIND_BITS: usize = 3;
/// The kinds of a child's keys. `KIND_STDOUT` and `KIND_STDERR` are also the index of the
/// stream in `Slot::streams` (and of [`Stream::from_index`](crate::Stream)); every kind is a
/// bit of `Slot::queued`.
pub(super) const KIND_STDOUT: usize = 0;
pub(super) const KIND_STDERR: usize = 1;
pub(super) const KIND_STDIN: usize = 2;
pub(super) const KIND_EXIT: usize = 3;
/// A user source's key (its index in `Mux::sources`).
pub(super) const KIND_SOURCE: usize = 4;

/// The key of `kind` for slot `index`.
#[inline]
pub(super) fn key(index: usize, kind: usize) -> usize {
    (index << KIND_BITS) | kind
}

/// The slot index and the kind of a key.
#[inline]
pub(super) fn split(key: usize) -> (usize, usize) {
    (key >> KIND_BITS, key & ((1 << KIND_BITS) - 1))
}
