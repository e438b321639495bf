//! What the integration tests share: a fresh database per test, the real binary started with
//! chosen settings, certificates made on the spot, and ways to look at what was stored.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod certs;
pub mod payloads;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub const BINARY: &str = env!("CARGO_BIN_EXE_gocardless-webhooks");

/// Which store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    MySql,
    Sqlite,
}

/// A database of the test's own, dropped with it when it is a MySQL one.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::MySql => TestDb::mysql().await,
            Backend::Sqlite => TestDb::sqlite(),
        }
    }

    /// A new database on the MariaDB server that `scripts/test` started.
    pub async fn mysql() -> TestDb {
        let admin = mysql_admin_url();
        let name = format!("t_{}", unique_suffix());
        let pool = connect(&admin).await;
        sqlx::query(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            .execute(&pool)
            .await
            .expect("create the test database");
        pool.close().await;
        TestDb {
            url: format!("{}/{name}", admin.trim_end_matches('/')),
            backend: Backend::MySql,
            _dir: None,
        }
    }

    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
        }
    }

    pub async fn pool(&self) -> AnyPool {
        let url = match self.backend {
            Backend::MySql => self.url.clone(),
            Backend::Sqlite => format!("{}?mode=rwc", self.url),
        };
        connect(&url).await
    }

    /// The number of rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let pool = self.pool().await;
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|err| panic!("count {table}: {err}"));
        pool.close().await;
        count
    }

    /// Row counts of every table a delivery writes to.
    pub async fn counts(&self) -> [i64; 5] {
        [
            self.count("webhook_deliveries").await,
            self.count("webhook_events").await,
            self.count("transactions").await,
            self.count("bank_accounts").await,
            self.count("bank_connections").await,
        ]
    }

    /// The rows of a query, every column read as text (NULL as `None`).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let pool = self.pool().await;
        let rows = sqlx::query(sql)
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        pool.close().await;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| text(row, i)).collect())
            .collect()
    }

    /// One column of one row, as text.
    pub async fn value(&self, sql: &str) -> Option<String> {
        let rows = self.rows(sql).await;
        assert_eq!(rows.len(), 1, "{sql} returned {} rows", rows.len());
        rows[0][0].clone()
    }
}

/// A column as text, whichever of text, bytes (MySQL's TEXT) or integer the driver sees.
fn text(row: &AnyRow, index: usize) -> Option<String> {
    if let Ok(value) = row.try_get::<Option<String>, _>(index) {
        return value;
    }
    if let Ok(value) = row.try_get::<Option<Vec<u8>>, _>(index) {
        return value.map(|bytes| String::from_utf8(bytes).expect("UTF-8 text"));
    }
    let value: Option<i64> = row
        .try_get(index)
        .unwrap_or_else(|err| panic!("column {index} is neither text nor integer: {err}"));
    value.map(|n| n.to_string())
}

fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .expect("TEST_MYSQL_URL is not set: run the tests with scripts/test, which starts MariaDB")
}

async fn connect(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect to the test database: {err}"))
}

pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}_{nanos:x}_{n}", std::process::id())
}

/// The service binary, running with the given settings, stopped when dropped.
pub struct Service {
    pub addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Service {
    /// Starts the binary and waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> Service {
        Self::try_start(env).unwrap_or_else(|log| panic!("the service did not start:\n{log}"))
    }

    /// Starts the binary; on failure, the log it wrote.
    pub fn try_start(env: &[(&str, &str)]) -> Result<Service, String> {
        let mut child = Command::new(BINARY)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the service");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                return Err(log.lock().unwrap().clone());
            }
        };
        Ok(Service { addr, child, log })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the service has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle` (log lines are written after the answer).
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.logged_within(needle, Duration::from_secs(5));
        self.log()
    }

    /// Whether the log mentions `needle`, waiting up to `wait` for it to arrive.
    pub fn logged_within(&self, needle: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself and returns its status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for the service")
    }
}

impl Service {
    /// Kills the service now rather than when it is dropped.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A production service on `db_url` that pins the certificates in `pem`, written into `files`
/// (which must outlive the service), with `extra` settings on top.
pub fn pinned_service(db_url: &str, pem: &str, files: &Files, extra: &[(&str, &str)]) -> Service {
    let pinned = files.write("pinned.pem", pem);
    let mut env = vec![
        ("DATABASE_URL", db_url),
        (
            "GOCARDLESS_WEBHOOK_CERT_PATH",
            pinned.to_str().expect("UTF-8 path"),
        ),
    ];
    env.extend_from_slice(extra);
    Service::start(&env)
}

/// Runs the binary to completion with the given arguments and settings.
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("run the binary")
}

/// A delivery's answer: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// Posts a body to the webhook with the given extra headers.
pub async fn post(service: &Service, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Answer {
    post_to(&service.url("/api/gocardless/webhook"), headers, body).await
}

pub async fn post_to(url: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body.into());
    let has_content_type = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    if !has_content_type {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("send the delivery");
    answer(response).await
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.text().await.expect("read the answer");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("answer with status {status} is not JSON: {text:?}"));
    Answer {
        status,
        headers,
        body,
    }
}

/// A temporary directory holding files a test writes (certificates, keys).
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Files {
    fn default() -> Self {
        Self::new()
    }
}

/// The shared fixtures, read-only beside this repository.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(relative)
}

impl Service {
    /// Sends a signal (`TERM`, `KILL`, ...) to the service's process.
    pub fn signal(&self, name: &str) {
        send_signal(self.child.id(), name);
    }

    /// Waits up to `limit` for the process to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the service") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The resident memory of the process, in KiB, as the kernel counts it.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read the service's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }
}

/// Sends a signal to a process of the test's own with `kill(1)`.
pub fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// A MariaDB server of the test's own, for tests that stop, kill or inspect the whole server.
/// Started and stopped with the project's scripts, with the same durable settings.
pub struct OwnMariaDb {
    dir: tempfile::TempDir,
    pub port: String,
}

impl OwnMariaDb {
    pub fn start() -> OwnMariaDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = mariadb_script("mariadb-start", dir.path(), None);
        let port = url.rsplit(':').next().unwrap_or_default().trim().to_owned();
        OwnMariaDb { dir, port }
    }

    /// The admin URL, without a database.
    pub fn url(&self) -> String {
        format!("mysql://gcw:gcw@127.0.0.1:{}", self.port)
    }

    /// Creates a database and returns its URL.
    pub async fn database(&self, name: &str) -> String {
        let pool = connect(&self.url()).await;
        sqlx::query(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            .execute(&pool)
            .await
            .expect("create a database");
        pool.close().await;
        format!("{}/{name}", self.url())
    }

    pub fn pid(&self) -> u32 {
        let pidfile = self.dir.path().join("mariadb/mariadbd.pid");
        std::fs::read_to_string(pidfile)
            .expect("read mariadbd.pid")
            .trim()
            .parse()
            .expect("a pid")
    }

    /// Kills the server with SIGKILL, as a crash would, and waits until it is gone. Its pid
    /// file stays behind, as after a real crash; `restart` clears it.
    pub fn kill(&self) {
        let pid = self.pid();
        send_signal(pid, "KILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_alive(pid) {
            assert!(Instant::now() < deadline, "mariadbd {pid} outlived SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port and data, after a crash or a stop.
    pub fn restart(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("mariadb/mariadbd.pid"));
        mariadb_script("mariadb-start", self.dir.path(), Some(&self.port));
    }

    pub fn stop(&self) {
        mariadb_script("mariadb-stop", self.dir.path(), None);
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Alive and not a zombie: a zombie holds no port and no files.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.split_whitespace().next() != Some("Z")),
        Err(_) => false,
    }
}

fn mariadb_script(name: &str, dir: &Path, port: Option<&str>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    let mut command = Command::new(path);
    command.arg(dir.join("mariadb"));
    if let Some(port) = port {
        command.env("MARIADB_PORT", port);
    }
    let output = command.output().expect("run a MariaDB script");
    assert!(
        output.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_owned()
}

/// A small, seedable random number generator (xorshift), so that a fault run can be replayed.
pub struct Dice(u64);

impl Dice {
    /// Seeded from `FAULTS_SEED` when set, otherwise from the clock; the seed is printed.
    pub fn from_env() -> Dice {
        let seed = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("random seed: FAULTS_SEED={seed}");
        Dice(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A whole number in `range`.
    pub fn within(&mut self, range: std::ops::Range<u64>) -> u64 {
        range.start + self.next() % (range.end - range.start)
    }
}

impl TestDb {
    /// A MySQL database the test made itself, such as one on its own [`OwnMariaDb`].
    pub fn at(url: String) -> TestDb {
        TestDb {
            url,
            backend: Backend::MySql,
            _dir: None,
        }
    }
}

/// The address in the "listening" line, in the text log format or the JSON one.
fn listening_addr(line: &str) -> Option<String> {
    if let Some(addr) = line.split("listening addr=socket://").nth(1) {
        return Some(addr.trim().to_owned());
    }
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = &json["fields"];
    if fields["message"] != "listening" {
        return None;
    }
    let addr = fields["addr"].as_str()?;
    Some(addr.trim_start_matches("socket://").to_owned())
}
