//! Part of `validate.rs`: a helper's readiness and liveness checks (`ready_http`, `ready_tcp`,
//! `ready_exec`, `alive_*`, their intervals), and `depends_on`'s conditions and
//! `restart_with`. Addresses are resolved here, without DNS: IP literals and `localhost`
//! only, so the loop never blocks on a lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::{duration, key, one_of};
use crate::load::draft::{CheckDraft, Field, HelperDraft, TargetDraft};
use crate::load::error::{LoadError, Origin};
use crate::spec::{Addresses, Check, Condition, HelperSpec, Target, DEFAULT_CHECK_INTERVAL};

/// `ready_*` and `alive_*`: at most one check of each kind, no readiness check beside
/// `ready_line`, intervals more than 0, the other keys only with their check.
pub(super) fn checks(
    origin: &Origin,
    h: &HelperDraft,
    spec: &mut HelperSpec,
) -> Result<(), LoadError> {
    let c = &h.checks;
    let ready = only_one(origin, h, &c.ready)?;
    if let (Some(check), Some(_)) = (ready, &h.ready_line) {
        let problem = format!(
            "{}: a helper has one way to become ready, and this one has `ready_line` too",
            key(h, check.key)
        );
        return Err(origin.error(&check.at, problem));
    }
    spec.ready_check = check(origin, h, ready, &c.ready_interval, "ready_interval")?;
    if let Some(delay) = &c.ready_delay {
        needs(origin, h, delay, "ready_delay", ready, "ready")?;
        spec.ready_delay = duration(origin, delay, &key(h, "ready_delay"))?;
    }
    let alive = only_one(origin, h, &c.alive)?;
    spec.alive_check = check(origin, h, alive, &c.alive_interval, "alive_interval")?;
    if let Some(failures) = &c.alive_failures {
        needs(origin, h, failures, "alive_failures", alive, "alive")?;
        if failures.value == 0 {
            let problem = format!("{} must be at least 1", key(h, "alive_failures"));
            return Err(origin.error(&failures.at, problem));
        }
        spec.alive_failures = failures.value;
    }
    Ok(())
}

/// The one check of a kind, if any; two are an error at the second.
fn only_one<'a>(
    origin: &Origin,
    h: &HelperDraft,
    given: &'a [CheckDraft],
) -> Result<Option<&'a CheckDraft>, LoadError> {
    if let [first, second, ..] = given {
        let problem = format!(
            "{}: a helper has at most one of {}, {} and {}; keep `{}` or `{}`",
            key(h, second.key),
            kind_keys(first.key)[0],
            kind_keys(first.key)[1],
            kind_keys(first.key)[2],
            first.key,
            second.key
        );
        return Err(origin.error(&second.at, problem));
    }
    Ok(given.first())
}

/// `ready_http, ready_tcp, ready_exec` or the `alive_` ones, after one of them.
fn kind_keys(key: &str) -> [&'static str; 3] {
    match key.starts_with("ready") {
        true => ["ready_http", "ready_tcp", "ready_exec"],
        false => ["alive_http", "alive_tcp", "alive_exec"],
    }
}

/// A key that only makes sense with a check of `kind` (`ready`, `alive`).
fn needs<T>(
    origin: &Origin,
    h: &HelperDraft,
    value: &Field<T>,
    name: &str,
    check: Option<&CheckDraft>,
    kind: &str,
) -> Result<(), LoadError> {
    if check.is_some() {
        return Ok(());
    }
    let problem = format!(
        "{} needs a check to go with it (`{kind}_http`, `{kind}_tcp` or `{kind}_exec`)",
        key(h, name)
    );
    Err(origin.error(&value.at, problem))
}

/// The check, with its interval (more than 0; default 500ms).
fn check(
    origin: &Origin,
    h: &HelperDraft,
    draft: Option<&CheckDraft>,
    interval: &Option<Field<String>>,
    interval_key: &str,
) -> Result<Option<Check>, LoadError> {
    let Some(draft) = draft else {
        return match interval {
            Some(i) => needs(origin, h, i, interval_key, None, &interval_key[..5]).map(|_| None),
            None => Ok(None),
        };
    };
    let mut every = DEFAULT_CHECK_INTERVAL;
    if let Some(i) = interval {
        every = duration(origin, i, &key(h, interval_key))?;
        if every == Duration::ZERO {
            let problem = format!(
                "{} must be more than 0s, not `{}`",
                key(h, interval_key),
                i.value
            );
            return Err(origin.error(&i.at, problem));
        }
    }
    let target = match &draft.target {
        TargetDraft::Exec(program) => Ok(Target::Exec(program.clone())),
        TargetDraft::Tcp(text) => tcp(text),
        TargetDraft::Http(text) => http(text),
    };
    let target =
        target.map_err(|why| origin.error(&draft.at, format!("{}: {why}", key(h, draft.key))))?;
    Ok(Some(Check {
        target,
        interval: every,
    }))
}

/// `HOST:PORT`.
fn tcp(text: &str) -> Result<Target, String> {
    let addrs = addresses(text.trim(), None).map_err(|why| format!("`{text}`: {why}"))?;
    let written = text.trim().to_string();
    Ok(Target::Tcp(Addresses { addrs, written }))
}

/// `http://HOST[:PORT][/PATH]`: plain http, an IP address or localhost.
fn http(text: &str) -> Result<Target, String> {
    let url = text.trim();
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let rest = match scheme.as_deref() {
        Some("http") => &url[7..],
        Some("https") => {
            return Err(format!(
                "`{text}`: https is not supported (plain http only: http://…)"
            ))
        }
        _ => {
            return Err(format!(
                "`{text}` is not an http:// URL (e.g. http://127.0.0.1:5173/)"
            ))
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(format!(
            "`{text}`: user names and passwords are not supported"
        ));
    }
    let path = path.split('#').next().unwrap_or_default();
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    if path.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(format!(
            "`{text}`: the path has blanks or control characters"
        ));
    }
    let addrs = addresses(authority, Some(80)).map_err(|why| format!("`{text}`: {why}"))?;
    let at = Addresses {
        addrs,
        written: url.to_string(),
    };
    let host = authority.to_string();
    Ok(Target::Http { at, host, path })
}

/// The addresses of `HOST:PORT` (`default_port` when it has none), resolved without DNS.
fn addresses(host_port: &str, default_port: Option<u16>) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = split_host_port(host_port);
    let port = match (port, default_port) {
        (Some(p), _) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("`{p}` is not a port (1-65535)"))?,
        (None, Some(port)) => port,
        (None, None) => return Err("no port: write HOST:PORT (127.0.0.1:5432)".to_string()),
    };
    if host.eq_ignore_ascii_case("localhost") {
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        return Ok(vec![v4, SocketAddr::from((Ipv6Addr::LOCALHOST, port))]);
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        Err(_) if host.is_empty() => Err("no host".to_string()),
        Err(_) => Err(format!(
            "host `{host}` would need a DNS lookup, which would block spawnmux's loop: use an IP address (127.0.0.1, [::1]) or localhost"
        )),
    }
}

/// `host` and `port` of `host:port`, `[v6]:port`, `host`, `[v6]` (a bare IPv6 address has no
/// port).
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some((host, after)) = s.strip_prefix('[').and_then(|r| r.split_once(']')) {
        return (host, after.strip_prefix(':'));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (s, None),
    }
}

/// `depends_on`'s conditions and `restart_with` (which must name dependencies).
pub(super) fn relations(
    origin: &Origin,
    h: &HelperDraft,
    spec: &mut HelperSpec,
) -> Result<(), LoadError> {
    for (dep, condition) in &h.conditions {
        let what = format!("{} condition for `{}`", key(h, "depends_on"), dep.value);
        let condition = one_of(origin, condition, &what, &Condition::NAMES)?;
        spec.conditions.insert(dep.value.clone(), condition);
    }
    for r in &h.restart_with {
        if !h.depends_on.iter().any(|d| d.value == r.value) {
            let problem = format!(
                "{} names `{}`, which is not in its depends_on (a helper restarts with its dependencies only)",
                key(h, "restart_with"),
                r.value
            );
            return Err(origin.error(&r.at, problem));
        }
        spec.restart_with.push(r.value.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ip_literals_or_localhost() {
        let v4 = |p| SocketAddr::from((Ipv4Addr::LOCALHOST, p));
        let v6 = |p| SocketAddr::from((Ipv6Addr::LOCALHOST, p));
        assert_eq!(addresses("127.0.0.1:5432", None), Ok(vec![v4(5432)]));
        assert_eq!(addresses("[::1]:80", None), Ok(vec![v6(80)]));
        assert_eq!(
            addresses("localhost:3000", None),
            Ok(vec![v4(3000), v6(3000)])
        );
        assert_eq!(addresses("LocalHost", Some(80)), Ok(vec![v4(80), v6(80)]));
        assert_eq!(addresses("[::1]", Some(8080)), Ok(vec![v6(8080)]));
        assert!(addresses("127.0.0.1", None)
            .expect_err("no port")
            .starts_with("no port"));
        assert!(addresses("127.0.0.1:0", None)
            .expect_err("0")
            .contains("not a port"));
        assert!(addresses("db.local:5432", None)
            .expect_err("dns")
            .contains("DNS lookup"));
        assert!(
            addresses("::1", None).is_err(),
            "a bare IPv6 address has no port"
        );
    }

    #[test]
    fn urls_are_plain_http_with_a_path() {
        let Ok(Target::Http { at, host, path }) = http("http://localhost:5173/health?x=1#top")
        else {
            panic!("valid");
        };
        assert_eq!(
            (host.as_str(), path.as_str()),
            ("localhost:5173", "/health?x=1")
        );
        assert_eq!(at.addrs.len(), 2);
        let Ok(Target::Http { at, path, .. }) = http("HTTP://127.0.0.1") else {
            panic!("valid");
        };
        assert_eq!((at.addrs[0].port(), path.as_str()), (80, "/"));
        assert!(http("https://127.0.0.1/")
            .expect_err("tls")
            .contains("https is not supported"));
        assert!(http("127.0.0.1:80")
            .expect_err("scheme")
            .contains("not an http:// URL"));
        assert!(http("http://u:p@127.0.0.1/").is_err());
        assert!(http("http://example.com/")
            .expect_err("dns")
            .contains("DNS"));
    }
}
