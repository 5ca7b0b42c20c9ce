//! Config error reporting: [`ConfigIssue`], [`ConfigErrors`] and the collector every
//! loading phase writes into.
//!
//! Owns path formatting (`routes[2].upstream`). Never stores a configured value: callers
//! pass messages that were written not to echo secrets.

use std::fmt;

/// One problem in a configuration file, located by its field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Field path such as `routes[2].upstream`; empty for whole-file problems.
    pub path: String,
    /// What is wrong and, where possible, how to fix it. Never contains a secret.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found while loading a configuration, in file order where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

impl ConfigErrors {
    /// A single whole-file problem (unreadable file, YAML syntax error).
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigIssue {
            path: path.into(),
            message: message.into(),
        }])
    }

    /// The issues, in report order.
    pub fn issues(&self) -> &[ConfigIssue] {
        &self.0
    }
}

impl fmt::Display for ConfigErrors {
    /// One `path: message` per line, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects issues across all phases.
///
/// A path is "poisoned" once a structural problem (wrong type, failed `${VAR}`) was
/// reported there: its value was replaced by a placeholder, so later complaints about
/// that placeholder would only be noise and are dropped.
#[derive(Debug, Default)]
pub(crate) struct Issues {
    list: Vec<ConfigIssue>,
    poisoned: Vec<String>,
}

impl Issues {
    /// Records `message` at `path` unless it lies under a poisoned path or repeats.
    pub(crate) fn push(&mut self, path: &str, message: impl Into<String>) {
        if self.poisoned.iter().any(|p| is_under(path, p)) {
            return;
        }
        let issue = ConfigIssue {
            path: path.to_owned(),
            message: message.into(),
        };
        if !self.list.contains(&issue) {
            self.list.push(issue);
        }
    }

    /// Records `message` at `path`, then hides later issues at or below `path`.
    pub(crate) fn push_and_poison(&mut self, path: &str, message: impl Into<String>) {
        self.push(path, message);
        self.poisoned.push(path.to_owned());
    }

    /// Whether nothing was reported.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The collected issues.
    pub(crate) fn into_errors(self) -> ConfigErrors {
        ConfigErrors(self.list)
    }
}

/// Whether `path` is `root` or one of its descendants (`root.x`, `root[0]`).
fn is_under(path: &str, root: &str) -> bool {
    match path.strip_prefix(root) {
        Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

/// `parent.key`, or `parent["key"]` when the key is not a plain identifier (header names
/// and claim names may contain dots, which would make the path ambiguous).
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// `parent[index]`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn paths_format() {
        assert_eq!(key_path("", "server"), "server");
        assert_eq!(key_path("server", "listen"), "server.listen");
        assert_eq!(index_path("routes", 2), "routes[2]");
        assert_eq!(key_path("a", "x.y"), "a[\"x.y\"]");
    }

    #[test]
    fn poison_hides_descendants_only() {
        let mut issues = Issues::default();
        issues.push_and_poison("routes[1]", "expected a mapping");
        issues.push("routes[1].name", "is required");
        issues.push("routes[10].name", "is required");
        issues.push("routes[1]", "expected a mapping");
        let errs = issues.into_errors();
        assert_eq!(errs.0.len(), 2);
        assert_eq!(
            errs.to_string(),
            "routes[1]: expected a mapping\nroutes[10].name: is required"
        );
    }
}
