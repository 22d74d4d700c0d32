//! API key secrets: generation, hashing and the visible prefix.
//!
//! A key is `hk-` followed by 43 base64url characters (256 random bits).
//! Only its SHA-256 is stored: the secret has full entropy, so a slow
//! password hash would add latency to every call without adding safety.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

const SCHEME: &str = "hk-";
/// Characters of the secret shown as its prefix: the scheme plus eight.
const PREFIX_LEN: usize = SCHEME.len() + 8;

/// A freshly generated key. `secret` is shown to the user once and dropped.
pub struct NewKey {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Generates a new random key.
pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{SCHEME}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    from_secret(secret)
}

/// Wraps an operator-chosen secret (`HEARTH_ADMIN_KEY`) the same way.
pub fn from_secret(secret: String) -> NewKey {
    NewKey {
        prefix: prefix_of(&secret),
        hash: hash(&secret),
        secret,
    }
}

/// Lower-case hex SHA-256 of a secret: the form keys are stored and looked
/// up in.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The visible part of a secret, safe for logs and listings: at most a
/// third of it, so even a short operator-chosen key keeps most of its
/// secret part hidden.
pub fn prefix_of(secret: &str) -> String {
    let shown = PREFIX_LEN.min(secret.chars().count() / 3);
    secret.chars().take(shown).collect()
}

/// The shortest operator-chosen key (`HEARTH_ADMIN_KEY`) accepted.
pub const MIN_SECRET_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_random_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("hk-"));
        assert_eq!(a.secret.len(), 3 + 43, "256 bits in base64url");
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), PREFIX_LEN);
        assert!(
            !format!("{a:?}").contains(&a.secret),
            "Debug must not print the secret"
        );
    }

    #[test]
    fn short_secrets_show_at_most_a_third() {
        assert_eq!(prefix_of("abcdefghijklmnop"), "abcde");
        assert_eq!(prefix_of(&generate().secret).len(), PREFIX_LEN);
    }

    #[test]
    fn hash_matches_a_known_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
