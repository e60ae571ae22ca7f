-- Seed 001 lists payments by currency and amount range.
ALTER TABLE payment_intents ADD COLUMN amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_intents ADD COLUMN currency TEXT NOT NULL DEFAULT '';
UPDATE payment_intents SET amount = (data::json->>'Amount')::bigint, currency = data::json->>'Currency';
