package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
)

// account creates a merchant with one provider account and returns their ids.
func (s *site) account(code, name string) (merchantID, accountID int64) {
	s.t.Helper()
	ctx := context.Background()
	m, err := s.merchants.EnsureMerchant(ctx, code, code)
	if err != nil {
		s.t.Fatal(err)
	}
	a, err := s.merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: code, Name: name, Provider: "cpay",
		BaseURL: "https://cpay.example.com", ProviderMerchantID: "1", Secret: "s", Operator: true})
	if err != nil {
		s.t.Fatal(err)
	}
	return m.ID, a.ID
}

// order inserts an order as the pipeline leaves it: status, the money it
// moved (paid, in settled) and its final time.
func (s *site) order(merchantID, accountID int64, kind, status, amount, currency, paid, settled string, final time.Time) int64 {
	s.t.Helper()
	var id int64
	err := s.pool.QueryRow(context.Background(), `
INSERT INTO orders (merchant_id, provider_account_id, kind, provider_order_no, customer_id, amount, currency, pay_currency,
                    status, paid_amount, settled_currency, final_at)
VALUES ($1, $2, $3, 'p-' || gen_random_uuid(), 'c1', $4, $5, $5, $6, nullif($7, '')::numeric, $8, $9) RETURNING id`,
		merchantID, accountID, kind, amount, currency, status, paid, settled, final).Scan(&id)
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// discrepancy inserts a discrepancy (orderID 0 for none) first seen at seen.
func (s *site) discrepancy(merchantID, orderID int64, typ, status, currency, delta string, seen time.Time) {
	s.t.Helper()
	var oid *int64
	if orderID != 0 {
		oid = &orderID
	}
	if _, err := s.pool.Exec(context.Background(), `
INSERT INTO discrepancies (merchant_id, order_id, type, fingerprint, status, severity, currency, amount_delta, summary, first_seen_at)
VALUES ($1, $2, $3, 'fp-' || gen_random_uuid(), $4, 'medium', $5, $6, 'test', $7)`,
		merchantID, oid, typ, status, currency, delta, seen); err != nil {
		s.t.Fatal(err)
	}
}

// The chart of matched against mismatched amounts counts facts, not runs:
// matched is the money of the orders that succeeded that day paid exactly
// as ordered, mismatched the absolute deltas of
// the amount discrepancies first seen that day; both per UTC day and
// currency, scoped to the merchants the user sees.
func TestOverviewChart(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	m1, a1 := s.account("m1", "cpay-m1")
	m2, a2 := s.account("m2", "cpay-m2")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	noon, past := today.Add(time.Hour), today.AddDate(0, 0, -3).Add(23*time.Hour)

	s.order(m1, a1, "deposit", "succeeded", "100", "BRL", "100", "BRL", noon)
	s.order(m1, a1, "payout", "succeeded", "40", "BRL", "40", "BRL", noon)
	s.order(m1, a1, "deposit", "succeeded", "7", "BRL", "7", "BRL", past)
	s.order(m1, a1, "deposit", "succeeded", "999", "BRL", "999", "BRL", today.AddDate(0, 0, -40))
	s.order(m1, a1, "deposit", "failed", "80", "BRL", "", "", noon)
	s.order(m1, a1, "deposit", "succeeded", "12", "USDT", "12", "USDT", noon)
	// Paid another amount than ordered, or in another currency: a mismatch
	// (its discrepancy carries the money), not matched.
	s.order(m1, a1, "deposit", "succeeded", "25", "BRL", "24.5", "BRL", noon)
	s.order(m1, a1, "deposit", "succeeded", "9", "BRL", "9", "USDT", noon)
	d := s.order(m1, a1, "deposit", "succeeded", "50", "BRL", "55", "BRL", noon)
	s.discrepancy(m1, d, "amount_mismatch", "open", "BRL", "5", noon)
	// Paid as ordered, with a fee that differs: the order's money matched,
	// the fee's difference is a mismatch the day it was seen.
	d = s.order(m1, a1, "deposit", "succeeded", "60", "BRL", "60", "BRL", noon)
	s.discrepancy(m1, d, "fee_mismatch", "resolved", "BRL", "-2", past)
	// An ignored discrepancy was still a mismatch the day it was seen; one
	// about time is none.
	d = s.order(m1, a1, "deposit", "succeeded", "30", "BRL", "30", "BRL", noon)
	s.discrepancy(m1, d, "amount_mismatch", "ignored", "BRL", "1", noon)
	d = s.order(m1, a1, "deposit", "succeeded", "20", "BRL", "20", "BRL", noon)
	s.discrepancy(m1, d, "missing_callback", "resolved", "BRL", "20", noon)
	s.discrepancy(m1, 0, "balance_drift", "open", "BRL", "-3.5", noon)
	s.discrepancy(m1, 0, "stale_pending", "open", "BRL", "70", noon)
	s.discrepancy(m1, 0, "balance_drift", "open", "BRL", "1000", today.AddDate(0, 0, -31))
	// Another merchant's.
	s.order(m2, a2, "deposit", "succeeded", "1000", "BRL", "1000", "BRL", noon)
	s.discrepancy(m2, 0, "balance_drift", "open", "BRL", "300", noon)

	_, mine := s.user("one@example.com", staff.Viewer, m1)
	_, all := s.user("all@example.com", staff.Viewer)
	day := func(at time.Time, matched, mismatched string) string {
		return fmt.Sprintf("<title>%s: matched %s, mismatched %s</title>", at.Format("2006-01-02"), matched, mismatched)
	}
	for _, tc := range []struct {
		name, token, path string
		want              []string
	}{
		{"merchant m1", mine, "/console/", []string{
			day(today, "250.00", "9.50"), day(past, "7.00", "2.00"), day(today.AddDate(0, 0, -29), "0.00", "0.00")}},
		{"every merchant", all, "/console/", []string{day(today, "1,250.00", "309.50"), day(past, "7.00", "2.00")}},
		{"USDT", mine, "/console/?currency=USDT", []string{day(today, "12.00000000", "0.00000000")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.do("GET", tc.path, tc.token, nil)
			if a.status != http.StatusOK {
				t.Fatalf("overview: %d", a.status)
			}
			if n := strings.Count(a.body, "<title>"); n != 30+1 {
				t.Errorf("%d titles, want 30 days and the page's", n)
			}
			for _, w := range tc.want {
				if !strings.Contains(a.body, w) {
					t.Errorf("overview lacks %q", w)
				}
			}
			if strings.Contains(a.body, today.AddDate(0, 0, -30).Format("2006-01-02")+":") {
				t.Error("the chart shows a 31st day")
			}
			if !strings.Contains(a.body, `id="chart-caption"`) {
				t.Error("the chart has no caption saying what it counts")
			}
		})
	}
}

// run stores a completed run with its summary's balance lines, as a run
// leaves it.
func (s *site) run(merchantID int64, kind recon.RunKind, lines ...recon.BalanceLine) int64 {
	s.t.Helper()
	sum, err := json.Marshal(recon.Summary{Kind: kind, Balances: lines})
	if err != nil {
		s.t.Fatal(err)
	}
	var id int64
	if err := s.pool.QueryRow(context.Background(), `
INSERT INTO recon_runs (merchant_id, kind, window_start, window_end, trigger, status, summary, finished_at)
VALUES ($1, $2, now() - interval '1 hour', now(), 'test', 'completed', $3, now()) RETURNING id`,
		merchantID, kind, sum).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// The balances show each account and currency as of its last balance
// reconciliation, every figure from that run (so drift = provider −
// (ledger + in flight) on the page), and stop reading runs once every
// account was seen.
func TestOverviewBalancesAsOfTheRun(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	m1, _ := s.account("m1", "cpay-m1")
	dec := decimal.RequireFromString
	line := func(ledger, provider, inFlight string) recon.BalanceLine {
		l, p, f := dec(ledger), dec(provider), dec(inFlight)
		d := p.Sub(l.Add(f))
		return recon.BalanceLine{ProviderAccount: "cpay-m1", Currency: "BRL", Ledger: l, Provider: p, InFlight: f, Difference: d, OK: d.IsZero()}
	}
	s.run(m1, recon.KindBalances, line("1", "2", "0"))
	latest := s.run(m1, recon.KindFull, line("700.25", "1000.00", "250.00"))
	s.run(m1, recon.KindOrders)
	// The ledger now differs from what the run compared: the page shows the run's.
	_, token := s.user("ann@example.com", staff.Viewer)
	a := s.do("GET", "/console/", token, nil)
	if a.status != http.StatusOK {
		t.Fatalf("overview: %d", a.status)
	}
	tbody := a.body[strings.Index(a.body, `<table id="balances">`):]
	tbody = tbody[:strings.Index(tbody, "</table>")]
	if n := strings.Count(tbody, "<tr>"); n != 2 { // header and one row
		t.Fatalf("balances: %d rows: %s", n-1, tbody)
	}
	for _, w := range []string{">700.25<", ">1,000.00<", ">250.00<", ">49.75 ", fmt.Sprintf("/console/runs/%d", latest), "as of the run"} {
		if !strings.Contains(tbody, w) {
			t.Errorf("balances lack %q: %s", w, tbody)
		}
	}
}

// The approvals pager links a next page only when rows follow: exactly a
// page of proposals left gives none.
func TestApprovalsPagerExactPage(t *testing.T) {
	t.Parallel()
	s := newSitePaged(t, 3)
	m1, _ := s.account("m1", "cpay-m1")
	_, token := s.user("ann@example.com", staff.Viewer)
	propose := func(n int) {
		for range n {
			var d int64
			if err := s.pool.QueryRow(context.Background(), `
INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency, amount_delta, summary)
VALUES ($1, 'amount_mismatch', 'fp-' || gen_random_uuid(), 'medium', 'BRL', 1, 'test') RETURNING id`, m1).Scan(&d); err != nil {
				t.Fatal(err)
			}
			if _, err := s.pool.Exec(context.Background(), `
INSERT INTO resolution_proposals (discrepancy_id, merchant_id, action, amount, currency, reason, maker)
VALUES ($1, $2, 'write_off', 1, 'BRL', 'test', 'user:999')`, d, m1); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := func(path string) (rows int, link string) {
		a := s.do("GET", path, token, nil)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d", path, a.status)
		}
		if i := strings.Index(a.body, `rel="next"`); i >= 0 {
			j := strings.LastIndex(a.body[:i], `href="`)
			link = strings.ReplaceAll(a.body[j+6:i-2], "&amp;", "&")
		}
		return strings.Count(a.body, `data-proposal="`), link
	}
	propose(3)
	if _, link := next("/console/approvals"); link != "" {
		t.Errorf("exactly a page: next page %q", link)
	}
	propose(3)
	_, link := next("/console/approvals")
	if link == "" {
		t.Fatal("two pages: no next page")
	}
	if _, link2 := next(link); link2 != "" {
		t.Errorf("the last page, exactly full: next page %q", link2)
	}
}

// An order page shows its newest 100 webhook attempts and pages to older
// ones through a keyset link.
func TestOrderDeliveriesPaged(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	m1, a1 := s.account("m1", "cpay-m1")
	id := s.order(m1, a1, "deposit", "succeeded", "10", "BRL", "10", "BRL", time.Now())
	if _, err := s.pool.Exec(context.Background(), `
INSERT INTO webhook_deliveries (merchant_id, order_id, event_id, url, attempt, status_code, delivered)
SELECT $1, $2, i, 'https://hooks.example.com/h', i, 500, false FROM generate_series(1, 230) i`, m1, id); err != nil {
		t.Fatal(err)
	}
	_, token := s.user("ann@example.com", staff.Viewer)
	path := fmt.Sprintf("/console/orders/%d", id)
	var attempts []int
	for page := 0; path != ""; page++ {
		if page > 3 {
			t.Fatal("paging does not end")
		}
		a := s.do("GET", path, token, nil)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d", path, a.status)
		}
		table := a.body[strings.Index(a.body, `<table id="deliveries">`):]
		table = table[:strings.Index(table, "</table>")]
		n := 0
		for _, cell := range strings.Split(table, `<td class="num">`)[1:] {
			// Every row's first number cell is its attempt.
			if n%3 == 0 {
				var v int
				fmt.Sscanf(cell, "%d", &v)
				attempts = append(attempts, v)
			}
			n++
		}
		if rows := n / 3; rows != []int{100, 100, 30}[page] {
			t.Errorf("page %d: %d attempts", page, rows)
		}
		path = ""
		if i := strings.Index(a.body, `id="deliveries-older"`); i >= 0 {
			j := strings.LastIndex(a.body[:i], `href="`)
			path = strings.ReplaceAll(a.body[j+6:i-2], "&amp;", "&")
		}
	}
	if len(attempts) != 230 || attempts[0] != 230 || attempts[229] != 1 {
		t.Fatalf("attempts: %d, first %d", len(attempts), attempts[0])
	}
	for i := 1; i < len(attempts); i++ {
		if attempts[i] != attempts[i-1]-1 {
			t.Fatalf("attempt %d follows %d", attempts[i], attempts[i-1])
		}
	}
}
