//! The log files' writer on real files in a temporary directory.

use std::path::{Path, PathBuf};

use super::*;
use crate::spec::Program;

const OUT: spawnmux::Stream = spawnmux::Stream::Stdout;

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-logfiles-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// A helper writing to `path` (none: `None`), rotated past `max_size`.
fn helper(name: &str, path: Option<&Path>, max_size: u64) -> HelperSpec {
    let mut h = HelperSpec::new(name, Program::Shell("x".into()));
    h.log_file = path.map(|p| LogFile {
        path: p.to_path_buf(),
        max_size,
    });
    h
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[test]
fn lines_are_appended_at_each_flush_to_a_file_in_a_new_directory() {
    let d = dir("raw");
    let path = d.join("logs/deeper/web.log");
    let mut files = LogFiles::open(
        &[
            helper("other", None, 100),
            helper("web", Some(&path), 1 << 20),
        ],
        false,
    );
    assert!(path.exists(), "created at the start, with its directories");
    files.line(Some(1), OUT, b"one");
    files.line(Some(1), OUT, b"\x1b[31mred\x1b[0m \xff");
    files.line(Some(1), OUT, b"");
    files.line(Some(0), OUT, b"no file");
    files.line(None, OUT, b"not a helper's");
    files.line(Some(7), OUT, b"no such helper");
    assert_eq!(read(&path), "", "held until the flush");
    assert!(files.flush().is_empty());
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b"one\n\x1b[31mred\x1b[0m \xff\n\n"
    );
    files.line(Some(1), OUT, b"two");
    assert!(files.flush().is_empty());
    assert!(read(&path).ends_with("\ntwo\n"));
    // A new run appends.
    drop(files);
    let mut files = LogFiles::open(&[helper("web", Some(&path), 1 << 20)], false);
    files.line(Some(0), OUT, b"three");
    files.flush();
    assert!(read(&path).ends_with("\ntwo\nthree\n"), "{}", read(&path));
}

#[test]
fn a_full_buffer_is_written_without_waiting_for_the_flush() {
    let d = dir("full");
    let path = d.join("web.log");
    let mut files = LogFiles::open(&[helper("web", Some(&path), 1 << 30)], false);
    let line = [b'x'; 999];
    let lines = FLUSH_AT / 1000;
    for _ in 0..lines {
        files.line(Some(0), OUT, &line);
    }
    assert_eq!(read(&path).len(), 0, "{lines} lines: below 64 KiB");
    files.line(Some(0), OUT, &line);
    assert_eq!(
        read(&path).len(),
        (lines + 1) * 1000,
        "64 KiB: written at once"
    );
}

#[test]
fn the_file_rotates_before_a_write_would_pass_its_size_and_keeps_three_old_ones() {
    let d = dir("rotate");
    let path = d.join("web.log");
    let log = LogFile {
        path: path.clone(),
        max_size: 10,
    };
    let mut files = LogFiles::open(&[helper("web", Some(&path), 10)], false);
    let mut write = |text: &str| {
        files.line(Some(0), OUT, text.as_bytes());
        assert!(files.flush().is_empty());
    };
    write("aaaa");
    write("bbbb");
    assert_eq!(
        read(&path),
        "aaaa\nbbbb\n",
        "10 bytes: at the limit, not past it"
    );
    write("cccc");
    assert_eq!(read(&path), "cccc\n");
    assert_eq!(read(&log.old(1)), "aaaa\nbbbb\n");
    for text in ["dddd", "eeee", "ffff", "gggg", "hhhh", "iiii"] {
        write(text);
    }
    assert_eq!(read(&path), "iiii\n");
    assert_eq!(read(&log.old(1)), "gggg\nhhhh\n");
    assert_eq!(read(&log.old(2)), "eeee\nffff\n");
    assert_eq!(read(&log.old(3)), "cccc\ndddd\n");
    assert!(!log.old(4).exists(), "three old files at most");
    // One write larger than the limit goes whole into a new file.
    write("a line longer than ten bytes");
    assert_eq!(read(&path), "a line longer than ten bytes\n");
    assert_eq!(read(&log.old(1)), "iiii\n");
}

#[test]
fn a_file_already_past_its_size_rotates_at_the_first_write() {
    let d = dir("big-start");
    let path = d.join("web.log");
    std::fs::write(&path, "0123456789 from an earlier run\n").expect("write");
    let mut files = LogFiles::open(&[helper("web", Some(&path), 10)], false);
    files.line(Some(0), OUT, b"new");
    files.flush();
    assert_eq!(read(&path), "new\n");
    assert_eq!(
        read(&d.join("web.log.1")),
        "0123456789 from an earlier run\n"
    );
}

#[test]
fn a_failure_is_reported_once_and_the_file_then_left_alone() {
    let d = dir("fail");
    std::fs::write(d.join("not-a-dir"), "").expect("write");
    let bad = d.join("not-a-dir/web.log");
    let good = d.join("api.log");
    let mut files = LogFiles::open(
        &[
            helper("web", Some(&bad), 100),
            helper("api", Some(&good), 100),
        ],
        false,
    );
    files.line(Some(0), OUT, b"lost");
    files.line(Some(1), OUT, b"kept");
    let failures = files.flush();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let Record::LogFileFailed { helper, path, .. } = &failures[0] else {
        panic!("{failures:?}");
    };
    assert_eq!(
        (helper.as_str(), path.as_str()),
        ("web", bad.display().to_string().as_str())
    );
    assert!(failures[0].warn());
    assert_eq!(failures[0].event(), "log_file_error");
    files.line(Some(0), OUT, b"lost too");
    assert!(files.flush().is_empty(), "reported once");
    assert_eq!(read(&good), "kept\n");
}

/// Linux's /dev/full takes the open and fails every write (ENOSPC): a write error.
#[cfg(target_os = "linux")]
#[test]
fn a_write_error_is_reported_once() {
    let mut files = LogFiles::open(
        &[helper("web", Some(Path::new("/dev/full")), 1 << 20)],
        false,
    );
    files.line(Some(0), OUT, b"x");
    let failures = files.flush();
    assert_eq!(failures.len(), 1);
    assert!(failures[0]
        .message()
        .starts_with("web's log_file /dev/full failed ("));
    files.line(Some(0), OUT, b"y");
    assert!(files.flush().is_empty());
}

#[test]
fn the_buffer_is_reused_no_allocation_per_line() {
    let d = dir("alloc");
    let path = d.join("web.log");
    let mut files = LogFiles::open(&[helper("web", Some(&path), 1 << 30)], false);
    let capacity = |files: &LogFiles| files.sinks[0].as_ref().map(|s| s.buf.capacity());
    let before = capacity(&files);
    for i in 0..5_000 {
        files.line(
            Some(0),
            OUT,
            format!("line {i} of a busy helper").as_bytes(),
        );
        if i % 100 == 0 {
            files.flush();
        }
    }
    files.flush();
    assert_eq!(capacity(&files), before, "the buffer never grew");
}
