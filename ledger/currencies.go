package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// Currency is a currency the ledger can book, with the number of decimal places
// an amount in it may have.
type Currency struct {
	// Code is 3 to 10 uppercase letters or digits: an ISO 4217 code ("BRL") or a
	// crypto asset's ticker ("USDT").
	Code string
	// Scale is the number of decimal places, 0 to MaxScale.
	Scale int32
	// Kind is KindFiat or KindCrypto.
	Kind string
}

// The kinds of currency.
const (
	KindFiat   = "fiat"
	KindCrypto = "crypto"
)

// MaxScale is the most decimal places a currency may have.
const MaxScale = 18

// ValidCurrencyCode reports whether code has the shape of a currency code: 3 to
// 10 uppercase ASCII letters or digits. It says nothing about whether the ledger
// knows the currency (see Ledger.Currency).
func ValidCurrencyCode(code string) bool {
	if len(code) < 3 || len(code) > 10 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// currencyCache is the ledger's copy of the currencies table. A currency, once
// there, is never removed or changed (scales of existing currencies do not change
// at run time), so entries never go stale; a code it lacks is looked up in the
// database again each time, so that a currency added by another process (`tally
// currency add`) is found on its first use.
type currencyCache struct {
	mu     sync.RWMutex
	byCode map[string]Currency
}

func (c *currencyCache) get(code string) (Currency, bool) {
	c.mu.RLock()
	cur, ok := c.byCode[code]
	c.mu.RUnlock()
	return cur, ok
}

func (c *currencyCache) put(cur Currency) {
	c.mu.Lock()
	if c.byCode == nil {
		c.byCode = map[string]Currency{}
	}
	c.byCode[cur.Code] = cur
	c.mu.Unlock()
	rememberScale(cur)
}

func currencyFromRow(r ledgerdb.Currency) Currency {
	return Currency{Code: r.Code, Scale: int32(r.Scale), Kind: r.Kind}
}

// Currency returns the currency with code, from the ledger's cache or, when the
// cache does not have it, from the database (once per call). A code the ledger
// cannot book (malformed, or not in the currencies table) is ErrUnknownCurrency.
func (l *Ledger) Currency(ctx context.Context, code string) (Currency, error) {
	return l.currency(ctx, l.pool, code)
}

// CurrencyTx is Currency reading through the caller's transaction tx when the
// cache does not have the code, so that it needs no second connection. A code
// the ledger cannot book leaves tx usable.
func (l *Ledger) CurrencyTx(ctx context.Context, tx pgx.Tx, code string) (Currency, error) {
	if tx == nil {
		return Currency{}, fmt.Errorf("currency %s: nil transaction: %w", code, ErrInvalid)
	}
	return l.currency(ctx, tx, code)
}

// currency is Currency reading through q on a cache miss.
func (l *Ledger) currency(ctx context.Context, q ledgerdb.DBTX, code string) (Currency, error) {
	if !ValidCurrencyCode(code) {
		return Currency{}, fmt.Errorf("currency %q: not 3 to 10 uppercase letters or digits: %w", code, ErrUnknownCurrency)
	}
	if c, ok := l.currencies.get(code); ok {
		return c, nil
	}
	r, err := ledgerdb.New(q).GetCurrency(ctx, code)
	if errors.Is(err, pgx.ErrNoRows) {
		return Currency{}, fmt.Errorf("currency %s: %w", code, ErrUnknownCurrency)
	}
	if err != nil {
		return Currency{}, fmt.Errorf("currency %s: %w", code, err)
	}
	c := currencyFromRow(r)
	l.currencies.put(c)
	return c, nil
}

// Currencies returns every currency the ledger can book, sorted by code, read
// from the database (it refreshes the cache).
func (l *Ledger) Currencies(ctx context.Context) ([]Currency, error) {
	rows, err := ledgerdb.New(l.pool).ListCurrencies(ctx)
	if err != nil {
		return nil, fmt.Errorf("list currencies: %w", err)
	}
	out := make([]Currency, len(rows))
	for i, r := range rows {
		out[i] = currencyFromRow(r)
		l.currencies.put(out[i])
	}
	return out, nil
}

// CurrencyLookup reads every currency (Currencies) and returns a lookup by code
// over that snapshot, for code that formats or checks many amounts without a
// context or a database call each time (reports, reconciliation).
func (l *Ledger) CurrencyLookup(ctx context.Context) (func(code string) (Currency, bool), error) {
	cs, err := l.Currencies(ctx)
	if err != nil {
		return nil, err
	}
	byCode := make(map[string]Currency, len(cs))
	for _, c := range cs {
		byCode[c.Code] = c
	}
	return func(code string) (Currency, bool) {
		c, ok := byCode[code]
		return c, ok
	}, nil
}

// AddCurrency adds a currency the ledger can then book: c.Code is 3 to 10
// uppercase letters or digits, c.Scale 0 to MaxScale, c.Kind KindFiat (also
// when empty) or KindCrypto. Adding a currency that exists with the same scale
// (and kind, when given) changes nothing; another scale or kind is refused with
// ErrInvalid: the scale of an existing currency never changes here, since
// lowering it would make stored amounts invalid.
func (l *Ledger) AddCurrency(ctx context.Context, c Currency) error {
	if !ValidCurrencyCode(c.Code) {
		return fmt.Errorf("add currency %q: the code must be 3 to 10 uppercase letters or digits: %w", c.Code, ErrInvalid)
	}
	if c.Scale < 0 || c.Scale > MaxScale {
		return fmt.Errorf("add currency %s: scale %d: from 0 to %d: %w", c.Code, c.Scale, MaxScale, ErrInvalid)
	}
	kind := c.Kind
	switch kind {
	case "":
		kind = KindFiat
	case KindFiat, KindCrypto:
	default:
		return fmt.Errorf("add currency %s: kind %q: %s or %s: %w", c.Code, c.Kind, KindFiat, KindCrypto, ErrInvalid)
	}
	q := ledgerdb.New(l.pool)
	for attempt := 0; attempt < 3; attempt++ {
		r, err := q.AddCurrency(ctx, ledgerdb.AddCurrencyParams{Code: c.Code, Scale: int16(c.Scale), Kind: kind})
		if errors.Is(err, pgx.ErrNoRows) {
			continue // inserted concurrently by a transaction this statement's snapshot missed
		}
		if err != nil {
			return fmt.Errorf("add currency %s: %w", c.Code, err)
		}
		got := currencyFromRow(ledgerdb.Currency{Code: r.Code, Scale: r.Scale, Kind: r.Kind})
		l.currencies.put(got)
		if r.Inserted {
			l.log.InfoContext(ctx, "ledger: currency added", "code", got.Code, "scale", got.Scale, "kind", got.Kind)
			return nil
		}
		if got.Scale != c.Scale {
			return fmt.Errorf("add currency %s: it exists with scale %d, not %d (the scale of a currency never changes): %w",
				c.Code, got.Scale, c.Scale, ErrInvalid)
		}
		if c.Kind != "" && got.Kind != c.Kind {
			return fmt.Errorf("add currency %s: it exists as %s, not %s: %w", c.Code, got.Kind, c.Kind, ErrInvalid)
		}
		return nil
	}
	return fmt.Errorf("add currency %s: not found after insert", c.Code)
}

// currencyLookup resolves the currencies of one request: through q (the
// caller's transaction for a Tx form, else the pool) on a cache miss.
type currencyLookup func(code string) (Currency, error)

func (l *Ledger) lookupIn(ctx context.Context, q ledgerdb.DBTX) currencyLookup {
	return func(code string) (Currency, error) { return l.currency(ctx, q, code) }
}
