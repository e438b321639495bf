//! Real GoCardless deliveries: `Webhook-Signature`, the two layers of authentication, every
//! resource type, and the environment a delivery came from, on MariaDB.

mod common;

use common::certs::TestCerts;
use common::payloads::{self, delivery};
use common::{fixture, pinned_service, post, Answer, Files, Service, TestDb};
use gocardless_webhooks::auth::signature::sign;
use serde_json::json;

const SECRET: &str = "gc-endpoint-secret-7f3a";

/// The two published test vectors: body file, secret, signature.
const VECTORS: [(&str, &str, &str); 2] = [
    (
        "gocardless/signed-two-events.json",
        "ED7D658C-D8EB-4941-948B-3973214F2D49",
        "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e",
    ),
    (
        "gocardless/signed-payment-failed.json",
        "testing",
        "243f3efa57743c24eec7c5e10edc475b547830d256d5b583745afe319dd90936",
    ),
];

async fn signed_post(service: &Service, secret: &str, body: &[u8]) -> Answer {
    let signature = sign(secret, body);
    post(
        service,
        &[("Webhook-Signature", signature.as_str())],
        body.to_vec(),
    )
    .await
}

fn signature_only(db: &TestDb, secrets: &str) -> Service {
    Service::start(&[
        ("DATABASE_URL", &db.url),
        ("GOCARDLESS_WEBHOOK_SECRET", secrets),
    ])
}

#[tokio::test]
async fn the_published_vectors_are_accepted_byte_for_byte_with_the_signature_alone() {
    let db = TestDb::mysql().await;
    let secrets = format!("{},{}", VECTORS[0].1, VECTORS[1].1);
    let service = signature_only(&db, &secrets);

    for (file, _, signature) in VECTORS {
        let body = std::fs::read(fixture(file)).unwrap();
        let answer = post(&service, &[("Webhook-Signature", signature)], body).await;
        assert_eq!(answer.status, 200, "{file}: {:?}", answer.body);
    }

    assert_eq!(db.count("webhook_events").await, 3);
    let rows = db
        .rows("SELECT verification, matched_pin, signature FROM webhook_deliveries")
        .await;
    for row in rows {
        assert_eq!(row, [Some("verified".into()), None, Some("valid".into())]);
    }
    let payment = db
        .value("SELECT resource_id FROM webhook_events WHERE event_id = 'EVTESTNE86TNZS'")
        .await;
    assert_eq!(payment.as_deref(), Some("index_ID_123"));
}

#[tokio::test]
async fn one_changed_byte_of_body_secret_or_signature_gets_498_and_stores_nothing() {
    let db = TestDb::mysql().await;
    let (file, secret, signature) = VECTORS[1];
    let service = signature_only(&db, secret);
    let body = std::fs::read(fixture(file)).unwrap();

    let mut changed_body = body.clone();
    changed_body[20] ^= 0x01;
    let answer = post(&service, &[("Webhook-Signature", signature)], changed_body).await;
    assert_eq!((answer.status, answer.error()), (498, "signature_mismatch"));

    let answer = signed_post(&service, "testinh", &body).await;
    assert_eq!((answer.status, answer.error()), (498, "signature_mismatch"));

    let changed_signature = format!("{}0", &signature[..63]);
    let answer = post(
        &service,
        &[("Webhook-Signature", &changed_signature)],
        body.clone(),
    )
    .await;
    assert_eq!((answer.status, answer.error()), (498, "signature_mismatch"));

    let answer = post(&service, &[], body.clone()).await;
    assert_eq!((answer.status, answer.error()), (498, "signature_missing"));

    let answer = post(&service, &[("Webhook-Signature", "sha256=nope")], body).await;
    assert_eq!(
        (answer.status, answer.error()),
        (498, "signature_malformed")
    );

    assert_eq!(db.counts().await, [0; 5]);
    let log = service.wait_for_log("signature_malformed");
    assert!(
        log.contains("WARN") && log.contains("signature mismatch"),
        "{log}"
    );
}

#[tokio::test]
async fn with_both_layers_configured_each_must_pass() {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let secret = [("GOCARDLESS_WEBHOOK_SECRET", SECRET)];
    let service = pinned_service(&db.url, &certs.pinned.cert_pem, &files, &secret);
    let body = payloads::mixed("L1");
    let good_signature = sign(SECRET, body.as_bytes());
    let bad_signature = sign("another-secret", body.as_bytes());
    let pinned_cert = certs.pinned.nginx_escaped();
    let unpinned_cert = certs.unpinned.nginx_escaped();
    let send = |cert: &str, signature: &str| {
        let headers = [
            ("X-Client-Cert", cert.to_owned()),
            ("X-Client-Verify", "SUCCESS".to_owned()),
            ("Webhook-Signature", signature.to_owned()),
        ];
        let body = body.clone();
        let service = &service;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(service, &headers, body).await
        }
    };

    assert_eq!(send(&pinned_cert, &bad_signature).await.status, 498);
    assert_eq!(send(&unpinned_cert, &good_signature).await.status, 403);
    assert_eq!(db.counts().await, [0; 5]);

    let answer = send(&pinned_cert, &good_signature).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let row = db
        .rows("SELECT matched_pin, signature FROM webhook_deliveries")
        .await;
    assert_eq!(
        row[0][0].as_deref(),
        Some(certs.pinned.openssl_fingerprint().as_str())
    );
    assert_eq!(row[0][1].as_deref(), Some("valid"));
}

#[tokio::test]
async fn every_gocardless_resource_type_is_stored_with_a_searchable_resource_id() {
    let db = TestDb::mysql().await;
    let service = signature_only(&db, SECRET);
    let types = [
        ("payments", "payment", "confirmed"),
        ("mandates", "mandate", "active"),
        ("payouts", "payout", "paid"),
        ("refunds", "refund", "created"),
        ("subscriptions", "subscription", "cancelled"),
        ("instalment_schedules", "instalment_schedule", "created"),
        ("creditors", "creditor", "updated"),
        ("customers", "customer", "deleted"),
        ("billing_requests", "billing_request", "fulfilled"),
        ("exports", "export", "completed"),
        ("scheme_identifiers", "scheme_identifier", "activated"),
        ("payer_authorisations", "payer_authorisation", "completed"),
        ("outbound_payments", "outbound_payment", "executed"),
        (
            "payment_account_transactions",
            "payment_account_transaction",
            "created",
        ),
        ("organisations", "organisation", "disconnected"),
        (
            "something_gocardless_adds_later",
            "something_gocardless_adds_later",
            "happened",
        ),
    ];
    let events: Vec<_> = types
        .iter()
        .enumerate()
        .map(|(i, (resource_type, link, action))| {
            json!({
                "id": format!("EVT{i:03}"),
                "created_at": "2024-06-01T10:00:00.000Z",
                "resource_type": resource_type,
                "action": action,
                "links": { *link: format!("ID{i:03}"), "parent_event": "EVPARENT" },
                "details": { "origin": "gocardless", "cause": "test" },
                "metadata": {},
                "resource_metadata": { "order": "42" }
            })
        })
        .collect();

    let answer = signed_post(&service, SECRET, delivery(&events).as_bytes()).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["accepted"], types.len());
    for (i, (resource_type, ..)) in types.iter().enumerate() {
        let sql =
            format!("SELECT resource_type FROM webhook_events WHERE resource_id = 'ID{i:03}'");
        assert_eq!(db.value(&sql).await.as_deref(), Some(*resource_type));
    }
    let links = db
        .value("SELECT links FROM webhook_events WHERE event_id = 'EVT000'")
        .await
        .unwrap();
    let links: serde_json::Value = serde_json::from_str(&links).unwrap();
    assert_eq!(
        links,
        json!({ "payment": "ID000", "parent_event": "EVPARENT" })
    );
}

#[tokio::test]
async fn the_origin_is_recorded_and_an_operator_can_accept_only_one_environment() {
    let db = TestDb::mysql().await;
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("GOCARDLESS_WEBHOOK_SECRET", SECRET),
        ("GOCARDLESS_ENVIRONMENT", "sandbox"),
    ]);
    let body = payloads::mixed("O1");
    let signature = sign(SECRET, body.as_bytes());

    let live = [
        ("Webhook-Signature", signature.as_str()),
        ("Origin", "https://api.gocardless.com"),
    ];
    let answer = post(&service, &live, body.clone()).await;
    assert_eq!(
        (answer.status, answer.error()),
        (403, "wrong_gocardless_environment")
    );
    let answer = post(
        &service,
        &[("Webhook-Signature", signature.as_str())],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, 403, "no Origin is not the sandbox");
    assert_eq!(db.counts().await, [0; 5]);

    let sandbox = [
        ("Webhook-Signature", signature.as_str()),
        ("Origin", "https://api-sandbox.gocardless.com"),
    ];
    let answer = post(&service, &sandbox, body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let environment = db
        .value("SELECT gocardless_environment FROM webhook_deliveries")
        .await;
    assert_eq!(environment.as_deref(), Some("sandbox"));
}

#[tokio::test]
async fn development_mode_stores_a_bad_signature_as_unverified_with_the_reason() {
    let db = TestDb::mysql().await;
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("APP_ENV", "development"),
        ("GOCARDLESS_WEBHOOK_SECRET", SECRET),
    ]);

    let answer = signed_post(&service, "not-the-secret", payloads::mixed("D1").as_bytes()).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let row = db
        .rows("SELECT verification, signature, unverified_reason FROM webhook_deliveries")
        .await;
    assert_eq!(row[0][0].as_deref(), Some("unverified"));
    assert_eq!(row[0][1], None);
    assert!(
        row[0][2].as_deref().unwrap().contains("signature mismatch"),
        "{row:?}"
    );
}

#[tokio::test]
async fn neither_the_secret_nor_a_signature_reaches_the_log() {
    let db = TestDb::mysql().await;
    let service = signature_only(&db, SECRET);
    let body = payloads::mixed("S1");
    let signature = sign(SECRET, body.as_bytes());

    post(
        &service,
        &[("Webhook-Signature", signature.as_str())],
        body.clone(),
    )
    .await;
    let wrong = sign("wrong", body.as_bytes());
    post(&service, &[("Webhook-Signature", wrong.as_str())], body).await;

    let log = service.wait_for_log("signature mismatch");
    assert!(log.contains("signature mismatch"), "{log}");
    assert!(log.contains("signing_secrets=1"), "{log}");
    for secret in [SECRET, &signature, &wrong] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}
