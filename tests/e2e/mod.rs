//! One deployment per test, as GoCardless meets it: nginx with the project's template in front
//! of the real service binary, on a MariaDB database of its own, with certificates made for
//! the test. Everything listens on loopback and lives in a temporary directory.

pub mod certs;
pub mod db;
pub mod nginx;

use std::path::Path;
use std::time::Duration;

use gocardless_webhooks::devtools::send_test::{Reply, Sender, TlsFiles};
use tempfile::TempDir;

use certs::{ClientCert, TestCerts};
use db::{RowCounts, TestDatabase};
use nginx::Nginx;

use crate::common::Service;

/// How long a line the service logged while answering may take to reach the test.
const LOG_DELAY: Duration = Duration::from_secs(2);

/// Fields drop in order: nginx stops first, the directory goes last.
pub struct Deployment {
    pub nginx: Nginx,
    pub service: Service,
    pub db: TestDatabase,
    pub certs: TestCerts,
    /// Held so that the files outlive nginx and the service.
    _dir: TempDir,
}

impl Deployment {
    pub async fn start() -> Deployment {
        Self::start_with(&[]).await
    }

    /// A deployment whose service also gets `service_env`.
    pub async fn start_with(service_env: &[(&str, &str)]) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        make_searchable(dir.path());
        let certs = TestCerts::generate(&dir.path().join("certs"));
        let db = TestDatabase::create().await;
        let pins = certs.pins.to_str().expect("UTF-8 path");
        let mut env = vec![
            ("DATABASE_URL", db.url.as_str()),
            ("APP_ENV", "production"),
            ("GOCARDLESS_WEBHOOK_CERT_PATH", pins),
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ];
        env.extend_from_slice(service_env);
        let service = Service::start(&env);
        let nginx = Nginx::start(&dir.path().join("nginx"), &certs.dir, service.addr);
        Deployment {
            nginx,
            service,
            db,
            certs,
            _dir: dir,
        }
    }

    /// A sender that trusts the deployment's CA and presents `client`.
    pub fn sender(&self, client: ClientCert) -> Sender {
        let files = self.certs.client(client);
        let tls = TlsFiles {
            ca: Some(self.certs.ca.clone()),
            cert: files.map(|files| files.cert.clone()),
            key: files.map(|files| files.key.clone()),
        };
        Sender::new(&tls).unwrap()
    }

    /// POSTs `body` to the webhook through nginx, presenting `client` and sending `headers`.
    pub async fn post(&self, client: ClientCert, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        self.sender(client)
            .post(&self.nginx.webhook_url(), body, &headers, None)
            .await
            .unwrap()
    }

    pub async fn assert_nothing_stored(&self) {
        assert_eq!(
            self.db.counts().await,
            RowCounts::default(),
            "rows were stored"
        );
    }

    /// Asserts that the request reached the service: it logged nginx's request id.
    pub fn assert_forwarded(&self, reply: &Reply) {
        let id = request_id(reply);
        assert!(
            self.service.logged_within(id, LOG_DELAY),
            "the service never logged request {id}:\n{}",
            self.service.log()
        );
    }

    /// Asserts that nginx answered alone: the service never logged the request id.
    pub fn assert_not_forwarded(&self, reply: &Reply) {
        let id = request_id(reply);
        assert!(
            !self.service.logged_within(id, Duration::from_millis(200)),
            "the service saw request {id}:\n{}",
            self.service.log()
        );
    }
}

/// nginx's request id, which it sends back on every answer.
pub fn request_id(reply: &Reply) -> &str {
    let id = reply.request_id.as_deref();
    id.unwrap_or_else(|| panic!("no X-Request-Id in the answer: {reply}"))
}

/// nginx's worker runs as `nobody` when the tests run as root; see `nginx::main_config`.
fn make_searchable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
