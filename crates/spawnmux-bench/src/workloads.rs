//! The workloads, their sizes, which peers run them and which figure is compared.
//!
//! - **W1 throughput**: one child writes `bytes` in 64-byte lines to stdout, as a 64 KiB
//!   `BufWriter` child and as a line-buffered child (`child.rs`); wall time and parent CPU.
//! - **W2 fan-in**: `children` children each write `lines` 64-byte lines to stdout *and*
//!   stderr, both child kinds; wall time, parent CPU and the parent's peak RSS.
//! - **W3 spawn rate**: `spawns` children one after another (`out spawned\n`), each captured
//!   and reaped before the next; spawns per second.
//! - **W4 scale**: `children` children alive at once, each blocked reading a shared pipe (the
//!   start barrier) until all are started, then writing a line to each stream (`drain err
//!   woke\n`); time until all are spawned, the parent's peak threads and RSS per child.
//! - **W5 idle**: `children` quiet children (`sleep MS`); the parent's CPU time while they sleep.
//! - **W6 latency**: `rounds` lines through an echoing child (`echo`); p50 / p99 round trip.

use std::fmt;

use crate::child::ChildKind;

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    W1,
    W2,
    W3,
    W4,
    W5,
    W6,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
        Workload::W6,
    ];

    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.to_string().eq_ignore_ascii_case(s.trim()))
    }

    pub fn title(self) -> &'static str {
        match self {
            Workload::W1 => "throughput",
            Workload::W2 => "fan-in",
            Workload::W3 => "spawn rate",
            Workload::W4 => "scale",
            Workload::W5 => "idle",
            Workload::W6 => "latency",
        }
    }

    /// The peers that run this workload, in the order they are interleaved and reported.
    pub fn peers(self) -> &'static [PeerKind] {
        use PeerKind::*;
        // W2's peers are W1's without the raw read loops (one pipe each, nothing to multiplex).
        const THROUGHPUT: [PeerKind; 8] = [
            Spawnmux,
            SpawnmuxTokio,
            Tokio,
            Tokio8k,
            AsyncProcess,
            Threads,
            Raw,
            RawGrown,
        ];
        match self {
            Workload::W1 => &THROUGHPUT,
            Workload::W2 => &THROUGHPUT[..6],
            Workload::W3 => &[
                Spawnmux,
                SpawnmuxNoDeathSignal,
                Tokio,
                AsyncProcess,
                Threads,
                StdOutput,
            ],
            Workload::W4 | Workload::W5 | Workload::W6 => &[Spawnmux, Tokio, AsyncProcess, Threads],
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    Spawnmux,
    /// spawnmux with `die_with_parent(false)` (W3 only: what registering with the group guard costs).
    SpawnmuxNoDeathSignal,
    /// spawnmux's `tokio::AsyncMux` on a current_thread runtime (W1 and W2: what the adapter
    /// costs over the native `Mux`).
    SpawnmuxTokio,
    Tokio,
    AsyncProcess,
    Threads,
    /// A plain blocking 64 KiB read loop on one pipe (W1 only).
    Raw,
    /// A plain blocking read loop on one pipe grown with `F_SETPIPE_SZ` to 1 MiB (or
    /// `pipe-max-size`), reading as much as the pipe holds (W1 only).
    RawGrown,
    /// tokio::process with `BufReader::new`'s default 8 KiB buffer (W1 and W2): what most
    /// programs write, and the tokio peer of issue 12's harness, whose goals name it.
    Tokio8k,
    /// The same on a multi-thread runtime with 2 workers (W1 with `--discrepancy` only).
    TokioMt8k,
    /// `std::process::Command::output()` (W3 only).
    StdOutput,
}

impl PeerKind {
    const ALL: [PeerKind; 11] = [
        PeerKind::Spawnmux,
        PeerKind::SpawnmuxNoDeathSignal,
        PeerKind::SpawnmuxTokio,
        PeerKind::Tokio,
        PeerKind::AsyncProcess,
        PeerKind::Threads,
        PeerKind::Raw,
        PeerKind::RawGrown,
        PeerKind::Tokio8k,
        PeerKind::TokioMt8k,
        PeerKind::StdOutput,
    ];

    /// The id used on the worker command line.
    pub fn id(self) -> &'static str {
        match self {
            PeerKind::Spawnmux => "spawnmux",
            PeerKind::SpawnmuxNoDeathSignal => "spawnmux-no-pdeathsig",
            PeerKind::SpawnmuxTokio => "spawnmux-tokio",
            PeerKind::Tokio => "tokio",
            PeerKind::AsyncProcess => "async-process",
            PeerKind::Threads => "threads",
            PeerKind::Raw => "raw",
            PeerKind::RawGrown => "raw-grown",
            PeerKind::Tokio8k => "tokio-8k",
            PeerKind::TokioMt8k => "tokio-mt-8k",
            PeerKind::StdOutput => "std-output",
        }
    }

    pub fn parse(s: &str) -> Option<PeerKind> {
        PeerKind::ALL.into_iter().find(|p| p.id() == s)
    }

    /// The name in the report.
    pub fn label(self) -> &'static str {
        match self {
            PeerKind::Spawnmux => "spawnmux",
            PeerKind::SpawnmuxNoDeathSignal => "spawnmux, die_with_parent off",
            PeerKind::SpawnmuxTokio => "spawnmux AsyncMux (tokio current_thread)",
            PeerKind::Tokio => "tokio::process",
            PeerKind::AsyncProcess => "async-process",
            PeerKind::Threads => "std + 2 threads/child",
            PeerKind::Raw => "raw 64 KiB read",
            PeerKind::RawGrown => "raw read, grown pipe",
            PeerKind::Tokio8k => "tokio::process, 8 KiB BufReader",
            PeerKind::TokioMt8k => "tokio::process, 2 workers, 8 KiB BufReader",
            PeerKind::StdOutput => "std Command::output()",
        }
    }
}

/// Every size a full or quick run uses.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// W1 bytes, per child kind (`ChildKind::BufWriter`, `ChildKind::Line`, `ChildKind::Blocks`).
    pub w1_bytes: [u64; 3],
    pub w2_children: u64,
    /// W2 lines per stream, per child kind.
    pub w2_lines: [u64; 3],
    pub w3_spawns: u64,
    /// W4 runs once per entry (each a separate figure).
    pub w4_children: [u64; 2],
    pub w5_children: u64,
    pub w5_ms: u64,
    pub w6_rounds: u64,
}

impl Sizes {
    /// A line-buffered child makes one `write` per 64-byte line (~16.8 M for 1 GiB), so its
    /// sizes are smaller: W1 256 MiB, W2 64 x 50,000 lines per stream.
    pub const FULL: Sizes = Sizes {
        w1_bytes: [1 << 30, 256 << 20, 1 << 30],
        w2_children: 64,
        w2_lines: [250_000, 50_000, 250_000],
        w3_spawns: 2_000,
        w4_children: [2_000, 10_000],
        w5_children: 100,
        w5_ms: 10_000,
        w6_rounds: 10_000,
    };

    pub const QUICK: Sizes = Sizes {
        w1_bytes: [16 << 20, 4 << 20, 16 << 20],
        w2_children: 8,
        w2_lines: [10_000, 2_000, 10_000],
        w3_spawns: 100,
        w4_children: [200, 500],
        w5_children: 100,
        w5_ms: 1_000,
        w6_rounds: 1_000,
    };
}

/// One measured thing: a workload with its parameters (W4 has two sizes, W1 and W2 two child
/// kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub workload: Workload,
    /// W1: bytes; W2: children; W3: spawns; W4, W5: children; W6: rounds.
    pub n: u64,
    /// W2: lines per stream; W5: milliseconds; else 0.
    pub m: u64,
    /// W1, W2: how the children write.
    pub kind: Option<ChildKind>,
}

impl Case {
    /// Every case of a run: W1 and W2 once per child kind in `kinds`.
    pub fn all(sizes: &Sizes, kinds: &[ChildKind]) -> Vec<Case> {
        let case = |workload, n, m| Case {
            workload,
            n,
            m,
            kind: None,
        };
        let mut cases = Vec::new();
        for &kind in kinds {
            cases.push(Case {
                kind: Some(kind),
                ..case(Workload::W1, sizes.w1_bytes[kind as usize], 0)
            });
        }
        for &kind in kinds {
            cases.push(Case {
                kind: Some(kind),
                ..case(
                    Workload::W2,
                    sizes.w2_children,
                    sizes.w2_lines[kind as usize],
                )
            });
        }
        cases.extend([
            case(Workload::W3, sizes.w3_spawns, 0),
            case(Workload::W4, sizes.w4_children[0], 0),
            case(Workload::W4, sizes.w4_children[1], 0),
            case(Workload::W5, sizes.w5_children, sizes.w5_ms),
            case(Workload::W6, sizes.w6_rounds, 0),
        ]);
        cases
    }

    /// The peers of this case: `extra` adds tokio with an 8 KiB `BufReader` on 2 workers to W1.
    pub fn peers(&self, extra: bool) -> Vec<PeerKind> {
        let mut peers = self.workload.peers().to_vec();
        if extra && self.workload == Workload::W1 {
            peers.insert(4, PeerKind::TokioMt8k);
        }
        peers
    }

    /// What is measured, for humans.
    pub fn describe(&self) -> String {
        let kind = self.kind.map_or("", ChildKind::label);
        match self.workload {
            Workload::W1 => format!(
                "1 {kind}, {} in 64-byte lines on stdout",
                human_bytes(self.n)
            ),
            Workload::W2 => format!(
                "{} children x {} 64-byte lines on stdout and on stderr ({} lines), each a {kind}",
                self.n,
                thousands(self.m),
                thousands(self.n * self.m * 2)
            ),
            Workload::W3 => format!(
                "{} children one after another, each captured and reaped",
                thousands(self.n)
            ),
            Workload::W4 => format!(
                "{} children alive at once, idle on a start barrier, then 1 line per stream",
                thousands(self.n)
            ),
            Workload::W5 => format!(
                "{} children sleeping {} s; parent CPU time while they sleep",
                self.n,
                self.m as f64 / 1000.0
            ),
            Workload::W6 => format!(
                "{} round trips of a 16-byte line through an echoing child",
                thousands(self.n)
            ),
        }
    }

    pub fn label(&self) -> String {
        match (self.workload, self.kind) {
            (Workload::W4, _) => format!("W4 scale ({})", thousands(self.n)),
            (w, Some(ChildKind::BufWriter)) => format!("{w} {}, BufWriter", w.title()),
            (w, Some(ChildKind::Line)) => format!("{w} {}, line-buffered", w.title()),
            (w, Some(ChildKind::Blocks)) => format!("{w} {}, 64,000-byte blocks", w.title()),
            (w, None) => format!("{w} {}", w.title()),
        }
    }

    /// The figures shown for this case: (key, unit, better).
    pub fn metrics(&self) -> &'static [Metric] {
        match self.workload {
            Workload::W1 => &[WALL, PARENT_CPU],
            Workload::W2 => &[
                WALL,
                PARENT_CPU,
                Metric {
                    key: "hwm_mib",
                    unit: "MiB peak RSS",
                    higher_is_better: false,
                },
            ],
            Workload::W3 => &[Metric {
                key: "spawns_s",
                unit: "spawns/s",
                higher_is_better: true,
            }],
            Workload::W4 => &[
                Metric {
                    key: "spawn_secs",
                    unit: "s until all spawned",
                    higher_is_better: false,
                },
                Metric {
                    key: "kib_per_child",
                    unit: "KiB RSS/child",
                    higher_is_better: false,
                },
                Metric {
                    key: "extra_threads",
                    unit: "extra threads (peak)",
                    higher_is_better: false,
                },
            ],
            Workload::W5 => &[Metric {
                key: "cpu_ms",
                unit: "ms CPU",
                higher_is_better: false,
            }],
            Workload::W6 => &[
                Metric {
                    key: "p50_us",
                    unit: "µs p50",
                    higher_is_better: false,
                },
                Metric {
                    key: "p99_us",
                    unit: "µs p99",
                    higher_is_better: false,
                },
            ],
        }
    }
}

/// Wall time from the first spawn until every child is reaped and every line counted.
const WALL: Metric = Metric {
    key: "secs",
    unit: "s wall",
    higher_is_better: false,
};

/// The parent's own CPU time (user + system, all its threads): what reading costs, apart from
/// how the scheduler shared the cores.
const PARENT_CPU: Metric = Metric {
    key: "cpu_s",
    unit: "s parent CPU",
    higher_is_better: false,
};

/// A figure of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub key: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n % (1 << 30) == 0 {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(250_000), "250,000");
        assert_eq!(thousands(1_073_741_824), "1,073,741,824");
    }
}
