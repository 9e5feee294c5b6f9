package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
)

// DayAmount is money of one UTC day and currency, and how many orders moved it.
type DayAmount struct {
	Day      time.Time // midnight UTC
	Currency string
	Amount   decimal.Decimal
	Count    int64
}

// MatchedByDay is the money of the orders (deposits and payouts) of some
// merchants (nil: all; empty: none) that reached succeeded in [from, before)
// paid exactly as ordered (the paid amount is the order's amount, in its
// currency), per UTC day of their final time and per currency. An order paid
// otherwise is a mismatch, carried by its discrepancy. It reads orders, not
// reconciliation runs, so an order counts once however many runs checked
// it. Oldest day first.
func (s *Service) MatchedByDay(ctx context.Context, merchantIDs []int64, from, before time.Time) ([]DayAmount, error) {
	if merchantIDs != nil && len(merchantIDs) == 0 {
		return nil, nil
	}
	rows, err := s.q.SucceededByDay(ctx, ordersdb.SucceededByDayParams{
		SettledFrom: from, SettledBefore: before, MerchantIds: merchantIDs})
	if err != nil {
		return nil, fmt.Errorf("matched amounts by day: %w", err)
	}
	out := make([]DayAmount, len(rows))
	for i, r := range rows {
		out[i] = DayAmount{Day: r.Day.UTC(), Currency: r.Currency, Amount: r.Amount, Count: r.N}
	}
	return out, nil
}
