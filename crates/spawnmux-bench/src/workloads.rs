//! The workloads, their sizes, which peers run them and which figure is compared.
//!
//! - **W1 throughput**: one child writes `bytes` in 64-byte lines (`spew BYTES out`); MiB/s.
//! - **W2 fan-in**: `children` children each write `lines` lines to stdout *and* stderr
//!   (`lines N both`); million lines per second.
//! - **W3 spawn rate**: `spawns` children one after another (`out spawned\n`), each captured
//!   and reaped before the next; spawns per second.
//! - **W4 scale**: `children` children alive at once, each blocked reading a shared pipe (the
//!   start barrier) until all are started, then writing a line to each stream (`drain err
//!   woke\n`); the parent's peak threads and peak RSS per child.
//! - **W5 idle**: `children` quiet children (`sleep MS`); the parent's CPU time while they sleep.
//! - **W6 latency**: `rounds` lines through an echoing child (`echo`); p50 / p99 round trip.

use std::fmt;

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
        match self {
            Workload::W1 => &[Spawnmux, Tokio, AsyncProcess, Threads, Raw],
            Workload::W3 => &[
                Spawnmux,
                SpawnmuxNoDeathSignal,
                Tokio,
                AsyncProcess,
                Threads,
                StdOutput,
            ],
            Workload::W2 | Workload::W4 | Workload::W5 | Workload::W6 => {
                &[Spawnmux, Tokio, AsyncProcess, Threads]
            }
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
    Tokio,
    AsyncProcess,
    Threads,
    /// A plain 64 KiB read loop on one pipe (W1 only).
    Raw,
    /// `std::process::Command::output()` (W3 only).
    StdOutput,
}

impl PeerKind {
    const ALL: [PeerKind; 7] = [
        PeerKind::Spawnmux,
        PeerKind::SpawnmuxNoDeathSignal,
        PeerKind::Tokio,
        PeerKind::AsyncProcess,
        PeerKind::Threads,
        PeerKind::Raw,
        PeerKind::StdOutput,
    ];

    /// The id used on the worker command line.
    pub fn id(self) -> &'static str {
        match self {
            PeerKind::Spawnmux => "spawnmux",
            PeerKind::SpawnmuxNoDeathSignal => "spawnmux-no-pdeathsig",
            PeerKind::Tokio => "tokio",
            PeerKind::AsyncProcess => "async-process",
            PeerKind::Threads => "threads",
            PeerKind::Raw => "raw",
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
            PeerKind::Tokio => "tokio::process",
            PeerKind::AsyncProcess => "async-process",
            PeerKind::Threads => "std + 2 threads/child",
            PeerKind::Raw => "raw pipe read (limit)",
            PeerKind::StdOutput => "std Command::output()",
        }
    }
}

/// Every size a full or quick run uses.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub w1_bytes: u64,
    pub w2_children: u64,
    pub w2_lines: u64,
    pub w3_spawns: u64,
    /// W4 runs once per entry (each a separate figure).
    pub w4_children: [u64; 2],
    pub w5_children: u64,
    pub w5_ms: u64,
    pub w6_rounds: u64,
}

impl Sizes {
    pub const FULL: Sizes = Sizes {
        w1_bytes: 1 << 30,
        w2_children: 64,
        w2_lines: 250_000,
        w3_spawns: 2_000,
        w4_children: [2_000, 10_000],
        w5_children: 100,
        w5_ms: 10_000,
        w6_rounds: 10_000,
    };

    pub const QUICK: Sizes = Sizes {
        w1_bytes: 16 << 20,
        w2_children: 8,
        w2_lines: 10_000,
        w3_spawns: 100,
        w4_children: [200, 500],
        w5_children: 100,
        w5_ms: 1_000,
        w6_rounds: 1_000,
    };
}

/// One measured thing: a workload with its parameters (W4 has two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub workload: Workload,
    /// W1: bytes; W2: children; W3: spawns; W4, W5: children; W6: rounds.
    pub n: u64,
    /// W2: lines per stream; W5: milliseconds; else 0.
    pub m: u64,
}

impl Case {
    pub fn all(sizes: &Sizes) -> Vec<Case> {
        let case = |workload, n, m| Case { workload, n, m };
        vec![
            case(Workload::W1, sizes.w1_bytes, 0),
            case(Workload::W2, sizes.w2_children, sizes.w2_lines),
            case(Workload::W3, sizes.w3_spawns, 0),
            case(Workload::W4, sizes.w4_children[0], 0),
            case(Workload::W4, sizes.w4_children[1], 0),
            case(Workload::W5, sizes.w5_children, sizes.w5_ms),
            case(Workload::W6, sizes.w6_rounds, 0),
        ]
    }

    /// What is measured, for humans.
    pub fn describe(&self) -> String {
        match self.workload {
            Workload::W1 => format!(
                "1 child, {} in 64-byte lines on stdout",
                human_bytes(self.n)
            ),
            Workload::W2 => format!(
                "{} children x {} lines on stdout and on stderr ({} lines)",
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
        match self.workload {
            Workload::W4 => format!("W4 scale ({})", thousands(self.n)),
            w => format!("{w} {}", w.title()),
        }
    }

    /// The figures shown for this case: (key, unit, better).
    pub fn metrics(&self) -> &'static [Metric] {
        match self.workload {
            Workload::W1 => &[
                Metric {
                    key: "mib_s",
                    unit: "MiB/s",
                    higher_is_better: true,
                },
                PARENT_CPU,
            ],
            Workload::W2 => &[
                Metric {
                    key: "mlines_s",
                    unit: "M lines/s",
                    higher_is_better: true,
                },
                PARENT_CPU,
            ],
            Workload::W3 => &[Metric {
                key: "spawns_s",
                unit: "spawns/s",
                higher_is_better: true,
            }],
            Workload::W4 => &[
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

/// Expected bytes of `lines N` on one stream: `"out <i>\n"` for `i` in `0..n`.
pub fn lines_bytes(n: u64) -> u64 {
    let mut total = 0;
    let mut start = 0u64;
    let mut digits = 1;
    let mut next = 10u64;
    while start < n {
        let end = next.min(n);
        total += (end - start) * (5 + digits);
        start = end;
        digits += 1;
        next = next.saturating_mul(10);
    }
    total
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
    fn lines_bytes_matches_the_test_child_format() {
        let direct = |n: u64| {
            (0..n)
                .map(|i| format!("out {i}\n").len() as u64)
                .sum::<u64>()
        };
        for n in [0, 1, 9, 10, 11, 99, 100, 1234, 100_000] {
            assert_eq!(lines_bytes(n), direct(n), "n = {n}");
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(250_000), "250,000");
        assert_eq!(thousands(1_073_741_824), "1,073,741,824");
    }
}
