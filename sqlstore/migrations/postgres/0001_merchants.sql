-- Merchants and their API keys. Times are Unix milliseconds.
CREATE TABLE merchants (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    livemode     BOOLEAN NOT NULL,
    kind         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL UNIQUE,
    last4        TEXT NOT NULL,
    created      BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);
