package console_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/tallyhq/tally/staff"
)

// BenchmarkQueuePage measures the open items page's server time (the whole
// handler: session, filter, query, names, template) with 100,000 open
// discrepancies. The issue wants under 300 ms.
func BenchmarkQueuePage(b *testing.B) {
	s := newSiteTB(b)
	ctx := context.Background()
	m, err := s.merchants.EnsureMerchant(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency, amount_delta, summary, first_seen_at)
		SELECT $1, (ARRAY['amount_mismatch','reversal','fee_mismatch','missing_callback'])[1 + i % 4], 'bench:' || i,
		(ARRAY['low','medium','high','critical'])[1 + i % 4], 'BRL', (i % 9973) / 100.0, 'bench ' || i, now() - (i || ' seconds')::interval
		FROM generate_series(1, 100000) i`, m.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE discrepancies"); err != nil {
		b.Fatal(err)
	}
	_, token := s.user("bench@example.com", staff.Viewer)
	for _, path := range []string{
		"/console/discrepancies",
		"/console/discrepancies?type=amount_mismatch&sort=amount_desc",
		"/console/discrepancies?severity=high&sort=severity",
		"/console/discrepancies?sort=oldest&min=10&max=50",
	} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				if a := s.do("GET", path, token, nil); a.status != http.StatusOK {
					b.Fatalf("%s: %d", path, a.status)
				}
			}
		})
	}
}
