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
        // Test modules may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
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
