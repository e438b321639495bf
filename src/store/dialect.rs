//! The SQL that MySQL and SQLite spell differently: skipping a duplicate key, and upserts
//! that only let a newer event overwrite a row.
//!
//! Each statement that changes Payymo's typed tables comes in two modes. A live delivery
//! never overwrites a transaction and only lets a strictly newer event change an account or
//! connection. A replay re-applies events in order, so it overwrites transactions and lets
//! an event change a row it already changed, which is what makes a fixed rule take effect.

use std::sync::LazyLock;

use super::Backend;

/// How typed rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
    Replay,
}

/// Statements for one backend.
#[derive(Debug)]
pub struct Dialect {
    pub backend: Backend,
    /// Appended to a multi-row insert into `webhook_events` so that a stored id is skipped.
    pub skip_duplicate_event: &'static str,
    on_transaction_conflict: [String; 2],
    upsert_account: [String; 2],
    upsert_connection: [String; 2],
}

impl Dialect {
    pub fn of(backend: Backend) -> &'static Dialect {
        match backend {
            Backend::MySql => &MYSQL,
            Backend::Sqlite => &SQLITE,
        }
    }

    /// Appended to a multi-row insert into `transactions`.
    pub fn on_transaction_conflict(&self, mode: Mode) -> &str {
        &self.on_transaction_conflict[mode as usize]
    }

    pub fn upsert_account(&self, mode: Mode) -> &str {
        &self.upsert_account[mode as usize]
    }

    pub fn upsert_connection(&self, mode: Mode) -> &str {
        &self.upsert_connection[mode as usize]
    }
}

const TRANSACTION_COLUMNS: [&str; 10] = [
    "account_id",
    "amount",
    "currency",
    "booking_date",
    "value_date",
    "description",
    "reference",
    "counterparty_name",
    "event_id",
    "created_at",
];

const ACCOUNT_INSERT: &str = "INSERT INTO bank_accounts \
    (account_id, name, iban, currency, status, last_event_id, last_event_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

const CONNECTION_INSERT: &str = "INSERT INTO bank_connections \
    (connection_id, account_id, status, revoked_at, reason, last_event_id, last_event_at, \
    updated_at) \
    VALUES (?, ?, 'revoked', ?, ?, ?, ?, ?)";

/// Account columns an event may set; a field it leaves out keeps its value.
const ACCOUNT_FIELDS: [&str; 4] = ["name", "iban", "currency", "status"];

/// Whether the incoming event comes after the one applied last: strictly in live mode, or
/// also when it is that same event in a replay.
fn later(mode: Mode) -> &'static str {
    match mode {
        Mode::Live => ">",
        Mode::Replay => ">=",
    }
}

static MYSQL: LazyLock<Dialect> = LazyLock::new(|| Dialect {
    backend: Backend::MySql,
    skip_duplicate_event: " ON DUPLICATE KEY UPDATE event_id = event_id",
    on_transaction_conflict: [
        " ON DUPLICATE KEY UPDATE transaction_id = transaction_id".into(),
        format!(
            " ON DUPLICATE KEY UPDATE {}",
            assignments(&TRANSACTION_COLUMNS, |c| format!("{c} = VALUES({c})"))
        ),
    ],
    upsert_account: [Mode::Live, Mode::Replay].map(|mode| {
        mysql_guarded_upsert(ACCOUNT_INSERT, mode, |c| {
            ACCOUNT_FIELDS
                .iter()
                .map(|field| {
                    format!("{field} = IF({c}, COALESCE(VALUES({field}), {field}), {field})")
                })
                .collect()
        })
    }),
    upsert_connection: [Mode::Live, Mode::Replay].map(|mode| {
        mysql_guarded_upsert(CONNECTION_INSERT, mode, |c| {
            vec![
                format!(
                    "account_id = IF({c}, COALESCE(VALUES(account_id), account_id), account_id)"
                ),
                format!("status = IF({c}, VALUES(status), status)"),
                format!("revoked_at = IF({c}, VALUES(revoked_at), revoked_at)"),
                format!("reason = IF({c}, VALUES(reason), reason)"),
            ]
        })
    }),
});

// MySQL evaluates ON DUPLICATE KEY UPDATE assignments left to right, each seeing the ones
// before it, and has no WHERE there. So every assignment repeats the "is this event later"
// test, which reads last_event_at and last_event_id before either is assigned; last_event_at,
// assigned last, takes the greater time, which is the new one exactly when the event is later.
fn mysql_guarded_upsert(insert: &str, mode: Mode, fields: impl Fn(&str) -> Vec<String>) -> String {
    let later = format!(
        "(VALUES(last_event_at), VALUES(last_event_id)) {} (last_event_at, last_event_id)",
        later(mode)
    );
    let mut updates = fields(&later);
    updates.push(format!(
        "updated_at = IF({later}, VALUES(updated_at), updated_at)"
    ));
    updates.push(format!(
        "last_event_id = IF({later}, VALUES(last_event_id), last_event_id)"
    ));
    updates.push("last_event_at = GREATEST(last_event_at, VALUES(last_event_at))".into());
    format!("{insert} ON DUPLICATE KEY UPDATE {}", updates.join(", "))
}

static SQLITE: LazyLock<Dialect> = LazyLock::new(|| Dialect {
    backend: Backend::Sqlite,
    skip_duplicate_event: " ON CONFLICT (event_id) DO NOTHING",
    on_transaction_conflict: [
        " ON CONFLICT (transaction_id) DO NOTHING".into(),
        format!(
            " ON CONFLICT (transaction_id) DO UPDATE SET {}",
            assignments(&TRANSACTION_COLUMNS, |c| format!("{c} = excluded.{c}"))
        ),
    ],
    upsert_account: [Mode::Live, Mode::Replay].map(|mode| {
        let fields = ACCOUNT_FIELDS
            .iter()
            .map(|field| format!("{field} = COALESCE(excluded.{field}, {field})"))
            .collect();
        sqlite_guarded_upsert(ACCOUNT_INSERT, "account_id", mode, fields)
    }),
    upsert_connection: [Mode::Live, Mode::Replay].map(|mode| {
        let fields = vec![
            "account_id = COALESCE(excluded.account_id, account_id)".into(),
            "status = excluded.status".into(),
            "revoked_at = excluded.revoked_at".into(),
            "reason = excluded.reason".into(),
        ];
        sqlite_guarded_upsert(CONNECTION_INSERT, "connection_id", mode, fields)
    }),
});

// SQLite evaluates every SET expression against the row as it was, and takes a WHERE.
fn sqlite_guarded_upsert(insert: &str, key: &str, mode: Mode, mut fields: Vec<String>) -> String {
    fields.extend([
        "updated_at = excluded.updated_at".into(),
        "last_event_id = excluded.last_event_id".into(),
        "last_event_at = excluded.last_event_at".into(),
    ]);
    format!(
        "{insert} ON CONFLICT ({key}) DO UPDATE SET {} \
         WHERE (excluded.last_event_at, excluded.last_event_id) {} (last_event_at, last_event_id)",
        fields.join(", "),
        later(mode)
    )
}

fn assignments(columns: &[&str], assign: impl Fn(&str) -> String) -> String {
    columns
        .iter()
        .map(|c| assign(c))
        .collect::<Vec<_>>()
        .join(", ")
}
