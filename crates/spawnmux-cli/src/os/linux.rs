//! Linux: `/proc` tells each process's state, parent and process group; the runner is a child
//! subreaper.

use std::collections::HashMap;

/// `group_members` counts exactly.
pub(crate) const COUNT_IS_EXACT: bool = true;

/// One line of `/proc/PID/stat`, the fields we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) pid: u32,
    pub(crate) comm: String,
    pub(crate) state: u8,
    pub(crate) ppid: u32,
    pub(crate) pgrp: u32,
}

impl Stat {
    /// Parses `PID (COMM) STATE PPID PGRP ...`; COMM may hold spaces and parentheses, so it
    /// ends at the last `)`.
    pub(crate) fn parse(text: &str) -> Option<Stat> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let pid = text[..open].trim().parse().ok()?;
        let comm = text.get(open + 1..close)?.to_string();
        let mut rest = text.get(close + 1..)?.split_ascii_whitespace();
        let state = *rest.next()?.as_bytes().first()?;
        let ppid = rest.next()?.parse().ok()?;
        let pgrp = rest.next()?.parse().ok()?;
        Some(Stat {
            pid,
            comm,
            state,
            ppid,
            pgrp,
        })
    }

    /// Running, sleeping, stopped…: anything but a zombie (`Z`) or a dead entry (`X`, `x`).
    pub(crate) fn is_live(&self) -> bool {
        !matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Every process `/proc` shows (those that vanish while we read are skipped).
fn processes() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let name = e.file_name();
        let name = name.to_str()?;
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let text = std::fs::read_to_string(e.path().join("stat")).ok()?;
        Stat::parse(&text)
    })
    .collect()
}

/// Live (non-zombie) members of process group `pgid`.
pub(crate) fn group_members(pgid: u32) -> usize {
    if pgid <= 1 {
        return 0;
    }
    processes()
        .iter()
        .filter(|p| p.pgrp == pgid && p.is_live())
        .count()
}

/// `signal` to group `pgid` if it has live members (then the id cannot have been reused:
/// the kernel gives no new process a pid that is an existing group's id).
pub(crate) fn signal_group(pgid: u32, signal: i32) {
    if group_members(pgid) > 0 {
        super::unix::killpg(pgid, signal);
    }
}

/// Makes this process a child subreaper. Returns whether that worked.
pub(crate) fn become_subreaper() -> bool {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_ok()
}

/// Live descendants of this process, children before grandchildren, without the library's
/// group guard: it is our child once we are a subreaper, and must outlive the final sweep (it
/// exits by itself when we do). It is known by its pid, which the library has as soon as the
/// guard exists (its name, `spawnmux-guard`, it sets itself a moment later: a sweep right
/// after the first spawn saw a `spawnmux` child and stopped the guard).
pub(crate) fn descendants() -> Vec<u32> {
    descendants_of(
        std::process::id(),
        spawnmux::os::unix::group_guard_pid(),
        &processes(),
    )
}

fn descendants_of(root: u32, guard: Option<u32>, all: &[Stat]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<&Stat>> = HashMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    let mut i = 0;
    while i < queue.len() {
        let parent = queue[i];
        i += 1;
        for c in children.get(&parent).into_iter().flatten() {
            if parent == root && Some(c.pid) == guard {
                continue;
            }
            if c.pid == root || queue.contains(&c.pid) {
                continue;
            }
            queue.push(c.pid);
            if c.is_live() {
                out.push(c.pid);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_odd_names() {
        let s = Stat::parse("1234 (a b) c)) S 1 1234 1234 0 -1 4194560 0").expect("parses");
        assert_eq!(
            s,
            Stat {
                pid: 1234,
                comm: "a b) c)".into(),
                state: b'S',
                ppid: 1,
                pgrp: 1234
            }
        );
        assert!(s.is_live());
        let z = Stat::parse("7 (sh) Z 1 7 7 0").expect("parses");
        assert!(!z.is_live());
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("12 (x)"), None);
    }

    fn st(pid: u32, comm: &str, state: u8, ppid: u32) -> Stat {
        Stat {
            pid,
            comm: comm.into(),
            state,
            ppid,
            pgrp: pid,
        }
    }

    #[test]
    fn descendants_skip_the_guard_and_zombies_but_walk_through_them() {
        let all = [
            st(10, "spawnmux", b'S', 1),
            st(11, "spawnmux", b'S', 10),
            st(12, "sh", b'Z', 10),
            st(13, "python3", b'S', 12),
            st(14, "node", b'R', 10),
            st(15, "esbuild", b'S', 14),
            st(16, "other", b'S', 1),
        ];
        assert_eq!(descendants_of(10, Some(11), &all), [14, 13, 15]);
        assert_eq!(descendants_of(10, None, &all), [11, 14, 13, 15]);
    }

    #[test]
    fn a_zombie_is_not_a_group_member() {
        use std::os::unix::process::CommandExt as _;
        // A live group leader is counted. (Not this test process's own group: in a PID
        // namespace whose group leader is outside, as in a container, it reads as 0.)
        let mut live = std::process::Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        assert_eq!(group_members(live.id()), 1);
        live.kill().expect("kill sleep");
        live.wait().expect("reap sleep");
        assert_eq!(group_members(0), 0);
        // A child that has exited and not been reaped is a zombie: not counted.
        let mut child = std::process::Command::new("true")
            .process_group(0)
            .spawn()
            .expect("spawn true");
        let pgid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while group_members(pgid) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the group never emptied"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Still unreaped: kill(-pgid, 0) would call the group alive.
        assert!(rustix::process::test_kill_process_group(
            rustix::process::Pid::from_raw(pgid as i32).expect("pid")
        )
        .is_ok());
        child.wait().expect("reap");
    }
}
