//! Operating the service: metrics after a known sequence, reloading pins on SIGHUP, warnings
//! about expiring certificates, the admin endpoints, and machine-readable logs.

mod common;

use std::process::Command;

use chrono::{Datelike, Duration, Utc};
use common::certs::{Authority, TestCerts};
use common::payloads;
use common::{pinned_service, post, Files, Service, TestDb};
use serde_json::Value;

fn send_headers(escaped: &str) -> [(&str, &str); 2] {
    [("X-Client-Cert", escaped), ("X-Client-Verify", "SUCCESS")]
}

async fn get_text(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("GET");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the first exposition line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_deliveries() {
    let db = TestDb::sqlite();
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned.cert_pem, &files, &[]);
    let good = certs.pinned.nginx_escaped();
    let stranger = certs.unpinned.nginx_escaped();

    let body = payloads::mixed("M1");
    post(&service, &send_headers(&good), body.clone()).await;
    post(&service, &send_headers(&good), body.clone()).await;
    post(&service, &send_headers(&stranger), body.clone()).await;
    let mut wrong_type = send_headers(&good).to_vec();
    wrong_type.push(("Content-Type", "text/plain"));
    post(&service, &wrong_type, body).await;

    let (status, text) = get_text(&service.url("/metrics")).await;
    assert_eq!(status, 200);
    let expect = [
        (
            "gocardless_webhooks_deliveries_total{outcome=\"stored\",reason=\"ok\"}",
            2.0,
        ),
        (
            "gocardless_webhooks_deliveries_total{outcome=\"rejected\",\
             reason=\"client_certificate_not_pinned\"}",
            1.0,
        ),
        (
            "gocardless_webhooks_deliveries_total{outcome=\"rejected\",\
             reason=\"unsupported_media_type\"}",
            1.0,
        ),
        (
            "gocardless_webhooks_events_stored_total{resource_type=\"transactions\",\
             action=\"created\"}",
            1.0,
        ),
        (
            "gocardless_webhooks_events_stored_total{resource_type=\"payments\",\
             action=\"failed\"}",
            1.0,
        ),
        ("gocardless_webhooks_duplicate_events_total", 4.0),
        ("gocardless_webhooks_request_duration_seconds_count", 4.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    let days = sample(&text, "gocardless_webhooks_pinned_certificate_expiry_days{")
        .unwrap_or_else(|| panic!("no expiry gauge in\n{text}"));
    assert!(days > 365.0 * 50.0, "{days}");
    assert!(
        text.contains("gocardless_webhooks_database_connections{state=\"idle\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn sighup_pins_a_new_certificate_and_a_broken_file_keeps_the_old_set() {
    let db = TestDb::sqlite();
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned.cert_pem, &files, &[]);
    let next = certs.unpinned.nginx_escaped();
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &service.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };

    let before = post(&service, &send_headers(&next), payloads::mixed("H1")).await;
    assert_eq!(before.status, 403);

    let both = format!("{}{}", certs.pinned.cert_pem, certs.unpinned.cert_pem);
    files.write("pinned.pem", &both);
    hangup();
    service.wait_for_log("pins reloaded");
    let after = post(&service, &send_headers(&next), payloads::mixed("H2")).await;
    assert_eq!(after.status, 200, "{:?}", after.body);

    files.write("pinned.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
    hangup();
    let log = service.wait_for_log("pins not reloaded");
    assert!(log.contains("pins not reloaded"), "{log}");
    let kept = post(&service, &send_headers(&next), payloads::mixed("H3")).await;
    assert_eq!(kept.status, 200, "the previous set stays in force");
}

#[test]
fn a_pinned_certificate_close_to_expiry_is_warned_about_at_start_up() {
    let soon = Utc::now() + Duration::days(10);
    let ca = Authority::new("Test CA");
    let leaf = ca.leaf_until(
        "expiring",
        2020,
        (soon.year(), soon.month() as u8, soon.day() as u8),
    );
    let files = Files::new();
    let pinned = files.write("pinned.pem", &leaf.cert_pem);
    let url = format!("sqlite://{}", files.path().join("x.db").display());

    let service = Service::start(&[
        ("DATABASE_URL", &url),
        ("GOCARDLESS_WEBHOOK_CERT_PATH", pinned.to_str().unwrap()),
    ]);

    let log = service.wait_for_log("expires soon");
    assert!(
        log.contains("WARN") && log.contains("expires soon"),
        "{log}"
    );
    assert!(log.contains("CN=expiring"), "{log}");
}

#[tokio::test]
async fn admin_endpoints_are_off_without_a_token_and_need_the_right_one() {
    let db = TestDb::mysql().await;
    let off = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);
    let (status, _) = get_text(&off.url("/api/admin/events")).await;
    assert_eq!(status, 404);
    drop(off);

    let token = "admin-token-for-tests";
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("APP_ENV", "development"),
        ("ADMIN_TOKEN", token),
    ]);
    post(&service, &[], payloads::mixed("AD1")).await;
    let client = reqwest::Client::new();
    let get = |path: &str, bearer: Option<&str>| {
        let mut request = client.get(service.url(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };

    assert_eq!(get("/api/admin/events", None).await.unwrap().status(), 401);
    assert_eq!(
        get("/api/admin/events", Some("wrong"))
            .await
            .unwrap()
            .status(),
        401
    );

    let events: Value = get("/api/admin/events?resource_type=payments", Some(token))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0]["event_id"], "AD1P");
    let shown: Value = get("/api/admin/events/AD1T", Some(token))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["payload"]["resource"]["amount"], "-12.50");
    let missing = get("/api/admin/events/NOPE", Some(token)).await.unwrap();
    assert_eq!(missing.status(), 404);
    let deliveries: Value = get("/api/admin/deliveries", Some(token))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deliveries[0]["verification"], "unverified");
}

#[tokio::test]
async fn json_logs_carry_the_proxys_request_id_and_the_outcome() {
    let db = TestDb::sqlite();
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("APP_ENV", "development"),
        ("LOG_FORMAT", "json"),
    ]);

    post(
        &service,
        &[("X-Request-Id", "req-from-nginx-42")],
        payloads::mixed("J1"),
    )
    .await;

    let log = service.wait_for_log("delivery stored");
    let stored = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "delivery stored")
        .unwrap_or_else(|| panic!("no JSON 'delivery stored' line in\n{log}"));
    assert_eq!(
        stored["span"]["request_id"], "req-from-nginx-42",
        "{stored}"
    );
    assert_eq!(stored["fields"]["accepted"], 4, "{stored}");
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}

#[tokio::test]
async fn a_request_id_that_could_forge_a_log_field_is_replaced() {
    let db = TestDb::sqlite();
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);

    let forged = "x peer=10.0.0.1 outcome=stored";
    post(
        &service,
        &[("X-Request-Id", forged)],
        payloads::mixed("RQ1"),
    )
    .await;

    let log = service.wait_for_log("delivery stored");
    assert!(log.contains("delivery stored"), "{log}");
    assert!(!log.contains(forged), "{log}");
    let stored = db
        .value("SELECT request_id FROM webhook_deliveries")
        .await
        .unwrap();
    assert!(stored.starts_with("gcw-"), "{stored}");
}
