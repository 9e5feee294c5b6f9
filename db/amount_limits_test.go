package db_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/testdb"
)

// TestMigrationAmountLimits: migration 00022 gives every provider account
// empty limits, and writes the currency CXPay accounts were read in (BRL, the
// old default) into those stored without one, leaving the others alone.
func TestMigrationAmountLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewEmpty(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateDown(ctx, pool, log, 20, false); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO merchants (code, name) VALUES ('acme', 'Acme');
		INSERT INTO provider_accounts (merchant_id, name, provider, base_url, provider_merchant_id, secret_sealed, options)
		SELECT id, a.name, a.provider, 'http://h', '1', '\x00', a.options::jsonb
		FROM merchants, (VALUES ('cx-none', 'cxpay', '{"pay_code":"PIX"}'), ('cx-blank', 'cxpay', '{"pay_code":"PIX","currency":""}'),
		                        ('cx-idr', 'cxpay', '{"pay_code":"QRIS","currency":"IDR"}'), ('cp', 'cpay', '{}')) AS a(name, provider, options)`); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateUp(ctx, pool, log); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT name, coalesce(options ->> 'currency', '-'), max_amounts::text FROM provider_accounts ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for rows.Next() {
		var name, cur, limits string
		if err := rows.Scan(&name, &cur, &limits); err != nil {
			t.Fatal(err)
		}
		got[name] = [2]string{cur, limits}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"cx-none": {"BRL", "{}"}, "cx-blank": {"BRL", "{}"}, "cx-idr": {"IDR", "{}"}, "cp": {"-", "{}"}}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: currency %s, max_amounts %s; want %s, %s", name, got[name][0], got[name][1], w[0], w[1])
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE provider_accounts SET max_amounts = '[]' WHERE name = 'cp'`); err == nil {
		t.Error("max_amounts took a JSON array")
	}
}
