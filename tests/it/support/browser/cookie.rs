//! One stored cookie and the parsing of a `Set-Cookie` line (attributes kept for
//! assertions).

/// One cookie as stored, with the attributes it was set with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// `Path` (default `/`).
    pub path: String,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `SameSite` as written (`Lax`, `Strict`, `None`).
    pub same_site: Option<String>,
    /// `Max-Age` as written.
    pub max_age: Option<i64>,
    /// `Domain` as written.
    pub domain: Option<String>,
    /// The raw `Set-Cookie` line.
    pub raw: String,
}

impl Cookie {
    /// Parses one `Set-Cookie` value; `None` when it has no `name=`.
    pub fn parse(line: &str) -> Option<Cookie> {
        let mut parts = line.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let mut c = Cookie {
            name: name.trim().to_owned(),
            value: value.trim().trim_matches('"').to_owned(),
            path: "/".into(),
            secure: false,
            http_only: false,
            same_site: None,
            max_age: None,
            domain: None,
            raw: line.to_owned(),
        };
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let v = v.trim().to_owned();
            match k.trim().to_ascii_lowercase().as_str() {
                "path" => c.path = v,
                "secure" => c.secure = true,
                "httponly" => c.http_only = true,
                "samesite" => c.same_site = Some(v),
                "max-age" => c.max_age = v.parse().ok(),
                "domain" => c.domain = Some(v),
                _ => {}
            }
        }
        (!c.name.is_empty()).then_some(c)
    }

    /// Whether this `Set-Cookie` deletes the cookie (`Max-Age` ≤ 0).
    pub fn is_deletion(&self) -> bool {
        self.max_age.is_some_and(|m| m <= 0)
    }
}
