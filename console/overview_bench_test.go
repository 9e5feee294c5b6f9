package console_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tallyhq/tally/staff"
)

// BenchmarkOverviewPage measures the overview's server time (the whole
// handler: session, runs, balances, open counts, chart, template) with
// 100,000 orders over 60 days (90% succeeded), 10,000 amount discrepancies
// on them and 100,000 open discrepancies of other kinds, for a user who sees
// every merchant and one limited to one of two merchants.
func BenchmarkOverviewPage(b *testing.B) {
	s := newSiteTB(b)
	ctx := context.Background()
	m1, a1 := s.account("m1", "cpay-m1")
	s.account("m2", "cpay-m2")
	if _, err := s.pool.Exec(ctx, `
INSERT INTO orders (merchant_id, provider_account_id, kind, provider_order_no, customer_id, amount, currency, pay_currency,
                    status, paid_amount, settled_currency, final_at, created_at)
SELECT $1, $2, (ARRAY['deposit','payout'])[1 + i % 2], 'b-' || i, 'c' || (i % 500), 10 + i % 1000, 'BRL', 'BRL',
       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 10 + i % 1000 END, 'BRL',
       now() - (i::bigint * 51840 / 1000) * interval '1 second', now() - (i::bigint * 51840 / 1000) * interval '1 second' - interval '5 minutes'
FROM generate_series(1, 100000) i`, m1, a1); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `
INSERT INTO discrepancies (merchant_id, provider_account_id, order_id, type, fingerprint, severity, currency, amount_delta, summary, first_seen_at, status)
SELECT o.merchant_id, o.provider_account_id, o.id, (ARRAY['amount_mismatch','fee_mismatch','reversal'])[1 + o.id % 3], 'bo:' || o.id,
       'medium', 'BRL', (o.id % 97) - 48, 'bench', o.final_at, (ARRAY['open','resolved','ignored'])[1 + o.id % 3]
FROM orders o WHERE o.id % 10 = 5`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `
INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency, amount_delta, summary, first_seen_at)
SELECT $1, (ARRAY['stale_pending','missing_callback','balance_drift'])[1 + i % 3], 'bd:' || i, 'low', 'BRL', i % 50, 'bench',
       now() - (i || ' minutes')::interval
FROM generate_series(1, 100000) i`, m1); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE orders; ANALYZE discrepancies"); err != nil {
		b.Fatal(err)
	}
	_, all := s.user("all@example.com", staff.Viewer)
	_, one := s.user("one@example.com", staff.Viewer, m1)
	for name, token := range map[string]string{"all merchants": all, "one merchant": one} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if a := s.do("GET", "/console/", token, nil); a.status != http.StatusOK {
					b.Fatalf("overview: %d", a.status)
				}
			}
		})
	}
}
