//! The certificates of one deployment, generated fresh and written to its directory.

use std::fs;
use std::path::{Path, PathBuf};

use gocardless_webhooks::devtools::dev_certs::{
    Authority, Issued, Validity, CA_CERT, CLIENT_CERT, CLIENT_KEY, LOCAL_SERVER_NAMES, SERVER_CERT,
    SERVER_KEY,
};

/// Who a test client claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCert {
    /// Presents no certificate.
    None,
    /// The certificate GoCardless would present: right CA, pinned.
    Pinned,
    /// Right CA, not pinned.
    Unpinned,
    /// Right CA, pinned, out of date.
    Expired,
    /// Pinned, but issued by a CA nginx does not trust.
    OtherCa,
}

/// A client certificate and key on disk.
pub struct ClientFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
}

/// Every certificate a deployment needs. nginx reads `ca.pem`, `server.pem` and `server.key`
/// from `dir`, the names its template expects; the service pins what is in `pins`.
///
/// The expired certificate and the other CA's are pinned as well, so that when they are
/// refused it can only be nginx's doing.
pub struct TestCerts {
    pub dir: PathBuf,
    /// The CA of the server certificate and of every client certificate but the other CA's.
    pub ca: PathBuf,
    /// The PEM file for `GOCARDLESS_WEBHOOK_CERT_PATH`.
    pub pins: PathBuf,
    pub pinned: ClientFiles,
    pub unpinned: ClientFiles,
    pub expired: ClientFiles,
    pub other_ca: ClientFiles,
}

impl TestCerts {
    pub fn generate(dir: &Path) -> TestCerts {
        fs::create_dir_all(dir).unwrap();
        let ca = Authority::generate("e2e CA").unwrap();
        let stranger = Authority::generate("e2e stranger CA").unwrap();
        let server = ca.issue_server(&LOCAL_SERVER_NAMES).unwrap();
        let client = |authority: &Authority, name: &str, validity| {
            authority.issue_client(name, validity).unwrap()
        };

        write(dir, CA_CERT, &ca.cert_pem());
        write(dir, SERVER_CERT, &server.cert_pem);
        write_key(dir, SERVER_KEY, &server.key_pem);
        let pinned = write_client(
            dir,
            CLIENT_CERT,
            CLIENT_KEY,
            client(&ca, "pinned", Validity::Current),
        );
        let unpinned = write_client(
            dir,
            "unpinned.pem",
            "unpinned.key",
            client(&ca, "unpinned", Validity::Current),
        );
        let expired = write_client(
            dir,
            "expired.pem",
            "expired.key",
            client(&ca, "expired", Validity::Expired),
        );
        let other_ca = write_client(
            dir,
            "other-ca.pem",
            "other-ca.key",
            client(&stranger, "other CA", Validity::Current),
        );

        let pins = [&pinned, &expired, &other_ca]
            .map(|files| files.cert_pem.as_str())
            .concat();
        TestCerts {
            dir: dir.to_owned(),
            ca: dir.join(CA_CERT),
            pins: write(dir, "pins.pem", &pins),
            pinned,
            unpinned,
            expired,
            other_ca,
        }
    }

    pub fn client(&self, which: ClientCert) -> Option<&ClientFiles> {
        match which {
            ClientCert::None => None,
            ClientCert::Pinned => Some(&self.pinned),
            ClientCert::Unpinned => Some(&self.unpinned),
            ClientCert::Expired => Some(&self.expired),
            ClientCert::OtherCa => Some(&self.other_ca),
        }
    }
}

fn write_client(dir: &Path, cert: &str, key: &str, issued: Issued) -> ClientFiles {
    ClientFiles {
        cert: write(dir, cert, &issued.cert_pem),
        key: write_key(dir, key, &issued.key_pem),
        cert_pem: issued.cert_pem,
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    path
}

/// Readable by the owner only, as `dev-certs` writes keys: nginx's master reads its key as
/// root before its worker gives up root.
fn write_key(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = write(dir, name, contents);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}
