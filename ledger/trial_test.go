package ledger_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tallyhq/tally/ledger"
)

// trialFixture books three phases for merchant m1 (before, in and after a
// period) and a transfer of another merchant, and returns the period. The
// period is bounded by the transfers' own times (a transfer's time is its
// transaction's start), so it holds exactly phase B.
type trialFixture struct {
	e          *env
	from, to   time.Time
	beforeTime time.Time // time of phase A's last transfer
	phaseB     []ledger.Transfer
}

var (
	p1BRL   = ledger.ProviderAccount("p1", "BRL")
	p2USD   = ledger.ProviderAccount("p2", "USD")
	openBRL = ledger.OpeningAccount("BRL")
	openUSD = ledger.OpeningAccount("USD")
	feesBRL = ledger.FeesAccount("p1", "BRL")
	c1BRL   = ledger.CustomerAccount("c1", "BRL")
)

func newTrialFixture(t *testing.T) trialFixture {
	t.Helper()
	e := newEnv(t)
	f := trialFixture{e: e}
	// Phase A, before the period: funding and a deposit.
	e.transfer(e.move(key("a-fund"), p1BRL, openBRL, "1000.00"))
	a := e.transfer(e.move(key("a-dep"), p1BRL, c1BRL, "250.50"))
	f.beforeTime = a.CreatedAt

	// Another merchant's transfer, in the period: never in m1's figures.
	m2, err := ensureMerchant(e.ctx, e.pool, "m2", "Merchant Two")
	if err != nil {
		t.Fatal(err)
	}
	other := e.move(key("other"), p1BRL, openBRL, "999.99")
	other.Merchant = m2.ID

	// Phase B, the period: a fee, a payout, a USD funding, a hold (not books)
	// and m2's transfer.
	fee := e.move(key("b-fee"), feesBRL, p1BRL, "2.50")
	fee.Reference = "order:7"
	b1 := e.transfer(fee)
	payout := e.move(key("b-pay"), c1BRL, p1BRL, "100.00")
	payout.Reference = "order:8"
	b2 := e.transfer(payout)
	e.transfer(other)
	b3 := e.transfer(e.move(key("b-usd"), p2USD, openUSD, "40"))
	hold := e.move(key("b-hold"), c1BRL, p1BRL, "10.00")
	hold.Pending = true
	b4 := e.transfer(hold)
	f.phaseB = []ledger.Transfer{b1, b2, b3}
	if !a.CreatedAt.Before(b1.CreatedAt) {
		t.Fatalf("phase A at %s is not before phase B at %s", a.CreatedAt, b1.CreatedAt)
	}
	f.from = b1.CreatedAt
	f.to = b4.CreatedAt.Add(time.Microsecond)

	// Phase C, after the period.
	c := e.transfer(e.move(key("c-dep"), p1BRL, c1BRL, "7.00"))
	if !c.CreatedAt.After(b4.CreatedAt) {
		t.Fatalf("phase C at %s is not after phase B at %s", c.CreatedAt, b4.CreatedAt)
	}
	return f
}

func TestTrialBalance(t *testing.T) {
	f := newTrialFixture(t)
	tb, err := f.e.l.TrialBalance(f.e.ctx, f.e.m, f.from, f.to)
	if err != nil {
		t.Fatal(err)
	}
	// account: opening Dr, opening Cr, debits, credits, closing Dr, closing Cr
	want := []string{
		"assets:provider:p1:BRL BRL 1250.5 0 0 102.5 1148 0",
		"equity:opening:BRL BRL 0 1000 0 0 0 1000",
		"expenses:fees:p1:BRL BRL 0 0 2.5 0 2.5 0",
		"liabilities:customer:c1:BRL BRL 0 250.5 100 0 0 150.5",
		"assets:provider:p2:USD USD 0 0 40 0 40 0",
		"equity:opening:USD USD 0 0 0 40 0 40",
	}
	var got []string
	for _, r := range tb.Rows {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %s %s %s", r.Account, r.Currency, r.OpeningDebit, r.OpeningCredit,
			r.Debits, r.Credits, r.ClosingDebit, r.ClosingCredit))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows:\n%q\nwant\n%q", got, want)
	}
	wantTotals := []string{
		"BRL 4 1250.5 1250.5 102.5 102.5 1150.5 1150.5 true",
		"USD 2 0 0 40 40 40 40 true",
	}
	var totals []string
	for _, x := range tb.Totals {
		totals = append(totals, fmt.Sprintf("%s %d %s %s %s %s %s %s %t", x.Currency, x.Accounts, x.OpeningDebit, x.OpeningCredit,
			x.Debits, x.Credits, x.ClosingDebit, x.ClosingCredit, x.Balanced()))
	}
	if fmt.Sprint(totals) != fmt.Sprint(wantTotals) {
		t.Fatalf("totals:\n%q\nwant\n%q", totals, wantTotals)
	}
	if !tb.Balanced() {
		t.Fatal("trial balance does not balance")
	}

	// A period after everything: closing is today's posted balances, nothing moved.
	late, err := f.e.l.TrialBalance(f.e.ctx, f.e.m, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range late.Rows {
		if !r.Debits.IsZero() || !r.Credits.IsZero() || !r.OpeningDebit.Equal(r.ClosingDebit) || !r.OpeningCredit.Equal(r.ClosingCredit) {
			t.Errorf("late period: %+v moved", r)
		}
		if r.Account == c1BRL && !r.ClosingCredit.Equal(d("157.50")) {
			t.Errorf("late period: %s closing credit %s, want 157.50", c1BRL, r.ClosingCredit)
		}
	}

	if _, err := f.e.l.TrialBalance(f.e.ctx, f.e.m, f.to, f.from); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("reversed period: %v, want ErrInvalid", err)
	}
}

func TestJournal(t *testing.T) {
	f := newTrialFixture(t)
	var got []string
	debits, credits := map[string]string{}, map[string]string{}
	err := f.e.l.Journal(f.e.ctx, f.e.m, f.from, f.to, func(l ledger.JournalLine) error {
		got = append(got, fmt.Sprintf("%d %s %s %s %s %s %s", l.TransferID, l.Reference, l.Account, l.Debit(), l.Credit(), l.Currency,
			l.At.Format(time.RFC3339Nano)))
		debits[l.Currency] = d(orZero(debits[l.Currency])).Add(l.Debit()).String()
		credits[l.Currency] = d(orZero(credits[l.Currency])).Add(l.Credit()).String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b1, b2, b3 := f.phaseB[0], f.phaseB[1], f.phaseB[2]
	at := func(tr ledger.Transfer) string { return tr.CreatedAt.Format(time.RFC3339Nano) }
	want := []string{
		fmt.Sprintf("%d order:7 %s 2.5 0 BRL %s", b1.ID, feesBRL, at(b1)),
		fmt.Sprintf("%d order:7 %s 0 2.5 BRL %s", b1.ID, p1BRL, at(b1)),
		fmt.Sprintf("%d order:8 %s 100 0 BRL %s", b2.ID, c1BRL, at(b2)),
		fmt.Sprintf("%d order:8 %s 0 100 BRL %s", b2.ID, p1BRL, at(b2)),
		fmt.Sprintf("%d  %s 40 0 USD %s", b3.ID, p2USD, at(b3)),
		fmt.Sprintf("%d  %s 0 40 USD %s", b3.ID, openUSD, at(b3)),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("journal:\n%q\nwant\n%q", got, want)
	}
	if fmt.Sprint(debits) != "map[BRL:102.5 USD:40]" || fmt.Sprint(credits) != fmt.Sprint(debits) {
		t.Fatalf("journal debits %v credits %v, want 102.5 BRL and 40 USD each", debits, credits)
	}

	// An error from the callback stops the export and comes back.
	stop := errors.New("stop")
	n := 0
	err = f.e.l.Journal(f.e.ctx, f.e.m, f.from, f.to, func(ledger.JournalLine) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("stopped journal: %v after %d lines", err, n)
	}
	// An empty period.
	err = f.e.l.Journal(f.e.ctx, f.e.m, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), func(ledger.JournalLine) error {
		t.Fatal("a line in an empty period")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestJournalPages: an export longer than one page of the journal's reads
// holds every entry once, in order.
func TestJournalPages(t *testing.T) {
	e := newEnv(t)
	const n = 1100 // 2,200 entries: two pages
	reqs := make([]ledger.TransferRequest, n)
	for i := range reqs {
		reqs[i] = e.move(key("many"), p1BRL, openBRL, "1.01")
	}
	trs, err := e.l.TransferBatch(e.ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	var count int
	var last int64
	total := d("0")
	err = e.l.Journal(e.ctx, e.m, trs[0].CreatedAt, time.Now().Add(time.Minute), func(l ledger.JournalLine) error {
		if l.EntryID <= last {
			t.Fatalf("entry %d after %d", l.EntryID, last)
		}
		last = l.EntryID
		count++
		total = total.Add(l.Debit())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != 2*n || !total.Equal(d("1111")) {
		t.Fatalf("journal: %d lines debiting %s, want %d lines debiting 1111", count, total, 2*n)
	}
}

func TestBalancesPage(t *testing.T) {
	f := newTrialFixture(t)
	e := f.e
	// Now, two per page: codes in order, the hold in pending.
	var codes []string
	after := ""
	for {
		p, err := e.l.BalancesPage(e.ctx, e.m, time.Time{}, "", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Balances {
			codes = append(codes, b.Account+"="+b.Posted.String()+"/"+b.Available.String())
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	want := "[assets:provider:p1:BRL=1155/1145 assets:provider:p2:USD=40/40 equity:opening:BRL=1000/1000 equity:opening:USD=40/40 expenses:fees:p1:BRL=2.5/2.5 liabilities:customer:c1:BRL=157.5/147.5]"
	if fmt.Sprint(codes) != want {
		t.Fatalf("balances now:\n%v\nwant\n%v", codes, want)
	}
	// At the end of phase A, by prefix.
	p, err := e.l.BalancesPage(e.ctx, e.m, f.beforeTime, "assets:", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	codes = codes[:0]
	for _, b := range p.Balances {
		codes = append(codes, b.Account+"="+b.Posted.String())
	}
	if fmt.Sprint(codes) != "[assets:provider:p1:BRL=1250.5 assets:provider:p2:USD=0]" || p.Next != "" {
		t.Fatalf("balances at %s: %v next %q", f.beforeTime, codes, p.Next)
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
