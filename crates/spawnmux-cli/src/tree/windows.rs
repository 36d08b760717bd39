//! Windows: no process groups to look at. A child's job object holds its whole tree: the
//! `Mux` kills it with the job (`Mux::kill`), and closes the job (`KILL_ON_JOB_CLOSE`) when it
//! lets go of the child, so nothing of a helper outlives its slot. No orphans come back to us.

use std::collections::HashSet;

use super::Reaped;

pub(crate) const COUNT_IS_EXACT: bool = false;

pub(crate) fn group_members(_pgid: u32) -> usize {
    0
}

pub(crate) fn signal_group(_pgid: u32, _signal: i32) {}

pub(crate) fn become_subreaper() -> bool {
    false
}

pub(crate) fn reap_orphans(_owned: &HashSet<u32>) -> Reaped {
    Reaped::default()
}

pub(crate) fn descendants() -> Vec<u32> {
    Vec::new()
}

pub(crate) fn signal_pids(_pids: &[u32], _signal: i32) {}
