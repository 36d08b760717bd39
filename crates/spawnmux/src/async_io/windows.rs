//! Windows: one thread per `AsyncMux` owns the `Mux` (`bridge.rs` explains why and how).

pub(super) use crate::bridge::Bridge as Inner;
