-- Outbound webhooks: endpoints, and one delivery per (event, endpoint),
-- created in the same transaction as the event.
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    BOOLEAN NOT NULL,
    status      TEXT NOT NULL,
    format      TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    created     BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_list ON webhook_endpoints (merchant_id, livemode, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    livemode        BOOLEAN NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created         BIGINT NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id) WHERE status = 'pending';
