//! `--handle-input` in the loop: spawnmux's stdin read (a `Mux` source, or on Windows a reader
//! thread's wake-up), cut into lines, each routed by `supervisor::input` to a helper's stdin.

use std::io;

use super::Runner;
use crate::os;
use crate::record::Record;
use crate::supervisor::input::{line_bytes, route, Route};

impl Runner {
    /// Starts reading spawnmux's stdin if a helper takes input; a failure is a warning.
    pub(super) fn start_input(&mut self) -> io::Result<()> {
        if !(0..self.current.len()).any(|i| self.sup.spec(i).input) {
            return Ok(());
        }
        match os::input(&mut self.mux) {
            Ok(input) => self.input = Some(input),
            Err(e) => self.input_note(format!("--handle-input is off: {e}"), true)?,
        }
        Ok(())
    }

    /// Whether the helpers' stdin is a pipe from spawnmux.
    pub(super) fn takes_input(&self) -> bool {
        self.input.is_some()
    }

    /// spawnmux's stdin is readable (or, on Windows, its reader thread read something).
    pub(super) fn on_input(&mut self) -> io::Result<()> {
        let Some(input) = &mut self.input else {
            return Ok(());
        };
        let (bytes, ended) = match input.read(&mut self.mux) {
            Ok(read) => read,
            Err(e) => {
                self.input = None;
                return self.input_note(format!("no more input for the helpers: {e}"), true);
            }
        };
        let mut lines = self.typed.push(&bytes);
        if ended {
            lines.extend(self.typed.finish());
            self.input = None;
        }
        for line in lines {
            self.send_line(&line)?;
        }
        if ended {
            // As at a terminal: the end of spawnmux's input is the end of theirs.
            for id in self.current.iter().flatten() {
                let _ = self.mux.close_stdin(*id);
            }
            self.input_note("end of input: the helpers' stdin is closed".into(), false)?;
        }
        Ok(())
    }

    fn send_line(&mut self, line: &str) -> io::Result<()> {
        let names = self.sup.names();
        let target = (0..names.len()).find(|&i| self.sup.spec(i).input);
        let listed = names.join(", ");
        let (helper, text) = match route(line, &names, target) {
            Route::Send { helper, text } => (helper, text),
            Route::UnknownName(word) => {
                let why = format!("no helper named `{word}`: line not sent (helpers: {listed})");
                return self.input_note(why, true);
            }
            Route::NoTarget => {
                let why = format!("no input helper: write NAME: text (helpers: {listed})");
                return self.input_note(why, true);
            }
        };
        let name = &names[helper];
        let Some(id) = self.current[helper] else {
            return self.input_note(format!("{name} is not running: line not sent"), true);
        };
        let tty = self.sup.spec(helper).tty != crate::spec::Tty::Off;
        let bytes = line_bytes(text, tty);
        if let Err(e) = self.mux.write_stdin(id, &bytes) {
            return self.input_note(format!("line not sent to {name}: {e}"), true);
        }
        Ok(())
    }

    fn input_note(&mut self, message: String, warn: bool) -> io::Result<()> {
        self.log.record(&Record::Input { message, warn })
    }
}
