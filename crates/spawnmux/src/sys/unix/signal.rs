//! Unix signal names, from the platform's own numbers (`libc`'s constants): the numbers differ
//! between systems (`SIGUSR1` is 10 on Linux, 30 on macOS and the BSDs; `SIGBUS` is 7 on
//! Linux, 10 on macOS and the BSDs), so no name is tied to a hard-coded number.

/// Every signal named here, as `(number, name)`: those of every supported Unix (Linux, macOS,
/// the BSDs), then those of one family.
const SIGNALS: &[(i32, &str)] = &[
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGTRAP, "SIGTRAP"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGCHLD, "SIGCHLD"),
    (libc::SIGCONT, "SIGCONT"),
    (libc::SIGSTOP, "SIGSTOP"),
    (libc::SIGTSTP, "SIGTSTP"),
    (libc::SIGTTIN, "SIGTTIN"),
    (libc::SIGTTOU, "SIGTTOU"),
    (libc::SIGURG, "SIGURG"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGWINCH, "SIGWINCH"),
    (libc::SIGIO, "SIGIO"),
    (libc::SIGSYS, "SIGSYS"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::SIGPWR, "SIGPWR"),
    #[cfg(spawnmux_bsd)]
    (libc::SIGEMT, "SIGEMT"),
    #[cfg(spawnmux_bsd)]
    (libc::SIGINFO, "SIGINFO"),
];

/// The conventional name of signal number `sig` on this platform (`"SIGTERM"`), if it has
/// one here.
///
/// Named: `HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM CHLD CONT STOP
/// TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO SYS`, plus `PWR` on Linux and Android,
/// `EMT` and `INFO` on macOS and the BSDs. Real-time signals have no name here. Aliases
/// (`SIGIOT`, `SIGPOLL`, `SIGCLD`) are not used: each number has one name.
///
/// ```
/// use spawnmux::os::unix::signal_name;
///
/// assert_eq!(signal_name(libc::SIGTERM), Some("SIGTERM"));
/// assert_eq!(signal_name(libc::SIGUSR1), Some("SIGUSR1")); // 10 on Linux, 30 on macOS
/// assert_eq!(signal_name(0), None);
/// ```
pub fn signal_name(sig: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|&&(number, _)| number == sig)
        .map(|&(_, name)| name)
}

/// The number of the signal named `name` on this platform, for the names of
/// [`signal_name`]: with or without the `SIG` prefix, in any case (`"TERM"`, `"SIGTERM"`,
/// `"sigterm"`, `"Term"`). A decimal number (`"15"`) is accepted too if it is the number of a
/// signal named here. Anything else (a name this platform lacks, a real-time signal, a sign,
/// spaces) is `None`.
///
/// ```
/// use spawnmux::os::unix::signal_number;
///
/// assert_eq!(signal_number("TERM"), Some(libc::SIGTERM));
/// assert_eq!(signal_number("sigusr1"), Some(libc::SIGUSR1));
/// assert_eq!(signal_number(&libc::SIGHUP.to_string()), Some(libc::SIGHUP));
/// assert_eq!(signal_number("NOPE"), None);
/// ```
pub fn signal_number(name: &str) -> Option<i32> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        let number = name.parse().ok()?;
        return signal_name(number).map(|_| number);
    }
    let short = match name.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("SIG") => &name[3..],
        _ => name,
    };
    SIGNALS
        .iter()
        .find(|(_, full)| full[3..].eq_ignore_ascii_case(short))
        .map(|&(number, _)| number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for &(number, name) in SIGNALS {
            assert_eq!(signal_name(number), Some(name));
            assert_eq!(signal_number(name), Some(number), "{name}");
            assert_eq!(signal_number(&name[3..]), Some(number), "{name}");
            assert_eq!(signal_number(&name.to_ascii_lowercase()), Some(number));
            assert_eq!(signal_number(&number.to_string()), Some(number));
        }
    }

    #[test]
    fn each_number_and_name_appears_once() {
        for (i, &(number, name)) in SIGNALS.iter().enumerate() {
            for &(other_number, other_name) in SIGNALS.iter().skip(i + 1) {
                assert_ne!(number, other_number, "{name} and {other_name}");
                assert_ne!(name, other_name);
            }
        }
    }

    #[test]
    fn numbers_are_the_platforms() {
        assert_eq!(signal_number("USR1"), Some(libc::SIGUSR1));
        assert_eq!(signal_number("USR2"), Some(libc::SIGUSR2));
        assert_eq!(signal_number("BUS"), Some(libc::SIGBUS));
        assert_eq!(signal_name(libc::SIGUSR1), Some("SIGUSR1"));
        assert_eq!(signal_name(libc::SIGCHLD), Some("SIGCHLD"));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert_eq!((libc::SIGUSR1, libc::SIGUSR2), (10, 12));
        #[cfg(target_vendor = "apple")]
        assert_eq!((libc::SIGUSR1, libc::SIGUSR2), (30, 31));
    }

    #[test]
    fn every_name_can_be_sent() {
        // `MuxExt::signal` refuses a number rustix does not name: every name here must pass.
        for &(number, name) in SIGNALS {
            assert!(
                rustix::process::Signal::from_named_raw(number).is_some(),
                "{name} ({number})"
            );
        }
    }

    #[test]
    fn other_spellings_are_refused() {
        for bad in [
            "",
            "SIG",
            "sig",
            "SIGSIGTERM",
            " TERM",
            "TERM ",
            "+15",
            "-15",
            "0",
            "15x",
            "TERM2",
            "99999999999",
            "RTMIN",
        ] {
            assert_eq!(signal_number(bad), None, "{bad:?}");
        }
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(-1), None);
    }
}
