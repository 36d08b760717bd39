//! One client connection's buffers: request lines in, replies out. No I/O of its own beyond
//! the non-blocking stream it is given, so that the limits are unit-tested with fake streams.

use std::io::{self, Read, Write};

use super::protocol::MAX_LINE;

/// At most this much is read from one client per readiness (the rest waits for the next
/// round: one client cannot hold the loop).
const READ_PER_ROUND: usize = 64 * 1024;
/// While this much of the replies waits to be sent, the client's requests are not read (a
/// client that sends but does not read slows itself down, nothing else).
pub(crate) const PAUSE_AT: usize = 64 * 1024;
/// A following client whose unsent output grows past this is dropped.
pub(crate) const DROP_AT: usize = 2 << 20;

/// A request line, or why there is none.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Request(Vec<u8>),
    /// More than [`MAX_LINE`] bytes without a newline.
    TooLong,
}

#[derive(Debug, Default)]
pub(crate) struct Conn {
    input: Vec<u8>,
    /// Where to look for the next newline in `input`.
    scanned: usize,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    sent: usize,
    /// The client sent its last byte (or its connection broke).
    pub(crate) eof: bool,
    /// Close once `out` is written (an error reply that ends the connection, or EOF).
    pub(crate) closing: bool,
    /// It presented the token (or none is needed).
    pub(crate) trusted: bool,
    /// It follows this helper's log.
    pub(crate) follow: Option<usize>,
}

impl Conn {
    pub(crate) fn new(trusted: bool) -> Conn {
        Conn {
            trusted,
            ..Conn::default()
        }
    }

    /// Reads what `stream` has (up to a round's worth). An error other than `WouldBlock`
    /// counts as the end of the input.
    pub(crate) fn read_from(&mut self, stream: &mut impl Read) {
        let mut buf = [0u8; 8192];
        let mut taken = 0;
        while taken < READ_PER_ROUND && self.input.len() <= MAX_LINE {
            match stream.read(&mut buf) {
                Ok(0) => {
                    self.eof = true;
                    return;
                }
                Ok(n) => {
                    self.input.extend_from_slice(&buf[..n]);
                    taken += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.eof = true;
                    return;
                }
            }
        }
    }

    /// The next complete request line (without `\n` or `\r\n`). At the end of the input, what
    /// is left is a line too.
    pub(crate) fn next_line(&mut self) -> Option<Line> {
        match self.input[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                let mut line: Vec<u8> = self.input.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.scanned = 0;
                if line.len() > MAX_LINE {
                    return Some(Line::TooLong);
                }
                Some(Line::Request(line))
            }
            None if self.input.len() > MAX_LINE => Some(Line::TooLong),
            None if self.eof && !self.input.is_empty() => {
                self.scanned = 0;
                Some(Line::Request(std::mem::take(&mut self.input)))
            }
            None => {
                self.scanned = self.input.len();
                None
            }
        }
    }

    /// Where replies are appended.
    pub(crate) fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Bytes waiting to be sent.
    pub(crate) fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Writes what it can. An error other than `WouldBlock` is returned (drop the client).
    pub(crate) fn write_to(&mut self, stream: &mut impl Write) -> io::Result<()> {
        while self.sent < self.out.len() {
            match stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent >= PAUSE_AT {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }

    /// Whether to read more requests now.
    pub(crate) fn wants_input(&self) -> bool {
        !self.eof && !self.closing && self.unsent() < PAUSE_AT
    }

    /// Whether the connection is finished: closing, or at the end of its input with every
    /// request handled, and all sent.
    pub(crate) fn done(&self) -> bool {
        (self.closing || (self.eof && self.input.is_empty())) && self.unsent() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake non-blocking stream: reads come from `input` in `chunk`s, then `WouldBlock` (or
    /// EOF once `end`); writes take at most `room` bytes in all.
    #[derive(Default)]
    struct Fake {
        input: Vec<u8>,
        chunk: usize,
        end: bool,
        room: usize,
        written: Vec<u8>,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return match self.end {
                    true => Ok(0),
                    false => Err(io::ErrorKind::WouldBlock.into()),
                };
            }
            let n = buf.len().min(self.chunk).min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Ok(n)
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room - self.written.len());
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(conn: &mut Conn) -> Vec<Line> {
        std::iter::from_fn(|| conn.next_line()).collect()
    }

    #[test]
    fn lines_split_anywhere_come_out_whole() {
        let text = b"{\"cmd\":\"status\"}\r\n{\"cmd\":\"hello\"}\n\nlast";
        for chunk in 1..8 {
            let mut fake = Fake {
                input: text.to_vec(),
                chunk,
                ..Fake::default()
            };
            let mut conn = Conn::new(true);
            let mut got = Vec::new();
            while !conn.eof {
                conn.read_from(&mut fake);
                got.extend(lines(&mut conn));
                fake.end = true;
            }
            let want: Vec<Line> = [
                &b"{\"cmd\":\"status\"}"[..],
                b"{\"cmd\":\"hello\"}",
                b"",
                b"last",
            ]
            .iter()
            .map(|l| Line::Request(l.to_vec()))
            .collect();
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn an_oversized_line_is_refused_without_reading_it_all() {
        let mut fake = Fake {
            input: vec![b'x'; 4 * MAX_LINE],
            chunk: 8192,
            ..Fake::default()
        };
        let mut conn = Conn::new(true);
        for _ in 0..4 {
            conn.read_from(&mut fake);
        }
        assert!(
            conn.input.len() <= MAX_LINE + 8192,
            "reading stops past the limit"
        );
        assert_eq!(conn.next_line(), Some(Line::TooLong));
        // Exactly MAX_LINE bytes and a newline is still a line.
        let mut ok = vec![b'y'; MAX_LINE];
        ok.push(b'\n');
        let mut fake = Fake {
            input: ok,
            chunk: 1000,
            ..Fake::default()
        };
        let mut conn = Conn::new(true);
        conn.read_from(&mut fake);
        assert!(matches!(conn.next_line(), Some(Line::Request(l)) if l.len() == MAX_LINE));
        // One more byte is not, even when the newline came in the same read.
        let mut long = vec![b'z'; MAX_LINE + 1];
        long.push(b'\n');
        let mut fake = Fake {
            input: long,
            chunk: MAX_LINE + 2,
            ..Fake::default()
        };
        let mut conn = Conn::new(true);
        conn.read_from(&mut fake);
        assert_eq!(conn.next_line(), None, "a round reads at most 64 KiB");
        conn.read_from(&mut fake);
        assert_eq!(conn.next_line(), Some(Line::TooLong));
    }

    #[test]
    fn a_client_that_does_not_read_is_paused_then_its_output_is_bounded() {
        let mut fake = Fake {
            room: 1000,
            ..Fake::default()
        };
        let mut conn = Conn::new(true);
        conn.out().extend_from_slice(&vec![b'r'; PAUSE_AT + 1010]);
        conn.write_to(&mut fake).expect("WouldBlock is no error");
        assert_eq!(fake.written.len(), 1000);
        assert_eq!(conn.unsent(), PAUSE_AT + 10);
        assert!(!conn.wants_input(), "paused while its replies wait");
        fake.room = usize::MAX;
        conn.write_to(&mut fake).expect("write");
        assert_eq!(conn.unsent(), 0);
        assert!(conn.wants_input());
        assert!(!conn.done());
        conn.closing = true;
        assert!(conn.done());
    }
}
