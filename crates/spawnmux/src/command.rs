//! [`Command`]: what to run and how its standard streams are connected.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::framing::FramingOptions;
use crate::pty::{Pty, PtySize};
use crate::sys;

/// The default maximum line length: 1 MiB.
pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;

/// Where a child's standard stream goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stdio {
    /// Captured by the [`Mux`](crate::Mux): output arrives as [`Event`](crate::Event)s, input is
    /// written with [`Mux::write_stdin`](crate::Mux::write_stdin).
    Capture,
    /// The parent's own stream.
    Inherit,
    /// The null device.
    Null,
    /// A file (for stdin: read from it; for stdout/stderr: written to it). The handle is
    /// duplicated at each spawn, so one `Command` can be spawned many times.
    File(File),
}

/// What to run, and how: a builder like [`std::process::Command`], spawned with
/// [`Mux::spawn`](crate::Mux::spawn).
///
/// Defaults: stdout and stderr [captured](Stdio::Capture), stdin [null](Stdio::Null) (a helper
/// reading the terminal would fight with you for it), the parent's environment and working
/// directory, lines of at most [`DEFAULT_MAX_LINE_LEN`] bytes, and
/// [`die_with_parent`](Command::die_with_parent) on.
///
/// Every child runs in a process group of its own (on Windows: a new process group and a job
/// object), so that [`Mux::terminate`](crate::Mux::terminate) reaches its whole tree and a
/// Ctrl-C in your terminal reaches only you: you decide how your children stop.
///
/// ```
/// use spawnmux::{Command, Stdio};
///
/// let mut cmd = Command::new("cargo");
/// cmd.args(["build", "--release"])
///     .env("CARGO_TERM_COLOR", "never")
///     .current_dir("/tmp")
///     .stdin(Stdio::Null)
///     .name("build");
/// assert_eq!(cmd.get_name(), "build");
/// ```
#[derive(Debug)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) env_clear: bool,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Stdio,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
    pub(crate) name: Option<String>,
    pub(crate) framing: FramingOptions,
    /// `strip_cr` or `cr_ends_line` was called: the framing is the user's, a pty does not
    /// change it.
    pub(crate) cr_set: bool,
    /// Run on a pseudo-terminal ([`Command::pty`], [`Command::pty_stdout`]).
    pub(crate) pty: Option<Pty>,
    pub(crate) flush_partial_after: Option<Duration>,
    pub(crate) die_with_parent: bool,
    /// The options only one platform has (`os::windows::CommandExt`).
    pub(crate) os: sys::CommandOptions,
}

impl Command {
    /// A command running `program`, looked up in `PATH` if it has no directory part.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            stdin: Stdio::Null,
            stdout: Stdio::Capture,
            stderr: Stdio::Capture,
            name: None,
            framing: FramingOptions {
                max_line: Some(DEFAULT_MAX_LINE_LEN),
                strip_cr: false,
                cr_ends_line: false,
            },
            cr_set: false,
            pty: None,
            flush_partial_after: None,
            die_with_parent: true,
            os: sys::CommandOptions::default(),
        }
    }

    /// Adds one argument, passed as is (no shell, no splitting).
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable for the child.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env) adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Where the child's stdin comes from (default: [`Stdio::Null`]).
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Command {
        self.stdin = stdio;
        self
    }

    /// Where the child's stdout goes (default: [`Stdio::Capture`]).
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Command {
        self.stdout = stdio;
        self
    }

    /// Where the child's stderr goes (default: [`Stdio::Capture`]).
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Command {
        self.stderr = stdio;
        self
    }

    /// The name carried by this child's events (default: the program's file name).
    pub fn name(&mut self, name: impl Into<String>) -> &mut Command {
        self.name = Some(name.into());
        self
    }

    /// The name events will carry: the one set with [`name`](Command::name), else the
    /// program's file name.
    pub fn get_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let p = Path::new(&self.program);
        p.file_name()
            .unwrap_or(p.as_os_str())
            .to_string_lossy()
            .into_owned()
    }

    /// The program.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(|a| a.as_os_str())
    }

    /// Lines longer than `max` bytes are delivered in pieces of `max` bytes (see
    /// [`Output`](crate::Output)); this bounds the memory held per stream. Default: 1 MiB.
    /// A `max` of 0 is treated as 1.
    pub fn max_line_len(&mut self, max: usize) -> &mut Command {
        self.framing.max_line = Some(max);
        self
    }

    /// Removes a `\r` before each `\n` (Windows line endings). Default: off, bytes are kept.
    pub fn strip_cr(&mut self, strip: bool) -> &mut Command {
        self.framing.strip_cr = strip;
        self.cr_set = true;
        self
    }

    /// Makes a lone `\r` (not followed by `\n`) end a line too, and `\r\n` one line end
    /// without the `\r`: each update of a progress bar drawn with carriage returns becomes a
    /// line of its own instead of being held (up to the maximum line length) until a `\n`.
    /// Every `\n` and every `\r\n` ends exactly one line, empty or not; only an empty line
    /// ended by a lone `\r` (the carriage return a progress bar starts each update with) is
    /// not delivered. Default: off, `\r` is an ordinary byte; on for a child on a
    /// pseudo-terminal ([`Command::pty`]) unless you call this or
    /// [`strip_cr`](Command::strip_cr).
    pub fn cr_ends_line(&mut self, on: bool) -> &mut Command {
        self.framing.cr_ends_line = on;
        self.cr_set = true;
        self
    }

    /// Delivers output as raw chunks, one [`Output`](crate::Output) per read, instead of lines.
    pub fn raw_chunks(&mut self) -> &mut Command {
        self.framing.max_line = None;
        self
    }

    /// Delivers an unfinished line (a prompt, a progress bar) once the stream has been quiet for
    /// `idle`, instead of holding it until its newline. Default: held until newline or EOF.
    /// An `idle` longer than the clock can count from now (`Duration::MAX`) is the default.
    pub fn flush_partial_after(&mut self, idle: Duration) -> &mut Command {
        self.flush_partial_after = Some(idle);
        self
    }

    /// Runs the child on a pseudo-terminal: stdin, stdout and stderr all on it. Its output is one
    /// stream, delivered as [`Stream::Stdout`](crate::Stream::Stdout);
    /// [`Mux::write_stdin`](crate::Mux::write_stdin) types into it.
    ///
    /// This overrides [`stdin`](Command::stdin), [`stdout`](Command::stdout) and
    /// [`stderr`](Command::stderr), whenever they were called. The child sees a terminal
    /// (`isatty` is true) of `size`, changed later with [`Mux::resize`](crate::Mux::resize),
    /// so it colours its output, draws progress bars and reads keys as it does in your
    /// terminal. Use [`pty_stdout`](Command::pty_stdout) to keep warnings apart.
    ///
    /// The terminal turns each `\n` the child writes into `\r\n`, and programs draw progress
    /// with `\r`: so [`cr_ends_line`](Command::cr_ends_line) is on for a pty child unless
    /// you set [`cr_ends_line`](Command::cr_ends_line) or [`strip_cr`](Command::strip_cr)
    /// yourself (lines arrive without the `\r`). The terminal also echoes what you type
    /// (unless the child turns echo off) and turns a `^C` you write into `SIGINT` for the
    /// child's foreground process group, as a real terminal does.
    ///
    /// [`Mux::close_stdin`](crate::Mux::close_stdin) closes only spawnmux's writing end: the
    /// terminal stays open (the child's output goes on), and the child sees no end of file.
    /// To send one, write the terminal's end-of-file character (`b"\x04"`, `^D`) at the start
    /// of a line, as you would in a shell.
    ///
    /// When the child exits, the terminal hangs up: a grandchild still on it gets `SIGHUP`
    /// (and ends, unless it handles the signal), where with pipes it would run on.
    ///
    /// # Platform specific behavior
    /// - Unix: a pseudo-terminal pair (`posix_openpt`); the child runs in a session of its own
    ///   (`setsid`) with the terminal as its controlling terminal, so its process group (the one
    ///   [`Mux::terminate`](crate::Mux::terminate) signals) is still a group of its own; the
    ///   spawn forks instead of using `posix_spawn`. The terminal's signals (`SIGHUP`,
    ///   `SIGINT`, `SIGQUIT`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`) start at their default action in
    ///   the child even if your process ignores them (under `nohup`, or in the background of a
    ///   non-interactive shell), as a terminal emulator does for its shell; a child on pipes
    ///   inherits what your process ignores, as with `std::process`.
    /// - Windows: a pseudo console (ConPTY, Windows 10 1809 or later; before that spawning
    ///   fails with [`io::ErrorKind::Unsupported`](std::io::ErrorKind::Unsupported)). Wine 8
    ///   does not connect the child's standard handles to it (see ARCHITECTURE.md, "ConPTY
    ///   under Wine").
    pub fn pty(&mut self, size: PtySize) -> &mut Command {
        self.pty = Some(Pty {
            size,
            stderr_too: true,
        });
        self
    }

    /// stdin and stdout on a pseudo-terminal, stderr captured as a pipe as usual (warnings stay
    /// warnings; cargo colours stderr only if stderr is a terminal, so use
    /// [`pty`](Command::pty) for cargo).
    ///
    /// This overrides [`stdin`](Command::stdin) and [`stdout`](Command::stdout);
    /// [`stderr`](Command::stderr) applies as usual. Everything else is as for
    /// [`pty`](Command::pty).
    ///
    /// # Platform specific behavior
    /// As for [`pty`](Command::pty); on Windows stderr is a pipe of the command's transport.
    pub fn pty_stdout(&mut self, size: PtySize) -> &mut Command {
        self.pty = Some(Pty {
            size,
            stderr_too: false,
        });
        self
    }

    /// The terminal settings, if any: (size, whether stderr is on the terminal too).
    pub fn get_pty(&self) -> Option<(PtySize, bool)> {
        self.pty.map(|p| (p.size, p.stderr_too))
    }

    /// The framing the child's streams get: the user's, with `cr_ends_line` on for a pty child
    /// unless the user chose the `\r` handling.
    pub(crate) fn effective_framing(&self) -> FramingOptions {
        let mut framing = self.framing;
        if self.pty.is_some() && !self.cr_set {
            framing.cr_ends_line = true;
        }
        framing
    }

    /// Makes the child die when this process dies, even by `SIGKILL` (default: on).
    ///
    /// # Platform specific behavior
    /// - Linux: the child's whole process group, killed by spawnmux's *group guard*: one
    ///   helper process per process (`spawnmux-guard`, started at the first such spawn) that
    ///   learns each child's group from the parent right after the spawn and `SIGKILL`s the
    ///   groups when this process is gone. Processes that leave the group (`setsid`), the child
    ///   included, escape it; so does a child whose spawn was under way (between its creation
    ///   and its registration, a fraction of a millisecond) when this process was killed. If the
    ///   guard cannot be started, `PR_SET_PDEATHSIG` (`SIGKILL`) covers the child itself
    ///   (children are then forked from the main thread or one internal spawner thread).
    /// - Windows: the job object's `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` (the whole tree).
    /// - macOS and BSD: no kernel mechanism exists without a watcher process; the option is
    ///   accepted and has no effect there.
    ///
    pub fn die_with_parent(&mut self, on: bool) -> &mut Command {
        self.die_with_parent = on;
        self
    }
}
