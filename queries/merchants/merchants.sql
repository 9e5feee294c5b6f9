-- name: InsertMerchant :one
INSERT INTO merchants (code, name, webhook_url, webhook_secret_sealed)
VALUES (@code, @name, @webhook_url, @webhook_secret_sealed)
RETURNING *;

-- name: MerchantByCode :one
SELECT * FROM merchants WHERE code = $1;

-- name: MerchantByID :one
SELECT * FROM merchants WHERE id = $1;

-- name: ListMerchants :many
SELECT * FROM merchants ORDER BY id;

-- name: UpdateMerchantWebhook :one
UPDATE merchants SET webhook_url = @webhook_url, webhook_secret_sealed = @webhook_secret_sealed
WHERE id = @id
RETURNING *;

-- name: RotateMerchantWebhookSecret :one
-- The new secret signs from now; the one it replaces keeps signing beside it
-- until prev_until (NULL prev: no overlap).
UPDATE merchants SET webhook_secret_sealed = @webhook_secret_sealed,
    webhook_secret_prev_sealed = sqlc.narg(prev_sealed), webhook_secret_prev_until = sqlc.narg(prev_until)
WHERE id = @id
RETURNING *;

-- name: SetMerchantWebhookEvents :one
UPDATE merchants SET webhook_events = @webhook_events WHERE id = @id
RETURNING *;

-- name: InsertAPIKey :one
INSERT INTO api_keys (merchant_id, name, prefix, key_hash, scopes)
VALUES (@merchant_id, @name, @prefix, @key_hash, @scopes)
RETURNING *;

-- name: APIKeyByPrefix :one
SELECT k.*, m.code AS merchant_code
FROM api_keys k JOIN merchants m ON m.id = k.merchant_id
WHERE k.prefix = $1;

-- name: ListAPIKeys :many
SELECT * FROM api_keys WHERE merchant_id = $1 ORDER BY id;

-- name: RevokeAPIKey :execrows
UPDATE api_keys SET revoked_at = now()
WHERE merchant_id = @merchant_id AND prefix = @prefix AND revoked_at IS NULL;

-- name: InsertProviderAccount :one
INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed,
                               options, amount_policy, amount_tolerance, balance_tolerance, date_tolerance_secs,
                               deposit_lifetime_ms, max_amounts, callback_key)
VALUES (@merchant_id, @name, @provider, @base_url, @provider_merchant_id, @secret_sealed,
        @options, @amount_policy, @amount_tolerance, @balance_tolerance, @date_tolerance_secs,
        @deposit_lifetime_ms, @max_amounts, @callback_key)
RETURNING *;

-- name: ProviderAccountByName :one
-- Names are the merchant's own: a name means nothing without its merchant.
SELECT * FROM provider_accounts WHERE merchant_id = @merchant_id AND name = @name;

-- name: ProviderAccountsNamed :many
-- Every merchant's account of one name: for an operator's command that was
-- given a name without a merchant (ambiguous when more than one).
SELECT * FROM provider_accounts WHERE name = $1 ORDER BY id;

-- name: ProviderAccountByCallbackKey :one
SELECT * FROM provider_accounts WHERE callback_key = $1;

-- name: ProviderAccountByLegacyName :one
-- An account that existed before callback keys (migration 00025), by the name
-- its older orders' notify URLs carry.
SELECT * FROM provider_accounts WHERE legacy_route AND name = $1;

-- name: ProviderAccountByID :one
SELECT * FROM provider_accounts WHERE id = $1;

-- name: ListProviderAccounts :many
SELECT * FROM provider_accounts
WHERE (sqlc.narg(merchant_id)::bigint IS NULL OR merchant_id = sqlc.narg(merchant_id))
ORDER BY id;

-- name: UpdateProviderAccount :one
UPDATE provider_accounts SET
    base_url = @base_url, provider_merchant_id = @provider_merchant_id, secret_sealed = @secret_sealed,
    options = @options, amount_policy = @amount_policy, amount_tolerance = @amount_tolerance,
    balance_tolerance = @balance_tolerance, date_tolerance_secs = @date_tolerance_secs,
    deposit_lifetime_ms = @deposit_lifetime_ms, max_amounts = @max_amounts, enabled = @enabled, updated_at = now()
WHERE id = @id
RETURNING *;
