-- Checkout sessions: orders paid on the hosted checkout.
CREATE TABLE checkout_sessions (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    BOOLEAN NOT NULL,
    status      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created     BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX checkout_sessions_list ON checkout_sessions (merchant_id, livemode, id);
CREATE INDEX checkout_sessions_open ON checkout_sessions (expires_at) WHERE status = 'open';
