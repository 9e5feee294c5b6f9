-- +goose Up
-- The console's discrepancy detail lists the transfers of an order or a
-- discrepancy by their reference (ledger.TransfersByReference): without an
-- index that reads every transfer of the merchant.
CREATE INDEX transfers_reference_idx ON transfers (merchant_id, reference) WHERE reference <> '';

-- +goose Down
DROP INDEX transfers_reference_idx;
