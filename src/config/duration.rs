//! Duration strings of the config file: `500ms`, `30s`, `5m`, `12h`, `1d`, `1h30m`.
//!
//! Owns only parsing. Never guesses a unit: a bare number is an error, because `30`
//! could mean seconds or milliseconds and the wrong guess is a silent outage.

use std::time::Duration;

/// Units from largest to smallest, with their length in milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a duration such as `500ms`, `30s`, `5m`, `12h`, `1d` or `1h30m`.
///
/// Components must go from the largest unit to the smallest, each unit at most once.
/// Bare numbers, fractions, negative values and overflow are errors; the message says
/// how to write the value instead.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty duration; write e.g. `30s` (units: ms, s, m, h, d)".into());
    }
    if s.starts_with('-') {
        return Err(format!("`{s}`: negative durations are not allowed"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{s}` has no unit; write e.g. `{s}s` or `{s}ms` (units: ms, s, m, h, d)"
        ));
    }
    let mut total: u64 = 0;
    // Index into UNITS of the previous component; later ones must be smaller.
    let mut last_rank: Option<usize> = None;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return Err(format!(
                "`{s}` is not a duration; write e.g. `30s`, `5m` or `1h30m`"
            ));
        }
        let (digits, after) = rest.split_at(digits_len);
        if after.starts_with('.') || after.starts_with(',') {
            return Err(format!(
                "`{s}`: fractions are not supported; combine units instead, e.g. `1m30s`"
            ));
        }
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "`{s}`: `{digits}` has no unit (units: ms, s, m, h, d)"
            ));
        }
        let Some(rank) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (units: ms, s, m, h, d)"
            ));
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(format!(
                "`{s}`: units must go from largest to smallest, each once (e.g. `1h30m`)"
            ));
        }
        last_rank = Some(rank);
        let too_large = || format!("`{s}` is too large");
        let n: u64 = digits.parse().map_err(|_| too_large())?;
        let ms = n.checked_mul(UNITS[rank].1).ok_or_else(too_large)?;
        total = total.checked_add(ms).ok_or_else(too_large)?;
        rest = after;
    }
    Ok(Duration::from_millis(total))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn accepts_units_and_combinations() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("12h"), Duration::from_secs(12 * 3600));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1m30s250ms"), Duration::from_millis(90_250));
        assert_eq!(ok(" 0s "), Duration::ZERO);
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        let err = |s: &str| parse_duration(s).unwrap_err();
        assert!(err("30").contains("has no unit"), "{}", err("30"));
        assert!(err("0").contains("has no unit"));
        assert!(err("-5s").contains("negative"));
        assert!(err("1.5h").contains("fractions"));
        assert!(err("5 minutes").contains("no unit"));
        assert!(err("5min").contains("unknown unit `min`"));
        assert!(err("5x").contains("unknown unit `x`"));
        assert!(err("30m1h").contains("largest to smallest"));
        assert!(err("1s1s").contains("largest to smallest"));
        assert!(err("").contains("empty"));
        assert!(err("s").contains("not a duration"));
        assert!(err("1h30").contains("has no unit"));
        assert!(err("99999999999999999999999s").contains("too large"));
        assert!(err("18446744073709551615d").contains("too large"));
        assert!(err("+5s").contains("not a duration"));
    }
}
