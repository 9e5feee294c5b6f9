package ledger

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/bojanz/currency"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// DB is what SeedCurrencies runs on: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SeedCurrency is one currency the migrate step (db.MigrateUp) adds when the
// table lacks it.
type SeedCurrency struct {
	Code  string
	Scale int16
	Kind  string // "fiat" or "crypto"
}

// CurrencySeed lists what the migrate step seeds the currencies table with: every ISO
// 4217 currency with its minor units, as github.com/bojanz/currency knows them,
// sorted by code. The crypto assets (USDT, TRX, BTC, ETH, BNB at 8 decimals, the
// precision C-Pay's document gives) are migration 00021's; `tally currency add`
// adds others.
func CurrencySeed() []SeedCurrency {
	codes := slices.Clone(currency.GetCurrencyCodes())
	slices.Sort(codes)
	out := make([]SeedCurrency, 0, len(codes))
	for _, c := range codes {
		digits, ok := currency.GetDigits(c)
		if !ok {
			continue
		}
		out = append(out, SeedCurrency{Code: c, Scale: int16(digits), Kind: "fiat"})
	}
	return out
}

// SeedCurrencies adds every currency of CurrencySeed the table lacks, in one
// statement, and returns how many it added. A currency already there keeps its
// row (ON CONFLICT DO NOTHING): a scale set by a migration or by `tally
// currency add` never changes here. db.MigrateUp runs it after tally's
// migrations, so a newer ISO list (a newer bojanz/currency) reaches existing
// databases on their next migrate.
func SeedCurrencies(ctx context.Context, q DB) (int64, error) {
	seed := CurrencySeed()
	p := ledgerdb.SeedCurrenciesParams{
		Codes:  make([]string, len(seed)),
		Scales: make([]int16, len(seed)),
		Kinds:  make([]string, len(seed)),
	}
	for i, c := range seed {
		p.Codes[i], p.Scales[i], p.Kinds[i] = c.Code, c.Scale, c.Kind
	}
	n, err := ledgerdb.New(q).SeedCurrencies(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("seed currencies: %w", err)
	}
	return n, nil
}

// HashSeed writes the seed list to h, so that db.SchemaHash (and the test
// templates keyed by it) changes with it.
func HashSeed(h io.Writer) {
	for _, c := range CurrencySeed() {
		fmt.Fprintf(h, "currency\x00%s\x00%d\x00%s\x00", c.Code, c.Scale, c.Kind)
	}
}
