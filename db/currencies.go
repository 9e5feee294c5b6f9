package db

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/bojanz/currency"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// SeedCurrency is one currency MigrateUp adds when the table lacks it.
type SeedCurrency struct {
	Code  string
	Scale int16
	Kind  string // "fiat" or "crypto"
}

// CurrencySeed lists what MigrateUp seeds the currencies table with: every ISO
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

// seedCurrencies adds every currency of CurrencySeed the table lacks, in one
// statement. A currency already there keeps its row (ON CONFLICT DO NOTHING): a
// scale set by a migration or by `tally currency add` never changes here. It runs
// after tally's migrations in every MigrateUp, so a newer ISO list (a newer
// bojanz/currency) reaches existing databases on their next migrate.
func seedCurrencies(ctx context.Context, q ledgerdb.DBTX) (int64, error) {
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

// hashSeed writes the seed list to h, so that SchemaHash (and the test
// templates keyed by it) changes with it.
func hashSeed(h io.Writer) {
	for _, c := range CurrencySeed() {
		fmt.Fprintf(h, "currency\x00%s\x00%d\x00%s\x00", c.Code, c.Scale, c.Kind)
	}
}
