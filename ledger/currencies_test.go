package ledger_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tallyhq/tally/ledger"
)

// cryptoAtEight are the crypto assets of migration 00021, at the 8 decimals
// C-Pay's document gives.
var cryptoAtEight = []string{"BNB", "BTC", "ETH", "TRX", "USDT"}

// The registry and the currencies table agree, and a migrated database holds
// every ISO 4217 currency with its minor units (ledger.CurrencySeed, from
// bojanz/currency) and the crypto assets at scale 8.
func TestCurrenciesMatchDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	got, err := e.l.Currencies(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.pool.Query(e.ctx, "SELECT code, scale, kind FROM currencies ORDER BY code")
	if err != nil {
		t.Fatal(err)
	}
	var want []ledger.Currency
	for rows.Next() {
		var c ledger.Currency
		var scale int16
		if err := rows.Scan(&c.Code, &scale, &c.Kind); err != nil {
			t.Fatal(err)
		}
		c.Scale = int32(scale)
		want = append(want, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Currencies() = %v\ndatabase     = %v", got, want)
	}
	if !slices.IsSortedFunc(got, func(a, b ledger.Currency) int { return cmp.Compare(a.Code, b.Code) }) {
		t.Error("Currencies() is not sorted by code")
	}
	byCode := map[string]ledger.Currency{}
	for _, c := range got {
		byCode[c.Code] = c
	}
	seed := ledger.CurrencySeed()
	if len(seed) < 150 {
		t.Fatalf("the ISO seed has %d currencies", len(seed))
	}
	for _, s := range seed {
		if c, ok := byCode[s.Code]; !ok || c.Scale != int32(s.Scale) || c.Kind != ledger.KindFiat {
			t.Errorf("ISO currency %s (scale %d): the ledger has %+v", s.Code, s.Scale, c)
		}
	}
	for _, code := range cryptoAtEight {
		if c := byCode[code]; c.Scale != 8 || c.Kind != ledger.KindCrypto {
			t.Errorf("%s: %+v, want scale 8, crypto", code, c)
		}
	}
	if len(got) != len(seed)+len(cryptoAtEight) {
		t.Errorf("the ledger has %d currencies, want %d ISO and %d crypto", len(got), len(seed), len(cryptoAtEight))
	}
	// Provider currencies (CXPay's INR, IDR, NGN) and currencies without minor
	// units are bookable as seeded.
	for code, scale := range map[string]int32{"INR": 2, "IDR": 2, "NGN": 2, "BRL": 2, "JPY": 0, "KWD": 3, "CNY": 2} {
		c, err := e.l.Currency(e.ctx, code)
		if err != nil || c.Scale != scale || c.Kind != ledger.KindFiat {
			t.Errorf("Currency(%s) = %+v, %v; want scale %d", code, c, err, scale)
		}
	}
}

// Currency refuses what the ledger cannot book; AddCurrency in another process
// (another Ledger on the same database) takes effect on the next use, without a
// restart; existing currencies never change their scale.
func TestCurrencyRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := ledger.New(e.pool) // another process
	for _, code := range []string{"DOGE", "usdt", "US", "", "ABCDEFGHIJK", "US-D"} {
		if _, err := e.l.Currency(e.ctx, code); !errors.Is(err, ledger.ErrUnknownCurrency) {
			t.Errorf("Currency(%q): %v, want ErrUnknownCurrency", code, err)
		}
	}
	dogeCust := ledger.CustomerAccount("c1", "DOGE")
	deposit := func(k, amount string) error {
		_, err := e.l.Transfer(e.ctx, e.move(k, ledger.ProviderAccount("p", "DOGE"), dogeCust, amount))
		return err
	}
	if err := deposit(key("doge"), "1"); !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Fatalf("transfer in DOGE before it is added: %v, want ErrUnknownCurrency", err)
	}
	if _, err := e.l.EnsureAccount(e.ctx, e.m, dogeCust); !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Fatalf("EnsureAccount in DOGE before it is added: %v, want ErrUnknownCurrency", err)
	}
	if n := e.count("accounts"); n != 0 {
		t.Fatalf("refusals created %d accounts", n)
	}

	if err := other.AddCurrency(e.ctx, ledger.Currency{Code: "DOGE", Scale: 8, Kind: ledger.KindCrypto}); err != nil {
		t.Fatal(err)
	}
	if c, err := e.l.Currency(e.ctx, "DOGE"); err != nil || c != (ledger.Currency{Code: "DOGE", Scale: 8, Kind: ledger.KindCrypto}) {
		t.Fatalf("Currency(DOGE) after another ledger added it: %+v, %v", c, err)
	}
	if err := deposit(key("doge"), "1.12345678"); err != nil {
		t.Fatalf("transfer in DOGE after it was added: %v", err)
	}
	if err := deposit(key("doge"), "1.123456789"); !errors.Is(err, ledger.ErrScale) {
		t.Fatalf("DOGE with 9 decimals: %v, want ErrScale", err)
	}

	// Adding again: the same scale is nothing, another scale or kind is refused.
	for _, c := range []ledger.Currency{{Code: "DOGE", Scale: 8}, {Code: "DOGE", Scale: 8, Kind: ledger.KindCrypto}, {Code: "BRL", Scale: 2, Kind: ledger.KindFiat}} {
		if err := e.l.AddCurrency(e.ctx, c); err != nil {
			t.Errorf("AddCurrency(%+v) again: %v", c, err)
		}
	}
	for _, c := range []ledger.Currency{
		{Code: "DOGE", Scale: 6},
		{Code: "USDT", Scale: 6, Kind: ledger.KindCrypto},
		{Code: "BRL", Scale: 4},
		{Code: "DOGE", Scale: 8, Kind: ledger.KindFiat},
		{Code: "doge", Scale: 8},
		{Code: "DO", Scale: 2},
		{Code: "ABCDEFGHIJK", Scale: 2},
		{Code: "NEW", Scale: -1},
		{Code: "NEW", Scale: 19},
		{Code: "NEW", Scale: 2, Kind: "metal"},
	} {
		if err := e.l.AddCurrency(e.ctx, c); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("AddCurrency(%+v): %v, want ErrInvalid", c, err)
		}
	}
	for code, scale := range map[string]int32{"DOGE": 8, "USDT": 8, "BRL": 2} {
		if c, err := other.Currency(e.ctx, code); err != nil || c.Scale != scale {
			t.Errorf("%s after refused changes: %+v, %v", code, c, err)
		}
	}
	if _, err := other.Currency(e.ctx, "NEW"); !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Errorf("a refused AddCurrency stored NEW: %v", err)
	}
	// A new fiat currency by default; a code may start with a digit.
	if err := e.l.AddCurrency(e.ctx, ledger.Currency{Code: "1INCH", Scale: 18, Kind: ledger.KindCrypto}); err != nil {
		t.Fatal(err)
	}
	if err := e.l.AddCurrency(e.ctx, ledger.Currency{Code: "XTS", Scale: 0}); err != nil {
		t.Fatal(err)
	}
	if c, err := other.Currency(e.ctx, "XTS"); err != nil || c.Kind != ledger.KindFiat || c.Scale != 0 {
		t.Fatalf("XTS: %+v, %v", c, err)
	}
	all, err := other.Currencies(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(c ledger.Currency) bool { return c.Code == "1INCH" && c.Scale == 18 }) {
		t.Error("Currencies() lacks 1INCH")
	}
	look, err := other.CurrencyLookup(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := look("DOGE"); !ok || c.Scale != 8 {
		t.Errorf("lookup DOGE: %+v %v", c, ok)
	}
	if _, ok := look("NOPE"); ok {
		t.Error("lookup NOPE found it")
	}
	e.requireCheck()
}

// Concurrent adds of one currency: all succeed, one row.
func TestAddCurrencyConcurrently(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			errs <- ledger.New(e.pool).AddCurrency(e.ctx, ledger.Currency{Code: "SOL", Scale: 9, Kind: ledger.KindCrypto})
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var n int
	if err := e.pool.QueryRow(e.ctx, "SELECT count(*) FROM currencies WHERE code = 'SOL'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d SOL rows, %v", n, err)
	}
}

// A Tx form resolves a currency its ledger has not seen inside the caller's
// transaction (no second connection), and a currency it cannot book leaves that
// transaction usable.
func TestCurrencyInsideCallerTransaction(t *testing.T) {
	t.Parallel()
	e := newEnvPool(t, 1)
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	l := ledger.New(e.pool) // an empty currency cache
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	inr := ledger.CustomerAccount("c1", "INR")
	if _, err := l.TransferTx(ctx, tx, e.move("inr", ledger.ProviderAccount("cxpay-in", "INR"), inr, "100.25")); err != nil {
		t.Fatalf("INR deposit inside the transaction: %v", err)
	}
	if _, err := l.TransferTx(ctx, tx, e.move("doge", ledger.ProviderAccount("p", "DOGE"), ledger.CustomerAccount("c1", "DOGE"), "1")); !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Fatalf("DOGE inside the transaction: %v, want ErrUnknownCurrency", err)
	}
	if c, err := l.CurrencyTx(ctx, tx, "IDR"); err != nil || c.Scale != 2 {
		t.Fatalf("CurrencyTx(IDR): %+v, %v", c, err)
	}
	if _, err := l.CurrencyTx(ctx, tx, "DOGE"); !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Fatalf("CurrencyTx(DOGE): %v", err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("transaction unusable: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.requireBalance(inr, "100.25", "0", "100.25")
}
