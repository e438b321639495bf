//! Start-up refusals, the `fingerprint` command, and every forwarded-certificate form from the
//! shared fixtures sent through the real service.

mod common;

use common::certs::TestCerts;
use common::payloads;
use common::{fixture, post, run_binary, Files, Service, TestDb};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn production_with_nothing_pinned_refuses_to_start_and_names_the_variables() {
    let files = Files::new();
    let url = format!("sqlite://{}", files.path().join("x.db").display());

    let output = run_binary(&["serve"], &[("DATABASE_URL", &url)]);

    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("GOCARDLESS_WEBHOOK_CERT_PATH"),
        "{message}"
    );
    assert!(
        message.contains("GOCARDLESS_WEBHOOK_CERT_PINS"),
        "{message}"
    );
    assert!(
        !files.path().join("x.db").exists(),
        "nothing was started before refusing"
    );
}

#[test]
fn a_key_that_does_not_belong_to_the_certificate_stops_start_up() {
    let certs = TestCerts::new();
    let files = Files::new();
    let cert = files.write("client.pem", &certs.pinned.cert_pem);
    let wrong_key = files.write("other.key", &certs.unpinned.key_pem);

    let output = run_binary(
        &["serve"],
        &[
            ("GOCARDLESS_WEBHOOK_CERT_PATH", cert.to_str().unwrap()),
            ("GOCARDLESS_WEBHOOK_KEY_PATH", wrong_key.to_str().unwrap()),
        ],
    );

    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("GOCARDLESS_WEBHOOK_KEY_PATH"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_matching_key_is_accepted() {
    let certs = TestCerts::new();
    let files = Files::new();
    let cert = files.write("client.pem", &certs.pinned.cert_pem);
    let key = files.write("client.key", &certs.pinned.key_pem);
    let url = format!("sqlite://{}", files.path().join("x.db").display());

    let service = Service::try_start(&[
        ("DATABASE_URL", &url),
        ("GOCARDLESS_WEBHOOK_CERT_PATH", cert.to_str().unwrap()),
        ("GOCARDLESS_WEBHOOK_KEY_PATH", key.to_str().unwrap()),
    ]);

    let service = service.unwrap_or_else(|log| panic!("did not start:\n{log}"));
    assert!(
        service.log().contains("pinned certificate"),
        "{}",
        service.log()
    );
}

#[test]
fn invalid_settings_are_refused_with_the_variable_named() {
    for (name, value) in [
        ("APP_ENV", "staging"),
        ("TRUSTED_PROXIES", "not-an-address"),
        ("MAX_BODY_BYTES", "lots"),
        ("LISTEN_ADDR", "localhost"),
        ("GOCARDLESS_WEBHOOK_CERT_PINS", "AB:CD"),
    ] {
        let output = run_binary(&["serve"], &[("APP_ENV", "development"), (name, value)]);
        assert!(!output.status.success(), "{name}={value} was accepted");
        assert!(
            stderr(&output).contains(name),
            "{name}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn fingerprint_prints_subject_validity_and_both_pin_forms_for_each_certificate() {
    let output = run_binary(
        &[
            "fingerprint",
            fixture("client-cert/leaf.pem").to_str().unwrap(),
        ],
        &[],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    // The facts below come from `openssl x509 -fingerprint -sha256` and the public key's hash.
    assert!(printed.contains("CN=BC"), "{printed}");
    assert!(printed.contains("2021-01-23"), "{printed}");
    assert!(
        printed.contains(
            "BF:AF:1F:7E:07:0F:9F:A8:DD:62:90:5F:15:8D:A7:3F:84:A1:13:66:24:FB:AF:CC:93:93:C8:F7:28:7A:69:EB"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("sha256/yTvZJqPkG+BQJ5mvQ1IbLCgU5bxrZXhlGEHQDp3uad4="),
        "{printed}"
    );
}

/// The fixtures' forms that fit in one header line, with names as in `forwarded-forms.txt`.
fn forwarded_forms() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(fixture("client-cert/forwarded-forms.txt")).unwrap();
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| *name != "NGINX_TAB_REPR") // holds newlines: decoder unit tests
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[tokio::test]
async fn every_forwarded_form_in_the_fixtures_is_decoded_and_then_refused_as_expired() {
    let db = TestDb::sqlite();
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        (
            "GOCARDLESS_WEBHOOK_CERT_PATH",
            fixture("client-cert/leaf.pem").to_str().unwrap(),
        ),
    ]);
    let forms = forwarded_forms();
    assert!(forms.len() >= 7, "{forms:?}");

    for (name, value) in forms {
        let headers = [
            ("X-Client-Cert", value.as_str()),
            ("X-Client-Verify", "SUCCESS"),
        ];
        let answer = post(&service, &headers, payloads::mixed("FX")).await;
        // Decoded and pinned, so the only thing left to fail is the date.
        assert_eq!(answer.status, 403, "{name}: {:?}", answer.body);
        assert_eq!(answer.error(), "client_certificate_expired", "{name}");
    }
    assert_eq!(db.count("webhook_deliveries").await, 0);
}

#[tokio::test]
async fn the_same_forms_pass_in_development_and_are_stored_marked_expired() {
    let db = TestDb::sqlite();
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("APP_ENV", "development"),
        (
            "GOCARDLESS_WEBHOOK_CERT_PATH",
            fixture("client-cert/leaf.pem").to_str().unwrap(),
        ),
    ]);
    let (_, value) = forwarded_forms().into_iter().next().unwrap();

    let headers = [
        ("X-Client-Cert", value.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let answer = post(&service, &headers, payloads::mixed("FD")).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let reason = db
        .value("SELECT unverified_reason FROM webhook_deliveries")
        .await
        .unwrap();
    assert!(reason.contains("expired"), "{reason}");
}

#[tokio::test]
async fn health_answers_and_readiness_reflects_the_database() {
    let db = TestDb::sqlite();
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);

    let health = reqwest::get(service.url("/healthz")).await.unwrap();
    let ready = reqwest::get(service.url("/readyz")).await.unwrap();

    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(ready.status().as_u16(), 200);
    let missing = reqwest::get(service.url("/nowhere")).await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}
