-- name: CreateMerchant :one
INSERT INTO merchants (code, name) VALUES ($1, $2)
RETURNING *;

-- name: GetMerchantByCode :one
SELECT * FROM merchants WHERE code = $1;

-- name: ListMerchants :many
SELECT * FROM merchants ORDER BY id;
