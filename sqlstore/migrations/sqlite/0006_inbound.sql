-- Providers' webhook events already applied (de-duplication by their id).
CREATE TABLE provider_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    livemode    INTEGER NOT NULL,
    received    INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);
