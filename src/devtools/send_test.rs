//! `send-test`: plays GoCardless. It POSTs a sample delivery over HTTPS, presenting a client
//! certificate, the way the testing tool in GoCardless's dashboard does, and shows the answer.
//! The end-to-end tests send through the same code.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::auth::signature::{self, SIGNATURE_HEADER};

/// Where nginx listens when run as the README describes.
pub const DEFAULT_URL: &str = "https://localhost:8443/api/gocardless/webhook";
/// Longer than GoCardless waits (10 seconds), so that a slow answer is still shown.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The sample events `send-test` can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleKind {
    /// Payymo's transactions/created: a booked debit of 12.50 GBP.
    Transaction,
    /// Payymo's accounts/updated: an account's name, IBAN, currency and status.
    Account,
    /// Payymo's connections/revoked: a bank connection the customer withdrew.
    Connection,
    /// GoCardless's payments/confirmed: stored as received, with no typed table.
    Payment,
}

impl SampleKind {
    pub fn resource_type(self) -> &'static str {
        match self {
            SampleKind::Transaction => "transactions",
            SampleKind::Account => "accounts",
            SampleKind::Connection => "connections",
            SampleKind::Payment => "payments",
        }
    }

    pub fn action(self) -> &'static str {
        match self {
            SampleKind::Transaction => "created",
            SampleKind::Account => "updated",
            SampleKind::Connection => "revoked",
            SampleKind::Payment => "confirmed",
        }
    }
}

/// Sends a sample delivery to a webhook receiver and prints the answer.
#[derive(clap::Args)]
pub struct SendTestArgs {
    /// Where to POST the delivery.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,

    /// Which sample event to send.
    #[arg(long, value_enum, default_value_t = SampleKind::Transaction)]
    pub event: SampleKind,

    /// The event's id; the ids of what it is about are made from it. Send the same id twice to
    /// see the second counted as a duplicate. [default: a new id on every run]
    #[arg(long)]
    pub event_id: Option<String>,

    /// Client certificate to present (PEM). The key may be in the same file.
    #[arg(long, env = "GOCARDLESS_WEBHOOK_CERT_PATH")]
    pub cert: Option<PathBuf>,

    /// Private key of the client certificate (PEM).
    #[arg(long, env = "GOCARDLESS_WEBHOOK_KEY_PATH", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Trust only this CA (PEM) for the server's certificate, instead of the system's CAs.
    #[arg(long)]
    pub ca: Option<PathBuf>,

    /// Sign the body with this webhook secret: a Webhook-Signature header with the lower-case
    /// hex HMAC-SHA256 of the body. Prefer the environment variable to the flag, which other
    /// users of the machine can see.
    #[arg(long, env = "GOCARDLESS_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: Option<WebhookSecret>,

    /// An extra request header, such as "X-Client-Verify: SUCCESS". Repeatable.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

/// Runs `send-test`: builds the sample, sends it, prints what came back.
///
/// # Errors
///
/// If a file cannot be read, the request cannot be made, or the answer is not 2xx.
pub async fn run(args: SendTestArgs) -> anyhow::Result<()> {
    let sample = SampleDelivery::new(args.event, args.event_id.as_deref());
    let headers = args
        .headers
        .iter()
        .map(|line| parse_header(line))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tls = TlsFiles {
        ca: args.ca,
        cert: args.cert,
        key: args.key,
    };
    let sender = Sender::new(&tls)?;

    println!(
        "POST {} with {}/{} event {}",
        args.url,
        args.event.resource_type(),
        args.event.action(),
        sample.event_id
    );
    let reply = sender
        .post(&args.url, &sample.body, &headers, args.secret.as_ref())
        .await?;
    println!("{reply}");

    if !reply.status.is_success() {
        anyhow::bail!("the receiver answered {}", reply.status);
    }
    Ok(())
}

fn parse_header(line: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = line
        .split_once(':')
        .with_context(|| format!("header {line:?} is not \"Name: value\""))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// A webhook secret. Its `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookSecret(secret.into())
    }
}

impl FromStr for WebhookSecret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(WebhookSecret(text.to_owned()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// A delivery of one sample event that passes the service's validation.
#[derive(Clone, Debug)]
pub struct SampleDelivery {
    pub event_id: String,
    /// The id in `links` of what the event is about: the transaction, account, connection or
    /// payment.
    pub resource_id: String,
    /// The account a transaction or connection belongs to, or that an account update is about.
    pub account_id: Option<String>,
    /// The JSON exactly as sent.
    pub body: Vec<u8>,
}

impl SampleDelivery {
    /// A delivery of one `kind` event with `event_id`, or a new unique id. Every other id in it
    /// is the event id with its `EV` replaced, so that a repeated event id repeats them too.
    pub fn new(kind: SampleKind, event_id: Option<&str>) -> Self {
        let event_id = event_id.map_or_else(new_event_id, str::to_owned);
        let suffix = event_id.strip_prefix("EV").unwrap_or(&event_id);
        let id = |prefix: &str| format!("{prefix}{suffix}");
        let account_id = id("BA");

        let (resource_id, links, extra) = match kind {
            SampleKind::Transaction => {
                let transaction = id("TR");
                let links = json!({ "transaction": transaction, "account": account_id });
                (transaction, links, transaction_fields())
            }
            SampleKind::Account => {
                let links = json!({ "account": account_id });
                (account_id.clone(), links, account_fields())
            }
            SampleKind::Connection => {
                let connection = id("BC");
                let links = json!({ "connection": connection, "account": account_id });
                (connection, links, connection_fields())
            }
            SampleKind::Payment => {
                let payment = id("PM");
                let links = json!({ "payment": payment });
                (payment, links, payment_fields())
            }
        };

        let mut event = json!({
            "id": event_id,
            "created_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "resource_type": kind.resource_type(),
            "action": kind.action(),
            "links": links,
        });
        if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
            event.extend(extra);
        }
        let delivery = json!({ "events": [event], "meta": { "webhook_id": id("WB") } });

        SampleDelivery {
            account_id: (kind != SampleKind::Payment).then_some(account_id),
            event_id,
            resource_id,
            body: delivery.to_string().into_bytes(),
        }
    }
}

fn transaction_fields() -> Value {
    let today = Utc::now().date_naive().to_string();
    json!({
        "resource": {
            "amount": "-12.50",
            "currency": "GBP",
            "booking_date": today,
            "value_date": today,
            "description": "Sample transaction from gocardless-webhooks send-test",
            "reference": "SEND-TEST",
            "counterparty_name": "Example Supplies Ltd",
        }
    })
}

fn account_fields() -> Value {
    json!({
        "resource": {
            "name": "Send-test current account",
            "iban": "GB82WEST12345698765432",
            "currency": "GBP",
            "status": "active",
        }
    })
}

fn connection_fields() -> Value {
    json!({ "details": { "origin": "customer", "reason": "consent withdrawn (send-test)" } })
}

fn payment_fields() -> Value {
    json!({
        "details": {
            "origin": "gocardless",
            "cause": "payment_confirmed",
            "description": "Sample payment confirmation from gocardless-webhooks send-test",
        },
        "metadata": {},
    })
}

/// `EV`, then the time in microseconds, this process's id and a counter, in hex: unique across
/// runs and across threads of one run.
fn new_event_id() -> String {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let micros = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 0x1000;
    format!("EV{micros:X}{:06X}{sequence:03X}", std::process::id())
}

/// The TLS side of a sender: the CA to trust for the server, and the certificate to present.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// Trust only this CA; the system's CAs when absent.
    pub ca: Option<PathBuf>,
    /// Present this client certificate (PEM, possibly with its key); none when absent.
    pub cert: Option<PathBuf>,
    /// The client certificate's key, when not in the certificate's file.
    pub key: Option<PathBuf>,
}

/// An HTTPS client set up with one [`TlsFiles`].
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// # Errors
    ///
    /// If a file cannot be read or does not hold what it should.
    pub fn new(tls: &TlsFiles) -> anyhow::Result<Self> {
        // Proxies from the environment are ignored: the point is to reach the receiver itself.
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(TIMEOUT)
            .no_proxy();
        if let Some(ca) = &tls.ca {
            let pem = read(ca)?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(certificate);
        }
        if let Some(cert) = &tls.cert {
            let mut pem = read(cert)?;
            if let Some(key) = &tls.key {
                pem.push(b'\n');
                pem.extend(read(key)?);
            }
            let identity = reqwest::Identity::from_pem(&pem).with_context(|| {
                format!(
                    "{} and its key are not a PEM certificate and key",
                    cert.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        let client = builder.build().context("cannot set up the HTTPS client")?;
        Ok(Sender { client })
    }

    /// POSTs `body` as JSON with the extra `headers`, signed when a `secret` is given.
    ///
    /// # Errors
    ///
    /// If no answer arrives: the connection, TLS handshake or request failed, or timed out.
    pub async fn post(
        &self,
        url: &str,
        body: &[u8],
        headers: &[(String, String)],
        secret: Option<&WebhookSecret>,
    ) -> anyhow::Result<Reply> {
        let mut request_headers = HeaderMap::new();
        request_headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request_headers.insert(
            USER_AGENT,
            HeaderValue::from_static("gocardless-webhooks send-test"),
        );
        if let Some(secret) = secret {
            let signature = HeaderValue::from_str(&signature::sign(&secret.0, body))?;
            request_headers.insert(HeaderName::from_static(SIGNATURE_HEADER), signature);
        }
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .with_context(|| format!("{name:?} is not a header name"))?;
            let value = HeaderValue::from_str(value)
                .with_context(|| format!("the value of {name} is not a valid header value"))?;
            request_headers.append(name, value);
        }

        let response = self
            .client
            .post(url)
            .headers(request_headers)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|err| no_answer(url, err))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.map_err(|err| no_answer(url, err))?;
        Ok(Reply {
            status,
            request_id,
            body,
        })
    }
}

/// Names the cause in the message itself (connection refused, the TLS alert, a timeout): it is
/// what the person running `send-test` needs, however the error is printed.
fn no_answer(url: &str, err: reqwest::Error) -> anyhow::Error {
    anyhow::anyhow!("POST {url} got no answer: {:#}", anyhow::Error::from(err))
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// What the receiver answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// nginx's request id, when it sent one back: the service logs it with the delivery.
    pub request_id: Option<String>,
    pub body: String,
}

impl Reply {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The `error` code of a JSON error body.
    pub fn error_code(&self) -> Option<String> {
        self.json()?.get("error")?.as_str().map(str::to_owned)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "HTTP {}", self.status)?;
        if let Some(id) = &self.request_id {
            writeln!(f, "X-Request-Id: {id}")?;
        }
        write!(f, "{}", self.body.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events;

    #[test]
    fn every_sample_passes_the_services_validation() {
        for kind in [
            SampleKind::Transaction,
            SampleKind::Account,
            SampleKind::Connection,
            SampleKind::Payment,
        ] {
            let sample = SampleDelivery::new(kind, None);
            let parsed = events::parse(&sample.body);
            assert!(parsed.is_ok(), "{kind:?}: {:?}", parsed.err());
        }
    }

    #[test]
    fn a_repeated_event_id_repeats_every_id_in_the_delivery() {
        let first = SampleDelivery::new(SampleKind::Transaction, Some("EVREPEAT1"));
        let second = SampleDelivery::new(SampleKind::Transaction, Some("EVREPEAT1"));
        assert_eq!(first.resource_id, "TRREPEAT1");
        assert_eq!(second.resource_id, first.resource_id);
        assert_eq!(second.account_id.as_deref(), Some("BAREPEAT1"));
    }

    #[test]
    fn new_event_ids_differ_within_one_run() {
        let a = SampleDelivery::new(SampleKind::Payment, None);
        let b = SampleDelivery::new(SampleKind::Payment, None);
        assert_ne!(a.event_id, b.event_id);
        assert!(a.event_id.starts_with("EV") && a.event_id.len() <= 64);
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        assert_eq!(
            format!("{:?}", WebhookSecret::new("hunter2")),
            "WebhookSecret([redacted])"
        );
    }

    #[test]
    fn extra_headers_are_name_colon_value() {
        let (name, value) = parse_header("X-Client-Verify:  SUCCESS ").unwrap();
        assert_eq!(
            (name.as_str(), value.as_str()),
            ("X-Client-Verify", "SUCCESS")
        );
        assert!(parse_header("no colon here").is_err());
    }
}
