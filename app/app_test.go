package app_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/secrets"
)

func box(t *testing.T) *secrets.Box {
	t.Helper()
	b, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A Config with workers but no secret key, or with both a database URL and a
// pool, or with neither, is refused before anything is built.
func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]app.Config{
		"workers without a box": {DatabaseURL: "postgres://nowhere.invalid/x", Jobs: jobs.Options{Workers: true}},
		"no db":                 {Box: box(t)},
		"url + pool":            {Box: box(t), DatabaseURL: "postgres://nowhere.invalid/x", Pool: testdb.New(t)},
	} {
		if _, err := app.New(ctx, cfg); !errors.Is(err, app.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// New builds every part, Start runs the workers and the schedule, Close stops
// them and the callback loops; a second Close returns the first one's result
// and a pool the App was given stays open for its owner.
func TestNewStartClose(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{Pool: pool, Box: box(t), PublicURL: "https://tally.example",
		Jobs: jobs.Options{Workers: true, Schedule: true, Recon: &jobs.ReconSchedule{Every: time.Hour, Lag: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, part := range map[string]any{"ledger": a.Ledger, "merchants": a.Merchants, "discrepancies": a.Discrepancies,
		"orders": a.Orders, "callbacks": a.Callbacks, "webhooks": a.Webhooks, "recon": a.Recon, "jobs": a.Jobs, "server": a.Server,
		"staff": a.Staff} {
		if part == nil {
			t.Errorf("%s not built", name)
		}
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Close(stopCtx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := a.Close(stopCtx); err != nil {
		t.Fatalf("close again: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("the given pool was closed: %v", err)
	}
}

// Without a secret key an App reads (merchants, provider accounts without
// their secrets, staff users) and refuses what needs the key, naming
// TALLY_SECRET_KEY.
func TestNewWithoutSecretKey(t *testing.T) {
	pool := testdb.New(t)
	ctx := context.Background()
	withKey, err := app.New(ctx, app.Config{Pool: pool, Box: box(t), PublicURL: "https://tally.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = withKey.Close(context.Background()) })
	m, _, err := withKey.Merchants.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Pool: pool, PublicURL: "https://tally.example"})
	if err != nil {
		t.Fatalf("an App without a box: %v", err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	if got, err := a.Merchants.Merchant(ctx, "acme"); err != nil || got.ID != m.ID {
		t.Fatalf("read a merchant without the key: %+v, %v", got, err)
	}
	if users, err := a.Staff.Users(ctx); err != nil || len(users) != 0 {
		t.Fatalf("staff users without the key: %v, %v", users, err)
	}
	if _, err := a.Merchants.WebhookSecret(ctx, m.ID); !errors.Is(err, secrets.ErrNoKey) || !strings.Contains(err.Error(), secrets.EnvKey) {
		t.Fatalf("a webhook secret without the key: %v, want an error naming %s", err, secrets.EnvKey)
	}
}
