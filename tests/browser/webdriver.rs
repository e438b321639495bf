//! Just enough of the W3C WebDriver protocol to drive a headless Chromium through
//! chromedriver, both from Debian's packages. The browser reaches only the test's own
//! loopback service; the flags keep it from calling anywhere else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a page gets to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// chromedriver, and the browser session it runs; both end when this is dropped.
pub struct Browser {
    /// Held for its `Drop`, which stops chromedriver after the session has ended.
    _driver: Driver,
    base: String,
    client: reqwest::Client,
    session: String,
    profile: tempfile::TempDir,
}

/// An element on the page.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    pub async fn start() -> Browser {
        let child = Command::new(CHROMEDRIVER)
            .args(["--port=0", "--log-level=WARNING"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run {CHROMEDRIVER} ({err}): scripts/install-deps installs the \
                     chromium and chromium-driver packages"
                )
            });
        let mut driver = Driver(child);
        let port = announced_port(&mut driver.0);
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut browser = Browser {
            _driver: driver,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            session: String::new(),
            profile,
        };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-breakpad",
            "--disable-crash-reporter",
            "--window-size=1280,2000",
            &format!("--user-data-dir={}", browser.profile.path().display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        }}});
        let session = browser.command("POST", "/session", capabilities).await;
        browser.session = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser
    }

    pub async fn open(&self, url: &str) {
        self.session_command("POST", "/url", json!({ "url": url }))
            .await;
    }

    /// The first element `css` selects, once there is one.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(element) = self.all(css).await.into_iter().next() {
                return element;
            }
            if Instant::now() > deadline {
                let shown = self.shown_text().await;
                panic!("nothing on the page matches {css:?}; it shows:\n{shown}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The start of the page's visible text, for failure messages.
    pub async fn shown_text(&self) -> String {
        let script = json!({
            "script": "return document.location.href + '\\n' + document.body.innerText.slice(0, 2000)",
            "args": []
        });
        let text = self.session_command("POST", "/execute/sync", script).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        let found = self
            .session_command(
                "POST",
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|element| element[ELEMENT].as_str())
            .map(|id| Element(id.to_owned()))
            .collect()
    }

    pub async fn click(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        self.session_command("POST", &path, json!({})).await;
    }

    /// Replaces what an input holds with `text`.
    pub async fn fill(&self, element: &Element, text: &str) {
        let clear = format!("/element/{}/clear", element.0);
        self.session_command("POST", &clear, json!({})).await;
        let value = format!("/element/{}/value", element.0);
        self.session_command("POST", &value, json!({ "text": text }))
            .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        let path = format!("/element/{}/text", element.0);
        let text = self.session_command("GET", &path, Value::Null).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The value of an element's property, such as a textarea's `value`.
    pub async fn property(&self, element: &Element, name: &str) -> String {
        let path = format!("/element/{}/property/{name}", element.0);
        let value = self.session_command("GET", &path, Value::Null).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until `check` returns something, and returns it.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = check().await {
                return found;
            }
            assert!(Instant::now() < deadline, "the page never showed {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn session_command(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.command(method, &path, body).await
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.post(&url).json(&body),
        };
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("chromedriver answers JSON");
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes the browser; killing chromedriver alone could leave it
        // running. Drop cannot wait for async code, so this is a plain blocking request.
        let host = self.base.trim_start_matches("http://");
        if let Ok(mut stream) = TcpStream::connect(host) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
    }
}

/// The chromedriver process, killed when dropped, even if the browser never started.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The port chromedriver says it listens on: "... started successfully on port 40123."
fn announced_port(driver: &mut Child) -> u16 {
    let mut stdout = driver.stdout.take().expect("chromedriver's stdout");
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 512];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = seen.lock().unwrap().clone();
        let port = text
            .split("started successfully on port ")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
            .and_then(|port| port.trim().parse().ok());
        if let Some(port) = port {
            return port;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
