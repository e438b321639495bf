use serde_json::json;

use super::*;

fn event(resource_type: &str, action: &str, extra: Value) -> Value {
    let mut event = json!({
        "id": "EV1",
        "created_at": "2024-05-01T12:00:00Z",
        "resource_type": resource_type,
        "action": action,
        "links": {}
    });
    for (key, value) in extra.as_object().unwrap() {
        event[key] = value.clone();
    }
    event
}

fn body(events: &[Value]) -> Vec<u8> {
    json!({ "events": events }).to_string().into_bytes()
}

fn transaction(resource: Value) -> Value {
    event(
        "transactions",
        "created",
        json!({ "links": { "transaction": "TR1", "account": "AC1" }, "resource": resource }),
    )
}

fn invalid_at(body: &[u8]) -> String {
    match parse(body) {
        Err(PayloadError::Invalid { path, .. }) => path,
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn a_key_from_the_body_is_quoted_escaped_and_cut_short_in_a_path() {
    let forged = "x\n2026-12-04T00:00:00Z ERROR forged line";
    let links = json!({ "account": "AC1", forged: 1 });
    let path = invalid_at(&body(&[event(
        "payments",
        "created",
        json!({ "links": links }),
    )]));
    assert_eq!(
        path,
        r#"events[0].links["x\n2026-12-04T00:00:00Z ERROR forged line"]"#
    );

    let long = "k".repeat(800_000);
    let links = json!({ long.as_str(): 1 });
    let path = invalid_at(&body(&[event(
        "payments",
        "created",
        json!({ "links": links }),
    )]));
    assert_eq!(path, format!("events[0].links[\"{}\"…]", "k".repeat(40)));
}

#[test]
fn each_event_keeps_the_exact_text_it_arrived_in() {
    let text = r#"{"events":[ {"id":"EV1", "created_at":"2024-05-01T12:00:00Z","resource_type":"payments","action":"paid_out","links":{"payment":"PM1"}} ]}"#;
    let delivery = parse(text.as_bytes()).unwrap();
    assert_eq!(delivery.events[0].json, &text[12..text.len() - 3]);
    assert_eq!(delivery.events[0].resource_id.as_deref(), Some("PM1"));
}

#[test]
fn the_shared_fixture_bodies_parse_as_other_events() {
    for name in ["signed-two-events.json", "signed-payment-failed.json"] {
        let path = format!(
            "{}/../shared/fixtures/gocardless/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let delivery = parse(&std::fs::read(path).unwrap()).unwrap();
        assert!(delivery
            .events
            .iter()
            .all(|e| matches!(e.kind, EventKind::Other)));
    }
}

#[test]
fn a_transaction_with_every_field_becomes_typed() {
    let delivery = parse(&body(&[transaction(json!({
        "amount": "-12.50", "currency": "EUR", "booking_date": "2024-05-01",
        "value_date": "2024-05-02", "description": "d", "reference": null
    }))]))
    .unwrap();
    let EventKind::TransactionCreated(t) = &delivery.events[0].kind else {
        panic!("not a transaction");
    };
    assert_eq!(t.amount.as_str(), "-12.50");
    assert_eq!(t.value_date.unwrap().to_string(), "2024-05-02");
    assert_eq!(t.reference, None);
}

#[test]
fn amounts_must_be_exact_decimal_strings_that_fit_the_column() {
    let ok = ["0", "-0.01", "123456789012345.1234", "12.5"];
    let bad = [
        json!(12.5),
        json!("1e3"),
        json!("12."),
        json!(".5"),
        json!("+1"),
        json!("1.23456"),
        json!("1234567890123456"),
        json!("1,00"),
        json!(" 1"),
        json!(""),
    ];
    for amount in ok {
        let resource = json!({ "amount": amount, "currency": "EUR", "booking_date": "2024-05-01" });
        assert!(parse(&body(&[transaction(resource)])).is_ok(), "{amount}");
    }
    for amount in bad {
        let resource = json!({ "amount": amount, "currency": "EUR", "booking_date": "2024-05-01" });
        assert_eq!(
            invalid_at(&body(&[transaction(resource)])),
            "events[0].resource.amount"
        );
    }
}

#[test]
fn currencies_and_dates_are_checked() {
    let resource = json!({ "amount": "1", "currency": "eur", "booking_date": "2024-05-01" });
    assert_eq!(
        invalid_at(&body(&[transaction(resource)])),
        "events[0].resource.currency"
    );
    let resource = json!({ "amount": "1", "currency": "EUR", "booking_date": "2024-02-30" });
    assert_eq!(
        invalid_at(&body(&[transaction(resource)])),
        "events[0].resource.booking_date"
    );
}

#[test]
fn dates_are_digits_and_dashes_only() {
    for date in [
        "2024- 5-01",
        "+024-05-01",
        "-024-05-01",
        "2024-05- 1",
        "20240501",
    ] {
        let resource = json!({ "amount": "1", "currency": "EUR", "booking_date": date });
        assert_eq!(
            invalid_at(&body(&[transaction(resource)])),
            "events[0].resource.booking_date",
            "{date}"
        );
    }
}

#[test]
fn timestamps_keep_to_rfc_3339_and_years_a_datetime_column_holds_in_utc() {
    let ok = [
        "2024-05-01T12:00:00Z",
        "2024-05-01t12:00:00.123456789123z",
        "1000-01-01T00:00:00+23:59",
        "8999-12-31T23:59:59-23:59",
    ];
    let bad = [
        "2024-05-01 12:00:00Z",
        "2016-12-31T23:59:60Z",
        "9999-12-31T23:00:00-05:00",
        "0999-12-31T23:00:00Z",
        "2024-05-01T12:00Z",
    ];
    for created_at in ok {
        let ok = event("payments", "created", json!({ "created_at": created_at }));
        assert!(parse(&body(&[ok])).is_ok(), "{created_at}");
    }
    for created_at in bad {
        let bad = event("payments", "created", json!({ "created_at": created_at }));
        assert_eq!(
            invalid_at(&body(&[bad])),
            "events[0].created_at",
            "{created_at}"
        );
    }
}

#[test]
fn payymo_types_need_their_links() {
    let account = event(
        "accounts",
        "updated",
        json!({ "resource": { "name": "x" } }),
    );
    assert_eq!(invalid_at(&body(&[account])), "events[0].links.account");
    let connection = event("connections", "revoked", json!({}));
    assert_eq!(
        invalid_at(&body(&[connection])),
        "events[0].links.connection"
    );
}

#[test]
fn an_iban_must_have_the_shape_of_one() {
    let account = |iban: &str| {
        event(
            "accounts",
            "updated",
            json!({ "links": { "account": "AC1" }, "resource": { "iban": iban } }),
        )
    };
    assert!(parse(&body(&[account("GB82WEST12345698765432")])).is_ok());
    assert_eq!(
        invalid_at(&body(&[account("GB82 WEST 1234")])),
        "events[0].resource.iban"
    );
}

#[test]
fn the_envelope_needs_a_non_empty_events_array() {
    assert_eq!(invalid_at(b"{}"), "events");
    assert_eq!(invalid_at(br#"{"events": []}"#), "events");
    assert_eq!(invalid_at(br#"{"events": {}}"#), "events");
    assert_eq!(invalid_at(b"[]"), "(body)");
}

#[test]
fn the_path_names_the_event_by_its_index() {
    let good = event("payments", "created", json!({}));
    let bad = event("payments", "created", json!({ "created_at": "yesterday" }));
    assert_eq!(
        invalid_at(&body(&[good.clone(), good, bad])),
        "events[2].created_at"
    );
}

#[test]
fn repeated_keys_are_malformed_json() {
    let text = br#"{"events":[{"id":"A","id":"B"}]}"#;
    assert!(matches!(parse(text), Err(PayloadError::Malformed(m)) if m.contains("duplicate key")));
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse(text.as_bytes()),
        Err(PayloadError::Malformed(_))
    ));
}

#[test]
fn invalid_utf8_is_reported_with_its_offset() {
    assert!(matches!(
        parse(b"{\"a\xff\"}"),
        Err(PayloadError::NotUtf8(3))
    ));
}
