-- +goose Up
-- Currencies are data: each has a kind (fiat or crypto) besides its scale, and
-- codes are 3 to 10 uppercase letters or digits (the ledger's AddCurrency rule;
-- a crypto ticker may start with a digit). Every ISO 4217 currency is seeded
-- after the migrations by db.MigrateUp (db.CurrencySeed: github.com/bojanz/currency)
-- with ON CONFLICT DO NOTHING, so a row that exists never changes its scale there.
-- A seed step rather than a goose Go migration: it runs on every migrate, so a
-- newer ISO list reaches databases migrated before it.
--
-- The crypto assets take the precision C-Pay's document gives (cpay.txt: "Support
-- 8 decimals" for crypto amounts): USDT and TRX go from 6 to 8. Raising a scale
-- never invalidates a stored amount.
ALTER TABLE currencies ADD COLUMN kind text NOT NULL DEFAULT 'fiat' CHECK (kind IN ('fiat', 'crypto'));
ALTER TABLE currencies ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE currencies DROP CONSTRAINT currencies_code_check;
ALTER TABLE currencies ADD CONSTRAINT currencies_code_check CHECK (code ~ '^[A-Z0-9]{3,10}$');

INSERT INTO currencies AS c (code, scale, kind) VALUES
    ('USDT', 8, 'crypto'), ('TRX', 8, 'crypto'), ('BTC', 8, 'crypto'), ('ETH', 8, 'crypto'), ('BNB', 8, 'crypto')
ON CONFLICT (code) DO UPDATE SET kind = 'crypto', scale = greatest(c.scale, excluded.scale);

-- +goose Down
-- Back to 00002's ten currencies: every other one no account uses is removed.
-- USDT and TRX return to 6 decimals unless an entry already has more.
DELETE FROM currencies c
WHERE c.code NOT IN ('CNY', 'USD', 'EUR', 'BRL', 'MYR', 'USDT', 'TRX', 'BTC', 'ETH', 'BNB')
  AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.currency = c.code);
UPDATE currencies c SET scale = 6
WHERE c.code IN ('USDT', 'TRX')
  AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.currency = c.code AND e.amount <> round(e.amount, 6));
ALTER TABLE currencies DROP CONSTRAINT currencies_code_check;
ALTER TABLE currencies ADD CONSTRAINT currencies_code_check CHECK (code ~ '^[A-Z][A-Z0-9]{1,9}$') NOT VALID;
ALTER TABLE currencies DROP COLUMN kind;
