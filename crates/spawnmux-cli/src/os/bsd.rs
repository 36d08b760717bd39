//! macOS and the BSDs: no `/proc`. `killpg(pgid, 0)` tells whether a group has members, but
//! cannot tell a zombie from a live process (an orphaned zombie there is reaped by launchd or
//! init within moments). No subreaper (FreeBSD's `procctl(PROC_REAP_ACQUIRE)` would be one:
//! not done), so no orphan comes back to us and there is no descendant sweep.

/// `group_members` says 1 for "some".
pub(crate) const COUNT_IS_EXACT: bool = false;

/// 1 if group `pgid` has members (zombies included), else 0.
pub(crate) fn group_members(pgid: u32) -> usize {
    let Some(pid) = i32::try_from(pgid)
        .ok()
        .filter(|&p| p > 1)
        .and_then(rustix::process::Pid::from_raw)
    else {
        return 0;
    };
    usize::from(rustix::process::test_kill_process_group(pid).is_ok())
}

/// `signal` to group `pgid` if it has members.
pub(crate) fn signal_group(pgid: u32, signal: i32) {
    if group_members(pgid) > 0 {
        super::unix::killpg(pgid, signal);
    }
}

pub(crate) fn become_subreaper() -> bool {
    false
}

/// Unknown without `/proc`: none.
pub(crate) fn descendants() -> Vec<u32> {
    Vec::new()
}
