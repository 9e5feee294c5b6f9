package db_test

import (
	"context"
	"github.com/tallyhq/tally/ledger"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/testdb"
)

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewEmpty(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatalf("up: %v", err)
	}
	requireAllApplied(t, pool, log)
	// A second up is a no-op.
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatalf("second up: %v", err)
	}
	if err := db.MigrateDown(ctx, pool, log, 0, true); err != nil {
		t.Fatalf("down to 0 with river: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'goose%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("after down to 0: %d tables remain, want 0", n)
	}
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatalf("up again: %v", err)
	}
	requireAllApplied(t, pool, log)
}

func TestMigrateDownRefusesRiverWhileTallyTablesRemain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := db.Status(ctx, pool, log)
	if err != nil {
		t.Fatal(err)
	}
	tallyCount := 0
	for _, s := range st {
		if s.Component == "tally" {
			tallyCount++
		}
	}
	if tallyCount < 2 {
		t.Skip("needs at least two tally migrations")
	}
	if err := db.MigrateDown(ctx, pool, log, -1, true); err == nil {
		t.Fatal("down one step with river: want an error while tally tables remain")
	}
}

func requireAllApplied(t *testing.T, pool *pgxpool.Pool, log *slog.Logger) {
	t.Helper()
	st, err := db.Status(context.Background(), pool, log)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	seen := map[string]int{}
	for _, s := range st {
		seen[s.Component]++
		if !s.Applied {
			t.Errorf("%s migration %d %s not applied", s.Component, s.Version, s.Name)
		}
	}
	if seen["river"] == 0 || seen["tally"] == 0 {
		t.Fatalf("status lists %v, want river and tally migrations", seen)
	}
}

// MigrateUp seeds every ISO currency the table lacks and leaves existing rows
// as they are; migration 00021 rolls back to 00002's ten currencies.
func TestCurrencySeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	count := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM currencies`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	scale := func(code string) (s int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT scale FROM currencies WHERE code = $1`, code).Scan(&s); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		return s
	}
	seeded := count()
	if want := len(ledger.CurrencySeed()) + 5; seeded != want {
		t.Fatalf("%d currencies after migrate, want %d (ISO and 5 crypto)", seeded, want)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM currencies WHERE code IN ('INR', 'NGN')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO currencies (code, scale, kind) VALUES ('INR', 3, 'fiat')`); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != seeded {
		t.Fatalf("%d currencies after a second migrate, want %d", n, seeded)
	}
	if s := scale("INR"); s != 3 {
		t.Errorf("INR scale %d after the seed, want the stored 3", s)
	}
	if s := scale("NGN"); s != 2 {
		t.Errorf("NGN scale %d after the seed, want 2", s)
	}
	if err := db.MigrateDown(ctx, pool, log, 20, false); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 10 {
		t.Errorf("%d currencies after rolling back 00021, want 10", n)
	}
	if s := scale("USDT"); s != 6 {
		t.Errorf("USDT scale %d after rolling back 00021, want 6", s)
	}
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != seeded {
		t.Errorf("%d currencies after migrating up again, want %d", n, seeded)
	}
	if s := scale("USDT"); s != 8 {
		t.Errorf("USDT scale %d after 00021, want 8", s)
	}
}
