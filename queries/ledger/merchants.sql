-- name: GetMerchantByCode :one
SELECT * FROM merchants WHERE code = $1;
