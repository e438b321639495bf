//! Example deliveries for the spec, one per kind of event the service treats apart. Swagger UI
//! offers them in its "Examples" list, ready to send.
//!
//! They are kept as JSON text so that their fields appear in the order GoCardless writes
//! them. Each has its own ids: sending one twice shows the duplicate count go up.

/// An example: its key in the spec, a one-line summary, and the delivery.
pub struct Example {
    pub name: &'static str,
    pub summary: &'static str,
    pub body: &'static str,
}

pub const EXAMPLES: [Example; 4] = [
    Example {
        name: "transaction",
        summary: "Payymo: a transaction booked (transactions/created)",
        body: r#"{
  "events": [
    {
      "id": "EV000EXAMPLETR",
      "created_at": "2024-05-01T12:00:00.000Z",
      "resource_type": "transactions",
      "action": "created",
      "links": { "transaction": "TR000EXAMPLE01", "account": "AC000EXAMPLE01" },
      "resource": {
        "amount": "-12.50",
        "currency": "EUR",
        "booking_date": "2024-05-01",
        "value_date": "2024-05-02",
        "description": "Card payment, Café Central",
        "reference": "INV-2024-0042",
        "counterparty_name": "Café Central GmbH"
      }
    }
  ],
  "meta": { "webhook_id": "WB000EXAMPLETR" }
}"#,
    },
    Example {
        name: "account_update",
        summary: "Payymo: an account's details changed (accounts/updated)",
        body: r#"{
  "events": [
    {
      "id": "EV000EXAMPLEAC",
      "created_at": "2024-05-01T12:05:00.000Z",
      "resource_type": "accounts",
      "action": "updated",
      "links": { "account": "AC000EXAMPLE01" },
      "resource": {
        "name": "Main business account",
        "iban": "DE89370400440532013000",
        "currency": "EUR",
        "status": "active"
      }
    }
  ],
  "meta": { "webhook_id": "WB000EXAMPLEAC" }
}"#,
    },
    Example {
        name: "connection_revoked",
        summary: "Payymo: a bank connection revoked (connections/revoked)",
        body: r#"{
  "events": [
    {
      "id": "EV000EXAMPLECO",
      "created_at": "2024-05-01T12:10:00.000Z",
      "resource_type": "connections",
      "action": "revoked",
      "links": { "connection": "CO000EXAMPLE01", "account": "AC000EXAMPLE01" },
      "details": { "reason": "user_revoked" }
    }
  ],
  "meta": { "webhook_id": "WB000EXAMPLECO" }
}"#,
    },
    Example {
        name: "payment_confirmed",
        summary: "GoCardless: a payment confirmed (payments/confirmed), stored as sent",
        body: r#"{
  "events": [
    {
      "id": "EV000EXAMPLEPM",
      "created_at": "2024-05-01T12:15:00.000Z",
      "resource_type": "payments",
      "action": "confirmed",
      "links": { "payment": "PM000EXAMPLE01" },
      "details": {
        "origin": "gocardless",
        "cause": "payment_confirmed",
        "description": "The payment has cleared: no bank returned it in time to fail it."
      },
      "metadata": {}
    }
  ],
  "meta": { "webhook_id": "WB000EXAMPLEPM" }
}"#,
    },
];
