package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/ledger"
)

func TestDepositWithFeeMovesExactAmounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A deposit of 100 USDT on which the provider keeps a 1.5 fee.
	tr := e.transfer(ledger.TransferRequest{
		Merchant: e.m, Key: "deposit-1", Reference: "order:1", Metadata: map[string]string{"provider_order": "P1"},
		Entries: []ledger.Entry{
			{Account: prov, Side: ledger.Debit, Amount: d("98.5")},
			{Account: fees, Side: ledger.Debit, Amount: d("1.5"), Currency: "USDT"},
			{Account: cust1, Side: ledger.Credit, Amount: d("100")},
		},
	})
	if tr.State != ledger.StatePosted || tr.Replayed || tr.ID == 0 {
		t.Fatalf("transfer = %+v", tr)
	}
	e.requireBalance(prov, "98.5", "0", "98.5")
	e.requireBalance(fees, "1.5", "0", "1.5")
	e.requireBalance(cust1, "100", "0", "100")

	got, err := e.l.GetTransfer(e.ctx, e.m, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != "deposit-1" || got.Reference != "order:1" || got.Metadata["provider_order"] != "P1" || len(got.Entries) != 3 {
		t.Fatalf("GetTransfer = %+v", got)
	}
	accts, err := e.l.Accounts(e.ctx, e.m)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 3 {
		t.Fatalf("accounts = %+v", accts)
	}
	for _, a := range accts {
		if a.Code == prov && (a.Slots != ledger.HotSlots || a.Type != ledger.Asset || !a.AllowNegative) {
			t.Errorf("provider account = %+v", a)
		}
		if a.Code == cust1 && (a.Slots != 1 || a.Type != ledger.Liability || a.AllowNegative || a.NormalSide != ledger.Credit) {
			t.Errorf("customer account = %+v", a)
		}
	}
	e.requireCheck()
}

func TestCrossCurrencyThroughFX(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cny := ledger.CustomerAccount("c1", "CNY")
	// Quoted 710.00 CNY, paid 100 USDT at 7.1: each currency balances on its own.
	e.transfer(ledger.TransferRequest{
		Merchant: e.m, Key: "fx-1", Metadata: map[string]string{"rate": "7.1"},
		Entries: []ledger.Entry{
			{Account: prov, Side: ledger.Debit, Amount: d("100")},
			{Account: ledger.FXAccount("USDT"), Side: ledger.Credit, Amount: d("100")},
			{Account: ledger.FXAccount("CNY"), Side: ledger.Debit, Amount: d("710.00")},
			{Account: cny, Side: ledger.Credit, Amount: d("710")},
		},
	})
	e.requireBalance(cny, "710", "0", "710")
	e.requireBalance(ledger.FXAccount("USDT"), "100", "0", "100")
	e.requireBalance(ledger.FXAccount("CNY"), "-710", "0", "-710")
	e.requireCheck()
}

func TestHoldLifecycle(t *testing.T) {
	t.Parallel()
	// A payout of 60 held on a customer with 100: debit the customer, credit the
	// provider clearing account (and, with a fee, debit fees).
	payout := func(e *env, k string, expires time.Time) ledger.TransferRequest {
		r := e.move(k, cust1, prov, "60")
		r.Pending = true
		r.ExpiresAt = expires
		return r
	}
	cases := []struct {
		name     string
		hold     func(e *env) ledger.TransferRequest
		resolve  func(e *env, hold ledger.Transfer) error
		state    ledger.TransferState
		customer [3]string // posted, pending, available after
		provider string    // posted after
	}{
		{
			name: "full post",
			hold: func(e *env) ledger.TransferRequest { return payout(e, "h", time.Time{}) },
			resolve: func(e *env, h ledger.Transfer) error {
				_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID})
				return err
			},
			state: ledger.StateCommitted, customer: [3]string{"40", "0", "40"}, provider: "-60",
		},
		{
			name: "partial post releases the rest",
			hold: func(e *env) ledger.TransferRequest { return payout(e, "h", time.Now().Add(time.Hour)) },
			resolve: func(e *env, h ledger.Transfer) error {
				_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", HoldKey: "h", Amount: d("25.000001")})
				return err
			},
			state: ledger.StateCommitted, customer: [3]string{"74.999999", "0", "74.999999"}, provider: "-25.000001",
		},
		{
			name: "explicit entries post part of a three-leg hold",
			hold: func(e *env) ledger.TransferRequest {
				return ledger.TransferRequest{Merchant: e.m, Key: "h", Pending: true, Entries: []ledger.Entry{
					{Account: cust1, Side: ledger.Debit, Amount: d("60")},
					{Account: fees, Side: ledger.Debit, Amount: d("1")},
					{Account: prov, Side: ledger.Credit, Amount: d("61")},
				}}
			},
			resolve: func(e *env, h ledger.Transfer) error {
				_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Entries: []ledger.Entry{
					{Account: cust1, Side: ledger.Debit, Amount: d("30")},
					{Account: fees, Side: ledger.Debit, Amount: d("1")},
					{Account: prov, Side: ledger.Credit, Amount: d("31")},
				}})
				return err
			},
			state: ledger.StateCommitted, customer: [3]string{"70", "0", "70"}, provider: "-31",
		},
		{
			name: "void",
			hold: func(e *env) ledger.TransferRequest { return payout(e, "h", time.Now().Add(time.Hour)) },
			resolve: func(e *env, h ledger.Transfer) error {
				_, err := e.l.VoidPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "v", Hold: h.ID})
				return err
			},
			state: ledger.StateVoided, customer: [3]string{"100", "0", "100"}, provider: "0",
		},
		{
			name: "expire",
			hold: func(e *env) ledger.TransferRequest { return payout(e, "h", time.Now().Add(-time.Second)) },
			resolve: func(e *env, h ledger.Transfer) error {
				n, err := e.l.ExpirePending(e.ctx, time.Now())
				if err == nil && n != 1 {
					t.Errorf("expired %d holds, want 1", n)
				}
				if n, _ := e.l.ExpirePending(e.ctx, time.Now()); n != 0 {
					t.Errorf("second expiry run expired %d, want 0", n)
				}
				return err
			},
			state: ledger.StateExpired, customer: [3]string{"100", "0", "100"}, provider: "0",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fund(cust1, "100")
			h := e.transfer(c.hold(e))
			if h.State != ledger.StatePending {
				t.Fatalf("hold state %s", h.State)
			}
			// Held: posted unchanged, available reduced.
			b := e.balance(cust1)
			if !b.Posted.Equal(d("100")) || !b.Available.Equal(d("40")) || !b.DebitsPending.Equal(d("60")) {
				t.Fatalf("while held: %+v", b)
			}
			e.requireCheck()
			if err := c.resolve(e, h); err != nil {
				t.Fatalf("resolve: %v", err)
			}
			got, err := e.l.GetTransfer(e.ctx, e.m, h.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != c.state {
				t.Errorf("hold state %s, want %s", got.State, c.state)
			}
			e.requireBalance(cust1, c.customer[0], c.customer[1], c.customer[2])
			e.requireBalance(prov, c.provider, "0", c.provider)
			e.requireCheck()
		})
	}
}

func TestHoldRefusals(t *testing.T) {
	t.Parallel()
	type step func(e *env, hold ledger.Transfer) error
	post := func(k string) step {
		return func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: k, Hold: h.ID})
			return err
		}
	}
	void := func(k string) step {
		return func(e *env, h ledger.Transfer) error {
			_, err := e.l.VoidPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: k, Hold: h.ID})
			return err
		}
	}
	expire := func(e *env, _ ledger.Transfer) error {
		_, err := e.l.ExpirePending(e.ctx, time.Now())
		return err
	}
	cases := []struct {
		name    string
		expires time.Duration // 0: no deadline
		before  []step
		refused step
		want    error
	}{
		{"second post", 0, []step{post("p1")}, post("p2"), ledger.ErrHoldNotPending},
		{"post after void", 0, []step{void("v1")}, post("p1"), ledger.ErrHoldNotPending},
		{"void after post", 0, []step{post("p1")}, void("v1"), ledger.ErrHoldNotPending},
		{"second void", 0, []step{void("v1")}, void("v2"), ledger.ErrHoldNotPending},
		{"post past the deadline", -time.Second, nil, post("p1"), ledger.ErrHoldExpired},
		{"void past the deadline", -time.Second, nil, void("v1"), ledger.ErrHoldExpired},
		{"post after expiry", -time.Second, []step{expire}, post("p1"), ledger.ErrHoldNotPending},
		{"void after expiry", -time.Second, []step{expire}, void("v1"), ledger.ErrHoldNotPending},
		{"partial post above the hold", 0, nil, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Amount: d("60.000001")})
			return err
		}, ledger.ErrPostExceedsHold},
		{"partial post with too many digits", 0, nil, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Amount: d("1.000000001")})
			return err
		}, ledger.ErrScale},
		{"partial post of a negative amount", 0, nil, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Amount: d("-1")})
			return err
		}, ledger.ErrNonPositive},
		{"explicit post on an account outside the hold", 0, []step{func(e *env, _ ledger.Transfer) error {
			e.fund(cust2, "1")
			return nil
		}}, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Entries: []ledger.Entry{
				{Account: cust2, Side: ledger.Debit, Amount: d("1")},
				{Account: prov, Side: ledger.Credit, Amount: d("1")},
			}})
			return err
		}, ledger.ErrPostExceedsHold},
		{"explicit post above the hold", 0, nil, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Entries: []ledger.Entry{
				{Account: cust1, Side: ledger.Debit, Amount: d("61")},
				{Account: prov, Side: ledger.Credit, Amount: d("61")},
			}})
			return err
		}, ledger.ErrPostExceedsHold},
		{"unknown hold", 0, nil, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID + 1000})
			return err
		}, ledger.ErrNotFound},
		{"hold of another merchant", 0, nil, func(e *env, h ledger.Transfer) error {
			other, err := ensureMerchant(e.ctx, e.pool, "m2", "Other")
			if err != nil {
				return err
			}
			_, err = e.l.VoidPending(e.ctx, ledger.Resolution{Merchant: other.ID, Key: "v", Hold: h.ID})
			return err
		}, ledger.ErrNotFound},
		{"post of a posted transfer", 0, nil, func(e *env, h ledger.Transfer) error {
			plain, err := e.l.GetTransferByKey(e.ctx, e.m, "plain")
			if err != nil {
				return err
			}
			_, err = e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: plain.ID})
			return err
		}, ledger.ErrHoldNotPending},
		{"resolution key reused for another hold", 0, []step{post("p1"), func(e *env, _ ledger.Transfer) error {
			r := e.move("h2", cust1, prov, "1")
			r.Pending = true
			_, err := e.l.Transfer(e.ctx, r)
			return err
		}}, func(e *env, h ledger.Transfer) error {
			_, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "p1", HoldKey: "h2"})
			return err
		}, ledger.ErrIdempotencyConflict},
		{"amount given to a void", 0, nil, func(e *env, h ledger.Transfer) error {
			_, err := e.l.VoidPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "v", Hold: h.ID, Amount: d("1")})
			return err
		}, ledger.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fund(cust1, "100")
			e.transfer(e.move("plain", cust1, cust2, "1"))
			r := e.move("hold", cust1, prov, "60")
			r.Pending = true
			if c.expires != 0 {
				r.ExpiresAt = time.Now().Add(c.expires)
			}
			h := e.transfer(r)
			for i, s := range c.before {
				if err := s(e, h); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			before := e.snapshot()
			err := c.refused(e, h)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("refusal changed balances:\nbefore %s\nafter  %s", before, after)
			}
			e.requireCheck()
		})
	}
}

func TestTxFormRefusalLeavesTransactionUsable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "10")

	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	if _, err := e.l.TransferTx(e.ctx, tx, e.move("too-much", cust1, cust2, "11")); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("overdraft in tx: %v", err)
	}
	hold := e.move("hold", cust1, prov, "4")
	hold.Pending = true
	h, err := e.l.TransferTx(e.ctx, tx, hold)
	if err != nil {
		t.Fatalf("hold after a refusal in the same tx: %v", err)
	}
	if _, err := e.l.PostPendingTx(e.ctx, tx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Amount: d("5")}); !errors.Is(err, ledger.ErrPostExceedsHold) {
		t.Fatalf("post above hold in tx: %v", err)
	}
	if _, err := e.l.PostPendingTx(e.ctx, tx, ledger.Resolution{Merchant: e.m, Key: "p", Hold: h.ID, Amount: d("3")}); err != nil {
		t.Fatalf("post in tx: %v", err)
	}
	if _, err := tx.Exec(e.ctx, "SELECT 1"); err != nil {
		t.Fatalf("tx unusable: %v", err)
	}
	// Not visible outside before commit.
	e.requireBalance(cust1, "10", "0", "10")
	if err := tx.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.requireBalance(cust1, "7", "0", "7")
	e.requireBalance(prov, "-3", "0", "-3")

	// A rolled-back transaction leaves nothing behind.
	tx2, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.TransferTx(e.ctx, tx2, e.move("rolled-back", cust1, cust2, "7")); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.requireBalance(cust1, "7", "0", "7")
	if _, err := e.l.GetTransferByKey(e.ctx, e.m, "rolled-back"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("rolled-back transfer: %v", err)
	}
	e.requireCheck()
}

func TestBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var reqs []ledger.TransferRequest
	for i := range 200 {
		reqs = append(reqs, e.move(key("dep"), prov, ledger.CustomerAccount(string(rune('a'+i%26)), "USDT"), "1.5"))
	}
	out, err := e.l.TransferBatch(e.ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 200 {
		t.Fatalf("%d results", len(out))
	}
	e.requireBalance(prov, "300", "0", "300")
	e.requireBalance(ledger.CustomerAccount("a", "USDT"), "12", "0", "12") // 8 deposits of 1.5

	// Replays inside a new batch, and one key twice in it.
	fresh := e.move("fresh", ledger.CustomerAccount("a", "USDT"), ledger.CustomerAccount("b", "USDT"), "2")
	out2, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{reqs[0], fresh, fresh, reqs[1]})
	if err != nil {
		t.Fatal(err)
	}
	if !out2[0].Replayed || out2[0].ID != out[0].ID || out2[1].Replayed || !out2[2].Replayed || out2[2].ID != out2[1].ID || !out2[3].Replayed {
		t.Fatalf("replays: %+v", out2)
	}
	e.requireBalance(ledger.CustomerAccount("a", "USDT"), "10", "0", "10")

	// All or nothing: one overdraft or one conflict refuses the whole batch.
	before := e.snapshot()
	bad := []ledger.TransferRequest{
		e.move(key("ok"), prov, cust1, "1"),
		e.move(key("over"), ledger.CustomerAccount("b", "USDT"), cust1, "100"),
	}
	if _, err := e.l.TransferBatch(e.ctx, bad); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("overdraft batch: %v", err)
	}
	conflict := e.move(reqs[5].Key, prov, cust1, "9")
	if _, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{e.move(key("ok"), prov, cust1, "1"), conflict}); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("conflict batch: %v", err)
	}
	dup := e.move("dup", prov, cust1, "1")
	dup2 := e.move("dup", prov, cust1, "2")
	if _, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{dup, dup2}); !errors.Is(err, ledger.ErrIdempotencyConflict) {
		t.Fatalf("duplicate key in batch: %v", err)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("refused batches changed balances:\nbefore %s\nafter  %s", before, after)
	}

	// In a caller's transaction.
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.TransferBatchTx(e.ctx, tx, bad); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("overdraft batch in tx: %v", err)
	}
	if _, err := e.l.TransferBatchTx(e.ctx, tx, bad[:1]); err != nil {
		t.Fatalf("batch in tx after refusal: %v", err)
	}
	if err := tx.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.requireBalance(cust1, "1", "0", "1")
	e.requireCheck()
}

// A batch checks every account that may not go negative after each transfer,
// in batch order: a transfer that would overdraw refuses the whole batch even
// when a later transfer of the batch would cover it.
func TestBatchRefusesAnOverdraftALaterTransferWouldCover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "10")
	before := e.snapshot()
	overdraw := e.move(key("overdraw"), cust1, cust2, "15")
	cover := e.move(key("cover"), prov, cust1, "10")
	_, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{overdraw, cover})
	if !errors.Is(err, ledger.ErrInsufficientFunds) || !strings.Contains(err.Error(), cust1) {
		t.Fatalf("overdraft covered later in the batch: %v, want ErrInsufficientFunds naming %s", err, cust1)
	}
	hold := e.move(key("hold"), cust1, prov, "8")
	hold.Pending = true
	if _, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{hold, e.move(key("debit"), cust1, cust2, "5"), e.move(key("cover2"), prov, cust1, "3")}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("a debit after a hold in one batch, covered later: %v, want ErrInsufficientFunds", err)
	}
	tx := e.begin()
	if _, err := e.l.TransferBatchTx(e.ctx, tx, []ledger.TransferRequest{overdraw, cover}); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("in a caller's transaction: %v, want ErrInsufficientFunds", err)
	}
	if err := tx.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused batches changed the ledger:\nbefore %s\nafter  %s", before, after)
	}

	// The cover first: every prefix is covered, and the batch posts.
	if _, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{cover, overdraw}); err != nil {
		t.Fatalf("cover, then the debit: %v", err)
	}
	e.requireBalance(cust1, "5", "0", "5")
	e.requireBalance(cust2, "15", "0", "15")
	// Down to exactly zero on the way is allowed.
	if _, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{e.move(key("zero"), cust1, cust2, "5"), e.move(key("back"), cust2, cust1, "1")}); err != nil {
		t.Fatalf("to zero and back: %v", err)
	}
	e.requireBalance(cust1, "1", "0", "1")
	e.requireCheck()
}
