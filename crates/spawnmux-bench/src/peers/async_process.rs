//! (c) async-process on a single-threaded executor: an async-executor `LocalExecutor` run by
//! `async_io::block_on`, a task per stream reading with `BufReader::read_until`. The reaper's
//! driver runs as a task on the same executor (async-process's documented way to avoid its
//! background thread).

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_process::{Command, Stdio};
use futures_lite::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

use super::{check_echo, missing, ping, std_stdin, Peer, BUF};
use crate::common::{Job, Tally, ERR, OUT};

pub struct AsyncProcessPeer {
    ex: LocalExecutor<'static>,
}

impl AsyncProcessPeer {
    pub fn new() -> AsyncProcessPeer {
        let ex = LocalExecutor::new();
        ex.spawn(async_process::driver()).detach();
        AsyncProcessPeer { ex }
    }
}

async fn count(stream: usize, reader: impl AsyncRead + Unpin) -> io::Result<Tally> {
    let mut reader = BufReader::with_capacity(BUF, reader);
    let mut tally = Tally::default();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(tally);
        }
        tally.read_until(stream, &line);
    }
}

impl Peer for AsyncProcessPeer {
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>> {
        let ex = &self.ex;
        async_io::block_on(ex.run(async {
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
                let out = ex.spawn(count(OUT, out));
                let err = ex.spawn(count(ERR, err));
                running.push((child, out, err));
            }
            spawned();
            let mut tallies = Vec::with_capacity(jobs.len());
            for (mut child, out, err) in running {
                let out = out.await?;
                let err = err.await?;
                let status = child.status().await?;
                tallies.push(Tally {
                    lines: [out.lines[OUT], err.lines[ERR]],
                    bytes: [out.bytes[OUT], err.bytes[ERR]],
                    partial: [out.partial[OUT], err.partial[ERR]],
                    exit_ok: status.success(),
                });
            }
            Ok(tallies)
        }))
    }

    fn echo(&mut self, exe: &Path, rounds: usize) -> io::Result<Vec<Duration>> {
        let ex = &self.ex;
        async_io::block_on(ex.run(async {
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
                stdin.write_all(&line).await?;
                back.clear();
                reader.read_until(b'\n', &mut back).await?;
                times.push(start.elapsed());
                check_echo(&line, &back)?;
            }
            drop(stdin);
            child.status().await?;
            Ok(times)
        }))
    }
}
