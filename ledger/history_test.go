package ledger_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tallyhq/tally/ledger"
)

func TestBalanceAsOf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t1 := e.transfer(e.move("t1", prov, cust1, "100"))
	hold := e.move("t2", cust1, prov, "30")
	hold.Pending = true
	t2 := e.transfer(hold)
	t3, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "t3", Hold: t2.ID, Amount: d("20")})
	if err != nil {
		t.Fatal(err)
	}
	t4 := e.transfer(e.move("t4", cust1, cust2, "0.000001"))

	cases := []struct {
		at                         time.Time
		posted, pending, available string
	}{
		{t1.CreatedAt.Add(-time.Microsecond), "0", "0", "0"},
		{t1.CreatedAt, "100", "0", "100"},
		{t2.CreatedAt, "100", "-30", "70"},
		{t3.CreatedAt, "80", "0", "80"},
		{t4.CreatedAt, "79.999999", "0", "79.999999"},
		{time.Now().Add(time.Hour), "79.999999", "0", "79.999999"},
	}
	for i, c := range cases {
		b, err := e.l.BalanceAt(e.ctx, e.m, cust1, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Posted.Equal(d(c.posted)) || !b.Pending.Equal(d(c.pending)) || !b.Available.Equal(d(c.available)) {
			t.Errorf("case %d at %s: posted %s pending %s available %s, want %s %s %s",
				i, c.at.Format(time.RFC3339Nano), b.Posted, b.Pending, b.Available, c.posted, c.pending, c.available)
		}
	}
	// The latest as-of balance is the current balance.
	now, err := e.l.BalanceAt(e.ctx, e.m, prov, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cur := e.balance(prov)
	if !now.Posted.Equal(cur.Posted) || !now.Available.Equal(cur.Available) {
		t.Errorf("as of now %+v, current %+v", now, cur)
	}
	if _, err := e.l.BalanceAt(e.ctx, e.m, ledger.CustomerAccount("nobody", "USDT"), time.Now()); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
}

func TestEntriesPageByPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var reqs []ledger.TransferRequest
	for i := range 25 {
		reqs = append(reqs, e.move(fmt.Sprintf("dep-%02d", i), prov, cust1, fmt.Sprintf("%d.5", i+1)))
	}
	for _, r := range reqs {
		e.transfer(r)
	}
	var got []ledger.AccountEntry
	var after int64
	pages := 0
	for {
		p, err := e.l.Entries(e.ctx, e.m, cust1, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, p.Entries...)
		if p.Next == 0 {
			if len(p.Entries) != 5 {
				t.Fatalf("last page has %d entries, want 5", len(p.Entries))
			}
			break
		}
		if len(p.Entries) != 10 {
			t.Fatalf("page %d has %d entries", pages, len(p.Entries))
		}
		after = p.Next
	}
	if pages != 3 || len(got) != 25 {
		t.Fatalf("%d pages, %d entries", pages, len(got))
	}
	for i, en := range got {
		if en.TransferKey != reqs[i].Key || !en.Amount.Equal(reqs[i].Entries[1].Amount) || en.Side != ledger.Credit ||
			en.Phase != ledger.PhasePosted || en.Account != cust1 || en.Currency != "USDT" {
			t.Fatalf("entry %d: %+v", i, en)
		}
		if i > 0 && en.ID <= got[i-1].ID {
			t.Fatalf("entries out of order at %d", i)
		}
	}
	// A page exactly at the end says there is no next page.
	p, err := e.l.Entries(e.ctx, e.m, cust1, got[14].ID, 10)
	if err != nil || len(p.Entries) != 10 || p.Next != 0 {
		t.Fatalf("last full page: %d entries, next %d, %v", len(p.Entries), p.Next, err)
	}
	if _, err := e.l.Entries(e.ctx, e.m, "liabilities:customer:nobody:USDT", 0, 10); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}
