//! Watch mode's file-system side: a `notify` watcher whose thread filters each event and wakes
//! the runner's one loop through a [`spawnmux::Waker`] (the seed article's "make an arbitrary
//! event source selectable"). The loop then [`Watch::take`]s the batch; debouncing, rebuilds
//! and restarts are the runner's.
//!
//! What never triggers (checked on the watcher's thread, so a busy ignored directory costs no
//! wake-ups): paths outside the watched roots; version-control directories (`.git`, `.hg`,
//! `.svn`, `.jj`, `.bzr`, `_darcs`) and editor scratch files (`*.swp`, `*~`, `.#*`, `#*#`,
//! vim's `4913`, `.DS_Store`); the build's declared output; spawnmux's own stdout/stderr when
//! they are files (a log redirected into the watched tree); `ignore` patterns; and, unless
//! disabled, `.gitignore` / `.ignore` files (in the roots, and above them up to the repository
//! root) and `.git/info/exclude`. A file named explicitly as a root always triggers.
//!
//! A watched directory that is deleted and created again is watched again: each root's parent
//! is watched too (not recursively), so its re-creation is seen.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use indexmap::IndexSet;
use notify::{RecursiveMode, Watcher};

use crate::spec::WatchSpec;

/// `--poll` / `poll = true` without an interval.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_secs(1);

const VCS_DIRS: [&str; 6] = [".git", ".hg", ".svn", ".jj", ".bzr", "_darcs"];
const IGNORE_FILES: [&str; 2] = [".gitignore", ".ignore"];

/// Checks one gitignore-style pattern.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    let mut b = GitignoreBuilder::new("/");
    b.add_line(None, pattern)
        .map_err(|e| format!("`{pattern}`: {e}"))?;
    b.build().map_err(|e| format!("`{pattern}`: {e}"))?;
    Ok(())
}

/// What the watcher thread collected since the last [`Watch::take`].
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Changed paths that are not ignored, first change first.
    pub(crate) paths: IndexSet<PathBuf>,
    /// Watcher errors (already worded).
    pub(crate) errors: Vec<String>,
    /// A watched directory itself was created or removed.
    pub(crate) roots_changed: bool,
    /// A `.gitignore` / `.ignore` changed: the filter is reloaded.
    pub(crate) ignore_files_changed: bool,
}

struct Shared {
    filter: RwLock<Filter>,
    batch: Mutex<Batch>,
}

/// A running watcher. Dropping it stops its thread.
pub(crate) struct Watch {
    watcher: Box<dyn Watcher + Send>,
    shared: Arc<Shared>,
    roots: Vec<Root>,
    spec: WatchSpec,
}

#[derive(Debug, Clone)]
struct Root {
    path: PathBuf,
    dir: bool,
    /// Currently watched (a directory root goes away when it is deleted).
    present: bool,
}

impl Watch {
    /// Starts watching `spec.paths`; every non-ignored change wakes `waker`. Returns warnings
    /// (unreadable ignore files) to log.
    pub(crate) fn start(
        spec: &WatchSpec,
        waker: spawnmux::Waker,
    ) -> io::Result<(Watch, Vec<String>)> {
        let spec = canonical(spec);
        let roots: Vec<Root> = spec
            .paths
            .iter()
            .map(|p| Root {
                path: p.clone(),
                dir: p.is_dir(),
                present: true,
            })
            .collect();
        let (filter, warnings) = Filter::new(&spec, &roots);
        let shared = Arc::new(Shared {
            filter: RwLock::new(filter),
            batch: Mutex::new(Batch::default()),
        });
        let on_event = {
            let shared = shared.clone();
            move |res: notify::Result<notify::Event>| {
                if shared.on_event(res) {
                    let _ = waker.wake();
                }
            }
        };
        let mut watcher: Box<dyn Watcher + Send> = match spec.poll {
            Some(every) => Box::new(
                notify::PollWatcher::new(
                    on_event,
                    notify::Config::default().with_poll_interval(every),
                )
                .map_err(notify_err)?,
            ),
            None => Box::new(notify::recommended_watcher(on_event).map_err(notify_err)?),
        };
        // Parents first (not recursively), to see a root deleted and created again; skipped
        // when a recursive root already covers them.
        let mut parents: Vec<&Path> = Vec::new();
        for root in &roots {
            if let Some(parent) = root.path.parent() {
                let covered = roots.iter().any(|r| r.dir && parent.starts_with(&r.path));
                if !covered && !parents.contains(&parent) {
                    parents.push(parent);
                }
            }
        }
        for parent in parents {
            watcher
                .watch(parent, RecursiveMode::NonRecursive)
                .map_err(|e| watch_err(parent, e))?;
        }
        for root in roots.iter().filter(|r| r.dir) {
            watcher
                .watch(&root.path, RecursiveMode::Recursive)
                .map_err(|e| watch_err(&root.path, e))?;
        }
        Ok((
            Watch {
                watcher,
                shared,
                roots,
                spec,
            },
            warnings,
        ))
    }

    /// Everything collected since the last call.
    pub(crate) fn take(&self) -> Batch {
        std::mem::take(
            &mut *self
                .shared
                .batch
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// After a root was deleted or created: watch the ones that are back. Returns what to
    /// log.
    pub(crate) fn rewatch(&mut self) -> Vec<String> {
        let mut messages = Vec::new();
        for root in self.roots.iter_mut().filter(|r| r.dir) {
            let shown = self.spec.show(&root.path);
            match (root.present, root.path.is_dir()) {
                (true, false) => {
                    root.present = false;
                    let _ = self.watcher.unwatch(&root.path);
                    messages.push(format!("{shown} was removed; watching for it to come back"));
                }
                (false, true) => match self.watcher.watch(&root.path, RecursiveMode::Recursive) {
                    Ok(()) => {
                        root.present = true;
                        messages.push(format!("{shown} is back: watching it again"));
                    }
                    Err(e) => messages.push(format!("cannot watch {shown} again: {e}")),
                },
                _ => {}
            }
        }
        messages
    }

    /// Reads the ignore files again. Returns warnings to log.
    pub(crate) fn reload_filter(&self) -> Vec<String> {
        let (filter, warnings) = Filter::new(&self.spec, &self.roots);
        *self
            .shared
            .filter
            .write()
            .unwrap_or_else(PoisonError::into_inner) = filter;
        warnings
    }

    /// `path` as shown in the log: relative to the base directory when under it.
    pub(crate) fn show(&self, path: &Path) -> String {
        self.spec.show(path)
    }

    /// The watched roots, as shown in the log.
    pub(crate) fn describe(&self) -> String {
        let roots: Vec<String> = self.roots.iter().map(|r| self.spec.show(&r.path)).collect();
        let mut s = roots.join(", ");
        if self.spec.poll.is_some() {
            s.push_str(" (polling)");
        }
        s
    }
}

impl WatchSpec {
    fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.base) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }
}

impl Shared {
    /// Runs on the watcher's thread: records what matters; `true` if the loop must wake.
    fn on_event(&self, res: notify::Result<notify::Event>) -> bool {
        let event = match res {
            Ok(event) => event,
            Err(e) => {
                let msg = match &e.kind {
                    notify::ErrorKind::MaxFilesWatch => {
                        format!("{e}: raise fs.inotify.max_user_watches, watch less, or use --poll")
                    }
                    _ => e.to_string(),
                };
                self.batch().errors.push(msg);
                return true;
            }
        };
        if event.kind.is_access() {
            return false;
        }
        let filter = self.filter.read().unwrap_or_else(PoisonError::into_inner);
        let mut wake = false;
        let mut batch = self.batch();
        if event.need_rescan() {
            // Events were lost (queue overflow): whatever changed, it was in the roots.
            batch
                .paths
                .extend(filter.roots.iter().map(|r| r.path.clone()));
            batch.roots_changed = true;
            wake = true;
        }
        // A watched directory itself matters when it is created or removed (not when its
        // metadata changes, as pollers report for every new entry).
        let root_event = event.kind.is_create() || event.kind.is_remove();
        for path in &event.paths {
            match filter.check(path) {
                Verdict::Skip => continue,
                Verdict::Change => {}
                Verdict::Root if root_event => batch.roots_changed = true,
                Verdict::Root => continue,
            }
            if path
                .file_name()
                .is_some_and(|n| IGNORE_FILES.iter().any(|f| n == *f))
            {
                batch.ignore_files_changed = true;
            }
            batch.paths.insert(path.clone());
            wake = true;
        }
        wake
    }

    fn batch(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Skip,
    Change,
    /// A watched directory itself (created or removed).
    Root,
}

/// Decides which paths count as changes.
struct Filter {
    roots: Vec<Root>,
    base: PathBuf,
    user: Gitignore,
    /// `.gitignore` / `.ignore` / `info/exclude` matchers, shallowest first (deeper wins).
    files: Vec<Gitignore>,
    output: Vec<PathBuf>,
    /// spawnmux's stdout/stderr, when they are files.
    own: Vec<same_file::Handle>,
}

impl Filter {
    fn new(spec: &WatchSpec, roots: &[Root]) -> (Filter, Vec<String>) {
        let mut warnings = Vec::new();
        let mut user = GitignoreBuilder::new(&spec.base);
        for p in &spec.ignore {
            // Checked at load time.
            let _ = user.add_line(None, p);
            // `_site/**` ignores everything in `_site`; its creation or removal is no
            // change either.
            if let Some(dir) = p.strip_suffix("/**").filter(|d| !d.is_empty()) {
                let _ = user.add_line(None, &format!("{dir}/"));
            }
        }
        let user = user.build().unwrap_or_else(|_| Gitignore::empty());
        let mut files = Vec::new();
        if spec.gitignore {
            for (path, dir) in ignore_files(roots) {
                let mut b = GitignoreBuilder::new(&dir);
                let built = match b.add(&path) {
                    Some(err) => Err(err),
                    None => b.build(),
                };
                match built {
                    Ok(gi) if !gi.is_empty() => files.push(gi),
                    Ok(_) => {}
                    Err(err) => warnings.push(format!("{}: {err}", spec.show(&path))),
                }
            }
            files.sort_by_key(|g| g.path().components().count());
        }
        let own = [same_file::Handle::stdout(), same_file::Handle::stderr()]
            .into_iter()
            .flatten()
            .filter(|h| h.as_file().metadata().is_ok_and(|m| m.is_file()))
            .collect();
        (
            Filter {
                roots: roots.to_vec(),
                base: spec.base.clone(),
                user,
                files,
                output: spec.output.clone(),
                own,
            },
            warnings,
        )
    }

    fn check(&self, path: &Path) -> Verdict {
        let Some(root) = self
            .roots
            .iter()
            .filter(|r| path.starts_with(&r.path) && (r.dir || path == r.path))
            .max_by_key(|r| r.path.components().count())
        else {
            return Verdict::Skip;
        };
        if path == root.path {
            return if root.dir {
                Verdict::Root
            } else {
                Verdict::Change
            };
        }
        if self.output.iter().any(|o| path.starts_with(o)) {
            return Verdict::Skip;
        }
        let rel = path.strip_prefix(&root.path).unwrap_or(path);
        let mut names = rel.components().map(|c| c.as_os_str().to_string_lossy());
        if names.any(|n| VCS_DIRS.contains(&n.as_ref())) {
            return Verdict::Skip;
        }
        if path
            .file_name()
            .is_some_and(|n| scratch_file(&n.to_string_lossy()))
        {
            return Verdict::Skip;
        }
        let is_dir = path.is_dir();
        if let Ok(rel) = path.strip_prefix(&self.base) {
            if self
                .user
                .matched_path_or_any_parents(rel, is_dir)
                .is_ignore()
            {
                return Verdict::Skip;
            }
        } else if let Some(name) = path.file_name() {
            if self.user.matched(name, is_dir).is_ignore() {
                return Verdict::Skip;
            }
        }
        let mut ignored = false;
        for gi in &self.files {
            if let Ok(rel) = path.strip_prefix(gi.path()) {
                let m = gi.matched_path_or_any_parents(rel, is_dir);
                if m.is_ignore() {
                    ignored = true;
                } else if m.is_whitelist() {
                    ignored = false;
                }
            }
        }
        if ignored {
            return Verdict::Skip;
        }
        if !self.own.is_empty() && !is_dir {
            if let Ok(h) = same_file::Handle::from_path(path) {
                if self.own.contains(&h) {
                    return Verdict::Skip;
                }
            }
        }
        Verdict::Change
    }
}

/// Editors' swap, backup and lock files.
fn scratch_file(name: &str) -> bool {
    name.ends_with('~')
        || [".swp", ".swo", ".swx"].iter().any(|s| name.ends_with(s))
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || name == ".DS_Store"
}

/// The ignore files that apply to the directory roots, each with the directory its patterns
/// are relative to: those inside the roots (not below an ignored directory), those in their
/// ancestors up to the repository root (the nearest directory with a `.git`), and that
/// repository's `.git/info/exclude`.
fn ignore_files(roots: &[Root]) -> Vec<(PathBuf, PathBuf)> {
    let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
    let push = |p: PathBuf, found: &mut Vec<(PathBuf, PathBuf)>| {
        if p.is_file() && !found.iter().any(|(f, _)| *f == p) {
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            found.push((p, dir));
        }
    };
    for root in roots.iter().filter(|r| r.dir && r.present) {
        if let Some(repo) = root.path.ancestors().find(|a| a.join(".git").exists()) {
            for dir in root.path.ancestors().skip(1) {
                if !dir.starts_with(repo) {
                    break;
                }
                for f in IGNORE_FILES {
                    push(dir.join(f), &mut found);
                }
            }
            let exclude = repo.join(".git").join("info").join("exclude");
            if exclude.is_file() && !found.iter().any(|(f, _)| *f == exclude) {
                found.push((exclude, repo.to_path_buf()));
            }
        }
        let walk = ignore::WalkBuilder::new(&root.path)
            .hidden(false)
            .require_git(false)
            .filter_entry(|e| !VCS_DIRS.iter().any(|d| e.file_name() == *d))
            .build();
        for entry in walk.flatten() {
            if IGNORE_FILES.iter().any(|f| entry.file_name() == *f) {
                push(entry.into_path(), &mut found);
            }
        }
    }
    found
}

/// `spec` with its paths made canonical (symlinks resolved), as notify reports them on some
/// platforms (FSEvents); paths that do not exist keep their canonical parent.
fn canonical(spec: &WatchSpec) -> WatchSpec {
    fn real(p: &Path) -> PathBuf {
        if let Ok(c) = std::fs::canonicalize(p) {
            return c;
        }
        match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => real(parent).join(name),
            _ => p.to_path_buf(),
        }
    }
    let mut s = spec.clone();
    s.base = real(&spec.base);
    s.paths = spec.paths.iter().map(|p| real(p)).collect();
    s.output = spec.output.iter().map(|p| real(p)).collect();
    s
}

fn notify_err(e: notify::Error) -> io::Error {
    io::Error::other(format!("cannot start the file watcher: {e}"))
}

fn watch_err(path: &Path, e: notify::Error) -> io::Error {
    let hint = if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
        " (raise fs.inotify.max_user_watches, or use --poll)"
    } else {
        ""
    };
    io::Error::other(format!("cannot watch {}: {e}{hint}", path.display()))
}
