// Package testdb gives each test its own migrated PostgreSQL database, cloned from
// a template in tens of milliseconds (pgtestdb), so that test packages run in
// parallel against one real server without interfering.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // pgtestdb opens its admin connection through database/sql
	"github.com/peterldowns/pgtestdb"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/localpg"
)

// New returns a pool on a fresh database holding every migration (tally's and
// River's). The database is dropped when the test passes and kept for inspection
// when it fails (its URL is in the test log).
func New(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, _ := NewWithURL(tb)
	return pool
}

// NewWithURL is New that also returns the database's URL, for code under test that
// opens its own connections (a second process, a second pool).
func NewWithURL(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	return NewWithURLReserving(tb, 0)
}

// NewWithURLReserving is NewWithURL for a test that will open extra more
// connections (a pool of its own, a second process): they are reserved
// (Reserve) together with the database's own, at once, so that tests
// waiting for slots never each hold a part of what they need.
func NewWithURLReserving(tb testing.TB, extra int) (*pgxpool.Pool, string) {
	tb.Helper()
	Reserve(tb, PoolSize+1+extra) // the pool, pgtestdb's connection to the server, and extra
	conf := pgtestdb.Custom(tb, serverConfig(tb), migrator{})
	u := conf.URL()
	return connect(tb, u), u
}

// connect opens a pool of PoolSize connections on u, closed when tb ends.
func connect(tb testing.TB, u string) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		tb.Fatalf("test database URL: %v", err)
	}
	cfg.MaxConns = PoolSize
	pool, err := db.ConnectConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("connect to test database: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

var (
	serverOnce sync.Once
	serverConf pgtestdb.Config
	serverErr  error
)

// serverConfig resolves the server once per test binary: DATABASE_URL, else the
// local server, else a throwaway cluster (see package localpg).
func serverConfig(tb testing.TB) pgtestdb.Config {
	tb.Helper()
	serverOnce.Do(func() {
		raw, err := localpg.URL(context.Background(), localpg.Options{})
		if err != nil {
			serverErr = fmt.Errorf("find a PostgreSQL server: %w", err)
			return
		}
		serverConf, serverErr = configFromURL(raw)
	})
	if serverErr != nil {
		tb.Fatalf("%v", serverErr)
	}
	return serverConf
}

func configFromURL(raw string) (pgtestdb.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return pgtestdb.Config{}, fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	host, port := u.Hostname(), u.Port()
	if h := q.Get("host"); h != "" { // a unix socket folder
		host = h
		q.Del("host")
	}
	if port == "" {
		port = "5432"
	}
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	pw, _ := u.User.Password()
	cfg := pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      host,
		Port:                      port,
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  strings.TrimPrefix(u.Path, "/"),
		Options:                   q.Encode(),
		ForceTerminateConnections: true,
	}
	return cfg, nil
}

// migrator builds the template with tally's own migrate step.
type migrator struct{}

func (migrator) Hash() (string, error) { return db.SchemaHash() }

func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := db.Connect(ctx, conf.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	return db.MigrateUp(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// NewEmpty returns a pool on a fresh database with no migrations applied, for
// testing the migrations themselves.
func NewEmpty(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	Reserve(tb, PoolSize+1)
	conf := pgtestdb.Custom(tb, serverConfig(tb), pgtestdb.NoopMigrator{})
	return connect(tb, conf.URL())
}
