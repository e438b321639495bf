//! Certificates made for each test run: a CA, leaves from it that are pinned, unpinned,
//! expired and not yet valid, and a leaf from another CA. Nothing here is committed.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair,
};

/// A certificate and its key, as PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Issued {
    /// The certificate as nginx's `$ssl_client_escaped_cert` forwards it.
    pub fn nginx_escaped(&self) -> String {
        nginx_escape(&self.cert_pem)
    }

    /// The certificate's SHA-256 as `openssl x509 -fingerprint -sha256` prints it.
    pub fn openssl_fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&self.der);
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// nginx escapes everything but letters, digits and `-._~` in the escaped certificate.
const NGINX_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub fn nginx_escape(pem: &str) -> String {
    utf8_percent_encode(pem, NGINX_ESCAPED).to_string()
}

/// A certificate authority that can issue leaves.
pub struct Authority {
    cert: Certificate,
    key: KeyPair,
    pub issued: Issued,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        let cert = params.self_signed(&key).expect("CA certificate");
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        };
        Authority { cert, key, issued }
    }

    /// A client certificate valid from `from` to `until` (years).
    pub fn leaf(&self, common_name: &str, from: i32, until: i32) -> Issued {
        self.leaf_until(common_name, from, (until, 1, 1))
    }

    /// A client certificate valid from the start of `from` to the day `until`.
    pub fn leaf_until(&self, common_name: &str, from: i32, until: (i32, u8, u8)) -> Issued {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(Vec::new()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(until.0, until.1, until.2);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// The usual cast of a test: one CA and its leaves, plus a stranger's leaf.
pub struct TestCerts {
    pub ca: Authority,
    pub pinned: Issued,
    pub unpinned: Issued,
    pub expired: Issued,
    pub not_yet_valid: Issued,
    pub foreign: Issued,
}

impl TestCerts {
    pub fn new() -> TestCerts {
        let ca = Authority::new("Test GoCardless CA");
        let pinned = ca.leaf("gocardless webhooks", 2020, 2099);
        let unpinned = ca.leaf("someone else", 2020, 2099);
        let expired = ca.leaf("gocardless webhooks (old)", 2001, 2002);
        let not_yet_valid = ca.leaf("gocardless webhooks (next)", 2090, 2099);
        let foreign = Authority::new("Another CA").leaf("gocardless webhooks", 2020, 2099);
        TestCerts {
            ca,
            pinned,
            unpinned,
            expired,
            not_yet_valid,
            foreign,
        }
    }

    /// A PEM file's contents pinning every certificate the service should accept, and the
    /// expired and not-yet-valid ones so that their dates, not their pins, are what fails.
    pub fn pinned_pem(&self) -> String {
        [&self.pinned, &self.expired, &self.not_yet_valid]
            .iter()
            .map(|issued| issued.cert_pem.as_str())
            .collect()
    }
}
