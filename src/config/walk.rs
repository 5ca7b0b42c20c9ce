//! The schema walk over the parsed YAML tree, before serde sees it.
//!
//! In one pass it expands `${VAR}` in string values, reports EVERY unknown key (with a
//! "did you mean" hint) and every wrong type with its field path, coerces scalars where
//! YAML's typing is surprising (`client_id: 12345`, `refresh: "${REFRESH:-true}"`), and
//! drops `key:` entries left empty so serde applies the default. A bad value is replaced by
//! a placeholder and its path poisoned, so serde always succeeds afterwards and validation
//! does not repeat the complaint. Messages never echo values (they may be secrets).

use serde_yaml::{Mapping, Number, Value};

use super::env::{self, EnvLookup};
use super::issues::{index_path, key_path, Issues};
use super::schema::{Field, Shape, ROOT};

/// Checks and normalises the whole document in place.
pub(crate) fn walk_document(value: &mut Value, env: EnvLookup<'_>, issues: &mut Issues) {
    if value.is_null() {
        // An empty file is a valid config made only of defaults.
        *value = Value::Mapping(Mapping::new());
    }
    if !value.is_mapping() {
        issues.push(
            "",
            format!(
                "the file must be a mapping with keys such as `server:` and `routes:`, got {}",
                kind(value)
            ),
        );
        *value = Value::Mapping(Mapping::new());
        return;
    }
    Walker { env, issues }.check(value, &ROOT, "");
}

struct Walker<'a, 'e> {
    env: EnvLookup<'e>,
    issues: &'a mut Issues,
}

impl Walker<'_, '_> {
    fn check(&mut self, v: &mut Value, shape: &Shape, path: &str) {
        if let Value::Tagged(tagged) = v {
            let msg = format!("YAML tags such as `{}` are not supported", tagged.tag);
            return self.fail(v, shape, path, msg);
        }
        match shape {
            Shape::Str => self.string(v, shape, path),
            Shape::Bool => self.boolean(v, path),
            Shape::UInt => self.uint(v, path),
            Shape::StrList => self.list(v, &Shape::Str, shape, path),
            Shape::List(inner) => self.list(v, inner, shape, path),
            Shape::OneOrList(inner) => {
                if v.is_mapping() {
                    // `rate_limit: { key: ip, ... }`: one item, written without `- `.
                    *v = Value::Sequence(vec![std::mem::take(v)]);
                }
                self.list(v, inner, shape, path)
            }
            Shape::StrMap | Shape::ClaimMap => self.free_map(v, shape, path),
            Shape::Obj(fields) => self.object(v, fields, shape, path),
        }
    }

    /// Reports `msg` at `path`, hides follow-up noise there, and leaves a placeholder.
    fn fail(&mut self, v: &mut Value, shape: &Shape, path: &str, msg: String) {
        self.issues.push_and_poison(path, msg);
        *v = placeholder(shape);
    }

    fn expand(&mut self, v: &mut Value, shape: &Shape, path: &str) -> bool {
        let Value::String(s) = v else { return true };
        match env::expand(s, self.env) {
            Ok(expanded) => {
                *s = expanded;
                true
            }
            Err(msg) => {
                self.fail(v, shape, path, msg);
                false
            }
        }
    }

    fn string(&mut self, v: &mut Value, shape: &Shape, path: &str) {
        match v {
            Value::String(_) => {
                self.expand(v, shape, path);
            }
            Value::Number(n) => *v = Value::String(n.to_string()),
            Value::Bool(b) => *v = Value::String(b.to_string()),
            _ => {
                let msg = format!("expected a string, got {}", kind(v));
                self.fail(v, shape, path, msg);
            }
        }
    }

    fn boolean(&mut self, v: &mut Value, path: &str) {
        if v.is_string() && !self.expand(v, &Shape::Bool, path) {
            return;
        }
        let parsed = match &*v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.trim() == "true" => Some(true),
            Value::String(s) if s.trim() == "false" => Some(false),
            _ => None,
        };
        match parsed {
            Some(b) => *v = Value::Bool(b),
            None => {
                let msg = format!("expected true or false, got {}", kind(v));
                self.fail(v, &Shape::Bool, path, msg);
            }
        }
    }

    fn uint(&mut self, v: &mut Value, path: &str) {
        if v.is_string() && !self.expand(v, &Shape::UInt, path) {
            return;
        }
        let parsed = match &*v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) => *v = Value::Number(Number::from(n)),
            None => {
                let msg = format!("expected a non-negative integer, got {}", kind(v));
                self.fail(v, &Shape::UInt, path, msg);
            }
        }
    }

    fn list(&mut self, v: &mut Value, item: &Shape, shape: &Shape, path: &str) {
        let Value::Sequence(items) = v else {
            let msg = format!("expected a list (e.g. `[a, b]`), got {}", kind(v));
            return self.fail(v, shape, path, msg);
        };
        for (i, element) in items.iter_mut().enumerate() {
            if element.is_null() && matches!(item, Shape::Obj(_)) {
                // `- ` with nothing after it: an entry made of defaults; validation says
                // which required keys it lacks.
                *element = Value::Mapping(Mapping::new());
            }
            self.check(element, item, &index_path(path, i));
        }
    }

    /// `auth_params`, `identity_headers`, `allow.claims`: free keys, typed values.
    fn free_map(&mut self, v: &mut Value, shape: &Shape, path: &str) {
        let Value::Mapping(map) = v else {
            let msg = format!("expected a mapping (`key: value`), got {}", kind(v));
            return self.fail(v, shape, path, msg);
        };
        let old = std::mem::take(map);
        let mut new = Mapping::with_capacity(old.len());
        for (k, mut value) in old {
            let Some(key) = scalar_key(&k) else {
                self.issues.push(path, "keys must be strings");
                continue;
            };
            let child = key_path(path, &key);
            match shape {
                Shape::ClaimMap => self.claim_value(&mut value, &child),
                _ => self.check(&mut value, &Shape::Str, &child),
            }
            new.insert(Value::String(key), value);
        }
        *v = Value::Mapping(new);
    }

    fn claim_value(&mut self, v: &mut Value, path: &str) {
        match v {
            Value::String(_) => {
                self.expand(v, &Shape::Str, path);
            }
            Value::Number(_) | Value::Bool(_) => {}
            Value::Sequence(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let item_path = index_path(path, i);
                    match item {
                        Value::String(_) => {
                            self.expand(item, &Shape::Str, &item_path);
                        }
                        Value::Number(_) | Value::Bool(_) => {}
                        _ => {
                            let msg =
                                format!("expected a string, number or boolean, got {}", kind(item));
                            self.fail(item, &Shape::Str, &item_path, msg);
                        }
                    }
                }
            }
            _ => {
                let msg = format!(
                    "expected a string, number, boolean or a list of them, got {}",
                    kind(v)
                );
                self.fail(v, &Shape::Str, path, msg);
            }
        }
    }

    fn object(&mut self, v: &mut Value, fields: &[Field], shape: &Shape, path: &str) {
        if v.is_null() {
            *v = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = v else {
            let msg = format!("expected a mapping (`key: value` lines), got {}", kind(v));
            return self.fail(v, shape, path, msg);
        };
        let old = std::mem::take(map);
        let mut new = Mapping::with_capacity(old.len());
        for (k, mut value) in old {
            let Some(key) = k.as_str() else {
                self.issues.push(path, "keys must be strings");
                continue;
            };
            let child = key_path(path, key);
            let Some((_, child_shape)) = fields.iter().find(|(name, _)| *name == key) else {
                self.issues.push(&child, unknown_key_message(key, fields));
                continue;
            };
            if value.is_null() {
                // `key:` with no value means "use the default".
                continue;
            }
            self.check(&mut value, child_shape, &child);
            new.insert(k, value);
        }
        *v = Value::Mapping(new);
    }
}

/// A mapping key as a string; numbers and booleans are taken as their text.
fn scalar_key(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn placeholder(shape: &Shape) -> Value {
    match shape {
        Shape::Str => Value::String(String::new()),
        Shape::Bool => Value::Bool(false),
        Shape::UInt => Value::Number(Number::from(0u64)),
        Shape::StrList | Shape::List(_) | Shape::OneOrList(_) => Value::Sequence(Vec::new()),
        Shape::StrMap | Shape::ClaimMap | Shape::Obj(_) => Value::Mapping(Mapping::new()),
    }
}

/// What a value is, for messages (the value itself is never shown).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// `unknown key; did you mean `x`?`, else where the key belongs, else the valid keys.
pub(crate) fn unknown_key_message(key: &str, fields: &[Field]) -> String {
    if let Some(best) = nearest(key, fields.iter().map(|(name, _)| *name)) {
        return format!("unknown key; did you mean `{best}`?");
    }
    // A key written one level too high, e.g. `host:` directly under a route.
    let nested: Vec<String> = fields
        .iter()
        .filter_map(|(parent, shape)| match shape {
            Shape::Obj(sub) if sub.iter().any(|(name, _)| *name == key) => {
                Some(format!("`{parent}.{key}`"))
            }
            _ => None,
        })
        .collect();
    if !nested.is_empty() {
        return format!("unknown key here; did you mean {}?", nested.join(" or "));
    }
    let valid: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    format!("unknown key (valid keys here: {})", valid.join(", "))
}

/// The candidate closest to `key` when it is close enough to be a likely typo.
fn nearest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let key_norm = key.to_ascii_lowercase().replace('-', "_");
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = levenshtein(&key_norm, candidate);
        // Short keys get a tight limit, or `foo` would "mean" `log`.
        let limit = if candidate.len() <= 4 {
            1
        } else {
            2.max(candidate.len() / 3)
        };
        let close = distance <= limit
            || (key_norm.len() >= 3
                && (candidate.starts_with(&key_norm) || key_norm.starts_with(candidate)));
        if close && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// Edit distance (insertions, deletions, substitutions) between two strings.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::schema::{ROUTE, SERVER};
    use super::*;

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("routs", "routes"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
    }

    #[test]
    fn hints() {
        let Shape::Obj(root) = &ROOT else {
            unreachable!()
        };
        assert_eq!(
            unknown_key_message("routs", root),
            "unknown key; did you mean `routes`?"
        );
        assert_eq!(
            unknown_key_message("upstrem", ROUTE),
            "unknown key; did you mean `upstream`?"
        );
        assert_eq!(
            unknown_key_message("client-secret", super::super::schema::PROVIDER),
            "unknown key; did you mean `client_secret`?"
        );
        assert_eq!(
            unknown_key_message("host", ROUTE),
            "unknown key here; did you mean `match.host`?"
        );
        assert_eq!(
            unknown_key_message("cert_file", SERVER),
            "unknown key here; did you mean `tls.cert_file`?"
        );
        assert!(unknown_key_message("zzzzzz", SERVER)
            .starts_with("unknown key (valid keys here: listen,"));
    }
}
