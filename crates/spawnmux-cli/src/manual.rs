//! What the binary says about itself beyond the help clap writes: the examples shown after
//! `--help` of `run` and `check`, shell completion scripts (`spawnmux completions SHELL`,
//! clap_complete) and man pages (`spawnmux man [SUBCOMMAND]`, clap_mangen), both generated
//! from the same clap definition as the parser, so they never disagree with it.

use clap::CommandFactory;

use crate::cli::Cli;

/// Shown after `spawnmux run --help`.
pub(crate) const RUN_EXAMPLES: &str = "\
Examples:
  spawnmux run                                  spawnmux.toml here (else ./Procfile)
  spawnmux run -c dev.toml --only web,api       two helpers of dev.toml
  spawnmux run -f Procfile -e .env.local        a Procfile with an environment file
  spawnmux run -- 'npx vite' 'npx tsc -w'       ad hoc: each argument a shell command
  spawnmux run -n web,api -- 'npm run dev' 'node s.js'
  spawnmux run --format json | jq .             one JSON record per line
  spawnmux run --tty --handle-input -- 'npx vite'
  spawnmux run --watch src --on-change 'make' --restart-on-change web

Configuration keys: docs/config.md. `spawnmux check` with the same arguments prints the\nplan without starting anything.";

/// Shown after `spawnmux check --help`.
pub(crate) const CHECK_EXAMPLES: &str = "\
Examples:
  spawnmux check                                is spawnmux.toml (or ./Procfile) valid?
  spawnmux check -c dev.toml --only web         the plan of `spawnmux run -c dev.toml --only web`
  spawnmux check --format json | jq .start_order
  spawnmux check -- 'npx vite' 'npx tsc -w'     the names ad-hoc commands would get

`check` takes the arguments of `run` (the log's --color, --no-timestamps, --keep-ansi and --raw are
accepted and ignored). Exit status: 0 when the plan is valid, 2 with the error otherwise.
Environment variables are shown by name, never their values.";

/// Shown after `spawnmux completions --help`.
pub(crate) const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  spawnmux completions bash > ~/.local/share/bash-completion/completions/spawnmux
  spawnmux completions zsh > ~/.zfunc/_spawnmux        (with fpath+=~/.zfunc in .zshrc)
  spawnmux completions fish > ~/.config/fish/completions/spawnmux.fish
  spawnmux completions powershell >> $PROFILE
  spawnmux completions elvish >> ~/.config/elvish/rc.elv";

/// Shown after `spawnmux man --help`.
pub(crate) const MAN_EXAMPLES: &str = "\
Examples:
  spawnmux man > spawnmux.1 && man ./spawnmux.1
  spawnmux man run > spawnmux-run.1";

/// The completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "spawnmux", &mut out);
    out
}

/// The man page (roff) of `spawnmux`, or of one of its subcommands (`spawnmux-run`). `Err`:
/// there is no such subcommand; the names of those there are.
pub(crate) fn man(subcommand: Option<&str>) -> Result<Vec<u8>, Vec<String>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Gives each subcommand its display name (`spawnmux-run`), which its page is titled with.
    cmd.build();
    let page = match subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name).filter(|s| !s.is_hide_set()) {
            Some(sub) => sub.clone(),
            None => return Err(subcommands(&cmd)),
        },
    };
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail.
    let page = clap_mangen::Man::new(page).source(concat!("spawnmux ", env!("CARGO_PKG_VERSION")));
    let _ = page.render(&mut out);
    Ok(out)
}

/// The names of the subcommands with a page (the hidden ones have none).
fn subcommands(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_that_knows_the_subcommands() {
        for shell in clap_complete::Shell::value_variants() {
            let script = String::from_utf8(completions(*shell)).expect("UTF-8");
            for word in [
                "spawnmux",
                "run",
                "completions",
                "only",
                "watch",
                "on-change",
            ] {
                assert!(script.contains(word), "{shell}: no `{word}`");
            }
        }
    }

    /// The page's first request, after the preamble roff writes (a string for `'`).
    fn title(page: &[u8]) -> String {
        let page = String::from_utf8(page.to_vec()).expect("UTF-8");
        let first = page
            .lines()
            .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
        first.expect("a line").to_string()
    }

    #[test]
    fn man_pages_render_for_the_command_and_each_subcommand() {
        let page = man(None).expect("renders");
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            title(&page),
            format!(".TH spawnmux 1  \"spawnmux {version}\" ")
        );
        let text = String::from_utf8(page).expect("UTF-8");
        assert!(text.contains("spawnmux\\-run(1)"), "{text}");
        let page = man(Some("run")).expect("renders");
        assert!(
            title(&page).starts_with(".TH spawnmux-run 1 "),
            "{}",
            title(&page)
        );
        let text = String::from_utf8(page).expect("UTF-8");
        assert!(text.contains("Examples:"), "the examples are a section");
        let known = man(Some("demo-child")).expect_err("a hidden command has no page");
        assert!(known.contains(&"completions".to_string()), "{known:?}");
    }
}
