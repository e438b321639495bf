//! Payymo's own event types, whose schema is stricter than GoCardless's envelope.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::fields::{self, Amount, Path, ID_MAX_CHARS};
use super::{EventKind, PayloadError};

/// Longest free text kept from a transaction (description, reference, counterparty).
pub const TEXT_MAX_CHARS: usize = 1000;

/// `transactions`/`created`: a booked bank transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionCreated {
    pub transaction_id: String,
    pub account_id: String,
    pub amount: Amount,
    pub currency: String,
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    pub description: Option<String>,
    pub reference: Option<String>,
    pub counterparty_name: Option<String>,
}

/// `accounts`/`updated`: new values for some of an account's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUpdated {
    pub account_id: String,
    pub name: Option<String>,
    pub iban: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
}

/// `connections`/`revoked`: a bank connection that no longer gives access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRevoked {
    pub connection_id: String,
    pub account_id: Option<String>,
    pub reason: Option<String>,
}

/// Applies the stricter schema to Payymo's three types; any other event passes as `Other`.
pub fn parse(
    resource_type: &str,
    action: &str,
    event: &Map<String, Value>,
    links: &Map<String, Value>,
    path: &Path,
) -> Result<EventKind, PayloadError> {
    let kind = match (resource_type, action) {
        ("transactions", "created") => {
            EventKind::TransactionCreated(transaction(event, links, path)?)
        }
        ("accounts", "updated") => EventKind::AccountUpdated(account(event, links, path)?),
        ("connections", "revoked") => EventKind::ConnectionRevoked(connection(event, links, path)?),
        _ => EventKind::Other,
    };
    Ok(kind)
}

fn link(links: &Map<String, Value>, key: &str, path: &Path) -> Result<String, PayloadError> {
    fields::required_text(links, key, &path.key("links"), ID_MAX_CHARS)
}

fn optional_link(
    links: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<String>, PayloadError> {
    fields::optional_text(links, key, &path.key("links"), ID_MAX_CHARS)
}

fn resource<'a, 'p>(
    event: &'a Map<String, Value>,
    path: &'p Path<'p>,
) -> Result<(&'a Map<String, Value>, Path<'p>), PayloadError> {
    let value = fields::required(event, "resource", path)?;
    let path = path.key("resource");
    Ok((fields::object(value, &path)?, path))
}

fn transaction(
    event: &Map<String, Value>,
    links: &Map<String, Value>,
    path: &Path,
) -> Result<TransactionCreated, PayloadError> {
    let transaction_id = link(links, "transaction", path)?;
    let account_id = link(links, "account", path)?;
    let (resource, path) = resource(event, path)?;

    let amount = Amount::parse(
        fields::required(resource, "amount", &path)?,
        &path.key("amount"),
    )?;
    let currency = fields::currency(
        fields::required(resource, "currency", &path)?,
        &path.key("currency"),
    )?;
    let booking_date = fields::date(
        fields::required(resource, "booking_date", &path)?,
        &path.key("booking_date"),
    )?;
    let value_date = fields::optional(resource, "value_date")
        .map(|value| fields::date(value, &path.key("value_date")))
        .transpose()?;
    let free_text = |key| fields::optional_text(resource, key, &path, TEXT_MAX_CHARS);

    Ok(TransactionCreated {
        transaction_id,
        account_id,
        amount,
        currency,
        booking_date,
        value_date,
        description: free_text("description")?,
        reference: free_text("reference")?,
        counterparty_name: free_text("counterparty_name")?,
    })
}

fn account(
    event: &Map<String, Value>,
    links: &Map<String, Value>,
    path: &Path,
) -> Result<AccountUpdated, PayloadError> {
    let account_id = link(links, "account", path)?;
    let (resource, path) = resource(event, path)?;

    let iban = fields::optional(resource, "iban")
        .map(|value| iban(value, &path.key("iban")))
        .transpose()?;
    let currency = fields::optional(resource, "currency")
        .map(|value| fields::currency(value, &path.key("currency")))
        .transpose()?;
    Ok(AccountUpdated {
        account_id,
        name: fields::optional_text(resource, "name", &path, 255)?,
        iban,
        currency,
        status: fields::optional_text(resource, "status", &path, 32)?,
    })
}

fn connection(
    event: &Map<String, Value>,
    links: &Map<String, Value>,
    path: &Path,
) -> Result<ConnectionRevoked, PayloadError> {
    let reason = match fields::optional_object(event, "details", path)? {
        Some(details) => {
            fields::optional_text(details, "reason", &path.key("details"), TEXT_MAX_CHARS)?
        }
        None => None,
    };
    Ok(ConnectionRevoked {
        connection_id: link(links, "connection", path)?,
        account_id: optional_link(links, "account", path)?,
        reason,
    })
}

/// An IBAN's shape: country, check digits, then 11 to 30 letters or digits, no spaces.
fn iban(value: &Value, path: &Path) -> Result<String, PayloadError> {
    let iban = fields::text(value, path, 34)?;
    let bytes = iban.as_bytes();
    let shaped = (15..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !shaped {
        return Err(path.invalid(
            "must be an IBAN: two letters, two digits, then 11 to 30 upper-case letters or \
             digits, without spaces",
        ));
    }
    Ok(iban.to_owned())
}
