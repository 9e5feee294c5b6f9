package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
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
// and have no open or resolved discrepancy of discrepancies.AmountTypes, per
// UTC day of their final time and per currency they settled in. An order's
// money is what it moved (its paid amount in its settled currency), never
// the amount requested. It reads orders, not reconciliation runs, so an
// order counts once however many runs checked it. Oldest day first.
func (s *Service) MatchedByDay(ctx context.Context, merchantIDs []int64, from, before time.Time) ([]DayAmount, error) {
	if merchantIDs != nil && len(merchantIDs) == 0 {
		return nil, nil
	}
	types := make([]string, len(discrepancies.AmountTypes))
	for i, t := range discrepancies.AmountTypes {
		types[i] = string(t)
	}
	rows, err := s.q.SucceededByDay(ctx, ordersdb.SucceededByDayParams{
		SettledFrom: from, SettledBefore: before, MerchantIds: merchantIDs, AmountTypes: types})
	if err != nil {
		return nil, fmt.Errorf("matched amounts by day: %w", err)
	}
	out := make([]DayAmount, len(rows))
	for i, r := range rows {
		out[i] = DayAmount{Day: r.Day.UTC(), Currency: r.Currency, Amount: r.Amount, Count: r.N}
	}
	return out, nil
}
