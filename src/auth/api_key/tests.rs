// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
use super::*;
use crate::config::ApiKeySource;

fn metrics() -> MachineMetrics {
    MachineMetrics::register(&prometheus::Registry::new()).unwrap()
}

fn store_with(files: &[(&str, &str)]) -> (tempfile::TempDir, ApiKeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut sources = Vec::new();
    for (name, text) in files {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        sources.push(ApiKeySource {
            name: (*name).to_owned(),
            file,
        });
    }
    let cfg = ApiKeysConfig {
        sources,
        header: None,
    };
    let store = ApiKeyStore::load(&cfg, metrics()).unwrap();
    (dir, store)
}

fn line(hash: &str, sub: &str, extra: &str) -> String {
    format!("- {{ sha256: \"{hash}\", sub: \"{sub}\"{extra} }}\n")
}

#[test]
fn generated_keys_look_right_and_hash_as_printed() {
    let (key, hash) = generate().unwrap();
    assert!(key.starts_with(KEY_PREFIX));
    assert_eq!(key.len(), KEY_PREFIX.len() + 43);
    assert!(crate::auth::credentials::is_token68(&key));
    assert_eq!(hash, hex(&TokenHash::of(&key).0));
    assert_eq!(decode_hex32(&hash), Some(TokenHash::of(&key).0));
    assert_ne!(generate().unwrap().0, key);
}

#[test]
fn a_known_key_gives_its_principal() {
    let (key, hash) = generate().unwrap();
    let text = line(
        &hash.to_ascii_uppercase(),
        "ci-bot",
        ", groups: [deployers], scopes: [deploy, read]",
    );
    let (_dir, store) = store_with(&[("ci", &text)]);
    let found = store.find(&key, 0).unwrap();
    let p = &found.principal;
    assert_eq!(p.subject, "ci-bot");
    assert_eq!(p.username.as_deref(), Some("ci-bot"));
    assert_eq!(p.groups, ["deployers"]);
    assert_eq!(p.scopes, ["deploy", "read"]);
    assert_eq!(p.provider, NO_PROVIDER);
    assert_eq!(p.claims["api_key"], "ci");
    assert_eq!(&*found.source, "ci");
    assert_eq!(store.find("pk_other", 0).unwrap_err(), KeyRefusal::Unknown);
    // Only the hash is known: a hash presented as a key is just another unknown key.
    assert_eq!(store.find(&hash, 0).unwrap_err(), KeyRefusal::Unknown);
}

#[test]
fn expiry_is_inclusive_and_earlier_sources_win() {
    let (key, hash) = generate().unwrap();
    let first = line(&hash, "old", ", expires: \"2027-01-31T00:00:00Z\"");
    let second = line(&hash, "new", "");
    let (_dir, store) = store_with(&[("a", &first), ("b", &second)]);
    let at = time::parse_timestamp("2027-01-31").unwrap();
    assert_eq!(store.find(&key, at - 1).unwrap().principal.subject, "old");
    assert_eq!(
        store.find(&key, at).unwrap_err(),
        KeyRefusal::Expired("a".into())
    );
    let unix = line(&hash, "u", ", expires: 100");
    let (_dir, store) = store_with(&[("u", &unix)]);
    assert!(store.find(&key, 99).is_ok());
    assert!(store.find(&key, 100).is_err());
}

#[test]
fn bad_files_are_refused_whole_with_a_reason() {
    let (_, hash) = generate().unwrap();
    let good = line(&hash, "x", "");
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty file"),
        ("{}".into(), "not a list"),
        (line("abc", "x", ""), "64 hex digits"),
        (line(&"g".repeat(64), "x", ""), "64 hex digits"),
        (line("pk_abcdefghijklmnop", "x", ""), "holds a key"),
        (line(&hash, " ", ""), "`sub`"),
        (format!("{good}{good}"), "same key as entry 0"),
        (line(&hash, "x", ", expires: \"next week\""), "`expires`"),
        (line(&hash, "x", ", expires: 1.5"), "`expires`"),
        (line(&hash, "x", ", groups: [\"\"]"), "`groups`"),
        (line(&hash, "x", ", role: admin"), "unknown field"),
        ("- { sub: x }\n".into(), "sha256"),
        ("- [1, 2]\n".into(), "not a list"),
    ];
    for (text, why) in cases {
        let err = parse(text.as_bytes()).unwrap_err();
        assert!(err.contains(why), "{text:?}: {err}");
    }
    assert_eq!(parse(b"[]").unwrap(), vec![]);
    let err = parse(line("pk_secret-key-material", "x", "").as_bytes()).unwrap_err();
    assert!(!err.contains("secret-key-material"), "{err}");
}

#[test]
fn check_files_names_the_broken_source() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "[]").unwrap();
    let cfg = ApiKeysConfig {
        sources: vec![
            ApiKeySource {
                name: "good".into(),
                file: good,
            },
            ApiKeySource {
                name: "gone".into(),
                file: dir.path().join("missing.yaml"),
            },
        ],
        header: None,
    };
    let err = check_files(&cfg).unwrap_err();
    assert!(err.starts_with("api_keys[1] (gone)"), "{err}");
    assert!(ApiKeyStore::load(&cfg, metrics()).is_err());
}
