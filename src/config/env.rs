//! `${VAR}` / `${VAR:-default}` interpolation of configuration string values.
//!
//! Applied by the schema walk to string *values* of the parsed YAML tree, never to the
//! raw text or to keys, so an environment variable can never inject YAML structure.
//! Expanded text is not expanded again. Errors name the variable, never its value.

/// How the loader reads environment variables; injectable so tests need no process env.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the process environment (a non-UTF-8 value counts as unset).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Expands every `${NAME}` and `${NAME:-default}` in `input`; `$${` yields a literal `${`.
///
/// `${NAME:-default}` uses the default when NAME is unset or empty (as in the shell);
/// `${NAME}` with NAME unset is an error.
pub(crate) fn expand(input: &str, env: EnvLookup<'_>) -> Result<String, String> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_and_tail.find('}') else {
            return Err(
                "unterminated `${`; close it with `}` or write `$${` for a literal `${`".into(),
            );
        };
        let body = &body_and_tail[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        if !is_var_name(name) {
            // The body may hold a default that is itself a secret, so it is not echoed.
            return Err(
                "invalid `${...}` reference; write `${NAME}` or `${NAME:-default}` \
                 (NAME: letters, digits, `_`)"
                    .into(),
            );
        }
        if default.is_some_and(|d| d.contains("${")) {
            return Err(format!(
                "`${{{name}:-...}}`: a default cannot contain another `${{...}}`"
            ));
        }
        match (env(name), default) {
            (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => return Err(format!("environment variable {name} is not set")),
        }
        rest = &body_and_tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("idp.example.com".into()),
            "EMPTY" => Some(String::new()),
            "TRICKY" => Some("${HOST}\nkey: value".into()),
            _ => None,
        }
    }

    fn ex(s: &str) -> Result<String, String> {
        expand(s, &env)
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(ex("plain").unwrap(), "plain");
        assert_eq!(
            ex("https://${HOST}/x").unwrap(),
            "https://idp.example.com/x"
        );
        assert_eq!(ex("${MISSING:-fallback}").unwrap(), "fallback");
        assert_eq!(ex("${MISSING:-}").unwrap(), "");
        assert_eq!(ex("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(ex("${EMPTY}").unwrap(), "");
        assert_eq!(ex("${HOST:-d}").unwrap(), "idp.example.com");
        assert_eq!(
            ex("a${HOST}b${HOST}c").unwrap(),
            "aidp.example.combidp.example.comc"
        );
    }

    #[test]
    fn escapes_and_literal_dollars() {
        assert_eq!(ex("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(ex("cost: $5 $").unwrap(), "cost: $5 $");
        assert_eq!(ex("$$").unwrap(), "$$");
    }

    #[test]
    fn expanded_text_is_not_reexpanded() {
        assert_eq!(ex("${TRICKY}").unwrap(), "${HOST}\nkey: value");
    }

    #[test]
    fn errors() {
        assert_eq!(
            ex("${PORTCULLIS_CLIENT_SECRET}").unwrap_err(),
            "environment variable PORTCULLIS_CLIENT_SECRET is not set"
        );
        assert!(ex("${HOST").unwrap_err().contains("unterminated"));
        assert!(ex("${}").unwrap_err().contains("invalid"));
        assert!(ex("${1X}").unwrap_err().contains("invalid"));
        let e = ex("${X:hunter2}").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(ex("${A:-${B}}").unwrap_err().contains("cannot contain"));
    }
}
