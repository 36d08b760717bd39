//! The rule of the module documentation, case by case, and a property over random input.

use super::*;

/// `input` through a fresh text sanitizer.
fn text(input: &[u8]) -> Vec<u8> {
    Sanitizer::text().clean(input).to_vec()
}

/// `input` through a fresh JSON sanitizer.
fn json(input: &[u8]) -> Vec<u8> {
    Sanitizer::json().clean(input).to_vec()
}

#[test]
fn the_text_log_keeps_colours_and_removes_what_moves_the_cursor() {
    let cases: [(&[u8], &[u8]); 16] = [
        (b"plain text", b"plain text"),
        (b"\x1b[2J\x1b[Hready", b"ready"),
        (b"\x1b[1;32mok\x1b[0m", b"\x1b[1;32mok\x1b[0m"),
        (b"\x1b]0;title\x07after", b"after"),
        (b"\x1b]0;title\x1b\\after", b"after"),
        (b"\x1b[?1049hfull screen\x1b[?1049l", b"full screen"),
        (b"\x1b[2K\x1b[1Gprogress 50%", b"progress 50%"),
        (b"a\x1b[3Ab\x1b[10;20Hc\x1b7d\x1b8", b"abcd"),
        (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", b"link"),
        (b"x\x1bPq#0;2;0;0;0\x1b\\y\x1b_apc\x1b\\z", b"xyz"),
        (b"\x1b(Bcharset\x1b=", b"charset"),
        (
            b"tab\tstays, bell\x07 bs\x08 cr\r del\x7f go",
            b"tab\tstays, bell bs cr del go",
        ),
        (
            b"c1 \xc2\x9b6n and \xc2\xa9 stays",
            b"c1 6n and \xc2\xa9 stays",
        ),
        (
            b"bad \xff\xfe utf-8 \x1b[31mred",
            b"bad \xff\xfe utf-8 \x1b[31mred",
        ),
        (
            b"\x1b[38;2;10;20;30mrgb\x1b[38:5:208m",
            b"\x1b[38;2;10;20;30mrgb\x1b[38:5:208m",
        ),
        (b"\x1b[>4;2mkeys\x1b[mreset", b"keys\x1b[0mreset"),
    ];
    for (input, want) in cases {
        let got = text(input);
        assert_eq!(
            got,
            want,
            "{:?} gave {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn the_json_log_removes_every_sequence_and_keeps_control_characters() {
    let cases: [(&[u8], &[u8]); 6] = [
        (b"\x1b[1;31merror\x1b[0m: x", b"error: x"),
        (b"\x1b[2J\x1b[Hready", b"ready"),
        (b"\x1b]0;title\x07after", b"after"),
        (b"a\x1b(Bb\x1b=c\x1bPdcs\x1b\\d", b"abcd"),
        (b"\xff\x1b[2K\xfe\0 \x07 \r", b"\xff\xfe\0 \x07 \r"),
        (b"plain", b"plain"),
    ];
    for (input, want) in cases {
        assert_eq!(json(input), want, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn a_sequence_cut_between_two_pieces_does_not_leak() {
    let mut s = Sanitizer::text();
    assert_eq!(s.clean(b"before \x1b[1;3"), b"before ");
    assert_eq!(s.clean(b"2mgreen"), b"\x1b[1;32mgreen");
    assert_eq!(s.clean(b"\x1b]0;a long ti"), b"");
    assert_eq!(s.clean(b"tle\x07after"), b"after");
    assert_eq!(s.clean(b"x\x1b"), b"x");
    assert_eq!(s.clean(b"[2Jy"), b"y");
    let mut j = Sanitizer::json();
    assert_eq!(j.clean(b"cut \x1b[12"), b"cut ");
    assert_eq!(j.clean(b";5Hrest"), b"rest");
    // A new process of the helper starts clean.
    let mut r = Sanitizer::text();
    assert_eq!(r.clean(b"\x1b]0;never ended"), b"");
    r.reset();
    assert_eq!(r.clean(b"visible"), b"visible");
}

#[test]
fn a_piece_without_sequences_is_not_copied() {
    let mut s = Sanitizer::text();
    let input = b"nothing to do \xff here";
    assert!(std::ptr::eq(s.clean(input), input.as_slice()));
}

#[test]
fn a_malformed_csi_ends_and_the_text_after_it_stays() {
    // `?` after a parameter makes the CSI malformed; its final byte still ends it.
    assert_eq!(text(b"\x1b[1?2Jafter"), b"after");
    assert_eq!(
        text(b"\x1b[1?2Jafter\x1b[2Jand\x1b[33m"),
        b"afterand\x1b[33m"
    );
}

#[test]
fn a_never_ending_osc_string_does_not_grow_the_parser() {
    let mut s = Sanitizer::text();
    assert_eq!(s.clean(b"\x1b]0;"), b"");
    let chunk = vec![b'x'; 4096];
    for _ in 0..64 {
        assert_eq!(s.clean(&chunk), b"");
    }
    assert!(s.len <= OSC_MAX);
    assert_eq!(s.clean(b"\x07after"), b"after");
}

/// Every ESC in `out` starts a complete SGR sequence: `ESC [`, digits, `;` or `:`, `m`.
fn only_whole_sgr(out: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while let Some(p) = out[i..].iter().position(|&b| b == ESC) {
        let start = i + p;
        let rest = &out[start + 1..];
        let params = rest
            .iter()
            .skip(1)
            .take_while(|b| b"0123456789;:".contains(b));
        let n = params.count();
        if rest.first() != Some(&b'[') || rest.get(1 + n) != Some(&b'm') {
            return Err(format!(
                "ESC not starting an SGR at {start}: {:?}",
                String::from_utf8_lossy(out)
            ));
        }
        i = start + 2 + n;
    }
    Ok(())
}

#[test]
fn random_input_leaves_only_whole_sgr_sequences_and_tabs() {
    let alphabet: &[u8] =
        b"\x1b\x1b\x1b[[]]P_X^\\\x07\x18\x1a\x9c\xc2;;:?>0123456789mmmHJKhlqa \t\r\n\x08\x7f\xff";
    let mut rng = fastrand::Rng::with_seed(14);
    for round in 0..3000 {
        let mut s = Sanitizer::text();
        let mut j = Sanitizer::json();
        for _ in 0..rng.usize(1..6) {
            let piece: Vec<u8> = (0..rng.usize(0..40))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let out = s.clean(&piece).to_vec();
            only_whole_sgr(&out).unwrap_or_else(|e| panic!("round {round}: {e}"));
            let controls = out.iter().filter(|&&b| b != ESC && b != b'\t' && b < 0x20);
            assert_eq!(controls.count(), 0, "round {round}: {out:?}");
            assert!(!out.contains(&0x7f), "round {round}: {out:?}");
            assert!(!j.clean(&piece).contains(&ESC), "round {round}: {piece:?}");
        }
    }
}
