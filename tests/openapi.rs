//! The contract: the committed spec is the one the code generates and the service serves, it
//! documents every answer and field, and the service keeps to it, body by body.

mod common;

use std::path::PathBuf;

use common::{post, run_binary, Service, TestDb};
use serde_json::{json, Value};

const REFRESH: &str = "cargo run -- openapi > openapi/openapi.yaml && \
                       cargo run -- openapi --json > openapi/openapi.json";

fn committed(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("read {}: {err}; create it with: {REFRESH}", path.display()))
}

fn generated(args: &[&str]) -> String {
    let output = run_binary(args, &[]);
    assert!(output.status.success(), "{args:?} failed: {output:?}");
    String::from_utf8(output.stdout).expect("the spec is UTF-8")
}

fn spec() -> Value {
    serde_json::from_str(&committed("openapi.json")).expect("openapi.json is JSON")
}

#[test]
fn the_committed_spec_is_what_the_code_generates() {
    for (file, args) in [
        ("openapi.yaml", &["openapi"][..]),
        ("openapi.json", &["openapi", "--json"][..]),
    ] {
        assert!(
            committed(file) == generated(args),
            "openapi/{file} differs from what the code generates; refresh both with:\n  {REFRESH}"
        );
    }
}

#[tokio::test]
async fn the_service_serves_the_committed_spec_and_swagger_ui() {
    let db = TestDb::sqlite();
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(service.url(path)).send();

    let json = get("/openapi.json").await.unwrap();
    assert_eq!(json.headers()["content-type"], "application/json");
    assert_eq!(json.text().await.unwrap(), committed("openapi.json"));
    let yaml = get("/openapi.yaml").await.unwrap();
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    assert_eq!(yaml.text().await.unwrap(), committed("openapi.yaml"));

    let page = get("/docs").await.unwrap().text().await.unwrap();
    assert!(page.contains("SwaggerUIBundle"));
    assert!(page.contains(committed("openapi.json").trim_end()));
}

#[tokio::test]
async fn the_served_spec_names_the_certificate_headers_the_service_is_configured_to_read() {
    let db = TestDb::sqlite();
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("APP_ENV", "development"),
        ("CLIENT_CERT_HEADER", "SSL-Client-Cert"),
    ]);

    let spec: Value = reqwest::get(service.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let names: Vec<&str> = spec["paths"]["/api/gocardless/webhook"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ssl-client-cert",
            "X-Client-Verify",
            "Webhook-Signature",
            "Origin",
            "X-Request-Id"
        ]
    );
}

#[test]
fn every_answer_the_webhook_gives_is_documented_with_the_error_shape() {
    let spec = spec();
    let responses = &spec["paths"]["/api/gocardless/webhook"]["post"]["responses"];

    let documented = responses.as_object().unwrap();
    for status in [
        "200", "400", "401", "403", "413", "415", "422", "498", "503",
    ] {
        assert!(
            documented.contains_key(status),
            "{status} is not documented"
        );
    }
    for (status, response) in documented {
        let schema = &response["content"]["application/json; charset=utf-8"]["schema"]["$ref"];
        let expected = if status == "200" {
            "Accepted"
        } else {
            "ErrorBody"
        };
        assert_eq!(
            schema,
            &format!("#/components/schemas/{expected}"),
            "{status}"
        );
    }
    assert_eq!(
        responses["503"]["headers"]["RETRY-AFTER"]["schema"]["type"],
        "integer"
    );
}

#[test]
fn every_operation_response_parameter_and_field_has_a_description() {
    let spec = spec();
    let mut missing = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let at = format!("{method} {path}");
            if operation["summary"].as_str().unwrap_or("").is_empty() {
                missing.push(at.clone());
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                if response["description"].as_str().unwrap_or("").is_empty() {
                    missing.push(format!("{at} {status}"));
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["description"].as_str().unwrap_or("").is_empty() {
                    missing.push(format!("{at} {}", parameter["name"]));
                }
            }
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        undescribed_fields(schema, name, &mut missing);
    }
    assert!(missing.is_empty(), "no description: {missing:#?}");
}

/// The schema's own description and, inside it, every property's.
fn undescribed_fields(schema: &Value, at: &str, missing: &mut Vec<String>) {
    if schema["description"].as_str().unwrap_or("").is_empty() {
        missing.push(at.to_owned());
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        undescribed_fields(property, &format!("{at}.{name}"), missing);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        undescribed_fields(values, &format!("{at}.*"), missing);
    }
}

/// The request schema as a JSON Schema validator takes it: OpenAPI 3.0's `nullable` becomes
/// "or null", and the components come along so that references resolve.
fn request_validator() -> jsonschema::Validator {
    fn without_nullable(schema: &mut Value) {
        match schema {
            Value::Object(object) => {
                object.values_mut().for_each(without_nullable);
                if object.remove("nullable") == Some(Value::Bool(true)) {
                    let rest = Value::Object(std::mem::take(object));
                    object.insert("anyOf".into(), json!([rest, { "type": "null" }]));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(without_nullable),
            _ => {}
        }
    }
    let spec = spec();
    let mut root = json!({
        "$ref": "#/components/schemas/Envelope",
        "components": spec["components"],
    });
    without_nullable(&mut root);
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&root)
        .expect("the request schema is a valid JSON Schema")
}

fn request_examples() -> Vec<(String, Value)> {
    let spec = spec();
    let examples = &spec["paths"]["/api/gocardless/webhook"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"];
    examples
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, example)| (name.clone(), example["value"].clone()))
        .collect()
}

#[test]
fn there_is_an_example_for_each_of_payymos_types_and_a_gocardless_payment() {
    let validator = request_validator();
    let mut types = Vec::new();
    for (name, body) in request_examples() {
        assert!(validator.is_valid(&body), "example {name} breaks the spec");
        let event = &body["events"][0];
        types.push(format!(
            "{}/{}",
            event["resource_type"].as_str().unwrap(),
            event["action"].as_str().unwrap()
        ));
    }
    types.sort();
    assert_eq!(
        types,
        [
            "accounts/updated",
            "connections/revoked",
            "payments/confirmed",
            "transactions/created"
        ]
    );
}

/// A transactions/created event with `change` merged into it (a `null` removes the field).
fn transaction_with(id: &str, change: Value) -> Value {
    let mut event = json!({
        "id": id,
        "created_at": "2024-05-01T12:00:00Z",
        "resource_type": "transactions",
        "action": "created",
        "links": { "transaction": format!("TR_{id}"), "account": "AC1" },
        "resource": { "amount": "-12.50", "currency": "EUR", "booking_date": "2024-05-01" }
    });
    merge(&mut event, change);
    event
}

fn merge(target: &mut Value, change: Value) {
    match (target, change) {
        (Value::Object(target), Value::Object(change)) => {
            for (key, value) in change {
                match value {
                    Value::Null => {
                        target.remove(&key);
                    }
                    Value::Object(_) if target.get(&key).is_some_and(Value::is_object) => {
                        merge(target.get_mut(&key).unwrap(), value);
                    }
                    value => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, change) => *target = change,
    }
}

fn one(event: Value) -> Value {
    json!({ "events": [event] })
}

/// Bodies at the edges of the rules, each with whether the service stores it.
fn edge_cases() -> Vec<(&'static str, bool, Value)> {
    let other = |resource_type: &str, action: &str, id: &str| {
        json!({
            "id": id, "created_at": "2024-05-01T12:00:00Z",
            "resource_type": resource_type, "action": action, "links": {}
        })
    };
    let long_id = "X".repeat(65);
    let mut nulls = transaction_with("A1", json!({}));
    for field in ["details", "metadata", "resource_metadata"] {
        nulls[field] = Value::Null;
    }
    for field in [
        "value_date",
        "description",
        "reference",
        "counterparty_name",
    ] {
        nulls["resource"][field] = Value::Null;
    }
    vec![
        (
            "optional fields sent as null",
            true,
            json!({ "events": [nulls], "meta": null }),
        ),
        (
            "unknown fields everywhere",
            true,
            json!({
                "events": [transaction_with("A2", json!({
                    "extra": [1, 2], "resource": { "extra": { "deep": true } },
                    "links": { "mandate": "MD1" }
                }))],
                "meta": { "webhook_id": "WB1", "extra": 1 },
                "extra": "kept"
            }),
        ),
        (
            "amounts at the column's limits",
            true,
            json!({ "events": [
                transaction_with("A3", json!({ "resource": { "amount": "0" } })),
                transaction_with("A4", json!({ "resource": { "amount": "-123456789012345.1234" } })),
            ]}),
        ),
        (
            "timestamps with offsets, lower case and long fractions",
            true,
            json!({ "events": [
                transaction_with("A5", json!({ "created_at": "1000-01-01t00:00:00.1234567890123+23:59" })),
                transaction_with("A6", json!({ "created_at": "8999-12-31T23:59:59-23:59" })),
            ]}),
        ),
        (
            "a pair that is not one of Payymo's three",
            true,
            one(other("transactions", "updated", "A7")),
        ),
        (
            "a revocation with only its connection",
            true,
            one(json!({
                "id": "A8", "created_at": "2024-05-01T12:00:00Z", "resource_type": "connections",
                "action": "revoked", "links": { "connection": "CO1" }
            })),
        ),
        (
            "an account update that changes nothing",
            true,
            one(json!({
                "id": "A9", "created_at": "2024-05-01T12:00:00Z", "resource_type": "accounts",
                "action": "updated", "links": { "account": "AC1" }, "resource": {}
            })),
        ),
        ("no events", false, json!({ "events": [] })),
        (
            "no events array",
            false,
            json!({ "meta": { "webhook_id": "WB1" } }),
        ),
        (
            "a body that is not an object",
            false,
            json!([one(other("payments", "paid", "B0"))]),
        ),
        (
            "an event that is not an object",
            false,
            json!({ "events": ["EV1"] }),
        ),
        (
            "meta that is not an object",
            false,
            json!({ "events": [other("a", "b", "B1")], "meta": "x" }),
        ),
        (
            "a webhook id too long",
            false,
            json!({ "events": [other("a", "b", "B2")], "meta": { "webhook_id": long_id } }),
        ),
        (
            "an amount as a JSON number",
            false,
            one(transaction_with(
                "B3",
                json!({ "resource": { "amount": 12.5 } }),
            )),
        ),
        (
            "an amount with five decimals",
            false,
            one(transaction_with(
                "B4",
                json!({ "resource": { "amount": "12.34567" } }),
            )),
        ),
        (
            "an amount in exponent form",
            false,
            one(transaction_with(
                "B5",
                json!({ "resource": { "amount": "1e5" } }),
            )),
        ),
        (
            "a currency in lower case",
            false,
            one(transaction_with(
                "B6",
                json!({ "resource": { "currency": "eur" } }),
            )),
        ),
        (
            "a day that does not exist",
            false,
            one(transaction_with(
                "B7",
                json!({ "resource": { "booking_date": "2024-02-30" } }),
            )),
        ),
        (
            "a date with a space in it",
            false,
            one(transaction_with(
                "B8",
                json!({ "resource": { "booking_date": "2024- 5-01" } }),
            )),
        ),
        (
            "a transaction without its account link",
            false,
            one(transaction_with(
                "B9",
                json!({ "links": { "account": null } }),
            )),
        ),
        (
            "a transaction without its resource",
            false,
            one(transaction_with("C1", json!({ "resource": null }))),
        ),
        (
            "a transaction id longer than its column",
            false,
            one(transaction_with(
                "C2",
                json!({ "links": { "transaction": long_id } }),
            )),
        ),
        (
            "a link that is not a string",
            false,
            one(transaction_with("C3", json!({ "links": { "mandate": 7 } }))),
        ),
        (
            "an event id with a space",
            false,
            one(other("payments", "paid", "EV 1")),
        ),
        (
            "a resource type with a space",
            false,
            one(other("pay ments", "paid", "C4")),
        ),
        (
            "details that are not an object",
            false,
            one(transaction_with("C5", json!({ "details": "why" }))),
        ),
        (
            "a space between date and time",
            false,
            one(transaction_with(
                "C6",
                json!({ "created_at": "2024-05-01 12:00:00Z" }),
            )),
        ),
        (
            "a leap second",
            false,
            one(transaction_with(
                "C7",
                json!({ "created_at": "2016-12-31T23:59:60Z" }),
            )),
        ),
        (
            "a time that is year 10000 in UTC",
            false,
            one(transaction_with(
                "C8",
                json!({ "created_at": "9999-12-31T23:00:00-05:00" }),
            )),
        ),
        (
            "an IBAN with spaces",
            false,
            one(json!({
                "id": "C9", "created_at": "2024-05-01T12:00:00Z", "resource_type": "accounts",
                "action": "updated", "links": { "account": "AC1" },
                "resource": { "iban": "DE89 3704 0044 0532 0130 00" }
            })),
        ),
        (
            "a revocation whose account link is null",
            false,
            one(json!({
                "id": "D1", "created_at": "2024-05-01T12:00:00Z", "resource_type": "connections",
                "action": "revoked", "links": { "connection": "CO1", "account": null }
            })),
        ),
    ]
}

#[tokio::test]
async fn bodies_the_spec_allows_are_stored_and_bodies_it_forbids_get_422() {
    let validator = request_validator();
    let db = TestDb::mysql().await;
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);

    let examples = request_examples()
        .into_iter()
        .map(|(name, body)| (name, true, body));
    let cases = edge_cases()
        .into_iter()
        .map(|(name, allowed, body)| (name.to_owned(), allowed, body));
    let mut disagreements = Vec::new();
    for (name, allowed, body) in examples.chain(cases) {
        let spec_allows = validator.is_valid(&body);
        let answer = post(&service, &[], body.to_string()).await;
        let expected = if allowed { 200 } else { 422 };
        if spec_allows != allowed || answer.status != expected {
            disagreements.push(format!(
                "{name}: spec allows it: {spec_allows}, service answered {} {}",
                answer.status, answer.body
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
