-- +goose Up
-- Upper bounds on amounts, per provider account and currency (package merchants):
-- {"CNY": "5000000"}, each a decimal string (never a JSON number, so no float
-- ever reads it). A currency not listed is bounded by the default, 10^12 minor
-- units (10,000,000,000.00 for a two-decimal currency). An order above its
-- bound is refused, and a provider amount above it must not reach the ledger
-- (merchants.ProviderAccount.MaxAmount).
ALTER TABLE provider_accounts
    ADD COLUMN max_amounts jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(max_amounts) = 'object');

-- A CXPay account settles in its one currency, which no request names: its
-- option "currency" is what tally's books follow, and it is now required (no
-- default). Accounts stored without it were read as BRL, the old default:
-- write that down, so that they keep working and say what they settle in.
UPDATE provider_accounts
SET options = options || '{"currency": "BRL"}'::jsonb
WHERE provider = 'cxpay' AND coalesce(options ->> 'currency', '') = '';

-- +goose Down
-- (CXPay accounts keep their explicit currency: it was their effective one.)
ALTER TABLE provider_accounts DROP COLUMN max_amounts;
