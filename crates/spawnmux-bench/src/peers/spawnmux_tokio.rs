//! (a') spawnmux through its tokio adapter: one `AsyncMux` awaited on a current_thread
//! runtime, lines counted as events arrive (what the adapter costs over the native `Mux`).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use spawnmux::tokio::AsyncMux;
use spawnmux::{ChildId, Command, Event, Events, Stdio, Stream};
use tokio::runtime::Runtime;

use super::{check_echo, ping, Peer};
use crate::common::{Job, Tally, ERR, OUT};

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

/// Counts one batch into `tallies` (`slot`: a child's job index).
fn count(events: &Events, tallies: &mut [Tally], slot: &mut impl FnMut(ChildId) -> usize) {
    for event in events {
        match event {
            Event::Output(o) => {
                let s = if o.stream == Stream::Stdout { OUT } else { ERR };
                tallies[slot(o.child)].piece(s, o.bytes.len() + usize::from(o.newline), o.newline);
            }
            Event::Exited { child, exit, .. } => tallies[slot(child)].exit_ok = exit.success(),
            _ => {}
        }
    }
}

impl Peer for SpawnmuxTokioPeer {
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>> {
        let mut index: HashMap<ChildId, usize> = HashMap::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            let mut cmd = Command::new(exe);
            cmd.args(&job.args);
            if let Some(fd) = &job.stdin {
                cmd.stdin(Stdio::File(File::from(fd.try_clone()?)));
            }
            index.insert(self.mux.spawn(&cmd)?, i);
        }
        spawned();
        let mut tallies = vec![Tally::default(); jobs.len()];
        let mut last: Option<(ChildId, usize)> = None;
        let mut slot = |child: ChildId| match last {
            Some((id, i)) if id == child => i,
            _ => {
                let i = index[&child];
                last = Some((child, i));
                i
            }
        };
        let (mux, events) = (&mut self.mux, &mut self.events);
        self.rt.block_on(async {
            while !mux.is_empty() {
                mux.wait(events).await?;
                count(events, &mut tallies, &mut slot);
            }
            io::Result::Ok(())
        })?;
        Ok(tallies)
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
