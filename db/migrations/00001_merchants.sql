-- +goose Up
-- Merchants are tally's tenants: every account, order and discrepancy belongs to one,
-- and every table that grows with traffic is keyed by merchant so that it can be
-- distributed by that key later without a redesign.
CREATE TABLE merchants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE merchants;
