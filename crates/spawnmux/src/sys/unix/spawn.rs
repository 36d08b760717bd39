//! Spawning on Unix: `std::process::Command` (exec errors reported, CLOEXEC everywhere,
//! `posix_spawn` when no `pre_exec` hook is needed), one process group per child.
//!
//! `die_with_parent` (Linux) is the group guard (`guard.rs`), told about each child by the
//! parent right after the spawn, so `posix_spawn` stays in use.
//!
//! # `PR_SET_PDEATHSIG` and threads (Linux, only when the guard cannot be started)
//! The parent-death signal fires when the *thread* that forked the child exits, not the
//! process. A `Mux` may be driven from a worker thread (or, in tests, a test thread) that ends
//! while the program goes on, which would kill its children. So a child with
//! `die_with_parent` is forked either from the main thread (whose exit is the process's) or
//! from one process-wide spawner thread that never exits, started the first time it is needed.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus};

use rustix::process::{Pid, Signal as OsSignal};

use super::pipe::{Reader, Writer};
use crate::command::{Command, Stdio};
use crate::event::Exit;
use crate::sys::{CommandOptions, Signal, Spawned};

/// A child process (and, through its process group, its descendants).
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    exit: Option<Exit>,
    /// Its slot in the group guard's table (Linux, `die_with_parent`).
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    guarded: Option<u32>,
}

impl Drop for Process {
    fn drop(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(slot) = self.guarded {
            // Started: the slot came from it.
            if let Some(guard) = super::guard::started() {
                guard.forget(slot);
            }
        }
    }
}

impl Process {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reaps the child if it has exited. Only this pid is waited for, never `-1`.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<Exit>> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait()?.map(exit_from_status);
        }
        Ok(self.exit)
    }

    /// Blocks until the child exits, and reaps it.
    pub(crate) fn wait(&mut self) -> io::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let exit = exit_from_status(self.child.wait()?);
        self.exit = Some(exit);
        Ok(exit)
    }

    /// Sends `sig` to the child's process group, and to the child itself while it is unreaped
    /// (it may have left the group with `setsid`). A group with no members left is not an error.
    ///
    /// After the child has been reaped its pid stays reserved as long as the group has members,
    /// so the group signal cannot reach an unrelated process unless every member is gone and
    /// the pid space has wrapped around; callers only signal reaped children whose output
    /// streams are still open (proof that a member is alive).
    pub(crate) fn signal_tree(&mut self, sig: Signal) -> io::Result<()> {
        let os_sig = match sig {
            Signal::Terminate => OsSignal::TERM,
            Signal::Kill => OsSignal::KILL,
            Signal::Raw(n) => OsSignal::from_named_raw(n).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("{n} is not a signal"))
            })?,
        };
        let Some(pid) = Pid::from_raw(self.pid() as i32) else {
            return Ok(());
        };
        let group = rustix::process::kill_process_group(pid, os_sig);
        if self.exit.is_none() {
            // Unreaped, so the pid is still ours even if the child has exited (zombie).
            match rustix::process::kill_process(pid, os_sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match group {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn exit_from_status(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(sig)) => Exit::Signal(sig),
        // Stopped/continued statuses are never returned by wait without WUNTRACED.
        (None, None) => Exit::Code(-1),
    }
}

fn std_stdio(stdio: &Stdio) -> io::Result<std::process::Stdio> {
    Ok(match stdio {
        Stdio::Capture => std::process::Stdio::piped(),
        Stdio::Inherit => std::process::Stdio::inherit(),
        Stdio::Null => std::process::Stdio::null(),
        Stdio::File(f) => f.try_clone()?.into(),
    })
}

fn build(cmd: &Command) -> io::Result<std::process::Command> {
    // No Unix-only options yet: a new one fails to compile here until it is applied.
    let CommandOptions {} = cmd.os;
    let mut c = std::process::Command::new(&cmd.program);
    c.args(&cmd.args);
    if cmd.env_clear {
        c.env_clear();
    }
    for (k, v) in &cmd.env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(dir) = &cmd.cwd {
        c.current_dir(dir);
    }
    c.stdin(std_stdio(&cmd.stdin)?);
    c.stdout(std_stdio(&cmd.stdout)?);
    c.stderr(std_stdio(&cmd.stderr)?);
    c.process_group(0);
    Ok(c)
}

/// Starts the child described by `cmd`.
pub(crate) fn spawn(cmd: &Command) -> io::Result<Spawned> {
    if cmd.pty.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "pseudo-terminals on Unix: not built yet",
        ));
    }
    let mut std_cmd = build(cmd)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let (mut child, guarded) = if !cmd.die_with_parent {
        (std_cmd.spawn()?, None)
    } else if let Some(guard) = super::guard::guard() {
        // No `pre_exec` hook: std takes its `posix_spawn` path (a `CLONE_VFORK` clone in
        // glibc and musl), and the parent registers the group as soon as the spawn returns.
        // The window this leaves is described in ARCHITECTURE.md ("Spawning (Unix)").
        let child = std_cmd.spawn()?;
        let slot = guard.register(child.id());
        (child, slot)
    } else {
        // No guard (it could not be started): `PR_SET_PDEATHSIG` for the direct child, which
        // needs a `pre_exec` hook and so std's fork path.
        pdeathsig::install(&mut std_cmd);
        (pdeathsig::spawn(std_cmd)?, None)
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let (mut child, guarded) = (std_cmd.spawn()?, None);
    let stdin = child.stdin.take().map(|p| Writer::new(OwnedFd::from(p)));
    let stdout = child.stdout.take().map(|p| Reader::new(OwnedFd::from(p)));
    let stderr = child.stderr.take().map(|p| Reader::new(OwnedFd::from(p)));
    let mut process = Process {
        child,
        exit: None,
        guarded,
    };
    match (stdin.transpose(), stdout.transpose(), stderr.transpose()) {
        (Ok(stdin), Ok(stdout), Ok(stderr)) => Ok(Spawned {
            process,
            stdin,
            stdout,
            stderr,
            pty: None,
        }),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            // Leave nothing behind: the child is ours, kill and reap it.
            let _ = process.signal_tree(Signal::Kill);
            let _ = process.wait();
            Err(e)
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod pdeathsig {
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::Child;
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};

    use rustix::process::{getpid, getppid, Signal};

    type Job = (std::process::Command, mpsc::SyncSender<io::Result<Child>>);

    /// Makes the child get SIGKILL when the forking thread (see the module doc) dies. Used
    /// only when the group guard (`guard.rs`) could not be started.
    pub(super) fn install(cmd: &mut std::process::Command) {
        let parent = getpid();
        // SAFETY: the hook runs in the forked child before exec and only makes raw,
        // async-signal-safe system calls (prctl, getppid); it allocates nothing and takes no
        // lock.
        unsafe {
            cmd.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
                // The parent may have died before prctl: then we were already reparented.
                if getppid() != Some(parent) {
                    return Err(io::Error::from(io::ErrorKind::Other));
                }
                Ok(())
            });
        }
    }

    /// Spawns from this thread if it is the main thread, else from the spawner thread.
    pub(super) fn spawn(mut cmd: std::process::Command) -> io::Result<Child> {
        if rustix::thread::gettid() == getpid() {
            return cmd.spawn();
        }
        let (tx, rx) = mpsc::sync_channel(1);
        spawner()
            .lock()
            .map_err(|_| io::Error::other("spawner thread lock poisoned"))?
            .send((cmd, tx))
            .map_err(|_| io::Error::other("spawner thread is gone"))?;
        rx.recv()
            .map_err(|_| io::Error::other("spawner thread is gone"))?
    }

    fn spawner() -> &'static Mutex<mpsc::Sender<Job>> {
        static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
        SPAWNER.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let run = move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            };
            // If the thread cannot be started, every send fails and spawn reports it.
            let _ = std::thread::Builder::new()
                .name("spawnmux-spawner".into())
                .spawn(run);
            Mutex::new(tx)
        })
    }
}
