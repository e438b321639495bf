//! Where a delivery goes: one transaction that writes the delivery, its new events and
//! Payymo's typed state, on MySQL/MariaDB or on the embedded SQLite store.
//!
//! Both stores are reached through sqlx's `Any` driver. Values are bound as text where the two
//! differ in type (times, dates, amounts), and each store's database converts them; the SQL
//! that differs between the two lives in [`dialect`].

mod dialect;
mod read;
mod replay;
mod write;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::AnyPool;
use tokio::sync::Semaphore;

use crate::events::{Event, EventId};
use dialect::Dialect;

pub use read::{EventFilter, StoredDelivery, StoredEvent, StoredEventDetail, MAX_LIMIT};
pub use replay::ReplaySummary;
pub use write::Saved;

/// How long a request waits for a free database connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How many events the deliveries that take turns may be writing at once, in this process.
/// MariaDB stores the most rows per second with a few large transactions open at a time: with
/// 32 deliveries of 250 events open at once it spent 40 % more CPU per delivery than with
/// eight, waiting on the others' latches, and stored fewer (bench/RESULTS.md).
const EVENTS_IN_FLIGHT: usize = 500;

/// Deliveries of at most this many events write without waiting for a turn: they gain from
/// writing side by side (their commits share a flush), and all 32 connections' worth of them
/// stay within [`EVENTS_IN_FLIGHT`].
const EVENTS_WITHOUT_TURN: usize = 10;

/// How long a delivery waits for its turn before writing anyway. The turns shape load; they
/// must not let one stalled write (a lock held elsewhere, a slow disk) hold up every delivery
/// queued behind it until each runs out of time.
const TURN_WAIT: Duration = Duration::from_secs(1);

/// A connection pool and the dialect of the database behind it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: &'static Dialect,
    /// One permit for each event being written by a delivery that took a turn; see
    /// [`EVENTS_IN_FLIGHT`].
    writing: Arc<Semaphore>,
}

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    MySql,
    Sqlite,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Ok(Backend::MySql)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// A database fault. Clients only learn that the store is unavailable; the cause is logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with mysql:// or sqlite://")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

/// How a delivery's sender was checked, as recorded with it.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    /// The pin the client certificate matched, when certificates are checked and it did.
    pub matched_pin: Option<String>,
    /// Whether `Webhook-Signature` matched a configured secret.
    pub signature_valid: bool,
    /// Checks that failed but were let through (development mode only), in words.
    pub failures: Vec<String>,
}

impl Verification {
    pub fn is_verified(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A delivery ready to be written.
#[derive(Debug)]
pub struct NewDelivery<'a> {
    pub received_at: DateTime<Utc>,
    pub webhook_id: Option<&'a str>,
    pub body_sha256: String,
    pub verification: Verification,
    /// `live` or `sandbox`, as the Origin header said.
    pub gocardless_environment: Option<&'static str>,
    pub peer_addr: String,
    pub request_id: &'a str,
    pub events: &'a [Event],
}

/// A stored event whose id came again with other content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict(pub EventId);

impl Store {
    /// Connects, creating the SQLite file if it does not exist.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let (url, max_connections) = match backend {
            Backend::MySql => (url.replacen("mariadb://", "mysql://", 1), 32),
            // SQLite has one writer at a time; one connection keeps writers from tripping
            // over each other's locks instead of waiting their turn.
            Backend::Sqlite => (sqlite_url_that_creates(url), 1),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(&url)
            .await?;
        Ok(Store {
            pool,
            dialect: Dialect::of(backend),
            writing: Arc::new(Semaphore::new(EVENTS_IN_FLIGHT)),
        })
    }

    /// Applies pending migrations. Safe to run from several processes at once on MySQL,
    /// where sqlx holds a lock while it migrates.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect.backend {
            Backend::MySql => sqlx::migrate!("migrations/mysql").run(&self.pool).await?,
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query in time.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        tokio::time::timeout(ACQUIRE_TIMEOUT, query)
            .await
            .map_err(|_| StoreError::Timeout(ACQUIRE_TIMEOUT))?
            .map(|_: AnyQueryResult| ())
            .map_err(StoreError::from)
    }

    pub fn backend(&self) -> Backend {
        self.dialect.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn sqlite_url_that_creates(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Times are stored as UTC text that both databases read back as the same instant,
/// `2024-05-01 12:00:00.000000`. Written field by field: chrono's formatter showed in
/// profiles of large deliveries, where every event has two of these.
pub(crate) fn db_time(at: &DateTime<Utc>) -> String {
    use std::fmt::Write as _;

    let nanos = at.nanosecond();
    // chrono keeps a leap second as a second's worth of extra nanoseconds, which %S shows as 60.
    let (second, nanos) = match nanos.checked_sub(1_000_000_000) {
        Some(rest) => (at.second() + 1, rest),
        None => (at.second(), nanos),
    };
    let mut text = String::with_capacity(26);
    write!(
        text,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        second,
        nanos / 1000
    )
    .expect("writing to a String cannot fail");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format the stored times had when chrono wrote them.
    const DB_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

    #[test]
    fn a_stored_time_reads_as_its_pattern_says() {
        let leap_second = DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap();
        // From the first second of year 1000 to the last of 8999, the years accepted.
        let earliest = -30_610_224_000;
        let latest = 221_845_392_000 - 1;
        let spread = (0..1000).map(|i: i64| {
            let seconds = earliest + (latest - earliest) / 999 * i;
            let nanos = (i as u32).wrapping_mul(2_654_435_761) % 1_000_000_000;
            DateTime::from_timestamp(seconds, nanos).unwrap()
        });
        for at in [
            DateTime::from_timestamp(0, 0).unwrap(),
            DateTime::from_timestamp(1_767_225_599, 999_999_999).unwrap(),
            DateTime::from_timestamp(earliest, 0).unwrap(),
            DateTime::from_timestamp(latest, 999_999_999).unwrap(),
            leap_second,
        ]
        .into_iter()
        .chain(spread)
        {
            assert_eq!(db_time(&at), at.format(DB_TIME_FORMAT).to_string());
        }
        let at = DateTime::from_timestamp(1_767_225_599, 123_456_789).unwrap();
        assert_eq!(db_time(&at), "2025-12-31 23:59:59.123456");
    }
}
