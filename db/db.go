// Package db holds tally's PostgreSQL plumbing: the connection pool, the embedded
// migrations (ours through goose, River's through jobs/riverschema) and, in its
// sub-packages, the sqlc output of queries/ and the test-database harness.
package db

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Connect opens a pool to databaseURL and checks that the server answers.
func Connect(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL %s: %w", Redact(databaseURL), err)
	}
	return ConnectConfig(ctx, cfg)
}

// ConnectConfig opens a pool from a parsed config and checks that the server answers.
func ConnectConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// Redact returns a database URL without its password, for messages and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
