//! What the gateway vouches for toward upstreams (issue 17 parts 1 and 4), through a
//! running gateway: signed identity assertions checked by PyJWT against the gateway's
//! JWKS (`assertion.rs`), also for API-key callers (`api_key.rs`); key rotation across
//! hot reloads (`rotation.rs`); the warning about a generated signing key, from the
//! binary's log (`generated_key.rs`); and RFC 8693 token exchange at the FakeIdp
//! (`exchange.rs`).

mod api_key;
mod assertion;
mod exchange;
mod generated_key;
mod rotation;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::support::bearer::{route, ProviderYaml};
use crate::support::fake_idp::FakeIdp;

/// `server.public_url` of these gateways: the assertions' `iss`.
pub const PUBLIC: &str = "https://gw.test";

/// Writes a fresh PKCS#8 PEM private key (`ec`, `rsa` or `ed`) to `dir/name`.
pub fn key_file(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let der = match kind {
        "ec" => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec(),
        "rsa" => {
            let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                .unwrap()
                .as_ref()
                .to_vec()
        }
        "ed" => Ed25519KeyPair::generate()
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec(),
        other => panic!("{other}"),
    };
    let b64 = STANDARD.encode(der);
    let body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            body.join("\n")
        ),
    )
    .unwrap();
    path
}

/// A `signing_keys` item for `file` (plus `extra` members, e.g. `, not_before: 1h`).
pub fn key_entry(kid: &str, file: &Path, extra: &str) -> String {
    format!(
        "  - {{ kid: \"{kid}\", file: \"{}\"{extra} }}\n",
        file.display()
    )
}

/// A whole config: port-0 listeners, `public_url` = [`PUBLIC`], provider `idp`, `routes`
/// (already rendered) and the top-level `tail` (signing keys…).
pub fn config(idp: &FakeIdp, routes: &[String], tail: &str) -> String {
    format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  public_url: \"{PUBLIC}\"\nadmin:\n  listen: \"127.0.0.1:0\"\n\
         providers:\n{}routes:\n{}{tail}",
        ProviderYaml::default().render(idp),
        routes.concat()
    )
}

/// Route `api` on `/` (bearer) with `extra` keys.
pub fn api(up: SocketAddr, extra: &[&str]) -> String {
    route("api", "/", up, extra)
}
