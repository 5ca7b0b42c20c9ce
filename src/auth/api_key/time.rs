//! Timestamps of key files and the key CLI: RFC 3339 (`2027-01-31T00:00:00Z`,
//! `2027-01-31T01:00:00+01:00`) and bare dates (`2027-01-31` = its first second, UTC),
//! to and from Unix seconds. Proleptic Gregorian calendar (Howard Hinnant's algorithms);
//! no time zone database: only numeric offsets.

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `n` ASCII digits at the start of `s`, as a number, and the rest.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

/// Unix seconds of an RFC 3339 date-time or a full date (midnight UTC). Years before
/// 1970 and fractions beyond whole seconds are accepted (fractions are dropped).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let (y, rest) = digits(s, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (m, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (d, rest) = digits(rest, 2)?;
    let y = i64::from(y);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let day = days_from_civil(y, m, d) * 86_400;
    if rest.is_empty() {
        return Some(day);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (hh, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (mm, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (ss, mut rest) = digits(rest, 2)?;
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let (oh, r) = digits(&rest[1..], 2)?;
            let r = r.strip_prefix(':')?;
            let (om, r) = digits(r, 2)?;
            if !r.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * (i64::from(oh) * 3600 + i64::from(om) * 60)
        }
    };
    Some(day + i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss) - offset)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format_timestamp(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(parse_timestamp("2027-01-31T12:30:15Z"), Some(1_801_398_615));
        assert_eq!(
            parse_timestamp("2027-01-31T13:30:15+01:00"),
            parse_timestamp("2027-01-31T12:30:15Z")
        );
        assert_eq!(
            parse_timestamp("2027-01-31t12:30:15.123456z"),
            Some(1_801_398_615)
        );
        assert_eq!(parse_timestamp("2024-02-29"), Some(1_709_164_800));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "2027",
            "2027-1-31",
            "2027-13-01",
            "2027-02-29",
            "2027-01-32",
            "2027-01-31T24:00:00Z",
            "2027-01-31T12:00:00",
            "2027-01-31T12:00Z",
            "2027-01-31T12:00:00+0100",
            "2027-01-31T12:00:00.Z",
            "2027-01-31X12:00:00Z",
            "+2027-01-31",
            "２０２７-01-31",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for secs in [0, 951_868_800, 1_801_398_615, 4_102_444_799, -86_400] {
            assert_eq!(parse_timestamp(&format_timestamp(secs)), Some(secs));
        }
        assert_eq!(format_timestamp(1_801_398_615), "2027-01-31T12:30:15Z");
    }
}
