-- +goose Up
-- Upper bounds on amounts, per provider account and currency (package merchants):
-- {"CNY": "5000000"}, each a decimal string (never a JSON number, so no float
-- ever reads it). A currency not listed is bounded by the default, 10^12 minor
-- units (10,000,000,000.00 for a two-decimal currency). An order above its
-- bound is refused, and a provider amount above it must not reach the ledger
-- (merchants.ProviderAccount.MaxAmount).
ALTER TABLE provider_accounts
    ADD COLUMN max_amounts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(max_amounts) = 'object');

-- +goose Down
ALTER TABLE provider_accounts DROP COLUMN max_amounts;
