//! Looking at what was stored: events by type, resource or time, one event whole, and the
//! deliveries with how each was verified. Read-only; used by the command line and the admin
//! endpoints alike.

use chrono::{DateTime, NaiveDateTime, Utc};
use poem_openapi::Object;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, QueryBuilder, Row};

use super::write::text_column;
use super::{db_time, Store, StoreError};

/// Most rows one listing returns.
pub const MAX_LIMIT: u32 = 1000;

/// Which events to list. Every filter that is set must match.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub resource_type: Option<String>,
    pub action: Option<String>,
    pub resource_id: Option<String>,
    /// Only events created at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// A stored event, without its body.
#[derive(Debug, Clone, PartialEq, Serialize, Object)]
pub struct StoredEvent {
    /// GoCardless's event id.
    pub event_id: String,
    /// The kind of resource, such as `payments`.
    pub resource_type: String,
    /// What happened to it, such as `confirmed`.
    pub action: String,
    /// The id of the resource the event is about, when its links name one.
    #[oai(skip_serializing_if_is_none)]
    pub resource_id: Option<String>,
    /// When the event happened (UTC, RFC 3339).
    pub created_at: String,
    /// When it was stored (UTC, RFC 3339).
    pub received_at: String,
    /// The delivery that first brought it.
    pub delivery_id: i64,
}

/// A stored event with its links and the JSON it arrived as.
#[derive(Debug, Clone, PartialEq, Serialize, Object)]
pub struct StoredEventDetail {
    /// The event's listing fields.
    #[serde(flatten)]
    #[oai(flatten)]
    pub event: StoredEvent,
    /// Ids of the resources involved, by resource name.
    pub links: Value,
    /// The event exactly as GoCardless sent it.
    pub payload: Value,
}

/// A stored delivery and how its sender was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Object)]
pub struct StoredDelivery {
    /// The delivery's id in this database.
    pub id: i64,
    /// When it was received (UTC, RFC 3339).
    pub received_at: String,
    /// GoCardless's id for the webhook, from `meta.webhook_id`.
    #[oai(skip_serializing_if_is_none)]
    pub webhook_id: Option<String>,
    /// `verified`, or `unverified` when development mode let a failed check through.
    pub verification: String,
    /// The certificate pin that matched, when certificates are checked.
    #[oai(skip_serializing_if_is_none)]
    pub matched_pin: Option<String>,
    /// `valid` when the signature was checked and matched.
    #[oai(skip_serializing_if_is_none)]
    pub signature: Option<String>,
    /// Why the delivery would have been rejected, when it is unverified.
    #[oai(skip_serializing_if_is_none)]
    pub unverified_reason: Option<String>,
    /// `live` or `sandbox`, from the delivery's Origin.
    #[oai(skip_serializing_if_is_none)]
    pub gocardless_environment: Option<String>,
    /// The address the delivery came from (the proxy's).
    pub peer_addr: String,
    /// The request id shared with the proxy's logs.
    pub request_id: String,
    /// How many events the delivery carried.
    pub event_count: i64,
    /// SHA-256 of the body, hex.
    pub body_sha256: String,
}

const EVENT_COLUMNS: &str = "event_id, resource_type, action, resource_id, \
    CAST(created_at AS CHAR), CAST(received_at AS CHAR), delivery_id";

impl Store {
    /// Events matching `filter`, newest first.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let mut query = QueryBuilder::<Any>::new(format!(
            "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE 1 = 1"
        ));
        let equal = [
            ("resource_type", &filter.resource_type),
            ("action", &filter.action),
            ("resource_id", &filter.resource_id),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                query
                    .push(format!(" AND {column} = "))
                    .push_bind(value.clone());
            }
        }
        if let Some(since) = &filter.since {
            query.push(" AND created_at >= ").push_bind(db_time(since));
        }
        query
            .push(" ORDER BY created_at DESC, event_id DESC LIMIT ")
            .push_bind(i64::from(filter.limit.clamp(1, MAX_LIMIT)));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(stored_event).collect()
    }

    /// One event whole, if it is stored.
    pub async fn event(&self, event_id: &str) -> Result<Option<StoredEventDetail>, StoreError> {
        // Stored ids are ASCII (see `EventId`); anything else cannot match, and MySQL would
        // refuse to compare it with the ASCII column at all.
        let plausible = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if event_id.is_empty() || event_id.len() > 64 || !event_id.chars().all(plausible) {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, links, payload FROM webhook_events WHERE event_id = ?"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(event_id.to_owned())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let json = |index| -> Result<Value, StoreError> {
            let text = text_column(&row, index)?;
            serde_json::from_str(&text)
                .map_err(|err| StoreError::Database(sqlx::Error::Decode(Box::new(err))))
        };
        Ok(Some(StoredEventDetail {
            event: stored_event(&row)?,
            links: json(7)?,
            payload: json(8)?,
        }))
    }

    /// Deliveries, newest first, optionally only those received at or after `since`.
    pub async fn list_deliveries(
        &self,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        let mut query = QueryBuilder::<Any>::new(
            "SELECT id, CAST(received_at AS CHAR), webhook_id, verification, matched_pin, \
             signature, unverified_reason, gocardless_environment, peer_addr, request_id, \
             event_count, body_sha256 FROM webhook_deliveries WHERE 1 = 1",
        );
        if let Some(since) = &since {
            query.push(" AND received_at >= ").push_bind(db_time(since));
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit.clamp(1, MAX_LIMIT)));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(stored_delivery).collect()
    }
}

fn stored_event(row: &AnyRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        event_id: row.try_get(0)?,
        resource_type: row.try_get(1)?,
        action: row.try_get(2)?,
        resource_id: row.try_get(3)?,
        created_at: rfc3339(&text_column(row, 4)?),
        received_at: rfc3339(&text_column(row, 5)?),
        delivery_id: row.try_get(6)?,
    })
}

fn stored_delivery(row: &AnyRow) -> Result<StoredDelivery, StoreError> {
    Ok(StoredDelivery {
        id: row.try_get(0)?,
        received_at: rfc3339(&text_column(row, 1)?),
        webhook_id: row.try_get(2)?,
        verification: row.try_get(3)?,
        matched_pin: row.try_get(4)?,
        signature: row.try_get(5)?,
        unverified_reason: optional_text(row, 6)?,
        gocardless_environment: row.try_get(7)?,
        peer_addr: row.try_get(8)?,
        request_id: row.try_get(9)?,
        event_count: row.try_get(10)?,
        body_sha256: row.try_get(11)?,
    })
}

/// A nullable TEXT column (a blob to MySQL's side of the Any driver).
fn optional_text(row: &AnyRow, index: usize) -> Result<Option<String>, StoreError> {
    if let Ok(text) = row.try_get::<Option<String>, _>(index) {
        return Ok(text);
    }
    let bytes: Option<Vec<u8>> = row.try_get(index)?;
    Ok(bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// A stored time (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC) as RFC 3339.
fn rfc3339(stored: &str) -> String {
    NaiveDateTime::parse_from_str(stored, "%Y-%m-%d %H:%M:%S%.f")
        .map(|at| {
            at.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        })
        .unwrap_or_else(|_| stored.to_owned())
}
