//! The deliveries the benchmark sends: B `transactions/created` events each, with ids that no
//! earlier delivery of any run used, so that every event is new and every one is written.
//!
//! The HTTP targets receive the JSON body; the database ceiling writes the rows the service
//! would write for that same body, which is why both come from one [`Batch`].

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// Accounts the transactions are spread over, as a bank feed would be.
const ACCOUNTS: u64 = 97;

/// One event of a batch, as text and as the values of its rows.
pub struct Event {
    pub id: String,
    pub transaction_id: String,
    pub account_id: String,
    pub amount: String,
    pub booking_date: String,
    pub description: String,
    pub reference: String,
    pub created_at: DateTime<Utc>,
    /// `links` as the service stores it.
    pub links: String,
    /// The event's JSON, exactly as it appears in the body.
    pub json: String,
}

/// One delivery: its events and the body that carries them.
pub struct Batch {
    pub webhook_id: String,
    pub events: Vec<Event>,
    pub body: Vec<u8>,
}

impl Batch {
    /// Delivery number `sequence` of the run tagged `run`, with `size` events.
    pub fn new(run: &str, sequence: u64, size: usize) -> Batch {
        let now = Utc::now();
        let events: Vec<Event> = (0..size)
            .map(|index| event(run, sequence, index, now))
            .collect();

        let webhook_id = format!("WB{run}-{sequence:x}");
        let mut body =
            String::with_capacity(events.iter().map(|e| e.json.len() + 1).sum::<usize>() + 64);
        body.push_str("{\"events\":[");
        for (index, event) in events.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            body.push_str(&event.json);
        }
        let _ = write!(body, "],\"meta\":{{\"webhook_id\":\"{webhook_id}\"}}}}");

        Batch {
            webhook_id,
            events,
            body: body.into_bytes(),
        }
    }

    /// The body's SHA-256 in hex, as the service records it.
    pub fn body_sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.body))
    }
}

fn event(run: &str, sequence: u64, index: usize, now: DateTime<Utc>) -> Event {
    let suffix = format!("{run}-{sequence:x}-{index:x}");
    let id = format!("EV{suffix}");
    let transaction_id = format!("TR{suffix}");
    let account_id = format!("BA{:04}", (sequence + index as u64) % ACCOUNTS);
    let amount = format!("-{}.{:02}", 1 + sequence % 900, index % 100);
    let booking_date = now.date_naive().to_string();
    let description = format!("Card payment to Example Supplies Ltd, order {sequence}");
    let reference = format!("INV-{sequence:08}");
    let created_at = now;
    let links = format!("{{\"account\":\"{account_id}\",\"transaction\":\"{transaction_id}\"}}");
    let json = format!(
        "{{\"id\":\"{id}\",\"created_at\":\"{created}\",\"resource_type\":\"transactions\",\
         \"action\":\"created\",\"links\":{links},\"resource\":{{\"amount\":\"{amount}\",\
         \"currency\":\"GBP\",\"booking_date\":\"{booking_date}\",\
         \"value_date\":\"{booking_date}\",\"description\":\"{description}\",\
         \"reference\":\"{reference}\",\"counterparty_name\":\"Example Supplies Ltd\"}}}}",
        created = created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    );
    Event {
        id,
        transaction_id,
        account_id,
        amount,
        booking_date,
        description,
        reference,
        created_at,
        links,
        json,
    }
}

/// A tag no earlier run used: the start time in microseconds and the process id, in base 36
/// to keep ids short.
pub fn run_tag() -> String {
    let micros = Utc::now().timestamp_micros().unsigned_abs();
    format!(
        "{}_{}",
        base36(micros),
        base36(u64::from(std::process::id()))
    )
}

fn base36(mut value: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut text = Vec::new();
    loop {
        text.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    text.reverse();
    String::from_utf8(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_a_delivery_the_service_accepts_whole() {
        let batch = Batch::new(&run_tag(), 7, 50);
        let delivery = gocardless_webhooks::events::parse(&batch.body).unwrap();
        assert_eq!(delivery.events.len(), 50);
        assert_eq!(
            delivery.webhook_id.as_deref(),
            Some(batch.webhook_id.as_str())
        );
        for (parsed, sent) in delivery.events.iter().zip(&batch.events) {
            assert_eq!(parsed.id.as_str(), sent.id);
            assert_eq!(parsed.json, sent.json);
        }
    }

    #[test]
    fn ids_differ_between_deliveries_and_between_events() {
        let run = run_tag();
        let a = Batch::new(&run, 1, 20);
        let b = Batch::new(&run, 0x10, 2);
        let mut ids: Vec<&str> = a
            .events
            .iter()
            .chain(&b.events)
            .map(|e| e.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 22);
        assert!(ids.iter().all(|id| id.len() <= 64));
    }
}
