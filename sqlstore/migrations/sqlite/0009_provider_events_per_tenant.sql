-- A provider sends one event to every endpoint of an account, and two
-- merchants may share an account: applied events are remembered per tenant.
CREATE TABLE provider_events_new (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    livemode    INTEGER NOT NULL,
    received    INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id, merchant_id, livemode)
);
INSERT INTO provider_events_new SELECT provider, event_id, merchant_id, livemode, received FROM provider_events;
DROP TABLE provider_events;
ALTER TABLE provider_events_new RENAME TO provider_events;
