//! What only a real MariaDB server can show: concurrent deliveries of the same events, and a
//! database that goes away in the middle of a run and comes back.

mod common;

use std::time::{Duration, Instant};

use common::certs::TestCerts;
use common::payloads::{self, delivery, transaction};
use common::{pinned_service, post, post_to, Files, OwnMariaDb, TestDb};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_deliveries_of_the_same_events_to_two_processes_store_each_event_once() {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let services = [
        pinned_service(&db.url, &certs.pinned_pem(), &files, &[]),
        pinned_service(&db.url, &certs.pinned_pem(), &files, &[]),
    ];
    let escaped = certs.pinned.nginx_escaped();
    // Each body holds the same events in a different order, which would deadlock two
    // transactions that locked rows in body order.
    let events: Vec<_> = (0..20)
        .map(|i| transaction(&format!("EVC{i:02}"), &format!("TRC{i:02}"), "5.00"))
        .collect();
    let bodies: Vec<String> = (0..16)
        .map(|round| {
            let mut shuffled = events.clone();
            shuffled.rotate_left(round % events.len());
            if round % 2 == 1 {
                shuffled.reverse();
            }
            delivery(&shuffled)
        })
        .collect();

    let mut sends = tokio::task::JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let url = services[i % 2].url("/api/gocardless/webhook");
        let escaped = escaped.clone();
        sends.spawn(async move {
            let headers = [
                ("X-Client-Cert", escaped.as_str()),
                ("X-Client-Verify", "SUCCESS"),
            ];
            post_to(&url, &headers, body).await
        });
    }
    let answers = sends.join_all().await;

    let mut accepted = 0;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        accepted += answer.body["accepted"].as_u64().unwrap();
        let total =
            answer.body["accepted"].as_u64().unwrap() + answer.body["duplicates"].as_u64().unwrap();
        assert_eq!(total, 20);
    }
    assert_eq!(
        accepted, 20,
        "each event is accepted by exactly one delivery"
    );
    assert_eq!(db.count("webhook_events").await, 20);
    assert_eq!(db.count("transactions").await, 20);
    assert_eq!(db.count("webhook_deliveries").await, 16);
}

#[tokio::test]
async fn a_database_stopped_mid_run_gets_503_with_retry_after_and_the_service_recovers_alone() {
    let server = OwnMariaDb::start();
    let db_url = server.database("outage").await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db_url, &certs.pinned_pem(), &files, &[]);
    let escaped = certs.pinned.nginx_escaped();
    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];

    let before = post(&service, &headers, payloads::mixed("OUT1")).await;
    assert_eq!(before.status, 200, "{:?}", before.body);

    server.stop();
    let started = Instant::now();
    let during = post(&service, &headers, payloads::mixed("OUT2")).await;
    assert_eq!(during.status, 503, "{:?}", during.body);
    assert_eq!(during.error(), "database_unavailable");
    assert_eq!(
        during.headers.get("retry-after").map(String::as_str),
        Some("30")
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered within GoCardless's wait"
    );
    let ready = reqwest::get(service.url("/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let log = service.wait_for_log("database fault");
    assert!(
        log.contains("ERROR") && log.contains("database fault"),
        "{log}"
    );

    server.restart();
    let after = post(&service, &headers, payloads::mixed("OUT2")).await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    assert_eq!(after.body, json!({ "accepted": 4, "duplicates": 0 }));
    let ready = reqwest::get(service.url("/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    // Only the two answered deliveries are stored: nothing of the one that got 503.
    let pool = sqlx::MySqlPool::connect(&db_url).await.unwrap();
    let deliveries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((deliveries, events), (2, 8));
}

#[tokio::test]
async fn text_columns_keep_any_unicode_including_four_byte_characters() {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned_pem(), &files, &[]);
    let escaped = certs.pinned.nginx_escaped();
    let mut event = transaction("EVU", "TRU", "1.00");
    event["resource"]["description"] = json!("emoji 😀, math 𝔘, CJK 漢字, RTL שלום, nul \u{0}.");

    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let answer = post(&service, &headers, delivery(&[event])).await;

    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let stored = db.value("SELECT description FROM transactions").await;
    assert_eq!(
        stored.as_deref(),
        Some("emoji 😀, math 𝔘, CJK 漢字, RTL שלום, nul \u{0}.")
    );
}

#[tokio::test]
async fn migrate_applies_the_schema_and_can_run_again() {
    let db = TestDb::mysql().await;

    for _ in 0..2 {
        let output = common::run_binary(&["migrate"], &[("DATABASE_URL", &db.url)]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    assert_eq!(db.counts().await, [0; 5]);
    let charset = db
        .value(
            "SELECT CCSA.character_set_name FROM information_schema.TABLES T \
             JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA \
             ON CCSA.collation_name = T.table_collation \
             WHERE T.table_schema = DATABASE() AND T.table_name = 'transactions'",
        )
        .await;
    assert_eq!(charset.as_deref(), Some("utf8mb4"));
}

#[tokio::test]
async fn ids_that_differ_only_in_case_or_accents_are_different_rows() {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned_pem(), &files, &[]);
    let escaped = certs.pinned.nginx_escaped();
    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let ids = ["TRcase", "TRCASE", "TRcasé"];

    for (i, id) in ids.iter().enumerate() {
        let event = transaction(&format!("EVCASE{i}"), id, "1.00");
        let answer = post(&service, &headers, delivery(&[event])).await;
        assert_eq!(answer.body, json!({ "accepted": 1, "duplicates": 0 }));
    }

    let stored = db
        .rows("SELECT transaction_id FROM transactions ORDER BY event_id")
        .await;
    let stored: Vec<&str> = stored
        .iter()
        .map(|row| row[0].as_deref().unwrap())
        .collect();
    assert_eq!(stored, ids);
}

/// A delivery of many events that stalls on a lock held elsewhere keeps its turn to write
/// (500 events' worth) until it finishes. The deliveries queued behind it must go ahead after
/// a short wait, not wait with it until the lock goes or their time runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_large_delivery_does_not_hold_up_the_deliveries_behind_it() {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned_pem(), &files, &[]);
    let url = service.url("/api/gocardless/webhook");
    let escaped = certs.pinned.nginx_escaped();
    let send = |body: String| {
        let (url, escaped) = (url.clone(), escaped.clone());
        async move {
            let headers = [
                ("X-Client-Cert", escaped.as_str()),
                ("X-Client-Verify", "SUCCESS"),
            ];
            post_to(&url, &headers, body).await
        }
    };
    let events = |prefix: &str, count: usize| -> Vec<_> {
        (0..count)
            .map(|i| {
                transaction(
                    &format!("EV{prefix}{i:04}"),
                    &format!("TR{prefix}{i:04}"),
                    "1.00",
                )
            })
            .collect()
    };
    let locked = transaction("EVLOCKED", "TRLOCKED", "1.00");
    assert_eq!(
        send(delivery(std::slice::from_ref(&locked))).await.status,
        200
    );

    let pool = db.pool().await;
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT event_id FROM webhook_events WHERE event_id = 'EVLOCKED' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut stalling = events("STALL", 599);
    stalling.push(locked);
    let stalled = tokio::spawn(send(delivery(&stalling)));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // An insert of events that has run for a while is the one waiting on the lock.
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE 'INSERT INTO webhook_events%' AND TIME_MS > 300",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !stalled.is_finished(),
            "the delivery did not wait on the lock"
        );
        assert!(
            Instant::now() < deadline,
            "the delivery never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (large, medium, small) = tokio::join!(
        send(delivery(&events("LARGE", 600))),
        send(delivery(&events("MEDIUM", 20))),
        send(delivery(&events("SMALL", 1))),
    );

    assert!(
        !stalled.is_finished(),
        "the stalled delivery ended before the others were answered, so they may have waited for it"
    );
    assert_eq!(large.body, json!({ "accepted": 600, "duplicates": 0 }));
    assert_eq!(medium.body, json!({ "accepted": 20, "duplicates": 0 }));
    assert_eq!(small.body, json!({ "accepted": 1, "duplicates": 0 }));
    holder.rollback().await.unwrap();
    let stalled = stalled.await.unwrap();
    assert_eq!(stalled.body, json!({ "accepted": 599, "duplicates": 1 }));
    assert_eq!(db.count("webhook_events").await, 1 + 599 + 600 + 20 + 1);
    pool.close().await;
}
