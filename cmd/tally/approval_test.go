package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/secrets"
)

// TestDiscrepancyResolveNeedsASecondOperator drives maker-checker on the
// command line: tally discrepancy resolve proposes as cli:$USER, the same
// operating system user cannot approve it, another one can and the money
// moves then, exactly once; a threshold lets small amounts resolve at once.
func TestDiscrepancyResolveNeedsASecondOperator(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	ctx := context.Background()
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	var merchant int64
	if err := pool.QueryRow(ctx, `SELECT id FROM merchants WHERE code = 'acme'`).Scan(&merchant); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(pool)
	nine := decimal.RequireFromString("9")
	if _, err := l.Transfer(ctx, ledger.TransferRequest{Merchant: merchant, Key: "fund-suspense", Entries: []ledger.Entry{
		{Account: ledger.OpeningAccount("BRL"), Side: ledger.Debit, Amount: nine.Add(nine)},
		{Account: ledger.SuspenseAccount("BRL"), Side: ledger.Credit, Amount: nine.Add(nine)}}}); err != nil {
		t.Fatal(err)
	}
	var first, second int64
	for i, id := range []*int64{&first, &second} {
		if err := pool.QueryRow(ctx, `INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency, amount_delta, summary, suspense_amount)
			VALUES ($1, 'unknown_order', $2, 'medium', 'BRL', 9, 'unknown order paid 9 BRL', 9) RETURNING id`, merchant, "unknown_order:x:"+string(rune('a'+i))).Scan(id); err != nil {
			t.Fatal(err)
		}
	}
	gain := func() decimal.Decimal {
		b, err := l.Balance(ctx, merchant, ledger.GainAccount("BRL"))
		if err != nil {
			return decimal.Zero
		}
		return b.Posted
	}

	asOperator(t, "alice")
	if _, err := run(t, dbURL, "discrepancy", "resolve", strconv.FormatInt(first, 10), "--merchant", "acme", "--action", "write_off"); err == nil {
		t.Fatal("resolve without --note succeeded")
	}
	out := mustRun(t, dbURL, "discrepancy", "resolve", strconv.FormatInt(first, 10), "--merchant", "acme", "--action", "write_off", "--note", "nobody claims it")
	if !strings.Contains(out, "awaits approval") || !strings.Contains(out, "9 BRL") || !strings.Contains(out, "cli:alice") {
		t.Fatalf("resolve printed %q, want a proposal by cli:alice", out)
	}
	if !gain().IsZero() {
		t.Fatalf("a proposal moved money: gain %s", gain())
	}
	if out = mustRun(t, dbURL, "approval", "list"); !strings.Contains(out, "cli:alice") || !strings.Contains(out, "pending") || !strings.Contains(out, "nobody claims it") {
		t.Fatalf("approval list = %q", out)
	}
	if out, err := run(t, dbURL, "approval", "approve", "1", "--note", "fine"); err == nil || !strings.Contains(err.Error(), "cannot approve") {
		t.Fatalf("self-approval: %v %s", err, out)
	}
	asOperator(t, "bob")
	out = mustRun(t, dbURL, "approval", "approve", "1", "--note", "checked")
	if !strings.Contains(out, "approved by cli:bob") || !strings.Contains(out, "ledger transfer resolution:") || !gain().Equal(nine) {
		t.Fatalf("approve printed %q, gain %s; want 9", out, gain())
	}
	if out = mustRun(t, dbURL, "discrepancy", "show", strconv.FormatInt(first, 10)); !strings.Contains(out, `proposal 1: write_off of 9 BRL by cli:alice ("nobody claims it"): approved by cli:bob ("checked")`) {
		t.Fatalf("discrepancy show = %q, want the approved proposal", out)
	}
	if _, err := run(t, dbURL, "approval", "approve", "1"); err == nil || !strings.Contains(err.Error(), "already decided") {
		t.Fatalf("second approval: %v", err)
	}
	if !gain().Equal(nine) {
		t.Fatalf("gain %s after a second approval, want 9", gain())
	}

	if out = mustRun(t, dbURL, "merchant", "threshold", "--merchant", "acme", "--currency", "BRL", "--amount", "10"); !strings.Contains(out, "BRL: resolutions of 10 or more need approval") {
		t.Fatalf("threshold printed %q", out)
	}
	out = mustRun(t, dbURL, "discrepancy", "resolve", strconv.FormatInt(second, 10), "--merchant", "acme", "--action", "write_off", "--note", "below the threshold")
	if !strings.Contains(out, "resolved (write_off by cli:bob)") || !gain().Equal(nine.Add(nine)) {
		t.Fatalf("resolve below the threshold printed %q, gain %s; want 18", out, gain())
	}
}

// asOperator makes the CLI's operating system user login (cliUser) for the
// rest of the test, to play two operators in one process.
func asOperator(t *testing.T, login string) {
	old := cliUser
	cliUser = func() (string, error) { return login, nil }
	t.Cleanup(func() { cliUser = old })
}
