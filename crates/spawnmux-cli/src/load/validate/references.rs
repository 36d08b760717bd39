//! Part of `validate.rs` (after `ports.rs`): the `${…}` references in what spawnmux.toml
//! wrote, replaced by what they stand for. The values that may hold them: the program
//! (`command`, `shell`, `[watch] run`), `cwd`, each `env` value, and the checks
//! (`ready_http`, `ready_tcp`, `ready_exec`, `alive_*`). Values from elsewhere (a Procfile,
//! the command line, `-e` files) are taken as they are: their `${…}` is the shell's. An
//! error names the file, the line and column of the reference, the key and the reference.

use std::collections::BTreeMap;
use std::env::VarError;

use super::key;
use super::ports::Group;
use crate::load::draft::{HelperDraft, Kind, TargetDraft};
use crate::load::error::{At, LoadError, Origin};
use crate::load::interpolate::{interpolate, locate, Bad, Ref};
use crate::spec::Program;

/// What `${port.NAME}` can name: each helper of the plan (copies included), and the
/// helpers written with `scale`, which name no one port.
pub(crate) struct Table<'a> {
    ports: BTreeMap<&'a str, Option<u16>>,
    scaled: BTreeMap<&'a str, usize>,
}

impl<'a> Table<'a> {
    pub(crate) fn new(groups: &'a [Group]) -> Table<'a> {
        let mut table = Table {
            ports: BTreeMap::new(),
            scaled: BTreeMap::new(),
        };
        for g in groups {
            if g.scaled {
                table.scaled.insert(&g.name, g.copies.len());
            }
            for (name, port) in &g.copies {
                table.ports.insert(name, port.as_ref().map(|p| p.number));
            }
        }
        table
    }

    /// What `r` stands for in a helper whose port is `own`.
    fn resolve(&self, r: Ref<'_>, own: Option<u16>) -> Result<String, String> {
        let no_port =
            |who: &str| format!("{who} no port (give it `port = 5173` or `port = \"auto\"`)");
        match r {
            Ref::OwnPort => own
                .map(|p| p.to_string())
                .ok_or_else(|| no_port("this helper has")),
            Ref::Port(name) => match (self.scaled.get(name), self.ports.get(name)) {
                (Some(n), _) => Err(format!(
                    "`{name}` runs {n} copies (scale = {n}); name one: `${{port.{name}.1}}` to `${{port.{name}.{n}}}`"
                )),
                (None, Some(Some(port))) => Ok(port.to_string()),
                (None, Some(None)) => Err(no_port(&format!("helper `{name}` has"))),
                (None, None) => Err(format!("no helper named `{name}`")),
            },
            Ref::Env(name) => std::env::var(name).map_err(|e| match e {
                VarError::NotPresent => format!("`{name}` is not set in spawnmux's environment"),
                VarError::NotUnicode(_) => format!("`{name}` is not valid Unicode"),
            }),
        }
    }
}

/// `h` with the references of the values spawnmux.toml wrote replaced; `own` is its port.
pub(crate) fn replace(
    origin: &Origin,
    h: &HelperDraft,
    own: Option<u16>,
    table: &Table<'_>,
) -> Result<HelperDraft, LoadError> {
    let sub = Sub {
        origin,
        table,
        own,
        h,
    };
    let mut out = h.clone();
    if let Some(at) = &h.program_at {
        let name = match (h.kind, &h.program) {
            (Kind::Build, _) => "run",
            (_, Program::Argv(_)) => "command",
            (_, Program::Shell(_)) => "shell",
        };
        out.program = sub.program(at, name, &h.program)?;
    }
    if let Some(cwd) = out.cwd.as_mut().filter(|c| matches!(c.at, At::Span(_))) {
        cwd.value = sub.one(&cwd.at, "cwd", &cwd.value)?;
    }
    for (name, at) in &h.env_at {
        if let Some(value) = out.env.get_mut(name) {
            *value = sub.one(at, &format!("env.{name}"), value)?;
        }
    }
    let checks = &mut out.checks;
    for c in checks.ready.iter_mut().chain(checks.alive.iter_mut()) {
        match &mut c.target {
            TargetDraft::Http(text) | TargetDraft::Tcp(text) => {
                *text = sub.one(&c.at, c.key, text)?;
            }
            TargetDraft::Exec(program) => *program = sub.program(&c.at, c.key, program)?,
        }
    }
    Ok(out)
}

/// Replaces the references of one helper's values.
struct Sub<'a> {
    origin: &'a Origin,
    table: &'a Table<'a>,
    own: Option<u16>,
    h: &'a HelperDraft,
}

impl Sub<'_> {
    /// A program written at `at` (key `name`): each argument, or the shell line; it may not
    /// end up empty (`shell = "${env.EMPTY}"`).
    fn program(&self, at: &At, name: &str, program: &Program) -> Result<Program, LoadError> {
        let (program, empty) = match program {
            Program::Argv(argv) => {
                let texts: Vec<&str> = argv.iter().map(String::as_str).collect();
                let argv = self.all(at, name, &texts)?;
                let empty = argv.first().is_none_or(String::is_empty);
                (Program::Argv(argv), empty)
            }
            Program::Shell(line) => {
                let line = self.one(at, name, line)?;
                let empty = line.trim().is_empty();
                (Program::Shell(line), empty)
            }
        };
        if empty {
            let problem = format!(
                "{} is empty once its references are replaced",
                key(self.h, name)
            );
            return Err(self.origin.error(at, problem));
        }
        Ok(program)
    }

    /// One value written at `at` (key `name`).
    fn one(&self, at: &At, name: &str, text: &str) -> Result<String, LoadError> {
        Ok(self.all(at, name, &[text])?.remove(0))
    }

    /// The strings of one value written at `at` (key `name`), in order.
    fn all(&self, at: &At, name: &str, texts: &[&str]) -> Result<Vec<String>, LoadError> {
        let mut out = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            match interpolate(text, &mut |r| self.table.resolve(r, self.own)) {
                Ok(value) => out.push(value),
                Err(bad) => return Err(self.error(at, name, &texts[..i], text, bad)),
            }
        }
        Ok(out)
    }

    /// `bad`, found in `text` after the strings `earlier` of the same value: at the
    /// reference itself when the file shows it as is, else at the value.
    fn error(&self, at: &At, name: &str, earlier: &[&str], text: &str, bad: Bad) -> LoadError {
        let reference = &text[bad.at.clone()];
        let head = &text[..bad.at.start];
        let before = earlier.iter().copied().chain([head]);
        let nth = before.map(|t| t.matches(reference).count()).sum();
        let at = match at {
            At::Span(span) => {
                let raw = self.origin.text().get(span.clone()).unwrap_or_default();
                let found = locate(raw, nth, reference);
                found.map_or(at.clone(), |i| At::Span(span.start + i..span.start + i))
            }
            other => other.clone(),
        };
        let problem = format!("{}: `{reference}`: {}", key(self.h, name), bad.problem);
        self.origin.error(&at, problem)
    }
}
