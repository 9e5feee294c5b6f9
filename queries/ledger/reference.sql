-- name: TransfersByReference :many
-- A merchant's transfers whose reference is one of the given ones (an order,
-- a discrepancy), oldest first.
SELECT * FROM transfers
WHERE merchant_id = @merchant_id AND reference = ANY(@refs::text[])
ORDER BY id
LIMIT @row_limit;
