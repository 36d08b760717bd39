//! Watch mode in the loop: the watcher starts with the run, and its wake-ups bring the changed
//! paths (and its problems) to the supervisor.

use std::io;
use std::time::Instant;

use super::Runner;
use crate::os::Wake;
use crate::record::Record;
use crate::spec::WatchSpec;
use crate::watch::Watch;

impl Runner {
    pub(super) fn start_watch(&mut self, spec: &WatchSpec) -> io::Result<()> {
        let waker = self.mux.waker(Wake::Watch.token());
        let (watch, warnings) = Watch::start(spec, waker)?;
        for message in warnings {
            self.log.record(&Record::Watch {
                message,
                warn: true,
            })?;
        }
        let message = format!(
            "watching {} (debounce {}): on change, {}",
            watch.describe(),
            humantime::format_duration(spec.debounce),
            self.sup.watch_plan().join(", then ")
        );
        self.log.record(&Record::Watch {
            message,
            warn: false,
        })?;
        self.watch = Some(watch);
        Ok(())
    }

    /// The watcher thread collected something: problems and changes to what is watched are
    /// logged here; the changed paths go to the supervisor.
    pub(super) fn on_watch_wake(&mut self) -> io::Result<()> {
        let Some(w) = &mut self.watch else {
            return Ok(());
        };
        let batch = w.take();
        let mut records = Vec::new();
        let problem = |message| Record::Watch {
            message,
            warn: true,
        };
        records.extend(batch.errors.iter().map(|e| problem(format!("watch: {e}"))));
        if batch.ignore_files_changed {
            records.extend(w.reload_filter().into_iter().map(problem));
        }
        if batch.roots_changed {
            records.extend(w.rewatch().into_iter().map(|message| Record::Watch {
                message,
                warn: false,
            }));
        }
        let paths = batch.paths.iter().map(|p| w.show(p)).collect();
        for r in &records {
            self.log.record(r)?;
        }
        self.sup.changes(paths, Instant::now());
        self.apply()
    }
}
