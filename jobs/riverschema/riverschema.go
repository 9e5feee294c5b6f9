// Package riverschema is River's queue schema as tally migrates it: River's
// own migrations (rivermigrate), applied, rolled back, listed and hashed by
// package db beside tally's. It is a leaf of package jobs, the one owner of
// River, so that db (which every other package's tests import) reaches
// River's schema without importing River itself or jobs' services.
package riverschema

import (
	"context"
	"errors"
	"fmt"
	"hash"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// ErrMigrator: River's migrator could not be built.
var ErrMigrator = errors.New("river migrator")

// Version is one of River's migrations.
type Version struct {
	Version int
	Name    string
	// Applied: the migration is applied in the database (Status only).
	Applied bool
}

func migrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMigrator, err)
	}
	return m, nil
}

// Up applies River's pending migrations and returns those it applied. It
// takes no lock: db.MigrateUp holds its own around it.
func Up(ctx context.Context, pool *pgxpool.Pool) ([]Version, error) {
	m, err := migrator(pool)
	if err != nil {
		return nil, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrations up: %w", err)
	}
	out := make([]Version, len(res.Versions))
	for i, v := range res.Versions {
		out[i] = Version{Version: v.Version, Name: v.Name, Applied: true}
	}
	return out, nil
}

// DownAll removes River's tables (every River migration rolled back).
func DownAll(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := migrator(pool)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
		return fmt.Errorf("river migrations down: %w", err)
	}
	return nil
}

// Status lists every River migration and whether it is applied.
func Status(ctx context.Context, pool *pgxpool.Pool) ([]Version, error) {
	m, err := migrator(pool)
	if err != nil {
		return nil, err
	}
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("river migration status: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range existing {
		applied[v.Version] = true
	}
	var out []Version
	for _, v := range m.AllVersions() {
		out = append(out, Version{Version: v.Version, Name: v.Name, Applied: applied[v.Version]})
	}
	return out, nil
}

// Hash writes River's whole migration set (versions, names and SQL) to h, so
// that a schema hash (db.SchemaHash, the test templates' key) changes with
// River's version.
func Hash(h hash.Hash) error {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMigrator, err)
	}
	for _, v := range m.AllVersions() {
		fmt.Fprintf(h, "river\x00%d\x00%s\x00", v.Version, v.Name)
		h.Write([]byte(v.SQLUp))
	}
	return nil
}
