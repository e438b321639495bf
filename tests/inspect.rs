//! `events list`, `events show` and `deliveries list` show what was stored.

mod common;

use common::payloads;
use common::{post, run_binary, Service, TestDb};
use serde_json::Value;

fn run_json(args: &[&str], db: &TestDb) -> Value {
    let output = run_binary(args, &[("DATABASE_URL", &db.url)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[tokio::test]
async fn stored_events_and_deliveries_can_be_listed_filtered_and_shown() {
    let db = TestDb::mysql().await;
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);
    for prefix in ["I1", "I2"] {
        let answer = post(&service, &[], payloads::mixed(prefix)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }

    let all = run_json(&["events", "list", "--format", "json"], &db);
    assert_eq!(all.as_array().unwrap().len(), 8);
    let payments = run_json(
        &[
            "events",
            "list",
            "--resource-type",
            "payments",
            "--format",
            "json",
        ],
        &db,
    );
    let ids: Vec<&str> = payments
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"I1P") && ids.contains(&"I2P"), "{ids:?}");
    let by_resource = run_json(
        &[
            "events",
            "list",
            "--resource-id",
            "PM_I2",
            "--format",
            "json",
        ],
        &db,
    );
    assert_eq!(by_resource[0]["event_id"], "I2P");
    assert_eq!(by_resource[0]["created_at"], "2024-05-01T12:00:00.000000Z");
    let since = run_json(
        &[
            "events",
            "list",
            "--since",
            "2024-05-02",
            "--format",
            "json",
        ],
        &db,
    );
    assert_eq!(since.as_array().unwrap().len(), 0);

    let shown = run_json(&["events", "show", "I1P"], &db);
    assert_eq!(shown["payload"], payloads::payment_failed("I1P", "PM_I1"));
    assert_eq!(shown["links"]["payment"], "PM_I1");
    let missing = run_binary(&["events", "show", "NOPE"], &[("DATABASE_URL", &db.url)]);
    assert!(!missing.status.success());

    let deliveries = run_json(&["deliveries", "list", "--format", "json"], &db);
    assert_eq!(deliveries.as_array().unwrap().len(), 2);
    assert_eq!(deliveries[0]["verification"], "unverified");
    assert_eq!(deliveries[0]["event_count"], 4);
    assert!(
        deliveries[0]["unverified_reason"]
            .as_str()
            .unwrap()
            .contains("no client certificate"),
        "{deliveries}"
    );

    let table = run_binary(&["deliveries", "list"], &[("DATABASE_URL", &db.url)]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("ID "), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
}
