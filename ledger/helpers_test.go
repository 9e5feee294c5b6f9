package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

// env is one test's ledger on its own database, with one merchant.
type env struct {
	t    testing.TB
	ctx  context.Context
	pool *pgxpool.Pool
	l    *ledger.Ledger
	m    int64
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	pool := testdb.New(t)
	l := ledger.New(pool)
	m, err := ensureMerchant(ctx, pool, "m1", "Merchant One")
	if err != nil {
		t.Fatalf("ensure merchant: %v", err)
	}
	return &env{t: t, ctx: ctx, pool: pool, l: l, m: m.ID}
}

// newEnvPool is newEnv on a pool of maxConns connections of its own.
func newEnvPool(t testing.TB, maxConns int32) *env {
	t.Helper()
	ctx := context.Background()
	_, url := testdb.NewWithURLReserving(t, int(maxConns))
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := db.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	l := ledger.New(pool)
	m, err := ensureMerchant(ctx, pool, "m1", "Merchant One")
	if err != nil {
		t.Fatalf("ensure merchant: %v", err)
	}
	return &env{t: t, ctx: ctx, pool: pool, l: l, m: m.ID}
}

var keySeq atomic.Int64

// key returns a fresh idempotency key.
func key(prefix string) string { return fmt.Sprintf("%s-%d", prefix, keySeq.Add(1)) }

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// move is a two-leg transfer request: debit from, credit to.
func (e *env) move(k, from, to, amount string) ledger.TransferRequest {
	return ledger.TransferRequest{
		Merchant: e.m,
		Key:      k,
		Entries: []ledger.Entry{
			{Account: from, Side: ledger.Debit, Amount: d(amount)},
			{Account: to, Side: ledger.Credit, Amount: d(amount)},
		},
	}
}

// fund credits a customer (or any credit-normal) account from equity:opening.
func (e *env) fund(account, amount string) {
	e.t.Helper()
	spec, err := ledger.ParseAccount(account)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.l.Transfer(e.ctx, e.move(key("fund"), ledger.OpeningAccount(spec.Currency), account, amount)); err != nil {
		e.t.Fatalf("fund %s with %s: %v", account, amount, err)
	}
}

// transfer posts req and fails the test on error.
func (e *env) transfer(req ledger.TransferRequest) ledger.Transfer {
	e.t.Helper()
	tr, err := e.l.Transfer(e.ctx, req)
	if err != nil {
		e.t.Fatalf("transfer %s: %v", req.Key, err)
	}
	return tr
}

func (e *env) balance(account string) ledger.Balance {
	e.t.Helper()
	b, err := e.l.Balance(e.ctx, e.m, account)
	if err != nil {
		e.t.Fatalf("balance %s: %v", account, err)
	}
	return b
}

// requireBalance checks posted, net pending and available of account exactly.
func (e *env) requireBalance(account, posted, pending, available string) {
	e.t.Helper()
	b := e.balance(account)
	if !b.Posted.Equal(d(posted)) || !b.Pending.Equal(d(pending)) || !b.Available.Equal(d(available)) {
		e.t.Errorf("%s: posted %s pending %s available %s, want %s %s %s",
			account, b.Posted, b.Pending, b.Available, posted, pending, available)
	}
}

// requireCheck runs ledger.Check and fails on any violation.
func (e *env) requireCheck() ledger.Report {
	e.t.Helper()
	return requireCheck(e.t, e.pool)
}

func requireCheck(t testing.TB, pool *pgxpool.Pool) ledger.Report {
	t.Helper()
	rep, err := ledger.Check(context.Background(), pool)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("%s", rep)
	}
	return rep
}

// count returns SELECT count(*) FROM table.
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// snapshot is every non-zero balances row and the number of transfers and
// entries, for "a refusal changes nothing" checks (a refused transfer may have
// created an account, whose balance rows are zero).
func (e *env) snapshot() string {
	e.t.Helper()
	var s string
	err := e.pool.QueryRow(e.ctx, `SELECT coalesce(string_agg(format('%s/%s:%s,%s,%s,%s', account_id, slot,
		debits_posted, credits_posted, debits_pending, credits_pending), ' ' ORDER BY account_id, slot), '')
		|| format(' transfers=%s entries=%s', (SELECT count(*) FROM transfers), (SELECT count(*) FROM entries))
		FROM balances
		WHERE debits_posted <> 0 OR credits_posted <> 0 OR debits_pending <> 0 OR credits_pending <> 0`).Scan(&s)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

var (
	cust1  = ledger.CustomerAccount("c1", "USDT")
	cust2  = ledger.CustomerAccount("c2", "USDT")
	prov   = ledger.ProviderAccount("cpay-main", "USDT")
	fees   = ledger.FeesAccount("cpay-main", "USDT")
	susp   = ledger.SuspenseAccount("USDT")
	openUS = ledger.OpeningAccount("USDT")
)

// ensureMerchant is a tenant for the ledger's tests, written by package
// merchants, the merchants table's one owner.
func ensureMerchant(ctx context.Context, pool *pgxpool.Pool, code, name string) (merchants.Merchant, error) {
	box, err := secrets.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		return merchants.Merchant{}, err
	}
	return merchants.New(pool, box, merchants.Options{}).EnsureMerchant(ctx, code, name)
}
