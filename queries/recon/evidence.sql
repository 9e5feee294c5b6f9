-- name: StatementLinesForOrder :many
-- What the imported statements of an order's provider account say about it:
-- their per-order rows (lines summed), by the order number tally sent the
-- provider, or by the provider's id on lines without an order number.
SELECT s.id AS statement_id, s.filename, s.imported_at, so.key, so.order_no, so.provider_order_id, so.kind, so.status,
       so.amount, so.fee, so.currency, so.requested, so.settled_at, so.lines, so.first_line
FROM statements s JOIN statement_orders so ON so.statement_id = s.id
WHERE s.merchant_id = @merchant_id AND s.provider_account_id = @provider_account_id
  AND (so.key = @order_no::text
       OR (so.order_no = '' AND @provider_order_id::text <> '' AND so.provider_order_id = @provider_order_id::text))
ORDER BY s.id DESC, so.key
LIMIT @row_limit;
