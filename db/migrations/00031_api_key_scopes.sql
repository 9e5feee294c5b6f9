-- +goose Up
-- Merchant API keys get scopes (package merchants): what a key may do through
-- the merchant API. A key has the default scopes (create and read orders, read
-- reconciliation) unless the operator grants more (tally apikey create
-- --scope recon:write): resolving, writing off, importing statements and
-- changing provider accounts are not an integration key's by default. The keys
-- that exist now get the default too: they never had more on purpose.
ALTER TABLE api_keys
    ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['orders:read', 'orders:write', 'recon:read']::text[],
    ADD CONSTRAINT api_keys_scopes_check CHECK (
        scopes <@ ARRAY['orders:read', 'orders:write', 'recon:read', 'recon:write', 'accounts:write']::text[]
        AND array_position(scopes, NULL) IS NULL);

-- +goose Down
ALTER TABLE api_keys DROP COLUMN scopes;
