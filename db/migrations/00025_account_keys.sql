-- +goose Up
-- Provider account names are the merchant's own words, unique per merchant:
-- one merchant can neither learn nor claim another's by trying a name. A
-- provider reaches an account through its callback key instead
-- (/callbacks/{callback_key}): 144 random bits in base64url, made by package
-- merchants with crypto/rand, shown to the merchant in the account view and to
-- the operator by tally account add/list, and never derivable from the name.
ALTER TABLE provider_accounts DROP CONSTRAINT provider_accounts_name_key;
ALTER TABLE provider_accounts ADD CONSTRAINT provider_accounts_merchant_name_key UNIQUE (merchant_id, name);

-- Accounts that exist now get a key from PostgreSQL's strong random source
-- (gen_random_uuid: about 138 random bits in the first 24 characters).
ALTER TABLE provider_accounts ADD COLUMN callback_key text;
UPDATE provider_accounts
SET callback_key = substr(translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'), '+/=', '-_'), 1, 24);
ALTER TABLE provider_accounts
    ALTER COLUMN callback_key SET NOT NULL,
    ADD CONSTRAINT provider_accounts_callback_key_key UNIQUE (callback_key),
    ADD CONSTRAINT provider_accounts_callback_key_check CHECK (callback_key ~ '^[A-Za-z0-9_-]{22,64}$');

-- Orders sent before this migration carry /callbacks/{name} at their
-- provider, whose retries go on for hours. `tally serve
-- --legacy-callback-routes` may still route those names during a migration
-- window, and only for the accounts that exist now (their names were unique
-- across merchants, so they stay unambiguous); an account added later is never
-- reachable by name.
ALTER TABLE provider_accounts ADD COLUMN legacy_route boolean NOT NULL DEFAULT false;
UPDATE provider_accounts SET legacy_route = true;
CREATE UNIQUE INDEX provider_accounts_legacy_name_key ON provider_accounts (name) WHERE legacy_route;

-- Fingerprints name accounts by name, so they are unique per merchant too:
-- two merchants' accounts of one name never share a discrepancy.
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_fingerprint_key;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_merchant_fingerprint_key UNIQUE (merchant_id, fingerprint);

-- +goose Down
-- (Fails when two merchants have accounts or discrepancies of one name.)
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_merchant_fingerprint_key;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_fingerprint_key UNIQUE (fingerprint);
DROP INDEX provider_accounts_legacy_name_key;
ALTER TABLE provider_accounts DROP COLUMN legacy_route;
ALTER TABLE provider_accounts DROP COLUMN callback_key;
ALTER TABLE provider_accounts DROP CONSTRAINT provider_accounts_merchant_name_key;
ALTER TABLE provider_accounts ADD CONSTRAINT provider_accounts_name_key UNIQUE (name);
