//! The database ceiling: the rows the service writes for a delivery, written straight to
//! MariaDB by a program that does nothing else.
//!
//! The transaction has the service's shape: the delivery row, the events in one multi-row
//! insert that skips known ids (in chunks of 200, in id order), the read-back of the ids this
//! delivery inserted, the typed transactions in one multi-row insert, and the commit. The
//! values are bound as text where the service binds text, so the server converts the same way.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlConnection;
use sqlx::{Connection as _, MySql, QueryBuilder};

use crate::load::{Outcome, Worker};
use crate::payload::{Batch, Event};

/// The service's limit on rows per insert statement.
const ROWS_PER_INSERT: usize = 200;
/// What the service records for a delivery whose certificate matched a pin; the value only
/// has to be as long as a real one.
const MATCHED_PIN: &str = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";

pub struct DbWorker {
    connection: MySqlConnection,
    sequence: u64,
}

impl DbWorker {
    pub async fn connect(url: &str) -> anyhow::Result<DbWorker> {
        let connection = MySqlConnection::connect(url)
            .await
            .context("cannot connect to the database")?;
        Ok(DbWorker {
            connection,
            sequence: 0,
        })
    }
}

impl Worker for DbWorker {
    async fn send(&mut self, batch: &Batch) -> anyhow::Result<Outcome> {
        self.sequence += 1;
        let request_id = format!("{:032x}", u128::from(self.sequence) << 64 | rand_bits());
        let received_at = db_time(&Utc::now());
        let mut tx = self.connection.begin().await?;

        let delivery_id = sqlx::query(
            "INSERT INTO webhook_deliveries (received_at, webhook_id, body_sha256, verification, \
             matched_pin, signature, unverified_reason, gocardless_environment, peer_addr, \
             request_id, event_count) \
             VALUES (?, ?, ?, 'verified', ?, 'valid', NULL, 'live', '127.0.0.1', ?, ?)",
        )
        .bind(&received_at)
        .bind(&batch.webhook_id)
        .bind(batch.body_sha256())
        .bind(MATCHED_PIN)
        .bind(&request_id)
        .bind(batch.events.len() as i64)
        .execute(&mut *tx)
        .await?
        .last_insert_id();

        let mut events: Vec<&Event> = batch.events.iter().collect();
        events.sort_by(|a, b| a.id.cmp(&b.id));
        for chunk in events.chunks(ROWS_PER_INSERT) {
            insert_events(&mut tx, chunk, delivery_id, &received_at).await?;
        }
        // event_id is ascii_bin, which MariaDB describes as binary.
        let new_ids: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT event_id FROM webhook_events WHERE delivery_id = ?")
                .bind(delivery_id)
                .fetch_all(&mut *tx)
                .await?;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            insert_transactions(&mut tx, chunk).await?;
        }

        tx.commit().await?;
        Ok(Outcome::Stored {
            accepted: Some(new_ids.len() as u64),
        })
    }
}

async fn insert_events(
    tx: &mut MySqlConnection,
    events: &[&Event],
    delivery_id: u64,
    received_at: &str,
) -> anyhow::Result<()> {
    let mut insert = QueryBuilder::<MySql>::new(
        "INSERT INTO webhook_events (event_id, resource_type, action, resource_id, links, \
         created_at, delivery_id, payload, received_at) ",
    );
    insert.push_values(events, |mut row, event| {
        row.push_bind(&event.id)
            .push_bind("transactions")
            .push_bind("created")
            .push_bind(&event.transaction_id)
            .push_bind(&event.links)
            .push_bind(db_time(&event.created_at))
            .push_bind(delivery_id)
            .push_bind(&event.json)
            .push_bind(received_at);
    });
    insert.push(" ON DUPLICATE KEY UPDATE event_id = event_id");
    insert.build().execute(&mut *tx).await?;
    Ok(())
}

async fn insert_transactions(tx: &mut MySqlConnection, events: &[&Event]) -> anyhow::Result<()> {
    let mut insert = QueryBuilder::<MySql>::new(
        "INSERT INTO transactions (transaction_id, account_id, amount, currency, booking_date, \
         value_date, description, reference, counterparty_name, event_id, created_at) ",
    );
    insert.push_values(events, |mut row, event| {
        row.push_bind(&event.transaction_id)
            .push_bind(&event.account_id)
            .push_bind(&event.amount)
            .push_bind("GBP")
            .push_bind(&event.booking_date)
            .push_bind(&event.booking_date)
            .push_bind(&event.description)
            .push_bind(&event.reference)
            .push_bind("Example Supplies Ltd")
            .push_bind(&event.id)
            .push_bind(db_time(&event.created_at));
    });
    insert.push(" ON DUPLICATE KEY UPDATE transaction_id = transaction_id");
    insert.build().execute(&mut *tx).await?;
    Ok(())
}

/// The service's text form of a time, which MariaDB reads as DATETIME(6).
fn db_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Enough randomness to make request ids look like nginx's; nothing depends on it.
fn rand_bits() -> u128 {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    u128::from(nanos.unsigned_abs())
}
