//! Deliveries over HTTP: through nginx with TLS and a client certificate, as GoCardless sends
//! them, or straight to the service with the headers nginx would have added.

use std::path::PathBuf;

use anyhow::Context as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, ORIGIN, USER_AGENT};

use crate::load::{Outcome, Worker};
use crate::payload::Batch;

/// What nginx's `$ssl_client_escaped_cert` leaves as it is; everything else is escaped.
const UNESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How to reach the target.
pub struct Target {
    pub url: String,
    /// Trust this CA for the server, and present this certificate and key (both PEM).
    pub tls: Option<TlsFiles>,
    /// Send this certificate (PEM) in `X-Client-Cert`, escaped as nginx escapes it, with
    /// `X-Client-Verify: SUCCESS`: for the service without nginx in front.
    pub forward_cert: Option<PathBuf>,
    pub secret: String,
    /// The status that means stored: 200 from a receiver, 204 from the proxy alone.
    pub expect: u16,
}

pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Target {
    /// A worker with a client, and so a keep-alive connection, of its own.
    pub fn worker(&self) -> anyhow::Result<HttpWorker> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1);
        if let Some(tls) = &self.tls {
            let ca = read(&tls.ca)?;
            let mut identity = read(&tls.cert)?;
            identity.push(b'\n');
            identity.extend(read(&tls.key)?);
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
                .identity(reqwest::Identity::from_pem(&identity)?);
        }

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("gcw-loadgen"));
        headers.insert(
            ORIGIN,
            HeaderValue::from_static("https://api.gocardless.com"),
        );
        if let Some(cert) = &self.forward_cert {
            let pem = String::from_utf8(read(cert)?).context("the certificate is not PEM")?;
            let escaped = utf8_percent_encode(&pem, UNESCAPED).to_string();
            headers.insert(HeaderName::from_static("x-client-cert"), escaped.parse()?);
            headers.insert(
                HeaderName::from_static("x-client-verify"),
                HeaderValue::from_static("SUCCESS"),
            );
        }

        Ok(HttpWorker {
            client: builder.build().context("cannot set up the HTTP client")?,
            url: self.url.clone(),
            headers,
            secret: self.secret.clone(),
            expect: self.expect,
        })
    }
}

pub struct HttpWorker {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    secret: String,
    expect: u16,
}

impl Worker for HttpWorker {
    async fn send(&mut self, batch: &Batch) -> anyhow::Result<Outcome> {
        let signature = gocardless_webhooks::auth::signature::sign(&self.secret, &batch.body);
        let response = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header("webhook-signature", signature)
            .body(batch.body.clone())
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        if status != self.expect {
            return Ok(Outcome::Refused(status));
        }
        let accepted = match status {
            200 => Some(accepted(&body).context("a 200 answer without `accepted`")?),
            _ => None,
        };
        Ok(Outcome::Stored { accepted })
    }
}

fn accepted(body: &[u8]) -> Option<u64> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    answer.get("accepted")?.as_u64()
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_certificate_decodes_to_the_pem_it_came_from() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB+/a=\n-----END CERTIFICATE-----\n";
        let escaped = utf8_percent_encode(pem, UNESCAPED).to_string();
        assert!(!escaped.contains(['\n', ' ', '+', '/', '=']));
        let decoded = percent_encoding::percent_decode_str(&escaped)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, pem);
    }
}
