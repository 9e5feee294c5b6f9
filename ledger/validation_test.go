package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tallyhq/tally/ledger"
)

// Every refusal comes back as its typed error and writes nothing: no transfer, no
// entry, no balance change (and, for what is refused before the database, no
// account either).
func TestTransferRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "10")
	e.transfer(e.move("used", cust1, cust2, "1"))
	cnyCust := ledger.CustomerAccount("c1", "CNY")
	entries := func(es ...ledger.Entry) ledger.TransferRequest {
		return ledger.TransferRequest{Merchant: e.m, Key: key("v"), Entries: es}
	}
	dr := func(acct, amt string) ledger.Entry {
		return ledger.Entry{Account: acct, Side: ledger.Debit, Amount: d(amt)}
	}
	cr := func(acct, amt string) ledger.Entry {
		return ledger.Entry{Account: acct, Side: ledger.Credit, Amount: d(amt)}
	}
	cases := []struct {
		name     string
		req      ledger.TransferRequest
		want     error
		accounts bool // the refusal comes from the database, after accounts were resolved
	}{
		{name: "unbalanced", req: entries(dr(prov, "10"), cr(cust1, "9.99")), want: ledger.ErrUnbalanced},
		{name: "one entry", req: entries(dr(prov, "10")), want: ledger.ErrUnbalanced},
		{name: "no entries", req: entries(), want: ledger.ErrUnbalanced},
		{name: "balanced only across currencies", req: entries(dr(prov, "10"), cr(cnyCust, "10")), want: ledger.ErrUnbalanced},
		{name: "USDT with 9 decimals", req: entries(dr(prov, "1.000000001"), cr(cust1, "1.000000001")), want: ledger.ErrScale},
		{name: "CNY with 3 decimals", req: entries(dr(ledger.ProviderAccount("p", "CNY"), "1.001"), cr(cnyCust, "1.001")), want: ledger.ErrScale},
		{name: "zero amount", req: entries(dr(prov, "0"), cr(cust1, "0")), want: ledger.ErrNonPositive},
		{name: "negative amount", req: entries(dr(prov, "-5"), cr(cust1, "-5")), want: ledger.ErrNonPositive},
		{name: "unknown currency in the code", req: entries(dr("assets:provider:p:DOGE", "1"), cr("liabilities:customer:c1:DOGE", "1")), want: ledger.ErrUnknownCurrency},
		{name: "unknown entry currency", req: entries(ledger.Entry{Account: prov, Side: ledger.Debit, Amount: d("1"), Currency: "DOGE"}, cr(cust1, "1")), want: ledger.ErrUnknownCurrency},
		{name: "unknown account prefix", req: entries(dr("assets:bank:x:USDT", "1"), cr(cust1, "1")), want: ledger.ErrUnknownAccount},
		{name: "entry currency differs from account", req: entries(ledger.Entry{Account: prov, Side: ledger.Debit, Amount: d("1"), Currency: "CNY"}, cr(cust1, "1")), want: ledger.ErrCurrencyMismatch},
		{name: "overdraft", req: entries(dr(cust1, "9.000001"), cr(cust2, "9.000001")), want: ledger.ErrInsufficientFunds, accounts: true},
		{name: "overdraft of a new account", req: entries(dr(ledger.CustomerAccount("new", "USDT"), "1"), cr(cust2, "1")), want: ledger.ErrInsufficientFunds, accounts: true},
		{name: "overdraft by a hold", req: func() ledger.TransferRequest {
			r := entries(dr(cust1, "9.5"), cr(prov, "9.5"))
			r.Pending = true
			return r
		}(), want: ledger.ErrInsufficientFunds, accounts: true},
		{name: "key reused with other content", req: e.move("used", cust1, cust2, "2"), want: ledger.ErrIdempotencyConflict, accounts: true},
		{name: "key reused as a hold", req: func() ledger.TransferRequest {
			r := e.move("used", cust1, cust2, "1")
			r.Pending = true
			return r
		}(), want: ledger.ErrIdempotencyConflict, accounts: true},
		{name: "no key", req: ledger.TransferRequest{Merchant: e.m, Entries: []ledger.Entry{dr(prov, "1"), cr(cust1, "1")}}, want: ledger.ErrInvalid},
		{name: "reserved key", req: e.move("ledger:expire:1", prov, cust1, "1"), want: ledger.ErrInvalid},
		{name: "no merchant", req: ledger.TransferRequest{Key: "k", Entries: []ledger.Entry{dr(prov, "1"), cr(cust1, "1")}}, want: ledger.ErrInvalid},
		{name: "unknown merchant", req: ledger.TransferRequest{Merchant: e.m + 100, Key: "k", Entries: []ledger.Entry{dr(prov, "1"), cr(cust1, "1")}}, want: ledger.ErrNotFound},
		{name: "bad side", req: entries(ledger.Entry{Account: prov, Side: "both", Amount: d("1")}, cr(cust1, "1")), want: ledger.ErrInvalid},
		{name: "deadline on a posted transfer", req: func() ledger.TransferRequest {
			r := entries(dr(prov, "1"), cr(cust1, "1"))
			r.ExpiresAt = time.Now().Add(time.Hour)
			return r
		}(), want: ledger.ErrInvalid},
	}
	for _, c := range cases {
		before := e.snapshot()
		accounts := e.count("accounts")
		for _, form := range []string{"pool", "tx", "batch"} {
			var err error
			switch form {
			case "pool":
				_, err = e.l.Transfer(e.ctx, c.req)
			case "tx":
				tx, berr := e.pool.Begin(e.ctx)
				if berr != nil {
					t.Fatal(berr)
				}
				_, err = e.l.TransferTx(e.ctx, tx, c.req)
				if _, xerr := tx.Exec(e.ctx, "SELECT 1"); xerr != nil {
					t.Errorf("%s: transaction unusable after the refusal: %v", c.name, xerr)
				}
				_ = tx.Commit(e.ctx)
			case "batch":
				_, err = e.l.TransferBatch(e.ctx, []ledger.TransferRequest{e.move(key("ok"), prov, cust2, "1"), c.req})
			}
			if !errors.Is(err, c.want) {
				t.Errorf("%s (%s): err = %v, want %v", c.name, form, err, c.want)
			}
		}
		if after := e.snapshot(); after != before {
			t.Errorf("%s: refusal changed the ledger:\nbefore %s\nafter  %s", c.name, before, after)
		}
		if n := e.count("accounts"); n != accounts && !c.accounts {
			t.Errorf("%s: refused before the database, yet %d accounts were created", c.name, n-accounts)
		}
	}
	e.requireCheck()
}
