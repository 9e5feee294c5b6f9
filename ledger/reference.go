package ledger

import (
	"context"
	"fmt"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// TransfersByReference returns the merchant's transfers whose Reference is
// one of refs ("order:42", "discrepancy:7"), oldest first, at most limit (100
// when limit <= 0), each with its entries: everything the ledger booked for
// an order or a discrepancy, for the staff's view of the evidence.
func (l *Ledger) TransfersByReference(ctx context.Context, merchant int64, refs []string, limit int) ([]TransferDetail, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := ledgerdb.New(l.pool).TransfersByReference(ctx, ledgerdb.TransfersByReferenceParams{MerchantID: merchant, Refs: refs, RowLimit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("transfers of %v: %w", refs, err)
	}
	out := make([]TransferDetail, 0, len(rows))
	for _, t := range rows {
		d, err := l.transferDetail(ctx, t, nil, t.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
