//! `${…}` references in spawnmux.toml's values, the grammar alone (pure: what a reference
//! stands for is the caller's answer, `validate/ports.rs`):
//!
//! - `${port}`: the helper's own port; `${port.NAME}`: helper NAME's (a copy: `web.2`);
//! - `${env.NAME}`: variable NAME of spawnmux's environment;
//! - `$${` is a literal `${`; any other `$` is itself (`$HOME`, `$$` reach the shell as
//!   written);
//! - anything else in `${…}`, or a `${` without its `}`, is an error.
//!
//! A value is read once, left to right: what a reference stands for is not read again.

use std::ops::Range;

/// What a `${…}` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref<'a> {
    /// `${port}`.
    OwnPort,
    /// `${port.NAME}`.
    Port(&'a str),
    /// `${env.NAME}`.
    Env(&'a str),
}

/// A reference that cannot be read, or that its resolver refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bad {
    /// The reference in the text (bytes), `${` to `}` (to the end when there is no `}`).
    pub(crate) at: Range<usize>,
    pub(crate) problem: String,
}

/// `text` with each reference replaced by what `resolve` says it stands for.
pub(crate) fn interpolate(
    text: &str,
    resolve: &mut dyn FnMut(Ref<'_>) -> Result<String, String>,
) -> Result<String, Bad> {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    while let Some(found) = text[done..].find("${") {
        let start = done + found;
        if text[..start].ends_with('$') {
            // `$${`: the first `$` escapes the reference.
            out.push_str(&text[done..start - 1]);
            out.push_str("${");
            done = start + 2;
            continue;
        }
        out.push_str(&text[done..start]);
        let Some(len) = text[start..].find('}') else {
            let problem = "`${` without its `}` (a literal `${` is written `$${`)".to_string();
            return Err(Bad {
                at: start..text.len(),
                problem,
            });
        };
        let at = start..start + len + 1;
        let value = parse(&text[start + 2..at.end - 1])
            .and_then(&mut *resolve)
            .map_err(|problem| Bad {
                at: at.clone(),
                problem,
            })?;
        out.push_str(&value);
        done = at.end;
    }
    out.push_str(&text[done..]);
    Ok(out)
}

/// What the inside of `${…}` names.
fn parse(inner: &str) -> Result<Ref<'_>, String> {
    let bad_name = |name: &str| {
        name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '$' | '{' | '=' | '\0'))
    };
    match inner.split_once('.') {
        None if inner == "port" => Ok(Ref::OwnPort),
        Some(("port", name)) if !bad_name(name) => Ok(Ref::Port(name)),
        Some(("env", name)) if !bad_name(name) => Ok(Ref::Env(name)),
        _ => Err(format!(
            "not a reference: spawnmux knows `${{port}}`, `${{port.NAME}}` and `${{env.NAME}}` (for the shell's own `${{{inner}}}`, write `$${{{inner}}}`)"
        )),
    }
}

/// Where the `nth` (from 0) occurrence of `needle` is in `raw`, the source text of the value
/// it was found in (TOML shows `${…}` as is, unless the file escaped its characters).
pub(crate) fn locate(raw: &str, nth: usize, needle: &str) -> Option<usize> {
    raw.match_indices(needle).nth(nth).map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with `${port}` = 1, `${port.web}` = 5173, `${env.X}` = `x`; any other name is
    /// refused.
    fn run(text: &str) -> Result<String, Bad> {
        interpolate(text, &mut |r| match r {
            Ref::OwnPort => Ok("1".into()),
            Ref::Port("web") => Ok("5173".into()),
            Ref::Env("X") => Ok("x".into()),
            other => Err(format!("unknown {other:?}")),
        })
    }

    #[test]
    fn references_are_replaced_left_to_right_once() {
        assert_eq!(run("plain $HOME $$ $").as_deref(), Ok("plain $HOME $$ $"));
        assert_eq!(
            run("http://127.0.0.1:${port.web}/ ${port}${env.X}").as_deref(),
            Ok("http://127.0.0.1:5173/ 1x")
        );
        assert_eq!(run("${env.X}${env.X}").as_deref(), Ok("xx"));
        assert_eq!(run("").as_deref(), Ok(""));
    }

    #[test]
    fn a_dollar_before_a_reference_makes_it_literal() {
        assert_eq!(run("$${HOME}").as_deref(), Ok("${HOME}"));
        assert_eq!(run("$${port.web}").as_deref(), Ok("${port.web}"));
        assert_eq!(run("a$${").as_deref(), Ok("a${"));
        // `$$${x}`: the second `$` escapes, the first stays.
        assert_eq!(run("$$${x}").as_deref(), Ok("$${x}"));
        assert_eq!(
            run("$${port.web}${port.web}").as_deref(),
            Ok("${port.web}5173")
        );
    }

    #[test]
    fn bad_syntax_is_an_error_at_the_reference() {
        for (text, at, starts) in [
            ("a ${HOME} b", 2..9, "not a reference"),
            ("${port.}", 0..8, "not a reference"),
            ("${env.}", 0..7, "not a reference"),
            ("${env.A B}", 0..10, "not a reference"),
            ("${ports.web}", 0..12, "not a reference"),
            ("${}", 0..3, "not a reference"),
            ("x ${port.web", 2..12, "`${` without its `}`"),
            ("${port.${env.X}}", 0..15, "not a reference"),
        ] {
            let bad = run(text).expect_err(text);
            assert_eq!(bad.at, at, "{text}");
            assert!(bad.problem.starts_with(starts), "{text}: {}", bad.problem);
        }
        let bad = run("${HOME}").expect_err("HOME");
        assert!(
            bad.problem.ends_with("write `$${HOME}`)"),
            "{}",
            bad.problem
        );
    }

    #[test]
    fn the_resolvers_refusal_is_an_error_at_the_reference() {
        let bad = run("-p ${port.nope}").expect_err("nope");
        assert_eq!(bad.at, 3..15);
        assert_eq!(bad.problem, "unknown Port(\"nope\")");
        assert_eq!(
            run("${env.Y}").expect_err("Y").problem,
            "unknown Env(\"Y\")"
        );
        // A copy's name has dots of its own.
        let mut names = Vec::new();
        let _ = interpolate("${port.web.2}", &mut |r| {
            names.push(format!("{r:?}"));
            Ok(String::new())
        });
        assert_eq!(names, ["Port(\"web.2\")"]);
    }

    #[test]
    fn locate_finds_the_nth_occurrence_in_the_source() {
        let raw = r#"["a", "${port.x}", "$${port.x} ${port.x}"]"#;
        assert_eq!(locate(raw, 0, "${port.x}"), Some(7));
        assert_eq!(locate(raw, 2, "${port.x}"), Some(31));
        assert_eq!(locate(raw, 3, "${port.x}"), None);
    }
}
