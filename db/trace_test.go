package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/tracelog"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tallyhq/tally/db"
)

// TestQueryName: a query's span is named by sqlc's name for it, else by its
// first word.
func TestQueryName(t *testing.T) {
	for sql, want := range map[string]string{
		"-- name: PostTransfersTx :many\nSELECT * FROM ledger_post_transfers_tx($1)": "PostTransfersTx",
		"\n-- name: InsertCallbacks :batchone\nINSERT INTO callback_inbox":           "InsertCallbacks",
		"select 1": "SELECT",
		"/* river */ UPDATE river_job SET state = $1": "UPDATE",
	} {
		if got := db.QueryName(context.Background(), sql); got != want {
			t.Errorf("QueryName(%q) = %q, want %q", sql, got, want)
		}
	}
}

// TestTraceConfig: tracing off leaves the pool's config alone; on, a tracer
// the config already has keeps working beside otelpgx's.
func TestTraceConfig(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://u@127.0.0.1:1/x")
	if err != nil {
		t.Fatal(err)
	}
	db.Trace(cfg, nil)
	if cfg.ConnConfig.Tracer != nil {
		t.Fatalf("tracing off: tracer %T", cfg.ConnConfig.Tracer)
	}
	db.Trace(cfg, noop.NewTracerProvider())
	if cfg.ConnConfig.Tracer == nil {
		t.Fatal("tracing on: no tracer")
	}
	prev := &tracelog.TraceLog{}
	cfg.ConnConfig.Tracer = prev
	db.Trace(cfg, noop.NewTracerProvider())
	if _, ok := cfg.ConnConfig.Tracer.(*multitracer.Tracer); !ok {
		t.Fatalf("tracer %T, want the one already set and otelpgx's (multitracer)", cfg.ConnConfig.Tracer)
	}
}
