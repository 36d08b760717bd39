//! Finding and loading what `spawnmux run` runs: a `spawnmux.toml`, a Procfile, or commands
//! given after `--`; then `--only` / `--except`.

mod config;
mod error;
mod procfile;

pub(crate) use config::{find_cycle, load_bytes as config_bytes};
pub(crate) use error::LoadError;
pub(crate) use procfile::{parse as procfile_text, parse_env_file};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::{RunArgs, WatchArgs};
use crate::spec::{check_name, name_char, HelperSpec, Program, RunSpec, WatchSpec, RESERVED_NAME};

/// Loads the helpers `args` ask for, relative to the current directory.
pub(crate) fn load(args: &RunArgs) -> Result<RunSpec, LoadError> {
    let cwd = std::env::current_dir().map_err(|e| LoadError(format!("current directory: {e}")))?;
    load_in(args, &cwd)
}

pub(crate) fn load_in(args: &RunArgs, dir: &Path) -> Result<RunSpec, LoadError> {
    if !args.stray.is_empty() {
        // `spawnmux run 'npm start'`: the commands belong after `--` (and any that are there
        // already follow them).
        let commands: Vec<String> = args
            .stray
            .iter()
            .chain(&args.commands)
            .map(|c| shell_quote(c))
            .collect();
        return Err(LoadError(format!(
            "put the commands after --: spawnmux run -- {}",
            commands.join(" ")
        )));
    }
    if !args.names.is_empty() && args.commands.is_empty() {
        return Err(LoadError(
            "--names names the commands after --, and there are none".into(),
        ));
    }
    let mut spec = if !args.commands.is_empty() {
        if args.config.is_some() || args.procfile.is_some() {
            return Err(LoadError(
                "commands after `--` cannot be combined with -c or -f".into(),
            ));
        }
        ad_hoc(&args.commands, &args.names)?
    } else if let Some(config) = config_path(args, dir) {
        let mut spec = config::load(&config)?;
        if args.config.is_none() && dir.join("Procfile").exists() {
            spec.notes.push(
                "using spawnmux.toml (a Procfile is here too; -f Procfile runs that instead)"
                    .into(),
            );
        }
        let env = env_files(&args.env_files, None)?;
        for h in &mut spec.helpers {
            for (k, v) in &env {
                h.env.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        spec
    } else {
        let procfile = args
            .procfile
            .clone()
            .unwrap_or_else(|| dir.join("Procfile"));
        if args.procfile.is_none() && !procfile.exists() && args.watch.any() {
            // Watch mode alone: `spawnmux run --watch src --on-change 'make'` (without
            // --watch, apply_watch_args says what is missing).
            ad_hoc(&[], &[])?
        } else if args.procfile.is_none() && !procfile.exists() {
            return Err(LoadError(format!(
                "no spawnmux.toml or Procfile in {}; pass -c FILE, -f FILE or commands after --",
                dir.display()
            )));
        } else {
            let env = env_files(&args.env_files, procfile.parent())?;
            procfile::load(&procfile, &env)?
        }
    };
    apply_watch_args(&mut spec, &args.watch, dir)?;
    select(&mut spec.helpers, &args.only, &args.except)?;
    if let Some(w) = &mut spec.watch {
        w.restart
            .retain(|r| spec.helpers.iter().any(|h| &h.name == r));
    }
    Ok(spec)
}

/// The watch flags on top of the config's `[watch]` (or instead of it).
fn apply_watch_args(spec: &mut RunSpec, args: &WatchArgs, dir: &Path) -> Result<(), LoadError> {
    if !args.any() {
        return Ok(());
    }
    let abs_dir = std::path::absolute(dir)
        .map_err(|e| LoadError(format!("current directory {}: {e}", dir.display())))?;
    let mut watch = match spec.watch.take() {
        Some(w) => w,
        None if args.paths.is_empty() => {
            return Err(LoadError(
                "watch flags need --watch PATH (or a [watch] table in the config)".into(),
            ))
        }
        None => WatchSpec::new(Vec::new(), abs_dir.clone()),
    };
    if !args.paths.is_empty() {
        watch.paths.clear();
        for p in &args.paths {
            let full = abs_dir.join(p);
            std::fs::metadata(&full).map_err(|e| {
                LoadError(format!(
                    "--watch {}: cannot be watched: {}: {e}",
                    p.display(),
                    full.display()
                ))
            })?;
            watch.paths.push(full);
        }
    }
    if let Some(cmd) = &args.on_change {
        if cmd.trim().is_empty() {
            return Err(LoadError("--on-change: the command is empty".into()));
        }
        let program = Program::Shell(cmd.clone());
        match &mut watch.build {
            Some(b) => b.program = program,
            None => {
                let mut name = "build".to_string();
                let mut n = 1;
                while spec.helpers.iter().any(|h| h.name == name) {
                    n += 1;
                    name = format!("build-{n}");
                }
                watch.build = Some(HelperSpec::new(name, program));
            }
        }
    }
    if !args.restart_on_change.is_empty() {
        for name in &args.restart_on_change {
            if !spec.helpers.iter().any(|h| &h.name == name) {
                let known: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
                return Err(LoadError(format!(
                    "--restart-on-change: no helper named `{name}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        watch.restart = args.restart_on_change.clone();
    }
    for pattern in &args.ignore {
        crate::watch::check_pattern(pattern).map_err(|e| LoadError(format!("--ignore: {e}")))?;
        watch.ignore.push(pattern.clone());
    }
    watch
        .output
        .extend(args.output.iter().map(|o| abs_dir.join(o)));
    if let Some(d) = args.debounce {
        watch.debounce = d;
    }
    if let Some(b) = args.on_busy {
        watch.on_busy = b;
    }
    if args.poll.is_some() {
        watch.poll = args.poll;
    }
    if args.no_gitignore {
        watch.gitignore = false;
    }
    if watch.build.is_none() && watch.restart.is_empty() {
        return Err(LoadError(
            "--watch needs --on-change COMMAND, --restart-on-change NAME, or both".into(),
        ));
    }
    spec.watch = Some(watch);
    Ok(())
}

fn config_path(args: &RunArgs, dir: &Path) -> Option<PathBuf> {
    if let Some(c) = &args.config {
        return Some(c.clone());
    }
    let default = dir.join("spawnmux.toml");
    (args.procfile.is_none() && default.exists()).then_some(default)
}

/// The env files named with `-e`, else `.env` beside the Procfile if there is one.
fn env_files(
    files: &[PathBuf],
    procfile_dir: Option<&Path>,
) -> Result<BTreeMap<String, String>, LoadError> {
    let mut env = BTreeMap::new();
    if files.is_empty() {
        if let Some(dot_env) = procfile_dir.map(|d| d.join(".env")).filter(|p| p.exists()) {
            procfile::read_env_file(&dot_env, &mut env)?;
        }
    }
    for f in files {
        procfile::read_env_file(f, &mut env)?;
    }
    Ok(env)
}

/// One helper per shell command (none may be empty), named by `names` (checked: one per
/// command, valid, unique) or else by [`derived_name`], made unique with `-2`, `-3`, ….
fn ad_hoc(commands: &[String], names: &[String]) -> Result<RunSpec, LoadError> {
    if let Some(i) = commands.iter().position(|c| c.trim().is_empty()) {
        return Err(LoadError(format!("command {} after -- is empty", i + 1)));
    }
    if !names.is_empty() {
        if names.len() != commands.len() {
            return Err(LoadError(format!(
                "--names gives {} for {} after --",
                count(names.len(), "name"),
                count(commands.len(), "command")
            )));
        }
        for (i, name) in names.iter().enumerate() {
            check_name(name)
                .map_err(|problem| LoadError(format!("--names: `{name}` {problem}")))?;
            if names[..i].contains(name) {
                return Err(LoadError(format!("--names: `{name}` is given twice")));
            }
        }
    }
    let mut helpers: Vec<HelperSpec> = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        let name = match names.get(i) {
            Some(name) => name.clone(),
            None => {
                let base = derived_name(c);
                let mut name = base.clone();
                let mut n = 1;
                while name == RESERVED_NAME || helpers.iter().any(|h| h.name == name) {
                    n += 1;
                    name = format!("{base}-{n}");
                }
                name
            }
        };
        debug_assert_eq!(check_name(&name), Ok(()), "{name}");
        helpers.push(HelperSpec::new(name, Program::Shell(c.clone())));
    }
    Ok(RunSpec {
        helpers,
        origin: "command line".into(),
        watch: None,
        notes: Vec::new(),
    })
}

/// `1 name`, `3 commands`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The default name of an ad-hoc command: its program's file name (`./bin/web.sh` → `web.sh`,
/// `node.exe` → `node`), after any leading `VAR=value` words; for the script and package
/// runners (`npm run X`, `npm run-script X`, `npm exec X`, `npx X`, `yarn [run|exec|dlx] X`,
/// `pnpm [run|exec|dlx] X`, `bun [run|x] X`, `bunx X`, `pnpx X`), `X` instead: their
/// options are skipped, a package's `@version` dropped, `@scope/pkg` named `scope-pkg`, a path
/// named by its file name. Characters a name may not have become `-` (one per run, none at
/// either end: `build:css` → `build-css`); nothing left at all is `cmd`.
fn derived_name(command: &str) -> String {
    let words = shell_words(command);
    let mut words = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| is_assignment(w));
    let Some(first) = words.next() else {
        return "cmd".into();
    };
    let program = base_name(first);
    let (subcommands, required): (&[&str], bool) = match program.to_ascii_lowercase().as_str() {
        "npx" | "bunx" | "pnpx" => (&[], false),
        "npm" => (&["run", "run-script", "exec"], true),
        "yarn" | "pnpm" => (&["run", "exec", "dlx"], false),
        "bun" => (&["run", "x"], false),
        _ => return sanitise(program),
    };
    match runner_target(&mut words, subcommands, required) {
        Some(target) => sanitise(package_name(target)),
        None => sanitise(program),
    }
}

/// What a script or package runner runs: the first word that is not an option (nor the value
/// of one of the options that take one), after one of `subcommands` (which must be there when
/// `required`).
fn runner_target<'a>(
    words: &mut impl Iterator<Item = &'a str>,
    subcommands: &[&str],
    required: bool,
) -> Option<&'a str> {
    /// Runner options whose value is the next word (`npx -p typescript tsc`).
    const TAKE_A_VALUE: &[&str] = &[
        "-p",
        "--package",
        "-c",
        "--call",
        "-w",
        "--workspace",
        "--prefix",
        "--cwd",
        "-C",
        "--dir",
        "-F",
        "--filter",
    ];
    let mut subcommand_seen = subcommands.is_empty();
    while let Some(w) = words.next() {
        if w.starts_with('-') {
            if TAKE_A_VALUE.contains(&w) {
                words.next();
            }
            continue;
        }
        if !subcommand_seen && subcommands.contains(&w) {
            subcommand_seen = true;
            continue;
        }
        return (subcommand_seen || !required).then_some(w);
    }
    None
}

/// `vite@5` → `vite`, `@scope/pkg@latest` → `scope/pkg` (named `scope-pkg` once sanitised),
/// `./src/index.ts` → `index.ts`.
fn package_name(word: &str) -> &str {
    let word = match word.rfind('@') {
        Some(i) if i > 0 => &word[..i],
        _ => word,
    };
    match word.strip_prefix('@') {
        Some(scoped) => scoped,
        None => base_name(word),
    }
}

/// The last component of a path (`/` or `\`), without a Windows program extension
/// (`.exe`, `.cmd`, `.bat`, `.com`: `npx.cmd` is `npx`, as on Unix).
fn base_name(word: &str) -> &str {
    let trimmed = word.trim_end_matches(['/', '\\']);
    let base = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    let base = if base.is_empty() { word } else { base };
    match base.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && ["exe", "cmd", "bat", "com"]
                    .iter()
                    .any(|e| ext.eq_ignore_ascii_case(e)) =>
        {
            stem
        }
        _ => base,
    }
}

/// A shell assignment word: `[A-Za-z_][A-Za-z0-9_]*=…`.
fn is_assignment(word: &str) -> bool {
    let Some((var, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = var.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Each run of characters a helper name may not contain becomes one `-`; none at either end;
/// `cmd` when nothing is left.
fn sanitise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if name_char(c) {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "cmd".into()
    } else {
        out.into()
    }
}

/// Words of a shell command, enough to name it: split at blanks outside quotes, quotes
/// removed. Backslashes are kept as they are (they separate paths on Windows).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in command.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// `arg` as one shell word: as it is when that is safe, else in single quotes.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn select(
    helpers: &mut Vec<HelperSpec>,
    only: &[String],
    except: &[String],
) -> Result<(), LoadError> {
    for name in only.iter().chain(except) {
        if !helpers.iter().any(|h| &h.name == name) {
            let known: Vec<&str> = helpers.iter().map(|h| h.name.as_str()).collect();
            return Err(LoadError(format!(
                "no helper named `{name}` (known: {})",
                known.join(", ")
            )));
        }
    }
    if !only.is_empty() {
        helpers.retain(|h| only.contains(&h.name));
    }
    helpers.retain(|h| !except.contains(&h.name));
    let kept: Vec<String> = helpers.iter().map(|h| h.name.clone()).collect();
    for h in helpers.iter_mut() {
        h.depends_on.retain(|d| kept.contains(d));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn names(commands: &[&str]) -> Vec<String> {
        ad_hoc(&strings(commands), &[])
            .expect("valid")
            .helpers
            .into_iter()
            .map(|h| h.name)
            .collect()
    }

    #[test]
    fn ad_hoc_names_are_unique() {
        assert_eq!(
            names(&[
                "node a.js",
                "./bin/web.sh -p 1",
                "node b.js",
                "/opt/node/node.EXE server.js",
                "tsc -w",
                "C:\\tools\\tsc.cmd -w",
            ]),
            ["node", "web.sh", "node-2", "node-3", "tsc", "tsc-2"]
        );
        // `spawnmux` is reserved for spawnmux's own lines.
        assert_eq!(
            names(&["spawnmux demo", "spawnmux demo"]),
            ["spawnmux-2", "spawnmux-3"]
        );
    }

    #[test]
    fn derived_names() {
        for (command, name) in [
            // Leading assignments are skipped.
            ("NODE_ENV=dev node s.js", "node"),
            ("A=1 _B=2 c3=x ./serve", "serve"),
            ("NODE_ENV='a b' PORT=\"1 2\" node s.js", "node"),
            ("1A=x node", "1A-x"),
            ("A-B=x node", "A-B-x"),
            ("A=1", "cmd"),
            // Script and package runners: what they run.
            ("npm run dev", "dev"),
            ("npm run-script build", "build"),
            ("npm run --silent dev", "dev"),
            ("npm -w web run dev -- --port 3", "dev"),
            ("npm exec -- vite", "vite"),
            ("npm start", "npm"),
            ("npm run", "npm"),
            ("npx vite", "vite"),
            ("npx -y vite --port 5173", "vite"),
            ("npx --yes -p typescript tsc -w", "tsc"),
            ("npx vite@5.1", "vite"),
            ("npx @tailwindcss/cli@latest -w", "tailwindcss-cli"),
            ("npx.cmd eslint .", "eslint"),
            ("npx", "npx"),
            ("npx -y", "npx"),
            ("yarn dev", "dev"),
            ("yarn run dev", "dev"),
            ("yarn --cwd web dev", "dev"),
            ("yarn dlx create-vite", "create-vite"),
            ("yarn", "yarn"),
            ("pnpm dev", "dev"),
            ("pnpm run dev", "dev"),
            ("pnpm exec vite", "vite"),
            ("pnpm dlx vite", "vite"),
            ("pnpm --filter api dev", "dev"),
            ("pnpm -C web run dev", "dev"),
            ("bun dev", "dev"),
            ("bun run dev", "dev"),
            ("bun --hot ./src/index.ts", "index.ts"),
            ("bun x vite", "vite"),
            ("bunx vite", "vite"),
            ("NODE_ENV=dev npm run 'build:css'", "build-css"),
            // Sanitised: one `-` per run of other characters, none at the ends.
            ("npm run build:css", "build-css"),
            ("npm run test:unit:watch", "test-unit-watch"),
            ("npm run :odd::", "odd"),
            ("npm run café", "caf"),
            ("npm run ::", "cmd"),
            ("'my server' --port 1", "my-server"),
            ("./bin/", "bin"),
            // Everything else: the program's file name, as before.
            ("./bin/web.sh -p 1", "web.sh"),
            ("/usr/bin/python3 -m http.server", "python3"),
            ("node.exe s.js", "node"),
            (".exe", ".exe"),
        ] {
            assert_eq!(derived_name(command), name, "{command}");
        }
    }

    #[test]
    fn names_flag() {
        let commands = strings(&["npm run dev", "npx vite", "node s.js"]);
        let spec = ad_hoc(&commands, &strings(&["web", "css", "api"])).expect("valid");
        let got: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(got, ["web", "css", "api"]);
        assert_eq!(spec.helpers[1].program, Program::Shell("npx vite".into()));
        let e = |names: &[&str]| ad_hoc(&commands, &strings(names)).expect_err("bad").0;
        assert_eq!(
            e(&["web", "css"]),
            "--names gives 2 names for 3 commands after --"
        );
        assert_eq!(
            e(&["a", "b", "c", "d"]),
            "--names gives 4 names for 3 commands after --"
        );
        assert_eq!(
            ad_hoc(&commands[..1], &strings(&["a", "b"]))
                .expect_err("bad")
                .0,
            "--names gives 2 names for 1 command after --"
        );
        assert_eq!(e(&["web", "css", "web"]), "--names: `web` is given twice");
        assert_eq!(
            e(&["web", "build:css", "api"]),
            "--names: `build:css` may only contain ASCII letters, digits, `.`, `-` and `_`"
        );
        assert_eq!(e(&["web", "", "api"]), "--names: `` is empty");
        assert!(e(&["web", "spawnmux", "api"]).starts_with("--names: `spawnmux` is reserved"));
    }

    #[test]
    fn empty_commands_are_refused() {
        let e = ad_hoc(&strings(&["node s.js", " \t "]), &[]).expect_err("empty");
        assert_eq!(e.0, "command 2 after -- is empty");
        let e = ad_hoc(&strings(&[""]), &[]).expect_err("empty");
        assert_eq!(e.0, "command 1 after -- is empty");
    }

    /// `spawnmux run ARGS`, parsed.
    fn run_args(args: &[&str]) -> RunArgs {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["spawnmux", "run"].iter().chain(args))
            .expect("valid arguments");
        match cli.command {
            crate::cli::Cmd::Run(args) => *args,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn a_note_says_which_of_two_files_is_used() {
        let dir = std::env::temp_dir().join(format!("spawnmux-load-{}-notes", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("spawnmux.toml"), "[helpers.web]\nshell = \"x\"\n").expect("write");
        let spec = load_in(&run_args(&[]), &dir).expect("valid");
        assert!(spec.notes.is_empty(), "{:?}", spec.notes);
        std::fs::write(dir.join("Procfile"), "worker: y\n").expect("write");
        let spec = load_in(&run_args(&[]), &dir).expect("valid");
        assert_eq!(spec.helpers[0].name, "web");
        assert_eq!(
            spec.notes,
            ["using spawnmux.toml (a Procfile is here too; -f Procfile runs that instead)"]
        );
        let explicit = dir.join("spawnmux.toml").display().to_string();
        let spec = load_in(&run_args(&["-c", &explicit]), &dir).expect("valid");
        assert!(spec.notes.is_empty(), "-c: no note");
        let procfile = dir.join("Procfile").display().to_string();
        let spec = load_in(&run_args(&["-f", &procfile]), &dir).expect("valid");
        assert_eq!(spec.helpers[0].name, "worker");
        assert!(spec.notes.is_empty(), "-f: no note");
        let spec = load_in(&run_args(&["--", "node s.js"]), &dir).expect("valid");
        assert!(spec.notes.is_empty(), "commands: no note");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stray_arguments_and_names_without_commands() {
        let dir = std::env::temp_dir();
        let e = load_in(&run_args(&["echo one"]), &dir).expect_err("stray");
        assert_eq!(e.0, "put the commands after --: spawnmux run -- 'echo one'");
        let e = load_in(&run_args(&["a", "b c", "--", "d"]), &dir).expect_err("stray");
        assert_eq!(e.0, "put the commands after --: spawnmux run -- a 'b c' d");
        let e = load_in(&run_args(&["-n", "web"]), &dir).expect_err("no commands");
        assert_eq!(
            e.0,
            "--names names the commands after --, and there are none"
        );
        let spec = load_in(&run_args(&["-n", "web", "-n", "api", "--", "a", "b"]), &dir)
            .expect("repeated -n adds up");
        assert_eq!(spec.helpers[1].name, "api");
    }

    #[test]
    fn quoting_for_the_hint() {
        assert_eq!(shell_quote("npm"), "npm");
        assert_eq!(shell_quote("echo one"), "'echo one'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn only_and_except() {
        let mut hs = ad_hoc(&strings(&["a", "b", "c"]), &[])
            .expect("valid")
            .helpers;
        hs[2].depends_on = vec!["a".into()];
        select(&mut hs, &["b".into(), "c".into()], &[]).expect("ok");
        assert_eq!(
            hs.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(hs[1].depends_on.is_empty());
        let mut hs = ad_hoc(&strings(&["a", "b"]), &[]).expect("valid").helpers;
        let e = select(&mut hs, &[], &["zz".into()]).expect_err("unknown");
        assert_eq!(e.0, "no helper named `zz` (known: a, b)");
    }

    /// `spawnmux run ARGS` in `dir`: the loaded spec, or the error (clap's or the loader's) as
    /// the user would read it.
    fn try_load(args: &[&str], dir: &Path) -> Result<RunSpec, String> {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["spawnmux", "run"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        let crate::cli::Cmd::Run(args) = cli.command else {
            panic!("not run");
        };
        load_in(&args, dir).map_err(|e| e.to_string())
    }

    /// Every duration flag and config key reads the same text the same way (`duration.rs`).
    #[test]
    fn one_duration_grammar_for_flags_and_config_keys() {
        let dir =
            std::env::temp_dir().join(format!("spawnmux-load-{}-durations", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let config = dir.join("spawnmux.toml").display().to_string();
        for text in ["1.5", "10", "0.25", "300ms", "1.5s", "2m", "1h30m"] {
            let want = crate::duration::parse(text).expect("valid");
            let (debounce, poll) = (format!("--debounce={text}"), format!("--poll={text}"));
            let flags = ["--watch", ".", "--on-change", "x", &debounce, &poll];
            let spec = try_load(&flags, &dir).expect(text);
            let watch = spec.watch.expect("watch");
            assert_eq!((watch.debounce, watch.poll), (want, Some(want)), "{text}");
            std::fs::write(
                &config,
                format!(
                    "[helpers.web]\nshell = \"x\"\nstop_timeout = \"{text}\"\nready_line = \"r\"\n\
                     ready_timeout = \"{text}\"\n[watch]\npaths = [\".\"]\nrun = \"x\"\n\
                     debounce = \"{text}\"\npoll = \"{text}\"\nstop_timeout = \"{text}\"\n"
                ),
            )
            .expect("write");
            let spec = try_load(&["-c", &config], &dir).expect(text);
            let web = &spec.helpers[0];
            assert_eq!(
                (web.stop_timeout, web.ready_timeout),
                (want, want),
                "{text}"
            );
            let watch = spec.watch.expect("watch");
            assert_eq!((watch.debounce, watch.poll), (want, Some(want)), "{text}");
            assert_eq!(watch.build.expect("build").stop_timeout, want, "{text}");
        }
        for text in ["soon", "-1", "", "1e3", "NaN"] {
            let debounce = format!("--debounce={text}");
            let flags = ["--watch", ".", "--on-change", "x", &debounce];
            let e = try_load(&flags, &dir).expect_err(text);
            assert!(e.contains("--debounce"), "{text:?}: {e}");
            assert!(e.contains(&format!("`{text}` is not a duration")), "{e}");
            assert!(e.contains("write seconds (10, 1.5)"), "{e}");
            std::fs::write(
                &config,
                format!("[helpers.web]\nshell = \"x\"\nstop_timeout = \"{text}\"\n"),
            )
            .expect("write");
            let e = try_load(&["-c", &config], &dir).expect_err(text);
            let key = format!("`stop_timeout` of helper `web`: `{text}` is not a duration");
            assert!(e.contains(&key), "{text:?}: {e}");
            assert!(e.contains("write seconds (10, 1.5)"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
