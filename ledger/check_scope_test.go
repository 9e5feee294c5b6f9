package ledger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tallyhq/tally/ledger"
)

// CheckMerchant sees one merchant's ledger only: a ledger broken for merchant
// A is found by A's check and the platform's, while B's check passes with B's
// own counts and names nothing of A's.
func TestCheckMerchantScope(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		tamper    []string // $1 is merchant A's id
		invariant string
	}{
		{"balance edited", []string{`UPDATE balances SET credits_posted = credits_posted + 1
			WHERE account_id = (SELECT id FROM accounts WHERE merchant_id = $1 AND code LIKE 'liabilities:customer:c1:%')`},
			"balance rows equal their entries"},
		{"unbalanced transfer", []string{`INSERT INTO entries (merchant_id, transfer_id, account_id, slot, side, phase, amount, currency, created_at)
			SELECT merchant_id, transfer_id, account_id, slot, side, phase, 1, currency, created_at FROM entries WHERE merchant_id = $1 ORDER BY id LIMIT 1`},
			"transfers balance per currency"},
		{"hold reopened", []string{"UPDATE transfers SET state = 'pending' WHERE state = 'committed' AND merchant_id = $1"},
			"holds are in the state their resolutions say"},
		{"pending drift", []string{`UPDATE balances SET debits_pending = debits_pending + 2
			WHERE account_id = (SELECT id FROM accounts WHERE merchant_id = $1 AND code LIKE 'liabilities:customer:c1:%')`},
			"pending balances equal open holds"},
		{"balance row of another merchant", []string{`UPDATE balances SET merchant_id = merchant_id + 1000
			WHERE account_id = (SELECT id FROM accounts WHERE merchant_id = $1 AND code LIKE 'liabilities:customer:c1:%')`},
			"balance rows match their account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := newEnv(t)
			bm, err := ensureMerchant(a.ctx, a.pool, "m2", "Merchant Two")
			if err != nil {
				t.Fatal(err)
			}
			b := *a
			b.m = bm.ID
			for _, e := range []*env{a, &b} {
				e.fund(cust1, "100")
				r := e.move("hold", cust1, prov, "30")
				r.Pending = true
				h := e.transfer(r)
				if _, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: "post", Hold: h.ID, Amount: d("10")}); err != nil {
					t.Fatal(err)
				}
			}
			b.fund(cust2, "7") // B's ledger differs in size from A's
			a.requireCheck()
			before := checkMerchant(t, &b)
			if !before.OK() || before.MerchantID != b.m {
				t.Fatalf("B before: %s", before)
			}
			var transfers, entries, accounts int64
			if err := a.pool.QueryRow(a.ctx, `SELECT (SELECT count(*) FROM transfers WHERE merchant_id = $1),
				(SELECT count(*) FROM entries WHERE merchant_id = $1), (SELECT count(*) FROM accounts WHERE merchant_id = $1)`,
				b.m).Scan(&transfers, &entries, &accounts); err != nil {
				t.Fatal(err)
			}
			if before.Transfers != transfers || before.Entries != entries || before.Accounts != accounts || before.OpenHolds != 0 {
				t.Fatalf("B's counts %d/%d/%d, B has %d transfers, %d entries, %d accounts", before.Transfers, before.Entries, before.Accounts,
					transfers, entries, accounts)
			}
			for _, s := range c.tamper {
				if _, err := a.pool.Exec(a.ctx, s, a.m); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}

			after := checkMerchant(t, &b)
			if !after.OK() || after.Transfers != before.Transfers || after.Entries != before.Entries || after.Accounts != before.Accounts {
				t.Fatalf("B's check after A's ledger broke: %s (before: %s)", after, before)
			}
			repA := checkMerchant(t, a)
			if repA.OK() || !hasInvariant(repA, c.invariant) {
				t.Fatalf("A's check: %s; want a %q violation", repA, c.invariant)
			}
			all, err := ledger.Check(a.ctx, a.pool)
			if err != nil {
				t.Fatal(err)
			}
			if all.OK() || !hasInvariant(all, c.invariant) || all.MerchantID != 0 || !strings.HasPrefix(all.String(), "ledger check: ") {
				t.Fatalf("platform check: %s; want a %q violation", all, c.invariant)
			}
			if all.Transfers <= repA.Transfers || all.Transfers != repA.Transfers+after.Transfers {
				t.Fatalf("platform counts %d transfers, A %d, B %d", all.Transfers, repA.Transfers, after.Transfers)
			}
		})
	}
}

// An entry that mixes merchants (A's transfer, B's account) is a violation of
// both merchants' ledgers: it moved B's balance.
func TestCheckMerchantEntryAcrossMerchants(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	bm, err := ensureMerchant(a.ctx, a.pool, "m2", "Merchant Two")
	if err != nil {
		t.Fatal(err)
	}
	b := *a
	b.m = bm.ID
	a.fund(cust1, "100")
	b.fund(cust1, "50")
	if _, err := a.pool.Exec(a.ctx, `INSERT INTO entries (merchant_id, transfer_id, account_id, slot, side, phase, amount, currency, created_at)
		SELECT $1, t.id, (SELECT id FROM accounts WHERE merchant_id = $2 AND code = $3), 0, 'credit', 'posted', 1, 'USDT', t.created_at
		FROM transfers t WHERE t.merchant_id = $1 ORDER BY t.id LIMIT 1`, a.m, b.m, cust1); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*env{a, &b} {
		if rep := checkMerchant(t, e); !hasInvariant(rep, "entries match their account") {
			t.Errorf("merchant %d: %s; want the mixed entry", e.m, rep)
		}
	}
}

func TestCheckMerchantRefusesNoMerchant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := ledger.CheckMerchant(e.ctx, e.pool, 0); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("CheckMerchant(0) = %v, want ErrInvalid", err)
	}
}

func checkMerchant(t *testing.T, e *env) ledger.Report {
	t.Helper()
	rep, err := ledger.CheckMerchant(e.ctx, e.pool, e.m)
	if err != nil {
		t.Fatalf("check merchant %d: %v", e.m, err)
	}
	return rep
}

func hasInvariant(rep ledger.Report, invariant string) bool {
	for _, v := range rep.Violations {
		if v.Invariant == invariant {
			return true
		}
	}
	return false
}
