package db_test

import (
	"context"
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
