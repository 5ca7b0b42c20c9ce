//! The `htu` comparison of RFC 9449 §4.3: both the proof's `htu` and the request's URI
//! are reduced to `scheme://authority/path` (query and fragment dropped) after the
//! syntax- and scheme-based normalisation of RFC 3986 §6.2.2–6.2.3 (case of scheme and
//! host, default ports, percent-encoding case and unreserved characters, dot segments,
//! empty path as `/`), then compared as strings.
//!
//! The request side is built from `server.public_url` (never the listener's address),
//! or from the Host the client used when no public URL is configured. Untrusted input:
//! anything that is not a plain http(s) URL normalises to `None` (a mismatch).

/// The normalised `scheme://authority/path` of an absolute http(s) URL.
pub fn normalize(url: &str) -> Option<String> {
    let url = url.split(['#', '?']).next().unwrap_or("");
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(url.len() + 1);
    out.push_str(&scheme);
    out.push_str("://");
    push_authority(&mut out, authority, default_port)?;
    push_path(&mut out, path)?;
    Some(out)
}

/// The normalised URI of a request: `origin` (`scheme://authority`) + its raw path.
pub fn request_htu(origin: &str, raw_path: &str) -> Option<String> {
    let mut url = String::with_capacity(origin.len() + raw_path.len());
    url.push_str(origin.trim_end_matches('/'));
    url.push_str(raw_path);
    normalize(&url)
}

fn push_authority(out: &mut String, authority: &str, default_port: &str) -> Option<()> {
    // No userinfo: nothing sends one to a resource server, and it would hide the host.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port, host_ok) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        let inner = &host[1..end];
        let literal = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        match rest {
            "" => (host, "", literal),
            r => (host, r.strip_prefix(':')?, literal),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, p),
            None => (authority, ""),
        };
        let name = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        (host, port, name && !host.is_empty())
    };
    if !host_ok || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    out.push_str(&host.to_ascii_lowercase());
    let significant = port.trim_start_matches('0');
    if significant.is_empty() && !port.is_empty() {
        return None; // port 0 is no port anything listens on
    }
    let port = significant;
    if !port.is_empty() && port != default_port {
        out.push(':');
        out.push_str(port);
    }
    Some(())
}

/// RFC 3986 unreserved characters.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encoding normalised, dot segments removed, `/` for an empty path.
fn push_path(out: &mut String, path: &str) -> Option<()> {
    let mut clean = String::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            let decoded = hi << 4 | lo;
            if unreserved(decoded) {
                clean.push(char::from(decoded));
            } else {
                clean.push('%');
                clean.push(char::from(b"0123456789ABCDEF"[usize::from(hi)]));
                clean.push(char::from(b"0123456789ABCDEF"[usize::from(lo)]));
            }
            i += 3;
        } else if b.is_ascii_graphic() {
            clean.push(char::from(b));
            i += 1;
        } else {
            // Spaces, controls and raw non-ASCII are no part of a URI.
            return None;
        }
    }
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing = false;
    for seg in clean.split('/').skip(1) {
        trailing = false;
        match seg {
            "." => trailing = true,
            ".." => {
                segments.pop();
                trailing = true;
            }
            s => segments.push(s),
        }
    }
    out.push('/');
    out.push_str(&segments.join("/"));
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_normalise_alike() {
        let want = Some("https://api.example.com/v1/orders".to_owned());
        for url in [
            "https://api.example.com/v1/orders",
            "HTTPS://API.Example.COM/v1/orders",
            "https://api.example.com:443/v1/orders",
            "https://api.example.com/v1/orders?x=1",
            "https://api.example.com/v1/orders#frag",
            "https://api.example.com/v1/./x/../orders",
            "https://api.example.com/%76%31/orders",
        ] {
            assert_eq!(normalize(url), want, "{url}");
        }
        assert_eq!(
            normalize("http://h:8080").as_deref(),
            Some("http://h:8080/")
        );
        assert_eq!(normalize("http://h:80/").as_deref(), Some("http://h/"));
        assert_eq!(
            normalize("https://h/a%2fb").as_deref(),
            Some("https://h/a%2Fb")
        );
        assert_eq!(
            normalize("https://h/a/b/..").as_deref(),
            Some("https://h/a/")
        );
        assert_eq!(
            normalize("https://[::1]:443/x").as_deref(),
            Some("https://[::1]/x")
        );
        assert_eq!(
            request_htu("https://api.example.com", "/v1/orders").as_deref(),
            Some("https://api.example.com/v1/orders")
        );
    }

    #[test]
    fn different_resources_stay_different() {
        let base = normalize("https://api.example.com/v1/orders");
        for url in [
            "http://api.example.com/v1/orders",
            "https://api.example.com:8443/v1/orders",
            "https://other.example.com/v1/orders",
            "https://api.example.com/v1/orders/",
            "https://api.example.com/V1/orders",
            "https://api.example.com/v1%2Forders",
        ] {
            assert_ne!(normalize(url), base, "{url}");
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for url in [
            "https://h/a/%2E%2E/b",
            "https://h/a/.%2e/b/./",
            "https://h//a//b",
            "https://h/a/.",
            "https://h/%7e%41%2f",
            "https://H:0443/x",
            "https://[::1]:8443",
        ] {
            let once = normalize(url).unwrap_or_else(|| panic!("{url}"));
            assert_eq!(normalize(&once).as_deref(), Some(once.as_str()), "{url}");
        }
    }

    #[test]
    fn garbage_is_no_url() {
        for bad in [
            "",
            "/v1/orders",
            "ftp://h/x",
            "https://",
            "https://user@h/x",
            "https://h:x/",
            "https://h/a b",
            "https://h/%zz",
            "https://h/%4",
            "https://h/\u{e9}",
            "https://[::1/x",
            "https://h h/",
            "https://a:b:80/",
            "https://h:0/",
            "https://h:000/",
            "https://[zz]/",
            "https://[]/",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}
