package discrepancies

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/discdb"
)

// AmountTypes are the types whose discrepancy is money tally and a provider
// disagree on: its amount_delta is the money in question (an amount or fee
// that differs, money for an order tally does not know, a settled order
// reversed, a balance that drifted, a status or duplicate callbacks that
// disagree on whether money moved). The others are about time or trust, not
// money (missing_callback, repaired from the provider's answer;
// stale_pending; rejected_callback; ledger_invariant; reference_conflict).
// The console's chart of matched against mismatched amounts counts these.
var AmountTypes = []Type{AmountMismatch, FeeMismatch, UnknownOrder, Reversal, BalanceDrift, StatusMismatch, DuplicateConflict}

// DayAmount is money of one UTC day and currency, and how many rows made it.
type DayAmount struct {
	Day      time.Time // midnight UTC
	Currency string
	Amount   decimal.Decimal
	Count    int64
}

// MismatchedByDay sums abs(amount_delta) of the discrepancies of AmountTypes
// first seen in [from, before), per UTC day and currency, whatever their
// status now, for some merchants (nil: all; empty: none): the money found in
// disagreement each day. Oldest day first.
func (s *Store) MismatchedByDay(ctx context.Context, db DB, merchantIDs []int64, from, before time.Time) ([]DayAmount, error) {
	if merchantIDs != nil && len(merchantIDs) == 0 {
		return nil, nil
	}
	rows, err := discdb.New(db).MismatchedByDay(ctx, discdb.MismatchedByDayParams{
		SeenFrom: from, SeenBefore: before, Types: texts(AmountTypes), MerchantIds: merchantIDs})
	if err != nil {
		return nil, fmt.Errorf("mismatched amounts by day: %w", err)
	}
	out := make([]DayAmount, len(rows))
	for i, r := range rows {
		out[i] = DayAmount{Day: r.Day.UTC(), Currency: r.Currency, Amount: r.Amount, Count: r.N}
	}
	return out, nil
}
