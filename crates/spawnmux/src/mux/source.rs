//! Your own sources in the loop: [`Interest`], and the [`Source`]s the [`Mux`] owns, polls
//! and reports as [`Event::Ready`](crate::Event::Ready).

use std::any::Any;
use std::io;

use super::key::{key, KIND_SOURCE};
use super::Mux;
use crate::error::{context, error};
use crate::event::{Events, Item, Readiness, SourceId};
use crate::sys::{self, Source};

/// Which readiness to report for a source added with [`Mux::add_source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interest {
    /// Nothing (the source stays registered but quiet).
    None,
    /// Readable.
    Readable,
    /// Writable.
    Writable,
    /// Readable or writable.
    Both,
}

impl Interest {
    fn event(self, key: usize) -> polling::Event {
        match self {
            Interest::None => polling::Event::none(key),
            Interest::Readable => polling::Event::readable(key),
            Interest::Writable => polling::Event::writable(key),
            Interest::Both => polling::Event::all(key),
        }
    }
}

/// A type-erased owned source.
pub(super) trait AnySource: Send {
    fn handle(&self) -> sys::Handle<'_>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Source> AnySource for T {
    fn handle(&self) -> sys::Handle<'_> {
        sys::source_handle(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

fn no_such_source() -> io::Error {
    error(io::ErrorKind::NotFound, "no such source")
}

fn other_type() -> io::Error {
    error(io::ErrorKind::InvalidInput, "the source has another type")
}

/// Your own sources: sockets (on Unix, any fd) polled by the same loop.
impl Mux {
    /// Adds one of your own sockets (or, on Unix, any fd) to the loop; readiness arrives as
    /// [`Event::Ready`](crate::Event::Ready) (level-triggered: reported at every `wait` while
    /// it lasts, so read until `WouldBlock` or change the interest with
    /// [`set_interest`](Mux::set_interest)).
    ///
    /// The `Mux` owns the source until [`remove_source`](Mux::remove_source); reach it with
    /// [`source`](Mux::source) / [`source_mut`](Mux::source_mut).
    ///
    /// # Errors
    /// If the poller refuses the source.
    pub fn add_source<S: Source>(&mut self, source: S, interest: Interest) -> io::Result<SourceId> {
        let index = self.sources.vacant_key();
        let boxed: Box<dyn AnySource> = Box::new(source);
        sys::register_source(
            &self.poller,
            boxed.handle(),
            interest.event(key(index, KIND_SOURCE)),
        )
        .map_err(|e| context(e, "registering a source"))?;
        self.sources.insert(boxed);
        Ok(SourceId(index))
    }

    /// Changes which readiness is reported for a source.
    ///
    /// # Errors
    /// `NotFound` for an unknown source; otherwise the poller's error.
    pub fn set_interest(&mut self, id: SourceId, interest: Interest) -> io::Result<()> {
        let src = self.sources.get(id.0).ok_or_else(no_such_source)?;
        sys::modify_source(
            &self.poller,
            src.handle(),
            interest.event(key(id.0, KIND_SOURCE)),
        )
    }

    /// The source, if `id` is one and it has type `S`.
    pub fn source<S: Source>(&self, id: SourceId) -> Option<&S> {
        self.sources.get(id.0)?.as_any().downcast_ref()
    }

    /// The source, mutably, if `id` is one and it has type `S`.
    pub fn source_mut<S: Source>(&mut self, id: SourceId) -> Option<&mut S> {
        self.sources.get_mut(id.0)?.as_any_mut().downcast_mut()
    }

    /// Removes a source from the loop and gives it back.
    ///
    /// # Errors
    /// `NotFound` if `id` is unknown, `InvalidInput` if the source is not an `S` (it then stays).
    pub fn remove_source<S: Source>(&mut self, id: SourceId) -> io::Result<S> {
        let src = self.sources.get(id.0).ok_or_else(no_such_source)?;
        if !src.as_any().is::<S>() {
            return Err(other_type());
        }
        let src = self.sources.remove(id.0);
        sys::deregister_source(&self.poller, src.handle());
        match src.into_any().downcast::<S>() {
            Ok(s) => Ok(*s),
            Err(_) => Err(other_type()),
        }
    }

    /// The poller reported source `index` ready: an [`Event::Ready`](crate::Event::Ready),
    /// unless the source is gone (a stale key).
    pub(super) fn on_source_ready(&self, index: usize, ev: polling::Event, events: &mut Events) {
        if self.sources.contains(index) {
            events.items.push(Item::Ready(Readiness {
                source: SourceId(index),
                readable: ev.readable,
                writable: ev.writable,
            }));
        }
    }

    /// Deregisters and drops every source (the `Mux` is dropped).
    pub(super) fn deregister_sources(&mut self) {
        for (_, src) in std::mem::take(&mut self.sources) {
            sys::deregister_source(&self.poller, src.handle());
        }
    }
}
