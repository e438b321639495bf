//! GoCardless's `Webhook-Signature`: the lower-case hex HMAC-SHA256 of the raw body, keyed
//! with the webhook endpoint's secret.
//!
//! The signature is checked over the bytes exactly as received, before the body is parsed.
//! Several secrets may be configured during a rotation; any one of them may have signed.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header GoCardless puts the signature in.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// A webhook endpoint secret. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The secrets a signature may be made with.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Vec<Secret>);

/// Why a signature does not verify. None of these carries the signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Webhook-Signature header is missing")]
    Missing,
    #[error("Webhook-Signature is not 64 hexadecimal digits")]
    Malformed,
    #[error(
        "signature mismatch: Webhook-Signature does not match the body for any configured secret"
    )]
    Mismatch,
}

impl SignatureError {
    /// The stable code clients see in the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing => "signature_missing",
            SignatureError::Malformed => "signature_malformed",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

impl Secrets {
    /// Reads a comma-separated list; blank entries are ignored.
    pub fn parse(list: &str) -> Secrets {
        Secrets(
            list.split(',')
                .map(str::trim)
                .filter(|secret| !secret.is_empty())
                .map(|secret| Secret(secret.as_bytes().to_vec()))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The length of the shortest secret, if any.
    pub fn shortest(&self) -> Option<usize> {
        self.0.iter().map(|secret| secret.0.len()).min()
    }

    /// Checks `signature` (the header's value, if any) against `body`, in constant time for
    /// each secret.
    pub fn verify(&self, body: &[u8], signature: Option<&[u8]>) -> Result<(), SignatureError> {
        let signature = signature.ok_or(SignatureError::Missing)?;
        let signature = std::str::from_utf8(signature).map_err(|_| SignatureError::Malformed)?;
        let signature = signature.trim();
        if signature.len() != 64 {
            return Err(SignatureError::Malformed);
        }
        let expected = hex::decode(signature).map_err(|_| SignatureError::Malformed)?;

        // Every secret is tried, so the time taken does not tell which one matched.
        let mut matched = false;
        for secret in &self.0 {
            matched |= mac(secret, body).verify_slice(&expected).is_ok();
        }
        matched.then_some(()).ok_or(SignatureError::Mismatch)
    }
}

fn mac(secret: &Secret, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret.0)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac
}

/// The signature GoCardless would send for `body` under `secret`: for test senders.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(
        mac(&Secret(secret.as_bytes().to_vec()), body)
            .finalize()
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published vectors: body file, secret, signature (see the fixtures' README).
    const VECTORS: [(&str, &str, &str); 2] = [
        (
            "signed-two-events.json",
            "ED7D658C-D8EB-4941-948B-3973214F2D49",
            "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e",
        ),
        (
            "signed-payment-failed.json",
            "testing",
            "243f3efa57743c24eec7c5e10edc475b547830d256d5b583745afe319dd90936",
        ),
    ];

    fn body(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../shared/fixtures/gocardless/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect("fixture body")
    }

    #[test]
    fn the_published_vectors_verify_byte_for_byte() {
        for (name, secret, signature) in VECTORS {
            let body = body(name);
            assert_eq!(sign(secret, &body), signature, "{name}");
            let secrets = Secrets::parse(secret);
            assert_eq!(
                secrets.verify(&body, Some(signature.as_bytes())),
                Ok(()),
                "{name}"
            );
        }
    }

    #[test]
    fn one_changed_byte_in_body_secret_or_signature_fails() {
        for (name, secret, signature) in VECTORS {
            let body = body(name);
            let secrets = Secrets::parse(secret);

            for at in [0, body.len() / 2, body.len() - 1] {
                let mut changed = body.clone();
                changed[at] ^= 0x01;
                let outcome = secrets.verify(&changed, Some(signature.as_bytes()));
                assert_eq!(
                    outcome,
                    Err(SignatureError::Mismatch),
                    "{name} body byte {at}"
                );
            }

            let mut wrong_secret = secret.as_bytes().to_vec();
            wrong_secret[0] ^= 0x01;
            let wrong = Secrets::parse(std::str::from_utf8(&wrong_secret).unwrap());
            let outcome = wrong.verify(&body, Some(signature.as_bytes()));
            assert_eq!(outcome, Err(SignatureError::Mismatch), "{name} secret");

            for at in [0, 31, 63] {
                let mut changed = signature.as_bytes().to_vec();
                changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
                let outcome = secrets.verify(&body, Some(&changed));
                assert_eq!(
                    outcome,
                    Err(SignatureError::Mismatch),
                    "{name} signature {at}"
                );
            }
        }
    }

    #[test]
    fn any_secret_of_a_rotation_may_sign() {
        let (name, secret, signature) = VECTORS[1];
        let secrets = Secrets::parse(&format!("old-secret, {secret}"));
        assert_eq!(secrets.len(), 2);
        assert_eq!(
            secrets.verify(&body(name), Some(signature.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn a_missing_or_malformed_signature_is_told_apart_from_a_wrong_one() {
        let secrets = Secrets::parse("testing");
        assert_eq!(secrets.verify(b"{}", None), Err(SignatureError::Missing));
        for malformed in ["", "abc", &"g".repeat(64), &"0".repeat(65), "sha256=00"] {
            let outcome = secrets.verify(b"{}", Some(malformed.as_bytes()));
            assert_eq!(outcome, Err(SignatureError::Malformed), "{malformed:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secrets = Secrets::parse("super-secret-value,another-one");
        let shown = format!("{secrets:?}");
        assert!(
            !shown.contains("super-secret") && !shown.contains("another"),
            "{shown}"
        );
    }
}
