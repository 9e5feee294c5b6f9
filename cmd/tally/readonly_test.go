package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/secrets"
)

// TestReadOnlyCommandsWithoutSecretKey: the commands that only read run
// without TALLY_SECRET_KEY, the key that opens every provider credential, and
// show what is stored; a command that needs the key fails naming it.
func TestReadOnlyCommandsWithoutSecretKey(t *testing.T) {
	key := secrets.GenerateKey()
	t.Setenv(secrets.EnvKey, key)
	t.Setenv("CPAY_SECRET", "cpay-secret-112233")
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	mustRun(t, dbURL, "account", "add", "--merchant", "acme", "--provider", "cpay", "--name", "cpay-main",
		"--base-url", "https://api.cpay.ltd", "--merchant-id", "20000387", "--secret-env", "CPAY_SECRET")
	mustRun(t, dbURL, "account", "opening", "--merchant", "acme", "--name", "cpay-main", "--currency", "USDT", "--amount", "12.5")
	mustRun(t, dbURL, "user", "create", "--email", "ana@example.com", "--role", "viewer")

	// A discrepancy and a run to read (the run stays queued: no worker).
	ctx := context.Background()
	raw, _ := secrets.ParseKey(key)
	box, err := secrets.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Pool: pool, Box: box, PublicURL: "https://tally.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	m, err := a.Merchants.Merchant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var d discrepancies.Discrepancy
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		d, _, err = a.Discrepancies.RecordTx(ctx, tx, discrepancies.Finding{Type: discrepancies.UnknownOrder, MerchantID: m.ID,
			Fingerprint: discrepancies.Fingerprint(discrepancies.UnknownOrder, "cpay-main", "P-77"), Currency: "USDT",
			Delta: decimal.RequireFromString("3.25"), Summary: "the provider knows order P-77"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rn, err := a.Recon.Start(ctx, recon.Request{MerchantID: m.ID, ProviderAccount: "cpay-main", Kind: recon.KindFull,
		From: now.Add(-time.Hour), To: now, Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	runID, discID := strconv.FormatInt(rn.ID, 10), strconv.FormatInt(d.ID, 10)

	t.Setenv(secrets.EnvKey, "")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"discrepancy", "list", "--merchant", "acme"}, []string{discID, "unknown_order", "3.25", "P-77"}},
		{[]string{"discrepancy", "show", discID}, []string{"unknown_order", "the provider knows order P-77", "opened"}},
		{[]string{"ledger", "balance", "--merchant", "acme"}, []string{"assets:provider:cpay-main:USDT", "12.5"}},
		{[]string{"recon", "runs", "--merchant", "acme"}, []string{runID, "cpay-main", "test"}},
		{[]string{"recon", "show", runID}, []string{runID}},
		{[]string{"report", "--run", runID, "--format", "json"}, []string{`"run_id": ` + runID}},
		{[]string{"report", "--merchant", "acme", "--day", now.Format(time.DateOnly), "--format", "csv"}, nil},
		{[]string{"user", "list"}, []string{"ana@example.com", "viewer"}},
		{[]string{"account", "list"}, []string{"cpay-main"}},
		{[]string{"apikey", "list", "--merchant", "acme"}, []string{"SCOPES"}},
	} {
		out, err := run(t, dbURL, tc.args...)
		if err != nil {
			t.Errorf("tally %s without %s: %v\n%s", strings.Join(tc.args, " "), secrets.EnvKey, err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("tally %s without %s lacks %q:\n%s", strings.Join(tc.args, " "), secrets.EnvKey, w, out)
			}
		}
	}

	// What needs the key says so.
	for _, args := range [][]string{
		{"merchant", "create", "--code", "beta"},
		{"account", "add", "--merchant", "acme", "--provider", "cpay", "--name", "cpay-two",
			"--base-url", "https://api.cpay.ltd", "--merchant-id", "20000388", "--secret-env", "CPAY_SECRET"},
		{"account", "update", "--merchant", "acme", "--name", "cpay-main", "--disable"},
		{"recon", "run", "--merchant", "acme", "--account", "cpay-main"},
	} {
		if out, err := run(t, dbURL, args...); err == nil || !strings.Contains(err.Error(), secrets.EnvKey) {
			t.Errorf("tally %s without %s: %v\n%s\nwant an error naming %s", strings.Join(args, " "), secrets.EnvKey, err, out, secrets.EnvKey)
		}
	}
	if a, err := a.Merchants.ProviderAccount(ctx, m.ID, "cpay-main"); err != nil || !a.Enabled {
		t.Fatalf("the account after a refused update: %+v, %v", a, err)
	}
}
