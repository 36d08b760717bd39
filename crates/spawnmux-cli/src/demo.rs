//! `spawnmux demo`: the seed article's parent and child, on the spawnmux library.
//!
//! The parent starts `--children` copies of itself as `spawnmux demo-child`, prints each
//! stdout line as `[child PID][info]: LINE` and each stderr line as `[child PID][warning]: LINE`
//! the moment it arrives, and on Ctrl-C (or after `--duration`) terminates the children,
//! reaps them and prints `all child processes terminated.`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use spawnmux::{ChildId, Command, Event, Events, Mux, Stream};

use crate::cli::{DemoArgs, DemoChildArgs};

const CTRL_C: u64 = 1;

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let mut mux = Mux::new()?;
    let waker = mux.waker(CTRL_C);
    ctrlc::set_handler(move || {
        let _ = waker.wake();
    })
    .context("installing the Ctrl-C handler")?;

    let exe = std::env::current_exe().context("finding the spawnmux executable")?;
    let mut pids = HashMap::new();
    for _ in 0..args.children {
        let mut cmd = Command::new(&exe);
        cmd.args(["demo-child", "--max-sleep-ms"])
            .arg(args.max_sleep_ms.to_string())
            .name("demo-child");
        crate::os::set_transport(&mut cmd, args.transport);
        let id = mux.spawn(&cmd)?;
        pids.insert(id, mux.pid(id).unwrap_or(0));
    }

    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut events = Events::new();
    let mut out = io::stdout().lock();
    'run: loop {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            break;
        }
        mux.wait(&mut events, timeout)?;
        for event in &events {
            if matches!(event, Event::Woken(CTRL_C)) {
                break 'run;
            }
            print_event(&mut out, &pids, event)?;
        }
        out.flush()?;
        if mux.is_empty() {
            break;
        }
    }

    let mut result = Ok(());
    mux.shutdown(Duration::from_secs(2), |event| {
        if result.is_ok() {
            result = print_event(&mut out, &pids, event);
        }
    })?;
    result?;
    writeln!(out, "all child processes terminated.")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_event(
    out: &mut impl Write,
    pids: &HashMap<ChildId, u32>,
    event: Event<'_>,
) -> io::Result<()> {
    match event {
        Event::Output(line) => {
            let level = match line.stream {
                Stream::Stdout => "info",
                Stream::Stderr => "warning",
            };
            write!(out, "[child {}][{level}]: ", pids[&line.child])?;
            out.write_all(line.bytes)?;
            out.write_all(b"\n")
        }
        Event::Exited { child, exit, .. } => {
            writeln!(out, "[child {}] terminated: {exit}", pids[&child])
        }
        _ => Ok(()),
    }
}

/// The child: forever, a line to stdout, a random sleep, a line to stderr, a random sleep.
pub(crate) fn child(args: &DemoChildArgs) -> anyhow::Result<ExitCode> {
    let pid = std::process::id();
    let mut rng = fastrand::Rng::new();
    loop {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let ms = rng.u64(0..=args.max_sleep_ms);
            let line =
                format!("Rust child pid {pid} writing to {stream} before sleeping {ms} ms.\n");
            let written = match stream {
                Stream::Stdout => io::stdout().write_all(line.as_bytes()),
                Stream::Stderr => io::stderr().write_all(line.as_bytes()),
            };
            if written.is_err() {
                // The parent is gone: nobody to talk to.
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
}
