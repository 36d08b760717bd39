//! Children on pseudo-terminals (`Command::pty`, `Command::pty_stdout`, `Mux::resize`; issue 14).
#![cfg(unix)]

mod util;

use spawnmux::{ChildId, Command, Event, Exit, Mux, PtySize, Stdio, Stream};
use util::{child, exit_of, lines_of, run_to_end, run_until, Ev};

const SIZE: PtySize = PtySize {
    rows: 33,
    cols: 101,
};

/// The lines of `id`'s stream `which`, as text.
fn text(evs: &[Ev], id: ChildId, which: Stream) -> Vec<String> {
    lines_of(evs, id, which)
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf-8"))
        .collect()
}

/// Runs `cmd` to its end; returns its events and id.
fn run(cmd: &Command) -> (Vec<Ev>, ChildId) {
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(cmd).expect("spawn");
    (run_to_end(&mut mux), id)
}

#[test]
fn pty_puts_all_three_streams_on_a_terminal_of_the_size_asked() {
    let mut cmd = child(&["tty", "err", "on stderr\\n"]);
    cmd.pty(SIZE);
    assert_eq!(cmd.get_pty(), Some((SIZE, true)));
    let (evs, id) = run(&cmd);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    // One stream: stderr arrives as stdout, and lines come without the terminal's `\r`.
    assert_eq!(
        text(&evs, id, Stream::Stdout),
        ["tty in=true out=true err=true size=33x101", "on stderr"]
    );
    assert_eq!(text(&evs, id, Stream::Stderr), Vec::<String>::new());
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
}

#[test]
fn pty_stdout_keeps_stderr_a_pipe() {
    let mut cmd = child(&["tty", "err", "warning\\n"]);
    cmd.pty_stdout(PtySize::default());
    assert_eq!(cmd.get_pty(), Some((PtySize::default(), false)));
    let (evs, id) = run(&cmd);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    assert_eq!(
        text(&evs, id, Stream::Stdout),
        ["tty in=true out=true err=false size=24x80"]
    );
    assert_eq!(text(&evs, id, Stream::Stderr), ["warning"]);
}

#[test]
fn without_pty_no_stream_is_a_terminal() {
    let mut cmd = child(&["tty"]);
    cmd.stdin(Stdio::Capture);
    assert_eq!(cmd.get_pty(), None);
    let (evs, id) = run(&cmd);
    assert_eq!(
        text(&evs, id, Stream::Stdout),
        ["tty in=false out=false err=false size=none"]
    );
}

#[test]
fn pty_overrides_stdio_set_before_or_after() {
    let mut cmd = child(&["tty"]);
    cmd.stdout(Stdio::Null)
        .pty(SIZE)
        .stdin(Stdio::Null)
        .stderr(Stdio::Null);
    let (evs, id) = run(&cmd);
    assert_eq!(
        text(&evs, id, Stream::Stdout),
        ["tty in=true out=true err=true size=33x101"]
    );
}

#[test]
fn resize_changes_the_size_and_the_child_gets_sigwinch() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["winch", "tty"]);
    cmd.pty(SIZE);
    let id = mux.spawn(&cmd).expect("spawn");
    let mut lines = Vec::new();
    run_until(&mut mux, |_, ev| {
        if let Event::Output(o) = ev {
            lines.push(o.text().into_owned());
            return o.bytes == b"winch ready";
        }
        false
    });
    mux.resize(
        id,
        PtySize {
            rows: 50,
            cols: 132,
        },
    )
    .expect("resize");
    let evs = run_to_end(&mut mux);
    lines.extend(text(&evs, id, Stream::Stdout));
    assert_eq!(
        lines,
        [
            "winch ready",
            "winch 50x132",
            "tty in=true out=true err=true size=50x132"
        ]
    );
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

#[test]
fn resize_of_a_child_without_terminal_or_gone_is_refused() {
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&child(&["sleep", "60000"])).expect("spawn");
    let err = mux.resize(id, SIZE).expect_err("no terminal");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("spawnmux-testchild"), "{err}");
    mux.kill(id).expect("kill");
    run_to_end(&mut mux);
    let err = mux.resize(id, SIZE).expect_err("gone");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_flood_through_the_pty_arrives_complete_and_in_order() {
    const WIDTH: usize = 100;
    const LINES: usize = 60_000; // 6 MB, 6.06 MB with the terminal's `\r`s
    let mut cmd = child(&["flood", &(WIDTH * LINES).to_string(), "out", "100"]);
    cmd.pty(PtySize::default());
    let (evs, id) = run(&cmd);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    let lines = lines_of(&evs, id, Stream::Stdout);
    assert_eq!(lines.len(), LINES);
    for (i, line) in lines.iter().enumerate() {
        let mut want = format!("flood {i}").into_bytes();
        want.resize(WIDTH - 1, b'.');
        assert_eq!(line, &want, "line {i}");
    }
    // Every line ended with the terminal's `\r\n`, delivered as one line end.
    assert!(evs
        .iter()
        .all(|e| !matches!(e, Ev::Line { newline: false, .. })));
}

#[test]
fn the_raw_bytes_show_the_terminals_crlf() {
    let mut cmd = child(&["out", "a\\nb\\n"]);
    cmd.pty(PtySize::default()).raw_chunks().strip_cr(false);
    let (evs, id) = run(&cmd);
    let bytes: Vec<u8> = lines_of(&evs, id, Stream::Stdout).concat();
    assert_eq!(bytes, b"a\r\nb\r\n");
}

#[test]
fn typed_input_reaches_the_child_and_ctrl_d_is_end_of_file() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["drain"]);
    cmd.pty(PtySize::default());
    let id = mux.spawn(&cmd).expect("spawn");
    mux.write_stdin(id, b"abc\n").expect("write");
    // ^D at the start of a line: the terminal's end of file (closing stdin would not be).
    mux.write_stdin(id, b"\x04").expect("write");
    let evs = run_to_end(&mut mux);
    // The terminal echoes the typed line, then the child reports what it read.
    assert_eq!(text(&evs, id, Stream::Stdout), ["abc", "drained 4"]);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

#[test]
fn close_stdin_leaves_the_terminal_open() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["echo"]);
    cmd.pty(PtySize::default());
    let id = mux.spawn(&cmd).expect("spawn");
    mux.write_stdin(id, b"one\n").expect("write");
    mux.close_stdin(id).expect("close");
    // The child still runs (no end of file) and its output still arrives: the echo of the
    // typed line, and the child's own copy.
    let mut seen = 0;
    run_until(&mut mux, |_, ev| {
        if let Event::Output(o) = ev {
            assert_eq!(o.bytes, b"one");
            seen += 1;
        }
        seen == 2
    });
    assert_eq!(mux.running(), 1);
    mux.terminate(id).expect("terminate");
    let evs = run_to_end(&mut mux);
    assert!(matches!(exit_of(&evs, id), Exit::Signal(_)), "{evs:?}");
}

#[test]
fn end_of_output_is_eio_reported_as_closed_after_exit() {
    let mut cmd = child(&["out", "last words", "exit", "7"]);
    cmd.pty(PtySize::default());
    let (evs, id) = run(&cmd);
    // The partial line is delivered at end of file; the stream closes; the exit code arrives.
    assert_eq!(text(&evs, id, Stream::Stdout), ["last words"]);
    assert_eq!(exit_of(&evs, id), Exit::Code(7));
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn terminate_stops_the_whole_tree_of_a_pty_child() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["grandchild", "600000", "sleep", "600000"]);
    cmd.pty(PtySize::default());
    let id = mux.spawn(&cmd).expect("spawn");
    let mut grandchild = None;
    run_until(&mut mux, |_, ev| {
        if let Event::Output(o) = ev {
            grandchild = util::number_after(o.bytes, "grandchild ");
        }
        grandchild.is_some()
    });
    let grandchild = grandchild.expect("grandchild");
    // The child leads a session and a process group of its own, the grandchild in it.
    let pid = mux.pid(id).expect("pid");
    let pgid = rustix::process::getpgid(rustix::process::Pid::from_raw(pid as i32)).expect("pgid");
    assert_eq!(pgid.as_raw_nonzero().get() as u32, pid);
    // It leads its session. (Comparing with the test's own session would not do: in a PID
    // namespace whose session leader is outside, as in a container, ours reads as 0.)
    let sid = rustix::process::getsid(rustix::process::Pid::from_raw(pid as i32)).expect("sid");
    assert_eq!(sid.as_raw_nonzero().get() as u32, pid);
    mux.terminate(id).expect("terminate");
    let evs = run_to_end(&mut mux);
    assert!(matches!(exit_of(&evs, id), Exit::Signal(_)), "{evs:?}");
    // The output closed: no process holds the terminal any more.
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
    util::wait_gone(grandchild);
}

#[cfg(target_os = "linux")]
#[test]
fn no_fd_of_one_pty_reaches_another_child() {
    let before = util::inheritable_fds();
    let mut mux = Mux::new().expect("mux");
    let mut holder = child(&["sleep", "600000"]);
    holder.pty(PtySize::default()).stdin(Stdio::Capture);
    let held = mux.spawn(&holder).expect("spawn");
    // Every fd spawnmux holds for the first pty is close-on-exec.
    assert_eq!(util::inheritable_fds(), before);
    let mut on_pty = child(&["fds"]);
    on_pty.pty(PtySize::default());
    let mut on_pty_stdout = child(&["fds"]);
    on_pty_stdout.pty_stdout(PtySize::default());
    let plain = child(&["fds"]);
    let ids = [on_pty, on_pty_stdout, plain].map(|c| mux.spawn(&c).expect("spawn"));
    let mut evs = Vec::new();
    // `Exited` follows everything a child wrote.
    let mut exited = 0;
    run_until(&mut mux, |_, ev| {
        if matches!(ev, Event::Exited { .. }) {
            exited += 1;
        }
        evs.push(Ev::from(ev));
        exited == ids.len()
    });
    // Only the child's own stdin, stdout and stderr (and what the test process itself passes
    // on, such as cargo's jobserver): no other pty's master or slave.
    let mut expect = vec![0, 1, 2];
    expect.extend(before.into_iter().filter(|fd| *fd > 2));
    let expect: Vec<String> = expect.iter().map(u32::to_string).collect();
    let expect = format!("fds {}", expect.join(","));
    for id in ids {
        assert_eq!(text(&evs, id, Stream::Stdout), [expect.as_str()], "{id}");
    }
    mux.kill(held).expect("kill");
    run_to_end(&mut mux);
}

/// Unlike a pipe, a terminal hangs up when its session leader (the child) exits: the kernel
/// sends `SIGHUP` to the terminal's foreground process group, the child's group, so a
/// grandchild that does not catch it ends too, and the output closes.
#[cfg(target_os = "linux")]
#[test]
fn when_the_child_exits_its_terminal_hangs_up_on_the_grandchild() {
    let mut cmd = child(&["grandchild", "600000"]);
    cmd.pty(PtySize::default());
    let (evs, id) = run(&cmd);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    let lines = lines_of(&evs, id, Stream::Stdout);
    let grandchild = lines
        .iter()
        .find_map(|l| util::number_after(l, "grandchild "))
        .expect("grandchild pid");
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
    util::wait_gone(grandchild);
}
