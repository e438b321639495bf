//! The log holds no secrets: broad traffic, accepted and rejected, signed and unsigned, with
//! every kind of certificate header, and then a look through everything the service wrote,
//! at debug level, as text and as JSON. What it may log are hashes, ids, counts and reasons.

mod common;

use common::certs::{Issued, TestCerts};
use common::payloads::{account_update, delivery, transaction};
use common::{pinned_service, post, Files, TestDb};
use gocardless_webhooks::auth::signature::sign;
use serde_json::json;

const SECRET: &str = "whsec-log-test-6c0f2d9a41b7";
const IBAN: &str = "DE89370400440532013000";
/// Text that appears only in request bodies.
const BODY_MARKERS: [&str; 3] = [
    "body-marker-description-3f9a",
    "Body Marker Counterparty 77e1",
    "body-marker-reference-b2c4",
];

/// A delivery carrying every marker, the IBAN, and each of Payymo's types.
fn revealing_delivery(prefix: &str) -> String {
    let mut payment = transaction(&format!("{prefix}T"), &format!("TR{prefix}"), "-12.50");
    payment["resource"]["description"] = json!(BODY_MARKERS[0]);
    payment["resource"]["counterparty_name"] = json!(BODY_MARKERS[1]);
    payment["resource"]["reference"] = json!(BODY_MARKERS[2]);
    let account = account_update(
        &format!("{prefix}A"),
        "AC_LOG",
        "2024-05-01T12:00:00Z",
        json!({ "name": BODY_MARKERS[1], "iban": IBAN }),
    );
    delivery(&[payment, account])
}

/// Runs the traffic against a service with the given log format and returns its log.
async fn log_of_broad_traffic(log_format: &str) -> (String, Vec<String>, TestCerts) {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(
        &db.url,
        &certs.pinned_pem(),
        &files,
        &[
            ("GOCARDLESS_WEBHOOK_SECRET", SECRET),
            ("RUST_LOG", "debug"),
            ("LOG_FORMAT", log_format),
        ],
    );
    let mut signatures = Vec::new();
    let mut send = async |cert: Option<&Issued>, signature: Option<String>, body: String| {
        let escaped = cert.map(Issued::nginx_escaped);
        let mut headers = Vec::new();
        if let Some(escaped) = &escaped {
            headers.push(("X-Client-Cert", escaped.as_str()));
            headers.push(("X-Client-Verify", "SUCCESS"));
        }
        if let Some(signature) = &signature {
            headers.push(("Webhook-Signature", signature.as_str()));
            signatures.push(signature.clone());
        }
        post(&service, &headers, body).await.status
    };

    let body = revealing_delivery("L1");
    let good = sign(SECRET, body.as_bytes());
    assert_eq!(
        send(Some(&certs.pinned), Some(good.clone()), body.clone()).await,
        200
    );
    assert_eq!(
        send(Some(&certs.pinned), Some(good), body).await,
        200,
        "a duplicate"
    );
    let changed = revealing_delivery("L1").replace("-12.50", "-99.00");
    let signature = sign(SECRET, changed.as_bytes());
    assert_eq!(
        send(Some(&certs.pinned), Some(signature), changed).await,
        200,
        "a conflict"
    );

    let body = revealing_delivery("L2");
    let wrong = sign("not-the-secret", body.as_bytes());
    assert_eq!(
        send(Some(&certs.pinned), Some(wrong), body.clone()).await,
        498
    );
    assert_eq!(send(Some(&certs.pinned), None, body.clone()).await, 498);
    let malformed = format!("{}zz", sign(SECRET, body.as_bytes()));
    assert_eq!(
        send(Some(&certs.pinned), Some(malformed), body.clone()).await,
        498
    );
    for cert in [
        &certs.unpinned,
        &certs.expired,
        &certs.not_yet_valid,
        &certs.foreign,
    ] {
        let signature = sign(SECRET, body.as_bytes());
        assert_eq!(send(Some(cert), Some(signature), body.clone()).await, 403);
    }
    assert_eq!(send(None, None, body.clone()).await, 401);

    for bad in [
        format!("{body}trailing"),
        body.replacen("\"amount\"", "\"amount\":\"1\",\"amount\"", 1),
        body.replace("\"EUR\"", "\"E\u{20ac}R\""),
        body.replace("\"-12.50\"", "-12.5"),
    ] {
        let signature = sign(SECRET, bad.as_bytes());
        let status = send(Some(&certs.pinned), Some(signature), bad).await;
        assert!(matches!(status, 400 | 422), "{status}");
    }

    // Certificate headers that fail to decode, each holding most of a real certificate.
    let escaped = certs.pinned.nginx_escaped();
    for header in [
        escaped.replace("%0A", "%07"),
        escaped[..400].to_owned(),
        format!("{escaped}junk"),
        base64_of(&certs.pinned).replace('A', "*"),
    ] {
        let headers = [
            ("X-Client-Cert", header.as_str()),
            ("X-Client-Verify", "SUCCESS"),
        ];
        let status = post(&service, &headers, "{}").await.status;
        assert_eq!(status, 400);
    }
    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "FAILED:certificate has expired"),
    ];
    assert_eq!(post(&service, &headers, "{}").await.status, 403);

    service.signal("TERM");
    let mut service = service;
    service
        .wait_timeout(std::time::Duration::from_secs(15))
        .expect("a graceful stop");
    (service.log(), signatures, certs)
}

/// Every 32-character piece of `text` that starts at a multiple of 16: any run of 48 or more
/// characters of `text` in the log contains one of them whole.
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    (0..text.len().saturating_sub(32))
        .step_by(16)
        .filter_map(move |at| text.get(at..at + 32))
}

/// The base64 inside a certificate's PEM, on one line.
fn base64_of(cert: &Issued) -> String {
    cert.cert_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

fn assert_no_secrets(log: &str, signatures: &[String], certs: &TestCerts) {
    assert!(
        log.contains("delivery stored"),
        "the traffic reached the log:\n{log}"
    );
    assert!(!log.contains(SECRET), "the signing secret is in the log");
    for signature in signatures {
        assert!(
            !log.contains(signature.as_str()),
            "signature {signature} is in the log"
        );
    }
    assert!(!log.contains(IBAN), "an IBAN is in the log");
    for marker in BODY_MARKERS {
        assert!(!log.contains(marker), "body text {marker:?} is in the log");
    }
    assert!(
        !log.contains("gcw:gcw"),
        "the database password is in the log"
    );
    for cert in [
        &certs.pinned,
        &certs.unpinned,
        &certs.expired,
        &certs.foreign,
    ] {
        let base64 = base64_of(cert);
        let escaped = cert.nginx_escaped();
        for piece in pieces(&base64).chain(pieces(&escaped)) {
            assert!(
                !log.contains(piece),
                "certificate text {piece:?} is in the log"
            );
        }
    }
}

#[tokio::test]
async fn a_text_log_of_broad_traffic_holds_no_secret_signature_certificate_iban_or_body() {
    let (log, signatures, certs) = log_of_broad_traffic("text").await;
    assert_no_secrets(&log, &signatures, &certs);
}

#[tokio::test]
async fn a_json_log_of_broad_traffic_holds_no_secret_signature_certificate_iban_or_body() {
    let (log, signatures, certs) = log_of_broad_traffic("json").await;
    assert!(log
        .lines()
        .all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()));
    assert_no_secrets(&log, &signatures, &certs);
}
