-- name: CallbacksOfOrder :many
-- The stored callbacks of one of a merchant's orders, oldest first (staff
-- evidence: callbacks.Service.ForOrder).
SELECT * FROM callback_inbox
WHERE order_id = @order_id AND merchant_id = @merchant_id
ORDER BY id
LIMIT @row_limit;
