//! A database of one's own on the MariaDB server that `scripts/test` starts.

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

/// How many rows each table holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub deliveries: i64,
    pub events: i64,
    pub transactions: i64,
    pub accounts: i64,
    pub connections: i64,
}

pub struct TestDatabase {
    /// For the service's DATABASE_URL.
    pub url: String,
    pool: MySqlPool,
}

impl TestDatabase {
    /// Creates an empty database with a name no other test uses. The service creates the
    /// tables when it starts.
    pub async fn create() -> TestDatabase {
        let url = crate::common::TestDb::mysql().await.url;
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        TestDatabase { url, pool }
    }

    pub async fn counts(&self) -> RowCounts {
        let (deliveries, events, transactions, accounts, connections) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM webhook_deliveries), \
                    (SELECT COUNT(*) FROM webhook_events), \
                    (SELECT COUNT(*) FROM transactions), \
                    (SELECT COUNT(*) FROM bank_accounts), \
                    (SELECT COUNT(*) FROM bank_connections)",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap();
        RowCounts {
            deliveries,
            events,
            transactions,
            accounts,
            connections,
        }
    }

    /// `(resource_type, action, resource_id)` of a stored event. Id columns compare bytes, and
    /// sqlx reads such a column as bytes; CAST gives it back as text.
    pub async fn event(&self, event_id: &str) -> Option<(String, String, String)> {
        sqlx::query_as(
            "SELECT resource_type, action, CAST(resource_id AS CHAR) FROM webhook_events \
             WHERE event_id = ?",
        )
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap()
    }

    /// `(matched_pin, request_id)` of the delivery that first brought an event.
    pub async fn delivery_of(&self, event_id: &str) -> (Option<String>, String) {
        sqlx::query_as(
            "SELECT d.matched_pin, d.request_id FROM webhook_deliveries d \
             JOIN webhook_events e ON e.delivery_id = d.id WHERE e.event_id = ?",
        )
        .bind(event_id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// `(account_id, amount, currency)` of a transaction, the amount as MariaDB prints it.
    pub async fn transaction(&self, transaction_id: &str) -> Option<(String, String, String)> {
        sqlx::query_as(
            "SELECT CAST(account_id AS CHAR), CAST(amount AS CHAR), currency FROM transactions \
             WHERE transaction_id = ?",
        )
        .bind(transaction_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap()
    }

    /// `(name, iban, status)` of a bank account.
    pub async fn account(&self, account_id: &str) -> Option<(String, String, String)> {
        sqlx::query_as("SELECT name, iban, status FROM bank_accounts WHERE account_id = ?")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await
            .unwrap()
    }

    /// `(account_id, status, reason)` of a bank connection.
    pub async fn connection(&self, connection_id: &str) -> Option<(String, String, String)> {
        sqlx::query_as(
            "SELECT CAST(account_id AS CHAR), status, reason FROM bank_connections \
             WHERE connection_id = ?",
        )
        .bind(connection_id)
        .fetch_optional(&self.pool)
        .await
        .unwrap()
    }
}
