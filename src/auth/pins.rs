//! Which client certificates are trusted, and whether a forwarded leaf is one of them.
//!
//! The proxy checks that the client holds the private key of the certificate it presents; this
//! module checks that the certificate is the one GoCardless gave us. A pin is a SHA-256 digest
//! of either the whole certificate or only its public key: the second survives a renewal that
//! keeps the key.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use x509_cert::der::{self, Decode as _, Encode as _};
use x509_cert::Certificate;

use super::forwarded::ForwardedCert;

/// A pin: SHA-256 of a whole certificate (DER), or SHA-256 of its SubjectPublicKeyInfo (DER).
///
/// As text, a certificate pin is hex as `openssl x509 -fingerprint -sha256` prints it, and a
/// public-key pin is `sha256/` and base64, the form HPKP and OkHttp use.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Pin {
    /// SHA-256 of the certificate's DER.
    Certificate([u8; 32]),
    /// SHA-256 of the DER of the certificate's SubjectPublicKeyInfo.
    PublicKey([u8; 32]),
}

/// Why a pin string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PinParseError {
    /// Nothing but whitespace.
    #[error("pin is empty")]
    Empty,
    /// Colons that do not separate pairs of hex digits.
    #[error("pin has colons, but not one between every two hex digits")]
    MisplacedColons,
    /// Not 64 hex digits once colons are removed.
    #[error("pin has {0} hex digits; a SHA-256 fingerprint has 64")]
    FingerprintLength(usize),
    /// A character that is not a hex digit.
    #[error("pin is not a SHA-256 fingerprint in hex: {0}")]
    Hex(#[source] hex::FromHexError),
    /// `sha256/` followed by something other than standard, padded base64.
    #[error("pin after \"sha256/\" is not valid base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// `sha256/` followed by base64 of the wrong length.
    #[error("pin after \"sha256/\" decodes to {0} bytes; a SHA-256 digest has 32")]
    DigestLength(usize),
}

const FINGERPRINT_PREFIX: &str = "sha256 fingerprint=";
const PUBLIC_KEY_PREFIX: &str = "sha256/";

impl FromStr for Pin {
    type Err = PinParseError;

    /// Accepts `AB:CD:...` (64 hex digits, colons optional, any case, optionally after
    /// `sha256 Fingerprint=`) as a certificate pin and `sha256/BASE64` as a public-key pin.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PinParseError::Empty);
        }
        if let Some(digits) = strip_prefix_ignoring_case(text, PUBLIC_KEY_PREFIX) {
            return parse_base64_digest(digits).map(Pin::PublicKey);
        }
        let digits = strip_prefix_ignoring_case(text, FINGERPRINT_PREFIX).unwrap_or(text);
        parse_hex_digest(digits).map(Pin::Certificate)
    }
}

/// OpenSSL 1.1 prints `SHA256 Fingerprint=`, OpenSSL 3 `sha256 Fingerprint=`.
fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

fn parse_base64_digest(digits: &str) -> Result<[u8; 32], PinParseError> {
    let bytes = STANDARD.decode(digits).map_err(PinParseError::Base64)?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| PinParseError::DigestLength(len))
}

fn parse_hex_digest(digits: &str) -> Result<[u8; 32], PinParseError> {
    let digits = if digits.contains(':') {
        remove_pair_colons(digits)?
    } else {
        digits.to_owned()
    };
    if digits.len() != 64 {
        return Err(PinParseError::FingerprintLength(digits.len()));
    }

    let mut digest = [0; 32];
    hex::decode_to_slice(&digits, &mut digest).map_err(PinParseError::Hex)?;
    Ok(digest)
}

/// Colons must sit between every pair, as OpenSSL writes them: a stray one usually means a
/// digit was lost in copying, which should not pass as a shorter pin.
fn remove_pair_colons(digits: &str) -> Result<String, PinParseError> {
    if digits.split(':').all(|pair| pair.len() == 2) {
        Ok(digits.replace(':', ""))
    } else {
        Err(PinParseError::MisplacedColons)
    }
}

impl fmt::Display for Pin {
    /// Writes the pin in the form [`FromStr`] reads, hex with colons for a certificate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Certificate(digest) => write_colon_hex(f, digest),
            Pin::PublicKey(digest) => write!(f, "{PUBLIC_KEY_PREFIX}{}", STANDARD.encode(digest)),
        }
    }
}

fn write_colon_hex(f: &mut fmt::Formatter<'_>, digest: &[u8; 32]) -> fmt::Result {
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{byte:02X}")?;
    }
    Ok(())
}

/// SHA-256 of a certificate's DER: what a [`Pin::Certificate`] holds.
pub fn certificate_sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// SHA-256 of the DER of a certificate's SubjectPublicKeyInfo: what a [`Pin::PublicKey`] holds.
///
/// # Errors
///
/// Only if the key cannot be re-encoded, which cannot happen to a certificate that was decoded
/// from DER; the error is passed on rather than assumed away.
pub fn public_key_sha256(cert: &Certificate) -> Result<[u8; 32], der::Error> {
    let spki = cert.tbs_certificate.subject_public_key_info.to_der()?;
    Ok(Sha256::digest(spki).into())
}

/// The pins a forwarded leaf may match. Duplicates are dropped; order of insertion is kept so
/// that logs list pins the way they were configured.
#[derive(Clone, Default, Debug)]
pub struct PinSet {
    pins: Vec<Pin>,
}

impl PinSet {
    /// Adds a pin, unless it is already there.
    pub fn insert(&mut self, pin: Pin) {
        if !self.pins.contains(&pin) {
            self.pins.push(pin);
        }
    }

    /// Pins a certificate by its certificate hash, as for `GOCARDLESS_WEBHOOK_CERT_PATH`.
    ///
    /// # Errors
    ///
    /// Only if the certificate cannot be re-encoded to DER.
    pub fn insert_certificate(&mut self, cert: &Certificate) -> Result<(), der::Error> {
        let der = cert.to_der()?;
        self.insert(Pin::Certificate(certificate_sha256(&der)));
        Ok(())
    }

    /// Whether no pin has been added.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// How many distinct pins there are.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// The pins, in the order they were first inserted.
    pub fn pins(&self) -> impl Iterator<Item = &Pin> {
        self.pins.iter()
    }

    /// The pin that the leaf matches, trying its certificate hash then its public-key hash.
    ///
    /// Pins are digests of public data, so comparing them in ordinary, variable time gives
    /// nothing away.
    pub fn matching(&self, leaf: &ForwardedCert) -> Option<&Pin> {
        let by_certificate = Pin::Certificate(certificate_sha256(&leaf.leaf_der));
        if let Some(pin) = self.find(&by_certificate) {
            return Some(pin);
        }
        // A key that cannot be encoded cannot be pinned either; the certificate pin was the
        // only chance to match.
        let by_public_key = Pin::PublicKey(public_key_sha256(&leaf.leaf).ok()?);
        self.find(&by_public_key)
    }

    fn find(&self, wanted: &Pin) -> Option<&Pin> {
        self.pins.iter().find(|pin| *pin == wanted)
    }
}

/// Why a PEM file of certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The PEM armour is broken.
    #[error("not valid PEM: {0}")]
    Pem(#[from] pem::PemError),
    /// No `-----BEGIN` line at all; perhaps the file is DER.
    #[error(
        "no PEM block found (for a DER file: `openssl x509 -inform der -in FILE -out FILE.pem`)"
    )]
    NoPemBlock,
    /// PEM blocks, but none labelled CERTIFICATE.
    #[error("no CERTIFICATE block found, only {0}")]
    NoCertificate(String),
    /// A CERTIFICATE block whose content is not exactly one DER certificate. Counted from 1.
    #[error("certificate {index} in the file is not valid DER: {source}")]
    Der {
        /// Position among the file's CERTIFICATE blocks, counted from 1.
        index: usize,
        /// What the DER decoder objected to.
        source: der::Error,
    },
}

/// Every CERTIFICATE block of a PEM file, each with its DER, in file order.
///
/// Other blocks, such as a private key kept in the same file, are skipped as long as there is
/// at least one certificate; text outside the blocks is ignored, as OpenSSL does.
///
/// # Errors
///
/// If the PEM is broken, holds no certificate, or a certificate does not parse.
pub fn load_certificates(pem_text: &str) -> Result<Vec<(Certificate, Vec<u8>)>, LoadError> {
    let blocks = pem::parse_many(pem_text)?;
    if blocks.is_empty() {
        return Err(LoadError::NoPemBlock);
    }

    let (certificates, others): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|block| block.tag() == "CERTIFICATE");
    if certificates.is_empty() {
        let labels: Vec<&str> = others.iter().map(pem::Pem::tag).collect();
        return Err(LoadError::NoCertificate(labels.join(", ")));
    }

    let parse = |(i, block): (usize, pem::Pem)| {
        let der = block.into_contents();
        let cert = Certificate::from_der(&der).map_err(|source| LoadError::Der {
            index: i + 1,
            source,
        })?;
        Ok((cert, der))
    };
    certificates.into_iter().enumerate().map(parse).collect()
}

/// A certificate used outside the dates it was issued for.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ValidityError {
    /// Past its notAfter time, given in RFC 3339 UTC.
    #[error("client certificate expired at {0}")]
    Expired(String),
    /// Before its notBefore time, given in RFC 3339 UTC.
    #[error("client certificate not valid before {0}")]
    NotYetValid(String),
}

/// Checks `now` against the certificate's validity period, both ends included (RFC 5280,
/// section 4.1.2.5).
///
/// # Errors
///
/// [`ValidityError`] says which end was crossed and when.
pub fn check_validity(cert: &Certificate, now: SystemTime) -> Result<(), ValidityError> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = validity.not_before.to_system_time();
    let not_after = validity.not_after.to_system_time();

    if now < not_before {
        return Err(ValidityError::NotYetValid(rfc3339(not_before)));
    }
    if now > not_after {
        return Err(ValidityError::Expired(rfc3339(not_after)));
    }
    Ok(())
}

fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What `gocardless-webhooks fingerprint FILE.pem` prints about one certificate and what
/// start-up logs.
#[derive(Clone, Debug)]
pub struct CertSummary {
    /// The subject as an RFC 4514 string, e.g. `CN=BC`.
    pub subject: String,
    /// Start of validity, RFC 3339 UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// The pin of the whole certificate.
    pub certificate_pin: Pin,
    /// The pin of its public key, which stays the same across a renewal with the same key.
    pub public_key_pin: Pin,
}

impl CertSummary {
    /// Summarises a certificate; `der` must be the DER it was decoded from.
    ///
    /// # Errors
    ///
    /// Only if the public key cannot be re-encoded; see [`public_key_sha256`].
    pub fn of(cert: &Certificate, der: &[u8]) -> Result<Self, der::Error> {
        let validity = &cert.tbs_certificate.validity;
        Ok(CertSummary {
            subject: cert.tbs_certificate.subject.to_string(),
            not_before: rfc3339(validity.not_before.to_system_time()),
            not_after: rfc3339(validity.not_after.to_system_time()),
            certificate_pin: Pin::Certificate(certificate_sha256(der)),
            public_key_pin: Pin::PublicKey(public_key_sha256(cert)?),
        })
    }
}

impl fmt::Display for CertSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "subject: {}", self.subject)?;
        writeln!(f, "valid from {} to {}", self.not_before, self.not_after)?;
        writeln!(f, "sha256 fingerprint: {}", self.certificate_pin)?;
        write!(f, "public key pin: {}", self.public_key_pin)
    }
}

/// Why a private key was found not to belong to a certificate.
#[derive(Debug, thiserror::Error)]
pub enum KeyMismatch {
    /// The key file's PEM armour is broken.
    #[error("private key file is not valid PEM: {0}")]
    Pem(#[from] pem::PemError),
    /// No block labelled `... PRIVATE KEY`.
    #[error("private key file holds no PRIVATE KEY block")]
    NoPrivateKey,
    /// A traditional (PKCS#1, SEC 1) or encrypted key; only unencrypted PKCS#8 is read.
    #[error(
        "private key is a {0:?} block, which is not supported; convert it to unencrypted \
         PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY.pem -out KEY.pkcs8.pem`"
    )]
    UnsupportedFormat(String),
    /// PKCS#8 that the crypto backend could not read.
    #[error("private key could not be read: {0}")]
    Unreadable(#[source] rcgen::Error),
    /// The certificate's own key could not be re-encoded.
    #[error("certificate public key could not be encoded: {0}")]
    CertificateKey(#[source] der::Error),
    /// A readable key, but not the one the certificate was issued for.
    #[error("private key does not belong to the certificate: their public keys differ")]
    Mismatch,
}

/// Checks that a private key (unencrypted PKCS#8 PEM) belongs to the certificate: the key's
/// SubjectPublicKeyInfo must equal the certificate's, byte for byte. The key may share its file
/// with certificates.
///
/// # Errors
///
/// [`KeyMismatch`] says whether the key could not be read or belongs to another certificate.
pub fn check_key_matches(cert: &Certificate, key_pem: &str) -> Result<(), KeyMismatch> {
    let blocks = pem::parse_many(key_pem)?;
    let block = blocks
        .iter()
        .find(|block| block.tag().ends_with("PRIVATE KEY"))
        .ok_or(KeyMismatch::NoPrivateKey)?;
    if block.tag() != "PRIVATE KEY" {
        return Err(KeyMismatch::UnsupportedFormat(block.tag().to_owned()));
    }

    // `KeyPair::from_pem` would read only the first block, which may be a certificate.
    let key = rcgen::KeyPair::try_from(block.contents()).map_err(KeyMismatch::Unreadable)?;
    let certificate_spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(KeyMismatch::CertificateKey)?;
    if key.public_key_der() == certificate_spki {
        Ok(())
    } else {
        Err(KeyMismatch::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::forwarded;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/client-cert"
    );

    /// `openssl x509 -in leaf.pem -noout -fingerprint -sha256` (OpenSSL 3.0).
    const LEAF_FINGERPRINT: &str = "sha256 Fingerprint=BF:AF:1F:7E:07:0F:9F:A8:DD:62:90:5F:15:8D:\
                                    A7:3F:84:A1:13:66:24:FB:AF:CC:93:93:C8:F7:28:7A:69:EB";

    /// `openssl x509 -in leaf.pem -pubkey -noout | openssl pkey -pubin -outform der
    /// | openssl dgst -sha256 -binary | base64`.
    const LEAF_PUBLIC_KEY_PIN: &str = "sha256/yTvZJqPkG+BQJ5mvQ1IbLCgU5bxrZXhlGEHQDp3uad4=";

    /// `openssl x509 -in intermediate.pem -noout -fingerprint -sha256`.
    const INTERMEDIATE_FINGERPRINT: &str = "E8:7D:F5:B4:3E:BF:9B:89:CA:2B:2B:BF:31:A4:E7:AD:\
                                            5A:40:D4:04:CF:BB:2F:CC:1A:40:3C:26:51:28:5A:DC";

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn forwarded_leaf() -> ForwardedCert {
        forwarded::decode(fixture("leaf.pem").as_bytes()).unwrap()
    }

    fn pin(text: &str) -> Pin {
        text.parse().unwrap()
    }

    fn utc(year: i32, month: u32, day: u32) -> SystemTime {
        let date = chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap();
        date.and_hms_opt(0, 0, 0).unwrap().and_utc().into()
    }

    /// A fresh key and a self-signed certificate for it.
    fn generated_pair() -> (rcgen::KeyPair, Certificate) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["sender.test".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (key, Certificate::from_der(cert.der()).unwrap())
    }

    #[test]
    fn the_openssl_fingerprint_of_the_fixture_leaf_matches_it() {
        let leaf = forwarded_leaf();
        assert_eq!(
            pin(LEAF_FINGERPRINT),
            Pin::Certificate(certificate_sha256(&leaf.leaf_der))
        );

        let mut pins = PinSet::default();
        pins.insert(pin(LEAF_FINGERPRINT));
        assert_eq!(pins.matching(&leaf), Some(&pin(LEAF_FINGERPRINT)));
    }

    #[test]
    fn the_openssl_public_key_pin_of_the_fixture_leaf_matches_it() {
        let leaf = forwarded_leaf();
        assert_eq!(
            pin(LEAF_PUBLIC_KEY_PIN),
            Pin::PublicKey(public_key_sha256(&leaf.leaf).unwrap())
        );

        let mut pins = PinSet::default();
        pins.insert(pin(LEAF_PUBLIC_KEY_PIN));
        assert_eq!(pins.matching(&leaf), Some(&pin(LEAF_PUBLIC_KEY_PIN)));
    }

    #[test]
    fn lower_case_bare_and_old_openssl_fingerprints_parse_the_same() {
        let expected = pin(LEAF_FINGERPRINT);
        let colons = LEAF_FINGERPRINT.trim_start_matches("sha256 Fingerprint=");
        let variants = [
            colons.to_owned(),
            colons.to_lowercase(),
            colons.replace(':', ""),
            colons.replace(':', "").to_lowercase(),
            format!("SHA256 Fingerprint={colons}"),
            format!("  {colons}\n"),
        ];
        for text in variants {
            assert_eq!(pin(&text), expected, "{text}");
        }
    }

    #[test]
    fn pins_print_as_they_are_written_and_parse_back() {
        let certificate = pin(LEAF_FINGERPRINT);
        assert_eq!(
            certificate.to_string(),
            LEAF_FINGERPRINT.trim_start_matches("sha256 Fingerprint=")
        );
        assert_eq!(pin(&certificate.to_string()), certificate);

        let public_key = pin(LEAF_PUBLIC_KEY_PIN);
        assert_eq!(public_key.to_string(), LEAF_PUBLIC_KEY_PIN);
        assert_eq!(pin(&public_key.to_string()), public_key);
    }

    #[test]
    fn malformed_pins_are_refused() {
        let fingerprint = pin(LEAF_FINGERPRINT).to_string();
        let cases = [
            ("", PinParseError::Empty),
            ("  ", PinParseError::Empty),
            (
                &fingerprint[..fingerprint.len() - 3],
                PinParseError::FingerprintLength(62),
            ),
            (
                &format!("{fingerprint}:00"),
                PinParseError::FingerprintLength(66),
            ),
            (
                &fingerprint.replacen(':', "", 1),
                PinParseError::MisplacedColons,
            ),
            (&format!("{fingerprint}:"), PinParseError::MisplacedColons),
            ("sha256/AAAA", PinParseError::DigestLength(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Pin>(), Err(expected), "{text:?}");
        }

        let not_hex = fingerprint.replacen('B', "G", 1);
        assert!(matches!(not_hex.parse::<Pin>(), Err(PinParseError::Hex(_))));
        let bad_base64 = LEAF_PUBLIC_KEY_PIN.replace('+', "-");
        assert!(matches!(
            bad_base64.parse::<Pin>(),
            Err(PinParseError::Base64(_))
        ));
        assert!("md5 Fingerprint=00:11".parse::<Pin>().is_err());
    }

    #[test]
    fn a_leaf_matches_no_pin_of_another_certificate() {
        let mut pins = PinSet::default();
        pins.insert(pin(INTERMEDIATE_FINGERPRINT));
        pins.insert(Pin::PublicKey([0; 32]));
        assert_eq!(pins.matching(&forwarded_leaf()), None);
        assert_eq!(PinSet::default().matching(&forwarded_leaf()), None);
    }

    #[test]
    fn the_certificate_pin_is_preferred_over_the_public_key_pin() {
        let mut pins = PinSet::default();
        pins.insert(pin(LEAF_PUBLIC_KEY_PIN));
        pins.insert(pin(LEAF_FINGERPRINT));
        assert_eq!(
            pins.matching(&forwarded_leaf()),
            Some(&pin(LEAF_FINGERPRINT))
        );
    }

    #[test]
    fn a_pin_set_keeps_each_pin_once_in_insertion_order() {
        let mut pins = PinSet::default();
        assert!(pins.is_empty());

        pins.insert(pin(INTERMEDIATE_FINGERPRINT));
        pins.insert(pin(LEAF_PUBLIC_KEY_PIN));
        pins.insert(pin(&INTERMEDIATE_FINGERPRINT.to_lowercase()));
        assert_eq!(pins.len(), 2);
        let listed: Vec<&Pin> = pins.pins().collect();
        assert_eq!(
            listed,
            [&pin(INTERMEDIATE_FINGERPRINT), &pin(LEAF_PUBLIC_KEY_PIN)]
        );
    }

    #[test]
    fn inserting_a_certificate_pins_its_certificate_hash() {
        let leaf = forwarded_leaf();
        let mut pins = PinSet::default();
        pins.insert_certificate(&leaf.leaf).unwrap();
        assert_eq!(pins.pins().collect::<Vec<_>>(), [&pin(LEAF_FINGERPRINT)]);
        assert_eq!(pins.matching(&leaf), Some(&pin(LEAF_FINGERPRINT)));
    }

    #[test]
    fn a_pem_file_loads_every_certificate_in_order() {
        let bundle = fixture("leaf.pem") + &fixture("intermediate.pem");
        let loaded = load_certificates(&bundle).unwrap();
        let pins: Vec<Pin> = loaded
            .iter()
            .map(|(_, der)| Pin::Certificate(certificate_sha256(der)))
            .collect();
        assert_eq!(pins, [pin(LEAF_FINGERPRINT), pin(INTERMEDIATE_FINGERPRINT)]);
        assert_eq!(loaded[0].0.tbs_certificate.subject.to_string(), "CN=BC");
    }

    #[test]
    fn a_pem_file_may_keep_a_private_key_beside_its_certificate() {
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let loaded = load_certificates(&(key + &fixture("leaf.pem"))).unwrap();
        assert_eq!(loaded.len(), 1);
    }

    #[test]
    fn a_pem_file_without_a_certificate_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let err = load_certificates(&key).unwrap_err();
        assert!(matches!(err, LoadError::NoCertificate(ref found) if found == "PRIVATE KEY"));

        assert!(matches!(load_certificates(""), Err(LoadError::NoPemBlock)));
        assert!(matches!(
            load_certificates("hello"),
            Err(LoadError::NoPemBlock)
        ));
    }

    #[test]
    fn a_pem_file_with_a_broken_certificate_is_refused() {
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let bundle = fixture("leaf.pem") + broken;
        let err = load_certificates(&bundle).unwrap_err();
        assert!(matches!(err, LoadError::Der { index: 2, .. }));

        let bad_base64 = "-----BEGIN CERTIFICATE-----\nA!AA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            load_certificates(bad_base64),
            Err(LoadError::Pem(_))
        ));
    }

    #[test]
    fn the_fixture_leaf_is_expired_today() {
        let leaf = forwarded_leaf().leaf;
        let err = check_validity(&leaf, SystemTime::now()).unwrap_err();
        assert!(matches!(err, ValidityError::Expired(ref at) if at == "2021-01-23T22:55:33Z"));
        assert_eq!(
            err.to_string(),
            "client certificate expired at 2021-01-23T22:55:33Z"
        );
    }

    #[test]
    fn the_fixture_leaf_was_valid_in_june_2020_and_not_before_its_issue() {
        let leaf = forwarded_leaf().leaf;
        assert!(check_validity(&leaf, utc(2020, 6, 1)).is_ok());

        let err = check_validity(&leaf, utc(2020, 1, 1)).unwrap_err();
        assert!(matches!(err, ValidityError::NotYetValid(ref at) if at == "2020-01-14T22:55:33Z"));
    }

    #[test]
    fn both_ends_of_the_validity_period_are_included() {
        let leaf = forwarded_leaf().leaf;
        let validity = &leaf.tbs_certificate.validity;
        let first = validity.not_before.to_system_time();
        let last = validity.not_after.to_system_time();
        assert!(check_validity(&leaf, first).is_ok());
        assert!(check_validity(&leaf, last).is_ok());
        assert!(check_validity(&leaf, last + Duration::from_secs(1)).is_err());
        assert!(check_validity(&leaf, first - Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_summary_of_the_fixture_leaf_shows_what_openssl_shows() {
        let leaf = forwarded_leaf();
        let summary = CertSummary::of(&leaf.leaf, &leaf.leaf_der).unwrap();
        assert_eq!(summary.subject, "CN=BC");
        assert_eq!(summary.certificate_pin, pin(LEAF_FINGERPRINT));
        assert_eq!(summary.public_key_pin, pin(LEAF_PUBLIC_KEY_PIN));

        let expected = format!(
            "subject: CN=BC\n\
             valid from 2020-01-14T22:55:33Z to 2021-01-23T22:55:33Z\n\
             sha256 fingerprint: {}\n\
             public key pin: {LEAF_PUBLIC_KEY_PIN}",
            pin(LEAF_FINGERPRINT)
        );
        assert_eq!(summary.to_string(), expected);
    }

    #[test]
    fn a_key_matches_the_certificate_issued_for_it() {
        let (key, cert) = generated_pair();
        assert!(check_key_matches(&cert, &key.serialize_pem()).is_ok());

        let cert_pem = pem::encode(&pem::Pem::new("CERTIFICATE", cert.to_der().unwrap()));
        let bundle = cert_pem + &key.serialize_pem();
        assert!(check_key_matches(&cert, &bundle).is_ok());
    }

    #[test]
    fn another_key_does_not_match() {
        let (_, cert) = generated_pair();
        let (other_key, _) = generated_pair();
        let err = check_key_matches(&cert, &other_key.serialize_pem()).unwrap_err();
        assert!(matches!(err, KeyMismatch::Mismatch));

        let err = check_key_matches(&forwarded_leaf().leaf, &other_key.serialize_pem());
        assert!(matches!(err, Err(KeyMismatch::Mismatch)));
    }

    #[test]
    fn a_traditional_or_encrypted_key_is_refused_with_the_conversion_command() {
        let (key, cert) = generated_pair();
        for label in ["RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"] {
            let block = pem::encode(&pem::Pem::new(label, key.serialize_der()));
            let err = check_key_matches(&cert, &block).unwrap_err();
            assert!(matches!(err, KeyMismatch::UnsupportedFormat(_)), "{label}");
            assert!(err.to_string().contains("openssl pkcs8 -topk8 -nocrypt"));
        }
    }

    #[test]
    fn a_file_without_a_readable_key_is_refused() {
        let (_, cert) = generated_pair();
        let err = check_key_matches(&cert, &fixture("leaf.pem")).unwrap_err();
        assert!(matches!(err, KeyMismatch::NoPrivateKey));

        let garbage = pem::encode(&pem::Pem::new("PRIVATE KEY", b"not a key".to_vec()));
        let err = check_key_matches(&cert, &garbage).unwrap_err();
        assert!(matches!(err, KeyMismatch::Unreadable(_)));
    }
}
