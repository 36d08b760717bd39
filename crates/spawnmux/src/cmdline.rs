//! Windows command lines: a process gets one UTF-16 string, and each program splits it itself.
//!
//! - Ordinary programs split it with the Microsoft C runtime's rules (`CommandLineToArgvW` and
//!   the CRT agree on them): arguments are separated by spaces/tabs; `"` starts and ends quoting;
//!   `2n` backslashes before a `"` are `n` backslashes and the quote is a delimiter, `2n+1`
//!   backslashes before a `"` are `n` backslashes and a literal `"`; other backslashes are literal.
//!   [`append_arg`] quotes so that any argument survives that parse byte for byte.
//! - Batch files (`.bat`, `.cmd`) are run by `cmd.exe`, whose parser is different and expands
//!   `%VAR%` even inside quotes: quoting naively lets an argument run commands (the
//!   CVE-2024-24576 class). [`batch_command_line`] quotes every argument that contains anything
//!   but safe characters, doubles `"`, neutralises `%` with `%%cd:~,%` (an empty substring of
//!   `%cd%`; in the script's path too), and refuses `\r`, `\n` and NUL, which cannot be passed
//!   safely at all.
//!
//! Pure functions over UTF-16, no OS call: compiled on Windows (`sys/windows/spawn.rs` uses
//! them) and, for the unit tests below and the `windows_args` fuzz target (`crate::__fuzz`),
//! on every platform.

use std::io;

const SPACE: u16 = b' ' as u16;
const TAB: u16 = b'\t' as u16;
const QUOTE: u16 = b'"' as u16;
const BACKSLASH: u16 = b'\\' as u16;
const PERCENT: u16 = b'%' as u16;

fn w(s: &str) -> impl Iterator<Item = u16> + '_ {
    s.encode_utf16()
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// Appends `program` as argv\[0\]: the CRT takes it up to the next space, or between quotes,
/// with no backslash escapes, so it is quoted when needed and may not contain `"`.
pub(crate) fn append_program(cmd: &mut Vec<u16>, program: &[u16]) -> io::Result<()> {
    if program.contains(&QUOTE) {
        return Err(invalid("a program path cannot contain `\"`"));
    }
    if program.contains(&0) {
        return Err(invalid("a program path cannot contain NUL"));
    }
    let quote = program.is_empty() || program.iter().any(|&c| c == SPACE || c == TAB);
    if quote {
        cmd.push(QUOTE);
    }
    cmd.extend_from_slice(program);
    if quote {
        cmd.push(QUOTE);
    }
    Ok(())
}

/// Appends one argument (preceded by a space) so that the CRT parses it back unchanged.
pub(crate) fn append_arg(cmd: &mut Vec<u16>, arg: &[u16]) -> io::Result<()> {
    if arg.contains(&0) {
        return Err(invalid("an argument cannot contain NUL"));
    }
    cmd.push(SPACE);
    let quote = arg.is_empty() || arg.iter().any(|&c| c == SPACE || c == TAB || c == QUOTE);
    if !quote {
        cmd.extend_from_slice(arg);
        return Ok(());
    }
    cmd.push(QUOTE);
    let mut backslashes = 0usize;
    for &c in arg {
        if c == BACKSLASH {
            backslashes += 1;
            continue;
        }
        if c == QUOTE {
            // n backslashes before a quote become 2n+1: n literal ones and an escaped quote.
            cmd.extend(std::iter::repeat_n(BACKSLASH, 2 * backslashes + 1));
        } else {
            cmd.extend(std::iter::repeat_n(BACKSLASH, backslashes));
        }
        backslashes = 0;
        cmd.push(c);
    }
    // Before the closing quote, backslashes are doubled so they stay literal.
    cmd.extend(std::iter::repeat_n(BACKSLASH, 2 * backslashes));
    cmd.push(QUOTE);
    Ok(())
}

/// The command line for an ordinary program.
pub(crate) fn command_line(program: &[u16], args: &[Vec<u16>]) -> io::Result<Vec<u16>> {
    let mut cmd = Vec::new();
    append_program(&mut cmd, program)?;
    for arg in args {
        append_arg(&mut cmd, arg)?;
    }
    Ok(cmd)
}

/// The command line that runs batch file `script` with `args` through
/// `cmd.exe /e:ON /v:OFF /d /c "..."` (command extensions on for the `%` neutraliser, delayed
/// expansion off so `!` is literal, no AutoRun).
pub(crate) fn batch_command_line(script: &[u16], args: &[Vec<u16>]) -> io::Result<Vec<u16>> {
    if script.contains(&QUOTE) || script.last() == Some(&BACKSLASH) || script.contains(&0) {
        return Err(invalid(
            "a batch file path cannot contain `\"` or NUL or end with `\\`",
        ));
    }
    let mut cmd: Vec<u16> = w("cmd.exe /e:ON /v:OFF /d /c \"\"").collect();
    for &c in script {
        // A directory named `50%` must not start a `%VAR%` that ends in an argument.
        push_batch_char(&mut cmd, c);
    }
    cmd.push(QUOTE);
    for arg in args {
        cmd.push(SPACE);
        append_batch_arg(&mut cmd, arg)?;
    }
    cmd.push(QUOTE);
    Ok(cmd)
}

/// Pushes `c`, a `%` as `%%cd:~,%`: cmd.exe keeps the first `%` (no variable has an empty name)
/// and expands `%cd:~,%` to nothing, so no `%NAME%` can form across it.
fn push_batch_char(cmd: &mut Vec<u16>, c: u16) {
    if c == PERCENT {
        cmd.extend(w("%%cd:~,"));
    }
    cmd.push(c);
}

/// Characters a batch argument may contain without quotes.
fn batch_safe(c: u16) -> bool {
    match char::from_u32(u32::from(c)) {
        Some(ch) if ch.is_ascii_alphanumeric() => true,
        Some(ch) if ch.is_ascii() => r"#$*+-./:?@\_".contains(ch),
        Some(ch) => !ch.is_control(),
        None => true, // half of a surrogate pair: not ASCII, not special to cmd
    }
}

fn append_batch_arg(cmd: &mut Vec<u16>, arg: &[u16]) -> io::Result<()> {
    if arg
        .iter()
        .any(|&c| c == u16::from(b'\r') || c == u16::from(b'\n') || c == 0)
    {
        return Err(invalid(
            "batch file arguments cannot contain carriage returns, newlines or NUL \
             (cmd.exe would cut the command line there)",
        ));
    }
    let quote =
        arg.is_empty() || arg.last() == Some(&BACKSLASH) || !arg.iter().all(|&c| batch_safe(c));
    if quote {
        cmd.push(QUOTE);
    }
    let mut backslashes = 0usize;
    for &c in arg {
        if c == BACKSLASH {
            backslashes += 1;
            cmd.push(c);
            continue;
        }
        if c == QUOTE {
            // The program behind the script usually parses with CRT rules: double the
            // backslashes before a quote, then escape the quote by doubling it for cmd.exe.
            cmd.extend(std::iter::repeat_n(BACKSLASH, backslashes));
            cmd.push(QUOTE);
        }
        backslashes = 0;
        push_batch_char(cmd, c);
    }
    if quote {
        cmd.extend(std::iter::repeat_n(BACKSLASH, backslashes));
        cmd.push(QUOTE);
    }
    Ok(())
}

/// Splits a command line the way the Microsoft C runtime does (argv\[0\] included). Used by
/// the tests and the fuzz target to check that [`command_line`] round-trips every argument.
#[cfg(any(test, feature = "__fuzz"))]
pub(crate) fn parse_command_line(line: &[u16]) -> Vec<Vec<u16>> {
    let mut args = Vec::new();
    let mut i = 0;
    // argv[0]: up to the first space/tab, or between quotes, no escapes.
    let mut first = Vec::new();
    let mut in_quotes = false;
    while i < line.len() {
        let c = line[i];
        if c == QUOTE {
            in_quotes = !in_quotes;
        } else if (c == SPACE || c == TAB) && !in_quotes {
            break;
        } else {
            first.push(c);
        }
        i += 1;
    }
    args.push(first);
    loop {
        while i < line.len() && (line[i] == SPACE || line[i] == TAB) {
            i += 1;
        }
        if i >= line.len() {
            return args;
        }
        let mut arg = Vec::new();
        let mut in_quotes = false;
        while i < line.len() {
            let c = line[i];
            if c == BACKSLASH {
                let start = i;
                while i < line.len() && line[i] == BACKSLASH {
                    i += 1;
                }
                let n = i - start;
                if i < line.len() && line[i] == QUOTE {
                    arg.extend(std::iter::repeat_n(BACKSLASH, n / 2));
                    if n % 2 == 1 {
                        arg.push(QUOTE);
                        i += 1;
                    }
                } else {
                    arg.extend(std::iter::repeat_n(BACKSLASH, n));
                }
                continue;
            }
            if c == QUOTE {
                // `""` inside quotes is a literal quote (post-2008 CRT behaviour).
                if in_quotes && line.get(i + 1) == Some(&QUOTE) {
                    arg.push(QUOTE);
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
                i += 1;
                continue;
            }
            if (c == SPACE || c == TAB) && !in_quotes {
                break;
            }
            arg.push(c);
            i += 1;
        }
        args.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn s(v: &[u16]) -> String {
        String::from_utf16(v).expect("utf16")
    }

    fn round_trip(args: &[&str]) {
        let wide: Vec<Vec<u16>> = args.iter().map(|a| u(a)).collect();
        let line = command_line(&u(r"C:\Program Files\x.exe"), &wide).expect("line");
        let parsed = parse_command_line(&line);
        assert_eq!(s(&parsed[0]), r"C:\Program Files\x.exe");
        let back: Vec<String> = parsed[1..].iter().map(|a| s(a)).collect();
        assert_eq!(back, args, "line: {}", s(&line));
    }

    #[test]
    fn ordinary_arguments_round_trip() {
        round_trip(&["plain", "two words", "", "tab\there", r#"say "hi""#]);
        round_trip(&[
            r"C:\dir\",
            r"C:\dir with space\",
            r#"back\"quote"#,
            r"\\server\share",
        ]);
        round_trip(&[
            r#"\\""#,
            r#"a\\\"b"#,
            "%PATH%",
            "^&|<>",
            "new\nline",
            "ünï©ødé",
        ]);
    }

    #[test]
    fn arguments_without_specials_are_not_quoted() {
        let line = command_line(&u("x"), &[u("a"), u(r"C:\x\"), u("--flag=1")]).expect("line");
        assert_eq!(s(&line), r"x a C:\x\ --flag=1");
    }

    #[test]
    fn program_with_quote_or_nul_is_refused() {
        assert!(command_line(&u("a\"b"), &[]).is_err());
        assert!(command_line(&u("x"), &[u("a\0b")]).is_err());
    }

    #[test]
    fn batch_arguments_cannot_expand_or_inject() {
        let line = batch_command_line(
            &u(r"C:\npm\npx.cmd"),
            &[
                u("vite"),
                u("a&calc"),
                u("%PATH%"),
                u(r#"say "hi""#),
                u(""),
                u(r"dir\"),
            ],
        )
        .expect("line");
        assert_eq!(
            s(&line),
            r#"cmd.exe /e:ON /v:OFF /d /c ""C:\npm\npx.cmd" vite "a&calc" "%%cd:~,%PATH%%cd:~,%" "say ""hi""" "" "dir\\"""#
        );
        for bad in ["a\nb", "a\rb", "a\0b"] {
            let err = batch_command_line(&u("x.bat"), &[u(bad)]).expect_err("refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
        assert!(batch_command_line(&u("x\".bat"), &[]).is_err());
    }

    /// Found by the `windows_args` fuzz target: a `%` in the script's path was passed as is,
    /// so with a `%` in an argument cmd.exe saw `%" "...%` as a variable to expand.
    #[test]
    fn percent_in_the_batch_path_is_neutralised() {
        let line = batch_command_line(&u(r"C:\50%\x.bat"), &[u("a%")]).expect("line");
        assert_eq!(
            s(&line),
            r#"cmd.exe /e:ON /v:OFF /d /c ""C:\50%%cd:~,%\x.bat" "a%%cd:~,%"""#
        );
    }

    #[test]
    fn parser_matches_documented_examples() {
        // Examples from Microsoft's "Parsing C command-line arguments".
        let cases: [(&str, &[&str]); 5] = [
            (r#"x "abc" d e"#, &["abc", "d", "e"]),
            (r#"x a\\b d"e f"g h"#, &[r"a\\b", "de fg", "h"]),
            (r#"x a\\\"b c d"#, &[r#"a\"b"#, "c", "d"]),
            (r#"x a\\\\"b c" d e"#, &[r"a\\b c", "d", "e"]),
            (r#"x a"b"" c d"#, &[r#"ab" c d"#]),
        ];
        for (line, want) in cases {
            let got: Vec<String> = parse_command_line(&u(line))[1..]
                .iter()
                .map(|a| s(a))
                .collect();
            assert_eq!(got, want, "{line}");
        }
    }
}
