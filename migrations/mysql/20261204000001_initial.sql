-- Deliveries, their events, and Payymo's typed state. Every text column is utf8mb4 so that any
-- Unicode a sender puts in a description or name is kept as sent. Id columns compare bytes
-- (utf8mb4_bin), as the embedded store does: under the default collation 'TR1' and 'tr1', or
-- 'e' and 'é', would be the same key and one transaction would silently stand for two.

CREATE TABLE webhook_deliveries (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    received_at DATETIME(6) NOT NULL,
    webhook_id VARCHAR(64) COLLATE utf8mb4_bin NULL,
    body_sha256 CHAR(64) NOT NULL,
    -- 'verified' when every configured check passed (certificate pin, signature),
    -- 'unverified' when development mode let a failure through; unverified_reason says which.
    verification VARCHAR(16) NOT NULL,
    -- The pin the client certificate matched; NULL when no certificate was pinned or checked.
    matched_pin VARCHAR(100) NULL,
    -- 'valid' when Webhook-Signature matched a configured secret; NULL when none is configured.
    signature VARCHAR(16) NULL,
    unverified_reason TEXT NULL,
    -- 'live' or 'sandbox', from the Origin header GoCardless sends; NULL when it sent another.
    gocardless_environment VARCHAR(16) NULL,
    peer_addr VARCHAR(64) NOT NULL,
    request_id VARCHAR(128) NOT NULL,
    event_count INT UNSIGNED NOT NULL,
    KEY webhook_deliveries_received_at (received_at),
    KEY webhook_deliveries_webhook_id (webhook_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE webhook_events (
    event_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    resource_type VARCHAR(64) NOT NULL,
    action VARCHAR(64) NOT NULL,
    resource_id VARCHAR(255) COLLATE utf8mb4_bin NULL,
    links TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    delivery_id BIGINT UNSIGNED NOT NULL,
    payload LONGTEXT NOT NULL,
    received_at DATETIME(6) NOT NULL,
    KEY webhook_events_delivery (delivery_id),
    KEY webhook_events_type (resource_type, action, created_at),
    KEY webhook_events_resource (resource_id),
    KEY webhook_events_created_at (created_at),
    CONSTRAINT webhook_events_delivery_fk FOREIGN KEY (delivery_id)
        REFERENCES webhook_deliveries (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE transactions (
    transaction_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    account_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    amount DECIMAL(19, 4) NOT NULL,
    currency CHAR(3) NOT NULL,
    booking_date DATE NOT NULL,
    value_date DATE NULL,
    description TEXT NULL,
    reference TEXT NULL,
    counterparty_name TEXT NULL,
    event_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY transactions_account (account_id, booking_date)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- last_event_at and last_event_id order updates: an event older than the one applied last
-- leaves the row as it is, since deliveries arrive in any order.
CREATE TABLE bank_accounts (
    account_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    name VARCHAR(255) NULL,
    iban VARCHAR(34) NULL,
    currency CHAR(3) NULL,
    status VARCHAR(32) NULL,
    last_event_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    last_event_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE bank_connections (
    connection_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    account_id VARCHAR(64) COLLATE utf8mb4_bin NULL,
    status VARCHAR(16) NOT NULL,
    revoked_at DATETIME(6) NULL,
    reason TEXT NULL,
    last_event_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    last_event_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
