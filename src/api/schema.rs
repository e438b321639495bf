//! The request schema as the spec documents it. These types describe the body for the spec
//! and Swagger UI; the body itself is checked by [`crate::events`], which enforces the same
//! rules and the ones a schema cannot express.

use std::collections::BTreeMap;

use poem_openapi::Object;
use serde_json::Value;

/// A GoCardless delivery.
#[derive(Object, Debug)]
pub struct Envelope {
    /// One or more events, each stored once by its `id`.
    pub events: Vec<EventSchema>,
    /// Delivery metadata.
    pub meta: Option<Meta>,
}

/// Delivery metadata from GoCardless.
#[derive(Object, Debug)]
pub struct Meta {
    /// GoCardless's id for this webhook delivery.
    pub webhook_id: Option<String>,
}

/// One event. Payymo's `transactions`/`created`, `accounts`/`updated` and
/// `connections`/`revoked` carry a stricter `resource` (see the field descriptions); every
/// other resource type and action is stored as sent.
#[derive(Object, Debug)]
#[oai(rename = "Event")]
pub struct EventSchema {
    /// GoCardless's event id: 1 to 64 letters, digits, `_` or `-`.
    #[oai(validator(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
    pub id: String,
    /// When the event happened, RFC 3339.
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    /// The kind of resource, such as `payments` or `transactions`.
    #[oai(validator(pattern = "^[A-Za-z0-9_.-]{1,64}$"))]
    pub resource_type: String,
    /// What happened to it, such as `created`.
    #[oai(validator(pattern = "^[A-Za-z0-9_.-]{1,64}$"))]
    pub action: String,
    /// Ids of the resources involved, by resource name (`payment`, `account`, ...).
    pub links: BTreeMap<String, String>,
    /// Why the event happened, as GoCardless explains it.
    pub details: Option<BTreeMap<String, Value>>,
    /// Metadata the integrator attached.
    pub metadata: Option<BTreeMap<String, Value>>,
    /// Metadata of the resource.
    pub resource_metadata: Option<BTreeMap<String, Value>>,
    /// The resource's new state, for Payymo's event types: for `transactions`/`created`
    /// `amount` (decimal string, up to 15 digits before the point and 4 after, negative for
    /// debits), `currency` (ISO 4217), `booking_date` (date), optional `value_date`,
    /// `description`, `reference`, `counterparty_name`; for `accounts`/`updated` any of
    /// `name`, `iban`, `currency`, `status`.
    pub resource: Option<BTreeMap<String, Value>>,
}
