//! `gocardless-webhooks replay` rebuilds Payymo's typed tables from the stored events.

mod common;

use common::certs::TestCerts;
use common::payloads::{self, account_update, connection_revoked, delivery};
use common::{pinned_service, post, run_binary, Backend, Files, TestDb};
use serde_json::json;

const TYPED_STATE: [&str; 3] = [
    "SELECT transaction_id, account_id, CAST(amount AS CHAR), currency, description, event_id \
     FROM transactions ORDER BY transaction_id",
    "SELECT account_id, name, iban, currency, status, last_event_id FROM bank_accounts \
     ORDER BY account_id",
    "SELECT connection_id, account_id, status, reason, last_event_id FROM bank_connections \
     ORDER BY connection_id",
];

async fn typed_state(db: &TestDb) -> Vec<Vec<Vec<Option<String>>>> {
    let mut state = Vec::new();
    for sql in TYPED_STATE {
        state.push(db.rows(sql).await);
    }
    state
}

async fn replay_rebuilds_damaged_typed_tables_and_is_idempotent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned.cert_pem, &files, &[]);
    let escaped = certs.pinned.nginx_escaped();
    let headers = [
        ("X-Client-Cert", escaped.as_str()),
        ("X-Client-Verify", "SUCCESS"),
    ];
    let bodies = [
        payloads::mixed("R1"),
        payloads::mixed("R2"),
        delivery(&[account_update(
            "R3",
            "AC_MAIN",
            "2024-06-01T00:00:00Z",
            json!({ "status": "closed" }),
        )]),
        // Arrives last but happened first: must not win, on replay either.
        delivery(&[account_update(
            "R4",
            "AC_MAIN",
            "2024-04-01T00:00:00Z",
            json!({ "name": "Ancient name", "status": "pending" }),
        )]),
        delivery(&[connection_revoked(
            "R5",
            "CO_R1",
            "2024-07-01T00:00:00Z",
            "second",
        )]),
    ];
    for body in bodies {
        let answer = post(&service, &headers, body).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    drop(service);
    let expected = typed_state(&db).await;
    assert_eq!(expected[0].len(), 2, "{expected:?}");
    assert_eq!(expected[1][0][4].as_deref(), Some("closed"));

    let pool = db.pool().await;
    for damage in [
        "UPDATE transactions SET amount = 0, description = 'wrong'",
        "DELETE FROM bank_accounts",
        "UPDATE bank_connections SET reason = 'wrong', status = 'active'",
    ] {
        sqlx::query(damage).execute(&pool).await.unwrap();
    }
    pool.close().await;
    assert_ne!(typed_state(&db).await, expected);

    for _ in 0..2 {
        let output = run_binary(&["replay"], &[("DATABASE_URL", &db.url)]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("replayed 9 events: 2 transactions, 4 account updates, 3 revocations"),
            "{stdout}"
        );
        assert_eq!(typed_state(&db).await, expected);
    }
    assert_eq!(
        db.count("webhook_events").await,
        11,
        "replay stores no events"
    );
}

#[tokio::test]
async fn replay_rebuilds_damaged_typed_tables_and_is_idempotent_on_mariadb() {
    replay_rebuilds_damaged_typed_tables_and_is_idempotent(Backend::MySql).await;
}

#[tokio::test]
async fn replay_rebuilds_damaged_typed_tables_and_is_idempotent_on_sqlite() {
    replay_rebuilds_damaged_typed_tables_and_is_idempotent(Backend::Sqlite).await;
}
