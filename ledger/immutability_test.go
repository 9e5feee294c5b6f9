package ledger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/ledger"
)

func TestEntriesAreImmutable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fund(cust1, "5")
	before := e.snapshot()
	for _, stmt := range []string{
		"UPDATE entries SET amount = amount + 1",
		"UPDATE entries SET amount = 1 WHERE false",
		"DELETE FROM entries",
		"DELETE FROM entries WHERE false",
		"TRUNCATE entries",
		"TRUNCATE entries CASCADE",
		"TRUNCATE transfers CASCADE",
	} {
		_, err := e.pool.Exec(e.ctx, stmt)
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pg.Code != "TL100" {
			t.Errorf("%s: err = %v, want the database to refuse it (TL100)", stmt, err)
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("entries changed:\nbefore %s\nafter  %s", before, after)
	}
	e.requireCheck()
}

// Check finds what a broken ledger looks like: a balance edited by hand, an
// unbalanced transfer, a hold whose state disagrees with its resolution.
func TestCheckFindsViolations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		tamper    []string
		invariant string
	}{
		{"balance edited", []string{"UPDATE balances SET credits_posted = credits_posted + 1 WHERE account_id = (SELECT id FROM accounts WHERE code LIKE 'liabilities:customer:c1:%')"},
			"balance rows equal their entries"},
		{"unbalanced transfer", []string{`INSERT INTO entries (merchant_id, transfer_id, account_id, slot, side, phase, amount, currency, created_at)
			SELECT merchant_id, transfer_id, account_id, slot, side, phase, 1, currency, created_at FROM entries ORDER BY id LIMIT 1`},
			"transfers balance per currency"},
		{"hold reopened", []string{"UPDATE transfers SET state = 'pending' WHERE state = 'committed'"},
			"holds are in the state their resolutions say"},
		{"pending drift", []string{"UPDATE balances SET debits_pending = debits_pending + 2 WHERE account_id = (SELECT id FROM accounts WHERE code LIKE 'liabilities:customer:c1:%')"},
			"pending balances equal open holds"},
		{"overdraft behind the constraint's back", []string{
			"ALTER TABLE balances DROP CONSTRAINT balances_available_check",
			"UPDATE balances SET debits_posted = debits_posted + 1000 WHERE account_id = (SELECT id FROM accounts WHERE code LIKE 'liabilities:customer:c1:%')"},
			"no forbidden negative balance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.fund(cust1, "100")
			r := e.move("hold", cust1, prov, "30")
			r.Pending = true
			h := e.transfer(r)
			if _, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "post", Hold: h.ID, Amount: d("10")}); err != nil {
				t.Fatal(err)
			}
			e.requireCheck()
			for _, s := range c.tamper {
				if _, err := e.pool.Exec(e.ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			rep, err := ledger.Check(e.ctx, e.pool)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, v := range rep.Violations {
				found = found || v.Invariant == c.invariant
			}
			if rep.OK() || !found || !strings.Contains(rep.String(), c.invariant) {
				t.Fatalf("check after %s: %s; want a %q violation", c.name, rep, c.invariant)
			}
		})
	}
}
