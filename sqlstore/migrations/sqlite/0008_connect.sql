-- Connect links: signed, expiring, single-use links to the hosted Stripe
-- connection page. Expired rows can be purged at any time: the token's
-- signed expiry refuses them before the table is read.
CREATE TABLE connect_links (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants (id),
    mode          TEXT NOT NULL,
    allowed_hosts TEXT NOT NULL,
    return_url    TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX connect_links_expires ON connect_links (expires_at);
