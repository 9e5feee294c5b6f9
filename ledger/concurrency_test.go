package ledger_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
)

// parallel runs n calls of fn from workers goroutines and returns their errors.
func parallel(workers, n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				errs[i] = fn(i)
			}
		}()
	}
	wg.Wait()
	return errs
}

func TestOpposingTransfersEndAtZero(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		a, b       string
		fund       string // credited to both first (customer accounts)
		amount     string
		wantA      string // posted at the end
		wantB      string
		slotsTouch bool
	}{
		// Two hot (slotted) clearing accounts that may go negative: end at zero.
		{name: "hot accounts", a: ledger.ProviderAccount("p1", "USDT"), b: ledger.ProviderAccount("p2", "USDT"), amount: "1.000001", wantA: "0", wantB: "0"},
		// Two customer accounts that may not: end where they started.
		{name: "customer accounts", a: cust1, b: cust2, fund: "600", amount: "1.01", wantA: "600", wantB: "600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if c.fund != "" {
				e.fund(c.a, c.fund)
				e.fund(c.b, c.fund)
			}
			errs := parallel(16, 1000, func(i int) error {
				from, to := c.a, c.b
				if i%2 == 1 {
					from, to = to, from
				}
				_, err := e.l.Transfer(e.ctx, e.move(fmt.Sprintf("opp-%d", i), from, to, c.amount))
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("transfer %d: %v", i, err)
				}
			}
			e.requireBalance(c.a, c.wantA, "0", c.wantA)
			e.requireBalance(c.b, c.wantB, "0", c.wantB)
			want := 1000 // every opposing transfer once, plus the funding transfers
			if c.fund != "" {
				want += 2
			}
			if n := e.count("transfers"); n != want {
				t.Fatalf("%d transfers, want %d", n, want)
			}
			e.requireCheck()
		})
	}
}

// Holds, direct debits, posts and voids racing on one account that may not go
// negative never overdraw it, and every success is accounted for exactly.
func TestRacingHoldsAndDebitsNeverOverdraw(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "100")

	// Phase 1: 40 holds or debits of 10 on 100: exactly 10 succeed.
	var mu sync.Mutex
	var holds []ledger.Transfer
	debits := 0
	errs := parallel(12, 40, func(i int) error {
		r := e.move(fmt.Sprintf("p1-%d", i), cust1, prov, "10")
		r.Pending = i%2 == 0
		tr, err := e.l.Transfer(e.ctx, r)
		if err == nil {
			mu.Lock()
			if r.Pending {
				holds = append(holds, tr)
			} else {
				debits++
			}
			mu.Unlock()
		}
		return err
	})
	refused := 0
	for _, err := range errs {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if len(holds)+debits != 10 || refused != 30 {
		t.Fatalf("%d holds + %d debits succeeded, %d refused; want 10 and 30", len(holds), debits, refused)
	}
	e.requireBalance(cust1, decimal.NewFromInt(int64(100-10*debits)).String(), decimal.NewFromInt(int64(-10*len(holds))).String(), "0")

	// Phase 2: post or void every hold while more debits of 10 race for what the
	// voids free.
	var posted, voided, debited atomic.Int64
	errs = parallel(12, 2*len(holds), func(i int) error {
		if i < len(holds) {
			h := holds[i]
			var err error
			if i%2 == 0 {
				_, err = e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: fmt.Sprintf("post-%d", h.ID), Hold: h.ID})
				if err == nil {
					posted.Add(1)
				}
			} else {
				_, err = e.l.VoidPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: fmt.Sprintf("void-%d", h.ID), Hold: h.ID})
				if err == nil {
					voided.Add(1)
				}
			}
			return err
		}
		_, err := e.l.Transfer(e.ctx, e.move(fmt.Sprintf("p2-%d", i), cust1, cust2, "10"))
		if err == nil {
			debited.Add(1)
		}
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return nil
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if posted.Load()+voided.Load() != int64(len(holds)) || debited.Load() > voided.Load() {
		t.Fatalf("posted %d voided %d of %d holds; %d debits", posted.Load(), voided.Load(), len(holds), debited.Load())
	}
	spent := int64(debits) + posted.Load() + debited.Load()
	b := e.balance(cust1)
	if b.Available.Sign() < 0 || !b.Posted.Equal(decimal.NewFromInt(100-10*spent)) || !b.DebitsPending.IsZero() {
		t.Fatalf("after the race: %+v (spent %d x 10)", b, spent)
	}
	e.requireCheck()
}

// Of a post and a void (and a second post) racing on one hold, exactly one wins;
// the others get ErrHoldNotPending.
func TestRacingResolutionsOfOneHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "1000")
	const holds = 20
	var ids []int64
	for i := range holds {
		r := e.move(fmt.Sprintf("h-%d", i), cust1, prov, "7")
		r.Pending = true
		ids = append(ids, e.transfer(r).ID)
	}
	wins := make([]atomic.Int64, holds)
	var postWins atomic.Int64
	errs := parallel(12, 3*holds, func(i int) error {
		h := ids[i/3]
		r := ledger.Resolution{Merchant: e.m, Key: fmt.Sprintf("r-%d-%d", h, i%3), Hold: h}
		var err error
		if i%3 == 1 {
			_, err = e.l.VoidPending(e.ctx, r)
		} else {
			_, err = e.l.PostPending(e.ctx, r)
			if err == nil {
				postWins.Add(1)
			}
		}
		if err == nil {
			wins[i/3].Add(1)
			return nil
		}
		if errors.Is(err, ledger.ErrHoldNotPending) {
			return nil
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("hold %d: %d resolutions won", ids[i], n)
		}
	}
	p := postWins.Load()
	e.requireBalance(cust1, decimal.NewFromInt(1000-7*p).String(), "0", decimal.NewFromInt(1000-7*p).String())
	e.requireCheck()
}
