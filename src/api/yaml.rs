//! YAML for the spec that every YAML reader takes as the same JSON document.
//!
//! serde_yaml writes `2024-05-01` and `12:00:00Z` bare, which YAML 1.1 readers (PyYAML,
//! js-yaml, and so the tools that read OpenAPI) turn into dates; an example body would then no
//! longer be the JSON it shows. Here a string is written bare only when it starts with a
//! letter, `/` or `$` and holds nothing YAML gives a meaning; every other string is
//! double-quoted, and a JSON string literal is a valid YAML double-quoted scalar.

use std::fmt::Write;

use serde_yaml::Value;

const INDENT: usize = 2;
/// Bare words that YAML 1.1 reads as booleans or null.
const KEYWORDS: [&str; 12] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf",
];

/// The document as block-style YAML, ending in a newline.
pub fn to_string(document: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, document, 0);
    out
}

/// Writes `value` after a key or a dash: scalars and empty collections on the same line,
/// others on the lines below at `indent`.
fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Mapping(mapping) if !mapping.is_empty() => {
            for (key, value) in mapping {
                let key = scalar(key);
                let _ = write!(out, "{:indent$}{key}:", "");
                write_nested(out, value, indent);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for item in items {
                let _ = write!(out, "{:indent$}-", "");
                match item {
                    // A mapping's first key shares the dash's line; the rest line up with it.
                    Value::Mapping(mapping) if !mapping.is_empty() => {
                        let mut first = String::new();
                        write_value(&mut first, item, indent + INDENT);
                        out.push(' ');
                        out.push_str(first.trim_start());
                    }
                    _ => write_nested(out, item, indent),
                }
            }
        }
        Value::Tagged(tagged) => write_value(out, &tagged.value, indent),
        scalar_value => {
            out.push_str(&scalar(scalar_value));
            out.push('\n');
        }
    }
}

fn write_nested(out: &mut String, value: &Value, indent: usize) {
    if is_block(value) {
        out.push('\n');
        write_value(out, value, indent + INDENT);
    } else {
        out.push(' ');
        write_value(out, value, indent);
    }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Mapping(mapping) => !mapping.is_empty(),
        Value::Sequence(items) => !items.is_empty(),
        _ => false,
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text),
        Value::Mapping(_) => "{}".into(),
        Value::Sequence(_) => "[]".into(),
        Value::Tagged(tagged) => scalar(&tagged.value),
    }
}

fn string(text: &str) -> String {
    if is_bare(text) {
        text.to_owned()
    } else {
        serde_json::to_string(text).expect("a string always serializes")
    }
}

fn is_bare(text: &str) -> bool {
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '$');
    // `:` and `#` can end a bare string; brackets and quotes are kept out to stay simple.
    let plain = |c: char| {
        c.is_ascii_alphanumeric()
            || c == ' '
            || (c.is_ascii_punctuation() && !":#{}[]\"\\".contains(c))
    };
    starts_well
        && !text.ends_with(' ')
        && text.chars().all(plain)
        && !KEYWORDS.contains(&text.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: serde_json::Value) -> String {
        let value: Value = serde_json::from_value(json.clone()).unwrap();
        let yaml = to_string(&value);
        let back: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, json, "{yaml}");
        yaml
    }

    #[test]
    fn dates_numbers_and_keywords_in_strings_stay_strings() {
        let yaml = round_trip(serde_json::json!({
            "created_at": "2024-05-01T12:00:00.000Z",
            "booking_date": "2024-05-01",
            "200": "yes",
            "flag": "off",
            "amount": "-12.50",
            "real": 1.5,
            "empty": "",
            "on": true
        }));
        assert!(yaml.contains("created_at: \"2024-05-01T12:00:00.000Z\"\n"));
        assert!(yaml.contains("\"200\": \"yes\"\n"));
        assert!(yaml.contains("\"on\": true\n"));
    }

    #[test]
    fn nested_mappings_and_sequences_keep_their_order_and_shape() {
        let yaml = round_trip(serde_json::json!({
            "parameters": [
                { "name": "X-Client-Cert", "schema": { "type": "string" } },
                "plain words",
                []
            ],
            "empty": {},
            "text": "Ends in a colon: and \"quotes\"\nover two lines"
        }));
        assert!(yaml
            .contains("parameters:\n  - name: X-Client-Cert\n    schema:\n      type: string\n"));
    }
}
