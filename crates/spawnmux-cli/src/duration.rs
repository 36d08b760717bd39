//! The one duration grammar of `spawnmux run`, for every flag and every config key that takes
//! a duration (`docs/config.md`, "Durations"):
//!
//! - a number of seconds: digits, optionally a `.` and more digits (`10`, `1.5`, `0`);
//! - humantime's form: numbers with units, optionally separated by blanks (`300ms`, `1.5s`,
//!   `2m`, `1h30m`, `1h 30m`); the units are humantime's (`ns`, `us`, `ms`, `s`, `m`, `h`,
//!   `d`, `w`, … and their long names).
//!
//! Nothing else: no sign, no exponent, not empty. A bare number is read as the same number
//! with `s` appended, so `1.5` and `1.5s` are the same duration to the nanosecond. At most
//! [`LONGEST`].

use std::time::Duration;

/// The accepted forms, as error messages show them.
const FORMS: &str = "write seconds (10, 1.5) or a number with a unit (300ms, 1.5s, 2m, 1h30m)";

/// The longest duration accepted: 100 years (36,500 days), which is "never" for a helper.
/// The runner adds durations to the monotonic clock, which cannot count much further (a
/// `stop_timeout` of `18446744073709551615` seconds made the stop panic).
pub(crate) const LONGEST: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses a duration. `Err` names the value, why it is not one and the accepted forms; the
/// caller puts the flag or key in front.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let why = if trimmed.is_empty() {
        "empty".to_string()
    } else if trimmed.starts_with('-') {
        "negative".to_string()
    } else {
        let parsed = if is_seconds(trimmed) {
            humantime::parse_duration(&format!("{trimmed}s"))
        } else {
            humantime::parse_duration(trimmed)
        };
        match parsed {
            Ok(d) if d > LONGEST => {
                return Err(format!("`{text}` is too long: at most 36500d (100 years)"))
            }
            Ok(d) => return Ok(d),
            Err(e) => e.to_string(),
        }
    };
    Err(format!("`{text}` is not a duration ({why}); {FORMS}"))
}

/// `10`, `1.5`: digits, optionally followed by `.` and at least one digit.
fn is_seconds(s: &str) -> bool {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_humantime_forms() {
        for (text, want) in [
            ("10", Duration::from_secs(10)),
            ("1.5", Duration::from_millis(1500)),
            ("0", Duration::ZERO),
            ("0.25", Duration::from_millis(250)),
            ("0.000000001", Duration::from_nanos(1)),
            (" 2 ", Duration::from_secs(2)),
            ("300ms", Duration::from_millis(300)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1h 30m", Duration::from_secs(5400)),
            ("0s", Duration::ZERO),
            ("250us", Duration::from_micros(250)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn a_hundred_years_is_the_longest() {
        assert_eq!(parse("36500d"), Ok(LONGEST));
        assert_eq!(parse("3153600000"), Ok(LONGEST));
        for text in [
            "36500d 1ns",
            "3153600001",
            "18446744073709551615",
            "500000000y",
        ] {
            assert_eq!(
                parse(text),
                Err(format!("`{text}` is too long: at most 36500d (100 years)")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_bare_number_is_that_many_seconds_exactly() {
        for n in ["1.5", "0.1", "10", "3.000000001", "86400"] {
            assert_eq!(parse(n), parse(&format!("{n}s")), "{n}");
        }
    }

    #[test]
    fn rejections_name_the_value_the_reason_and_the_forms() {
        for (text, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("-1", "negative"),
            ("-1s", "negative"),
            (" -0.5", "negative"),
            ("NaN", "expected number at 0"),
            ("inf", "expected number at 0"),
            ("1e3", "unknown time unit \"e\""),
            ("1.", "invalid character"),
            (".5", "expected number at 0"),
            ("+5", "expected number at 0"),
            ("soon", "expected number at 0"),
            ("5 parsecs", "unknown time unit \"parsecs\""),
            ("99999999999999999999", "too large"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(
                e.starts_with(&format!("`{text}` is not a duration (")),
                "{text:?}: {e}"
            );
            assert!(e.contains(why), "{text:?}: want {why:?} in {e}");
            assert!(e.ends_with(FORMS), "{text:?}: {e}");
        }
    }
}
