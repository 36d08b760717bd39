//! (a') spawnmux through its tokio adapter: one `AsyncMux` awaited on a current_thread
//! runtime, lines counted as events arrive (what the adapter costs over the native `Mux`).

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use spawnmux::tokio::AsyncMux;
use spawnmux::{Command, Event, Events, Stdio};
use tokio::runtime::Runtime;

use super::spawnmux::Counter;
use super::{check_echo, ping, Peer};
use crate::common::{Job, Tally};

pub struct SpawnmuxTokioPeer {
    rt: Runtime,
    mux: AsyncMux,
    events: Events,
}

impl SpawnmuxTokioPeer {
    pub fn new() -> io::Result<SpawnmuxTokioPeer> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mux = {
            let _in_runtime = rt.enter();
            AsyncMux::new()?
        };
        Ok(SpawnmuxTokioPeer {
            rt,
            mux,
            events: Events::new(),
        })
    }
}

impl Peer for SpawnmuxTokioPeer {
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>> {
        let mut counter = self.mux.with_mux(|mux| {
            Counter::spawn(mux, jobs, |args| {
                let mut cmd = Command::new(exe);
                cmd.args(args);
                cmd
            })
        })?;
        spawned();
        let (mux, events) = (&mut self.mux, &mut self.events);
        self.rt.block_on(async {
            while !mux.is_empty() {
                mux.wait(events).await?;
                counter.count(events);
            }
            io::Result::Ok(())
        })?;
        Ok(counter.tallies)
    }

    fn echo(&mut self, exe: &Path, rounds: usize) -> io::Result<Vec<Duration>> {
        let mut cmd = Command::new(exe);
        cmd.arg("echo").stdin(Stdio::Capture).stderr(Stdio::Null);
        let (mux, events) = (&mut self.mux, &mut self.events);
        self.rt.block_on(async {
            let id = mux.spawn(&cmd)?;
            let mut times = Vec::with_capacity(rounds);
            let (mut line, mut back) = (Vec::new(), Vec::new());
            for i in 0..rounds {
                ping(i, &mut line);
                let start = Instant::now();
                mux.write_stdin(id, &line)?;
                back.clear();
                while back.is_empty() {
                    mux.wait(events).await?;
                    for event in &*events {
                        if let Event::Output(o) = event {
                            back.extend_from_slice(o.bytes);
                            back.extend_from_slice(if o.newline { b"\n" } else { b"" });
                        }
                    }
                }
                times.push(start.elapsed());
                check_echo(&line, &back)?;
            }
            mux.close_stdin(id)?;
            while !mux.is_empty() {
                mux.wait(events).await?;
            }
            Ok(times)
        })
    }
}
