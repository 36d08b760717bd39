//! `spawnmux check`'s order and renderings, on plans built by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::spec::{Condition, Restart, RunSpec};

fn helper(name: &str, deps: &[&str]) -> HelperSpec {
    let mut h = HelperSpec::new(name, Program::Shell(format!("run {name}")));
    h.depends_on = deps.iter().map(|d| d.to_string()).collect();
    h
}

fn plan(helpers: Vec<HelperSpec>) -> RunSpec {
    RunSpec {
        helpers,
        origin: "spawnmux.toml".into(),
        watch: None,
        notes: Vec::new(),
    }
}

fn names(spec: &RunSpec, stages: Vec<Vec<usize>>) -> Vec<Vec<&str>> {
    let name = |h: usize| spec.helpers[h].name.as_str();
    stages
        .into_iter()
        .map(|s| s.into_iter().map(name).collect())
        .collect()
}

/// A diamond (web on api and cache, both on db), a helper on its own, and one declared
/// before what it depends on.
fn diamond() -> RunSpec {
    plan(vec![
        helper("web", &["api", "cache"]),
        helper("api", &["db"]),
        helper("alone", &[]),
        helper("cache", &["db"]),
        helper("db", &[]),
        helper("late", &["web", "db"]),
    ])
}

#[test]
fn start_stages_follow_the_longest_dependency_chain() {
    let spec = diamond();
    assert_eq!(
        names(&spec, start_stages(&spec.helpers)),
        [
            vec!["alone", "db"],
            vec!["api", "cache"],
            vec!["web"],
            vec!["late"]
        ]
    );
}

#[test]
fn stop_stages_put_dependents_first() {
    let spec = diamond();
    assert_eq!(
        names(&spec, stop_stages(&spec.helpers)),
        [
            vec!["alone", "late"],
            vec!["web"],
            vec!["api", "cache"],
            vec!["db"]
        ]
    );
    assert!(start_stages(&[]).is_empty());
}

#[test]
fn text_names_conditions_and_never_shows_values() {
    let mut db = helper("db", &[]);
    db.env = BTreeMap::from([("PGPASSWORD".to_string(), "s3cret".to_string())]);
    db.restart = Restart::OnFailure;
    db.max_restarts = Some(2);
    let mut web = helper("web", &["db", "migrate"]);
    web.conditions
        .insert("migrate".into(), Condition::CompletedSuccessfully);
    web.ready_line = Some("listening".into());
    web.ready_timeout = Duration::from_secs(90);
    let spec = plan(vec![db, helper("migrate", &["db"]), web]);
    let text = text::plan(&spec, Options::default());
    assert!(!text.contains("s3cret"), "{text}");
    for want in [
        "spawnmux.toml: valid, 3 helpers\n",
        "\ndb\n  shell          run db  (through the shell)\n",
        "  restart        on-failure, at most 2 times; after 1s, doubling up to 30s\n",
        "  environment    PGPASSWORD  (values not shown)\n",
        "  ready          once a line contains \"listening\" (within 1m 30s)\n",
        "  depends on     db (ready), migrate (completed_successfully)\n",
        "  1  db             at once\n",
        "  2  migrate        once db is ready\n",
        "  3  web            once db is ready and migrate has completed successfully\n",
        "  1  web\n  2  migrate\n  3  db\n",
    ] {
        assert!(text.contains(want), "want {want:?} in\n{text}");
    }
    let options = Options {
        kill_others: false,
        kill_others_on_fail: true,
    };
    let text = text::plan(&spec, options);
    assert!(text.contains("on exit        a failure stops every helper (--kill-others-on-fail)"));
}

#[test]
fn log_file_and_backoff_are_shown() {
    let mut web = helper("web", &[]);
    web.restart = Restart::Always;
    web.backoff = crate::spec::Backoff {
        initial: Duration::from_millis(250),
        max: Duration::from_secs(4),
    };
    web.log_file = Some(crate::spec::LogFile {
        path: "/app/logs/web.log".into(),
        max_size: 512 << 10,
    });
    let spec = plan(vec![web]);
    let text = text::plan(&spec, Options::default());
    assert!(
        text.contains("  restart        always; after 250ms, doubling up to 4s\n"),
        "{text}"
    );
    let log = format!(
        "  log file       {}  (rotated past 512 KiB, 3 old files kept)\n",
        std::path::Path::new("/app/logs/web.log").display()
    );
    assert!(text.contains(&log), "{text}");
    let v = json::plan(&spec, Options::default());
    assert_eq!(v["helpers"][0]["backoff"]["initial_ms"], 250);
    assert_eq!(v["helpers"][0]["backoff"]["max_ms"], 4000);
    assert_eq!(v["helpers"][0]["log_file"]["max_size"], 512 << 10);
}

#[test]
fn ports_are_shown_with_how_they_were_chosen() {
    let mut web = helper("web.2", &[]);
    web.port = Some(crate::spec::Port {
        number: 5174,
        auto: true,
        held: crate::spec::Held::default(),
    });
    web.copy_of = Some("web".into());
    let spec = plan(vec![web]);
    let text = text::plan(&spec, Options::default());
    let want = "  port           5174  (auto, held until it starts; PORT; a restart waits until it is free; a copy of web)\n";
    assert!(text.contains(want), "{text}");
    let v = json::plan(&spec, Options::default());
    assert_eq!(
        v["helpers"][0]["port"],
        serde_json::json!({"number": 5174, "auto": true})
    );
    assert_eq!(v["helpers"][0]["copy_of"], "web");
}

#[test]
fn json_has_every_setting_and_only_env_names() {
    let mut db = helper("db", &[]);
    db.env = BTreeMap::from([("TOKEN".to_string(), "s3cret".to_string())]);
    let mut web = helper("web", &["db"]);
    web.program = Program::Argv(vec!["node".into(), "s.js".into()]);
    web.conditions.insert("db".into(), Condition::Started);
    let spec = plan(vec![db, web]);
    let v = json::plan(&spec, Options::default());
    assert!(!v.to_string().contains("s3cret"));
    assert_eq!(v["valid"], true);
    assert_eq!(v["helpers"][0]["env"], serde_json::json!(["TOKEN"]));
    assert_eq!(v["helpers"][0]["command"]["shell"], "run db");
    assert_eq!(v["helpers"][0]["ready"], serde_json::Value::Null);
    assert_eq!(v["helpers"][0]["stop_timeout_ms"], 5000);
    assert_eq!(
        v["helpers"][1]["command"]["argv"],
        serde_json::json!(["node", "s.js"])
    );
    assert_eq!(v["helpers"][1]["depends_on"]["db"], "started");
    assert_eq!(v["start_order"], serde_json::json!([["db"], ["web"]]));
    assert_eq!(v["stop_order"], serde_json::json!([["web"], ["db"]]));
    assert_eq!(v["watch"], serde_json::Value::Null);
}

#[test]
fn argv_words_are_quoted_only_when_they_need_it() {
    let argv = |w: &[&str]| Program::Argv(w.iter().map(|s| s.to_string()).collect());
    assert_eq!(command_line(&argv(&["npx", "vite"])), "npx vite");
    assert_eq!(
        command_line(&argv(&["node", "a b", ""])),
        "node \"a b\" \"\""
    );
    assert_eq!(command_line(&Program::Shell("a | b".into())), "a | b");
}

#[test]
fn watch_mode_is_shown_with_its_rebuild() {
    use crate::spec::WatchSpec;
    let base = std::path::PathBuf::from("/app");
    let mut w = WatchSpec::new(vec![base.join("src")], base.clone());
    w.ignore = vec!["*.tmp".into()];
    w.output = vec![base.join("_site")];
    w.build = Some(helper("build", &[]));
    w.restart = vec!["web".into()];
    w.poll = Some(Duration::from_secs(2));
    let mut spec = plan(vec![helper("web", &[])]);
    spec.watch = Some(w);
    let text = text::plan(&spec, Options::default());
    for want in [
        "  paths          src\n",
        "  ignore         *.tmp\n",
        "  output         _site\n",
        "  changes seen   polling every 2s\n",
        "  rebuild        build (started by changes only)\n    shell          run build  (through the shell)\n",
        "  restart        web\n",
    ] {
        assert!(text.contains(want), "want {want:?} in\n{text}");
    }
    let v = json::plan(&spec, Options::default());
    assert_eq!(v["watch"]["poll_ms"], 2000);
    assert_eq!(v["watch"]["restart"], serde_json::json!(["web"]));
    assert_eq!(v["watch"]["build"]["name"], "build");
    let src = base.join("src").display().to_string();
    assert_eq!(v["watch"]["paths"], serde_json::json!([src]));
}
