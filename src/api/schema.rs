//! The request body as the spec documents it: GoCardless's envelope, Payymo's three event
//! types, and every other event.
//!
//! The body itself is checked by [`crate::events`]. These schemas state the same rules, so that
//! a body the spec allows is accepted and a body it forbids gets 422. They are written as
//! poem-openapi registry entries rather than derived, because the derive cannot say what the
//! rules need: `nullable` (the service reads `null` as an absent field), named ids beside a map
//! of other ids (`links`), and four event shapes told apart by two fields. The one rule the
//! registry cannot hold at all, that [`OTHER_EVENT`] excludes the three typed pairs, is added to
//! the finished document by [`other_event_exclusion`].

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use serde_json::{json, Value};

/// The request body's schema.
pub const ENVELOPE: &str = "Envelope";
/// Any event: one of the four shapes below.
const EVENT: &str = "Event";
const TRANSACTION_CREATED: &str = "TransactionCreated";
const ACCOUNT_UPDATED: &str = "AccountUpdated";
const CONNECTION_REVOKED: &str = "ConnectionRevoked";
/// Every event that is not one of Payymo's three: stored as sent.
pub const OTHER_EVENT: &str = "OtherEvent";
const TRANSACTION: &str = "Transaction";
const ACCOUNT_CHANGES: &str = "AccountChanges";
const LINKS: &str = "Links";

/// Payymo's event types: `resource_type`, `action`, and the schema that holds them to
/// stricter rules. `crate::events::payymo` dispatches on the same pairs.
const TYPED_EVENTS: [(&str, &str, &str); 3] = [
    ("transactions", "created", TRANSACTION_CREATED),
    ("accounts", "updated", ACCOUNT_UPDATED),
    ("connections", "revoked", CONNECTION_REVOKED),
];

const ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
const NAME_PATTERN: &str = "^[A-Za-z0-9_.-]{1,64}$";
/// The parts of a timestamp that `format: date-time` leaves open: the year's range, the `T`
/// between date and time, and no leap second.
const TIMESTAMP_PATTERN: &str = "^[1-8][0-9]{3}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-5][0-9]";
const AMOUNT_PATTERN: &str = r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$";
const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";
const IBAN_PATTERN: &str = "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$";

/// Adds the request schemas to the registry.
pub fn register(registry: &mut Registry) {
    let schemas = [
        (ENVELOPE, envelope()),
        (EVENT, event()),
        (TRANSACTION_CREATED, transaction_created()),
        (ACCOUNT_UPDATED, account_updated()),
        (CONNECTION_REVOKED, connection_revoked()),
        (OTHER_EVENT, other_event()),
        (TRANSACTION, transaction()),
        (ACCOUNT_CHANGES, account_changes()),
        (LINKS, links()),
    ];
    for (name, schema) in schemas {
        registry.schemas.insert(name.to_owned(), schema);
    }
}

/// What [`OTHER_EVENT`] must not be: any of the three typed pairs, which their own schemas
/// check. JSON Schema's `not`, which poem-openapi's registry cannot express.
pub fn other_event_exclusion() -> Value {
    let pairs: Vec<Value> = TYPED_EVENTS
        .iter()
        .map(|(resource_type, action, _)| {
            json!({
                "required": ["resource_type", "action"],
                "properties": {
                    "resource_type": { "enum": [resource_type] },
                    "action": { "enum": [action] }
                }
            })
        })
        .collect();
    json!({ "anyOf": pairs })
}

fn envelope() -> MetaSchema {
    let events = MetaSchema {
        items: Some(Box::new(reference(EVENT))),
        min_items: Some(1),
        ..array("The events, at least one; each is stored once by its `id`.")
    };
    let meta = object("Delivery metadata from GoCardless.").optional(
        "webhook_id",
        string("GoCardless's id for this delivery, stored with it.").max_length(64),
    );
    object("A GoCardless webhook delivery. Fields not described here are kept, not refused.")
        .required("events", events)
        .optional("meta", meta)
}

fn event() -> MetaSchema {
    let one_of = [
        TRANSACTION_CREATED,
        ACCOUNT_UPDATED,
        CONNECTION_REVOKED,
        OTHER_EVENT,
    ];
    MetaSchema {
        one_of: one_of.into_iter().map(reference).collect(),
        ..any(
            "One event. `resource_type` and `action` decide its shape: Payymo's three types \
             have stricter rules; every other event is stored as sent.",
        )
    }
}

fn transaction_created() -> MetaSchema {
    let links = links_with("The ids of the transaction and of its account.")
        .required(
            "transaction",
            link("The transaction's id: the key of its row."),
        )
        .required(
            "account",
            link("The id of the account the transaction is booked on."),
        );
    typed_event(
        "`transactions`/`created`: a transaction booked on a bank account.",
        TYPED_EVENTS[0],
        links,
    )
    .required(
        "resource",
        described_reference(TRANSACTION, "The transaction as booked."),
    )
}

fn account_updated() -> MetaSchema {
    let links = links_with("The id of the account.")
        .required("account", link("The account's id: the key of its row."));
    typed_event(
        "`accounts`/`updated`: new values for some of a bank account's fields.",
        TYPED_EVENTS[1],
        links,
    )
    .required(
        "resource",
        described_reference(ACCOUNT_CHANGES, "The fields that changed."),
    )
}

fn connection_revoked() -> MetaSchema {
    let links = links_with("The id of the connection, and of its account if GoCardless says.")
        .required(
            "connection",
            link("The connection's id: the key of its row."),
        )
        .optional_not_null("account", link("The id of the account it gave access to."));
    let details = object("Why the connection was revoked.").optional(
        "reason",
        string("The reason GoCardless gives, such as `user_revoked`.").max_length(1000),
    );
    typed_event(
        "`connections`/`revoked`: a bank connection that no longer gives access.",
        TYPED_EVENTS[2],
        links,
    )
    .optional("details", details)
    .optional_not_null("resource", unchecked_resource())
}

fn other_event() -> MetaSchema {
    let resource_type =
        string("The kind of resource, such as `payments` or `mandates`.").pattern(NAME_PATTERN);
    let action =
        string("What happened to it, such as `confirmed` or `failed`.").pattern(NAME_PATTERN);
    event_fields(
        "Any other event, such as a GoCardless payment's: checked as an envelope event, stored \
         as sent. A pair of `resource_type` and `action` that is one of Payymo's three takes \
         that type's schema instead.",
        resource_type,
        action,
        described_reference(LINKS, "Related ids."),
    )
    .optional_not_null("resource", unchecked_resource())
}

fn transaction() -> MetaSchema {
    let amount = string(
        "A decimal string, negative for debits, such as \"-12.50\": up to 15 digits before \
         the point and 4 after. A JSON number is refused: no amount passes through floating \
         point.",
    )
    .pattern(AMOUNT_PATTERN);
    let text = |description| string(description).max_length(1000);
    object("A booked transaction. Fields not described here are kept, not refused.")
        .required("amount", amount)
        .required(
            "currency",
            currency("The currency, ISO 4217, such as `EUR`."),
        )
        .required("booking_date", date("The day it was booked."))
        .optional("value_date", date("The day it took effect for interest."))
        .optional("description", text("The bank's description of it."))
        .optional("reference", text("The payment reference."))
        .optional("counterparty_name", text("Who paid or was paid."))
}

fn account_changes() -> MetaSchema {
    let iban = string("The account's IBAN, upper case, without spaces.").pattern(IBAN_PATTERN);
    object(
        "The account fields that changed; a field left out, or `null`, keeps its stored \
         value. Fields not described here are kept, not refused.",
    )
    .optional("name", string("The account's name.").max_length(255))
    .optional("iban", iban)
    .optional("currency", currency("The account's currency, ISO 4217."))
    .optional(
        "status",
        string("The account's status, such as `active`.").max_length(32),
    )
}

fn links() -> MetaSchema {
    links_with("Ids of the resources involved, by resource name, such as `payment` or `mandate`.")
}

/// An object of string ids, as every event's `links` is, to which the typed events add the
/// ids they need.
fn links_with(description: &'static str) -> MetaSchema {
    MetaSchema {
        additional_properties: Some(Box::new(inline(string("An id.").max_length(255)))),
        ..object(description)
    }
}

fn link(description: &'static str) -> MetaSchema {
    string(description).max_length(64)
}

/// An event of one of Payymo's pairs, with the `links` that type needs.
fn typed_event(
    description: &'static str,
    (resource_type, action, _): (&'static str, &'static str, &str),
    links: MetaSchema,
) -> MetaSchema {
    event_fields(
        description,
        string("The kind of resource.").one_value(resource_type),
        string("What happened to it.").one_value(action),
        links,
    )
}

/// The fields every event has, whatever its type.
fn event_fields(
    description: &'static str,
    resource_type: MetaSchema,
    action: MetaSchema,
    links: MetaSchema,
) -> MetaSchema {
    let id = string("GoCardless's event id; an event whose id is already stored is a duplicate.")
        .pattern(ID_PATTERN);
    object(description)
        .required("id", id)
        .required("created_at", timestamp())
        .required("resource_type", resource_type)
        .required("action", action)
        .required("links", links)
        .optional(
            "details",
            object("Why the event happened, as GoCardless explains it."),
        )
        .optional(
            "metadata",
            object("Metadata the integrator attached to the resource."),
        )
        .optional(
            "resource_metadata",
            object("Metadata of the resource, when GoCardless includes it."),
        )
}

/// A `resource` the service stores with the event but does not look at.
fn unchecked_resource() -> MetaSchema {
    any("The resource's state, if GoCardless includes it: stored as sent, not checked.")
}

fn timestamp() -> MetaSchema {
    string(
        "When the event happened: an RFC 3339 timestamp such as `2024-05-01T12:00:00.000Z`, \
         in the years 1000 to 8999, without a leap second.",
    )
    .format("date-time")
    .pattern(TIMESTAMP_PATTERN)
}

fn date(description: &'static str) -> MetaSchema {
    string(description).format("date")
}

fn currency(description: &'static str) -> MetaSchema {
    string(description).pattern(CURRENCY_PATTERN)
}

fn object(description: &'static str) -> MetaSchema {
    described(MetaSchema::new("object"), description)
}

fn string(description: &'static str) -> MetaSchema {
    described(MetaSchema::new("string"), description)
}

fn array(description: &'static str) -> MetaSchema {
    described(MetaSchema::new("array"), description)
}

/// Any JSON value.
fn any(description: &'static str) -> MetaSchema {
    described(MetaSchema::ANY, description)
}

fn described(schema: MetaSchema, description: &'static str) -> MetaSchema {
    MetaSchema {
        description: Some(description),
        ..schema
    }
}

fn inline(schema: MetaSchema) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(schema))
}

fn reference(name: &str) -> MetaSchemaRef {
    MetaSchemaRef::Reference(name.to_owned())
}

/// A named schema with a description of its own: in OpenAPI 3.0 a `$ref` ignores siblings,
/// so the reference goes inside `allOf`.
fn described_reference(name: &str, description: &'static str) -> MetaSchema {
    MetaSchema {
        all_of: vec![reference(name)],
        ..any(description)
    }
}

/// Small steps for building a schema, so that each one above reads as its rules.
trait SchemaBuilder: Sized {
    /// A property that must be present and not `null`.
    fn required(self, name: &'static str, schema: MetaSchema) -> Self;
    /// A property that may be absent or `null`; the service treats both alike. Like
    /// `optional_not_null`, it replaces a property of the same name.
    fn optional(self, name: &'static str, schema: MetaSchema) -> Self;
    /// A property that may be absent but, when present, must not be `null`. It replaces a
    /// property of the same name, so that a type can tighten a common field.
    fn optional_not_null(self, name: &'static str, schema: MetaSchema) -> Self;
    fn max_length(self, max: usize) -> Self;
    fn pattern(self, pattern: &str) -> Self;
    fn format(self, format: &'static str) -> Self;
    fn one_value(self, value: &str) -> Self;
}

impl SchemaBuilder for MetaSchema {
    fn required(mut self, name: &'static str, schema: MetaSchema) -> Self {
        self.required.push(name);
        self.properties.push((name, inline(schema)));
        self
    }

    fn optional(self, name: &'static str, schema: MetaSchema) -> Self {
        let nullable = MetaSchema {
            nullable: true,
            ..schema
        };
        self.optional_not_null(name, nullable)
    }

    fn optional_not_null(mut self, name: &'static str, schema: MetaSchema) -> Self {
        match self
            .properties
            .iter_mut()
            .find(|(existing, _)| *existing == name)
        {
            Some((_, replaced)) => *replaced = inline(schema),
            None => self.properties.push((name, inline(schema))),
        }
        self
    }

    fn max_length(self, max: usize) -> Self {
        MetaSchema {
            max_length: Some(max),
            ..self
        }
    }

    fn pattern(self, pattern: &str) -> Self {
        MetaSchema {
            pattern: Some(pattern.to_owned()),
            ..self
        }
    }

    fn format(self, format: &'static str) -> Self {
        MetaSchema {
            format: Some(format),
            ..self
        }
    }

    fn one_value(self, value: &str) -> Self {
        MetaSchema {
            enum_items: vec![Value::from(value)],
            ..self
        }
    }
}
