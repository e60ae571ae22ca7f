-- Seed 001 lists payments by currency and amount range.
ALTER TABLE payment_intents ADD COLUMN amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_intents ADD COLUMN currency TEXT NOT NULL DEFAULT '';
UPDATE payment_intents SET amount = json_extract(data, '$.Amount'), currency = json_extract(data, '$.Currency');
