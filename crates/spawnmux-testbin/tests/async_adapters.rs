//! The async adapters (`spawnmux::tokio::AsyncMux` on both tokio runtimes,
//! `spawnmux::async_io::AsyncMux` under smol): lossless capture, exit after output, cancel
//! safety, termination of the whole tree. The same tests for each, by macro.

mod util;

use futures_lite::future;
use spawnmux::{ChildId, Events, Exit, Stream};
use util::{child, exit_of, lines_of, Ev};

fn tokio_current<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(f);
}

/// On a worker thread of a two-worker runtime (not on the thread calling `block_on`).
fn tokio_multi<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async { tokio::spawn(f).await.expect("task") });
}

fn smol<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    smol::block_on(f);
}

/// Runs `work`, failing the test if it takes 30 s (a lost wake-up would hang it instead).
/// `smol::Timer` runs on async-io's own reactor, so it works under tokio too. (Its tests are
/// Unix-only: terminals and `UnixStream` sources.)
#[cfg(unix)]
async fn within_30s(work: impl std::future::Future<Output = ()>) {
    let timeout = async {
        smol::Timer::after(std::time::Duration::from_secs(30)).await;
        panic!("no progress in 30 s: a wake-up was lost");
    };
    future::or(work, timeout).await;
}

/// The lines `lines N both` writes to `which`.
fn expected(n: usize, which: Stream) -> Vec<Vec<u8>> {
    let tag = if which == Stream::Stdout {
        "out"
    } else {
        "err"
    };
    (0..n).map(|i| format!("{tag} {i}").into_bytes()).collect()
}

/// Every line of `id`, once, in order per stream; `Exited` after its last line.
fn assert_complete(evs: &[Ev], id: ChildId, n: usize) {
    for which in [Stream::Stdout, Stream::Stderr] {
        assert_eq!(
            lines_of(evs, id, which),
            expected(n, which),
            "{id} {which:?}"
        );
    }
    assert_eq!(exit_of(evs, id), Exit::Code(0));
    let exited = evs
        .iter()
        .position(|e| matches!(e, Ev::Exited(c, _) if *c == id));
    let last_line = evs
        .iter()
        .rposition(|e| matches!(e, Ev::Line { child, .. } if *child == id));
    assert!(last_line < exited, "{id}: Exited before its last line");
}

macro_rules! adapter_tests {
    ($name:ident, $mux:ty, $run:path) => {
        mod $name {
            use super::*;

            type AsyncMux = $mux;

            async fn run_to_end(mux: &mut AsyncMux) -> Vec<Ev> {
                let mut events = Events::new();
                let mut all = Vec::new();
                while !mux.with_mux(|m| m.is_empty()) {
                    let n = mux.wait(&mut events).await.expect("wait");
                    assert_eq!(n, events.len());
                    assert!(n > 0, "wait returned no event");
                    all.extend(events.iter().map(Ev::from));
                }
                all
            }

            fn spawn(mux: &mut AsyncMux, ops: &[&str]) -> ChildId {
                mux.with_mux(|m| m.spawn(&child(ops))).expect("spawn")
            }

            #[test]
            fn lossless_capture_of_several_children_exit_after_output() {
                $run(async {
                    let mut mux = AsyncMux::new().expect("mux");
                    let ids: Vec<ChildId> = (0..3)
                        .map(|_| spawn(&mut mux, &["lines", "20000", "both"]))
                        .collect();
                    let evs = run_to_end(&mut mux).await;
                    for id in ids {
                        assert_complete(&evs, id, 20000);
                    }
                });
            }

            #[test]
            fn partial_line_flush_timer_fires_without_readiness() {
                $run(async {
                    let mut mux = AsyncMux::new().expect("mux");
                    let mut cmd = child(&["out", "no newline yet", "sleep", "60000"]);
                    cmd.flush_partial_after(std::time::Duration::from_millis(20));
                    let id = mux.with_mux(|m| m.spawn(&cmd)).expect("spawn");
                    let mut events = Events::new();
                    mux.wait(&mut events).await.expect("wait");
                    let evs: Vec<Ev> = events.iter().map(Ev::from).collect();
                    assert_eq!(lines_of(&evs, id, Stream::Stdout), [b"no newline yet"]);
                });
            }

            /// Each turn races `wait` against a future that is ready at once or at its second
            /// poll, so most `wait` futures are dropped unfinished: nothing may be lost or
            /// repeated. The slow child runs until 1000 futures have been dropped and 50 of its
            /// lines have arrived (then it is terminated), so neither count depends on how fast
            /// the machine is.
            #[test]
            fn dropping_wait_futures_loses_and_duplicates_nothing() {
                $run(async {
                    let mut mux = AsyncMux::new().expect("mux");
                    let slow = spawn(&mut mux, &["stamps", "1000000", "2"]);
                    let fast = spawn(&mut mux, &["lines", "5000", "both"]);
                    let mut events = Events::new();
                    let mut all = Vec::new();
                    let mut dropped = 0u64;
                    let mut turn = 0u64;
                    let (mut fast_done, mut stopped) = (false, false);
                    let mut stamps_seen = 0;
                    while !mux.with_mux(|m| m.is_empty()) {
                        turn += 1;
                        // Odd turns lose against a future that is already ready (the `wait`
                        // is polled once, then dropped, unless it completed at once); even
                        // turns against one ready at its second poll.
                        let lose_at_once = turn % 2 == 1;
                        let waited = future::or(
                            async { Some(mux.wait(&mut events).await.expect("wait")) },
                            async {
                                if !lose_at_once {
                                    future::yield_now().await;
                                }
                                None
                            },
                        )
                        .await;
                        match waited {
                            Some(_) => {
                                let before = all.len();
                                all.extend(events.iter().map(Ev::from));
                                fast_done |= all[before..]
                                    .iter()
                                    .any(|e| matches!(e, Ev::Exited(id, _) if *id == fast));
                                stamps_seen += all[before..]
                                    .iter()
                                    .filter(|e| matches!(e, Ev::Line { child, .. } if *child == slow))
                                    .count();
                            }
                            None => dropped += 1,
                        }
                        // Some stamps too, so that the slow child's lines cross dropped
                        // futures (the drops can be done before its first line is written).
                        if dropped >= 1000 && fast_done && stamps_seen >= 50 && !stopped {
                            mux.with_mux(|m| m.terminate(slow)).expect("terminate");
                            stopped = true;
                        }
                    }
                    assert!(dropped >= 1000, "only {dropped} wait futures dropped");
                    assert_complete(&all, fast, 5000);
                    let stamps = lines_of(&all, slow, Stream::Stdout);
                    assert!(stamps.len() >= 50, "{} stamps", stamps.len());
                    for (i, line) in stamps.iter().enumerate() {
                        let prefix = format!("stamp {i} ");
                        assert!(line.starts_with(prefix.as_bytes()), "line {i}: {line:?}");
                    }
                    assert!(!exit_of(&all, slow).success(), "terminated");
                });
            }

            /// A terminal hands out at most its line discipline's buffer (~4 KiB) per read
            /// however much waits: all of a ~20 KB burst must arrive while the child idles
            /// (nothing new is written that would announce the rest).
            #[cfg(unix)]
            #[test]
            fn a_pty_child_burst_arrives_whole_while_it_idles() {
                $run(async {
                    let mut mux = AsyncMux::new().expect("mux");
                    let mut cmd = child(&["lines", "2000", "out", "sleep", "60000"]);
                    cmd.pty(spawnmux::PtySize::default());
                    let id = mux.with_mux(|m| m.spawn(&cmd)).expect("spawn");
                    let mut events = Events::new();
                    let mut all = Vec::new();
                    within_30s(async {
                        while lines_of(&all, id, Stream::Stdout).len() < 2000 {
                            mux.wait(&mut events).await.expect("wait");
                            all.extend(events.iter().map(Ev::from));
                        }
                    })
                    .await;
                    mux.with_mux(|m| m.terminate(id)).expect("terminate");
                    all.extend(run_to_end(&mut mux).await);
                    assert_eq!(lines_of(&all, id, Stream::Stdout), expected(2000, Stream::Stdout));
                });
            }

            /// A source of the caller's that stays readable because the caller reads one byte
            /// per `Ready` is reported again and again, with nothing new arriving on it.
            #[cfg(unix)]
            #[test]
            fn a_source_left_readable_is_reported_until_drained() {
                use std::io::{Read, Write};
                use std::os::unix::net::UnixStream;
                $run(async {
                    let mut mux = AsyncMux::new().expect("mux");
                    let (a, mut b) = UnixStream::pair().expect("pair");
                    a.set_nonblocking(true).expect("nonblocking");
                    let src = mux
                        .with_mux(|m| m.add_source(a, spawnmux::Interest::Readable))
                        .expect("add");
                    b.write_all(b"0123456789").expect("write");
                    let mut events = Events::new();
                    let mut got = Vec::new();
                    within_30s(async {
                    while got.len() < 10 {
                        mux.wait(&mut events).await.expect("wait");
                        let ready = events
                            .iter()
                            .any(|e| matches!(Ev::from(e), Ev::Ready(s, true, _) if s == src));
                        if ready {
                            let mut one = [0u8; 1];
                            let n = mux
                                .with_mux(|m| m.source_mut::<UnixStream>(src).expect("src").read(&mut one))
                                .expect("read");
                            got.extend_from_slice(&one[..n]);
                        }
                    }
                    })
                    .await;
                    assert_eq!(got, b"0123456789");
                });
            }

            #[test]
            fn terminate_reaches_the_whole_tree() {
                $run(async {
                    let mut mux = AsyncMux::new().expect("mux");
                    let id = spawn(&mut mux, &["grandchild", "60000", "sleep", "60000"]);
                    let mut events = Events::new();
                    let mut grandchild = None;
                    while grandchild.is_none() {
                        mux.wait(&mut events).await.expect("wait");
                        for e in events.iter().map(Ev::from) {
                            if let Ev::Line { bytes, .. } = e {
                                grandchild =
                                    grandchild.or(util::number_after(&bytes, "grandchild "));
                            }
                        }
                    }
                    mux.with_mux(|m| m.terminate(id)).expect("terminate");
                    let evs = run_to_end(&mut mux).await;
                    let exit = exit_of(&evs, id);
                    #[cfg(unix)]
                    assert_eq!(exit, Exit::Signal(15));
                    #[cfg(windows)]
                    assert!(!exit.success(), "{exit:?}");
                    #[cfg(target_os = "linux")]
                    util::wait_gone(grandchild.expect("pid"));
                });
            }
        }
    };
}

adapter_tests!(
    tokio_current_thread,
    spawnmux::tokio::AsyncMux,
    tokio_current
);
adapter_tests!(tokio_multi_thread, spawnmux::tokio::AsyncMux, tokio_multi);
adapter_tests!(smol_async_io, spawnmux::async_io::AsyncMux, smol);

/// A `Mux` whose children flood it has events at every `wait`: the adapter then answers
/// without asking the reactor, and must still let the other tasks of its thread run (tokio's
/// cooperative budget, 128 operations per turn), not only when the flood ends.
#[test]
fn a_flooded_tokio_async_mux_lets_the_other_tasks_of_its_thread_run() {
    tokio_current(async {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let mut mux = spawnmux::tokio::AsyncMux::new().expect("mux");
        let id = mux
            .with_mux(|m| m.spawn(&child(&["lines", "3000000", "both"])))
            .expect("spawn");
        let mut events = Events::new();
        let mut all = Vec::new();
        let (mut batches, mut spawned_at, mut ran_after) = (0u64, None, None);
        let ran = Arc::new(AtomicBool::new(false));
        while !mux.with_mux(|m| m.is_empty()) {
            mux.wait(&mut events).await.expect("wait");
            all.extend(events.iter().map(Ev::from));
            batches += 1;
            // Once the flood is under way, another task becomes ready.
            if batches == 20 {
                let ran = ran.clone();
                tokio::spawn(async move { ran.store(true, Ordering::SeqCst) });
                spawned_at = Some(batches);
            }
            if ran_after.is_none() && ran.load(Ordering::SeqCst) {
                ran_after = spawned_at.map(|at| batches - at);
            }
        }
        assert_complete(&all, id, 3_000_000);
        let ran_after = ran_after.expect("the other task never ran while the Mux had events");
        assert!(
            ran_after <= 200,
            "the other task waited {ran_after} batches"
        );
    });
}
