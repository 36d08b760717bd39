//! The one-way flow: every duration flag and key reads the same grammar.

use std::path::Path;

use crate::load::load_in;
use crate::spec::RunSpec;

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
    let dir = std::env::temp_dir().join(format!("spawnmux-load-{}-durations", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Not spawnmux.toml: the flags alone must not find it.
    let config = dir.join("durations.toml").display().to_string();
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
