-- The embedded store: the same tables as MySQL. Times are UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'),
-- which sorts like the time it names; amounts are decimal text, so they stay exact.

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    webhook_id TEXT NULL,
    body_sha256 TEXT NOT NULL,
    verification TEXT NOT NULL,
    matched_pin TEXT NULL,
    signature TEXT NULL,
    unverified_reason TEXT NULL,
    gocardless_environment TEXT NULL,
    peer_addr TEXT NOT NULL,
    request_id TEXT NOT NULL,
    event_count INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);
CREATE INDEX webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id);

CREATE TABLE webhook_events (
    event_id TEXT NOT NULL PRIMARY KEY,
    resource_type TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_id TEXT NULL,
    links TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX webhook_events_delivery ON webhook_events (delivery_id);
CREATE INDEX webhook_events_type ON webhook_events (resource_type, action, created_at);
CREATE INDEX webhook_events_resource ON webhook_events (resource_id);
CREATE INDEX webhook_events_created_at ON webhook_events (created_at);

CREATE TABLE transactions (
    transaction_id TEXT NOT NULL PRIMARY KEY,
    account_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    booking_date TEXT NOT NULL,
    value_date TEXT NULL,
    description TEXT NULL,
    reference TEXT NULL,
    counterparty_name TEXT NULL,
    event_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX transactions_account ON transactions (account_id, booking_date);

CREATE TABLE bank_accounts (
    account_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NULL,
    iban TEXT NULL,
    currency TEXT NULL,
    status TEXT NULL,
    last_event_id TEXT NOT NULL,
    last_event_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE bank_connections (
    connection_id TEXT NOT NULL PRIMARY KEY,
    account_id TEXT NULL,
    status TEXT NOT NULL,
    revoked_at TEXT NULL,
    reason TEXT NULL,
    last_event_id TEXT NOT NULL,
    last_event_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
