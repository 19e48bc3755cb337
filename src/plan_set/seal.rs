//! The seal of a plan set's index: sha256 over its canonical bytes, or
//! HMAC-SHA256 with `FLEET_PLAN_SET_KEY` so only the key's holders can make
//! a set that will be applied.

use anyhow::Result;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::unsafe_input;

/// The environment variable holding the sealing key.
pub const KEY_ENV: &str = "FLEET_PLAN_SET_KEY";

/// Bytes that precede the index in what is sealed: a seal of anything else
/// (a report, another format) never verifies as a plan set's.
const DOMAIN: &[u8] = b"fleet plan set v1\0";

const SHA256: &str = "sha256";
const HMAC_SHA256: &str = "hmac-sha256";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// `sha256` or `hmac-sha256`.
    pub algorithm: String,
    /// Hex digest (or MAC) over the domain string and the index's bytes.
    pub value: String,
}

/// The key from the environment; an empty value counts as none.
pub fn key_from_env() -> Option<Vec<u8>> {
    std::env::var_os(KEY_ENV)
        .filter(|k| !k.is_empty())
        .map(|k| k.into_encoded_bytes())
}

/// Seals `index` (its canonical bytes) with the key when there is one.
pub fn seal(index: &[u8], key: Option<&[u8]>) -> Seal {
    match key {
        Some(key) => Seal {
            algorithm: HMAC_SHA256.into(),
            value: hex::encode(mac(key, index).finalize().into_bytes()),
        },
        None => {
            let mut h = Sha256::new();
            h.update(DOMAIN);
            h.update(index);
            Seal {
                algorithm: SHA256.into(),
                value: hex::encode(h.finalize()),
            }
        }
    }
}

fn mac(key: &[u8], index: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(DOMAIN);
    mac.update(index);
    mac
}

/// Checks the seal of `index` (exit 4 when it does not hold). With a key in
/// the environment only a keyed seal made with that key verifies: an
/// unkeyed set could have been made by anyone.
pub fn verify(seal: &Seal, index: &[u8], key: Option<&[u8]>, what: &str) -> Result<()> {
    match (seal.algorithm.as_str(), key) {
        (HMAC_SHA256, Some(key)) => {
            let expected = hex::decode(&seal.value).map_err(|_| {
                unsafe_input(format!("{what}: the seal is not hex, the set was edited"))
            })?;
            mac(key, index).verify_slice(&expected).map_err(|_| {
                unsafe_input(format!(
                    "{what}: the seal does not verify with {KEY_ENV}: the index was edited or \
                     the set was sealed with another key; nothing applied"
                ))
            })
        }
        (HMAC_SHA256, None) => Err(unsafe_input(format!(
            "{what}: the set is sealed with a key (hmac-sha256) and {KEY_ENV} is not set; nothing applied"
        ))),
        (SHA256, Some(_)) => Err(unsafe_input(format!(
            "{what}: the set is sealed without a key (sha256) but {KEY_ENV} is set: only a set \
             sealed with that key is applied; nothing applied"
        ))),
        (SHA256, None) => {
            if seal == &self::seal(index, None) {
                Ok(())
            } else {
                Err(unsafe_input(format!(
                    "{what}: the seal (sha256) does not match the index: the set was edited; nothing applied"
                )))
            }
        }
        (other, _) => Err(unsafe_input(format!(
            "{what}: unknown seal algorithm {other:?}; nothing applied"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_edit_or_other_key_breaks_the_seal() {
        let index = br#"{"a":1}"#;
        let plain = seal(index, None);
        verify(&plain, index, None, "t").expect("verifies");
        assert!(verify(&plain, br#"{"a":2}"#, None, "t").is_err());
        assert!(verify(&plain, index, Some(b"k"), "t").is_err());
        let keyed = seal(index, Some(b"key"));
        verify(&keyed, index, Some(b"key"), "t").expect("verifies");
        assert!(verify(&keyed, index, Some(b"other"), "t").is_err());
        assert!(verify(&keyed, index, None, "t").is_err());
        assert!(verify(&keyed, br#"{"a":2}"#, Some(b"key"), "t").is_err());
        // An attacker re-hashing an edited index without the key gets a
        // sha256 seal, which a keyed apply refuses.
        assert!(verify(&seal(br#"{"a":2}"#, None), br#"{"a":2}"#, Some(b"key"), "t").is_err());
    }
}
