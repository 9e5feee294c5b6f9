package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tallyhq/tally/ledger"
)

// Every Tx form works on a pool whose only connection is the one holding the
// caller's transaction, with accounts the ledger has never seen (created inside
// the transaction); a refused hold leaves no account behind.
func TestTxFormsOnAOneConnectionPool(t *testing.T) {
	t.Parallel()
	e := newEnvPool(t, 1)
	l := ledger.New(e.pool) // an empty account cache: every account is new to it
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	n1, n2, n3, n4 := ledger.CustomerAccount("n1", "USDT"), ledger.CustomerAccount("n2", "USDT"),
		ledger.CustomerAccount("n3", "USDT"), ledger.CustomerAccount("n4", "USDT")

	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_, err = l.TransferTx(ctx, tx, e.move("dep", prov, n1, "50"))
	step("deposit to a new account", err)
	hold := e.move("hold", n1, prov, "20")
	hold.Pending = true
	h, err := l.TransferTx(ctx, tx, hold)
	step("hold", err)
	// Explicit entries on accounts created by this transaction (not cached).
	_, err = l.PostPendingTx(ctx, tx, ledger.Resolution{Merchant: e.m, Key: "post", Hold: h.ID, Entries: []ledger.Entry{
		{Account: n1, Side: ledger.Debit, Amount: d("5")},
		{Account: prov, Side: ledger.Credit, Amount: d("5")},
	}})
	step("partial post with entries", err)
	hold2 := e.move("hold2", n1, prov, "10")
	hold2.Pending = true
	h2, err := l.TransferTx(ctx, tx, hold2)
	step("second hold", err)
	_, err = l.VoidPendingTx(ctx, tx, ledger.Resolution{Merchant: e.m, Key: "void", Hold: h2.ID})
	step("void", err)
	_, err = l.TransferBatchTx(ctx, tx, []ledger.TransferRequest{e.move("b1", prov, n2, "3"), e.move("b2", n2, n3, "1")})
	step("batch with new accounts", err)
	refused := e.move("payout", n4, prov, "1")
	refused.Pending = true
	if _, err := l.TransferTx(ctx, tx, refused); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("hold on a new, empty account: %v, want ErrInsufficientFunds", err)
	}
	// The entries' accounts named in an explicit post must be in the hold: an
	// open hold, posted on an account it does not hold (one the call would have
	// to create), is refused and creates nothing.
	hold3 := e.move("hold3", n1, prov, "1")
	hold3.Pending = true
	h3, err := l.TransferTx(ctx, tx, hold3)
	step("third hold", err)
	if _, err := l.PostPendingTx(ctx, tx, ledger.Resolution{Merchant: e.m, Key: "post-x", Hold: h3.ID, Entries: []ledger.Entry{
		{Account: n4, Side: ledger.Debit, Amount: d("1")},
		{Account: prov, Side: ledger.Credit, Amount: d("1")},
	}}); !errors.Is(err, ledger.ErrPostExceedsHold) {
		t.Fatalf("post on an account of no hold: %v, want ErrPostExceedsHold", err)
	}
	_, err = l.VoidPendingTx(ctx, tx, ledger.Resolution{Merchant: e.m, Key: "void3", Hold: h3.ID})
	step("void the third hold", err)
	step("commit", tx.Commit(ctx))

	e.requireBalance(n1, "45", "0", "45")
	e.requireBalance(prov, "48", "0", "48")
	e.requireBalance(n2, "2", "0", "2")
	e.requireBalance(n3, "1", "0", "1")
	var n int
	if err := e.pool.QueryRow(e.ctx, "SELECT count(*) FROM accounts WHERE code = $1", n4).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused hold's new account: %d rows (%v), want none", n, err)
	}
	e.requireCheck()
}

// An account created inside a caller's transaction that rolls back is not
// remembered: the next transfer on that code creates it again, whichever form.
func TestTxFormRolledBackAccountIsNotCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	x, y := ledger.CustomerAccount("rb-x", "USDT"), ledger.CustomerAccount("rb-y", "USDT")
	tx := e.begin()
	e.txTransfer(e.l, tx, e.move(key("rb"), prov, x, "5"))
	e.txTransfer(e.l, tx, e.move(key("rb"), x, y, "2")) // x again: the transaction's own, uncommitted row
	if err := tx.Rollback(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.Transfer(e.ctx, e.move(key("after"), prov, x, "7")); err != nil {
		t.Fatalf("pool form after the rollback: %v", err)
	}
	tx2 := e.begin()
	e.txTransfer(e.l, tx2, e.move(key("after"), x, y, "3"))
	if err := tx2.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.requireBalance(x, "4", "0", "4")
	e.requireBalance(y, "3", "0", "3")
	e.requireCheck()
}
