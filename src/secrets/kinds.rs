//! Each kind of secret: how a value is made, and how a stored value is checked against what the
//! registry asks for.
//!
//! Randomness comes only from the operating system's CSPRNG ([`OsRng`]). Derived kinds (argon2id,
//! ssha, urlencode) are computed here, natively, from their source's value, so no external tool
//! ever sees a secret on its command line. Error messages describe what is wrong with a value
//! (its length, an unexpected character's position, a parse failure) and never contain it.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use super::value::SecretValue;
use crate::registry::model::{Alphabet, Secret, SecretKind};

/// Defaults where the registry gives no setting (REGISTRY.md is silent on them).
pub const DEFAULT_PASSWORD_LENGTH: u32 = 32;
pub const DEFAULT_ALPHABET: Alphabet = Alphabet::Alnum;
pub const DEFAULT_BYTES: u32 = 32;
pub const DEFAULT_RSA_BITS: u32 = 4096;
/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19456;
pub const DEFAULT_ARGON2_ITERATIONS: u32 = 2;
pub const DEFAULT_ARGON2_PARALLELISM: u32 = 1;
/// Salt length of `{SSHA}` hashes.
const SSHA_SALT_BYTES: usize = 8;
const SHA1_BYTES: usize = 20;

/// Everything but RFC 3986's unreserved characters is percent-encoded, so the value is safe in
/// any part of a URL (user info, path, query).
const URL_RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The characters a password of this alphabet is drawn from.
pub fn alphabet_chars(alphabet: Alphabet) -> &'static [u8] {
    match alphabet {
        Alphabet::Alnum => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        Alphabet::Lower => b"abcdefghijklmnopqrstuvwxyz0123456789",
        Alphabet::Hex => b"0123456789abcdef",
        // No space, quotes, backquote, backslash or `$`: safe unquoted in shells, YAML flow
        // values, env files and connection strings.
        Alphabet::Symbols => {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&()*+,-./:;<=>?@[]^_{|}~"
        }
    }
}

pub fn alphabet_name(alphabet: Alphabet) -> &'static str {
    Alphabet::ALL
        .iter()
        .find(|(_, a)| *a == alphabet)
        .map(|(n, _)| *n)
        .unwrap_or("alnum")
}

fn password_length(secret: &Secret) -> u32 {
    secret
        .length
        .map(|l| l.value)
        .unwrap_or(DEFAULT_PASSWORD_LENGTH)
}

fn byte_count(secret: &Secret) -> u32 {
    secret.bytes.map(|b| b.value).unwrap_or(DEFAULT_BYTES)
}

fn rsa_bits(secret: &Secret) -> u32 {
    secret.bits.map(|b| b.value).unwrap_or(DEFAULT_RSA_BITS)
}

/// The argon2 parameters of a secret, defaults filled in: (memory KiB, iterations, lanes).
pub fn argon2_params(secret: &Secret) -> (u32, u32, u32) {
    (
        secret
            .argon2
            .memory_kib
            .unwrap_or(DEFAULT_ARGON2_MEMORY_KIB),
        secret
            .argon2
            .iterations
            .unwrap_or(DEFAULT_ARGON2_ITERATIONS),
        secret
            .argon2
            .parallelism
            .unwrap_or(DEFAULT_ARGON2_PARALLELISM),
    )
}

fn argon2_hasher(secret: &Secret) -> Result<Argon2<'static>, String> {
    let (m, t, p) = argon2_params(secret);
    let params = Params::new(m, t, p, None)
        .map_err(|e| format!("argon2 parameters m={m} KiB, t={t}, p={p} are not usable: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A short description of a kind with its settings, for `list`: `password(32, alnum)`.
pub fn describe(secret: &Secret) -> String {
    match secret.kind.value {
        SecretKind::Password => format!(
            "password({}, {})",
            password_length(secret),
            alphabet_name(secret.alphabet.unwrap_or(DEFAULT_ALPHABET))
        ),
        SecretKind::Hex => format!("hex({} bytes)", byte_count(secret)),
        SecretKind::Base64 if secret.url_safe => format!("base64url({} bytes)", byte_count(secret)),
        SecretKind::Base64 => format!("base64({} bytes)", byte_count(secret)),
        SecretKind::Rsa => format!("rsa({})", rsa_bits(secret)),
        kind @ (SecretKind::Argon2id | SecretKind::Ssha | SecretKind::Urlencode) => {
            match &secret.from {
                Some(from) => format!("{}({})", kind.as_str(), from.value),
                None => kind.as_str().to_string(),
            }
        }
        kind => kind.as_str().to_string(),
    }
}

/// Makes a new value for `secret`. Derived kinds need their source's value; `external` secrets
/// are never generated.
pub fn generate(secret: &Secret, source: Option<&SecretValue>) -> Result<SecretValue, String> {
    let core: Zeroizing<String> = match secret.kind.value {
        SecretKind::Password => {
            let chars = alphabet_chars(secret.alphabet.unwrap_or(DEFAULT_ALPHABET));
            let mut out = Zeroizing::new(String::new());
            for _ in 0..password_length(secret) {
                out.push(char::from(chars[OsRng.gen_range(0..chars.len())]));
            }
            out
        }
        SecretKind::Hex => Zeroizing::new(hex::encode(&*random_bytes(byte_count(secret) as usize))),
        SecretKind::Base64 => {
            let bytes = random_bytes(byte_count(secret) as usize);
            Zeroizing::new(if secret.url_safe {
                URL_SAFE_NO_PAD.encode(&*bytes)
            } else {
                STANDARD.encode(&*bytes)
            })
        }
        SecretKind::Uuid => Zeroizing::new(uuid::Uuid::new_v4().hyphenated().to_string()),
        SecretKind::Rsa => {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            let bits = rsa_bits(secret) as usize;
            let key = rsa::RsaPrivateKey::new(&mut OsRng, bits)
                .map_err(|e| format!("RSA key generation failed: {e}"))?;
            key.to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| format!("cannot encode the RSA key as PEM: {e}"))?
        }
        SecretKind::Ed25519 => {
            use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            key.to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| format!("cannot encode the Ed25519 key as PEM: {e}"))?
        }
        SecretKind::Argon2id => {
            let source = need_source(secret, source)?;
            let salt = SaltString::generate(&mut OsRng);
            let hash = argon2_hasher(secret)?
                .hash_password(source.expose().as_bytes(), &salt)
                .map_err(|e| format!("argon2id hashing failed: {e}"))?;
            Zeroizing::new(hash.to_string())
        }
        SecretKind::Ssha => {
            let source = need_source(secret, source)?;
            let salt = random_bytes(SSHA_SALT_BYTES);
            Zeroizing::new(ssha(source.expose(), &salt))
        }
        SecretKind::Urlencode => {
            let source = need_source(secret, source)?;
            Zeroizing::new(utf8_percent_encode(source.expose(), URL_RESERVED).to_string())
        }
        SecretKind::External => {
            return Err(format!(
                "`{}` is external: muster never generates it; set it with `muster secrets set {}`",
                secret.name.value, secret.name.value
            ));
        }
    };
    let prefix = secret.prefix.as_deref().unwrap_or("");
    Ok(SecretValue::new(format!("{prefix}{}", core.as_str())))
}

fn need_source<'a>(
    secret: &Secret,
    source: Option<&'a SecretValue>,
) -> Result<&'a SecretValue, String> {
    let from = secret
        .from
        .as_ref()
        .map(|f| f.value.as_str())
        .unwrap_or("?");
    source.ok_or_else(|| format!("its source `{from}` has no value yet"))
}

fn ssha(password: &str, salt: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(password.as_bytes());
    hasher.update(salt);
    let mut raw = Zeroizing::new(hasher.finalize().to_vec());
    raw.extend_from_slice(salt);
    format!("{{SSHA}}{}", STANDARD.encode(&*raw))
}

/// Checks a stored value against what the registry asks of `secret`. `source` is the current
/// value of the secret a derived one is computed from. The error says what is wrong, never what
/// the value is.
pub fn validate(
    secret: &Secret,
    value: &SecretValue,
    source: Option<&SecretValue>,
) -> Result<(), String> {
    let prefix = secret.prefix.as_deref().unwrap_or("");
    let Some(core) = value.expose().strip_prefix(prefix) else {
        return Err(format!("does not start with its prefix `{prefix}`"));
    };
    match secret.kind.value {
        SecretKind::Password => {
            let want = password_length(secret) as usize;
            let alphabet = secret.alphabet.unwrap_or(DEFAULT_ALPHABET);
            let chars = alphabet_chars(alphabet);
            let count = core.chars().count();
            if count != want {
                return Err(format!(
                    "has {count} characters; the registry asks for {want}"
                ));
            }
            if let Some(position) = core
                .chars()
                .position(|c| !c.is_ascii() || !chars.contains(&(c as u8)))
            {
                return Err(format!(
                    "character {} is outside the `{}` alphabet",
                    position + 1,
                    alphabet_name(alphabet)
                ));
            }
            Ok(())
        }
        SecretKind::Hex => {
            let want = byte_count(secret) as usize * 2;
            if core.len() != want {
                return Err(format!(
                    "has {} hex digits; the registry asks for {want} ({} bytes)",
                    core.len(),
                    want / 2
                ));
            }
            if let Some(position) = core.bytes().position(|b| !b.is_ascii_hexdigit()) {
                return Err(format!("character {} is not a hex digit", position + 1));
            }
            Ok(())
        }
        SecretKind::Base64 => {
            let decoded = if secret.url_safe {
                URL_SAFE_NO_PAD
                    .decode(core)
                    .or_else(|_| URL_SAFE.decode(core))
            } else {
                STANDARD.decode(core)
            };
            let flavour = if secret.url_safe {
                "URL-safe base64"
            } else {
                "base64"
            };
            let decoded = Zeroizing::new(decoded.map_err(|_| format!("is not valid {flavour}"))?);
            let want = byte_count(secret) as usize;
            if decoded.len() != want {
                return Err(format!(
                    "decodes to {} bytes; the registry asks for {want}",
                    decoded.len()
                ));
            }
            Ok(())
        }
        SecretKind::Uuid => {
            let parsed = uuid::Uuid::try_parse(core).map_err(|_| "is not a UUID".to_string())?;
            if core.len() != 36 {
                return Err("is not a UUID in its hyphenated form".into());
            }
            if parsed.get_version_num() != 4 {
                return Err(format!(
                    "is a version {} UUID; muster makes version 4",
                    parsed.get_version_num()
                ));
            }
            Ok(())
        }
        SecretKind::Rsa => {
            use rsa::pkcs8::DecodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(core)
                .map_err(|_| "is not an RSA private key in PKCS#8 PEM form".to_string())?;
            key.validate()
                .map_err(|_| "is an inconsistent RSA private key".to_string())?;
            let bits = key.n().bits();
            let want = rsa_bits(secret) as usize;
            if bits != want {
                return Err(format!(
                    "is a {bits}-bit RSA key; the registry asks for {want} bits"
                ));
            }
            Ok(())
        }
        SecretKind::Ed25519 => {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            ed25519_dalek::SigningKey::from_pkcs8_pem(core)
                .map(|_| ())
                .map_err(|_| "is not an Ed25519 private key in PKCS#8 PEM form".to_string())
        }
        SecretKind::Argon2id => {
            let source = need_source(secret, source)?;
            let hash = PasswordHash::new(core)
                .map_err(|_| "is not a PHC string (`$argon2id$v=19$m=...`)".to_string())?;
            if hash.algorithm.as_str() != "argon2id" {
                return Err(format!(
                    "is an `{}` hash; the registry asks for argon2id",
                    hash.algorithm.as_str()
                ));
            }
            Argon2::default()
                .verify_password(source.expose().as_bytes(), &hash)
                .map_err(|_| {
                    "does not verify against the current value of its source".to_string()
                })?;
            let stored = Params::try_from(&hash)
                .map_err(|_| "has unreadable argon2 parameters".to_string())?;
            let (m, t, p) = argon2_params(secret);
            if (stored.m_cost(), stored.t_cost(), stored.p_cost()) != (m, t, p) {
                return Err(format!(
                    "was hashed with m={} KiB, t={}, p={}; the registry asks for m={m} KiB, t={t}, p={p}",
                    stored.m_cost(),
                    stored.t_cost(),
                    stored.p_cost()
                ));
            }
            Ok(())
        }
        SecretKind::Ssha => {
            let source = need_source(secret, source)?;
            let encoded = core
                .strip_prefix("{SSHA}")
                .ok_or_else(|| "does not start with `{SSHA}`".to_string())?;
            let raw = Zeroizing::new(
                STANDARD
                    .decode(encoded)
                    .map_err(|_| "is not `{SSHA}` followed by base64".to_string())?,
            );
            if raw.len() <= SHA1_BYTES {
                return Err("is too short to hold a SHA-1 digest and a salt".into());
            }
            let (digest, salt) = raw.split_at(SHA1_BYTES);
            let mut hasher = Sha1::new();
            hasher.update(source.expose().as_bytes());
            hasher.update(salt);
            if hasher.finalize().as_slice() != digest {
                return Err("does not verify against the current value of its source".into());
            }
            Ok(())
        }
        SecretKind::Urlencode => {
            let source = need_source(secret, source)?;
            let expected =
                Zeroizing::new(utf8_percent_encode(source.expose(), URL_RESERVED).to_string());
            if core != expected.as_str() {
                return Err("is not the URL-encoded current value of its source".into());
            }
            Ok(())
        }
        SecretKind::External => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{Argon2Params, Spanned};
    use crate::source::Span;

    fn secret(kind: SecretKind) -> Secret {
        Secret {
            name: Spanned::new("s".into(), Span::default()),
            kind: Spanned::new(kind, Span::default()),
            description: None,
            length: None,
            alphabet: None,
            bytes: None,
            url_safe: false,
            bits: None,
            prefix: None,
            from: Some(Spanned::new("src".into(), Span::default())),
            file: None,
            optional: false,
            argon2: Argon2Params::default(),
            on_rotate: None,
            span: Span::default(),
        }
    }

    #[test]
    fn passwords_follow_length_and_alphabet() {
        for (alphabet, length) in [
            (Alphabet::Alnum, 32),
            (Alphabet::Lower, 7),
            (Alphabet::Hex, 64),
            (Alphabet::Symbols, 100),
        ] {
            let mut s = secret(SecretKind::Password);
            s.alphabet = Some(alphabet);
            s.length = Some(Spanned::new(length, Span::default()));
            let v = generate(&s, None).unwrap();
            assert_eq!(v.expose().len(), length as usize);
            let chars = alphabet_chars(alphabet);
            assert!(v.expose().bytes().all(|b| chars.contains(&b)));
            validate(&s, &v, None).unwrap();
            let short = SecretValue::from(&v.expose()[1..]);
            assert!(
                validate(&s, &short, None)
                    .unwrap_err()
                    .contains("characters")
            );
        }
        let s = secret(SecretKind::Password);
        assert_eq!(generate(&s, None).unwrap().expose().len(), 32);
        let wrong = SecretValue::new(format!("{}$", "a".repeat(31)));
        assert_eq!(
            validate(&s, &wrong, None).unwrap_err(),
            "character 32 is outside the `alnum` alphabet"
        );
    }

    #[test]
    fn symbols_avoid_quoting_trouble() {
        for bad in [b' ', b'"', b'\'', b'`', b'\\', b'$'] {
            assert!(!alphabet_chars(Alphabet::Symbols).contains(&bad));
        }
    }

    #[test]
    fn errors_never_contain_the_value() {
        let s = secret(SecretKind::Hex);
        let v = SecretValue::from("zzzz-not-hex-value");
        let e = validate(&s, &v, None).unwrap_err();
        assert!(!e.contains("zzzz"), "{e}");
    }
}
