//! Any bytes as a webhook body: the parser never panics, and a delivery it accepts holds only
//! events whose stored text is that event's JSON, with the id and names it was checked for.

#![no_main]

use gocardless_webhooks_fuzz::events::{self, EventKind};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    let Ok(delivery) = events::parse(body) else {
        return;
    };
    assert!(!delivery.events.is_empty());
    for event in &delivery.events {
        let stored: Value = serde_json::from_str(&event.json).expect("stored text is JSON");
        assert_eq!(stored["id"].as_str(), Some(event.id.as_str()));
        assert_eq!(
            stored["resource_type"].as_str(),
            Some(event.resource_type.as_str())
        );
        assert_eq!(stored["action"].as_str(), Some(event.action.as_str()));
        assert!(event.id.as_str().chars().count() <= 64);
        if let EventKind::TransactionCreated(transaction) = &event.kind {
            let amount = transaction.amount.as_str();
            assert!(fits_decimal_19_4(amount), "{amount:?}");
        }
    }
});

/// What MariaDB's `DECIMAL(19,4)` stores without rounding: up to 15 digits, then up to 4.
fn fits_decimal_19_4(amount: &str) -> bool {
    let digits = amount.strip_prefix('-').unwrap_or(amount);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return false,
        None => (digits, ""),
    };
    let decimal = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    (1..=15).contains(&whole.len()) && fraction.len() <= 4 && decimal(whole) && decimal(fraction)
}
