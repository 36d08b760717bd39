//! The command's one platform seam (the library's is `spawnmux::sys`). Everything the runner
//! does differently per platform is here, with the same signatures everywhere:
//!
//! Signals and stops
//! - `install(mux) -> Signals`: the stop signals (SIGINT, SIGTERM, SIGHUP; Windows: Ctrl+C,
//!   Ctrl+Break, console close), SIGCHLD and SIGWINCH reach the runner's loop, as `Mux`
//!   sources (Unix) or a [`Wake::Interrupt`] wake-up (Windows). `Signals::drain(mux, source)`
//!   names the signals a source stands for; `is_child_exit(sig)`, `is_resize(sig)` (spawnmux's
//!   terminal changed size; never on Windows, where a console sends no such signal).
//! - `signal_name(sig)`; `SIGINT`, `SIGTERM`, `SIGKILL` (Windows: the POSIX numbers, used
//!   only as names: a stop there is the library's `terminate`).
//! - `send_stop(mux, child, signal)`: a helper's stop signal to its process group (Windows:
//!   `Mux::terminate`).
//! - `shell(line) -> Command`: `sh -c LINE` / `cmd /d /c LINE`.
//!
//! Process trees (what is left of a helper once its main process has gone)
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
//!
//! The control endpoint (`spawnmux ctl`; the reasoning is in ARCHITECTURE.md)
//! - `CtlListener`, `CtlStream`: the listening socket (a `Mux` source) and a connection
//!   (Unix: a Unix domain socket; Windows: loopback TCP).
//! - `ctl_dir() -> PathBuf`: the per-user directory of endpoints; `ctl_dir_ready(dir,
//!   create)`: made if missing and `create`, and checked (Unix: not a link, this user's, no
//!   one else may write: else `PermissionDenied`, saying why); `CTL_SUFFIX`.
//! - `ctl_bind(path) -> CtlEndpoint { listener, token, stamp }`: listening at `path` (Unix:
//!   the socket, mode 0600; Windows: the endpoint file with port and token, owner-only
//!   DACL); `AlreadyExists` if something is at `path`. `token`: what a client must present
//!   first (Windows only).
//! - `ctl_connect(path) -> (CtlStream, token)`, `ctl_accept(listener)` (non-blocking).
//! - `ctl_is_stale(err)`: a failed connect that means no runner is there any more;
//!   `ctl_remove_stale(path)` (Unix: sockets only); `ctl_remove(path, stamp)`: removes the
//!   endpoint only if it is still the one this process made.
//!
//! Terminals (`tty`)
//! - `window_size() -> Option<(rows, cols)>`: spawnmux's own terminal's, if stdout is one
//!   (Windows: the console window's). Read at each `tty` helper's start, and on Unix again at
//!   each `SIGWINCH` (`is_resize`) to resize the running ones.
//!
//! Input (`--handle-input`)
//! - `input(mux) -> Input`: spawnmux's stdin reaches the loop: Unix, as a `Mux` source
//!   (`Input::owns(source)`); Windows, where console input cannot be polled with the
//!   `Mux`'s completion port, through one reader thread that wakes the loop with
//!   [`Wake::Input`]. `Input::read(mux) -> (bytes, ended)`: what was read since the last call.
//!
//! The demo
//! - `set_transport(cmd, transport)`: Windows' socket or pipe transport; nothing elsewhere.
//!
//! Log files (`log_file`)
//! - `open_log(path) -> File`: opened to append, created if missing: mode 0600 on Unix (a
//!   helper's output may hold secrets; an existing file keeps its mode); the directory's
//!   default ACL on Windows.
//!
//! Checks (`ready_tcp`, `ready_http`, `alive_*`)
//! - `connect_pending(error) -> bool`: a non-blocking `connect`'s error only says that the
//!   connection is under way (Unix `EINPROGRESS`, Windows `WSAEWOULDBLOCK`).
//!
//! Ports (is a restarting helper's port free again?)
//! - `SERVER_REUSES_ADDRESS`: whether a server's bind sets `SO_REUSEADDR` (Unix: yes, so that
//!   an old instance's connections in `TIME_WAIT` do not count; Windows: no, there it would
//!   let a bind take a port in use).
//! - `in_use(error) -> bool`: a bind's error says that the port is taken (`EADDRINUSE`;
//!   Windows also `WSAEACCES`, a socket with `SO_EXCLUSIVEADDRUSE`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(all(unix, not(target_os = "linux")))]
mod bsd;
#[cfg(all(unix, not(target_os = "linux")))]
pub(crate) use bsd::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

/// Result of [`reap_orphans`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reaped {
    /// Orphans reaped in this pass.
    pub(crate) count: usize,
    /// The pass stopped at an exited child that the `Mux` owns (and will reap itself):
    /// look again once the `Mux` has done so.
    pub(crate) blocked: bool,
}

/// The runner's wake-up tokens (`Event::Woken`): who woke the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Windows: Ctrl+C, Ctrl+Break or the console closing (SIGINT).
    Interrupt,
    /// The file watcher's thread collected changes.
    Watch,
    /// Windows: the stdin reader thread read something (`--handle-input`).
    Input,
}

impl Wake {
    pub(crate) fn token(self) -> u64 {
        match self {
            Wake::Interrupt => 1,
            Wake::Watch => 2,
            Wake::Input => 3,
        }
    }

    pub(crate) fn from_token(token: u64) -> Option<Wake> {
        [Wake::Interrupt, Wake::Watch, Wake::Input]
            .into_iter()
            .find(|w| w.token() == token)
    }
}
