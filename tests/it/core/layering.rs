//! The layering of `src/` that README.md's Layout section states: each top-level module
//! imports only modules listed after it, so there is no cycle between modules.

use std::path::Path;

/// Top to bottom; README.md's Layout section lists the same order.
const ORDER: &[&str] = &[
    "server",
    "pipeline",
    "runtime",
    "ratelimit",
    "proxy",
    "oidc",
    "assertion",
    "session",
    "error",
    "auth",
    "metrics",
    "idp",
    "otel",
    "access_log",
    "otel",
    "transport",
    "routing",
    "config",
    "urlpath",
    "echo",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `text` without its `#[cfg(test)]` items (a `mod x;` line, or an item up to its
/// matching closing brace): a test-only helper in the middle of a file must not hide the
/// code after it from the check.
fn without_test_items(text: &str) -> String {
    const ATTR: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(ATTR) {
        out.push_str(&rest[..at]);
        let item = &rest[at + ATTR.len()..];
        let end = match (item.find(';'), item.find('{')) {
            (Some(semi), brace) if brace.is_none_or(|b| semi < b) => semi + 1,
            (_, Some(open)) => {
                let mut depth = 0usize;
                let close = item[open..].char_indices().find_map(|(i, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(open + i + 1)
                });
                close.unwrap_or(item.len())
            }
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn test_only_items_are_skipped_and_the_code_after_them_is_checked() {
    let text = "use crate::a;\n#[cfg(test)]\nfn helper() { if x { crate::b(); } }\nuse crate::c;\n#[cfg(test)]\nmod tests;\nuse crate::d;\n#[cfg(test)]\nmod inline { use crate::e; }\n";
    let code = without_test_items(text);
    for kept in ["crate::a", "crate::c", "crate::d"] {
        assert!(code.contains(kept), "{kept} dropped: {code}");
    }
    for dropped in ["crate::b", "crate::e", "helper", "mod tests"] {
        assert!(!code.contains(dropped), "{dropped} kept: {code}");
    }
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_owned())
            .expect("name");
        if top == "lib" || top == "main" {
            continue;
        }
        let name = rel.to_string_lossy();
        if name.ends_with("tests.rs") || name.contains("/tests/") || name.contains("testkit") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        // Test modules and test-only items may reach anywhere.
        let code = without_test_items(&text);
        let code = code.as_str();
        let Some(rank) = ORDER.iter().position(|m| *m == top) else {
            wrong.push(format!(
                "{name}: module `{top}` is not in ORDER (and README)"
            ));
            continue;
        };
        for (i, _) in code.match_indices("crate::") {
            let used: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if used == top || used.is_empty() {
                continue;
            }
            match ORDER.iter().position(|m| *m == used) {
                Some(r) if r > rank => {}
                _ => wrong.push(format!(
                    "{name}: `{top}` imports `{used}`, which is not below it"
                )),
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}
