//! GoCardless's path, end to end: a real TLS client, nginx with the project's template, the
//! service binary and MariaDB. Each test has its own deployment (see `e2e/mod.rs`).

mod common;
mod e2e;

use std::process::{Command, Output};

use gocardless_webhooks::devtools::send_test::{SampleDelivery, SampleKind};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::StatusCode;
use serde_json::{json, Value};

use e2e::certs::ClientCert;
use e2e::db::RowCounts;
use e2e::nginx::{placeholders, TEMPLATE};
use e2e::{request_id, Deployment};

/// The service's MAX_BODY_BYTES by default, and nginx's `client_max_body_size 1m`.
const ONE_MIB: usize = 1024 * 1024;

/// Runs `gocardless-webhooks send-test` as an operator would, presenting the pinned certificate.
fn send_test_command(deployment: &Deployment, kind: &str, event_id: &str) -> Output {
    send_test_command_with(deployment, kind, event_id, &[])
}

fn send_test_command_with(
    deployment: &Deployment,
    kind: &str,
    event_id: &str,
    env: &[(&str, &str)],
) -> Output {
    let pinned = &deployment.certs.pinned;
    Command::new(env!("CARGO_BIN_EXE_gocardless-webhooks"))
        .env_clear()
        .envs(env.iter().copied())
        .env("GOCARDLESS_WEBHOOK_CERT_PATH", &pinned.cert)
        .env("GOCARDLESS_WEBHOOK_KEY_PATH", &pinned.key)
        .args(["send-test", "--url", &deployment.nginx.webhook_url()])
        .args(["--ca".as_ref(), deployment.certs.ca.as_os_str()])
        .args(["--event", kind, "--event-id", event_id])
        .output()
        .unwrap()
}

/// The value of `X-Request-Id: ...` in send-test's output.
fn printed_request_id(stdout: &str) -> &str {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("X-Request-Id: "));
    line.unwrap_or_else(|| panic!("no request id printed:\n{stdout}"))
}

#[tokio::test]
async fn a_pinned_certificate_delivers_each_of_payymos_event_types_into_mariadb() {
    let deployment = Deployment::start().await;

    let mut samples = Vec::new();
    for (name, kind) in [
        ("transaction", SampleKind::Transaction),
        ("account", SampleKind::Account),
        ("connection", SampleKind::Connection),
    ] {
        // The same ids as the command's, which makes them from the event id alone.
        let sample = SampleDelivery::new(kind, None);
        let output = send_test_command(&deployment, name, &sample.event_id);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "send-test --event {name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("HTTP 200 OK"), "{stdout}");
        assert!(
            stdout.contains(r#"{"accepted":1,"duplicates":0}"#),
            "{stdout}"
        );
        samples.push((kind, sample, printed_request_id(&stdout).to_owned()));
    }

    for (kind, sample, request_id) in &samples {
        let (resource_type, action, resource_id) =
            deployment.db.event(&sample.event_id).await.unwrap();
        assert_eq!(
            (resource_type.as_str(), action.as_str()),
            (kind.resource_type(), kind.action())
        );
        assert_eq!(resource_id, sample.resource_id);
        // nginx's request id went through to the stored delivery.
        let (matched_pin, stored_request_id) = deployment.db.delivery_of(&sample.event_id).await;
        assert!(
            matched_pin.is_some(),
            "no pin recorded for {}",
            sample.event_id
        );
        assert_eq!(&stored_request_id, request_id);
    }

    let [transaction, account, connection] = [0, 1, 2].map(|i| &samples[i].1);
    let account_of = |sample: &SampleDelivery| sample.account_id.clone().unwrap();
    assert_eq!(
        deployment.db.transaction(&transaction.resource_id).await,
        Some((account_of(transaction), "-12.5000".into(), "GBP".into()))
    );
    let (name, iban, status) = deployment.db.account(&account.resource_id).await.unwrap();
    assert_eq!(
        (name.as_str(), iban.as_str(), status.as_str()),
        (
            "Send-test current account",
            "GB82WEST12345698765432",
            "active"
        )
    );
    let (account_id, status, reason) = deployment
        .db
        .connection(&connection.resource_id)
        .await
        .unwrap();
    assert_eq!(account_id, account_of(connection));
    assert_eq!(status, "revoked");
    assert!(reason.contains("consent withdrawn"), "{reason}");

    let expected = RowCounts {
        deliveries: 3,
        events: 3,
        transactions: 1,
        accounts: 1,
        connections: 1,
    };
    assert_eq!(deployment.db.counts().await, expected);
}

#[tokio::test]
async fn a_gocardless_payment_event_is_stored_as_received_without_a_typed_row() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Payment, None);

    let reply = deployment.post(ClientCert::Pinned, &sample.body, &[]).await;

    assert_eq!(reply.status, StatusCode::OK, "{reply}");
    let event = deployment.db.event(&sample.event_id).await;
    let expected = (
        "payments".into(),
        "confirmed".into(),
        sample.resource_id.clone(),
    );
    assert_eq!(event, Some(expected));
    let counts = deployment.db.counts().await;
    assert_eq!(
        (counts.events, counts.transactions, counts.accounts),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn without_a_client_certificate_nginx_refuses_and_nothing_is_stored() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Transaction, None);

    let reply = deployment.post(ClientCert::None, &sample.body, &[]).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply.error_code().as_deref(),
        Some("client_certificate_required")
    );
    deployment.assert_not_forwarded(&reply);
    deployment.assert_nothing_stored().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_by_nginx_though_the_service_pins_it() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Transaction, None);

    let reply = deployment
        .post(ClientCert::OtherCa, &sample.body, &[])
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply.error_code().as_deref(),
        Some("client_certificate_refused")
    );
    assert!(reply.body.contains("FAILED"), "{reply}");
    deployment.assert_not_forwarded(&reply);
    deployment.assert_nothing_stored().await;
}

#[tokio::test]
async fn a_certificate_from_the_right_ca_that_is_not_pinned_is_refused_by_the_service() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Transaction, None);

    let reply = deployment
        .post(ClientCert::Unpinned, &sample.body, &[])
        .await;

    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply}");
    assert_eq!(
        reply.error_code().as_deref(),
        Some("client_certificate_not_pinned")
    );
    deployment.assert_forwarded(&reply);
    deployment.assert_nothing_stored().await;
}

#[tokio::test]
async fn an_expired_certificate_from_the_right_ca_is_refused_by_nginx_though_it_is_pinned() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Transaction, None);

    let reply = deployment
        .post(ClientCert::Expired, &sample.body, &[])
        .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply.error_code().as_deref(),
        Some("client_certificate_refused")
    );
    assert!(reply.body.contains("expired"), "{reply}");
    deployment.assert_not_forwarded(&reply);
    deployment.assert_nothing_stored().await;
}

#[tokio::test]
async fn certificate_headers_a_client_sends_itself_never_reach_the_service() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Transaction, None);
    // The pinned certificate, escaped as nginx escapes it, and nginx's word that it verified.
    let escaped =
        utf8_percent_encode(&deployment.certs.pinned.cert_pem, NON_ALPHANUMERIC).to_string();
    let forged = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
        ("Client-Cert", escaped.as_str()),
    ];

    let without = deployment
        .post(ClientCert::None, &sample.body, &forged)
        .await;
    assert_eq!(without.status, StatusCode::BAD_REQUEST, "{without}");
    deployment.assert_not_forwarded(&without);

    let foreign = deployment
        .post(ClientCert::OtherCa, &sample.body, &forged)
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "{foreign}");
    deployment.assert_not_forwarded(&foreign);

    // nginx put the certificate the client really presented in place of the forged one.
    let unpinned = deployment
        .post(ClientCert::Unpinned, &sample.body, &forged)
        .await;
    assert_eq!(unpinned.status, StatusCode::FORBIDDEN, "{unpinned}");
    assert_eq!(
        unpinned.error_code().as_deref(),
        Some("client_certificate_not_pinned")
    );

    deployment.assert_nothing_stored().await;

    // The forged headers are good ones: sent to the service from nginx's address, past
    // nginx, they would have been believed.
    let direct = reqwest::Client::new()
        .post(format!(
            "http://{}/api/gocardless/webhook",
            deployment.service.addr
        ))
        .header("Content-Type", "application/json")
        .header("X-Client-Cert", &escaped)
        .header("X-Client-Verify", "SUCCESS")
        .body(sample.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_same_delivery_sent_twice_is_stored_once_and_the_second_answer_counts_a_duplicate() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Transaction, None);

    let first = deployment.post(ClientCert::Pinned, &sample.body, &[]).await;
    let second = deployment.post(ClientCert::Pinned, &sample.body, &[]).await;

    assert_eq!(first.status, StatusCode::OK, "{first}");
    assert_eq!(
        first.json(),
        Some(json!({ "accepted": 1, "duplicates": 0 }))
    );
    assert_eq!(second.status, StatusCode::OK, "{second}");
    assert_eq!(
        second.json(),
        Some(json!({ "accepted": 0, "duplicates": 1 }))
    );
    let counts = deployment.db.counts().await;
    assert_eq!((counts.events, counts.transactions), (1, 1));
    let (_, request_id) = deployment.db.delivery_of(&sample.event_id).await;
    assert_eq!(request_id, e2e::request_id(&first));
}

#[tokio::test]
async fn nginx_replaces_a_request_id_the_client_sends_with_its_own() {
    let deployment = Deployment::start().await;
    let sample = SampleDelivery::new(SampleKind::Account, None);

    let headers = [("X-Request-Id", "chosen-by-the-client")];
    let reply = deployment
        .post(ClientCert::Pinned, &sample.body, &headers)
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{reply}");
    let (_, stored) = deployment.db.delivery_of(&sample.event_id).await;
    assert_eq!(stored, request_id(&reply));
    assert_ne!(stored, "chosen-by-the-client");
}

#[tokio::test]
async fn a_delivery_send_test_signs_with_the_webhook_secret_passes_through_nginx() {
    let secret = [("GOCARDLESS_WEBHOOK_SECRET", "e2e webhook secret")];
    let deployment = Deployment::start_with(&secret).await;
    let signed = SampleDelivery::new(SampleKind::Transaction, None);
    let unsigned = SampleDelivery::new(SampleKind::Transaction, None);

    let output = send_test_command_with(&deployment, "transaction", &signed.event_id, &secret);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(deployment.db.event(&signed.event_id).await.is_some());

    // The service's refusal reaches the client as the service wrote it.
    let reply = deployment
        .post(ClientCert::Pinned, &unsigned.body, &[])
        .await;
    assert_eq!(reply.status.as_u16(), 498, "{reply}");
    assert_eq!(reply.error_code().as_deref(), Some("signature_missing"));
    assert!(deployment.db.event(&unsigned.event_id).await.is_none());
}

#[tokio::test]
async fn when_the_service_is_down_nginx_answers_502_in_the_services_json_shape() {
    let mut deployment = Deployment::start().await;
    deployment.service.stop();
    let sample = SampleDelivery::new(SampleKind::Transaction, None);

    let reply = deployment.post(ClientCert::Pinned, &sample.body, &[]).await;

    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply}");
    assert_eq!(reply.error_code().as_deref(), Some("service_unreachable"));
    deployment.assert_nothing_stored().await;
}

/// Status and body of a GET with curl, presenting the pinned certificate on the public side.
fn curl(deployment: &Deployment, method: &str, url: &str) -> (u16, String) {
    let pinned = &deployment.certs.pinned;
    let output = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--max-time",
            "10",
        ])
        .args(["--request", method, "--write-out", "\n%{http_code}"])
        .arg("--cacert")
        .arg(&deployment.certs.ca)
        .arg("--cert")
        .arg(&pinned.cert)
        .arg("--key")
        .arg(&pinned.key)
        .arg(url)
        .output()
        .expect("cannot run curl: is it installed? (scripts/install-deps)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, status) = stdout.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

#[tokio::test]
async fn only_a_post_to_the_webhook_is_public_and_the_docs_are_on_the_internal_listener() {
    let deployment = Deployment::start().await;
    let public = |path: &str| deployment.nginx.public_url(path);
    let internal = |path: &str| deployment.nginx.internal_url(path);

    for path in [
        "/docs",
        "/openapi.json",
        "/healthz",
        "/metrics",
        "/api/admin/events",
        "/api/gocardless/webhook/",
    ] {
        let (status, body) = curl(&deployment, "GET", &public(path));
        assert_eq!(status, 404, "GET {path}: {body}");
        assert!(
            body.contains(r#""error":"not_found""#),
            "GET {path}: {body}"
        );
    }
    let (status, body) = curl(&deployment, "GET", &deployment.nginx.webhook_url());
    assert_eq!(status, 405, "{body}");

    let (status, body) = curl(&deployment, "GET", &internal("/healthz"));
    assert_eq!(status, 200, "{body}");
    let (status, spec) = curl(&deployment, "GET", &internal("/openapi.json"));
    assert_eq!(status, 200, "{spec}");
    assert!(spec.contains("/api/gocardless/webhook"), "{spec}");
    let (status, metrics) = curl(&deployment, "GET", &internal("/metrics"));
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains("gocardless_webhooks_duplicate_events_total"),
        "{metrics}"
    );
    let (status, page) = curl(&deployment, "GET", &internal("/docs"));
    assert_eq!(status, 200);
    assert!(page.contains("Swagger UI"), "{page}");
    let (status, body) = curl(&deployment, "POST", &internal("/api/gocardless/webhook"));
    assert_eq!(
        status, 404,
        "the webhook is served on the internal listener: {body}"
    );
}

/// A payment delivery padded in its metadata to exactly `size` bytes.
fn delivery_of_size(size: usize) -> Vec<u8> {
    let sample = SampleDelivery::new(SampleKind::Payment, None);
    let mut delivery: Value = serde_json::from_slice(&sample.body).unwrap();
    delivery["events"][0]["metadata"] = json!({ "padding": "" });
    let padding = size - delivery.to_string().len();
    delivery["events"][0]["metadata"]["padding"] = json!("x".repeat(padding));
    let body = delivery.to_string().into_bytes();
    assert_eq!(body.len(), size);
    body
}

#[tokio::test]
async fn a_body_of_exactly_one_mebibyte_is_stored_and_one_byte_more_is_refused_by_nginx() {
    let deployment = Deployment::start().await;

    let largest = deployment
        .post(ClientCert::Pinned, &delivery_of_size(ONE_MIB), &[])
        .await;
    assert_eq!(largest.status, StatusCode::OK, "{largest}");

    let too_large = deployment
        .post(ClientCert::Pinned, &delivery_of_size(ONE_MIB + 1), &[])
        .await;
    assert_eq!(
        too_large.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{too_large}"
    );
    deployment.assert_not_forwarded(&too_large);
    assert_eq!(deployment.db.counts().await.events, 1);
}

#[test]
fn the_compose_file_gives_nginx_every_value_its_template_needs() {
    let template = std::fs::read_to_string(TEMPLATE).unwrap();
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
            .unwrap();

    assert!(
        compose.contains("./nginx/gocardless-webhooks.conf.template:"),
        "template not mounted"
    );
    let names = placeholders(&template);
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        assert!(
            compose.contains(&format!("{name}:")),
            "docker-compose.yml does not set {name}"
        );
    }
}
