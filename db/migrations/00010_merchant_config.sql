-- +goose Up
-- Merchant configuration (package merchants): API keys, the outbound webhook, and
-- provider accounts with their credentials sealed by package secrets.
ALTER TABLE merchants
    ADD COLUMN webhook_url            text NOT NULL DEFAULT '',
    ADD COLUMN webhook_secret_sealed  bytea;

-- API keys are shown once; only a SHA-256 of the key is kept (keys are 190 bits of
-- randomness, so a fast hash is enough). prefix is the public part, for lookup.
CREATE TABLE api_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants (id),
    name          text NOT NULL DEFAULT '',
    prefix        text NOT NULL UNIQUE,
    key_hash      bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id);

-- A provider account is one set of credentials at one provider. Its name routes
-- callbacks (/callbacks/{name}), so it is unique across merchants.
CREATE TABLE provider_accounts (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id           bigint NOT NULL REFERENCES merchants (id),
    name                  text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    provider              text NOT NULL CHECK (provider IN ('usdtpay', 'cxpay', 'usdtcnpay', 'cpay', 'vpay')),
    base_url              text NOT NULL,
    provider_merchant_id  text NOT NULL,
    secret_sealed         bytea NOT NULL,
    options               jsonb NOT NULL DEFAULT '{}',
    -- What a deposit paid with a different amount than ordered does to the ledger.
    amount_policy         text NOT NULL DEFAULT 'hold_in_suspense'
                          CHECK (amount_policy IN ('hold_in_suspense', 'credit_received')),
    -- Reconciliation tolerances: amounts that differ by no more than these match.
    amount_tolerance      numeric NOT NULL DEFAULT 0 CHECK (amount_tolerance >= 0),
    balance_tolerance     numeric NOT NULL DEFAULT 0 CHECK (balance_tolerance >= 0),
    date_tolerance_secs   integer NOT NULL DEFAULT 3600 CHECK (date_tolerance_secs >= 0),
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_accounts_merchant_idx ON provider_accounts (merchant_id);

-- +goose Down
DROP TABLE provider_accounts;
DROP TABLE api_keys;
ALTER TABLE merchants DROP COLUMN webhook_secret_sealed, DROP COLUMN webhook_url;
