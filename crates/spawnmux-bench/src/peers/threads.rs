//! (d) `std::process` with two reader threads per child (`BufReader::read_until`), and the
//! baselines: (e) a raw 64 KiB read loop on one pipe, the same on a pipe grown to 1 MiB, and a
//! bare `Command::output()`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{check_echo, missing, ping, std_stdin, Peer, BUF};
use crate::common::{Job, Tally, ERR, OUT};

pub struct ThreadsPeer;

fn count(stream: usize, reader: impl Read) -> io::Result<Tally> {
    let mut reader = BufReader::with_capacity(BUF, reader);
    let mut tally = Tally::default();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(tally);
        }
        tally.read_until(stream, &line);
    }
}

fn reader_thread(
    stream: usize,
    reader: impl Read + Send + 'static,
) -> io::Result<JoinHandle<io::Result<Tally>>> {
    std::thread::Builder::new().spawn(move || count(stream, reader))
}

fn joined(h: JoinHandle<io::Result<Tally>>) -> io::Result<Tally> {
    h.join()
        .map_err(|_| io::Error::other("a reader thread panicked"))?
}

impl Peer for ThreadsPeer {
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>> {
        let mut running = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut child = Command::new(exe)
                .args(&job.args)
                .stdin(std_stdin(job)?)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let out = child.stdout.take().ok_or_else(|| missing("stdout"))?;
            let err = child.stderr.take().ok_or_else(|| missing("stderr"))?;
            let out = reader_thread(OUT, out)?;
            let err = reader_thread(ERR, err)?;
            running.push((child, out, err));
        }
        spawned();
        let mut tallies = Vec::with_capacity(jobs.len());
        for (mut child, out, err) in running {
            let out = joined(out)?;
            let err = joined(err)?;
            let status = child.wait()?;
            tallies.push(Tally {
                lines: [out.lines[OUT], err.lines[ERR]],
                bytes: [out.bytes[OUT], err.bytes[ERR]],
                partial: [out.partial[OUT], err.partial[ERR]],
                exit_ok: status.success(),
            });
        }
        Ok(tallies)
    }

    /// One child, one stream: the natural std way is a blocking read on this thread, no
    /// reader thread needed.
    fn echo(&mut self, exe: &Path, rounds: usize) -> io::Result<Vec<Duration>> {
        let mut child = Command::new(exe)
            .arg("echo")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
        let mut reader = BufReader::with_capacity(BUF, stdout);
        let mut times = Vec::with_capacity(rounds);
        let mut line = Vec::new();
        let mut back = Vec::new();
        for i in 0..rounds {
            ping(i, &mut line);
            let start = Instant::now();
            stdin.write_all(&line)?;
            back.clear();
            reader.read_until(b'\n', &mut back)?;
            times.push(start.elapsed());
            check_echo(&line, &back)?;
        }
        drop(stdin);
        child.wait()?;
        Ok(times)
    }
}

/// (e) A plain blocking read loop: one child's stdout read `BUF` (64 KiB) at a time, newlines
/// counted, no framing (stderr goes to /dev/null).
pub fn raw_read(exe: &Path, job: &Job) -> io::Result<Tally> {
    raw_loop(exe, job, false)
}

/// (e') The same loop on a pipe grown with `F_SETPIPE_SZ` right after the spawn, to 1 MiB or
/// `/proc/sys/fs/pipe-max-size` if smaller, reading as much as the pipe holds: the limit a
/// reader can reach on Linux. Fails if the kernel refuses the growth (the baseline would be
/// meaningless). Elsewhere the same as `raw_read`.
pub fn raw_read_grown(exe: &Path, job: &Job) -> io::Result<Tally> {
    raw_loop(exe, job, true)
}

fn raw_loop(exe: &Path, job: &Job, grow: bool) -> io::Result<Tally> {
    let mut child = Command::new(exe)
        .args(&job.args)
        .stdin(std_stdin(job)?)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut out = child.stdout.take().ok_or_else(|| missing("stdout"))?;
    let size = if grow { grow_pipe(&out)? } else { BUF };
    let mut buf = vec![0u8; size];
    let mut tally = Tally::default();
    let mut tail = false;
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        tally.lines[OUT] += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        tally.bytes[OUT] += n as u64;
        tail = buf[n - 1] != b'\n';
    }
    tally.partial[OUT] = u64::from(tail);
    tally.exit_ok = child.wait()?.success();
    Ok(tally)
}

/// The size `raw_read_grown` asks for: 1 MiB, or less if `pipe-max-size` says so (Linux: the
/// other kernels size pipes themselves).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const GROWN: usize = 1 << 20;

/// Grows the pipe to [`GROWN`] (or `pipe-max-size`); returns its new size.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn grow_pipe(fd: &impl std::os::fd::AsFd) -> io::Result<usize> {
    let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(GROWN);
    Ok(rustix::pipe::fcntl_setpipe_size(fd, GROWN.min(max))?)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn grow_pipe(_fd: &impl std::os::fd::AsFd) -> io::Result<usize> {
    Ok(BUF)
}

/// A bare `std::process::Command::output()`: spawn, capture both streams, reap; lines
/// counted afterwards.
pub fn std_output(exe: &Path, job: &Job) -> io::Result<Tally> {
    let output = Command::new(exe)
        .args(&job.args)
        .stdin(std_stdin(job)?)
        .output()?;
    let mut tally = Tally::default();
    for (s, data) in [(OUT, &output.stdout), (ERR, &output.stderr)] {
        for piece in data.split_inclusive(|&b| b == b'\n') {
            tally.read_until(s, piece);
        }
    }
    tally.exit_ok = output.status.success();
    Ok(tally)
}
