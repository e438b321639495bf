//! The real service binary, in production mode, on a port of its own choosing.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const LISTENING: &str = "listening addr=socket://";

/// A running service. Killed when dropped.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Service {
    /// Starts the service on `database_url`, pinning the certificates in `pins`, trusting
    /// certificate headers from 127.0.0.1 only. `extra_env` is added last.
    pub fn start(database_url: &str, pins: &Path, extra_env: &[(&str, &str)]) -> Service {
        // A clean environment, so that nothing set in the shell changes what is tested.
        let mut command = Command::new(env!("CARGO_BIN_EXE_gocardless-webhooks"));
        command
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("APP_ENV", "production")
            .env("GOCARDLESS_WEBHOOK_CERT_PATH", pins)
            .env("TRUSTED_PROXIES", "127.0.0.1/32")
            .env("RUST_LOG", "info")
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("cannot start the service binary");

        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        // Reads until the process ends, so that the pipe never fills and every line can be
        // searched later.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = addr_tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });

        match addr_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => Service { child, addr, log },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the service did not start:\n{}", log.lock().unwrap());
            }
        }
    }

    /// Kills the service now rather than at the end of the test.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the service has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether a log line mentions `text`, waiting up to `wait` for it to arrive.
    pub fn logged_within(&self, text: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if self.log().contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(LISTENING)? + LISTENING.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}
