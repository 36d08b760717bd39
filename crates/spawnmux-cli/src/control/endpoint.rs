//! Where a run's control socket is: one per config, named after a hash of the config file's
//! canonical path (for commands given after `--`: the canonical working directory and the
//! commands), in the per-user directory of `os::ctl_dir`. `spawnmux ctl` finds its runner by
//! the same rule, which picks the file the way `spawnmux run` does; `--control PATH` names
//! the socket instead.

use std::io;
use std::path::{Path, PathBuf};

use crate::os;

/// What names a run's control socket: the arguments that choose what it runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) config: Option<&'a Path>,
    pub(crate) procfile: Option<&'a Path>,
    /// The commands after `--`.
    pub(crate) commands: &'a [String],
}

/// The file `spawnmux run` loads for `target` in `dir` (the load's own rule: `-c`, else
/// `spawnmux.toml` unless `-f` is given, else `-f` or `Procfile`), or `None` when it runs
/// commands (given after `--`, or watch mode alone).
fn config_file(target: &Target<'_>, dir: &Path) -> Option<PathBuf> {
    if !target.commands.is_empty() {
        return None;
    }
    if let Some(c) = target.config {
        return Some(dir.join(c));
    }
    let toml = dir.join("spawnmux.toml");
    if target.procfile.is_none() && toml.exists() {
        return Some(toml);
    }
    let procfile = dir.join(target.procfile.unwrap_or(Path::new("Procfile")));
    (target.procfile.is_some() || procfile.exists()).then_some(procfile)
}

/// What the socket's name is a hash of.
fn key(target: &Target<'_>, dir: &Path) -> Vec<u8> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut key = Vec::new();
    match config_file(target, dir) {
        Some(file) => {
            key.extend_from_slice(b"file\0");
            key.extend_from_slice(canonical(&file).as_os_str().as_encoded_bytes());
        }
        None => {
            key.extend_from_slice(b"commands\0");
            key.extend_from_slice(canonical(dir).as_os_str().as_encoded_bytes());
            for c in target.commands {
                key.push(0);
                key.extend_from_slice(c.as_bytes());
            }
        }
    }
    key
}

/// 64-bit FNV-1a: stable across builds and platforms (std's hashers promise neither), so a
/// `spawnmux ctl` finds a runner of another build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The control socket of `target` run in `dir` (its directory is `os::ctl_dir`, to be made
/// or checked with `os::ctl_dir_ready`).
pub(crate) fn default_path(target: &Target<'_>, dir: &Path) -> PathBuf {
    let name = format!("{:016x}{}", fnv1a(&key(target, dir)), os::CTL_SUFFIX);
    os::ctl_dir().join(name)
}

/// Why a runner could not take its control socket.
#[derive(Debug)]
pub(crate) enum BindError {
    /// A runner answers there: its pid.
    Taken(u32),
    /// Something accepts connections there but gives no runner's answer.
    NoAnswer(String),
    Io(io::Error),
}

/// Listens at `path`. A socket left by a runner that died is replaced; one that a live
/// runner answers on is not (`Taken`), nor one that accepts but does not answer.
pub(crate) fn bind(path: &Path) -> Result<os::CtlEndpoint, BindError> {
    let shown = path.display();
    for _ in 0..3 {
        match os::ctl_bind(path) {
            Ok(endpoint) => return Ok(endpoint),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(BindError::Io(e)),
        }
        match super::client::hello(path) {
            Ok(pid) => return Err(BindError::Taken(pid)),
            Err(e) if os::ctl_is_stale(&e) => os::ctl_remove_stale(path).map_err(BindError::Io)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // gone meanwhile
            Err(e) => {
                return Err(BindError::NoAnswer(format!(
                    "{shown} is taken but gives no runner's answer ({e}); if no spawnmux runs \
                     this config, remove it"
                )))
            }
        }
    }
    Err(BindError::Io(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("{shown} keeps being taken"),
    )))
}

/// Removes the endpoint when dropped (the run's end, error paths included), if it is still
/// the one this run made.
#[derive(Debug)]
pub(crate) struct Guard {
    pub(crate) path: PathBuf,
    pub(crate) stamp: os::CtlStamp,
}

impl Drop for Guard {
    fn drop(&mut self) {
        os::ctl_remove(&self.path, &self.stamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(files: &[&str]) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "spawnmux-endpoint-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).expect("dir");
        for f in files {
            std::fs::write(d.join(f), "").expect("write");
        }
        d
    }

    fn target<'a>(
        config: Option<&'a str>,
        procfile: Option<&'a str>,
        commands: &'a [String],
    ) -> Target<'a> {
        Target {
            config: config.map(Path::new),
            procfile: procfile.map(Path::new),
            commands,
        }
    }

    #[test]
    fn the_file_is_chosen_as_run_chooses_it() {
        let both = dir(&["spawnmux.toml", "Procfile"]);
        let file = |t: Target<'_>, d: &Path| config_file(&t, d);
        assert_eq!(
            file(target(None, None, &[]), &both),
            Some(both.join("spawnmux.toml"))
        );
        assert_eq!(
            file(target(None, Some("Procfile"), &[]), &both),
            Some(both.join("Procfile"))
        );
        assert_eq!(
            file(target(Some("other.toml"), None, &[]), &both),
            Some(both.join("other.toml"))
        );
        let cmds = ["npm start".to_string()];
        assert_eq!(file(target(None, None, &cmds), &both), None);
        let procfile = dir(&["Procfile"]);
        assert_eq!(
            file(target(None, None, &[]), &procfile),
            Some(procfile.join("Procfile"))
        );
        let empty = dir(&[]);
        assert_eq!(
            file(target(None, None, &[]), &empty),
            None,
            "watch mode alone"
        );
        for d in [both, procfile, empty] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn names_depend_on_the_canonical_file_or_the_commands() {
        let d = dir(&["spawnmux.toml"]);
        let k = |t: Target<'_>| fnv1a(&key(&t, &d));
        let default = k(target(None, None, &[]));
        assert_eq!(default, k(target(Some("spawnmux.toml"), None, &[])));
        assert_eq!(default, k(target(Some("./spawnmux.toml"), None, &[])));
        let abs = d.join("spawnmux.toml");
        assert_eq!(default, k(target(abs.to_str(), None, &[])));
        let one = ["a".to_string(), "b".to_string()];
        let other = ["a b".to_string()];
        assert_ne!(k(target(None, None, &one)), k(target(None, None, &other)));
        assert_ne!(k(target(None, None, &one)), default);
        // The hash is FNV-1a as published (a changed name would miss older runners).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let _ = std::fs::remove_dir_all(d);
    }
}
