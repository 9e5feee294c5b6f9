package discrepancies_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/discrepancies"
)

// seed inserts n open discrepancies for each of merchants (types, severities,
// amounts and ages spread deterministically) in one statement, and returns
// the merchants' ids.
func seed(tb testing.TB, pool *pgxpool.Pool, merchants, n int) []int64 {
	tb.Helper()
	ctx := context.Background()
	var ids []int64
	for m := range merchants {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO merchants (code, name) VALUES ($1, $1) RETURNING id`, fmt.Sprintf("m%d", m)).Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	types := []string{"amount_mismatch", "status_mismatch", "missing_callback", "unknown_order", "stale_pending", "balance_drift"}
	sevs := []string{"low", "medium", "high", "critical"}
	_, err := pool.Exec(ctx, `
INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency, amount_delta, summary, first_seen_at, last_seen_at)
SELECT m.id, ($2::text[])[1 + i % 6], 'seed:' || m.id || ':' || i, ($3::text[])[1 + (i * 7) % 4], 'BRL',
       ((i * 37) % 1000 - 500)::numeric / 100, 'seeded', now() - (i % 900) * interval '1 hour', now()
FROM unnest($1::bigint[]) AS m(id), generate_series(1, $4::int) AS i`, ids, types, sevs, n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE discrepancies`); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// Every sort pages through exactly the rows its filters select, in order,
// each once; the assignment filter and the amount range apply; a cursor of
// another sort is refused.
func TestQueueSortsAndFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	ids := seed(t, pool, 2, 120)
	s := discrepancies.New()

	var all []discrepancies.Discrepancy
	for _, id := range ids {
		ds, err := s.List(ctx, pool, discrepancies.Filter{MerchantID: id, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ds...)
	}
	var staff int64
	if err := pool.QueryRow(ctx, `INSERT INTO staff_users (email, role, password_hash) VALUES ('ann@example.com', 'accountant', 'x') RETURNING id`).Scan(&staff); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, pool, all[0].ID, staff, "user:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, pool, all[1].ID, staff, "user:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, pool, all[1].ID, 0, "user:1"); err != nil {
		t.Fatal(err)
	}
	all[0].AssignedTo = staff

	rank := map[discrepancies.Severity]int{discrepancies.Low: 1, discrepancies.Medium: 2, discrepancies.High: 3, discrepancies.Critical: 4}
	less := map[discrepancies.Sort]func(a, b discrepancies.Discrepancy) bool{
		discrepancies.SortNewest: func(a, b discrepancies.Discrepancy) bool {
			return a.FirstSeenAt.After(b.FirstSeenAt) || a.FirstSeenAt.Equal(b.FirstSeenAt) && a.ID > b.ID
		},
		discrepancies.SortOldest: func(a, b discrepancies.Discrepancy) bool {
			return a.FirstSeenAt.Before(b.FirstSeenAt) || a.FirstSeenAt.Equal(b.FirstSeenAt) && a.ID < b.ID
		},
		discrepancies.SortAmountDesc: func(a, b discrepancies.Discrepancy) bool {
			c := a.AmountDelta.Abs().Cmp(b.AmountDelta.Abs())
			return c > 0 || c == 0 && a.ID > b.ID
		},
		discrepancies.SortAmountAsc: func(a, b discrepancies.Discrepancy) bool {
			c := a.AmountDelta.Abs().Cmp(b.AmountDelta.Abs())
			return c < 0 || c == 0 && a.ID < b.ID
		},
		discrepancies.SortSeverity: func(a, b discrepancies.Discrepancy) bool {
			return rank[a.Severity] > rank[b.Severity] || rank[a.Severity] == rank[b.Severity] && a.ID > b.ID
		},
	}
	min, max := decimal.NewNullDecimal(decimal.RequireFromString("1")), decimal.NewNullDecimal(decimal.RequireFromString("3.5"))
	cases := []struct {
		name  string
		q     discrepancies.Query
		match func(d discrepancies.Discrepancy) bool
	}{
		{"everything", discrepancies.Query{}, func(discrepancies.Discrepancy) bool { return true }},
		{"one merchant, open, two types", discrepancies.Query{MerchantIDs: ids[1:], Status: discrepancies.Open,
			Types: []discrepancies.Type{discrepancies.AmountMismatch, discrepancies.UnknownOrder}},
			func(d discrepancies.Discrepancy) bool {
				return d.MerchantID == ids[1] && (d.Type == discrepancies.AmountMismatch || d.Type == discrepancies.UnknownOrder)
			}},
		{"severity and amount range", discrepancies.Query{Severities: []discrepancies.Severity{discrepancies.High, discrepancies.Critical}, MinAmount: min, MaxAmount: max},
			func(d discrepancies.Discrepancy) bool {
				a := d.AmountDelta.Abs()
				return (d.Severity == discrepancies.High || d.Severity == discrepancies.Critical) && a.Cmp(min.Decimal) >= 0 && a.Cmp(max.Decimal) <= 0
			}},
		{"older than 10 days", discrepancies.Query{OpenedBefore: time.Now().Add(-240 * time.Hour)},
			func(d discrepancies.Discrepancy) bool { return d.FirstSeenAt.Before(time.Now().Add(-240 * time.Hour)) }},
		{"assigned to the user", discrepancies.Query{AssignedTo: staff}, func(d discrepancies.Discrepancy) bool { return d.AssignedTo == staff }},
		{"unassigned", discrepancies.Query{AssignedTo: discrepancies.Unassigned}, func(d discrepancies.Discrepancy) bool { return d.AssignedTo == 0 }},
	}
	for _, c := range cases {
		for _, sortBy := range discrepancies.Sorts {
			var want []int64
			sorted := append([]discrepancies.Discrepancy(nil), all...)
			sort.Slice(sorted, func(i, j int) bool { return less[sortBy](sorted[i], sorted[j]) })
			for _, d := range sorted {
				if c.match(d) {
					want = append(want, d.ID)
				}
			}
			q := c.q
			q.Sort, q.Limit = sortBy, 17
			var got []int64
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("%s by %s: too many pages", c.name, sortBy)
				}
				page, err := s.Query(ctx, pool, q)
				if err != nil {
					t.Fatalf("%s by %s: %v", c.name, sortBy, err)
				}
				for _, d := range page.Items {
					got = append(got, d.ID)
				}
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s by %s:\n got %v\nwant %v", c.name, sortBy, got, want)
			}
		}
	}
	first, err := s.Query(ctx, pool, discrepancies.Query{Sort: discrepancies.SortNewest, Limit: 5})
	if err != nil || first.Next == "" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	if _, err := s.Query(ctx, pool, discrepancies.Query{Sort: discrepancies.SortAmountDesc, Cursor: first.Next}); !errors.Is(err, discrepancies.ErrBadQuery) {
		t.Fatalf("another sort's cursor: %v, want ErrBadQuery", err)
	}
	for _, bad := range []discrepancies.Query{{Sort: "random"}, {Status: "closed"}, {Types: []discrepancies.Type{"x"}}, {Cursor: "!!"}, {MinAmount: max, MaxAmount: min}} {
		if _, err := s.Query(ctx, pool, bad); !errors.Is(err, discrepancies.ErrBadQuery) {
			t.Errorf("query %+v: %v, want ErrBadQuery", bad, err)
		}
	}

	sum, err := s.OpenSummary(ctx, pool, ids[:1])
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 120 || sum.ByType[discrepancies.AmountMismatch] != 20 || sum.BySeverity[discrepancies.Critical]+sum.BySeverity[discrepancies.High]+
		sum.BySeverity[discrepancies.Medium]+sum.BySeverity[discrepancies.Low] != 120 {
		t.Fatalf("summary = %+v", sum)
	}
	// i = 1..120 hours old: 23 under a day (1..23), 120-23 from 1 to 7 days.
	if sum.ByAge[discrepancies.AgeUnderDay] != 23 || sum.ByAge[discrepancies.AgeDayToWeek] != 97 {
		t.Fatalf("summary by age = %v", sum.ByAge)
	}
	evs, err := s.Events(ctx, pool, all[1].ID)
	if err != nil || len(evs) != 2 || evs[0].Action != "assigned" || evs[1].Note != "unassigned" || evs[1].Actor != "user:1" {
		t.Fatalf("assignment trail = %+v %v", evs, err)
	}
	// A closed discrepancy is not assigned.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := s.CloseTx(ctx, tx, all[2].ID, discrepancies.Ignored, "ignore", "user:1", "noise", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, pool, all[2].ID, staff, "user:1"); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("assigning a closed discrepancy: %v, want ErrClosed", err)
	}
}

// BenchmarkQueue measures the console queue's first page over 100,000 open
// discrepancies (two merchants of 50,000): open ones of two types, largest
// amount first, and the default sort with a severity filter.
//
//	go test -run '^$' -bench BenchmarkQueue ./discrepancies/
func BenchmarkQueue(b *testing.B) {
	ctx := context.Background()
	pool := testdb.New(b)
	ids := seed(b, pool, 2, 50_000)
	s := discrepancies.New()
	queries := map[string]discrepancies.Query{
		"types_amount_desc": {MerchantIDs: ids, Status: discrepancies.Open, Types: []discrepancies.Type{discrepancies.AmountMismatch, discrepancies.UnknownOrder},
			Sort: discrepancies.SortAmountDesc},
		"severity_newest":  {Status: discrepancies.Open, Severities: []discrepancies.Severity{discrepancies.Critical}, Sort: discrepancies.SortNewest},
		"one_merchant_sev": {MerchantIDs: ids[:1], Status: discrepancies.Open, Sort: discrepancies.SortSeverity},
		"old_unassigned":   {Status: discrepancies.Open, AssignedTo: discrepancies.Unassigned, OpenedBefore: time.Now().Add(-30 * 24 * time.Hour), Sort: discrepancies.SortOldest},
		"amount_range_asc": {Status: discrepancies.Open, MinAmount: decimal.NewNullDecimal(decimal.RequireFromString("4")), Sort: discrepancies.SortAmountAsc},
	}
	names := make([]string, 0, len(queries))
	for n := range queries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		q := queries[n]
		q.Limit = 50
		b.Run(n, func(b *testing.B) {
			for b.Loop() {
				page, err := s.Query(ctx, pool, q)
				if err != nil || len(page.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(page.Items), err)
				}
			}
		})
	}
}
