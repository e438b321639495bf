//! Throwaway certificates: a CA, a server certificate for this machine, and client certificates
//! signed by the CA, for trying the service behind nginx and for the end-to-end tests.
//!
//! Nothing here is fit for production. Real deployments use a server certificate from a public
//! CA, and GoCardless's own CA and client certificate.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{Datelike as _, Days, NaiveDate, Utc};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// The CA's certificate: the client CA nginx trusts, and the server CA `send-test --ca` trusts.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key, kept so that more certificates can be issued by hand.
pub const CA_KEY: &str = "ca.key";
/// nginx's certificate, for `localhost`, `127.0.0.1` and `::1`.
pub const SERVER_CERT: &str = "server.pem";
/// nginx's private key.
pub const SERVER_KEY: &str = "server.key";
/// The client certificate the service pins (`GOCARDLESS_WEBHOOK_CERT_PATH`).
pub const CLIENT_CERT: &str = "client.pem";
/// The client's private key, PKCS#8 (`GOCARDLESS_WEBHOOK_KEY_PATH`).
pub const CLIENT_KEY: &str = "client.key";

/// The names a development server certificate is issued for.
pub const LOCAL_SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// When a leaf certificate may be used, relative to today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From yesterday for a year.
    Current,
    /// Ended a year ago: for showing that an expired certificate is refused.
    Expired,
}

impl Validity {
    fn dates(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Validity::Current => (today - Days::new(1), today + Days::new(365)),
            Validity::Expired => (today - Days::new(730), today - Days::new(365)),
        }
    }
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    /// PKCS#8 (`BEGIN PRIVATE KEY`), the form `GOCARDLESS_WEBHOOK_KEY_PATH` expects.
    pub key_pem: String,
}

/// A self-signed CA that issues server and client certificates.
pub struct Authority {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl Authority {
    /// A new CA with its own key, valid for five years from yesterday.
    ///
    /// # Errors
    ///
    /// If rcgen cannot generate the key or sign the certificate.
    pub fn generate(common_name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let today = Utc::now().date_naive();
        set_validity(
            &mut params,
            today - Days::new(1),
            today + Days::new(5 * 365),
        );

        let key = KeyPair::generate()?;
        let certificate = params.self_signed(&key)?;
        Ok(Authority { certificate, key })
    }

    pub fn cert_pem(&self) -> String {
        self.certificate.pem()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A TLS server certificate for `names`: host names or IP addresses.
    ///
    /// # Errors
    ///
    /// If a name is not a valid DNS name or address, or signing fails.
    pub fn issue_server(&self, names: &[&str]) -> Result<Issued, rcgen::Error> {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        params.distinguished_name = named(names.first().map_or("server", String::as_str));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, Validity::Current)
    }

    /// A TLS client certificate, the kind GoCardless presents.
    ///
    /// # Errors
    ///
    /// If signing fails.
    pub fn issue_client(
        &self,
        common_name: &str,
        validity: Validity,
    ) -> Result<Issued, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, validity)
    }

    fn issue(
        &self,
        mut params: CertificateParams,
        validity: Validity,
    ) -> Result<Issued, rcgen::Error> {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // OpenSSL finds the issuer by this identifier when a CA file holds several certificates.
        params.use_authority_key_identifier_extension = true;
        let (from, until) = validity.dates(Utc::now().date_naive());
        set_validity(&mut params, from, until);

        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.certificate, &self.key)?;
        Ok(Issued {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "gocardless-webhooks development");
    name.push(DnType::CommonName, common_name);
    name
}

/// From the start of `from` to the start of `until`, in UTC.
fn set_validity(params: &mut CertificateParams, from: NaiveDate, until: NaiveDate) {
    // Month and day always fit a u8; the casts cannot truncate.
    params.not_before = date_time_ymd(from.year(), from.month() as u8, from.day() as u8);
    params.not_after = date_time_ymd(until.year(), until.month() as u8, until.day() as u8);
}

/// Writes a new CA, a server certificate for this machine and a client certificate into `dir`
/// (created if missing), under the file names above. Returns the paths written.
///
/// Private keys are readable by their owner only.
///
/// # Errors
///
/// If any of the files already exists and `force` is false (nothing is written then), or if
/// generating or writing fails.
pub fn write_dev_certs(dir: &Path, force: bool) -> anyhow::Result<Vec<PathBuf>> {
    let names = [
        CA_CERT,
        CA_KEY,
        SERVER_CERT,
        SERVER_KEY,
        CLIENT_CERT,
        CLIENT_KEY,
    ];
    let existing: Vec<&str> = names
        .into_iter()
        .filter(|name| dir.join(name).exists())
        .collect();
    if !existing.is_empty() && !force {
        anyhow::bail!(
            "{} already holds {}; pass --force to replace them",
            dir.display(),
            existing.join(", ")
        );
    }

    let ca = Authority::generate("gocardless-webhooks development CA")?;
    let server = ca.issue_server(&LOCAL_SERVER_NAMES)?;
    let client = ca.issue_client("gocardless-webhooks development client", Validity::Current)?;

    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Removed rather than truncated, so that a replaced key never keeps looser permissions.
    for name in existing {
        let path = dir.join(name);
        fs::remove_file(&path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let files = [
        (CA_CERT, ca.cert_pem(), Access::Public),
        (CA_KEY, ca.key_pem(), Access::Private),
        (SERVER_CERT, server.cert_pem, Access::Public),
        (SERVER_KEY, server.key_pem, Access::Private),
        (CLIENT_CERT, client.cert_pem, Access::Public),
        (CLIENT_KEY, client.key_pem, Access::Private),
    ];
    files
        .into_iter()
        .map(|(name, contents, access)| {
            let path = dir.join(name);
            write_file(&path, &contents, access)?;
            Ok(path)
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Access {
    Public,
    Private,
}

fn write_file(path: &Path, contents: &str, access: Access) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(match access {
            Access::Public => 0o644,
            Access::Private => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = access;

    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::auth::pins;

    fn load(pem: &str) -> x509_cert::Certificate {
        pins::load_certificates(pem).unwrap().remove(0).0
    }

    #[test]
    fn a_client_certificate_passes_the_services_key_and_date_checks() {
        let ca = Authority::generate("test CA").unwrap();
        let client = ca.issue_client("test client", Validity::Current).unwrap();

        let certificate = load(&client.cert_pem);
        pins::check_key_matches(&certificate, &client.key_pem).unwrap();
        pins::check_validity(&certificate, SystemTime::now()).unwrap();
    }

    #[test]
    fn an_expired_client_certificate_fails_the_services_date_check() {
        let ca = Authority::generate("test CA").unwrap();
        let client = ca.issue_client("old client", Validity::Expired).unwrap();

        let certificate = load(&client.cert_pem);
        let err = pins::check_validity(&certificate, SystemTime::now()).unwrap_err();
        assert!(matches!(err, pins::ValidityError::Expired(_)), "{err}");
    }

    #[test]
    fn existing_files_are_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        write_dev_certs(dir.path(), false).unwrap();
        let first = fs::read_to_string(dir.path().join(CA_CERT)).unwrap();

        let err = write_dev_certs(dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("--force"), "{err}");
        assert_eq!(fs::read_to_string(dir.path().join(CA_CERT)).unwrap(), first);

        write_dev_certs(dir.path(), true).unwrap();
        assert_ne!(fs::read_to_string(dir.path().join(CA_CERT)).unwrap(), first);
    }

    #[cfg(unix)]
    #[test]
    fn private_keys_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = tempfile::tempdir().unwrap();
        write_dev_certs(dir.path(), false).unwrap();
        for (name, wanted) in [
            (CLIENT_KEY, 0o600),
            (SERVER_KEY, 0o600),
            (CLIENT_CERT, 0o644),
        ] {
            let mode = fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, wanted, "{name}");
        }
    }
}
