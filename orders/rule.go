package orders

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
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
