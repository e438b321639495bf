//! Deliveries in GoCardless's envelope, built from parts so each test says only what matters.

use serde_json::{json, Value};

/// An envelope around `events`.
pub fn delivery(events: &[Value]) -> String {
    json!({ "events": events, "meta": { "webhook_id": "WB_TEST" } }).to_string()
}

pub fn transaction(id: &str, transaction: &str, amount: &str) -> Value {
    json!({
        "id": id,
        "created_at": "2024-05-01T12:00:00.000Z",
        "resource_type": "transactions",
        "action": "created",
        "links": { "transaction": transaction, "account": "AC_MAIN" },
        "resource": {
            "amount": amount,
            "currency": "EUR",
            "booking_date": "2024-05-01",
            "value_date": "2024-05-02",
            "description": "Café au lait ☕ — 𝄞",
            "reference": "INV-42",
            "counterparty_name": "Zoë Ünal"
        }
    })
}

pub fn account_update(id: &str, account: &str, created_at: &str, resource: Value) -> Value {
    json!({
        "id": id,
        "created_at": created_at,
        "resource_type": "accounts",
        "action": "updated",
        "links": { "account": account },
        "resource": resource
    })
}

pub fn connection_revoked(id: &str, connection: &str, created_at: &str, reason: &str) -> Value {
    json!({
        "id": id,
        "created_at": created_at,
        "resource_type": "connections",
        "action": "revoked",
        "links": { "connection": connection, "account": "AC_MAIN" },
        "details": { "reason": reason }
    })
}

pub fn payment_failed(id: &str, payment: &str) -> Value {
    json!({
        "id": id,
        "created_at": "2024-05-01T12:00:00.000Z",
        "resource_type": "payments",
        "action": "failed",
        "links": { "payment": payment },
        "details": {
            "origin": "bank",
            "cause": "insufficient_funds",
            "description": "The customer's account had insufficient funds."
        },
        "metadata": {}
    })
}

/// One event of each of Payymo's types and a GoCardless payment event.
pub fn mixed(prefix: &str) -> String {
    delivery(&[
        transaction(&format!("{prefix}T"), &format!("TR_{prefix}"), "-12.50"),
        account_update(
            &format!("{prefix}A"),
            "AC_MAIN",
            "2024-05-01T12:00:00Z",
            json!({ "name": "Main account", "iban": "DE89370400440532013000", "currency": "EUR" }),
        ),
        connection_revoked(
            &format!("{prefix}C"),
            &format!("CO_{prefix}"),
            "2024-05-01T12:00:00Z",
            "user_revoked",
        ),
        payment_failed(&format!("{prefix}P"), &format!("PM_{prefix}")),
    ])
}
