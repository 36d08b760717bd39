//! Children on a pseudo console (ConPTY), run under Wine by `windows-test.sh` and natively by
//! the windows-latest CI job.
//!
//! Wine 8 differs from Windows in three ways, measured (ARCHITECTURE.md, "ConPTY under Wine"):
//! it never connects a pseudo console's child's standard handles to the console (so the test
//! child takes `CONIN$`/`CONOUT$` itself with its `console-stdio` op, a no-op on Windows), it
//! has no `ResizePseudoConsole` (`E_NOTIMPL`), and `0x03` ends its console host and the child
//! without running the child's Ctrl+C handler. Each test asserts what Wine can do and, on
//! Windows, the rest.
#![cfg(windows)]

mod util;

use spawnmux::{Command, Event, Exit, Mux, PtySize, Stream};
use util::{child, exit_of, run_to_end, run_until, Ev};

/// The test child on a 24x80 pseudo console, taking the console as its stdio under Wine.
fn tty_child(ops: &[&str]) -> Command {
    let mut all = vec!["console-stdio"];
    all.extend_from_slice(ops);
    let mut cmd = child(&all);
    cmd.pty(PtySize::default());
    cmd
}

/// A terminal's output without its escape sequences (`ESC [ ... final` and `ESC ] ... BEL`),
/// so lines can be compared with what the child wrote.
fn plain(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut it = String::from_utf8_lossy(bytes)
        .chars()
        .collect::<Vec<_>>()
        .into_iter();
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => match it.next() {
                Some('[') => {
                    for c in it.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => for _ in it.by_ref().take_while(|&c| c != '\u{7}') {},
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The child's terminal output as plain lines (escape sequences and blank lines dropped).
fn screen_lines(evs: &[Ev], id: spawnmux::ChildId) -> Vec<String> {
    util::lines_of(evs, id, Stream::Stdout)
        .iter()
        .map(|l| plain(l))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[test]
fn a_pty_child_sees_a_console_on_every_stream() {
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&tty_child(&["tty"])).expect("spawn");
    let evs = run_to_end(&mut mux);
    let lines = screen_lines(&evs, id);
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == "tty in=true out=true err=true size=24x80"),
        "{lines:?}"
    );
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    // The console's output reaches end of file (the console is closed after the exit).
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
}

#[test]
fn a_pty_child_does_not_get_our_standard_handles() {
    // Without `console-stdio`: on Windows the child's handles are the console's; Wine 8 gives
    // it none at all (its output is lost, ARCHITECTURE.md), but never ours either.
    let mut cmd = child(&["tty"]);
    cmd.pty(PtySize::default());
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    let lines = screen_lines(&evs, id);
    if under_wine() {
        assert!(lines.iter().all(|l| !l.contains("tty ")), "{lines:?}");
    } else {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("tty in=true out=true err=true")),
            "{lines:?}"
        );
    }
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
}

#[test]
fn output_through_conpty_is_lossless_and_in_order() {
    // A console re-renders a screen; every line that scrolls through it is painted, so each
    // numbered line arrives once, in order, with `\r\n` (stripped here with the escapes).
    const N: usize = 3000;
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&tty_child(&["lines", &N.to_string(), "out"]))
        .expect("spawn");
    let evs = run_to_end(&mut mux);
    let numbered: Vec<String> = screen_lines(&evs, id)
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| l.starts_with("out "))
        .collect();
    let expected: Vec<String> = (0..N).map(|i| format!("out {i}")).collect();
    assert_eq!(numbered, expected);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
}

#[test]
fn resize_reaches_the_child_or_says_why_not() {
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&tty_child(&["tty", "read-line", "tty"]))
        .expect("spawn");
    run_until(
        &mut mux,
        |_, e| matches!(e, Event::Output(o) if plain(o.bytes).contains("tty in=")),
    );
    let resized = mux.resize(
        id,
        PtySize {
            rows: 30,
            cols: 100,
        },
    );
    let want = if under_wine() {
        // Wine 8: `ResizePseudoConsole` is a stub returning E_NOTIMPL.
        let e = resized.expect_err("Wine has no ResizePseudoConsole");
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
        "size=24x80"
    } else {
        resized.expect("resize");
        "size=30x100"
    };
    mux.write_stdin(id, b"go\r").expect("stdin");
    let evs = run_to_end(&mut mux);
    let lines = screen_lines(&evs, id);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("tty in=") && l.contains(want)),
        "{want}: {lines:?}"
    );
    // Once the child is gone the console is closed: resizing it names the child.
    let gone = mux.resize(id, PtySize::default()).expect_err("gone");
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound, "{gone}");
}

#[test]
fn resizing_a_child_without_a_terminal_is_invalid_input() {
    let mut mux = Mux::new().expect("mux");
    let id = mux.spawn(&child(&["sleep", "60000"])).expect("spawn");
    let e = mux.resize(id, PtySize::default()).expect_err("no terminal");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    mux.kill(id).expect("kill");
    run_to_end(&mut mux);
}

#[test]
fn terminate_types_ctrl_c_into_the_console() {
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&tty_child(&["trap-term", "forever", "50"]))
        .expect("spawn");
    run_until(
        &mut mux,
        |_, e| matches!(e, Event::Output(o) if plain(o.bytes).contains("tick 0")),
    );
    mux.terminate(id).expect("terminate");
    let evs = run_to_end(&mut mux);
    let lines = screen_lines(&evs, id);
    if under_wine() {
        // Wine 8: the console host quits on 0x03 and the child ends with 0, its handler unrun.
        assert_eq!(exit_of(&evs, id), Exit::Code(0), "{lines:?}");
    } else {
        // The child's handler ran: the stop was graceful, not the job's kill (exit 1).
        assert!(
            lines.iter().any(|l| l.trim() == "caught ctrl-c"),
            "{lines:?}"
        );
        assert_eq!(exit_of(&evs, id), Exit::Code(130), "{lines:?}");
    }
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
}

#[test]
fn shutdown_stops_a_pty_childs_whole_tree() {
    // The child ignores Ctrl+C and its grandchild shares the console; the job ends whatever is
    // left after the grace period, so the loop ends and the grandchild is gone.
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&tty_child(&[
            "ignore-term",
            "grandchild",
            "60000",
            "sleep",
            "60000",
        ]))
        .expect("spawn");
    let mut grandchild = None;
    run_until(&mut mux, |_, e| {
        if let Event::Output(o) = e {
            let text = plain(o.bytes);
            grandchild = util::number_after(text.trim().as_bytes(), "grandchild ");
        }
        grandchild.is_some()
    });
    let grandchild = grandchild.expect("the grandchild's pid");
    let mut evs = Vec::new();
    mux.shutdown(std::time::Duration::from_millis(500), |e| {
        evs.push(Ev::from(e))
    })
    .expect("shutdown");
    assert!(mux.is_empty());
    // (Under Wine the child ends at the Ctrl+C with 0; on Windows it ignores it and the job
    // kills it.)
    assert!(
        evs.iter()
            .any(|e| matches!(e, Ev::Exited(c, _) if *c == id)),
        "{evs:?}"
    );
    assert!(
        !still_running(grandchild),
        "grandchild {grandchild} survived"
    );
}

/// Whether process `pid` still runs.
fn still_running(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: plain calls; the handle is closed before returning.
    unsafe {
        let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if h.is_null() {
            return false;
        }
        let mut code = 0u32;
        let ok = GetExitCodeProcess(h, &mut code);
        CloseHandle(h);
        ok != 0 && code == STILL_ACTIVE as u32
    }
}

/// `true` when running under Wine (its ntdll exports `wine_get_version`).
fn under_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: NUL-terminated names; ntdll is always loaded; only the address is tested.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}
