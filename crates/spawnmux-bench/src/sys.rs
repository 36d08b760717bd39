//! What the harness reads about itself and the machine: `/proc/self/status`, `getrusage`,
//! `RLIMIT_NOFILE`, CPU model and kernel.

use std::time::Duration;

/// The parent's own threads and memory, from `/proc/self/status` (Linux; zeros elsewhere).
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    pub threads: u64,
    /// Resident set size now, KiB.
    pub rss_kib: u64,
    /// Peak resident set size (high-water mark) so far, KiB.
    pub hwm_kib: u64,
}

pub fn status() -> Status {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Status {
        threads: field("Threads:"),
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

/// Read-family system calls this process has made so far (`/proc/self/io` `syscr`: `read`,
/// `readv`, `pread`..., every thread; 0 where there is none).
pub fn read_calls() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("syscr:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The 1-minute load average (`/proc/loadavg`; NaN where there is none).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Open file descriptors of this process (Linux: `/proc/self/fd`, without the one used to
/// list it; 0 elsewhere).
pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1) as u64)
}

/// CPU time (user + system, every thread) and context switches of this process.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub cpu: Duration,
    /// Sleeps (waiting for I/O or a lock).
    pub voluntary_switches: u64,
    /// Preemptions: runnable, but the scheduler gave the CPU to someone else.
    pub involuntary_switches: u64,
}

pub fn usage() -> Usage {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory the size of a `rusage`, which getrusage fills;
    // RUSAGE_SELF is always a valid `who`. (rustix has no getrusage.)
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return Usage {
            cpu: Duration::ZERO,
            voluntary_switches: 0,
            involuntary_switches: 0,
        };
    }
    // SAFETY: getrusage returned 0, so it initialised the whole struct (and it was zeroed).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Usage {
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        voluntary_switches: ru.ru_nvcsw.max(0) as u64,
        involuntary_switches: ru.ru_nivcsw.max(0) as u64,
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, and, where the hard limit is below
/// `want` and we may raise it (root), the hard limit too. Returns the resulting soft limit.
pub fn raise_fd_limit(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.maximum.is_some_and(|max| max < want) {
        // Only succeeds with CAP_SYS_RESOURCE; otherwise the hard limit stays.
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: Some(want),
            },
        );
    }
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The machine, for the report.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub memory: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let uname = rustix::system::uname();
    let kernel = format!(
        "{} {} ({})",
        uname.sysname().to_string_lossy(),
        uname.release().to_string_lossy(),
        uname.machine().to_string_lossy()
    );
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_string());
    Machine {
        cpu,
        cores,
        kernel,
        memory,
    }
}

/// `version` of package `name` in the workspace's `Cargo.lock` (compiled in).
pub fn locked_version(name: &str) -> String {
    const LOCK: &str = include_str!("../../../Cargo.lock");
    let mut lines = LOCK.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                return v.trim_matches('"').to_string();
            }
        }
    }
    "unknown".to_string()
}

/// Waits until child `pid` has exited, leaving it unreaped (`waitid(P_PID, pid, WEXITED |
/// WNOWAIT)`), so that its `/proc/<pid>` files can still be read.
pub fn wait_exited(pid: u32) -> std::io::Result<()> {
    use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
    let pid = Pid::from_raw(pid as i32).ok_or_else(|| std::io::Error::other("pid 0"))?;
    waitid(
        WaitId::Pid(pid),
        WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
    )?;
    Ok(())
}

/// Reaps child `pid` (`wait4`): whether it exited with 0, and the CPU time (user + system) of
/// it and of every descendant it waited for.
pub fn reap(pid: u32) -> std::io::Result<(bool, Duration)> {
    let mut status = 0;
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `status` and `ru` point to writable memory of the right types, which wait4
    // fills; `pid` is our unreaped child. (rustix has no wait4 with a rusage.)
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, ru.as_mut_ptr()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: wait4 succeeded, so it initialised the whole struct (and it was zeroed).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, tv(ru.ru_utime) + tv(ru.ru_stime)))
}

/// Of an exited, unreaped process (Linux): its own CPU time (user + system, every thread; its
/// children not included) from `/proc/<pid>/stat`, and the write-family system calls of its
/// main thread from `/proc/<pid>/task/<pid>/io` (`syscw`). Not `/proc/<pid>/io`: the kernel
/// adds the I/O of every child the process reaped to that one (`wait_task_zombie`), so it
/// counted the helpers' own writes as the tool's (1,325 "writes" for spawnmux's 62.9 MB log,
/// of which its thread made 975). Every tool measured here writes its log from its main
/// thread.
pub fn exited_figures(pid: u32) -> (Option<Duration>, Option<u64>) {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // After the `(comm)` field: state is field 3, utime 14, stime 15.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            (ticks > 0).then(|| Duration::from_secs_f64(t as f64 / ticks as f64))
        });
    let writes = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("syscw: "))
                .and_then(|n| n.trim().parse().ok())
        });
    (cpu, writes)
}

/// Peak resident set size (`VmHWM`) of a live process, KiB (Linux; `None` elsewhere or gone).
pub fn hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
