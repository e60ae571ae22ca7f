-- A provider sends one event to every endpoint of an account, and two
-- merchants may share an account: applied events are remembered per tenant.
ALTER TABLE provider_events DROP CONSTRAINT provider_events_pkey;
ALTER TABLE provider_events ADD PRIMARY KEY (provider, event_id, merchant_id, livemode);
