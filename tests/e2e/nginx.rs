//! nginx with the project's own template, rendered into a directory of its own.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/nginx/gocardless-webhooks.conf.template"
);
const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Another process may take a port between our choosing it and nginx binding it.
const START_ATTEMPTS: usize = 3;

/// A running nginx. Stopped when dropped.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub public_port: u16,
    pub internal_port: u16,
}

impl Nginx {
    /// Renders the template into `dir` with the certificates in `cert_dir` and the service at
    /// `service`, and starts nginx on two free loopback ports.
    pub fn start(dir: &Path, cert_dir: &Path, service: SocketAddr) -> Nginx {
        fs::create_dir_all(dir.join("tmp")).unwrap();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let [public_port, internal_port] = free_ports();
            let site = render(
                &fs::read_to_string(TEMPLATE).unwrap(),
                &[
                    ("GCW_SERVER_NAME", "localhost"),
                    ("GCW_PUBLIC_LISTEN", &format!("127.0.0.1:{public_port}")),
                    ("GCW_INTERNAL_LISTEN", &format!("127.0.0.1:{internal_port}")),
                    ("GCW_SERVICE_ADDR", &service.to_string()),
                    ("GCW_CERT_DIR", cert_dir.to_str().unwrap()),
                ],
            );
            fs::write(dir.join("gocardless-webhooks.conf"), site).unwrap();
            fs::write(dir.join("nginx.conf"), main_config(dir)).unwrap();
            let _ = fs::remove_file(dir.join("nginx.pid"));

            let mut nginx = Nginx {
                child: spawn(dir),
                dir: dir.to_owned(),
                public_port,
                internal_port,
            };
            match nginx.wait_until_listening() {
                Ok(()) => return nginx,
                Err(error) => last_error = error,
            }
        }
        panic!("nginx did not start:\n{last_error}");
    }

    /// `https://localhost:PORT` and `path`, on the side GoCardless sees.
    pub fn public_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.public_port)
    }

    pub fn webhook_url(&self) -> String {
        self.public_url("/api/gocardless/webhook")
    }

    /// `http://127.0.0.1:PORT` and `path`, on the private side.
    pub fn internal_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.internal_port)
    }

    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("nginx exited ({status}):\n{}", self.error_log()));
            }
            // The pid file appears once nginx holds its ports; a connection alone could reach
            // another process that took one of them first.
            let started = self.dir.join("nginx.pid").exists();
            if started
                && [self.public_port, self.internal_port]
                    .into_iter()
                    .all(answers)
            {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "nginx did not listen in time:\n{}",
            self.error_log()
        ))
    }
}

/// Replaces each `${NAME}` of `values` in `template`, as envsubst would, and checks that the
/// template uses exactly those names: one missing here would be missing in a deployment too.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut wanted = placeholders(template);
    let mut given: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
    wanted.sort();
    given.sort();
    assert_eq!(wanted, given, "the template's placeholders");

    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    text
}

/// The distinct names of the `${NAME}` placeholders outside comments.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names: Vec<&str> = template
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split("${").skip(1))
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The main configuration around the template: everything nginx writes stays in `dir`.
///
/// Run as root (as in CI), the master starts its worker as nginx's default user, `nobody`,
/// as it would in production. The worker writes large bodies under `dir/tmp`, which nginx
/// creates for that user, so `dir` and its parents must be searchable by it; the private keys
/// are read by the master alone and stay owner-only.
fn main_config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "worker_processes 1;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         \x20   access_log {dir}/access.log;\n\
         \x20   client_body_temp_path {dir}/tmp/body;\n\
         \x20   proxy_temp_path {dir}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {dir}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {dir}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {dir}/tmp/scgi;\n\
         \x20   include {dir}/gocardless-webhooks.conf;\n\
         }}\n"
    )
}

fn spawn(dir: &Path) -> Child {
    let prefix = dir.to_str().unwrap();
    let config = dir.join("nginx.conf");
    let error_log = dir.join("error.log");
    Command::new(nginx_binary())
        .args(["-p", prefix, "-c", config.to_str().unwrap()])
        .args(["-e", error_log.to_str().unwrap()])
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start nginx: is it installed? (scripts/install-deps)")
}

/// nginx lives in /usr/sbin, which is not on every PATH.
fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// Two distinct ports that nothing listens on now: both are held until both are chosen.
fn free_ports() -> [u16; 2] {
    let listeners = [(); 2].map(|()| TcpListener::bind("127.0.0.1:0").unwrap());
    listeners.map(|listener| listener.local_addr().unwrap().port())
}

fn answers(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

impl Drop for Nginx {
    /// TERM makes the master stop its worker before it exits; a KILL would leave the worker
    /// holding the ports.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
