-- Customers and their payment methods (never a card number: see payment_methods.data).
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    BOOLEAN NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    deleted     BOOLEAN NOT NULL DEFAULT FALSE,
    created     BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX customers_list ON customers (merchant_id, livemode, id) WHERE NOT deleted;
CREATE INDEX customers_email ON customers (merchant_id, livemode, email, id) WHERE NOT deleted;

CREATE TABLE payment_methods (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    livemode    BOOLEAN NOT NULL,
    customer    TEXT NOT NULL DEFAULT '',
    created     BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods (merchant_id, livemode, customer, id);
