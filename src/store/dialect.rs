//! The SQL that MySQL and SQLite spell differently: ignoring a duplicate key, and an upsert
//! that only lets a newer event overwrite a row.

use super::Backend;

/// Statement fragments for one backend.
#[derive(Debug)]
pub struct Dialect {
    pub backend: Backend,
    /// Appended to a multi-row insert into `webhook_events` so that a stored id is skipped.
    pub skip_duplicate_event: &'static str,
    /// Appended to a multi-row insert into `transactions` for the same purpose.
    pub skip_duplicate_transaction: &'static str,
    pub upsert_account: &'static str,
    pub upsert_connection: &'static str,
}

impl Dialect {
    pub fn of(backend: Backend) -> &'static Dialect {
        match backend {
            Backend::MySql => &MYSQL,
            Backend::Sqlite => &SQLITE,
        }
    }
}

// MySQL evaluates ON DUPLICATE KEY UPDATE assignments left to right, each seeing the ones
// before it. So the "is this event newer" test reads last_event_at and last_event_id before
// either is assigned, and last_event_at, assigned last, takes the greater of the two times
// (which is the new one exactly when the event was newer).
static MYSQL: Dialect = Dialect {
    backend: Backend::MySql,
    skip_duplicate_event: " ON DUPLICATE KEY UPDATE event_id = event_id",
    skip_duplicate_transaction: " ON DUPLICATE KEY UPDATE transaction_id = transaction_id",
    upsert_account: "INSERT INTO bank_accounts \
        (account_id, name, iban, currency, status, last_event_id, last_event_at, updated_at) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
        ON DUPLICATE KEY UPDATE \
        name = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            COALESCE(VALUES(name), name), name), \
        iban = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            COALESCE(VALUES(iban), iban), iban), \
        currency = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            COALESCE(VALUES(currency), currency), currency), \
        status = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            COALESCE(VALUES(status), status), status), \
        updated_at = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(updated_at), updated_at), \
        last_event_id = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(last_event_id), last_event_id), \
        last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
    upsert_connection: "INSERT INTO bank_connections \
        (connection_id, account_id, status, revoked_at, reason, last_event_id, last_event_at, \
         updated_at) \
        VALUES (?, ?, 'revoked', ?, ?, ?, ?, ?) \
        ON DUPLICATE KEY UPDATE \
        account_id = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            COALESCE(VALUES(account_id), account_id), account_id), \
        status = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(status), status), \
        revoked_at = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(revoked_at), revoked_at), \
        reason = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(reason), reason), \
        updated_at = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(updated_at), updated_at), \
        last_event_id = IF((VALUES(last_event_at), VALUES(last_event_id)) > (last_event_at, last_event_id), \
            VALUES(last_event_id), last_event_id), \
        last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
};

// SQLite evaluates every SET expression against the row as it was, so order does not matter.
static SQLITE: Dialect = Dialect {
    backend: Backend::Sqlite,
    skip_duplicate_event: " ON CONFLICT (event_id) DO NOTHING",
    skip_duplicate_transaction: " ON CONFLICT (transaction_id) DO NOTHING",
    upsert_account: "INSERT INTO bank_accounts \
        (account_id, name, iban, currency, status, last_event_id, last_event_at, updated_at) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
        ON CONFLICT (account_id) DO UPDATE SET \
        name = COALESCE(excluded.name, name), \
        iban = COALESCE(excluded.iban, iban), \
        currency = COALESCE(excluded.currency, currency), \
        status = COALESCE(excluded.status, status), \
        updated_at = excluded.updated_at, \
        last_event_id = excluded.last_event_id, \
        last_event_at = excluded.last_event_at \
        WHERE (excluded.last_event_at, excluded.last_event_id) > (last_event_at, last_event_id)",
    upsert_connection: "INSERT INTO bank_connections \
        (connection_id, account_id, status, revoked_at, reason, last_event_id, last_event_at, \
         updated_at) \
        VALUES (?, ?, 'revoked', ?, ?, ?, ?, ?) \
        ON CONFLICT (connection_id) DO UPDATE SET \
        account_id = COALESCE(excluded.account_id, account_id), \
        status = excluded.status, \
        revoked_at = excluded.revoked_at, \
        reason = excluded.reason, \
        updated_at = excluded.updated_at, \
        last_event_id = excluded.last_event_id, \
        last_event_at = excluded.last_event_at \
        WHERE (excluded.last_event_at, excluded.last_event_id) > (last_event_at, last_event_id)",
};
