package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/ledger"
)

// logBuffer collects a ledger's log lines for tests that count retries.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the logged lines that contain s.
func (b *logBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// loggedLedger is a second ledger on e's database whose debug log is kept.
func (e *env) loggedLedger(opts ...ledger.Option) (*ledger.Ledger, *logBuffer) {
	lb := &logBuffer{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return ledger.New(e.pool, append([]ledger.Option{ledger.WithLogger(log)}, opts...)...), lb
}

// waitForLockWaiters waits until n sessions of the test database wait for a lock.
func (e *env) waitForLockWaiters(n int) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var c int
		err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&c)
		if err != nil {
			e.t.Fatal(err)
		}
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d sessions wait for a lock, want %d", c, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) begin() pgx.Tx {
	e.t.Helper()
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func (e *env) txTransfer(l *ledger.Ledger, tx pgx.Tx, req ledger.TransferRequest) {
	e.t.Helper()
	if _, err := l.TransferTx(e.ctx, tx, req); err != nil {
		e.t.Fatalf("transfer %s in tx: %v", req.Key, err)
	}
}

// A deadlock whose victim took its part of the cycle in the ledger call that
// failed is resolved inside the ledger: the call's subtransaction is rolled
// back (releasing what it locked), retried, and both caller transactions
// commit without retrying anything themselves.
//
// T1 locks Y (call 1); T2's call 2 locks X and waits for Y; T1's call 2 waits
// for X: a cycle. T2 waited first, so its deadlock check fires first and its
// call is the victim.
func TestTxFormRetriesDeadlockInsideTheLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l, logs := e.loggedLedger()
	x, y := ledger.CustomerAccount("dx", "USDT"), ledger.CustomerAccount("dy", "USDT")
	w1, w2 := ledger.CustomerAccount("dw1", "USDT"), ledger.CustomerAccount("dw2", "USDT")
	u, v := ledger.CustomerAccount("du", "USDT"), ledger.CustomerAccount("dv", "USDT")
	for _, c := range []string{x, y, w1, w2, u, v} { // ids ascending: X locks before Y
		if _, err := l.EnsureAccount(e.ctx, e.m, c); err != nil {
			t.Fatal(err)
		}
	}
	e.fund(x, "10")
	e.fund(y, "10")
	e.fund(u, "10")

	tx1, tx2 := e.begin(), e.begin()
	e.txTransfer(l, tx1, e.move("t1-a", y, w1, "1")) // T1 holds Y
	e.txTransfer(l, tx2, e.move("t2-a", u, v, "1"))  // T2: an unrelated first call
	t2 := make(chan error, 1)
	go func() {
		_, err := l.TransferTx(e.ctx, tx2, e.move("t2-b", x, y, "2")) // locks X, waits for Y
		if err == nil {
			err = tx2.Commit(e.ctx)
		}
		t2 <- err
	}()
	e.waitForLockWaiters(1)
	// Waits for X: a deadlock. T2 waited first, so its deadlock check fires
	// first and its call is the victim, retried inside the ledger. On a
	// loaded server T1's check may fire first instead: its call cannot undo
	// the cycle (T1's first call holds Y), so it is ErrConflict, and T1 does
	// what a caller does with it: roll back and run again.
	if _, err := l.TransferTx(e.ctx, tx1, e.move("t1-b", x, w2, "3")); errors.Is(err, ledger.ErrConflict) {
		if err := tx1.Rollback(e.ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-t2; err != nil {
			t.Fatalf("T2: %v", err)
		}
		tx1 = e.begin()
		e.txTransfer(l, tx1, e.move("t1-a", y, w1, "1"))
		e.txTransfer(l, tx1, e.move("t1-b", x, w2, "3"))
		t2 <- nil
	} else if err != nil {
		t.Fatalf("transfer t1-b in tx: %v", err)
	}
	if err := tx1.Commit(e.ctx); err != nil {
		t.Fatalf("commit T1: %v", err)
	}
	if err := <-t2; err != nil {
		t.Fatalf("T2: %v", err)
	}
	e.requireBalance(x, "5", "0", "5")
	e.requireBalance(y, "11", "0", "11")
	e.requireBalance(w1, "1", "0", "1")
	e.requireBalance(w2, "3", "0", "3")
	e.requireBalance(v, "1", "0", "1")
	// Which call PostgreSQL makes the victim, and whether a retry meets the
	// other transaction again under load, is the server's choice: at least
	// one deadlock was retried inside the ledger, and both committed.
	if got := logs.lines("40P01"); len(got) < 1 {
		t.Errorf("want a retried deadlock in the log, got %q", got)
	}
	e.requireCheck()
}

// Two calls per caller transaction through the same hot accounts (a
// settlement, then a fee, as orders posts them) never deadlock: every call of
// one transaction moves the same balance row of a hot account, so the second
// call waits for nothing its own transaction does not already hold.
func TestTxFormHotAccountsTwoCallsNoDeadlock(t *testing.T) {
	t.Parallel()
	e := newEnvPool(t, 32)
	l, logs := e.loggedLedger()
	const workers, perWorker = 24, 25
	for i := range workers {
		if _, err := l.EnsureAccount(e.ctx, e.m, ledger.CustomerAccount(fmt.Sprintf("hot%d", i), "USDT")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{prov, fees} {
		if _, err := l.EnsureAccount(e.ctx, e.m, c); err != nil {
			t.Fatal(err)
		}
	}
	errs := parallel(workers, workers*perWorker, func(i int) error {
		tx, err := e.pool.Begin(e.ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(e.ctx)
		c := ledger.CustomerAccount(fmt.Sprintf("hot%d", i%workers), "USDT")
		if _, err := l.TransferTx(e.ctx, tx, e.move(fmt.Sprintf("settle-%d", i), prov, c, "10")); err != nil {
			return fmt.Errorf("settle %d: %w", i, err)
		}
		if _, err := l.TransferTx(e.ctx, tx, e.move(fmt.Sprintf("fee-%d", i), fees, prov, "0.5")); err != nil {
			return fmt.Errorf("fee %d: %w", i, err)
		}
		return tx.Commit(e.ctx)
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	e.requireBalance(prov, "5700", "0", "5700") // 600 x (10 - 0.5)
	e.requireBalance(fees, "300", "0", "300")
	e.requireBalance(ledger.CustomerAccount("hot0", "USDT"), "250", "0", "250")
	if got := logs.lines("retr"); len(got) != 0 {
		t.Errorf("want no retries, got %d: %q", len(got), got[0])
	}
	e.requireCheck()
}

// Two caller transactions that each make two ledger calls in opposite account
// order deadlock on locks their first calls took. Rolling back the failed
// call's own work releases none of them, so the ledger's retries cannot break
// the cycle: after its attempts the victim gets ErrConflict, its transaction
// still usable, and only rolling that transaction back and running it again
// (what a River job's retry does) lets both commit.
func TestTxFormOppositeOrderDeadlockNeedsCallerRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l, logs := e.loggedLedger(ledger.WithTxAttempts(2))
	x, y := ledger.CustomerAccount("ox", "USDT"), ledger.CustomerAccount("oy", "USDT")
	w1, w2 := ledger.CustomerAccount("ow1", "USDT"), ledger.CustomerAccount("ow2", "USDT")
	for _, c := range []string{x, y, w1, w2} {
		if _, err := l.EnsureAccount(e.ctx, e.m, c); err != nil {
			t.Fatal(err)
		}
	}
	e.fund(x, "10")
	e.fund(y, "10")
	type side struct {
		name          string
		first, second ledger.TransferRequest
	}
	sides := []side{
		{"T1", e.move("t1-a", x, w1, "1"), e.move("t1-b", y, w1, "2")},
		{"T2", e.move("t2-a", y, w2, "3"), e.move("t2-b", x, w2, "4")},
	}
	txs := []pgx.Tx{e.begin(), e.begin()}
	for i, s := range sides {
		e.txTransfer(l, txs[i], s.first)
	}
	var wg sync.WaitGroup
	results := make([]error, 2)
	conflicts := make([]int, 2)
	for i, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, calls := txs[i], []ledger.TransferRequest{s.second} // the first call is made
			for try := 1; ; try++ {
				var err error
				for _, req := range calls {
					if _, err = l.TransferTx(e.ctx, tx, req); err != nil {
						break
					}
				}
				if err == nil {
					results[i] = tx.Commit(e.ctx)
					return
				}
				if !errors.Is(err, ledger.ErrConflict) {
					results[i] = fmt.Errorf("%s: %w, want ErrConflict", s.name, err)
					return
				}
				if _, xerr := tx.Exec(e.ctx, "SELECT 1"); xerr != nil {
					results[i] = fmt.Errorf("%s: transaction unusable after ErrConflict: %w", s.name, xerr)
					return
				}
				conflicts[i]++
				// The caller's retry: roll back, run the whole transaction again
				// (which can meet the other transaction's retry once more).
				_ = tx.Rollback(e.ctx)
				if try == 5 {
					results[i] = fmt.Errorf("%s: %d conflicts", s.name, try)
					return
				}
				time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
				if tx, err = e.pool.Begin(e.ctx); err != nil {
					results[i] = err
					return
				}
				defer tx.Rollback(e.ctx)
				calls = []ledger.TransferRequest{s.first, s.second}
			}
		}()
	}
	wg.Wait()
	for _, err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	if conflicts[0]+conflicts[1] == 0 {
		t.Fatalf("no ErrConflict: the opposite-order calls did not deadlock")
	}
	t.Logf("ErrConflict: T1 %d, T2 %d", conflicts[0], conflicts[1])
	if got := logs.lines("40P01"); len(got) == 0 {
		t.Errorf("no deadlock was retried inside the ledger before it gave up")
	}
	e.requireBalance(x, "5", "0", "5")
	e.requireBalance(y, "5", "0", "5")
	e.requireBalance(w1, "3", "0", "3")
	e.requireBalance(w2, "7", "0", "7")
	e.requireCheck()
}
