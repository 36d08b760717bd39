//! The library's behaviour, observed from the outside with the workspace's test child.

mod util;

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use spawnmux::{ChildId, Command, Event, Events, Exit, Mux, Stdio, Stream};
use util::{child, exit_of, lines_of, run_to_end, run_until, Ev};

#[test]
fn lossless_capture_of_many_lines_from_several_children_50_times() {
    const CHILDREN: usize = 4;
    const LINES: usize = 100_000;
    // Wine runs this ~20x slower than Linux; 10 rounds there keep CI under its time limit.
    let rounds = if cfg!(windows) { 10 } else { 50 };
    for round in 0..rounds {
        let mut mux = Mux::new().expect("mux");
        let ids: Vec<_> = (0..CHILDREN)
            .map(|_| {
                mux.spawn(&child(&["lines", &LINES.to_string(), "both"]))
                    .expect("spawn")
            })
            .collect();
        // next[child][stream]: the number the next line must carry.
        let mut next = [[0usize; 2]; CHILDREN];
        let mut exited = 0;
        util::run_until(&mut mux, |_, event| {
            match event {
                Event::Output(o) => {
                    let c = ids.iter().position(|&i| i == o.child).expect("our child");
                    let s = (o.stream == Stream::Stderr) as usize;
                    let expect = format!("{} {}", if s == 0 { "out" } else { "err" }, next[c][s]);
                    assert!(
                        o.bytes == expect.as_bytes() && o.newline && !o.continued,
                        "round {round}: child {c} expected {expect:?}, got {:?}",
                        o.text()
                    );
                    next[c][s] += 1;
                }
                Event::Exited {
                    child: id, exit, ..
                } => {
                    let c = ids.iter().position(|&i| i == id).expect("our child");
                    assert_eq!(exit, Exit::Code(0));
                    // Every line written before the exit has been delivered before it.
                    assert_eq!(next[c], [LINES, LINES], "round {round}: exit before output");
                    exited += 1;
                }
                _ => {}
            }
            exited == CHILDREN && next.iter().all(|n| *n == [LINES, LINES])
        });
    }
}

/// Empty lines are lines: every `\n` (and, with `strip_cr` or `cr_ends_line`, every `\r\n`)
/// ends exactly one line, empty or not, in every framing mode, wherever the reads split the
/// terminators. The expected lines are written from that rule (the child writes `tag i`, then
/// an empty line, with `\n` / `\r\n` terminators cycling by `i % 4`).
#[test]
fn lossless_capture_keeps_empty_lines_in_every_framing_mode() {
    const CHILDREN: usize = 3;
    const N: u64 = 30_000;
    const ENDS: [(bool, bool); 4] = [(false, false), (true, true), (false, true), (true, false)];
    #[derive(Clone, Copy, Debug)]
    enum Mode {
        Lines,
        StripCr,
        CrEndsLine,
    }
    for mode in [Mode::Lines, Mode::StripCr, Mode::CrEndsLine] {
        let mut mux = Mux::new().expect("mux");
        let ids: Vec<_> = (0..CHILDREN)
            .map(|_| {
                let mut cmd = child(&["blanks", &N.to_string(), "both"]);
                match mode {
                    Mode::Lines => &mut cmd,
                    Mode::StripCr => cmd.strip_cr(true),
                    Mode::CrEndsLine => cmd.cr_ends_line(true),
                };
                mux.spawn(&cmd).expect("spawn")
            })
            .collect();
        // The line number `k` of a stream: line 2i is `tag i`, line 2i+1 the empty line.
        let expected = |tag: &str, k: u64| -> Vec<u8> {
            let i = k / 2;
            let (text_crlf, blank_crlf) = ENDS[(i % 4) as usize];
            let (mut line, crlf) = if k % 2 == 0 {
                (format!("{tag} {i}").into_bytes(), text_crlf)
            } else {
                (Vec::new(), blank_crlf)
            };
            if crlf && matches!(mode, Mode::Lines) {
                line.push(b'\r');
            }
            line
        };
        let mut next = [[0u64; 2]; CHILDREN];
        let mut exited = 0;
        util::run_until(&mut mux, |_, event| {
            match event {
                Event::Output(o) => {
                    let c = ids.iter().position(|&i| i == o.child).expect("our child");
                    let s = (o.stream == Stream::Stderr) as usize;
                    let want = expected(["out", "err"][s], next[c][s]);
                    assert!(
                        o.bytes == want && o.newline && !o.continued,
                        "{mode:?}: child {c} line {} expected {:?}, got {:?}",
                        next[c][s],
                        String::from_utf8_lossy(&want),
                        o.text()
                    );
                    next[c][s] += 1;
                }
                Event::Exited { exit, .. } => {
                    assert_eq!(exit, Exit::Code(0));
                    exited += 1;
                }
                _ => {}
            }
            exited == CHILDREN && next.iter().all(|n| *n == [2 * N, 2 * N])
        });
    }
}

/// 64 children (16 on Windows) flood both streams at once (fan-in): no `wait` returns more than its byte
/// budget (512 KiB, documented on `Events`, plus the one partial line carried over), every
/// line of every stream arrives in order, and each child's `Exited` still follows all its output.
#[test]
fn one_wait_collects_at_most_its_byte_budget_under_fan_in_and_loses_nothing() {
    const BUDGET: usize = 512 * 1024;
    // Under Wine each child is a full Wine process (tens of MiB): with 64 of them starting at
    // once beside the other tests, CI saw `CreateProcess` fail with ERROR_INTERNAL_ERROR (1359)
    // inside Wine. 16 children still fill several budgets per wait there. Real Windows is not
    // known to have this limit; the windows-latest workflow could run 64.
    const CHILDREN: usize = if cfg!(windows) { 16 } else { 64 };
    const FLOOD: usize = 512 * 1024;
    const WIDTH: usize = 256;
    let mut mux = Mux::new().expect("mux");
    let ids: Vec<ChildId> = (0..CHILDREN)
        .map(|_| {
            mux.spawn(&child(&[
                "flood",
                &FLOOD.to_string(),
                "both",
                &WIDTH.to_string(),
            ]))
            .expect("spawn")
        })
        .collect();
    // Per child and stream: the next line index and the bytes seen; per child: exited.
    let mut next: HashMap<(ChildId, Stream), usize> = HashMap::new();
    let mut bytes: HashMap<(ChildId, Stream), usize> = HashMap::new();
    let mut exits: HashMap<ChildId, Exit> = HashMap::new();
    let (mut waits, mut full_waits, mut most) = (0, 0, 0);
    let mut events = Events::new();
    let deadline = Instant::now() + util::DEADLINE;
    while !mux.is_empty() {
        assert!(Instant::now() < deadline, "hangs; {mux:?}");
        mux.wait(&mut events, Some(Duration::from_secs(5)))
            .expect("wait");
        let mut this_wait = 0;
        for e in &events {
            match e {
                Event::Output(o) => {
                    assert!(!exits.contains_key(&o.child), "output after Exited");
                    assert!(o.newline && !o.continued, "line cut");
                    let i = next.entry((o.child, o.stream)).or_default();
                    let head = format!("flood {i}.");
                    assert!(
                        o.bytes.starts_with(head.as_bytes()) && o.bytes.len() == WIDTH - 1,
                        "line {i} of {} {} wrong",
                        o.child,
                        o.stream
                    );
                    *i += 1;
                    *bytes.entry((o.child, o.stream)).or_default() += o.bytes.len() + 1;
                    this_wait += o.bytes.len();
                }
                Event::Exited { child, exit, .. } => {
                    exits.insert(child, exit);
                }
                _ => {}
            }
        }
        assert!(
            this_wait <= BUDGET + WIDTH,
            "one wait returned {this_wait} bytes"
        );
        waits += 1;
        most = most.max(this_wait);
        full_waits += usize::from(this_wait + 4096 + WIDTH > BUDGET);
    }
    println!(
        "{} MiB in {waits} waits, at most {} KiB per wait; {full_waits} waits used the budget",
        (CHILDREN * FLOOD * 2) >> 20,
        most >> 10
    );
    for id in ids {
        assert_eq!(exits[&id], Exit::Code(0));
        for stream in [Stream::Stdout, Stream::Stderr] {
            assert_eq!(bytes[&(id, stream)], FLOOD, "bytes lost");
        }
    }
}

#[test]
fn partial_last_line_arrives_without_newline_then_closed() {
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&child(&["out", r"first\nsecond"]))
        .expect("spawn");
    let evs = run_to_end(&mut mux);
    let stdout: Vec<&Ev> = evs
        .iter()
        .filter(|e| {
            matches!(
                e,
                Ev::Line {
                    stream: Stream::Stdout,
                    ..
                } | Ev::Closed(_, Stream::Stdout)
            )
        })
        .collect();
    assert_eq!(
        stdout,
        [
            &Ev::Line {
                child: id,
                stream: Stream::Stdout,
                bytes: b"first".to_vec(),
                newline: true,
                continued: false
            },
            &Ev::Line {
                child: id,
                stream: Stream::Stdout,
                bytes: b"second".to_vec(),
                newline: false,
                continued: false
            },
            &Ev::Closed(id, Stream::Stdout),
        ]
    );
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

#[test]
fn crlf_is_kept_by_default_and_stripped_on_request() {
    let mut mux = Mux::new().expect("mux");
    let keep = mux.spawn(&child(&["out", r"a\r\nb\r\n"])).expect("spawn");
    let mut cmd = child(&["out", r"a\r\nb\r\nc\rd\r\n"]);
    cmd.strip_cr(true);
    let strip = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(
        lines_of(&evs, keep, Stream::Stdout),
        [b"a\r".to_vec(), b"b\r".to_vec()]
    );
    assert_eq!(
        lines_of(&evs, strip, Stream::Stdout),
        [b"a".to_vec(), b"b".to_vec(), b"c\rd".to_vec()]
    );
}

#[test]
fn an_8_mib_line_comes_in_bounded_pieces_with_the_default_maximum() {
    const LEN: usize = 8 << 20;
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&child(&["bigline", &LEN.to_string(), "out"]))
        .expect("spawn");
    let evs = run_to_end(&mut mux);
    let pieces: Vec<(usize, bool, bool)> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Line {
                bytes,
                newline,
                continued,
                ..
            } => Some((bytes.len(), *newline, *continued)),
            _ => None,
        })
        .collect();
    assert_eq!(pieces.len(), LEN / spawnmux::DEFAULT_MAX_LINE_LEN);
    for (i, &(len, newline, continued)) in pieces.iter().enumerate() {
        assert_eq!(len, spawnmux::DEFAULT_MAX_LINE_LEN, "piece {i}");
        assert_eq!(continued, i > 0, "piece {i}");
        assert_eq!(newline, i == pieces.len() - 1, "piece {i}");
    }
    let joined: Vec<u8> = lines_of(&evs, id, Stream::Stdout).concat();
    assert!(joined
        .iter()
        .enumerate()
        .all(|(i, &b)| b == b'a' + (i % 26) as u8));
}

#[test]
fn invalid_utf8_and_nul_bytes_round_trip_unchanged() {
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&child(&[
            "out",
            r"\xff\xfe\x80 ok \0 \xc3\x28\n",
            "err",
            r"\xed\xa0\x80\n",
        ]))
        .expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(
        lines_of(&evs, id, Stream::Stdout),
        [b"\xff\xfe\x80 ok \0 \xc3\x28".to_vec()]
    );
    assert_eq!(
        lines_of(&evs, id, Stream::Stderr),
        [b"\xed\xa0\x80".to_vec()]
    );
}

#[test]
fn raw_chunk_mode_delivers_every_byte() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["spew", "1000000", "out"]);
    cmd.raw_chunks();
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    let data = lines_of(&evs, id, Stream::Stdout).concat();
    assert_eq!(data.len(), 1_000_000);
    assert!(evs
        .iter()
        .all(|e| !matches!(e, Ev::Line { newline: true, .. })));
}

#[test]
fn exit_codes_and_signals_are_reported_exactly() {
    let mut mux = Mux::new().expect("mux");
    let three = mux.spawn(&child(&["exit", "3"])).expect("spawn");
    let zero = mux.spawn(&child(&[])).expect("spawn");
    let big = mux.spawn(&child(&["exit", "255"])).expect("spawn");
    let killed = mux.spawn(&child(&["sleep", "60000"])).expect("spawn");
    mux.kill(killed).expect("kill");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, three), Exit::Code(3));
    assert_eq!(
        exit_of(&evs, zero),
        Exit::Code(2),
        "no ops is a usage error"
    );
    assert_eq!(exit_of(&evs, big), Exit::Code(255));
    #[cfg(unix)]
    assert_eq!(exit_of(&evs, killed), Exit::Signal(9));
}

#[cfg(unix)]
#[test]
fn abort_is_reported_as_sigabrt() {
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&child(&["abort"])).expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, id), Exit::Signal(6));
}

#[test]
fn missing_program_is_an_error_naming_it_and_the_mux_keeps_working() {
    let mut mux = Mux::new().expect("mux");
    let err = mux
        .spawn(&Command::new("spawnmux-no-such-program-xyz"))
        .expect_err("must fail");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains("spawnmux-no-such-program-xyz"),
        "{err}"
    );

    let mut cmd = child(&["pid"]);
    cmd.current_dir("/definitely/not/here");
    let err = mux.spawn(&cmd).expect_err("bad cwd must fail");
    assert!(err.to_string().contains("/definitely/not/here"), "{err}");

    let id = mux.spawn(&child(&["out", r"still here\n"])).expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(lines_of(&evs, id, Stream::Stdout), [b"still here".to_vec()]);
    assert_eq!(mux.len(), 0);
}

#[test]
fn env_args_and_cwd_reach_the_child() {
    let dir = std::env::temp_dir();
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&[
        "env",
        "SPAWNMUX_T",
        "env",
        "HOME",
        "cwd",
        "argv",
        "a b",
        "\"q\"",
        "",
        "x\ny",
    ]);
    cmd.env_clear().env("SPAWNMUX_T", "v a l").current_dir(&dir);
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    let cwd = std::fs::canonicalize(&dir).expect("canonical temp dir");
    // Windows: canonicalize gives a verbatim `\\?\C:\...` path; the child sees `C:\...`.
    let cwd = cwd.display().to_string();
    let cwd = cwd.strip_prefix(r"\\?\").unwrap_or(&cwd).to_string();
    let lines: Vec<String> = lines_of(&evs, id, Stream::Stdout)
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf8"))
        .collect();
    assert_eq!(
        lines,
        [
            "SPAWNMUX_T=v a l".to_string(),
            "HOME unset".to_string(),
            cwd,
            "[a b]".to_string(),
            "[\"q\"]".to_string(),
            "[]".to_string(),
            "[x".to_string(),
            "y]".to_string(),
        ]
    );
}

#[test]
fn stdin_round_trip_through_an_echoing_child() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["echo"]);
    cmd.stdin(Stdio::Capture);
    let id = mux.spawn(&cmd).expect("spawn");
    mux.write_stdin(id, b"hello\n").expect("write");
    let mut got = Vec::new();
    run_until(&mut mux, |_, e| {
        if let Event::Output(o) = e {
            got.push(o.bytes.to_vec());
        }
        !got.is_empty()
    });
    assert_eq!(got, [b"hello".to_vec()]);
    // More than any pipe buffer holds: the loop must queue and write as the child reads.
    let big: Vec<u8> = (0..50_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    mux.write_stdin(id, &big).expect("write");
    mux.close_stdin(id).expect("close");
    let evs = run_to_end(&mut mux);
    let lines = lines_of(&evs, id, Stream::Stdout);
    assert_eq!(lines.len(), 50_000);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l, format!("line {i}").as_bytes());
    }
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

#[test]
fn writing_to_a_dead_childs_stdin_is_an_error_not_a_signal() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["exit", "0"]);
    cmd.stdin(Stdio::Capture);
    let id = mux.spawn(&cmd).expect("spawn");
    let mut exited = false;
    run_until(&mut mux, |_, e| {
        exited |= matches!(e, Event::Exited { .. });
        exited
    });
    let err = mux.write_stdin(id, b"anyone?\n").expect_err("dead child");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::NotFound
        ),
        "{err:?}"
    );

    // A live child that never reads and exits while we write: BrokenPipe, reported.
    let mut cmd = child(&["sleep", "200"]);
    cmd.stdin(Stdio::Capture);
    let id = mux.spawn(&cmd).expect("spawn");
    let big = vec![b'x'; 4 << 20];
    mux.write_stdin(id, &big).expect("queued");
    assert!(mux.stdin_queued(id) > 0, "a pipe cannot take 4 MiB at once");
    let evs = run_to_end(&mut mux);
    assert!(
        evs.iter().any(
            |e| matches!(e, Ev::StdinFailed(c, io::ErrorKind::BrokenPipe, n) if *c == id && *n > 0)
        ),
        "{evs:?}"
    );
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

#[test]
fn waker_from_another_thread() {
    let mut mux = Mux::new().expect("mux");
    // Woken while the loop is blocked in `wait`.
    let waker = mux.waker(7);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        waker.wake().expect("wake");
    });
    let mut events = spawnmux::Events::new();
    mux.wait(&mut events, Some(util::DEADLINE)).expect("wait");
    assert_eq!(
        events.iter().map(Ev::from).collect::<Vec<_>>(),
        [Ev::Woken(7)]
    );
    t.join().expect("thread");
    // Several wakes before the loop runs are reported once per token.
    let (a, b) = (mux.waker(8), mux.waker(9));
    std::thread::spawn(move || {
        for _ in 0..3 {
            a.wake().expect("wake");
            b.wake().expect("wake");
        }
    })
    .join()
    .expect("thread");
    mux.wait(&mut events, Some(util::DEADLINE)).expect("wait");
    assert_eq!(
        events.iter().map(Ev::from).collect::<Vec<_>>(),
        [Ev::Woken(8), Ev::Woken(9)]
    );
    // Nothing pending any more: a short wait times out with no events.
    assert_eq!(
        mux.wait(&mut events, Some(Duration::from_millis(20)))
            .expect("wait"),
        0
    );
}

#[cfg(unix)]
#[test]
fn own_sockets_in_the_same_loop() {
    use spawnmux::Interest;
    use std::os::unix::net::UnixStream;
    let mut mux = Mux::new().expect("mux");
    let (a, mut b) = UnixStream::pair().expect("pair");
    a.set_nonblocking(true).expect("nonblocking");
    let src = mux.add_source(a, Interest::Readable).expect("add");
    let id = mux
        .spawn(&child(&["sleep", "50", "out", r"child\n"]))
        .expect("spawn");
    b.write_all(b"ping").expect("write");
    let mut ready = false;
    let mut line = false;
    run_until(&mut mux, |_, e| {
        match e {
            Event::Ready(r) => {
                assert_eq!(r.source, src);
                assert!(r.readable);
                ready = true;
            }
            Event::Output(o) => line = o.child == id,
            _ => {}
        }
        ready && line
    });
    let mut buf = [0u8; 8];
    let n =
        io::Read::read(mux.source_mut::<UnixStream>(src).expect("source"), &mut buf).expect("read");
    assert_eq!(&buf[..n], b"ping");
    mux.set_interest(src, Interest::None).expect("interest");
    let back: UnixStream = mux.remove_source(src).expect("remove");
    drop(back);
    assert!(mux.source::<UnixStream>(src).is_none());
}

#[cfg(target_os = "linux")]
#[test]
fn a_grandchild_holding_stdout_does_not_delay_exit_and_terminate_kills_it() {
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&child(&["grandchild", "60000"])).expect("spawn");
    let mut grandchild = None;
    let mut exited = None;
    let mut seen = Vec::new();
    run_until(&mut mux, |_, e| {
        seen.push(Ev::from(e));
        match e {
            Event::Output(o) => {
                if let Some(pid) = util::number_after(o.bytes, "grandchild ") {
                    grandchild = Some(pid);
                }
            }
            Event::Exited { exit, .. } => exited = Some(exit),
            Event::Closed { .. } => panic!("stream closed while the grandchild holds it: {seen:?}"),
            _ => {}
        }
        exited.is_some()
    });
    assert_eq!(exited, Some(Exit::Code(0)));
    let grandchild = grandchild.expect("grandchild pid printed before exit");
    assert!(!util::gone(grandchild), "grandchild must still run");
    assert_eq!(
        mux.len(),
        1,
        "the child stays tracked while its streams are open"
    );
    assert_eq!(mux.running(), 0);
    // Terminating the (exited) child reaches its process group: the grandchild.
    mux.terminate(id).expect("terminate");
    let evs = run_to_end(&mut mux);
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
    assert!(evs.contains(&Ev::Closed(id, Stream::Stderr)), "{evs:?}");
    util::wait_gone(grandchild);
}

#[cfg(target_os = "linux")]
#[test]
fn terminate_kills_the_whole_tree_of_a_running_child() {
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&child(&["grandchild", "60000", "sleep", "60000"]))
        .expect("spawn");
    let mut grandchild = None;
    run_until(&mut mux, |_, e| {
        if let Event::Output(o) = e {
            grandchild = util::number_after(o.bytes, "grandchild ");
        }
        grandchild.is_some()
    });
    mux.terminate(id).expect("terminate");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, id), Exit::Signal(15));
    util::wait_gone(grandchild.expect("pid"));
}

#[cfg(target_os = "linux")]
#[test]
fn siblings_inherit_nothing_eof_arrives_when_the_child_exits() {
    let mut mux = Mux::new().expect("mux");
    // B runs long and is spawned first, A second: if A had inherited B's pipe ends or the
    // other way round, A's EOF would wait for B.
    let b = mux.spawn(&child(&["sleep", "60000"])).expect("spawn b");
    let a = mux
        .spawn(&child(&["fds", "sleep", "100"]))
        .expect("spawn a");
    let mut a_closed = 0;
    let mut a_exited = false;
    let mut fds = None;
    run_until(&mut mux, |_, e| {
        match e {
            Event::Output(o) if o.child == a => fds = Some(o.text().into_owned()),
            Event::Closed { child, .. } if child == a => a_closed += 1,
            Event::Exited { child, .. } if child == a => a_exited = true,
            Event::Closed { child, .. } if child == b => panic!("B's streams closed"),
            _ => {}
        }
        a_closed == 2 && a_exited
    });
    // Only stdio, plus whatever this test process itself inherited without close-on-exec
    // from whoever started it (not ours to judge).
    let mut expect = vec![0, 1, 2];
    expect.extend(util::inheritable_fds().into_iter().filter(|fd| *fd > 2));
    let expect = format!(
        "fds {}",
        expect
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(fds, Some(expect), "the child must inherit only stdio");
    assert_eq!(mux.running(), 1, "B still runs");
    mux.kill(b).expect("kill");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, b), Exit::Signal(9));
}

#[cfg(target_os = "linux")]
#[test]
fn drop_kills_and_reaps_every_child_no_zombies() {
    let mut mux = Mux::new().expect("mux");
    let mut pids = Vec::new();
    for _ in 0..10 {
        let id = mux
            .spawn(&child(&["ignore-term", "sleep", "60000"]))
            .expect("spawn");
        pids.push(mux.pid(id).expect("pid"));
    }
    let gc = mux
        .spawn(&child(&["grandchild", "60000", "sleep", "60000"]))
        .expect("spawn");
    let mut grandchild = None;
    run_until(&mut mux, |_, e| {
        if let Event::Output(o) = e {
            if o.child == gc {
                grandchild = util::number_after(o.bytes, "grandchild ");
            }
        }
        grandchild.is_some()
    });
    pids.push(mux.pid(gc).expect("pid"));
    drop(mux);
    // Our own children must be reaped already (no zombie, no waiting).
    for pid in &pids {
        assert!(util::gone(*pid), "child {pid} left behind");
    }
    util::wait_gone(grandchild.expect("pid"));
}

#[test]
fn shutdown_terminates_then_kills_and_reports_every_exit() {
    let mut mux = Mux::new().expect("mux");
    let polite = mux.spawn(&child(&["forever", "10"])).expect("spawn");
    let stubborn = mux
        .spawn(&child(&["ignore-term", "forever", "10"]))
        .expect("spawn");
    // Wait until the stubborn one has installed its handler.
    run_until(
        &mut mux,
        |_, e| matches!(e, Event::Output(o) if o.child == stubborn && o.bytes == b"ignoring term"),
    );
    let mut exits = Vec::new();
    mux.shutdown(Duration::from_millis(300), |e| {
        if let Event::Exited { child, exit, .. } = e {
            exits.push((child, exit));
        }
    })
    .expect("shutdown");
    exits.sort_by_key(|e| e.0);
    // Unix: SIGTERM ends the polite one, SIGKILL the stubborn one. Windows: Ctrl-Break (or the
    // job, without a console) ends the polite one; the stubborn one is killed with its job
    // (exit code 1).
    #[cfg(unix)]
    let mut expect = vec![(polite, Exit::Signal(15)), (stubborn, Exit::Signal(9))];
    #[cfg(windows)]
    let mut expect = vec![(polite, exits[0].1), (stubborn, Exit::Code(1))];
    expect.sort_by_key(|e| e.0);
    assert_eq!(exits, expect);
    assert!(mux.is_empty());
    assert_eq!(mux.running(), 0);
}

#[test]
fn partial_line_is_flushed_after_idle_time_when_asked() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["out", "Password: ", "sleep", "300", "out", r"ok\n"]);
    cmd.flush_partial_after(Duration::from_millis(50));
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    let pieces: Vec<(Vec<u8>, bool, bool)> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Line {
                child,
                bytes,
                newline,
                continued,
                ..
            } if *child == id => Some((bytes.clone(), *newline, *continued)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pieces,
        [
            (b"Password: ".to_vec(), false, false),
            (b"ok".to_vec(), true, true)
        ]
    );
}

/// `Duration::MAX` (or any time past what the clock can count) means "no deadline", not a
/// panic inside `wait` ("overflow when adding duration to instant").
#[test]
fn times_too_long_for_the_clock_mean_no_deadline() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["out", "Password: ", "sleep", "200", "out", r"ok\n"]);
    cmd.flush_partial_after(Duration::MAX);
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    // Never flushed by the timer: the line is whole when its newline comes.
    assert_eq!(
        lines_of(&evs, id, Stream::Stdout),
        [b"Password: ok".to_vec()]
    );

    let polite = mux.spawn(&child(&["forever", "10"])).expect("spawn");
    let mut exits = Vec::new();
    mux.shutdown(Duration::MAX, |e| {
        if let Event::Exited { child, exit, .. } = e {
            exits.push((child, exit));
        }
    })
    .expect("shutdown");
    #[cfg(unix)]
    assert_eq!(exits, [(polite, Exit::Signal(15))]);
    #[cfg(windows)]
    assert_eq!(exits.len(), 1, "{exits:?}");
    assert!(mux.is_empty());
}

#[test]
fn children_can_be_spawned_from_a_thread_that_then_exits() {
    // With die_with_parent on, a child forked by a thread that exits would get its
    // parent-death signal at once (Linux); spawnmux must prevent that.
    let mut mux = std::thread::spawn(|| {
        let mut mux = Mux::new().expect("mux");
        mux.spawn(&child(&["sleep", "300", "out", r"alive\n"]))
            .expect("spawn");
        mux
    })
    .join()
    .expect("thread");
    let evs = run_to_end(&mut mux);
    let id = mux_child(&evs);
    assert_eq!(lines_of(&evs, id, Stream::Stdout), [b"alive".to_vec()]);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

fn mux_child(evs: &[Ev]) -> spawnmux::ChildId {
    evs.iter()
        .find_map(|e| match e {
            Ev::Exited(c, _) => Some(*c),
            _ => None,
        })
        .expect("an exit")
}

#[test]
fn stdout_to_a_file_and_stderr_captured() {
    let path = std::env::temp_dir().join(format!("spawnmux-test-{}.out", std::process::id()));
    let file = std::fs::File::create(&path).expect("create");
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["out", r"to file\n", "err", r"to mux\n"]);
    cmd.stdout(Stdio::File(file));
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(lines_of(&evs, id, Stream::Stdout), Vec::<Vec<u8>>::new());
    assert_eq!(lines_of(&evs, id, Stream::Stderr), [b"to mux".to_vec()]);
    assert!(!evs.contains(&Ev::Closed(id, Stream::Stdout)));
    assert_eq!(std::fs::read(&path).expect("read"), b"to file\n");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn names_default_to_the_program_and_can_be_set() {
    let mut mux = Mux::new().expect("mux");
    let plain = mux
        .spawn(&child(&["out", r"x\n", "sleep", "60000"]))
        .expect("spawn");
    let mut cmd = child(&["out", r"y\n", "sleep", "60000"]);
    cmd.name("web");
    let named = mux.spawn(&cmd).expect("spawn");
    let mut names = Vec::new();
    run_until(&mut mux, |mux, e| {
        if let Event::Output(o) = e {
            assert_eq!(mux.name(o.child), Some(o.name));
            names.push((o.child, o.name.to_string()));
        }
        names.len() == 2
    });
    names.sort();
    let exe = if cfg!(windows) {
        "spawnmux-testchild.exe"
    } else {
        "spawnmux-testchild"
    };
    assert_eq!(
        names,
        [(plain, exe.to_string()), (named, "web".to_string())]
    );
}

#[cfg(unix)]
#[test]
fn any_signal_through_the_unix_extension() {
    use spawnmux::os::unix::MuxExt;
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&child(&["sleep", "60000"])).expect("spawn");
    let err = mux.signal(id, 12345).expect_err("not a signal");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // SIGUSR1, not SIGINT: a test run started in the background of a script (or under
    // `nohup`) ignores SIGINT (or SIGHUP), and so would the child (an ignored disposition
    // survives `exec`), which then slept on and exited 0.
    mux.signal(id, libc::SIGUSR1).expect("SIGUSR1");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, id), Exit::Signal(libc::SIGUSR1));
}

#[test]
fn tracing_sink_logs_stdout_at_info_and_stderr_at_warn() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["out", r"hello\n", "err", r"careful\n", "exit", "4"]);
    cmd.name("web");
    mux.spawn(&cmd).expect("spawn");
    tracing::subscriber::with_default(subscriber, || {
        let mut events = spawnmux::Events::new();
        while !mux.is_empty() {
            mux.wait(&mut events, Some(util::DEADLINE)).expect("wait");
            events.iter().for_each(spawnmux::trace::log_event);
        }
    });
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    // stdout and stderr are separate pipes: their relative order is not defined.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            r#" INFO spawnmux::child: hello child="web" stream="stdout""#,
            r#" WARN spawnmux::child: careful child="web" stream="stderr""#,
            r#" WARN spawnmux::child: exited (exit code 4) child="web""#,
        ],
        "{text}"
    );
}
