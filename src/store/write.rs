//! Writing one delivery in one transaction.
//!
//! Events are inserted with "skip if the id exists", then read back by the delivery that
//! inserted them: those are the new ones, and only they change Payymo's typed tables. Two
//! deliveries of the same event at once therefore store and apply it once: the second insert
//! waits for the first transaction and then finds the id taken.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, QueryBuilder, Row};
use tokio::sync::SemaphorePermit;

use super::dialect::Mode;
use super::{
    db_time, Conflict, NewDelivery, Store, StoreError, EVENTS_IN_FLIGHT, EVENTS_WITHOUT_TURN,
    TURN_WAIT,
};
use crate::events::{AccountUpdated, ConnectionRevoked, Event, EventKind, TransactionCreated};

/// Rows per multi-row insert: well inside both databases' limits on bound values.
const ROWS_PER_INSERT: usize = 200;
/// How often a transaction that lost a deadlock is tried again before giving up.
const DEADLOCK_RETRIES: u32 = 5;

/// What a stored delivery amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub delivery_id: i64,
    pub accepted: usize,
    pub duplicates: usize,
    /// Duplicates whose content differs from what was stored first.
    pub conflicts: Vec<Conflict>,
    /// How many new events of each resource type and action.
    pub new_by_type: HashMap<(String, String), u64>,
}

impl Store {
    /// Stores a delivery whole, or not at all.
    pub async fn save(&self, delivery: &NewDelivery<'_>) -> Result<Saved, StoreError> {
        let _turn = self.turn(delivery.events.len()).await;
        let mut attempt = 0;
        loop {
            match self.save_once(delivery).await {
                Err(StoreError::Database(err)) if attempt < DEADLOCK_RETRIES && retryable(&err) => {
                    attempt += 1;
                    tracing::info!(attempt, "transaction lost a deadlock; trying again");
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Waits, in arrival order and for at most [`TURN_WAIT`], until the deliveries taking
    /// turns leave room for `events` more; see [`EVENTS_IN_FLIGHT`]. `None` when the
    /// delivery writes without a turn.
    async fn turn(&self, events: usize) -> Option<SemaphorePermit<'_>> {
        if events <= EVENTS_WITHOUT_TURN {
            return None;
        }
        let permits = events.min(EVENTS_IN_FLIGHT) as u32;
        match tokio::time::timeout(TURN_WAIT, self.writing.acquire_many(permits)).await {
            Ok(permit) => Some(permit.expect("the writers' semaphore is never closed")),
            Err(_) => {
                tracing::debug!(
                    events,
                    "no turn to write within {TURN_WAIT:?}; writing anyway"
                );
                None
            }
        }
    }

    async fn save_once(&self, delivery: &NewDelivery<'_>) -> Result<Saved, StoreError> {
        let mut tx = self.pool.begin().await?;
        let delivery_id = insert_delivery(&mut tx, delivery).await?;

        // One insert per id, in id order: concurrent deliveries then lock rows in the same
        // order, which keeps them from deadlocking on each other.
        let mut unique: Vec<&Event> = Vec::with_capacity(delivery.events.len());
        let mut seen = HashSet::new();
        for event in delivery.events {
            if seen.insert(event.id.as_str()) {
                unique.push(event);
            }
        }
        unique.sort_by(|a, b| a.id.cmp(&b.id));
        for chunk in unique.chunks(ROWS_PER_INSERT) {
            self.insert_events(&mut tx, chunk, delivery_id, delivery)
                .await?;
        }

        let new_ids: HashSet<String> =
            sqlx::query_scalar("SELECT event_id FROM webhook_events WHERE delivery_id = ?")
                .bind(delivery_id)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let new_events: Vec<&Event> = unique
            .into_iter()
            .filter(|event| new_ids.contains(event.id.as_str()))
            .collect();
        let duplicates = delivery.events.len() - new_events.len();
        let conflicts = if duplicates > 0 {
            find_conflicts(&mut tx, delivery.events, &new_ids).await?
        } else {
            Vec::new()
        };

        self.apply(&mut tx, &new_events, Mode::Live).await?;
        tx.commit().await?;
        let mut new_by_type = HashMap::new();
        for event in &new_events {
            let key = (event.resource_type.clone(), event.action.clone());
            *new_by_type.entry(key).or_insert(0) += 1;
        }
        Ok(Saved {
            delivery_id,
            accepted: new_events.len(),
            duplicates,
            conflicts,
            new_by_type,
        })
    }

    async fn insert_events(
        &self,
        tx: &mut AnyConnection,
        events: &[&Event],
        delivery_id: i64,
        delivery: &NewDelivery<'_>,
    ) -> Result<(), StoreError> {
        // Values are bound as borrowed text: an owned String is copied twice more on its way
        // into the statement, which for a large delivery cost more than building it.
        let received_at = db_time(&delivery.received_at);
        let created_at: Vec<String> = events.iter().map(|e| db_time(&e.created_at)).collect();
        let mut insert = QueryBuilder::<Any>::new(
            "INSERT INTO webhook_events (event_id, resource_type, action, resource_id, links, \
             created_at, delivery_id, payload, received_at) ",
        );
        insert.push_values(
            events.iter().zip(&created_at),
            |mut row, (event, created_at)| {
                row.push_bind(event.id.as_str())
                    .push_bind(event.resource_type.as_str())
                    .push_bind(event.action.as_str())
                    .push_bind(event.resource_id.as_deref())
                    .push_bind(event.links.as_str())
                    .push_bind(created_at.as_str())
                    .push_bind(delivery_id)
                    .push_bind(event.json.as_str())
                    .push_bind(received_at.as_str());
            },
        );
        insert.push(self.dialect.skip_duplicate_event);
        insert.build().execute(&mut *tx).await?;
        Ok(())
    }

    /// Applies Payymo's event types to the typed tables.
    pub(super) async fn apply(
        &self,
        tx: &mut AnyConnection,
        events: &[&Event],
        mode: Mode,
    ) -> Result<(), StoreError> {
        let mut transactions = Vec::new();
        let mut accounts = Vec::new();
        let mut connections = Vec::new();
        for event in events {
            match &event.kind {
                EventKind::TransactionCreated(t) => transactions.push((*event, t)),
                EventKind::AccountUpdated(a) => accounts.push((*event, a)),
                EventKind::ConnectionRevoked(c) => connections.push((*event, c)),
                EventKind::Other => {}
            }
        }
        // Key order again, for the same reason as the events.
        transactions.sort_by(|a, b| a.1.transaction_id.cmp(&b.1.transaction_id));
        accounts.sort_by(|a, b| a.1.account_id.cmp(&b.1.account_id));
        connections.sort_by(|a, b| a.1.connection_id.cmp(&b.1.connection_id));

        for chunk in transactions.chunks(ROWS_PER_INSERT) {
            self.insert_transactions(tx, chunk, mode).await?;
        }
        for (event, account) in accounts {
            self.upsert_account(tx, event, account, mode).await?;
        }
        for (event, connection) in connections {
            self.upsert_connection(tx, event, connection, mode).await?;
        }
        Ok(())
    }

    async fn insert_transactions(
        &self,
        tx: &mut AnyConnection,
        rows: &[(&Event, &TransactionCreated)],
        mode: Mode,
    ) -> Result<(), StoreError> {
        // Borrowed text, as for the events.
        let created_at: Vec<String> = rows.iter().map(|(e, _)| db_time(&e.created_at)).collect();
        let mut insert = QueryBuilder::<Any>::new(
            "INSERT INTO transactions (transaction_id, account_id, amount, currency, \
             booking_date, value_date, description, reference, counterparty_name, event_id, \
             created_at) ",
        );
        insert.push_values(
            rows.iter().zip(&created_at),
            |mut row, ((event, t), created_at)| {
                row.push_bind(t.transaction_id.as_str())
                    .push_bind(t.account_id.as_str())
                    .push_bind(t.amount.as_str())
                    .push_bind(t.currency.as_str())
                    .push_bind(t.booking_date.to_string())
                    .push_bind(t.value_date.map(|date| date.to_string()))
                    .push_bind(t.description.as_deref())
                    .push_bind(t.reference.as_deref())
                    .push_bind(t.counterparty_name.as_deref())
                    .push_bind(event.id.as_str())
                    .push_bind(created_at.as_str());
            },
        );
        insert.push(self.dialect.on_transaction_conflict(mode));
        insert.build().execute(&mut *tx).await?;
        Ok(())
    }

    async fn upsert_account(
        &self,
        tx: &mut AnyConnection,
        event: &Event,
        account: &AccountUpdated,
        mode: Mode,
    ) -> Result<(), StoreError> {
        sqlx::query(self.dialect.upsert_account(mode))
            .bind(account.account_id.clone())
            .bind(account.name.clone())
            .bind(account.iban.clone())
            .bind(account.currency.clone())
            .bind(account.status.clone())
            .bind(event.id.as_str().to_owned())
            .bind(db_time(&event.created_at))
            .bind(db_time(&chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    async fn upsert_connection(
        &self,
        tx: &mut AnyConnection,
        event: &Event,
        connection: &ConnectionRevoked,
        mode: Mode,
    ) -> Result<(), StoreError> {
        sqlx::query(self.dialect.upsert_connection(mode))
            .bind(connection.connection_id.clone())
            .bind(connection.account_id.clone())
            .bind(db_time(&event.created_at))
            .bind(connection.reason.clone())
            .bind(event.id.as_str().to_owned())
            .bind(db_time(&event.created_at))
            .bind(db_time(&chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

async fn insert_delivery(
    tx: &mut AnyConnection,
    delivery: &NewDelivery<'_>,
) -> Result<i64, StoreError> {
    let verification = &delivery.verification;
    let state = if verification.is_verified() {
        "verified"
    } else {
        "unverified"
    };
    let reason = (!verification.is_verified()).then(|| verification.failures.join("; "));
    let result = sqlx::query(
        "INSERT INTO webhook_deliveries (received_at, webhook_id, body_sha256, verification, \
         matched_pin, signature, unverified_reason, gocardless_environment, peer_addr, \
         request_id, event_count) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(db_time(&delivery.received_at))
    .bind(delivery.webhook_id.map(str::to_owned))
    .bind(delivery.body_sha256.clone())
    .bind(state)
    .bind(verification.matched_pin.clone())
    .bind(verification.signature_valid.then_some("valid"))
    .bind(reason)
    .bind(delivery.gocardless_environment)
    .bind(delivery.peer_addr.clone())
    .bind(delivery.request_id.to_owned())
    .bind(delivery.events.len() as i64)
    .execute(&mut *tx)
    .await?;
    match result.last_insert_id() {
        Some(id) => Ok(id),
        // sqlx's Any driver reports the id for MySQL only; SQLite is asked on the same
        // connection, where the answer is this insert's row.
        None => Ok(sqlx::query_scalar("SELECT last_insert_rowid()")
            .fetch_one(&mut *tx)
            .await?),
    }
}

/// The duplicates whose content differs from the stored event. Compared as JSON values, so
/// that key order and spacing do not count as a difference.
async fn find_conflicts(
    tx: &mut AnyConnection,
    events: &[Event],
    new_ids: &HashSet<String>,
) -> Result<Vec<Conflict>, StoreError> {
    let mut first_of_new: HashSet<&str> = HashSet::new();
    let duplicates: Vec<&Event> = events
        .iter()
        .filter(|event| {
            let id = event.id.as_str();
            // The first copy of a new id is the stored one; any later copy is a duplicate.
            !(new_ids.contains(id) && first_of_new.insert(id))
        })
        .collect();

    let mut stored: HashMap<String, String> = HashMap::new();
    for chunk in duplicates.chunks(ROWS_PER_INSERT) {
        let mut select = QueryBuilder::<Any>::new(
            "SELECT event_id, payload FROM webhook_events WHERE event_id IN (",
        );
        let mut ids = select.separated(", ");
        for event in chunk {
            ids.push_bind(event.id.as_str().to_owned());
        }
        select.push(")");
        for row in select.build().fetch_all(&mut *tx).await? {
            stored.insert(text_column(&row, 0)?, text_column(&row, 1)?);
        }
    }

    let same = |a: &str, b: &str| {
        serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok()
    };
    Ok(duplicates
        .into_iter()
        .filter(|event| {
            stored
                .get(event.id.as_str())
                .is_some_and(|first| !same(first, &event.json))
        })
        .map(|event| Conflict(event.id.clone()))
        .collect())
}

/// A text column's value. MySQL sends TEXT columns as blobs, which sqlx's Any driver will
/// not decode as a string, so those are read as bytes.
pub(super) fn text_column(row: &AnyRow, index: usize) -> Result<String, sqlx::Error> {
    match row.try_get::<String, _>(index) {
        Ok(text) => Ok(text),
        Err(_) => Ok(String::from_utf8_lossy(&row.try_get::<Vec<u8>, _>(index)?).into_owned()),
    }
}

/// Deadlocks and lock-wait timeouts (MySQL), and a busy database (SQLite), pass if tried again.
fn retryable(err: &sqlx::Error) -> bool {
    let Some(db) = err.as_database_error() else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        Some("40001") | Some("5") | Some("HY000")
    ) && (db.code().as_deref() != Some("HY000") || db.message().contains("Lock wait timeout"))
}
