//! Part of `validate.rs`, its first step: `scale` and `port`. A helper with `scale = N` is
//! run as N copies, `web.1` … `web.N`, each a helper of the plan; its name in `depends_on`,
//! `restart_with` and `[watch] restart` means every copy. `port` is a number (copies get the
//! next ones: 5000, 5001, …) or `"auto"`: a free port chosen here and held by a listening
//! socket until the helper starts ([`Held`]). Each helper gets its port as `PORT`; then the
//! `${…}` references of what spawnmux.toml wrote are replaced (`references.rs`).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};

use super::key;
use super::references::{self, Table};
use crate::load::draft::{Draft, Field, HelperDraft};
use crate::load::error::{LoadError, Origin};
use crate::spec::{Held, Port};

/// The most copies `scale` may ask for.
pub(crate) const MAX_SCALE: i64 = 100;

/// What the plan says of a helper beyond its draft: its port, and whose copy it is.
#[derive(Debug, Clone)]
pub(crate) struct Extra {
    pub(crate) port: Option<Port>,
    pub(crate) copy_of: Option<String>,
}

/// A helper as written, as the helpers it runs.
pub(crate) struct Group {
    /// The name as written.
    pub(crate) name: String,
    /// `scale` more than 1: the copies have names of their own.
    pub(crate) scaled: bool,
    /// Each copy's name and port (one, with the name as written, when not scaled).
    pub(crate) copies: Vec<(String, Option<Port>)>,
}

/// The port a helper asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Number(u16),
    Auto,
}

/// The draft with one helper per copy, each with its port in its `env` and no reference
/// left; beside it, what the plan says of each helper beyond its draft.
pub(crate) fn expand(draft: &Draft) -> Result<(Draft, Vec<Extra>), LoadError> {
    let groups = groups(draft)?;
    let table = Table::new(&groups);
    let mut out = draft.clone();
    out.helpers.clear();
    let mut extras = Vec::new();
    for (h, group) in draft.helpers.iter().zip(&groups) {
        let mut written = h.clone();
        written.depends_on = copies_of(&h.depends_on, &groups);
        written.restart_with = copies_of(&h.restart_with, &groups);
        written.conditions = h
            .conditions
            .iter()
            .flat_map(|(dep, c)| {
                let deps = copies_of(std::slice::from_ref(dep), &groups);
                deps.into_iter().map(move |d| (d, c.clone()))
            })
            .collect();
        for (name, port) in &group.copies {
            let mut copy = written.clone();
            copy.name.value = name.clone();
            port_env(&draft.origin, &mut copy, port.as_ref())?;
            let own = port.as_ref().map(|p| p.number);
            out.helpers
                .push(references::replace(&draft.origin, &copy, own, &table)?);
            let copy_of = group.scaled.then(|| group.name.clone());
            let port = port.clone();
            extras.push(Extra { port, copy_of });
        }
    }
    if let Some(w) = &mut out.watch {
        w.restart = copies_of(&w.restart, &groups);
        if let Some(b) = &w.build {
            w.build = Some(references::replace(&draft.origin, b, None, &table)?);
        }
    }
    Ok((out, extras))
}

/// `names`, each naming a scaled helper replaced by its copies' names.
fn copies_of(names: &[Field<String>], groups: &[Group]) -> Vec<Field<String>> {
    let mut out = Vec::new();
    for n in names {
        match groups.iter().find(|g| g.scaled && g.name == n.value) {
            Some(g) => out.extend(
                g.copies
                    .iter()
                    .map(|(c, _)| Field::new(c.clone(), n.at.clone())),
            ),
            None => out.push(n.clone()),
        }
    }
    out
}

/// Every helper's copies with their names and ports: numbers first (each must be free of
/// the others), then the `auto` ones, chosen among the rest.
fn groups(draft: &Draft) -> Result<Vec<Group>, LoadError> {
    let origin = &draft.origin;
    let mut groups = Vec::new();
    let mut wants = Vec::new();
    let mut taken: Vec<(u16, String)> = Vec::new();
    for h in &draft.helpers {
        let n = scale(origin, h)?;
        let want = wanted(origin, h)?;
        let scaled = n > 1;
        let names: Vec<String> = match scaled {
            true => (1..=n).map(|k| format!("{}.{k}", h.name.value)).collect(),
            false => vec![h.name.value.clone()],
        };
        if let Some(Want::Number(first)) = want {
            numbers(origin, h, first, &names, &mut taken)?;
        }
        wants.push(want);
        let copies = names.into_iter().map(|c| (c, None)).collect();
        let name = h.name.value.clone();
        groups.push(Group {
            name,
            scaled,
            copies,
        });
    }
    unique_names(draft, &groups)?;
    let mut used: Vec<u16> = taken.iter().map(|(p, _)| *p).collect();
    for ((h, want), group) in draft.helpers.iter().zip(wants).zip(&mut groups) {
        for (k, (_, port)) in group.copies.iter_mut().enumerate() {
            *port = match want {
                None => None,
                Some(Want::Number(first)) => Some(fixed(first + k as u16)),
                Some(Want::Auto) => Some(auto(origin, h, &mut used)?),
            };
        }
    }
    Ok(groups)
}

/// `scale`: 1 to [`MAX_SCALE`] (1 when not given).
fn scale(origin: &Origin, h: &HelperDraft) -> Result<u16, LoadError> {
    let Some(s) = &h.scale else {
        return Ok(1);
    };
    if !(1..=MAX_SCALE).contains(&s.value) {
        let problem = format!(
            "{} must be from 1 to {MAX_SCALE}, not {} (to leave a helper out: --except NAME)",
            key(h, "scale"),
            s.value
        );
        return Err(origin.error(&s.at, problem));
    }
    Ok(s.value as u16)
}

/// `port`: a number from 1 to 65535, or `"auto"`.
fn wanted(origin: &Origin, h: &HelperDraft) -> Result<Option<Want>, LoadError> {
    let Some(p) = &h.port else {
        return Ok(None);
    };
    match &p.value {
        toml::Value::String(s) if s == "auto" => Ok(Some(Want::Auto)),
        toml::Value::Integer(n) => match u16::try_from(*n) {
            Ok(n) if n > 0 => Ok(Some(Want::Number(n))),
            _ => Err(origin.error(
                &p.at,
                format!("{}: {n} is not a port (1-65535)", key(h, "port")),
            )),
        },
        other => Err(origin.error(
            &p.at,
            format!(
                "{} must be a number (1-65535) or \"auto\", not {other}",
                key(h, "port")
            ),
        )),
    }
}

/// A helper's numbered ports, `first` and one more per copy: within 65535, and no other
/// helper's (`taken`, to which they are added).
fn numbers(
    origin: &Origin,
    h: &HelperDraft,
    first: u16,
    names: &[String],
    taken: &mut Vec<(u16, String)>,
) -> Result<(), LoadError> {
    let at = h.port.as_ref().map_or(&h.name.at, |p| &p.at);
    for (k, name) in names.iter().enumerate() {
        let Some(port) = first.checked_add(k as u16) else {
            let problem = format!(
                "{}: {} copies from port {first} go past 65535",
                key(h, "port"),
                names.len()
            );
            return Err(origin.error(at, problem));
        };
        if let Some((_, other)) = taken.iter().find(|(p, _)| *p == port) {
            let problem = format!(
                "{}: port {port} (of `{name}`) is `{other}`'s too; two helpers cannot listen on one port",
                key(h, "port")
            );
            return Err(origin.error(at, problem));
        }
        taken.push((port, name.clone()));
    }
    Ok(())
}

/// No copy has a name that another helper (or copy) has.
fn unique_names(draft: &Draft, groups: &[Group]) -> Result<(), LoadError> {
    let mut seen = BTreeSet::new();
    for (h, g) in draft.helpers.iter().zip(groups) {
        for (name, _) in &g.copies {
            if seen.insert(name.as_str()) {
                continue;
            }
            let (h, g) = draft
                .helpers
                .iter()
                .zip(groups)
                .find(|(_, g)| g.scaled && g.copies.iter().any(|(c, _)| c == name))
                .unwrap_or((h, g));
            let at = h.scale.as_ref().map_or(&h.name.at, |s| &s.at);
            let (n, written) = (g.copies.len(), &g.name);
            let problem = format!(
                "helper `{name}` is defined twice: `scale = {n}` of helper `{written}` names its copies `{written}.1` to `{written}.{n}`"
            );
            return Err(draft.origin.error(at, problem));
        }
    }
    Ok(())
}

/// A port given as a number.
fn fixed(number: u16) -> Port {
    Port {
        number,
        auto: false,
        held: Held::default(),
    }
}

/// A free port, none of `used` (to which it is added), held until the helper starts.
fn auto(origin: &Origin, h: &HelperDraft, used: &mut Vec<u16>) -> Result<Port, LoadError> {
    // Ports handed out but refused stay bound meanwhile, so the next bind gets another one.
    let mut refused = Vec::new();
    loop {
        let bound = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| Ok((l.local_addr()?.port(), l)));
        let (number, socket) = bound.map_err(|e| {
            let at = h.port.as_ref().map_or(&h.name.at, |p| &p.at);
            let problem = format!("{}: cannot choose a free port: {e}", key(h, "port"));
            origin.error(at, problem)
        })?;
        if used.contains(&number) {
            refused.push(socket);
            continue;
        }
        used.push(number);
        let held = Held::new(socket);
        return Ok(Port {
            number,
            auto: true,
            held,
        });
    }
}

/// `PORT` in the helper's environment; `env` may not set it too.
fn port_env(origin: &Origin, h: &mut HelperDraft, port: Option<&Port>) -> Result<(), LoadError> {
    let Some(port) = port else {
        return Ok(());
    };
    if let Some(at) = h.env_at.get("PORT") {
        let problem = format!(
            "{} sets PORT, which `port` sets too ({}); keep one",
            key(h, "env"),
            port.number
        );
        return Err(origin.error(at, problem));
    }
    h.env.insert("PORT".into(), port.number.to_string());
    Ok(())
}
