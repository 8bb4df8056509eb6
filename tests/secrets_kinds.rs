//! Every kind of secret: the values muster makes have the format the registry asks for, parse
//! back with the reference crates (rsa, ed25519-dalek, argon2, sha1), and derived values verify
//! against their source.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use muster::registry::Registry;
use muster::secrets::kinds::{generate, validate};
use muster::secrets::{SecretValue, kinds};
use muster::source::SourceFile;

const REGISTRY: &str = r#"
version: 1
name: kinds
secrets:
  pw-default:   { kind: password }
  pw-lower:     { kind: password, length: 12, alphabet: lower }
  pw-symbols:   { kind: password, length: 64, alphabet: symbols }
  pw-hex:       { kind: password, length: 20, alphabet: hex }
  hex-default:  { kind: hex }
  hex-16:       { kind: hex, bytes: 16, prefix: "sk-" }
  b64-default:  { kind: base64 }
  b64-url:      { kind: base64, bytes: 48, url_safe: true }
  b64-prefixed: { kind: base64, bytes: 32, prefix: "base64:" }
  id:           { kind: uuid }
  id-prefixed:  { kind: uuid, prefix: "tok_" }
  rsa-2048:     { kind: rsa, bits: 2048 }
  ed:           { kind: ed25519 }
  admin:        { kind: password, length: 24 }
  admin-hash:   { kind: argon2id, from: admin }
  admin-hash-cheap: { kind: argon2id, from: admin, memory: 8M, iterations: 1, parallelism: 2 }
  admin-ssha:   { kind: ssha, from: admin }
  sym-url:      { kind: urlencode, from: pw-symbols }
  ext:          { kind: external }
services:
  app: { image: "busybox:1" }
"#;

fn registry() -> Registry {
    let loaded = muster::registry::load(Arc::new(SourceFile::new("muster.yaml", REGISTRY)), None);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded.registry.unwrap()
}

fn make(reg: &Registry, name: &str, source: Option<&SecretValue>) -> SecretValue {
    let secret = &reg.secrets[name];
    let value = generate(secret, source).unwrap();
    validate(secret, &value, source).unwrap_or_else(|e| panic!("{name}: {e}"));
    value
}

#[test]
fn passwords_have_the_length_and_alphabet_asked_for() {
    let reg = registry();
    let cases = [
        (
            "pw-default",
            32,
            kinds::alphabet_chars(muster::registry::model::Alphabet::Alnum),
        ),
        (
            "pw-lower",
            12,
            b"abcdefghijklmnopqrstuvwxyz0123456789".as_slice(),
        ),
        ("pw-hex", 20, b"0123456789abcdef".as_slice()),
        (
            "pw-symbols",
            64,
            kinds::alphabet_chars(muster::registry::model::Alphabet::Symbols),
        ),
    ];
    for (name, length, alphabet) in cases {
        let v = make(&reg, name, None);
        assert_eq!(v.expose().len(), length, "{name}");
        assert!(v.expose().bytes().all(|b| alphabet.contains(&b)), "{name}");
    }
    // Two values are never the same (the OS CSPRNG, not a fixed seed).
    assert_ne!(
        make(&reg, "pw-default", None),
        make(&reg, "pw-default", None)
    );
}

#[test]
fn wrong_passwords_are_malformed() {
    let reg = registry();
    let s = &reg.secrets["pw-lower"];
    let upper = SecretValue::from("ABCDEFGHIJKL");
    assert!(validate(s, &upper, None).unwrap_err().contains("alphabet"));
    let long = SecretValue::from("abcdefghijklm");
    assert!(
        validate(s, &long, None)
            .unwrap_err()
            .contains("13 characters")
    );
}

#[test]
fn hex_and_base64_hold_the_bytes_asked_for() {
    let reg = registry();
    let v = make(&reg, "hex-default", None);
    assert_eq!(hex::decode(v.expose()).unwrap().len(), 32);
    let v = make(&reg, "hex-16", None);
    let core = v.expose().strip_prefix("sk-").expect("prefix applied");
    assert_eq!(hex::decode(core).unwrap().len(), 16);

    let v = make(&reg, "b64-default", None);
    assert_eq!(STANDARD.decode(v.expose()).unwrap().len(), 32);
    let v = make(&reg, "b64-url", None);
    assert!(!v.expose().contains(['+', '/', '=']));
    assert_eq!(URL_SAFE_NO_PAD.decode(v.expose()).unwrap().len(), 48);
    let v = make(&reg, "b64-prefixed", None);
    let core = v.expose().strip_prefix("base64:").expect("prefix applied");
    assert_eq!(STANDARD.decode(core).unwrap().len(), 32);

    let short = SecretValue::from("abcd");
    assert!(
        validate(&reg.secrets["hex-default"], &short, None)
            .unwrap_err()
            .contains("64")
    );
    let unprefixed = SecretValue::from("00112233445566778899aabbccddeeff");
    assert!(
        validate(&reg.secrets["hex-16"], &unprefixed, None)
            .unwrap_err()
            .contains("prefix")
    );
}

#[test]
fn uuids_are_version_4() {
    let reg = registry();
    let v = make(&reg, "id", None);
    let parsed = uuid::Uuid::parse_str(v.expose()).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(v.expose(), parsed.hyphenated().to_string());
    let v = make(&reg, "id-prefixed", None);
    assert!(v.expose().starts_with("tok_"));
}

#[test]
fn rsa_keys_are_pkcs8_pem_of_the_size_asked_for() {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let reg = registry();
    let v = make(&reg, "rsa-2048", None);
    assert!(v.expose().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(v.expose()).unwrap();
    assert_eq!(key.n().bits(), 2048);
    let broken = SecretValue::new(v.expose().replacen('A', "B", 3));
    assert!(validate(&reg.secrets["rsa-2048"], &broken, None).is_err());
}

#[test]
fn rsa_defaults_to_4096_bits() {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let reg = registry();
    let mut secret = reg.secrets["rsa-2048"].clone();
    secret.bits = None;
    assert_eq!(kinds::describe(&secret), "rsa(4096)");
    let v = generate(&secret, None).unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(v.expose()).unwrap();
    assert_eq!(key.n().bits(), 4096);
    validate(&secret, &v, None).unwrap();
}

#[test]
fn ed25519_keys_are_pkcs8_pem() {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let reg = registry();
    let v = make(&reg, "ed", None);
    assert!(v.expose().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(v.expose()).unwrap();
    let _ = key.verifying_key();
    let garbage =
        SecretValue::from("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert!(validate(&reg.secrets["ed"], &garbage, None).is_err());
}

#[test]
fn argon2id_hashes_verify_against_their_source() {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    use argon2::{Argon2, Params};
    let reg = registry();
    let admin = make(&reg, "admin", None);
    let hash = make(&reg, "admin-hash", Some(&admin));
    let parsed = PasswordHash::new(hash.expose()).unwrap();
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    Argon2::default()
        .verify_password(admin.expose().as_bytes(), &parsed)
        .expect("the hash verifies against its source");
    let params = Params::try_from(&parsed).unwrap();
    assert_eq!(
        (params.m_cost(), params.t_cost(), params.p_cost()),
        (19456, 2, 1),
        "the defaults"
    );

    let cheap = make(&reg, "admin-hash-cheap", Some(&admin));
    let parsed = PasswordHash::new(cheap.expose()).unwrap();
    let params = Params::try_from(&parsed).unwrap();
    assert_eq!(
        (params.m_cost(), params.t_cost(), params.p_cost()),
        (8192, 1, 2)
    );

    // Against another source it does not verify; with other parameters it is stale.
    let other = SecretValue::from("not-the-admin-password-at-all!");
    assert!(
        validate(&reg.secrets["admin-hash"], &hash, Some(&other))
            .unwrap_err()
            .contains("does not verify")
    );
    assert!(
        validate(&reg.secrets["admin-hash"], &cheap, Some(&admin))
            .unwrap_err()
            .contains("m=8192")
    );
}

#[test]
fn ssha_hashes_verify_against_their_source() {
    use sha1::{Digest, Sha1};
    let reg = registry();
    let admin = make(&reg, "admin", None);
    let v = make(&reg, "admin-ssha", Some(&admin));
    let raw = STANDARD
        .decode(v.expose().strip_prefix("{SSHA}").expect("{SSHA} prefix"))
        .unwrap();
    let (digest, salt) = raw.split_at(20);
    assert!(!salt.is_empty());
    let mut h = Sha1::new();
    h.update(admin.expose().as_bytes());
    h.update(salt);
    assert_eq!(h.finalize().as_slice(), digest);
    let other = SecretValue::from("something-else");
    assert!(validate(&reg.secrets["admin-ssha"], &v, Some(&other)).is_err());
}

#[test]
fn urlencode_escapes_everything_but_unreserved() {
    let reg = registry();
    let source = SecretValue::from("a b/c?d=e&f@g:h#i%j~k-l.m_n+o");
    let v = make(&reg, "sym-url", Some(&source));
    assert_eq!(
        v.expose(),
        "a%20b%2Fc%3Fd%3De%26f%40g%3Ah%23i%25j~k-l.m_n%2Bo"
    );
    let symbols = make(&reg, "pw-symbols", None);
    let v = make(&reg, "sym-url", Some(&symbols));
    assert!(
        v.expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
    );
}

#[test]
fn derived_kinds_need_their_source_and_external_is_never_made() {
    let reg = registry();
    assert!(
        generate(&reg.secrets["admin-hash"], None)
            .unwrap_err()
            .contains("`admin`")
    );
    assert!(
        generate(&reg.secrets["ext"], None)
            .unwrap_err()
            .contains("external")
    );
}
