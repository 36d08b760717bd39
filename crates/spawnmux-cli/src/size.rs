//! The one size grammar (`log_max_size`; `docs/config.md`, "Log files"), beside
//! `duration.rs`'s for durations:
//!
//! - a number of bytes: a TOML integer (`1048576`) or the same digits in a string;
//! - a number (digits, optionally `.` and more digits) and a unit, optionally separated by
//!   blanks, the unit in any case: `B`; `K`, `KiB`, `M`, `MiB`, `G`, `GiB` (powers of 1024, as
//!   logrotate's `size 10M`); `KB`, `MB`, `GB` (powers of 1000). `10MiB`, `1.5 M`, `500kb`.
//!
//! A fraction is rounded down to whole bytes. Nothing else: no sign, no exponent, not empty.

/// The accepted forms, as error messages show them.
const FORMS: &str =
    "write bytes (1048576) or a number with a unit (512K, 10MiB, 1.5G, 100MB; K/M/G are 1024-based)";

/// Parses a size in bytes. `Err` names the value, why it is not a size and the accepted forms;
/// the caller puts the key in front.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let why = match (number_parts(number), multiplier(unit.trim_start())) {
        _ if trimmed.is_empty() => "empty".to_string(),
        _ if trimmed.starts_with('-') => "negative".to_string(),
        (None, _) => "no number before the unit".to_string(),
        (_, None) => format!("unknown unit `{}`", unit.trim_start()),
        (Some((whole, fraction)), Some(unit)) => match bytes(whole, fraction, unit) {
            Some(n) => return Ok(n),
            None => "too large".to_string(),
        },
    };
    Err(format!("`{text}` is not a size ({why}); {FORMS}"))
}

/// `10` → ("10", ""), `1.5` → ("1", "5"); `None` for anything but digits with at most one `.`
/// between digits.
fn number_parts(number: &str) -> Option<(&str, &str)> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(fraction)) {
        return None;
    }
    Some((whole, fraction))
}

/// The bytes of one `unit`.
fn multiplier(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    })
}

/// `whole.fraction × unit`, rounded down; `None` past `u64::MAX`.
fn bytes(whole: &str, fraction: &str, unit: u64) -> Option<u64> {
    let n = whole.parse::<u64>().ok()?.checked_mul(unit)?;
    // 18 digits of fraction are more than a unit of at most 2^30 bytes can show, and keep
    // the product within a u128.
    let fraction = &fraction[..fraction.len().min(18)];
    if fraction.is_empty() {
        return Some(n);
    }
    let scale = 10u128.pow(fraction.len() as u32);
    let part = fraction.parse::<u128>().ok()? * u128::from(unit) / scale;
    n.checked_add(u64::try_from(part).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_units() {
        for (text, want) in [
            ("1048576", 1_048_576),
            ("1", 1),
            ("0", 0),
            ("10B", 10),
            ("512K", 512 * 1024),
            ("512 kib", 512 * 1024),
            ("10MiB", 10 << 20),
            ("10M", 10 << 20),
            ("1.5M", 3 << 19),
            ("1.5 m", 3 << 19),
            ("2G", 2 << 30),
            ("2gib", 2 << 30),
            ("100MB", 100_000_000),
            ("500kb", 500_000),
            ("1GB", 1_000_000_000),
            ("0.5K", 512),
            ("0.0001K", 0),
            (" 7 ", 7),
            ("17179869183G", 17_179_869_183 << 30),
        ] {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn rejections_name_the_value_the_reason_and_the_forms() {
        for (text, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("-1", "negative"),
            ("-1K", "negative"),
            ("M", "no number before the unit"),
            ("1.", "no number before the unit"),
            (".5M", "no number before the unit"),
            ("1..5M", "no number before the unit"),
            ("1e6", "unknown unit `e6`"),
            ("10 megabytes", "unknown unit `megabytes`"),
            ("10MiB!", "unknown unit `MiB!`"),
            ("17179869184GiB", "too large"),
            ("99999999999999999999", "too large"),
        ] {
            let want = format!("`{text}` is not a size ({why}); {FORMS}");
            assert_eq!(parse(text), Err(want), "{text:?}");
        }
    }
}
