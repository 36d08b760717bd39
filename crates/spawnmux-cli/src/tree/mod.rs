//! What is left of a helper's process tree once its main process has gone, and the runner's
//! duties as a parent of orphans. The runner uses only the items below; each platform provides
//! them with the same signatures:
//!
//! - `group_members(pgid) -> usize`: live members of a helper's process group (its first
//!   process's pid). Zombies never count: a dead process is not "still running". Linux counts
//!   them from `/proc`; other Unixes can only tell "some" (1) or none (0) with `killpg(pgid, 0)`,
//!   which also sees zombies (`COUNT_IS_EXACT` = false); Windows has no groups (0: the job
//!   object of the child ends the tree when the `Mux` lets go of it or kills it).
//! - `signal_group(pgid, signal)`: a signal to every member, if the group still has members.
//! - `become_subreaper()`: Linux `PR_SET_CHILD_SUBREAPER`, so that orphaned descendants of the
//!   helpers (a shell's child after the shell exited, a daemon that `setsid`ed) are re-parented
//!   to spawnmux instead of init. Elsewhere: nothing (`false`).
//! - `reap_orphans(owned) -> Reaped`: reaps exited children that the `Mux` does not own (the
//!   orphans re-parented to us, or, as PID 1, anything); see the function for how the `Mux`'s
//!   own children are left alone.
//! - `descendants() -> Vec<u32>`: live descendants of this process (Linux), except the
//!   library's group guard; the final sweep stops them.
//! - `signal_pids(pids, signal)`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(all(unix, not(target_os = "linux")))]
mod unix;
#[cfg(all(unix, not(target_os = "linux")))]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

/// The stop and kill signals' numbers (`SIGTERM`, `SIGKILL`; Windows: unused).
#[cfg(unix)]
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
#[cfg(unix)]
pub(crate) const SIGKILL: i32 = libc::SIGKILL;
#[cfg(not(unix))]
pub(crate) const SIGTERM: i32 = 15;
#[cfg(not(unix))]
pub(crate) const SIGKILL: i32 = 9;

/// Result of [`reap_orphans`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reaped {
    /// Orphans reaped in this pass.
    pub(crate) count: usize,
    /// The pass stopped at an exited child that the `Mux` owns (and will reap itself):
    /// look again once the `Mux` has done so.
    pub(crate) blocked: bool,
}

#[cfg(unix)]
mod unix_common {
    use std::collections::HashSet;

    use super::Reaped;

    /// Reaps exited children that are not in `owned` (the pids the `Mux` still has to reap).
    ///
    /// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)` names an exited child without reaping it;
    /// only if it is not one of the `Mux`'s is it reaped (by pid). The `Mux`'s promise (it
    /// reaps its own children by pid, nobody else does) is kept. When the exited child named
    /// is the `Mux`'s, the pass stops (`blocked`): the kernel would name it again until the
    /// `Mux` reaps it, which it does on its next `wait`.
    pub(crate) fn reap_orphans(owned: &HashSet<u32>) -> Reaped {
        let mut reaped = Reaped::default();
        loop {
            // SAFETY: `siginfo_t` is plain data; zeroed is a valid value (si_pid 0 = nothing).
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid, writable siginfo_t; P_ALL ignores the id argument.
            let r = unsafe {
                libc::waitid(
                    libc::P_ALL,
                    0,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            if r != 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return reaped; // ECHILD: no child at all
            }
            // SAFETY: waitid filled `info` for an exited child (or left si_pid 0 for none).
            let pid = unsafe { info.si_pid() };
            if pid <= 0 {
                return reaped;
            }
            if owned.contains(&(pid as u32)) {
                reaped.blocked = true;
                return reaped;
            }
            let Some(p) = rustix::process::Pid::from_raw(pid) else {
                return reaped;
            };
            // It has exited: this does not block. ECHILD: someone else reaped it meanwhile.
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
            reaped.count += 1;
        }
    }

    /// `signal` (a number) as rustix's type; `None` for a number this platform does not know.
    fn os_signal(signal: i32) -> Option<rustix::process::Signal> {
        rustix::process::Signal::from_named_raw(signal)
    }

    /// Sends `signal` to each pid (errors ignored: it may be gone).
    pub(crate) fn signal_pids(pids: &[u32], signal: i32) {
        let Some(sig) = os_signal(signal) else {
            return;
        };
        for &pid in pids {
            if let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, sig);
            }
        }
    }

    /// `killpg(pgid, signal)` (errors ignored); never for group 1 (init's).
    pub(crate) fn killpg(pgid: u32, signal: i32) {
        let (Some(sig), Some(pgid)) = (
            os_signal(signal),
            i32::try_from(pgid)
                .ok()
                .filter(|&p| p > 1)
                .and_then(rustix::process::Pid::from_raw),
        ) else {
            return;
        };
        let _ = rustix::process::kill_process_group(pgid, sig);
    }
}
