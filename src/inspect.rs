//! `events list`, `events show` and `deliveries list`: what was stored, as a table or JSON.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::store::{StoredDelivery, StoredEvent};

/// How listings are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Reads `--since`: an RFC 3339 time, or a date meaning its midnight UTC.
pub fn parse_since(value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|date| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| format!("{value:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))
}

pub fn events(events: &[StoredEvent], format: Format) -> String {
    match format {
        Format::Json => json(events),
        Format::Table => table(
            &[
                "EVENT",
                "CREATED (UTC)",
                "TYPE",
                "ACTION",
                "RESOURCE",
                "DELIVERY",
            ],
            events.iter().map(|event| {
                vec![
                    event.event_id.clone(),
                    event.created_at.clone(),
                    event.resource_type.clone(),
                    event.action.clone(),
                    event.resource_id.clone().unwrap_or_else(|| "-".into()),
                    event.delivery_id.to_string(),
                ]
            }),
        ),
    }
}

pub fn deliveries(deliveries: &[StoredDelivery], format: Format) -> String {
    match format {
        Format::Json => json(deliveries),
        Format::Table => table(
            &[
                "ID",
                "RECEIVED (UTC)",
                "EVENTS",
                "VERIFICATION",
                "PIN",
                "SIGNATURE",
                "ENV",
                "REASON",
            ],
            deliveries.iter().map(|delivery| {
                let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
                vec![
                    delivery.id.to_string(),
                    delivery.received_at.clone(),
                    delivery.event_count.to_string(),
                    delivery.verification.clone(),
                    or_dash(&delivery.matched_pin),
                    or_dash(&delivery.signature),
                    or_dash(&delivery.gocardless_environment),
                    or_dash(&delivery.unverified_reason),
                ]
            }),
        ),
    }
}

pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// Columns padded to their widest cell.
fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_cells = headers.iter().map(|h| h.to_string());
    for cells in std::iter::once(header_cells.collect()).chain(rows) {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_date() {
        assert_eq!(
            parse_since("2024-05-01").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2024-05-01T02:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn a_table_lines_up_its_columns() {
        let printed = table(
            &["A", "LONG"],
            [vec!["wide cell".into(), "x".into()]].into_iter(),
        );
        assert_eq!(printed, "A          LONG\nwide cell  x\n");
    }
}
