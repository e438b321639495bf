//! What was sent: GoCardless's event envelope, checked field by field.
//!
//! The body is parsed once into JSON values, checked against the schema the spec documents,
//! and turned into a [`Delivery`] that can no longer be invalid. Each event keeps the exact
//! text it arrived in, which is what gets stored.

mod fields;
mod payymo;
mod strict_json;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub use fields::{Amount, EventId};
pub use payymo::{AccountUpdated, ConnectionRevoked, TransactionCreated};

use fields::Path;

/// A delivery whose every event passed validation.
#[derive(Debug)]
pub struct Delivery {
    pub webhook_id: Option<String>,
    pub events: Vec<Event>,
}

/// One event of a delivery.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub created_at: DateTime<Utc>,
    pub resource_type: String,
    pub action: String,
    /// The id of the resource the event is about, from its `links`, when there is one.
    pub resource_id: Option<String>,
    /// `links` as a JSON object.
    pub links: String,
    /// The event exactly as it appeared in the body.
    pub json: String,
    pub kind: EventKind,
}

/// Payymo's three event types carry typed state; every other event is stored as it is.
#[derive(Debug, Clone)]
pub enum EventKind {
    TransactionCreated(TransactionCreated),
    AccountUpdated(AccountUpdated),
    ConnectionRevoked(ConnectionRevoked),
    Other,
}

/// Why a body is not a delivery.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("body is not UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error("body is not valid JSON: {0}")]
    Malformed(String),
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl PayloadError {
    /// The stable code clients see in the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::NotUtf8(_) => "body_not_utf8",
            PayloadError::Malformed(_) => "malformed_json",
            PayloadError::Invalid { .. } => "invalid_payload",
        }
    }

    /// The offending field's path, for logs.
    pub fn path(&self) -> Option<&str> {
        match self {
            PayloadError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// Parses and validates a body. Nothing about the body is trusted before this returns `Ok`.
pub fn parse(body: &[u8]) -> Result<Delivery, PayloadError> {
    let text = std::str::from_utf8(body).map_err(|err| PayloadError::NotUtf8(err.valid_up_to()))?;
    let value = strict_json::parse(text).map_err(|err| PayloadError::Malformed(err.to_string()))?;
    let raw_events = raw_events(text);

    let root = Path::root();
    let envelope = fields::object(&value, &root)?;
    let webhook_id = match envelope.get("meta") {
        None | Some(Value::Null) => None,
        Some(meta) => webhook_id(meta, &root.key("meta"))?,
    };

    let events_path = root.key("events");
    let events = match envelope.get("events") {
        Some(Value::Array(events)) if events.is_empty() => {
            return Err(events_path.invalid("must hold at least one event"));
        }
        Some(Value::Array(events)) => events,
        Some(_) => return Err(events_path.invalid("must be an array of events")),
        None => return Err(events_path.invalid("is required")),
    };

    // Both parses read the same text, so they see the same events; a mismatch would mean
    // an event stored under the wrong text, which is worth refusing rather than assuming.
    if raw_events.len() != events.len() {
        return Err(PayloadError::Malformed(
            "events could not be delimited".into(),
        ));
    }
    let events = events
        .iter()
        .zip(raw_events)
        .enumerate()
        .map(|(index, (event, raw))| parse_event(event, raw, &events_path.index(index)))
        .collect::<Result<_, _>>()?;
    Ok(Delivery { webhook_id, events })
}

/// Reads an event stored earlier, under today's rules (for replaying it).
pub fn parse_stored(json: &str) -> Result<Event, PayloadError> {
    let value = strict_json::parse(json).map_err(|err| PayloadError::Malformed(err.to_string()))?;
    parse_event(&value, json.to_owned(), &Path::root().key("event"))
}

/// The text of each event, in order. Only called on text that already parsed as JSON.
fn raw_events(text: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct RawEnvelope<'a> {
        #[serde(borrow, default)]
        events: Option<Vec<&'a RawValue>>,
    }
    serde_json::from_str::<RawEnvelope>(text)
        .ok()
        .and_then(|envelope| envelope.events)
        .map(|events| events.iter().map(|raw| raw.get().to_owned()).collect())
        .unwrap_or_default()
}

fn webhook_id(meta: &Value, path: &Path) -> Result<Option<String>, PayloadError> {
    let meta = fields::object(meta, path)?;
    fields::optional_text(meta, "webhook_id", path, fields::ID_MAX_CHARS)
}

fn parse_event(value: &Value, json: String, path: &Path) -> Result<Event, PayloadError> {
    let event = fields::object(value, path)?;
    let id = EventId::parse(fields::required(event, "id", path)?, &path.key("id"))?;
    let created_at = fields::required(event, "created_at", path)?;
    let created_at = fields::timestamp(created_at, &path.key("created_at"))?;
    let resource_type = fields::name(event, "resource_type", path)?;
    let action = fields::name(event, "action", path)?;
    let links = fields::links(event, path)?;
    for optional in ["details", "metadata", "resource_metadata"] {
        fields::optional_object(event, optional, path)?;
    }

    let kind = payymo::parse(&resource_type, &action, event, links, path)?;
    let resource_id = resource_id(&resource_type, links);
    Ok(Event {
        id,
        created_at,
        resource_type,
        action,
        resource_id,
        links: serde_json::to_string(links).expect("a JSON object always serialises"),
        json,
        kind,
    })
}

/// GoCardless names the link to an event's own resource after the resource type in the
/// singular: a `payments` event links its `payment`, a `billing_requests` event its
/// `billing_request`.
fn resource_id(resource_type: &str, links: &Map<String, Value>) -> Option<String> {
    let singular = resource_type.strip_suffix('s').unwrap_or(resource_type);
    links
        .get(singular)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
