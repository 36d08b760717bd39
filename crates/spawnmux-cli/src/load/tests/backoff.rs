//! `backoff = { initial, max }`: its defaults and its rules.

use std::time::Duration;

use super::config::{err, load_text};
use crate::spec::Backoff;

fn backoff(table: &str) -> Backoff {
    let text = format!("[helpers.web]\nshell = \"x\"\nrestart = \"always\"\nbackoff = {table}\n");
    load_text("backoff", &text).expect("valid").helpers[0].backoff
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn backoff_keys_and_their_defaults() {
    let b = |initial, max| Backoff {
        initial: secs(initial),
        max: secs(max),
    };
    assert_eq!(
        backoff(r#"{ initial = "250ms", max = "2s" }"#),
        b(0.25, 2.0)
    );
    assert_eq!(backoff(r#"{ initial = "5", max = "5" }"#), b(5.0, 5.0));
    assert_eq!(backoff(r#"{ max = "1m" }"#), b(1.0, 60.0));
    assert_eq!(backoff(r#"{ initial = "2s" }"#), b(2.0, 30.0));
    assert_eq!(
        backoff(r#"{ initial = "45s" }"#),
        b(45.0, 45.0),
        "max follows an initial above its default"
    );
    assert_eq!(backoff("{}"), Backoff::DEFAULT);
    let spec = load_text("no-backoff", "[helpers.web]\nshell = \"x\"\n").expect("valid");
    assert_eq!(spec.helpers[0].backoff, Backoff::DEFAULT);
}

#[test]
fn backoff_errors_name_the_key_and_the_value() {
    let e = |table: &str| {
        let text =
            format!("[helpers.web]\nshell = \"x\"\nrestart = \"on-failure\"\nbackoff = {table}\n");
        err("backoff-err", &text)
    };
    assert_eq!(
        e(r#"{ initial = "0s" }"#),
        "spawnmux.toml:4:23: `backoff.initial` of helper `web` must be more than 0s, not `0s`"
    );
    assert_eq!(
        e(r#"{ initial = "2s", max = "1s" }"#),
        "spawnmux.toml:4:35: `backoff.max` of helper `web` must be at least `backoff.initial` (2s), not `1s`"
    );
    assert!(e(r#"{ max = "soon" }"#).starts_with(
        "spawnmux.toml:4:19: `backoff.max` of helper `web`: `soon` is not a duration"
    ));
    assert!(e(r#"{ initial = "1s", maximum = "2s" }"#)
        .starts_with("spawnmux.toml:4:29: unknown field `maximum`, expected `initial` or `max`"));
    assert_eq!(
        err("backoff-never", "[helpers.web]\nshell = \"x\"\nbackoff = { initial = \"1s\" }\n"),
        "spawnmux.toml:3:11: `backoff` of helper `web` needs `restart` (on-failure or always): it is the delay between restarts"
    );
}
