//! Formatting one access line into a byte buffer: JSON (one object per line, the keys
//! the `tracing` JSON format used before) or text (`key=value`, logfmt style). Every
//! string value is escaped (quotes, backslashes, control characters), so a username or
//! an error text can never end a line or forge a field.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Record;

/// The line format (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"timestamp":…,"level":"INFO","target":"access",…}`
    Json,
    /// `2026-12-07T11:10:01.123456Z  INFO access: method=GET …`
    Text,
}

/// The formatted whole seconds of the last timestamp, reused within the same second.
#[derive(Default)]
pub struct Clock {
    second: u64,
    /// `YYYY-MM-DDTHH:MM:SS`
    text: [u8; 19],
}

impl Clock {
    /// Appends the current UTC time, RFC 3339 with microseconds.
    fn now(&mut self, out: &mut Vec<u8>) {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = since.as_secs();
        if secs != self.second || self.text[0] == 0 {
            self.second = secs;
            self.text = civil(secs);
        }
        out.extend_from_slice(&self.text);
        out.push(b'.');
        pad(out, u64::from(since.subsec_micros()), 6);
        out.push(b'Z');
    }
}

/// Appends `record`'s line (with its newline) to `out`.
pub fn line(format: Format, clock: &mut Clock, out: &mut Vec<u8>, r: &Record<'_>) {
    let level: &[u8] = if r.error.is_some() { b"WARN" } else { b"INFO" };
    match format {
        Format::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            clock.now(out);
            out.extend_from_slice(b"\",\"level\":\"");
            out.extend_from_slice(level);
            out.extend_from_slice(b"\",\"target\":\"access\",\"method\":");
            json_str(out, r.method);
            out.extend_from_slice(b",\"host\":");
            json_str(out, r.host);
            out.extend_from_slice(b",\"path\":");
            json_str(out, r.path);
            out.extend_from_slice(b",\"route\":");
            json_str(out, r.route);
            out.extend_from_slice(b",\"status\":");
            uint(out, u64::from(r.status));
            out.extend_from_slice(b",\"duration_ms\":");
            millis(out, r);
            out.extend_from_slice(b",\"bytes\":");
            uint(out, r.bytes);
            out.extend_from_slice(b",\"request_id\":");
            json_str(out, r.request_id);
            if let Some(id) = r.trace_id {
                out.extend_from_slice(b",\"trace_id\":");
                json_str(out, id);
            }
            out.extend_from_slice(b",\"user\":");
            json_str(out, r.user);
            if let Some(err) = r.error {
                out.extend_from_slice(b",\"error\":\"");
                let _ = write!(Escaped(out), "{err}");
                out.push(b'"');
            }
            out.extend_from_slice(b"}\n");
        }
        Format::Text => {
            clock.now(out);
            out.extend_from_slice(b"  ");
            out.extend_from_slice(level);
            out.extend_from_slice(b" access: method=");
            text_str(out, r.method);
            out.extend_from_slice(b" host=");
            text_str(out, r.host);
            out.extend_from_slice(b" path=");
            text_str(out, r.path);
            out.extend_from_slice(b" route=");
            text_str(out, r.route);
            out.extend_from_slice(b" status=");
            uint(out, u64::from(r.status));
            out.extend_from_slice(b" duration_ms=");
            millis(out, r);
            out.extend_from_slice(b" bytes=");
            uint(out, r.bytes);
            out.extend_from_slice(b" request_id=");
            text_str(out, r.request_id);
            if let Some(id) = r.trace_id {
                out.extend_from_slice(b" trace_id=");
                text_str(out, id);
            }
            out.extend_from_slice(b" user=");
            text_str(out, r.user);
            if let Some(err) = r.error {
                out.extend_from_slice(b" error=\"");
                let _ = write!(Escaped(out), "{err}");
                out.push(b'"');
            }
            out.push(b'\n');
        }
    }
}

/// The duration in milliseconds with three decimals.
fn millis(out: &mut Vec<u8>, r: &Record<'_>) {
    let micros = u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX);
    uint(out, micros / 1000);
    out.push(b'.');
    pad(out, micros % 1000, 3);
}

/// A JSON string, quoted and escaped.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape(out, s);
    out.push(b'"');
}

/// A text value: as it is when it is a plain word, else quoted and escaped.
fn text_str(out: &mut Vec<u8>, s: &str) {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b > b' ' && b != b'"' && b != b'=' && b != b'\\' && b != 0x7f);
    if plain {
        out.extend_from_slice(s.as_bytes());
    } else {
        json_str(out, s);
    }
}

/// Whether `b` must be escaped in a JSON string (or makes a text value quoted).
#[inline]
fn special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

/// JSON string escaping: `"`, `\` and control characters; the rest (UTF-8) as it is.
fn escape(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Almost every value needs nothing: one branch-free pass, then one copy.
    if !bytes.iter().fold(false, |any, &b| any | special(b)) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `Display` output escaped, without an intermediate `String`.
struct Escaped<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s);
        Ok(())
    }
}

/// `n` in decimal.
fn uint(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `n` in decimal, zero-padded to `width` digits (`n` < 10^width).
fn pad(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut n = n;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// `YYYY-MM-DDTHH:MM:SS` for `secs` since the Unix epoch (UTC; days to civil date by
/// Howard Hinnant's algorithm).
fn civil(secs: u64) -> [u8; 19] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut out = Vec::with_capacity(19);
    pad(&mut out, year.min(9999), 4);
    out.push(b'-');
    pad(&mut out, month, 2);
    out.push(b'-');
    pad(&mut out, day, 2);
    out.push(b'T');
    pad(&mut out, rem / 3600, 2);
    out.push(b':');
    pad(&mut out, rem / 60 % 60, 2);
    out.push(b':');
    pad(&mut out, rem % 60, 2);
    let mut text = [0u8; 19];
    text.copy_from_slice(&out);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record<'a>(user: &'a str, error: Option<&'a dyn std::fmt::Display>) -> Record<'a> {
        Record {
            method: "GET",
            host: "app.example.com",
            path: "/a b",
            route: "r",
            status: 200,
            duration: Duration::from_micros(12_345),
            bytes: 42,
            request_id: "abc",
            trace_id: None,
            user,
            error,
        }
    }

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(&civil(0), b"1970-01-01T00:00:00");
        assert_eq!(&civil(951_782_400), b"2000-02-29T00:00:00");
        assert_eq!(&civil(1_796_643_001), b"2026-12-07T11:30:01");
        assert_eq!(&civil(4_102_444_799), b"2099-12-31T23:59:59");
    }

    #[test]
    fn json_lines_parse_and_escape_every_value() {
        let err = "upstream said \"no\"\nforged";
        let mut out = Vec::new();
        let r = record("mal\"lory\n{\"x\":1}", Some(&err));
        line(Format::Json, &mut Clock::default(), &mut out, &r);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["user"], "mal\"lory\n{\"x\":1}");
        assert_eq!(v["error"], err);
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 12.345);
        assert_eq!(v["bytes"], 42);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "access");
        assert_eq!(v["path"], "/a b");
        assert!(v.get("trace_id").is_none(), "no trace, no field");
        assert!(v["timestamp"]
            .as_str()
            .is_some_and(|t| t.len() == 27 && t.ends_with('Z')));
    }

    #[test]
    fn text_lines_quote_what_is_not_a_plain_word() {
        let mut out = Vec::new();
        line(
            Format::Text,
            &mut Clock::default(),
            &mut out,
            &record("a=b\u{7}", None),
        );
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.ends_with(
            " INFO access: method=GET host=app.example.com path=\"/a b\" route=r status=200 \
             duration_ms=12.345 bytes=42 request_id=abc user=\"a=b\\u0007\"\n"
        ));
        assert_eq!(text.matches('\n').count(), 1);
    }

    #[test]
    fn the_trace_id_is_in_both_formats_when_there_is_one() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let r = Record {
            trace_id: Some(id),
            ..record("u", None)
        };
        let mut out = Vec::new();
        line(Format::Json, &mut Clock::default(), &mut out, &r);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["trace_id"], id);
        out.clear();
        line(Format::Text, &mut Clock::default(), &mut out, &r);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains(&format!(" request_id=abc trace_id={id} user=u")),
            "{text}"
        );
    }

    #[test]
    fn numbers_are_decimal() {
        let mut out = Vec::new();
        uint(&mut out, 0);
        out.push(b' ');
        uint(&mut out, u64::MAX);
        out.push(b' ');
        pad(&mut out, 7, 3);
        assert_eq!(out, b"0 18446744073709551615 007");
    }
}
