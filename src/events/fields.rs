//! Field-level checks, each naming the path of what it rejects (`events[3].resource.amount`).

use std::fmt;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde_json::{Map, Value};

use super::PayloadError;

/// Longest id accepted (event, webhook, resource): the width of the id columns.
pub const ID_MAX_CHARS: usize = 64;
/// Longest resource type or action name: the width of those columns.
pub const NAME_MAX_CHARS: usize = 64;

/// Where in the body a value sits: a chain of borrowed steps, spelled out
/// (`events[3].resource.amount`) only when something there is rejected. Every field checked
/// has one, and building each as a string showed in profiles of large deliveries.
#[derive(Clone, Copy, Debug)]
pub enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn root() -> Path<'static> {
        Path::Root
    }

    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    pub fn invalid(&self, problem: impl Into<String>) -> PayloadError {
        let path = match self {
            Path::Root => "(body)".to_owned(),
            _ => self.to_string(),
        };
        PayloadError::Invalid {
            path,
            problem: problem.into(),
        }
    }
}

/// How much of a key from the body a path shows.
const KEY_SHOWN_CHARS: usize = 40;

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) if is_plain(key) => f.write_str(key),
            Path::Key(parent, key) if is_plain(key) => write!(f, "{parent}.{key}"),
            // Any other key the sender chose (in `links`) goes into answers and logs quoted,
            // with its control characters escaped so that it cannot start a log line of its
            // own, and cut short.
            Path::Key(parent, key) => {
                let shown: String = key.chars().take(KEY_SHOWN_CHARS).collect();
                let cut = if shown.len() < key.len() { "…" } else { "" };
                write!(f, "{parent}[{shown:?}{cut}]")
            }
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn is_plain(key: &str) -> bool {
    (1..=KEY_SHOWN_CHARS).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The id GoCardless gives an event (`EV0123ABCD`): the key that makes storage exactly-once.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(String);

impl EventId {
    pub fn parse(value: &Value, path: &Path) -> Result<Self, PayloadError> {
        let id = text(value, path, ID_MAX_CHARS)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if id.is_empty() || !id.chars().all(allowed) {
            return Err(path.invalid("must be 1 to 64 letters, digits, '_' or '-'"));
        }
        Ok(EventId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An exact decimal amount that fits `DECIMAL(19,4)`: up to 15 digits before the point and 4
/// after, negative for debits. It stays a string so that it never passes through a float.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount(String);

impl Amount {
    pub fn parse(value: &Value, path: &Path) -> Result<Self, PayloadError> {
        let Value::String(amount) = value else {
            return Err(path.invalid("must be a decimal string such as \"-12.50\", not a number"));
        };
        let digits = amount.strip_prefix('-').unwrap_or(amount);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        let fits = (1..=15).contains(&whole.len())
            && all_digits(whole)
            && (!digits.contains('.') || (1..=4).contains(&fraction.len()))
            && all_digits(fraction);
        if !fits {
            return Err(path.invalid(
                "must be a decimal string with up to 15 digits before the point and 4 after, \
                 such as \"-12.50\"",
            ));
        }
        Ok(Amount(amount.clone()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn object<'a>(value: &'a Value, path: &Path) -> Result<&'a Map<String, Value>, PayloadError> {
    value
        .as_object()
        .ok_or_else(|| path.invalid("must be an object"))
}

/// A field that must be present and not null.
pub fn required<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'a Value, PayloadError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(path.key(key).invalid("is required")),
        Some(value) => Ok(value),
    }
}

/// A field that may be absent or null.
pub fn optional<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

pub fn text<'a>(value: &'a Value, path: &Path, max_chars: usize) -> Result<&'a str, PayloadError> {
    let text = value
        .as_str()
        .ok_or_else(|| path.invalid("must be a string"))?;
    if text.chars().count() > max_chars {
        return Err(path.invalid(format!("must be at most {max_chars} characters")));
    }
    Ok(text)
}

pub fn required_text(
    object: &Map<String, Value>,
    key: &str,
    path: &Path,
    max_chars: usize,
) -> Result<String, PayloadError> {
    let value = required(object, key, path)?;
    text(value, &path.key(key), max_chars).map(str::to_owned)
}

pub fn optional_text(
    object: &Map<String, Value>,
    key: &str,
    path: &Path,
    max_chars: usize,
) -> Result<Option<String>, PayloadError> {
    optional(object, key)
        .map(|value| text(value, &path.key(key), max_chars).map(str::to_owned))
        .transpose()
}

/// A resource type or an action: GoCardless's snake_case words.
pub fn name(object: &Map<String, Value>, key: &str, path: &Path) -> Result<String, PayloadError> {
    let name = required_text(object, key, path, NAME_MAX_CHARS)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(path
            .key(key)
            .invalid("must be 1 to 64 letters, digits, '_', '-' or '.'"));
    }
    Ok(name)
}

/// An RFC 3339 timestamp in the years 1000 to 8999, without a leap second.
///
/// chrono also reads a space for the `T`, which RFC 3339 only mentions in a note and JSON
/// Schema's `date-time` refuses. The years keep the time in UTC, whatever the offset, within a
/// DATETIME column, which holds neither year 10000 nor a leap second.
pub fn timestamp(value: &Value, path: &Path) -> Result<DateTime<Utc>, PayloadError> {
    // No length limit: RFC 3339 allows any number of fraction digits, and the body's own
    // limit bounds the work.
    let text = text(value, path, usize::MAX)?;
    let invalid = || {
        path.invalid(
            "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, in the years 1000 \
             to 8999",
        )
    };
    let bytes = text.as_bytes();
    let shaped =
        bytes.len() > 10 && (b'1'..=b'8').contains(&bytes[0]) && matches!(bytes[10], b'T' | b't');
    let at = DateTime::parse_from_rfc3339(text)
        .ok()
        .filter(|_| shaped)
        .ok_or_else(invalid)?;
    if at.nanosecond() >= 1_000_000_000 {
        return Err(path.invalid("must not be a leap second"));
    }
    Ok(at.with_timezone(&Utc))
}

/// `YYYY-MM-DD`, a day that exists. chrono alone would also take a sign or a space in the
/// numbers.
pub fn date(value: &Value, path: &Path) -> Result<NaiveDate, PayloadError> {
    let text = text(value, path, 10)?;
    let digit_or_dash = |(at, byte): (usize, &u8)| match at {
        4 | 7 => *byte == b'-',
        _ => byte.is_ascii_digit(),
    };
    let well_formed = text.len() == 10 && text.as_bytes().iter().enumerate().all(digit_or_dash);
    well_formed
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| path.invalid("must be a date such as 2024-05-01"))
}

/// An ISO 4217 code: three upper-case letters.
pub fn currency(value: &Value, path: &Path) -> Result<String, PayloadError> {
    let code = text(value, path, 3)?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(path.invalid("must be an ISO 4217 code of three upper-case letters"));
    }
    Ok(code.to_owned())
}

/// `links`: an object of string ids.
pub fn links<'a>(
    event: &'a Map<String, Value>,
    path: &Path,
) -> Result<&'a Map<String, Value>, PayloadError> {
    let path_links = path.key("links");
    let links = object(required(event, "links", path)?, &path_links)?;
    for (key, value) in links {
        text(value, &path_links.key(key), 255)?;
    }
    Ok(links)
}

pub fn optional_object<'a>(
    object_: &'a Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<&'a Map<String, Value>>, PayloadError> {
    optional(object_, key)
        .map(|value| object(value, &path.key(key)))
        .transpose()
}
