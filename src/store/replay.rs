//! Rebuilding Payymo's typed tables from the stored events, for instance after a fix to how
//! an event type is applied.
//!
//! Events are read in `created_at` order (then by id) a page at a time, each page applied in
//! a transaction of its own in replay mode. Running it twice leaves the same state as once,
//! and deliveries may keep arriving meanwhile: a live event newer than a replayed one still
//! wins, because the newer-event guard applies in both modes.

use sqlx::Row;

use super::dialect::Mode;
use super::write::text_column;
use super::{Store, StoreError};
use crate::events::{self, Event, EventKind};

/// Events per page and per transaction.
const PAGE: i64 = 500;

const PAYYMO_EVENTS: &str = "((resource_type = 'transactions' AND action = 'created') \
    OR (resource_type = 'accounts' AND action = 'updated') \
    OR (resource_type = 'connections' AND action = 'revoked'))";

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    pub read: u64,
    pub transactions: u64,
    pub accounts: u64,
    pub connections: u64,
    /// Stored events that no longer pass validation, left out (and logged).
    pub skipped: u64,
}

impl Store {
    /// How many stored events a replay would read.
    pub async fn replayable_events(&self) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM webhook_events WHERE {PAYYMO_EVENTS}");
        let count: i64 = sqlx::query_scalar(&sql).fetch_one(&self.pool).await?;
        Ok(count.max(0) as u64)
    }

    /// Re-applies every stored Payymo event, calling `progress` with the count read so far.
    pub async fn replay(&self, mut progress: impl FnMut(u64)) -> Result<ReplaySummary, StoreError> {
        let sql = format!(
            "SELECT event_id, CAST(created_at AS CHAR), payload FROM webhook_events \
             WHERE {PAYYMO_EVENTS} AND (created_at > ? OR (created_at = ? AND event_id > ?)) \
             ORDER BY created_at, event_id LIMIT ?"
        );
        let mut summary = ReplaySummary::default();
        let mut after = ("0001-01-01 00:00:00.000000".to_owned(), String::new());
        loop {
            let rows = sqlx::query(&sql)
                .bind(after.0.clone())
                .bind(after.0.clone())
                .bind(after.1.clone())
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?;
            let Some(last) = rows.last() else {
                return Ok(summary);
            };
            after = (text_column(last, 1)?, last.try_get::<String, _>(0)?);

            let mut page = Vec::with_capacity(rows.len());
            for row in &rows {
                let event_id: String = row.try_get(0)?;
                match events::parse_stored(&text_column(row, 2)?) {
                    Ok(event) => page.push(event),
                    Err(err) => {
                        tracing::warn!(event_id, error = %err, "stored event no longer valid; skipped");
                        summary.skipped += 1;
                    }
                }
            }
            self.apply_page(&page).await?;
            summary.read += rows.len() as u64;
            count_kinds(&page, &mut summary);
            progress(summary.read);
        }
    }

    async fn apply_page(&self, page: &[Event]) -> Result<(), StoreError> {
        let events: Vec<&Event> = page.iter().collect();
        let mut tx = self.pool.begin().await?;
        self.apply(&mut tx, &events, Mode::Replay).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn count_kinds(page: &[Event], summary: &mut ReplaySummary) {
    for event in page {
        match event.kind {
            EventKind::TransactionCreated(_) => summary.transactions += 1,
            EventKind::AccountUpdated(_) => summary.accounts += 1,
            EventKind::ConnectionRevoked(_) => summary.connections += 1,
            EventKind::Other => {}
        }
    }
}
