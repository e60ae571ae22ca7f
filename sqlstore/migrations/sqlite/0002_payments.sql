-- The payment engine. Each object is a JSON document (data) plus the
-- columns that queries filter, order or lock by. Times are Unix milliseconds.
CREATE TABLE payment_intents (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    customer    TEXT NOT NULL DEFAULT '',
    provider    TEXT NOT NULL DEFAULT '',
    created     INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX payment_intents_list ON payment_intents (merchant_id, livemode, id);
CREATE INDEX payment_intents_customer ON payment_intents (merchant_id, livemode, customer, id) WHERE customer <> '';

CREATE TABLE charges (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    livemode       INTEGER NOT NULL,
    payment_intent TEXT NOT NULL,
    provider       TEXT NOT NULL,
    provider_ref   TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    attempt        TEXT NOT NULL DEFAULT '',
    attempt_at     INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    data           TEXT NOT NULL
);
CREATE INDEX charges_list ON charges (merchant_id, livemode, id);
CREATE INDEX charges_intent ON charges (merchant_id, livemode, payment_intent, id);
CREATE INDEX charges_provider_ref ON charges (provider, provider_ref) WHERE provider_ref <> '';
CREATE INDEX charges_attempt ON charges (attempt, attempt_at) WHERE attempt <> '';

CREATE TABLE refunds (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    livemode       INTEGER NOT NULL,
    payment_intent TEXT NOT NULL,
    charge         TEXT NOT NULL,
    provider       TEXT NOT NULL,
    provider_ref   TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    in_flight      INTEGER NOT NULL,
    attempt_at     INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    data           TEXT NOT NULL
);
CREATE INDEX refunds_list ON refunds (merchant_id, livemode, id);
CREATE INDEX refunds_intent ON refunds (merchant_id, livemode, payment_intent, id);
CREATE INDEX refunds_charge ON refunds (charge);
CREATE INDEX refunds_provider_ref ON refunds (provider, provider_ref) WHERE provider_ref <> '';
CREATE INDEX refunds_in_flight ON refunds (attempt_at) WHERE in_flight = 1;

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    INTEGER NOT NULL,
    type        TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    created     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX events_list ON events (merchant_id, livemode, id);
CREATE INDEX events_type ON events (merchant_id, livemode, type, id);
CREATE INDEX events_object ON events (merchant_id, livemode, object_id, id);

CREATE TABLE idempotency_keys (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    livemode        INTEGER NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          TEXT NOT NULL,
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body   TEXT NOT NULL DEFAULT '',
    resource_id     TEXT NOT NULL DEFAULT '',
    locked_at       INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    UNIQUE (merchant_id, livemode, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);

CREATE TABLE provider_configs (
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    livemode     INTEGER NOT NULL,
    provider     TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    priority     INTEGER NOT NULL,
    credentials  TEXT NOT NULL DEFAULT '',
    key_id       TEXT NOT NULL DEFAULT '',
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (merchant_id, livemode, provider)
);

CREATE TABLE provider_ledger (
    provider TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    due_at   INTEGER,
    PRIMARY KEY (provider, key)
);
CREATE INDEX provider_ledger_due ON provider_ledger (provider, due_at) WHERE due_at IS NOT NULL;
