//! (a) spawnmux: one `Mux`, one `wait` loop, lines counted as events arrive.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use spawnmux::{ChildId, Command, Event, Events, Mux, Stdio, Stream};

use super::{check_echo, ping, Peer};
use crate::common::{Job, Tally, ERR, OUT};

pub struct SpawnmuxPeer {
    mux: Mux,
    events: Events,
    die_with_parent: bool,
}

impl SpawnmuxPeer {
    /// `die_with_parent`: spawnmux's default is on (a registration with the group guard after
    /// each spawn); off shows what that costs.
    pub fn new(die_with_parent: bool) -> io::Result<SpawnmuxPeer> {
        Ok(SpawnmuxPeer {
            mux: Mux::new()?,
            events: Events::new(),
            die_with_parent,
        })
    }

    fn command(&self, exe: &Path, args: &[String]) -> Command {
        let mut cmd = Command::new(exe);
        cmd.args(args).die_with_parent(self.die_with_parent);
        cmd
    }
}

/// The jobs' children spawned on one `Mux`, and their lines counted as batches arrive (shared
/// by the native peer and the `AsyncMux` one, so both do exactly the same work per event).
pub(super) struct Counter {
    index: HashMap<ChildId, usize>,
    /// Consecutive events mostly come from the same child: looked up once per run of them.
    last: Option<(ChildId, usize)>,
    pub(super) tallies: Vec<Tally>,
}

impl Counter {
    /// Spawns every job with `mux` (`cmd` builds its command from its arguments).
    pub(super) fn spawn(
        mux: &mut Mux,
        jobs: &[Job],
        mut cmd: impl FnMut(&[String]) -> Command,
    ) -> io::Result<Counter> {
        let mut index = HashMap::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            let mut cmd = cmd(&job.args);
            if let Some(fd) = &job.stdin {
                cmd.stdin(Stdio::File(File::from(fd.try_clone()?)));
            }
            index.insert(mux.spawn(&cmd)?, i);
        }
        Ok(Counter {
            index,
            last: None,
            tallies: vec![Tally::default(); jobs.len()],
        })
    }

    /// Counts one batch. The lookup state lives in locals for the loop (as in one function):
    /// through `self` it cost the harness twice the CPU per event (`Events::get` was no
    /// longer inlined into the loop; W2 `perf`: 16 % of the parent's samples instead of 8 %).
    #[inline]
    pub(super) fn count(&mut self, events: &Events) {
        let (index, tallies) = (&self.index, &mut self.tallies);
        let mut last = self.last;
        let mut slot = |child: ChildId| match last {
            Some((id, i)) if id == child => i,
            _ => {
                let i = index[&child];
                last = Some((child, i));
                i
            }
        };
        for event in events {
            match event {
                Event::Output(o) => {
                    let s = if o.stream == Stream::Stdout { OUT } else { ERR };
                    tallies[slot(o.child)].piece(
                        s,
                        o.bytes.len() + usize::from(o.newline),
                        o.newline,
                    );
                }
                Event::Exited { child, exit, .. } => {
                    tallies[slot(child)].exit_ok = exit.success();
                }
                _ => {}
            }
        }
        self.last = last;
    }
}

impl Peer for SpawnmuxPeer {
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>> {
        let die_with_parent = self.die_with_parent;
        let mut counter = Counter::spawn(&mut self.mux, jobs, |args| {
            let mut cmd = Command::new(exe);
            cmd.args(args).die_with_parent(die_with_parent);
            cmd
        })?;
        spawned();
        while !self.mux.is_empty() {
            self.mux.wait(&mut self.events, None)?;
            counter.count(&self.events);
        }
        Ok(counter.tallies)
    }

    fn echo(&mut self, exe: &Path, rounds: usize) -> io::Result<Vec<Duration>> {
        let mut cmd = self.command(exe, &["echo".to_string()]);
        cmd.stdin(Stdio::Capture).stderr(Stdio::Null);
        let id = self.mux.spawn(&cmd)?;
        let mut times = Vec::with_capacity(rounds);
        let mut line = Vec::new();
        let mut back = Vec::new();
        for i in 0..rounds {
            ping(i, &mut line);
            let start = Instant::now();
            self.mux.write_stdin(id, &line)?;
            let mut done = false;
            while !done {
                self.mux.wait(&mut self.events, None)?;
                for event in &self.events {
                    if let Event::Output(o) = event {
                        back.clear();
                        back.extend_from_slice(o.bytes);
                        if o.newline {
                            back.push(b'\n');
                        }
                        done = true;
                    }
                }
            }
            times.push(start.elapsed());
            check_echo(&line, &back)?;
        }
        self.mux.close_stdin(id)?;
        while !self.mux.is_empty() {
            self.mux.wait(&mut self.events, None)?;
        }
        Ok(times)
    }
}
