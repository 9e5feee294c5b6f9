package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/secrets"
)

// TestOrderTimelineShowsStaffEntries: tally order timeline shows staff what
// the merchant API leaves out, the provider's own words, and says which
// entries a merchant sees.
func TestOrderTimelineShowsStaffEntries(t *testing.T) {
	key := secrets.GenerateKey()
	t.Setenv(secrets.EnvKey, key)
	t.Setenv("CPAY_SECRET", "cpay-secret-112233")
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	mustRun(t, dbURL, "account", "add", "--merchant", "acme", "--provider", "cpay", "--name", "cpay-main",
		"--base-url", "https://api.cpay.ltd", "--merchant-id", "20000387", "--secret-env", "CPAY_SECRET")
	raw, _ := secrets.ParseKey(key)
	box, err := secrets.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A tally on the test's database, as a command builds one; no worker
	// runs: the order stays as stored, its submit_order job waiting.
	a, err := app.New(ctx, app.Config{Pool: pool, Box: box, PublicURL: "https://tally.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	m, err := a.Merchants.Merchant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	service := a.Orders
	o, _, err := service.Create(ctx, orders.CreateRequest{MerchantID: m.ID, Kind: providers.KindDeposit, ProviderAccount: "cpay-main", CustomerID: "u1",
		Amount: decimal.RequireFromString("10"), Currency: "USDT", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO order_events (order_id, merchant_id, source, from_status, to_status, detail, staff_only)
		VALUES ($1, $2, 'submit', 'created', 'created', '{"error":"cpay createOrder: the provider says boom"}', true)`, o.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, dbURL, "order", "timeline", strconv.FormatInt(o.ID, 10))
	if !strings.Contains(out, "the provider says boom") || !strings.Contains(out, "staff") || !strings.Contains(out, "merchant") {
		t.Fatalf("tally order timeline:\n%s", out)
	}
	tl, err := service.Timeline(ctx, o.ID)
	if err != nil || len(tl) != 1 {
		t.Fatalf("the merchant's timeline: %v %+v", err, tl)
	}
	if _, err := run(t, dbURL, "order", "timeline", "999999"); err == nil {
		t.Fatal("an unknown order: no error")
	}
}
