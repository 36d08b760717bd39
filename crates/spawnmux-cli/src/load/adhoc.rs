//! The commands after `--`, lowered to a [`Draft`]: one helper each, run through the shell,
//! named by `--names` (checked by `validate.rs`) or after what it runs (`derived_name`).

use super::draft::{Draft, Field, HelperDraft, Kind};
use super::error::{At, LoadError, Origin};
use crate::spec::{name_char, Program};

/// `spawnmux run 'npm start'`: the commands belong after `--` (and any that are there already
/// follow them); the error shows the command line that works.
pub(crate) fn refuse_stray(stray: &[String], commands: &[String]) -> Result<(), LoadError> {
    if stray.is_empty() {
        return Ok(());
    }
    let words: Vec<String> = stray
        .iter()
        .chain(commands)
        .map(|c| shell_quote(c))
        .collect();
    Err(LoadError(format!(
        "put the commands after --: spawnmux run -- {}",
        words.join(" ")
    )))
}

/// One helper per shell command (none may be empty), named by `names` (one per command) or
/// else by [`derived_name`], made unique with `-2`, `-3`, ….
pub(crate) fn lower(commands: &[String], names: &[String]) -> Result<Draft, LoadError> {
    if let Some(i) = commands.iter().position(|c| c.trim().is_empty()) {
        return Err(LoadError(format!("command {} after -- is empty", i + 1)));
    }
    if !names.is_empty() && names.len() != commands.len() {
        return Err(LoadError(format!(
            "--names gives {} for {} after --",
            count(names.len(), "name"),
            count(commands.len(), "command")
        )));
    }
    let mut draft = Draft::new(Origin::command_line(), ".".into());
    for (i, c) in commands.iter().enumerate() {
        let name = match names.get(i) {
            Some(name) => Field::new(name.clone(), At::Flag("--names")),
            None => Field::new(draft.free_name(&derived_name(c)), At::Flag("--")),
        };
        let program = Program::Shell(c.clone());
        draft
            .helpers
            .push(HelperDraft::new(Kind::Command, name, program));
    }
    Ok(draft)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn quoting_for_the_hint() {
        assert_eq!(shell_quote("npm"), "npm");
        assert_eq!(shell_quote("echo one"), "'echo one'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
