package db

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tallyhq/tally/jobs/riverschema"
	"github.com/tallyhq/tally/ledger"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the folder of tally's own SQL migrations (goose format); sqlc reads
// the same files as its schema.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}

// MigrationStatus is one line of `tally migrate status`.
type MigrationStatus struct {
	Component string // "tally" or "river"
	Version   int64
	Name      string
	Applied   bool
}

// migrationLockKey is the session advisory lock (pg_advisory_lock) that MigrateUp
// and MigrateDown hold around River's and tally's migrations together. goose takes
// its own lock around its step; this one also covers River's, which takes none.
const migrationLockKey int64 = 0x74616c6c796d6967 // "tallymig"

// withMigrationLock runs fn while holding migrationLockKey, so that concurrent
// migrate commands run one after the other. The lock is held on a connection
// opened for it outside pool (from pool's configuration), so that waiting
// commands do not take the pool connections that fn's work needs.
func withMigrationLock(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, fn func() error) error {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("migration lock: connect: %w", err)
	}
	// Closing the connection also ends the session, releasing the lock.
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	ferr := fn()
	if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
		logger.Warn("migration lock: unlock failed (closing the connection releases it)", "err", err)
	}
	return ferr
}

// MigrateUp applies every pending migration: River's queue schema first (our
// tables may reference it), then tally's own, then it seeds the currencies table
// with every ISO 4217 currency the table lacks (see ledger.CurrencySeed). It holds a
// session advisory lock around all of it, so two migrate commands at once are
// safe (the second waits, then finds nothing to do); still, run it from one
// deploy step, not from every replica at start-up.
func MigrateUp(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return withMigrationLock(ctx, pool, logger, func() error { return migrateUp(ctx, pool, logger) })
}

func migrateUp(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	applied, err := riverschema.Up(ctx, pool)
	if err != nil {
		return err
	}
	for _, v := range applied {
		logger.Info("applied river migration", "version", v.Version, "name", v.Name)
	}
	p, closeFn, err := gooseProvider(pool, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("tally migrations up: %w", err)
	}
	for _, r := range results {
		logger.Info("applied tally migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	n, err := ledger.SeedCurrencies(ctx, pool)
	if err != nil {
		return err
	}
	if n > 0 {
		logger.Info("seeded currencies", "added", n)
	}
	return nil
}

// MigrateDown rolls tally's migrations back by one step, or to version `to` when to
// >= 0 (0 removes every tally table). With river set and tally fully rolled back,
// River's tables are removed too. It holds the same lock as MigrateUp.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, to int64, river bool) error {
	return withMigrationLock(ctx, pool, logger, func() error { return migrateDown(ctx, pool, logger, to, river) })
}

func migrateDown(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, to int64, river bool) error {
	p, closeFn, err := gooseProvider(pool, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	if to < 0 {
		r, err := p.Down(ctx)
		if err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return fmt.Errorf("tally migration down: %w", err)
		}
		if r != nil {
			logger.Info("rolled back tally migration", "version", r.Source.Version, "file", r.Source.Path)
		}
	} else {
		results, err := p.DownTo(ctx, to)
		if err != nil {
			return fmt.Errorf("tally migrations down to %d: %w", to, err)
		}
		for _, r := range results {
			logger.Info("rolled back tally migration", "version", r.Source.Version, "file", r.Source.Path)
		}
	}
	if !river {
		return nil
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 0 {
		return fmt.Errorf("river tables are removed only after every tally migration is rolled back (at version %d): %w", v, err)
	}
	if err := riverschema.DownAll(ctx, pool); err != nil {
		return err
	}
	logger.Info("removed river tables")
	return nil
}

// Status lists every known migration of River and tally and whether it is applied.
func Status(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) ([]MigrationStatus, error) {
	var out []MigrationStatus
	river, err := riverschema.Status(ctx, pool)
	if err != nil {
		return nil, err
	}
	for _, m := range river {
		out = append(out, MigrationStatus{Component: "river", Version: int64(m.Version), Name: m.Name, Applied: m.Applied})
	}
	p, closeFn, err := gooseProvider(pool, logger)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("tally migration status: %w", err)
	}
	for _, s := range st {
		out = append(out, MigrationStatus{Component: "tally", Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// SchemaHash identifies the schema MigrateUp produces: our migration files,
// River's migration set and the currency seed. Test templates are keyed by it.
func SchemaHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Migrations(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	if err := riverschema.Hash(h); err != nil {
		return "", err
	}
	ledger.HashSeed(h)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func gooseProvider(pool *pgxpool.Pool, logger *slog.Logger) (*goose.Provider, func(), error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("goose locker: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, Migrations(),
		goose.WithSessionLocker(locker), goose.WithSlog(logger))
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, fmt.Errorf("goose provider: %w", err)
	}
	return p, func() { _ = sqlDB.Close() }, nil
}
