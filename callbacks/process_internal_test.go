package callbacks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

// TestDeterministic: what fails the same way on every attempt is flagged at
// once; what a retry may cure (the database or the network away, a conflict
// with another transaction) is retried.
func TestDeterministic(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{orders.ErrUnapplicable, true},
		{fmt.Errorf("apply: %w", orders.ErrUnapplicable), true},
		{providers.Unreadable(providers.Invalid("cxpay", "callback", "negative fee")), true},
		{providers.Errorf(providers.ErrBadSignature, "cpay", "webhook", "no longer verifies"), true},
		{fmt.Errorf("post: %w", ledger.ErrScale), true},
		{ledger.ErrUnknownCurrency, true},
		{ledger.ErrUnbalanced, true},
		{ledger.ErrInsufficientFunds, true},
		{ledger.ErrIdempotencyConflict, true},
		{&pgconn.PgError{Code: "22003"}, true},  // numeric value out of range
		{&pgconn.PgError{Code: "23514"}, true},  // check constraint
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation: a race a retry resolves
		{&pgconn.PgError{Code: "40001"}, false}, // serialization failure
		{&pgconn.PgError{Code: "40P01"}, false}, // deadlock
		{&pgconn.PgError{Code: "57P01"}, false}, // admin shutdown
		{ledger.ErrConflict, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{io.ErrUnexpectedEOF, false},
		{errors.New("conn closed"), false},
		{fmt.Errorf("callback 3: %w", errors.Join(ledger.ErrConflict, orders.ErrUnapplicable)), false},
	}
	for _, c := range cases {
		if got := deterministic(c.err); got != c.want {
			t.Errorf("deterministic(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
