//! The webhook, end to end through the real binary, on MariaDB and on the embedded store:
//! every answer it can give, and what each leaves in the database.

mod common;

use common::certs::{Issued, TestCerts};
use common::payloads::{self, account_update, connection_revoked, delivery, transaction};
use common::{pinned_service, post, Backend, Files, Service, TestDb};
use serde_json::json;

/// A production service on its own database, pinning the test certificates.
struct Setup {
    db: TestDb,
    certs: TestCerts,
    service: Service,
    _files: Files,
}

impl Setup {
    async fn new(backend: Backend) -> Setup {
        Self::with_env(backend, &[]).await
    }

    async fn with_env(backend: Backend, extra: &[(&str, &str)]) -> Setup {
        let db = TestDb::new(backend).await;
        let certs = TestCerts::new();
        let files = Files::new();
        let service = pinned_service(&db.url, &certs.pinned_pem(), &files, extra);
        Setup {
            db,
            certs,
            service,
            _files: files,
        }
    }

    async fn send(&self, cert: &Issued, body: impl Into<Vec<u8>>) -> common::Answer {
        let escaped = cert.nginx_escaped();
        let headers = [
            ("X-Client-Cert", escaped.as_str()),
            ("X-Client-Verify", "SUCCESS"),
        ];
        post(&self.service, &headers, body).await
    }

    /// Asserts that nothing at all was stored.
    async fn assert_nothing_stored(&self) {
        assert_eq!(self.db.counts().await, [0; 5], "rows were left behind");
    }
}

macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod mariadb {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Backend::MySql).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Backend::Sqlite).await;
                }
            )*
        }
    };
}

on_both_stores!(
    a_pinned_delivery_stores_the_delivery_its_events_and_payymos_typed_rows,
    the_same_delivery_twice_is_stored_once_and_the_second_answer_reports_duplicates,
    an_event_repeated_within_one_delivery_is_stored_once,
    deliveries_over_the_writers_budget_are_stored_whole_beside_small_ones,
    a_conflicting_duplicate_keeps_the_first_copy_and_logs_a_warning,
    an_older_account_update_does_not_overwrite_a_newer_one,
    an_older_revocation_does_not_overwrite_a_newer_one,
    a_missing_certificate_gets_401_and_stores_nothing,
    verify_none_counts_as_no_certificate,
    a_failed_proxy_verification_gets_403,
    an_undecodable_certificate_header_gets_400,
    an_unpinned_certificate_gets_403_naming_its_fingerprint,
    an_expired_certificate_gets_403_saying_expired,
    a_certificate_not_yet_valid_gets_403_saying_so,
    certificate_headers_from_an_untrusted_peer_get_403,
    a_content_type_other_than_json_gets_415,
    json_with_a_utf8_charset_is_accepted,
    a_body_over_the_limit_gets_413,
    malformed_json_gets_400,
    a_body_that_is_not_utf8_gets_400,
    a_schema_violation_gets_422_naming_the_field_and_stores_none_of_the_delivery,
    an_amount_sent_as_a_json_number_gets_422,
    unknown_event_types_and_fields_are_stored_not_rejected,
    development_mode_stores_a_failed_check_as_unverified_with_the_reason,
    a_spki_pin_accepts_the_certificate,
);

async fn a_pinned_delivery_stores_the_delivery_its_events_and_payymos_typed_rows(b: Backend) {
    let setup = Setup::new(b).await;

    let answer = setup.send(&setup.certs.pinned, payloads::mixed("E1")).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, json!({ "accepted": 4, "duplicates": 0 }));
    assert_eq!(setup.db.counts().await, [1, 4, 1, 1, 1]);
    let delivery = &setup
        .db
        .rows(
            "SELECT webhook_id, verification, matched_pin, unverified_reason, peer_addr, \
             event_count, body_sha256, request_id FROM webhook_deliveries",
        )
        .await[0];
    assert_eq!(delivery[0].as_deref(), Some("WB_TEST"));
    assert_eq!(delivery[1].as_deref(), Some("verified"));
    assert_eq!(
        delivery[2].as_deref(),
        Some(setup.certs.pinned.openssl_fingerprint().as_str())
    );
    assert_eq!(delivery[3], None);
    assert_eq!(delivery[4].as_deref(), Some("127.0.0.1"));
    assert_eq!(delivery[5].as_deref(), Some("4"));
    assert_eq!(delivery[6].as_ref().map(String::len), Some(64));
    assert!(delivery[7].as_ref().is_some_and(|id| !id.is_empty()));

    let transaction = &setup
        .db
        .rows(
            "SELECT transaction_id, account_id, CAST(amount AS CHAR), currency, \
             CAST(booking_date AS CHAR), CAST(value_date AS CHAR), description, \
             counterparty_name, event_id FROM transactions",
        )
        .await[0];
    let amount = transaction[2].as_deref().unwrap();
    assert!(
        amount == "-12.5000" || amount == "-12.50",
        "amount {amount}"
    );
    assert_eq!(transaction[4].as_deref(), Some("2024-05-01"));
    assert_eq!(transaction[5].as_deref(), Some("2024-05-02"));
    assert_eq!(transaction[6].as_deref(), Some("Café au lait ☕ — 𝄞"));
    assert_eq!(transaction[7].as_deref(), Some("Zoë Ünal"));
    assert_eq!(transaction[8].as_deref(), Some("E1T"));

    let account = setup
        .db
        .rows("SELECT name, iban, currency FROM bank_accounts WHERE account_id = 'AC_MAIN'")
        .await;
    assert_eq!(
        account[0],
        [
            Some("Main account".into()),
            Some("DE89370400440532013000".into()),
            Some("EUR".into())
        ]
    );
    let connection = setup
        .db
        .rows("SELECT status, reason, account_id FROM bank_connections")
        .await;
    assert_eq!(
        connection[0],
        [
            Some("revoked".into()),
            Some("user_revoked".into()),
            Some("AC_MAIN".into())
        ]
    );

    let payment = setup
        .db
        .rows(
            "SELECT resource_type, action, resource_id, payload FROM webhook_events \
             WHERE event_id = 'E1P'",
        )
        .await;
    assert_eq!(payment[0][0].as_deref(), Some("payments"));
    assert_eq!(payment[0][1].as_deref(), Some("failed"));
    assert_eq!(payment[0][2].as_deref(), Some("PM_E1"));
    let stored: serde_json::Value =
        serde_json::from_str(payment[0][3].as_deref().unwrap()).unwrap();
    assert_eq!(stored, payloads::payment_failed("E1P", "PM_E1"));
}

async fn the_same_delivery_twice_is_stored_once_and_the_second_answer_reports_duplicates(
    b: Backend,
) {
    let setup = Setup::new(b).await;
    let body = payloads::mixed("E2");

    let first = setup.send(&setup.certs.pinned, body.clone()).await;
    let second = setup.send(&setup.certs.pinned, body).await;

    assert_eq!(first.body, json!({ "accepted": 4, "duplicates": 0 }));
    assert_eq!(second.status, 200);
    assert_eq!(second.body, json!({ "accepted": 0, "duplicates": 4 }));
    // Both deliveries are recorded; their events and typed rows only once.
    assert_eq!(setup.db.counts().await, [2, 4, 1, 1, 1]);
}

async fn an_event_repeated_within_one_delivery_is_stored_once(b: Backend) {
    let setup = Setup::new(b).await;
    let event = transaction("E3", "TR3", "1.00");
    let body = delivery(&[event.clone(), event, transaction("E3B", "TR3B", "2.00")]);

    let answer = setup.send(&setup.certs.pinned, body).await;

    assert_eq!(answer.body, json!({ "accepted": 2, "duplicates": 1 }));
    assert_eq!(setup.db.count("webhook_events").await, 2);
    assert_eq!(setup.db.count("transactions").await, 2);
}

/// The service writes a few hundred events at a time across all deliveries, and the rest wait
/// their turn. A delivery with more events than that on its own still has to be written, and
/// the small ones sent beside it too.
async fn deliveries_over_the_writers_budget_are_stored_whole_beside_small_ones(b: Backend) {
    let setup = Setup::new(b).await;
    let big = |name: &str| {
        let events: Vec<_> = (0..700)
            .map(|i| {
                transaction(
                    &format!("EV{name}{i:04}"),
                    &format!("TR{name}{i:04}"),
                    "1.00",
                )
            })
            .collect();
        delivery(&events)
    };
    let small = |name: &str| {
        delivery(&[transaction(
            &format!("EV{name}"),
            &format!("TR{name}"),
            "2.00",
        )])
    };
    let pinned = &setup.certs.pinned;

    let answers = tokio::join!(
        setup.send(pinned, big("BIG_A")),
        setup.send(pinned, small("SMALL_A")),
        setup.send(pinned, big("BIG_B")),
        setup.send(pinned, small("SMALL_B")),
    );

    assert_eq!(answers.0.body, json!({ "accepted": 700, "duplicates": 0 }));
    assert_eq!(answers.1.body, json!({ "accepted": 1, "duplicates": 0 }));
    assert_eq!(answers.2.body, json!({ "accepted": 700, "duplicates": 0 }));
    assert_eq!(answers.3.body, json!({ "accepted": 1, "duplicates": 0 }));
    assert_eq!(setup.db.count("webhook_events").await, 1402);
    assert_eq!(setup.db.count("transactions").await, 1402);
}

async fn a_conflicting_duplicate_keeps_the_first_copy_and_logs_a_warning(b: Backend) {
    let setup = Setup::new(b).await;
    let first = delivery(&[transaction("E4", "TR4", "10.00")]);
    let changed = delivery(&[transaction("E4", "TR4", "99.00")]);

    setup.send(&setup.certs.pinned, first).await;
    let answer = setup.send(&setup.certs.pinned, changed).await;

    assert_eq!(answer.body, json!({ "accepted": 0, "duplicates": 1 }));
    let amount = setup
        .db
        .value("SELECT CAST(amount AS CHAR) FROM transactions")
        .await
        .unwrap();
    assert!(amount.starts_with("10.00"), "amount {amount}");
    let log = setup.service.wait_for_log("conflicting duplicate");
    assert!(
        log.contains("conflicting duplicate") && log.contains("E4"),
        "{log}"
    );
}

async fn an_older_account_update_does_not_overwrite_a_newer_one(b: Backend) {
    let setup = Setup::new(b).await;
    let newer = account_update(
        "E5N",
        "AC5",
        "2024-05-02T00:00:00Z",
        json!({ "name": "New name", "status": "active" }),
    );
    let older = account_update(
        "E5O",
        "AC5",
        "2024-05-01T00:00:00Z",
        json!({ "name": "Old name", "status": "closed", "currency": "GBP" }),
    );
    let newest_partial = account_update(
        "E5P",
        "AC5",
        "2024-05-03T00:00:00Z",
        json!({ "status": "frozen" }),
    );

    for event in [newer, older, newest_partial] {
        let answer = setup.send(&setup.certs.pinned, delivery(&[event])).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }

    let row = setup
        .db
        .rows("SELECT name, status, currency, last_event_id FROM bank_accounts")
        .await;
    // The older event changed nothing, not even a field the newer one left out; the newest,
    // partial one changed only the field it names.
    assert_eq!(
        row,
        [[
            Some("New name".into()),
            Some("frozen".into()),
            None,
            Some("E5P".into())
        ]]
    );
    assert_eq!(
        setup.db.count("webhook_events").await,
        3,
        "every event is still stored"
    );
}

async fn an_older_revocation_does_not_overwrite_a_newer_one(b: Backend) {
    let setup = Setup::new(b).await;
    let newer = connection_revoked("E6N", "CO6", "2024-05-02T00:00:00+02:00", "newer");
    let older = connection_revoked("E6O", "CO6", "2024-05-01T23:00:00Z", "older");

    setup.send(&setup.certs.pinned, delivery(&[newer])).await;
    setup.send(&setup.certs.pinned, delivery(&[older])).await;

    // 2024-05-02T00:00+02:00 is 2024-05-01T22:00Z, so the "older" one is in fact newer.
    let reason = setup.db.value("SELECT reason FROM bank_connections").await;
    assert_eq!(reason.as_deref(), Some("older"));
}

async fn a_missing_certificate_gets_401_and_stores_nothing(b: Backend) {
    let setup = Setup::new(b).await;

    let answer = post(&setup.service, &[], payloads::mixed("E7")).await;

    assert_eq!(answer.status, 401);
    assert_eq!(answer.error(), "client_certificate_missing");
    setup.assert_nothing_stored().await;
    let log = setup.service.wait_for_log("delivery rejected");
    assert!(
        log.contains("WARN") && log.contains("no client certificate"),
        "{log}"
    );
}

async fn verify_none_counts_as_no_certificate(b: Backend) {
    let setup = Setup::new(b).await;
    let escaped = setup.certs.pinned.nginx_escaped();

    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "NONE"),
    ];
    let answer = post(&setup.service, &headers, payloads::mixed("E8")).await;

    assert_eq!(answer.status, 401);
    setup.assert_nothing_stored().await;
}

async fn a_failed_proxy_verification_gets_403(b: Backend) {
    let setup = Setup::new(b).await;
    let escaped = setup.certs.pinned.nginx_escaped();

    for verify in [
        "FAILED:certificate has expired",
        "success",
        "SUCCESS, SUCCESS",
    ] {
        let headers = [
            ("X-Client-Cert", escaped.as_str()),
            ("X-Client-Verify", verify),
        ];
        let answer = post(&setup.service, &headers, payloads::mixed("E9")).await;
        assert_eq!(answer.status, 403, "verify {verify:?}");
        assert_eq!(answer.error(), "client_certificate_not_verified");
    }
    setup.assert_nothing_stored().await;
}

async fn an_undecodable_certificate_header_gets_400(b: Backend) {
    let setup = Setup::new(b).await;
    let pem = &setup.certs.pinned.cert_pem;
    // A '+' that reached the service as a space. Most certificates hold one; take one that
    // surely does, or this case would send an intact certificate.
    let with_plus = std::iter::repeat_with(|| setup.certs.ca.leaf("with a plus", 2020, 2099))
        .find(|cert| cert.cert_pem.contains('+'))
        .expect("some certificate holds a '+'");
    let plus_as_space = with_plus.nginx_escaped().replace("%2B", "%20");
    let truncated = common::certs::nginx_escape(&pem[..pem.len() / 2]);

    for value in [
        "garbage",
        "%ZZ",
        plus_as_space.as_str(),
        truncated.as_str(),
        ":AAAA:",
    ] {
        let headers = [("X-Client-Cert", value), ("X-Client-Verify", "SUCCESS")];
        let answer = post(&setup.service, &headers, payloads::mixed("E10")).await;
        assert_eq!(answer.status, 400, "header {value:?}: {:?}", answer.body);
        assert_eq!(answer.error(), "client_certificate_malformed");
    }
    setup.assert_nothing_stored().await;
}

async fn an_unpinned_certificate_gets_403_naming_its_fingerprint(b: Backend) {
    let setup = Setup::new(b).await;

    let answer = setup
        .send(&setup.certs.unpinned, payloads::mixed("E11"))
        .await;

    assert_eq!(answer.status, 403);
    assert_eq!(answer.error(), "client_certificate_not_pinned");
    let sha256 = setup
        .certs
        .unpinned
        .openssl_fingerprint()
        .replace(':', "")
        .to_lowercase();
    assert!(answer.message().contains(&sha256), "{}", answer.message());
    assert!(
        answer.message().contains("CN=someone else"),
        "{}",
        answer.message()
    );
    setup.assert_nothing_stored().await;
}

async fn an_expired_certificate_gets_403_saying_expired(b: Backend) {
    let setup = Setup::new(b).await;

    let answer = setup
        .send(&setup.certs.expired, payloads::mixed("E12"))
        .await;

    assert_eq!(answer.status, 403);
    assert_eq!(answer.error(), "client_certificate_expired");
    assert!(answer.message().contains("expired"), "{}", answer.message());
    setup.assert_nothing_stored().await;
}

async fn a_certificate_not_yet_valid_gets_403_saying_so(b: Backend) {
    let setup = Setup::new(b).await;

    let answer = setup
        .send(&setup.certs.not_yet_valid, payloads::mixed("E13"))
        .await;

    assert_eq!(answer.status, 403);
    assert_eq!(answer.error(), "client_certificate_not_yet_valid");
    assert!(
        answer.message().contains("not valid before"),
        "{}",
        answer.message()
    );
    setup.assert_nothing_stored().await;
}

async fn certificate_headers_from_an_untrusted_peer_get_403(b: Backend) {
    // The tests reach the service from 127.0.0.1, which this setting does not trust.
    let setup = Setup::with_env(b, &[("TRUSTED_PROXIES", "192.0.2.1/32")]).await;
    let escaped = setup.certs.pinned.nginx_escaped();

    let forged = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
        ("X-Forwarded-For", "192.0.2.1"),
        ("X-Real-IP", "192.0.2.1"),
    ];
    let answer = post(&setup.service, &forged, payloads::mixed("E14")).await;

    assert_eq!(answer.status, 403);
    assert_eq!(answer.error(), "untrusted_proxy");
    setup.assert_nothing_stored().await;
}

async fn a_content_type_other_than_json_gets_415(b: Backend) {
    let setup = Setup::new(b).await;
    let escaped = setup.certs.pinned.nginx_escaped();

    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
    ] {
        let headers = [
            ("X-Client-Cert", escaped.as_str()),
            ("X-Client-Verify", "SUCCESS"),
            ("Content-Type", content_type),
        ];
        let answer = post(&setup.service, &headers, payloads::mixed("E15")).await;
        assert_eq!(answer.status, 415, "{content_type}");
        assert_eq!(answer.error(), "unsupported_media_type");
    }
    setup.assert_nothing_stored().await;
}

async fn json_with_a_utf8_charset_is_accepted(b: Backend) {
    let setup = Setup::new(b).await;
    let escaped = setup.certs.pinned.nginx_escaped();

    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
        ("Content-Type", "application/json; charset=utf-8"),
    ];
    let answer = post(&setup.service, &headers, payloads::mixed("E16")).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

async fn a_body_over_the_limit_gets_413(b: Backend) {
    let setup = Setup::with_env(b, &[("MAX_BODY_BYTES", "2000")]).await;
    let long = "x".repeat(900);
    let body = delivery(&[
        json!({ "id": "E17A", "created_at": "2024-05-01T00:00:00Z", "resource_type": "payments",
                "action": "created", "links": {}, "details": { "description": long } }),
        json!({ "id": "E17B", "created_at": "2024-05-01T00:00:00Z", "resource_type": "payments",
                "action": "created", "links": {}, "details": { "description": long } }),
    ]);
    assert!(body.len() > 2000);

    let answer = setup.send(&setup.certs.pinned, body).await;

    assert_eq!(answer.status, 413);
    assert_eq!(answer.error(), "body_too_large");
    setup.assert_nothing_stored().await;
}

async fn malformed_json_gets_400(b: Backend) {
    let setup = Setup::new(b).await;

    for body in [
        "{\"events\": [",
        "not json",
        "",
        "{\"events\": [], \"events\": []}",
    ] {
        let answer = setup.send(&setup.certs.pinned, body).await;
        assert_eq!(answer.status, 400, "body {body:?}");
        assert_eq!(answer.error(), "malformed_json");
    }
    setup.assert_nothing_stored().await;
}

async fn a_body_that_is_not_utf8_gets_400(b: Backend) {
    let setup = Setup::new(b).await;
    let mut body = payloads::mixed("E19").into_bytes();
    let at = body.len() - 10;
    body[at] = 0xff;

    let answer = setup.send(&setup.certs.pinned, body).await;

    assert_eq!(answer.status, 400);
    assert_eq!(answer.error(), "body_not_utf8");
    setup.assert_nothing_stored().await;
}

async fn a_schema_violation_gets_422_naming_the_field_and_stores_none_of_the_delivery(b: Backend) {
    let setup = Setup::new(b).await;
    let mut events: Vec<_> = (0..3)
        .map(|i| transaction(&format!("E20_{i}"), &format!("TR20_{i}"), "1.00"))
        .collect();
    events.push(transaction("E20_3", "TR20_3", "12.345678"));

    let answer = setup.send(&setup.certs.pinned, delivery(&events)).await;

    assert_eq!(answer.status, 422);
    assert_eq!(answer.error(), "invalid_payload");
    assert!(
        answer.message().starts_with("events[3].resource.amount: "),
        "{}",
        answer.message()
    );
    setup.assert_nothing_stored().await;
}

async fn an_amount_sent_as_a_json_number_gets_422(b: Backend) {
    let setup = Setup::new(b).await;
    let mut event = transaction("E21", "TR21", "1.00");
    event["resource"]["amount"] = json!(-12.5);

    let answer = setup.send(&setup.certs.pinned, delivery(&[event])).await;

    assert_eq!(answer.status, 422);
    assert!(
        answer.message().contains("events[0].resource.amount"),
        "{}",
        answer.message()
    );
    setup.assert_nothing_stored().await;
}

async fn unknown_event_types_and_fields_are_stored_not_rejected(b: Backend) {
    let setup = Setup::new(b).await;
    let event = json!({
        "id": "E22",
        "created_at": "2024-05-01T12:00:00Z",
        "resource_type": "brand_new_things",
        "action": "appeared",
        "links": { "brand_new_thing": "BN1", "creditor": "CR1" },
        "future_field": { "nested": [1, 2, 3] }
    });

    let answer = setup
        .send(&setup.certs.pinned, delivery(std::slice::from_ref(&event)))
        .await;

    assert_eq!(answer.body, json!({ "accepted": 1, "duplicates": 0 }));
    let row = setup
        .db
        .rows("SELECT resource_id, payload FROM webhook_events")
        .await;
    assert_eq!(row[0][0].as_deref(), Some("BN1"));
    let stored: serde_json::Value = serde_json::from_str(row[0][1].as_deref().unwrap()).unwrap();
    assert_eq!(stored, event, "unknown fields are kept");
}

async fn development_mode_stores_a_failed_check_as_unverified_with_the_reason(b: Backend) {
    let db = TestDb::new(b).await;
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);
    assert!(
        service.log().contains("DEVELOPMENT MODE"),
        "{}",
        service.log()
    );

    let answer = post(&service, &[], payloads::mixed("E23")).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let row = db
        .rows("SELECT verification, matched_pin, unverified_reason FROM webhook_deliveries")
        .await;
    assert_eq!(row[0][0].as_deref(), Some("unverified"));
    assert_eq!(row[0][1], None);
    assert_eq!(
        row[0][2].as_deref(),
        Some("no client certificate was presented")
    );
    let log = service.wait_for_log("production would reject");
    assert!(log.contains("production would reject"), "{log}");
}

async fn a_spki_pin_accepts_the_certificate(b: Backend) {
    let db = TestDb::new(b).await;
    let certs = TestCerts::new();
    let files = Files::new();
    let pem = files.write("leaf.pem", &certs.pinned.cert_pem);
    let printed = common::run_binary(&["fingerprint", pem.to_str().unwrap()], &[]);
    let printed = String::from_utf8(printed.stdout).unwrap();
    let spki_pin = printed
        .split_whitespace()
        .find(|word| word.starts_with("sha256/"))
        .unwrap_or_else(|| panic!("no public-key pin in {printed}"));
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("GOCARDLESS_WEBHOOK_CERT_PINS", spki_pin),
    ]);
    let escaped = certs.pinned.nginx_escaped();

    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let answer = post(&service, &headers, payloads::mixed("E24")).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let pin = db.value("SELECT matched_pin FROM webhook_deliveries").await;
    assert_eq!(pin.as_deref(), Some(spki_pin));
}
