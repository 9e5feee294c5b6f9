package orders

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// books is what the ledger can book for one provider account, as package
// settle asks it: the currencies and scales of the ledger, and the account's
// bound on one order's amount.
type books struct {
	ctx  context.Context
	tx   pgx.Tx // a currency the ledger's cache lacks is read in it: no second connection
	l    *ledger.Ledger
	acct merchants.ProviderAccount
}

func (s *Service) books(ctx context.Context, tx pgx.Tx, acct merchants.ProviderAccount) books {
	return books{ctx: ctx, tx: tx, l: s.ledger, acct: acct}
}

// Scale is the ledger's scale for cur; false for a currency it cannot book
// (or when the registry cannot be read: the money is then held, never
// guessed, and the discrepancy says so).
func (b books) Scale(cur string) (int32, bool) {
	c, err := b.l.CurrencyTx(b.ctx, b.tx, cur)
	return c.Scale, err == nil
}

// Max is the account's bound on one order's amount in cur (its max_amounts,
// else 10^12 minor units): the same bound the merchant API applies.
func (b books) Max(cur string, scale int32) decimal.Decimal {
	return b.acct.MaxAmount(cur, scale)
}

// deterministic reports whether err will fail the same way however often a
// stored callback is applied again: a verified event tally cannot apply (a
// business rule, a validation, content that does not parse after its
// signature verified), a refusal of the ledger's, or a value PostgreSQL
// refuses. Everything else (the database or the network unavailable, a
// deadlock, a timeout) is transient and retried.
func deterministic(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ledger.ErrConflict):
		return false
	case errors.Is(err, ErrUnapplicable), errors.Is(err, providers.ErrInvalidRequest), errors.Is(err, providers.ErrBadSignature),
		errors.Is(err, ledger.ErrInvalid), errors.Is(err, ledger.ErrUnknownCurrency), errors.Is(err, ledger.ErrUnknownAccount),
		errors.Is(err, ledger.ErrIdempotencyConflict), errors.Is(err, ledger.ErrUnbalanced), errors.Is(err, ledger.ErrScale),
		errors.Is(err, ledger.ErrNonPositive), errors.Is(err, ledger.ErrCurrencyMismatch), errors.Is(err, ledger.ErrInsufficientFunds),
		errors.Is(err, ledger.ErrPostExceedsHold):
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && len(pg.Code) == 5 {
		// Class 22: data exceptions (a numeric value out of range, a malformed
		// value), and a check or not-null constraint: the same row fails the
		// same way. (A unique violation may be a race a retry resolves.)
		return pg.Code[:2] == "22" || pg.Code == "23514" || pg.Code == "23502"
	}
	return false
}
