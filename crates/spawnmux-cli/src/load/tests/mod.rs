//! Loading end to end: text and arguments in, plan or one-line error out. The tests of one
//! source that need the whole way (names and durations are checked by `validate.rs`, not by
//! the source) live here, one module per source; tests of a lowering alone stay beside it.

mod args;
mod backoff;
mod checks;
mod config;
mod files;
mod flow;
mod ports;
mod procfile;
