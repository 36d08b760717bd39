//! (b) `tokio::process` on a current-thread runtime: a task per stream reading with
//! `BufReader::read_until` (64 KiB, like every peer; 8 KiB, `BufReader`'s default, for the
//! `tokio-8k` peer of W1 and W2 and the `tokio-mt-8k` peer of `--discrepancy`, the latter on a
//! multi-thread runtime with 2 workers).

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::runtime::Runtime;

use super::{check_echo, missing, ping, std_stdin, Peer};
use crate::common::{Job, Tally, ERR, OUT};

pub struct TokioPeer {
    rt: Runtime,
    /// The `BufReader`'s capacity per stream.
    buf: usize,
}

impl TokioPeer {
    /// `workers`: `None` for a current-thread runtime, else a multi-thread runtime with that
    /// many worker threads.
    pub fn new(buf: usize, workers: Option<usize>) -> io::Result<TokioPeer> {
        let rt = match workers {
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            Some(n) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()?,
        };
        Ok(TokioPeer { rt, buf })
    }
}

async fn count(stream: usize, reader: impl AsyncRead + Unpin, buf: usize) -> io::Result<Tally> {
    let mut reader = BufReader::with_capacity(buf, reader);
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

fn joined<T>(r: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(io::Error::other)?
}

impl Peer for TokioPeer {
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>> {
        self.rt.block_on(async {
            let mut running = Vec::with_capacity(jobs.len());
            for job in jobs {
                let mut child = Command::new(exe)
                    .args(&job.args)
                    .stdin(std_stdin(job)?)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()?;
                let out = child.stdout.take().ok_or_else(|| missing("stdout"))?;
                let err = child.stderr.take().ok_or_else(|| missing("stderr"))?;
                let out = tokio::spawn(count(OUT, out, self.buf));
                let err = tokio::spawn(count(ERR, err, self.buf));
                running.push((child, out, err));
            }
            spawned();
            let mut tallies = Vec::with_capacity(jobs.len());
            for (mut child, out, err) in running {
                let out = joined(out.await)?;
                let err = joined(err.await)?;
                let status = child.wait().await?;
                tallies.push(Tally {
                    lines: [out.lines[OUT], err.lines[ERR]],
                    bytes: [out.bytes[OUT], err.bytes[ERR]],
                    partial: [out.partial[OUT], err.partial[ERR]],
                    exit_ok: status.success(),
                });
            }
            Ok(tallies)
        })
    }

    fn echo(&mut self, exe: &Path, rounds: usize) -> io::Result<Vec<Duration>> {
        self.rt.block_on(async {
            let mut child = Command::new(exe)
                .arg("echo")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let mut stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
            let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
            let mut reader = BufReader::with_capacity(self.buf, stdout);
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
            child.wait().await?;
            Ok(times)
        })
    }
}
