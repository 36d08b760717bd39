//! The helpers' `log_file`s: each helper's output, line by line as it came, appended to its
//! file besides the merged log. Cleaned by the text log's rule (colours kept; clear-screen,
//! cursor movement, titles and other control sequences removed, so that `cat` or `tail -f`
//! of the file cannot wreck a terminal), unless `--raw`.
//!
//! Written like the merged log, without blocking the loop for long: each line is appended to
//! the file's own buffer (reused: no allocation per line once it has grown to its size), which
//! is written with one `write_all` when it holds 64 KiB and whenever the merged log is flushed
//! (`Runner::flush_logs`, at the loop's flush points). Before a write that would take the file
//! past `log_max_size`, the file is rotated: `PATH.2` → `PATH.3`, `PATH.1` → `PATH.2`, `PATH`
//! → `PATH.1`, then a new `PATH` (`LogFile::KEEP` old files; a line is never split between two
//! files, so only one write larger than the limit makes a file larger than it).
//!
//! A file that cannot be opened, written or rotated is reported once (a `log_file_error`
//! record, a warning) and from then on left alone; the run goes on.

use std::fs::File;
use std::io::{self, Write};

use super::Runner;
use crate::cli::Format;
use crate::output::{filter_index, filter_pair, FLUSH_AT};
use crate::record::Record;
use crate::sanitize::Sanitizer;
use crate::spec::{HelperSpec, LogFile};

/// Every helper's log file, by the supervisor's helper index.
#[derive(Default)]
pub(super) struct LogFiles {
    /// `None`: no `log_file`, or one that failed.
    sinks: Vec<Option<Sink>>,
    /// Failures not logged yet.
    failures: Vec<Record>,
}

struct Sink {
    helper: String,
    spec: LogFile,
    /// `None` only while it is rotated.
    file: Option<File>,
    /// The file's size: what it held when opened, and what was written since.
    size: u64,
    buf: Vec<u8>,
    /// The filters of the helper's stdout and stderr (a sequence may be split between two
    /// reads); none with `--raw`.
    filters: Option<[Sanitizer; 2]>,
}

impl LogFiles {
    /// Opens the log file of each of `helpers` that has one (creating its directory): at the
    /// start of the run, so that a problem shows at once. `raw`: write the bytes unchanged.
    pub(super) fn open(helpers: &[HelperSpec], raw: bool) -> LogFiles {
        let mut files = LogFiles::default();
        for h in helpers {
            let sink = h.log_file.as_ref().and_then(|spec| {
                let opened = Sink::open(&h.name, spec, raw);
                opened.map_err(|e| files.failed(&h.name, spec, &e)).ok()
            });
            files.sinks.push(sink);
        }
        files
    }

    /// A piece of helper `helper`'s output (`None`: not a helper's). The newline that only
    /// ends a piece already written (a prompt written after a silence) is no line of its own.
    pub(super) fn output(&mut self, helper: Option<usize>, out: &spawnmux::Output<'_>) {
        if !(out.continued && out.newline && out.bytes.is_empty()) {
            self.line(helper, out.stream, out.bytes);
        }
    }

    /// `bytes` (cleaned) and a newline, for helper `helper`'s file if it has one.
    fn line(&mut self, helper: Option<usize>, stream: spawnmux::Stream, bytes: &[u8]) {
        let Some(i) = helper else {
            return;
        };
        let Some(Some(sink)) = self.sinks.get_mut(i) else {
            return;
        };
        let bytes = match &mut sink.filters {
            Some(f) => f[filter_index(stream)].clean(bytes),
            None => bytes,
        };
        sink.buf.extend_from_slice(bytes);
        sink.buf.push(b'\n');
        if sink.buf.len() >= FLUSH_AT {
            if let Err(e) = sink.write_out() {
                self.drop_sink(i, &e);
            }
        }
    }

    /// A new process of helper `helper` starts: a sequence its last one left open is
    /// forgotten (as in the merged log).
    pub(super) fn restarted(&mut self, helper: usize) {
        if let Some(Some(Sink {
            filters: Some(pair),
            ..
        })) = self.sinks.get_mut(helper)
        {
            pair.iter_mut().for_each(Sanitizer::reset);
        }
    }

    /// Writes every buffer out; the failures of this and earlier writes, to be logged.
    pub(super) fn flush(&mut self) -> Vec<Record> {
        for i in 0..self.sinks.len() {
            let result = self.sinks[i].as_mut().map_or(Ok(()), Sink::write_out);
            if let Err(e) = result {
                self.drop_sink(i, &e);
            }
        }
        std::mem::take(&mut self.failures)
    }

    fn drop_sink(&mut self, i: usize, e: &io::Error) {
        if let Some(sink) = self.sinks[i].take() {
            self.failed(&sink.helper, &sink.spec, e);
        }
    }

    fn failed(&mut self, helper: &str, spec: &LogFile, e: &io::Error) {
        self.failures.push(Record::LogFileFailed {
            helper: helper.to_string(),
            path: spec.path.display().to_string(),
            error: e.to_string(),
        });
    }
}

impl Sink {
    fn open(helper: &str, spec: &LogFile, raw: bool) -> io::Result<Sink> {
        if let Some(dir) = spec.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = crate::os::open_log(&spec.path)?;
        Ok(Sink {
            helper: helper.to_string(),
            size: file.metadata()?.len(),
            spec: spec.clone(),
            file: Some(file),
            buf: Vec::with_capacity(FLUSH_AT),
            // The text log's rule whatever the log's format: the file holds text.
            filters: (!raw).then(|| filter_pair(Format::Text)),
        })
    }

    /// The buffer, into the file (rotated first if the buffer would take it past its size).
    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.size > 0 && self.size + self.buf.len() as u64 > self.spec.max_size {
            self.rotate()?;
        }
        let file = self.file.as_mut().ok_or(io::ErrorKind::NotFound)?;
        file.write_all(&self.buf)?;
        self.size += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// `PATH.n` → `PATH.n+1` (the oldest replaced), `PATH` → `PATH.1`, a new `PATH`.
    fn rotate(&mut self) -> io::Result<()> {
        // Closed first: Windows renames an open file only if it was opened to allow that.
        self.file = None;
        for n in (1..LogFile::KEEP).rev() {
            match std::fs::rename(self.spec.old(n), self.spec.old(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.spec.path, self.spec.old(1))?;
        self.file = Some(crate::os::open_log(&self.spec.path)?);
        self.size = 0;
        Ok(())
    }
}

impl Runner {
    /// Writes the log files' buffers, then the merged log (with any log file's failure).
    pub(super) fn flush_logs(&mut self) -> io::Result<()> {
        for failure in self.files.flush() {
            self.log.record(&failure)?;
        }
        self.log.flush()
    }
}

#[cfg(test)]
mod tests;
