//! What a stranger, or a broken sender, can send: each hostile request gets its 4xx with a
//! JSON message that says what was wrong, nothing is stored, the service stays up and its
//! memory stays bounded. Also: a peer outside TRUSTED_PROXIES is never believed to carry a
//! certificate, whatever headers it adds to look like a proxy.
//!
//! Requests that are not well-formed HTTP go over a raw socket. Some of them are answered by
//! the HTTP layer (hyper) before the service sees them; the tests say which.

mod common;

use std::time::{Duration, Instant};

use common::certs::TestCerts;
use common::payloads::{self, delivery, payment_failed, transaction};
use common::{pinned_service, post, Answer, Files, Service, TestDb};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A production service on its own MariaDB database, pinning the test certificates.
struct Setup {
    db: TestDb,
    certs: TestCerts,
    service: Service,
    escaped: String,
    _files: Files,
}

impl Setup {
    async fn new(extra: &[(&str, &str)]) -> Setup {
        let db = TestDb::mysql().await;
        let certs = TestCerts::new();
        let files = Files::new();
        let service = pinned_service(&db.url, &certs.pinned_pem(), &files, extra);
        let escaped = certs.pinned.nginx_escaped();
        Setup {
            db,
            certs,
            service,
            escaped,
            _files: files,
        }
    }

    fn cert_headers(&self) -> [(&str, &str); 2] {
        [
            ("X-Client-Cert", self.escaped.as_str()),
            ("X-Client-Verify", "SUCCESS"),
        ]
    }

    async fn send(&self, body: impl Into<Vec<u8>>) -> Answer {
        post(&self.service, &self.cert_headers(), body).await
    }

    /// A request head with the pinned certificate, for raw requests.
    fn raw_head(&self, content_length: Option<usize>) -> String {
        let mut head = format!(
            "POST /api/gocardless/webhook HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nX-Client-Cert: {}\r\nX-Client-Verify: SUCCESS\r\n",
            self.service.addr, self.escaped
        );
        if let Some(length) = content_length {
            head.push_str(&format!("Content-Length: {length}\r\n"));
        }
        head
    }

    async fn assert_still_serving(&self) {
        let health = reqwest::get(self.service.url("/healthz")).await;
        assert!(
            health.is_ok_and(|r| r.status() == 200),
            "the service stopped answering:\n{}",
            self.service.log()
        );
        let answer = self.send(payloads::mixed(&common::unique_suffix())).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
}

/// Asserts a rejection: its status, its code, and a message that says something.
fn assert_rejected(answer: &Answer, status: u16, code: &str, says: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.error(), code, "{:?}", answer.body);
    assert!(
        answer.message().contains(says),
        "message {:?} does not say {says:?}",
        answer.message()
    );
}

/// Writes `request` on a new connection and reads until the service closes it or `limit`
/// passes. Returns what came back.
async fn raw_exchange(service: &Service, request: &[u8], limit: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(service.addr).await.unwrap();
    // The service may answer and close before it has read everything; that is its right.
    let _ = stream.write_all(request).await;
    read_until_closed(&mut stream, limit).await
}

async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    answer
}

/// The status of a raw answer, and its body as JSON when it is JSON.
fn status_and_body(answer: &[u8]) -> (Option<u16>, Option<Value>) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok());
    (status, body)
}

/// `[[[[...]]]]` or `{"a":{"a":...}}`, `depth` levels deep, inside an event's metadata.
fn nested(depth: usize, array: bool) -> String {
    let (open, close) = if array { ("[", "]") } else { ("{\"a\":", "}") };
    let inner = format!("{}1{}", open.repeat(depth), close.repeat(depth));
    let event = payment_failed("EVN", "PMN").to_string();
    let event = event.replacen(
        "\"metadata\":{}",
        &format!("\"metadata\":{{\"deep\":{inner}}}"),
        1,
    );
    format!("{{\"events\":[{event}]}}")
}

#[tokio::test]
async fn json_nested_thousands_deep_gets_400_and_no_stack_overflow() {
    let setup = Setup::new(&[]).await;

    for array in [true, false] {
        let answer = setup.send(nested(50_000, array)).await;
        assert_rejected(&answer, 400, "malformed_json", "recursion limit");
    }

    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

#[tokio::test]
async fn a_repeated_key_anywhere_gets_400_naming_the_key() {
    let setup = Setup::new(&[]).await;
    let event = transaction("EVD", "TRD", "1.00").to_string();
    let twice = event.replacen(
        "\"amount\":\"1.00\"",
        "\"amount\":\"1.00\",\"amount\":\"-999.00\"",
        1,
    );
    assert_ne!(twice, event);

    let answer = setup.send(format!("{{\"events\":[{twice}]}}")).await;

    assert_rejected(&answer, 400, "malformed_json", "duplicate key \"amount\"");
    assert_eq!(setup.db.counts().await, [0; 5]);
}

#[tokio::test]
async fn invalid_utf8_gets_400_with_the_offset() {
    let setup = Setup::new(&[]).await;
    let mut body = delivery(&[transaction("EVU", "TRU", "1.00")]).into_bytes();
    let at = body.len() / 2;
    body[at] = 0xff;

    let answer = setup.send(body).await;

    assert_rejected(&answer, 400, "body_not_utf8", &format!("offset {at}"));
    assert_eq!(setup.db.counts().await, [0; 5]);
}

#[tokio::test]
async fn very_long_strings_get_422_naming_the_field_and_the_limit() {
    let setup = Setup::new(&[]).await;
    let long = "x".repeat(900_000);
    let cases = [
        ("id", "events[0].id"),
        ("description", "events[0].resource.description"),
        ("currency", "events[0].resource.currency"),
    ];

    for (field, path) in cases {
        let mut event = transaction("EVL", "TRL", "1.00");
        if field == "id" {
            event["id"] = json!(long);
        } else {
            event["resource"][field] = json!(long);
        }
        let answer = setup.send(delivery(&[event])).await;
        assert_rejected(&answer, 422, "invalid_payload", path);
        assert!(answer.message().len() < 200, "{}", answer.message());
    }

    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

#[tokio::test]
async fn huge_numbers_get_400_or_422_never_a_rounded_amount() {
    let setup = Setup::new(&[]).await;
    let event = payment_failed("EVH", "PMH").to_string();
    let with = |value: &str| {
        let event = event.replacen(
            "\"metadata\":{}",
            &format!("\"metadata\":{{\"n\":{value}}}"),
            1,
        );
        format!("{{\"events\":[{event}]}}")
    };

    let out_of_range = setup.send(with("1e999999")).await;
    assert_rejected(&out_of_range, 400, "malformed_json", "number out of range");
    let long_digits = setup.send(with(&"9".repeat(400))).await;
    assert_rejected(&long_digits, 400, "malformed_json", "number out of range");

    let mut amount = transaction("EVA", "TRA", "1.00");
    amount["resource"]["amount"] = json!("1".repeat(40));
    let answer = setup.send(delivery(&[amount])).await;
    assert_rejected(&answer, 422, "invalid_payload", "events[0].resource.amount");

    assert_eq!(setup.db.counts().await, [0; 5]);
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_gets_400_and_is_not_stored() {
    let setup = Setup::new(&[]).await;
    let body = payloads::mixed("SHORT");
    let mut stream = TcpStream::connect(setup.service.addr).await.unwrap();
    let head = setup.raw_head(Some(body.len() + 100));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    // The client gives up sending: its end of the connection closes before the length.
    stream.shutdown().await.unwrap();

    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;

    let (status, json) = status_and_body(&answer);
    assert_eq!(status, Some(400), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(json.unwrap()["error"], "body_unreadable");
    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

#[tokio::test]
async fn bytes_beyond_the_content_length_are_not_part_of_the_delivery() {
    let setup = Setup::new(&[]).await;
    let body = payloads::mixed("LONG");
    let mut request = setup.raw_head(Some(body.len())).into_bytes();
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body.as_bytes());
    request.extend_from_slice(b"{\"events\":[]} and some trailing garbage\r\n\r\n");

    let answer = raw_exchange(&setup.service, &request, Duration::from_secs(10)).await;

    // The declared bytes are one delivery, stored; the rest would be a next request, which
    // `Connection: close` means is never read.
    let (status, _) = status_and_body(&answer);
    assert_eq!(status, Some(200), "{}", String::from_utf8_lossy(&answer));
    let stored = setup
        .db
        .value("SELECT body_sha256 FROM webhook_deliveries")
        .await;
    assert_eq!(stored, Some(hex::encode(Sha256::digest(body.as_bytes()))));
    setup.assert_still_serving().await;
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_is_cut_off_and_stores_nothing() {
    let setup = Setup::new(&[]).await;
    let body = payloads::mixed("STALL");
    let mut stream = TcpStream::connect(setup.service.addr).await.unwrap();
    let head = setup.raw_head(Some(body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    stream
        .write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .unwrap();
    let started = Instant::now();

    let answer = read_until_closed(&mut stream, Duration::from_secs(20)).await;

    let (status, json) = status_and_body(&answer);
    assert_eq!(status, Some(408), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(json.unwrap()["error"], "body_timeout");
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_secs(9) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

#[tokio::test]
async fn a_slow_but_steady_client_is_served() {
    let setup = Setup::new(&[]).await;
    let body = delivery(&[payment_failed("EVS", "PMS")]);
    let mut stream = TcpStream::connect(setup.service.addr).await.unwrap();
    let head = setup.raw_head(Some(body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    for chunk in body.as_bytes().chunks(body.len() / 20 + 1) {
        stream.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;

    assert_eq!(status_and_body(&answer).0, Some(200));
    assert_eq!(setup.db.count("webhook_events").await, 1);
}

#[tokio::test]
async fn thousands_of_headers_are_refused_by_the_http_layer_and_the_service_stays_up() {
    let setup = Setup::new(&[]).await;
    let mut request = setup.raw_head(Some(2)).into_bytes();
    for i in 0..5000 {
        request.extend_from_slice(format!("X-Filler-{i}: {i}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n{}");

    let answer = raw_exchange(&setup.service, &request, Duration::from_secs(10)).await;

    // hyper stops at 100 headers and answers 431 itself, without a body, before the
    // service sees the request.
    assert_eq!(
        status_and_body(&answer).0,
        Some(431),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

#[tokio::test]
async fn a_megabyte_certificate_header_is_refused_and_a_large_one_gets_400() {
    let setup = Setup::new(&[]).await;
    let body = payloads::mixed("BIGCERT");

    // 100 KiB fits hyper's buffer and reaches the decoder, which refuses it by length.
    let large = "A".repeat(100 * 1024);
    let headers = [
        ("X-Client-Cert", large.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let answer = post(&setup.service, &headers, body.clone()).await;
    assert_rejected(
        &answer,
        400,
        "client_certificate_malformed",
        "at most 65536",
    );

    // A megabyte does not fit hyper's buffer for the request head: hyper answers 431 itself.
    let mut request = format!(
        "POST /api/gocardless/webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nX-Client-Verify: SUCCESS\r\n\
         X-Client-Cert: ",
        body.len()
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'A', 1024 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    request.extend_from_slice(body.as_bytes());
    let answer = raw_exchange(&setup.service, &request, Duration::from_secs(10)).await;
    assert_eq!(
        status_and_body(&answer).0,
        Some(431),
        "{}",
        String::from_utf8_lossy(&answer[..answer.len().min(300)])
    );

    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

/// The certificate as base64 DER in a header, the way Traefik forwards it.
fn base64_header(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(der)
}

#[tokio::test]
async fn a_certificate_with_trailing_bytes_after_its_der_gets_400() {
    let setup = Setup::new(&[]).await;
    let mut der = setup.certs.pinned.der.clone();
    der.extend_from_slice(&[0x05, 0x00]);
    let header = base64_header(&der);

    let headers = [
        ("X-Client-Cert", header.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let answer = post(&setup.service, &headers, payloads::mixed("TRAIL")).await;

    assert_rejected(
        &answer,
        400,
        "client_certificate_malformed",
        "not valid DER",
    );
    assert_eq!(setup.db.counts().await, [0; 5]);
}

#[tokio::test]
async fn a_certificate_with_an_unknown_signature_algorithm_is_not_pinned_and_gets_403() {
    let setup = Setup::new(&[]).await;
    // rcgen signs with ecdsa-with-SHA256 (1.2.840.10045.4.3.2); swap both occurrences for an
    // OID of the same length that names no algorithm, so the DER stays well-formed.
    let ecdsa_sha256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let unknown = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x7f];
    let mut der = setup.certs.pinned.der.clone();
    let mut swapped = 0;
    while let Some(at) = der.windows(10).position(|w| w == ecdsa_sha256) {
        der[at..at + 10].copy_from_slice(&unknown);
        swapped += 1;
    }
    assert_eq!(
        swapped, 2,
        "the signature algorithm appears twice in a certificate"
    );
    let header = base64_header(&der);

    let headers = [
        ("X-Client-Cert", header.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let answer = post(&setup.service, &headers, payloads::mixed("ALG")).await;

    assert_rejected(&answer, 403, "client_certificate_not_pinned", "sha256 ");
    assert_eq!(setup.db.counts().await, [0; 5]);
}

/// One of each hostile request, over and over, concurrently; the resident memory afterwards
/// stays within a bound of what it was after the first round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_barrage_of_hostile_requests_leaves_memory_bounded() {
    let setup = Setup::new(&[]).await;
    let rounds = 30;
    let bodies: Vec<Vec<u8>> = vec![
        nested(50_000, true).into_bytes(),
        nested(50_000, false).into_bytes(),
        format!(
            "{{\"events\":[{{\"id\":\"{}\"}}]}}",
            "x".repeat(1_000_000 - 20)
        )
        .into_bytes(),
        vec![0xff; 1_000_000],
        vec![b'['; 1_000_000],
        format!("{{\"events\":[{}]}}", "1e999999,".repeat(100_000)).into_bytes(),
        br#"{"events":[],"a":1,"a":2}"#.to_vec(),
    ];
    let url = setup.service.url("/api/gocardless/webhook");
    let escaped = setup.escaped.clone();
    let barrage = |rounds: usize| {
        let bodies = bodies.clone();
        let url = url.clone();
        let escaped = escaped.clone();
        async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for _ in 0..rounds {
                let mut sends = tokio::task::JoinSet::new();
                for body in bodies.iter().cloned() {
                    let request = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-client-cert", &escaped)
                        .header("x-client-verify", "SUCCESS")
                        .body(body);
                    sends.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
                }
                statuses.extend(sends.join_all().await.into_iter().map(Result::unwrap));
            }
            statuses
        }
    };

    barrage(1).await;
    let before = setup.service.rss_kib();
    let statuses = barrage(rounds).await;
    let after = setup.service.rss_kib();

    assert!(
        statuses.iter().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
    let growth = after.saturating_sub(before);
    eprintln!(
        "{} hostile requests of up to 1 MB: RSS {before} KiB before, {after} KiB after",
        statuses.len()
    );
    assert!(growth < 64 * 1024, "RSS grew by {growth} KiB");
    assert_eq!(setup.db.counts().await, [0; 5]);
    setup.assert_still_serving().await;
}

/// Headers that claim, each in its own way, that the request came through a trusted proxy.
const SPOOFS: [(&str, &str); 7] = [
    ("X-Forwarded-For", "192.0.2.1"),
    ("X-Forwarded-For", "127.0.0.1, 192.0.2.1"),
    ("Forwarded", "for=192.0.2.1;proto=https"),
    ("X-Real-IP", "192.0.2.1"),
    ("True-Client-IP", "192.0.2.1"),
    ("X-Client-IP", "192.0.2.1"),
    ("X-Request-Id", "forged-request-id"),
];

#[tokio::test]
async fn a_peer_outside_trusted_proxies_never_carries_a_certificate_in_production() {
    // The tests reach the service from 127.0.0.1; this setting trusts only a documentation
    // address, which no traffic is ever sent to.
    let setup = Setup::new(&[("TRUSTED_PROXIES", "192.0.2.1/32")]).await;
    let escaped = setup.escaped.clone();

    for spoof in SPOOFS {
        for cert_headers in [
            vec![
                ("X-Client-Cert", escaped.as_str()),
                ("X-Client-Verify", "SUCCESS"),
            ],
            vec![("X-Client-Cert", escaped.as_str())],
            vec![("X-Client-Verify", "SUCCESS")],
        ] {
            let mut headers = cert_headers.clone();
            headers.push(spoof);
            let answer = post(&setup.service, &headers, payloads::mixed("SPOOF")).await;
            assert_rejected(&answer, 403, "untrusted_proxy", "127.0.0.1");
        }
        let without_cert = post(&setup.service, &[spoof], payloads::mixed("SPOOF")).await;
        assert_eq!(
            without_cert.status, 401,
            "{spoof:?}: {:?}",
            without_cert.body
        );
    }

    // All the spoofs at once.
    let mut headers = SPOOFS.to_vec();
    headers.extend(setup.cert_headers());
    let answer = post(&setup.service, &headers, payloads::mixed("SPOOF")).await;
    assert_rejected(&answer, 403, "untrusted_proxy", "127.0.0.1");
    assert_eq!(setup.db.counts().await, [0; 5]);
}

#[tokio::test]
async fn a_peer_outside_trusted_proxies_is_stored_unverified_in_development_never_pinned() {
    let setup = Setup::new(&[
        ("TRUSTED_PROXIES", "192.0.2.1/32"),
        ("APP_ENV", "development"),
    ])
    .await;
    let mut headers = SPOOFS.to_vec();
    headers.extend(setup.cert_headers());

    let answer = post(&setup.service, &headers, payloads::mixed("DEV")).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let row = setup
        .db
        .rows(
            "SELECT verification, matched_pin, unverified_reason, peer_addr, request_id \
             FROM webhook_deliveries",
        )
        .await;
    let [verification, pin, reason, peer, request_id] = &row[0][..] else {
        panic!("{row:?}");
    };
    assert_eq!(verification.as_deref(), Some("unverified"));
    assert_eq!(pin, &None);
    assert!(
        reason.as_deref().unwrap().contains("not a trusted proxy"),
        "{reason:?}"
    );
    assert_eq!(
        peer.as_deref(),
        Some("127.0.0.1"),
        "the socket's address, never a header's"
    );
    assert_ne!(request_id.as_deref(), Some("forged-request-id"));
}
