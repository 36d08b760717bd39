//! A ready-made [`tracing`] sink, as in the seed's Qgoda: a child's stdout lines are logged at
//! INFO, its stderr lines at WARN, with the child's name as the `child` field.
//!
//! ```no_run
//! use spawnmux::{Command, Events, Mux};
//!
//! let mut mux = Mux::new()?;
//! mux.spawn(Command::new("webpack").arg("--watch").name("webpack"))?;
//! let mut events = Events::new();
//! loop {
//!     mux.wait(&mut events, None)?;
//!     events.iter().for_each(spawnmux::trace::log_event);
//! }
//! # #[allow(unreachable_code)] std::io::Result::Ok(())
//! ```

use crate::event::{Event, Stream};

/// The `tracing` target of these records.
pub const TARGET: &str = "spawnmux::child";

/// Logs one event:
/// - an output line: stdout at INFO, stderr at WARN, fields `child` (name) and `stream`,
///   the line as the message (invalid UTF-8 replaced by U+FFFD);
/// - an exit: INFO if successful, WARN otherwise, with the exit status;
/// - a failed stdin write: WARN.
///
/// Other events (closed streams, wake-ups, readiness) are not logged.
pub fn log_event(event: Event<'_>) {
    match event {
        Event::Output(out) => {
            let line = out.text();
            match out.stream {
                Stream::Stdout => {
                    tracing::info!(target: TARGET, child = out.name, stream = "stdout", "{line}")
                }
                Stream::Stderr => {
                    tracing::warn!(target: TARGET, child = out.name, stream = "stderr", "{line}")
                }
            }
        }
        Event::Exited { name, exit, .. } if exit.success() => {
            tracing::info!(target: TARGET, child = name, "exited ({exit})")
        }
        Event::Exited { name, exit, .. } => {
            tracing::warn!(target: TARGET, child = name, "exited ({exit})")
        }
        Event::StdinFailed {
            name, kind, unsent, ..
        } => {
            tracing::warn!(target: TARGET, child = name, "writing stdin failed ({kind}); {unsent} bytes not sent")
        }
        _ => {}
    }
}
