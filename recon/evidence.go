package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/orders"
)

// StatementLine is what an imported statement says about one order: the
// statement's lines of the order summed (as reconciliation compares them),
// with where they are in the file.
type StatementLine struct {
	StatementID     int64               `json:"statement_id"`
	Filename        string              `json:"filename"`
	ImportedAt      time.Time           `json:"imported_at"`
	OrderNo         string              `json:"order_no"`
	ProviderOrderID string              `json:"provider_order_id"`
	Kind            string              `json:"kind"`
	Status          string              `json:"status"`
	Amount          decimal.Decimal     `json:"amount"`
	Fee             decimal.NullDecimal `json:"fee"`
	Currency        string              `json:"currency"`
	Requested       decimal.NullDecimal `json:"requested"`
	SettledAt       time.Time           `json:"settled_at"`
	// Lines is how many lines of the file state the order, the first at
	// FirstLine.
	Lines     int32 `json:"lines"`
	FirstLine int32 `json:"first_line"`
}

// StatementLinesFor lists what the statements imported for the order's
// provider account say about it, newest statement first (at most limit, 20
// when limit <= 0): the evidence an accountant sets beside the provider's
// callbacks and the ledger.
func (s *Service) StatementLinesFor(ctx context.Context, o orders.Order, limit int) ([]StatementLine, error) {
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.q.StatementLinesForOrder(ctx, recondb.StatementLinesForOrderParams{MerchantID: o.MerchantID,
		ProviderAccountID: o.ProviderAccountID, OrderNo: o.ProviderOrderNo, ProviderOrderID: o.ProviderOrderID, RowLimit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("statement lines of order %d: %w", o.ID, err)
	}
	out := make([]StatementLine, len(rows))
	for i, r := range rows {
		out[i] = StatementLine{StatementID: r.StatementID, Filename: r.Filename, ImportedAt: r.ImportedAt, OrderNo: r.OrderNo,
			ProviderOrderID: r.ProviderOrderID, Kind: r.Kind, Status: r.Status, Amount: r.Amount, Fee: r.Fee, Currency: r.Currency,
			Requested: r.Requested, SettledAt: r.SettledAt, Lines: r.Lines, FirstLine: r.FirstLine}
	}
	return out, nil
}
