package ledger_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/tallyhq/tally/ledger"
)

func TestTwentyGoroutinesOneKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := e.move("same-key", prov, cust1, "12.345678")
	results := make([]ledger.Transfer, 20)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.l.Transfer(e.ctx, req)
		}()
	}
	close(start)
	wg.Wait()
	first := 0
	for i := range 20 {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if results[i].ID != results[0].ID {
			t.Fatalf("goroutine %d got transfer %d, goroutine 0 got %d", i, results[i].ID, results[0].ID)
		}
		if !results[i].Replayed {
			first++
		}
	}
	if first != 1 {
		t.Fatalf("%d calls created the transfer, want 1", first)
	}
	if n := e.count("transfers"); n != 1 {
		t.Fatalf("%d transfers, want 1", n)
	}
	e.requireBalance(cust1, "12.345678", "0", "12.345678")
	e.requireCheck()
}

func TestIdempotentContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.transfer(ledger.TransferRequest{Merchant: e.m, Key: "k", Reference: "r", Metadata: map[string]string{"a": "1", "b": "2"},
		Entries: []ledger.Entry{
			{Account: prov, Side: ledger.Debit, Amount: d("10.50")},
			{Account: cust1, Side: ledger.Credit, Amount: d("10.5")},
		}})
	// The same content, written differently: entries in another order, amounts
	// with other trailing zeros, the currency spelt out.
	again, err := e.l.Transfer(e.ctx, ledger.TransferRequest{Merchant: e.m, Key: "k", Reference: "r", Metadata: map[string]string{"b": "2", "a": "1"},
		Entries: []ledger.Entry{
			{Account: cust1, Side: ledger.Credit, Amount: d("10.500000"), Currency: "USDT"},
			{Account: prov, Side: ledger.Debit, Amount: d("10.5")},
		}})
	if err != nil || !again.Replayed || again.ID != first.ID {
		t.Fatalf("replay: %+v %v", again, err)
	}
	for name, req := range map[string]ledger.TransferRequest{
		"other amount":    e.move("k", prov, cust1, "10.51"),
		"other account":   e.move("k", prov, cust2, "10.5"),
		"other reference": {Merchant: e.m, Key: "k", Reference: "other", Metadata: first.Metadata, Entries: e.move("", prov, cust1, "10.5").Entries},
		"other metadata":  {Merchant: e.m, Key: "k", Reference: "r", Metadata: map[string]string{"a": "1"}, Entries: e.move("", prov, cust1, "10.5").Entries},
	} {
		if _, err := e.l.Transfer(e.ctx, req); !errors.Is(err, ledger.ErrIdempotencyConflict) {
			t.Errorf("%s: err = %v, want ErrIdempotencyConflict", name, err)
		}
	}
	// Keys are per merchant: another merchant may use the same key.
	other, err := ensureMerchant(e.ctx, e.pool, "m2", "Other")
	if err != nil {
		t.Fatal(err)
	}
	req := e.move("k", prov, cust1, "1")
	req.Merchant = other.ID
	if tr, err := e.l.Transfer(e.ctx, req); err != nil || tr.Replayed {
		t.Fatalf("same key, other merchant: %+v %v", tr, err)
	}
	e.requireBalance(cust1, "10.5", "0", "10.5")
	e.requireCheck()
}

func TestIdempotentResolution(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "50")
	r := e.move("hold", cust1, prov, "20")
	r.Pending = true
	h := e.transfer(r)
	res := ledger.Resolution{Merchant: e.m, Key: "post", Hold: h.ID, Amount: d("15")}
	// Twenty goroutines posting the hold under one key: one post.
	var wg sync.WaitGroup
	out := make([]ledger.Transfer, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = e.l.PostPending(e.ctx, res)
		}()
	}
	wg.Wait()
	created := 0
	for i := range 20 {
		if errs[i] != nil || out[i].ID != out[0].ID || out[i].PendingID != h.ID {
			t.Fatalf("call %d: %+v %v", i, out[i], errs[i])
		}
		if !out[i].Replayed {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d posts created", created)
	}
	// Naming the hold by key instead of id is the same request.
	byKey := res
	byKey.Hold, byKey.HoldKey = 0, "hold"
	if again, err := e.l.PostPending(e.ctx, byKey); err != nil || !again.Replayed || again.ID != out[0].ID {
		t.Fatalf("replay by hold key: %+v %v", again, err)
	}
	res.Amount = d("16")
	if _, err := e.l.PostPending(e.ctx, res); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("other amount under the key: %v", err)
	}
	e.requireBalance(cust1, "35", "0", "35")
	e.requireCheck()
}

// Twenty goroutines, each in its own caller transaction, post one key through
// TransferTx at once, on accounts that do not exist yet. The first insert of the
// key wins; the others wait for its transaction (the key's unique index) and,
// once it commits, get the first transfer back (Replayed) when their content is
// the same, ErrIdempotencyConflict when it differs. Every transaction commits;
// exactly one transfer exists.
func TestTwentyTransactionsOneKeyTx(t *testing.T) {
	t.Parallel()
	for _, mixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "same content", true: "half other content"}[mixed], func(t *testing.T) {
			t.Parallel()
			e := newEnvPool(t, 24)
			reqs := make([]ledger.TransferRequest, 20)
			for i := range reqs {
				amount := "12.345678"
				if mixed && i%2 == 1 {
					amount = "99"
				}
				reqs[i] = e.move("same-key-tx", prov, cust1, amount)
			}
			results := make([]ledger.Transfer, 20)
			errs := make([]error, 20)
			var ready, done sync.WaitGroup
			start := make(chan struct{})
			for i := range 20 {
				ready.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					tx, err := e.pool.Begin(e.ctx)
					ready.Done()
					if err != nil {
						errs[i] = err
						return
					}
					defer tx.Rollback(e.ctx)
					<-start
					results[i], errs[i] = e.l.TransferTx(e.ctx, tx, reqs[i])
					if cerr := tx.Commit(e.ctx); cerr != nil && errs[i] == nil {
						errs[i] = cerr
					}
				}()
			}
			ready.Wait()
			close(start)
			done.Wait()

			winner := -1
			for i := range 20 {
				if errs[i] == nil && !results[i].Replayed {
					if winner >= 0 {
						t.Fatalf("goroutines %d and %d both created the transfer", winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatalf("no goroutine created the transfer: %v", errs)
			}
			replays, conflicts := 0, 0
			for i := range 20 {
				if i == winner {
					continue
				}
				sameContent := reqs[i].Entries[0].Amount.Equal(reqs[winner].Entries[0].Amount)
				switch {
				case sameContent && errs[i] == nil && results[i].Replayed && results[i].ID == results[winner].ID:
					replays++
				case !sameContent && errors.Is(errs[i], ledger.ErrIdempotencyConflict):
					conflicts++
				default:
					t.Fatalf("goroutine %d (same content as the winner: %v): %+v %v", i, sameContent, results[i], errs[i])
				}
			}
			wantConflicts := 0
			if mixed {
				wantConflicts = 10
			}
			if replays != 19-wantConflicts || conflicts != wantConflicts {
				t.Fatalf("%d replays, %d conflicts; want %d and %d", replays, conflicts, 19-wantConflicts, wantConflicts)
			}
			if n := e.count("transfers"); n != 1 {
				t.Fatalf("%d transfers, want 1", n)
			}
			amount := reqs[winner].Entries[0].Amount.String()
			e.requireBalance(cust1, amount, "0", amount)
			e.requireCheck()
		})
	}
}
