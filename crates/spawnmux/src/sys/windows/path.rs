//! Finding the program to run, as a user typing it at a prompt would expect: through `PATH`
//! and `PATHEXT`, so that `npx` finds npm's `npx.cmd` shim and `node` finds `node.exe`.
//!
//! Order: a name with a directory part is taken relative to the parent's working directory (as
//! `std::process::Command` does); a bare name is looked up in the child's `PATH` (the one set on
//! the `Command`, else ours), then in the system directory. The current directory is *not*
//! searched (what `cmd.exe` does, and a classic way to run a planted `git.exe`). Where the name
//! has no extension, each `PATHEXT` extension is tried (default `.COM;.EXE;.BAT;.CMD`).

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

const DEFAULT_PATHEXT: &str = ".COM;.EXE;.BAT;.CMD";

/// The file to run for `program`.
pub(crate) fn resolve(program: &OsStr, child_path: Option<&OsStr>) -> io::Result<PathBuf> {
    let p = Path::new(program);
    let exts = pathext();
    let has_dir = p.components().count() > 1 || p.is_absolute();
    let found = if has_dir {
        with_extensions(p, &exts)
    } else {
        let path = child_path
            .map(OsString::from)
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let system = std::env::var_os("SystemRoot").map(|r| Path::new(&r).join("System32"));
        std::env::split_paths(&path)
            .filter(|d| !d.as_os_str().is_empty())
            .chain(system)
            .find_map(|dir| with_extensions(&dir.join(p), &exts))
    };
    found.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "program not found (searched PATH with PATHEXT {})",
                exts.join(";")
            ),
        )
    })
}

/// `true` if `path` names a batch file, which only `cmd.exe` can run.
pub(crate) fn is_batch(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("bat") || e.eq_ignore_ascii_case("cmd"))
}

/// `cmd.exe` from the system directory (never from `PATH`).
pub(crate) fn cmd_exe() -> PathBuf {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| OsString::from(r"C:\Windows"));
    Path::new(&root).join("System32").join("cmd.exe")
}

fn pathext() -> Vec<String> {
    let raw = std::env::var("PATHEXT").unwrap_or_else(|_| DEFAULT_PATHEXT.to_string());
    let exts: Vec<String> = raw
        .split(';')
        .map(str::trim)
        .filter(|e| e.starts_with('.') && e.len() > 1)
        .map(str::to_string)
        .collect();
    if exts.is_empty() {
        DEFAULT_PATHEXT.split(';').map(str::to_string).collect()
    } else {
        exts
    }
}

/// `base` itself if it has an extension and is a file, else `base` + each extension.
fn with_extensions(base: &Path, exts: &[String]) -> Option<PathBuf> {
    if base.extension().is_some() && base.is_file() {
        return Some(base.to_path_buf());
    }
    exts.iter().find_map(|ext| {
        let mut name = base.as_os_str().to_owned();
        name.push(ext);
        let candidate = PathBuf::from(name);
        candidate.is_file().then_some(candidate)
    })
}
