package db_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"testing"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/testdb"
)

// TestMigrationAccountKeys: migration 00025 gives every existing provider
// account a callback key of its own (unguessable, unique, of the checked
// form) and a legacy name route; afterwards names are unique per merchant
// only, new accounts have no name route, and discrepancy fingerprints are
// unique per merchant.
func TestMigrationAccountKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewEmpty(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateDown(ctx, pool, log, 24, false); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO merchants (code, name) VALUES ('acme', 'Acme'), ('beta', 'Beta');
		INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed)
		SELECT m.id, a.name, 'cpay', 'http://h', '1', '\x00'
		FROM merchants m JOIN (VALUES ('acme', 'cpay-main'), ('acme', 'cpay-2'), ('beta', 'beta-cpay')) AS a(code, name) ON a.code = m.code`); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT name, callback_key, legacy_route FROM provider_accounts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	form := regexp.MustCompile(`^[A-Za-z0-9_-]{24}$`)
	for rows.Next() {
		var name, key string
		var legacy bool
		if err := rows.Scan(&name, &key, &legacy); err != nil {
			t.Fatal(err)
		}
		if !form.MatchString(key) || keys[key] || !legacy {
			t.Errorf("%s: key %q (seen before %v), legacy route %v", name, key, keys[key], legacy)
		}
		keys[key] = true
	}
	if err := rows.Err(); err != nil || len(keys) != 3 {
		t.Fatalf("%d accounts read: %v", len(keys), err)
	}
	// beta may now have a cpay-main of its own, without a name route; acme
	// may not have two.
	if _, err := pool.Exec(ctx, `INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed, callback_key)
		SELECT id, 'cpay-main', 'cpay', 'http://h', '1', '\x00', 'bbbbbbbbbbbbbbbbbbbbbbbb' FROM merchants WHERE code = 'beta'`); err != nil {
		t.Fatalf("beta's cpay-main: %v", err)
	}
	var legacy bool
	if err := pool.QueryRow(ctx, `SELECT legacy_route FROM provider_accounts WHERE callback_key = 'bbbbbbbbbbbbbbbbbbbbbbbb'`).Scan(&legacy); err != nil || legacy {
		t.Fatalf("a new account's legacy route: %v, %v", legacy, err)
	}
	for what, stmt := range map[string]string{
		"acme's second cpay-main": `INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed, callback_key)
			SELECT id, 'cpay-main', 'cpay', 'http://h', '1', '\x00', 'cccccccccccccccccccccccc' FROM merchants WHERE code = 'acme'`,
		"a key used twice": `INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed, callback_key)
			SELECT id, 'other', 'cpay', 'http://h', '1', '\x00', 'bbbbbbbbbbbbbbbbbbbbbbbb' FROM merchants WHERE code = 'acme'`,
		"a short key": `INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed, callback_key)
			SELECT id, 'short', 'cpay', 'http://h', '1', '\x00', 'abc' FROM merchants WHERE code = 'acme'`,
		"no key": `INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed)
			SELECT id, 'nokey', 'cpay', 'http://h', '1', '\x00' FROM merchants WHERE code = 'acme'`,
	} {
		if _, err := pool.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	// One fingerprint, two merchants: two discrepancies.
	if _, err := pool.Exec(ctx, `INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, summary)
		SELECT id, 'balance_drift', 'balance_drift:cpay-main:USDT', 'high', 'drift' FROM merchants`); err != nil {
		t.Fatalf("one fingerprint for two merchants: %v", err)
	}
}
