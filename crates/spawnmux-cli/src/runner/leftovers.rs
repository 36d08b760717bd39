//! The runner as a parent: reaping the orphans that come back to it, and the final sweep of
//! every descendant still alive when the run ends.

use std::collections::HashSet;
use std::io;
use std::time::Instant;

use super::Runner;
use crate::os;
use crate::record::Record;
use crate::supervisor::{LAST_WAIT, TREE_CHECK};

impl Runner {
    /// The pids the `Mux` still has to reap: a reaping pass must leave them alone.
    pub(super) fn owned_pids(&self) -> HashSet<u32> {
        self.mux
            .children()
            .filter_map(|c| self.mux.pid(c))
            .collect()
    }

    /// Reaps the orphans that came back to us (we are a subreaper, or PID 1), never one of
    /// the `Mux`'s own children.
    pub(super) fn reap(&mut self) {
        if !self.reap_pending && self.reap_retry.is_none_or(|t| t > Instant::now()) {
            return;
        }
        let r = os::reap_orphans(&self.owned_pids());
        self.reap_pending = false;
        self.reap_retry = r.blocked.then(|| Instant::now() + TREE_CHECK);
    }

    /// At the end of the run: stops every descendant still left (processes that escaped
    /// their helper's group with `setsid`, or were orphaned outside it; Linux, where spawnmux
    /// is their subreaper): the stop signal, up to `LAST_WAIT`, then `SIGKILL`.
    pub(super) fn sweep(&mut self) -> io::Result<()> {
        let left = os::descendants();
        if left.is_empty() {
            return Ok(());
        }
        self.log.record(&Record::Sweep { count: left.len() })?;
        os::signal_pids(&left, os::SIGTERM);
        let deadline = Instant::now() + LAST_WAIT;
        loop {
            // The `Mux` may still own children here only after an error ended the loop; its
            // drop kills and reaps them.
            let owned = self.owned_pids();
            os::reap_orphans(&owned);
            let left: Vec<u32> = os::descendants()
                .into_iter()
                .filter(|p| !owned.contains(p))
                .collect();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                os::signal_pids(&left, os::SIGKILL);
                std::thread::sleep(TREE_CHECK);
                os::reap_orphans(&owned);
                return Ok(());
            }
            std::thread::sleep(TREE_CHECK);
        }
    }
}
