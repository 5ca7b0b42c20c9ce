//! A verifier nobody here wrote: PyJWT (with `cryptography`) checks assertions against
//! the gateway's JWKS, fetched by PyJWT's own `PyJWKClient` or given as a cached copy.
//! tests/run.sh installs it; without python3 + PyJWT a test skips loudly, except under
//! CI (`CI` set), where that is a failure.

use std::process::Command;

use serde_json::Value;

const SCRIPT: &str = r#"
import json, sys, time
import jwt
source, token, aud, iss, later = sys.argv[1:6]
later = float(later)
try:
    if source.startswith("url:"):
        key = jwt.PyJWKClient(source[4:]).get_signing_key_from_jwt(token).key
    else:
        kid = jwt.get_unverified_header(token).get("kid")
        found = [k for k in jwt.PyJWKSet.from_dict(json.loads(source[4:])).keys if k.key_id == kid]
        if not found:
            raise LookupError("kid not in the cached JWKS")
        key = found[0].key
    options = {"require": ["exp", "iat", "iss", "aud", "sub", "jti"]}
    if later:
        options["verify_iat"] = False
    claims = jwt.decode(token, key, algorithms=["ES256", "RS256", "EdDSA"], audience=aud,
                        issuer=iss, leeway=-later, options=options)
    print(json.dumps({"ok": claims}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
"#;

/// Where PyJWT gets the keys from.
pub enum Keys<'a> {
    /// Fetched from this JWKS URL by `PyJWKClient`.
    Url(&'a str),
    /// A JWKS document a verifier cached earlier.
    Cached(&'a str),
}

/// Whether python3 with PyJWT and cryptography is there; `false` prints why (loudly).
pub fn available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with PyJWT[crypto] is required under CI (tests/run.sh installs it)"
        );
        eprintln!(
            "\n*** SKIPPED: python3 with PyJWT and cryptography is missing; install it with \
             `python3 -m pip install \"pyjwt[crypto]\"` (tests/run.sh does) ***\n"
        );
    }
    ok
}

/// Verifies `token` as PyJWT does: `Ok(claims)`, or `Err(exception class name)`. `later`
/// checks it as if that many seconds had passed.
pub async fn verify(
    keys: Keys<'_>,
    token: &str,
    aud: &str,
    iss: &str,
    later: u64,
) -> Result<Value, String> {
    let source = match keys {
        Keys::Url(u) => format!("url:{u}"),
        Keys::Cached(doc) => format!("set:{doc}"),
    };
    let args = [
        source,
        token.to_owned(),
        aud.to_owned(),
        iss.to_owned(),
        later.to_string(),
    ];
    // Off the test's event loop: PyJWT fetches the JWKS from a gateway served by it.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .args(args)
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "PyJWT script output ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    match v.get("ok") {
        Some(claims) => Ok(claims.clone()),
        None => Err(format!(
            "{}: {}",
            v["error"].as_str().unwrap_or("?"),
            v["message"]
        )),
    }
}
