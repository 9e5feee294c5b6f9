package sim_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// stmtBase is the start of the statement tests' day.
var stmtBase = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// manualClock is an engine clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// at moves the clock to stmtBase + d.
func (c *manualClock) at(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = stmtBase.Add(d)
}

// statementDay is an engine with a day of orders in every shape a statement
// lists, and the provider order ids by merchant order number ("W1" for the
// orderless deposit).
type statementDay struct {
	e   *sim.Engine
	ids map[string]string
}

func newStatementDay(t *testing.T) statementDay {
	t.Helper()
	clock := &manualClock{t: stmtBase}
	e := sim.New(sim.Options{Provider: "test", Protocol: testProto{}, Scale: 1000, Seed: 7, Now: clock.now})
	t.Cleanup(e.Close)
	for _, id := range []string{"m1", "m2"} {
		e.AddMerchant(sim.Merchant{
			ID: id, Secret: "s",
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.02"), PayoutFixedFee: dec("1"),
			Balances: map[string]*sim.Balance{"USD": {Available: dec("1000")}},
		})
	}
	d := statementDay{e: e, ids: map[string]string{}}
	must := func(o *sim.Order, err error) *sim.Order {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	create := func(merchant, no string, kind providers.OrderKind, amount string) {
		t.Helper()
		o := must(e.CreateOrder(sim.Order{MerchantID: merchant, OrderNo: no, Kind: kind, Amount: dec(amount), Currency: "USD"}))
		d.ids[no] = o.ID
	}
	pay := func(no, amount string) {
		t.Helper()
		a := dec(amount)
		must(e.Pay(no, &a))
	}

	create("m1", "D1", providers.KindDeposit, "100")
	create("m1", "D2", providers.KindDeposit, "100")
	create("m1", "P1", providers.KindPayout, "300")
	create("m1", "P2", providers.KindPayout, "50")
	create("m1", "D3", providers.KindDeposit, "100")
	create("m1", "D4", providers.KindDeposit, "100")
	create("m1", "D5", providers.KindDeposit, "40")
	create("m1", "D6", providers.KindDeposit, "60")
	create("m1", "P3", providers.KindPayout, "200")
	create("m1", "D7", providers.KindDeposit, "70")
	create("m2", "D8", providers.KindDeposit, "80")

	clock.at(time.Minute)
	pay("D1", "100")
	clock.at(2 * time.Minute)
	pay("D2", "90.50") // payer-modified amount
	clock.at(3 * time.Minute)
	must(e.SettlePart("P1", dec("100")))
	clock.at(4 * time.Minute)
	must(e.SettlePart("P1", dec("200")))
	clock.at(5 * time.Minute)
	must(e.Settle("P2"))
	clock.at(6 * time.Minute)
	must(e.Fail("D3", "card declined"))
	clock.at(7 * time.Minute)
	must(e.Expire("D4"))
	clock.at(8 * time.Minute)
	pay("D5", "40")
	clock.at(9 * time.Minute)
	w := must(e.Deposit(sim.Order{MerchantID: "m1", UserID: "u1", Currency: "USD", Amount: dec("25")}))
	d.ids["W1"] = w.ID
	clock.at(10 * time.Minute)
	must(e.SettlePart("P3", dec("50"))) // P3 stays processing
	clock.at(11 * time.Minute)
	pay("D8", "80") // another merchant's
	clock.at(12 * time.Minute)
	must(e.Exchange(sim.Order{MerchantID: "m1", OrderNo: "X1", Kind: "exchange", Currency: "EUR", Amount: dec("9"), Paid: dec("9"), Credited: dec("9")}, "USD", dec("10")))
	clock.at(20 * time.Minute)
	must(e.Reverse("D5")) // reversed after the fact: listed when it settled, as reversed
	clock.at(30 * time.Minute)
	pay("D7", "70") // exactly at the end of the first window
	clock.at(40 * time.Minute)
	return d
}

// render writes a line compactly, times as minutes after stmtBase.
func (d statementDay) render(l sim.StatementLine) string {
	fee := "-"
	if l.Fee.Valid {
		fee = l.Fee.Decimal.String()
	}
	no := l.OrderNo
	if no == "" {
		no = "(none)"
	}
	return fmt.Sprintf("%s %s %s %s fee %s %s @%s part %q", no, l.Kind, l.Status, l.Amount, fee, l.Currency, l.SettledAt.Sub(stmtBase), l.PartID)
}

func TestStatementListsWhatSettledInTheWindow(t *testing.T) {
	d := newStatementDay(t)
	p1, p3 := d.ids["P1"], d.ids["P3"]
	tests := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"the day until the 30th minute", time.Minute, 30 * time.Minute, []string{
			`D1 deposit succeeded 100 fee 1 USD @1m0s part ""`,
			`D2 deposit succeeded 90.5 fee 0.9 USD @2m0s part ""`,
			`P1 payout succeeded 100 fee - USD @3m0s part "` + p1 + `-1"`,
			`P1 payout succeeded 200 fee 7 USD @4m0s part "` + p1 + `-2"`,
			`P2 payout succeeded 50 fee 2 USD @5m0s part ""`,
			`D3 deposit failed 100 fee - USD @6m0s part ""`,
			`D4 deposit expired 100 fee - USD @7m0s part ""`,
			`D5 deposit reversed 40 fee 0.4 USD @8m0s part ""`,
			`(none) deposit succeeded 25 fee 0.25 USD @9m0s part ""`,
			`P3 payout processing 50 fee - USD @10m0s part "` + p3 + `-1"`,
		}},
		{"one part of a payout", 3*time.Minute + time.Second, 4*time.Minute + time.Second, []string{
			`P1 payout succeeded 200 fee 7 USD @4m0s part "` + p1 + `-2"`,
		}},
		{"the end is exclusive, the start inclusive", 30 * time.Minute, 31 * time.Minute, []string{
			`D7 deposit succeeded 70 fee 0.7 USD @30m0s part ""`,
		}},
		{"a reversal does not move the order", 20 * time.Minute, 21 * time.Minute, nil},
		{"nothing settled", 0, time.Minute, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := d.e.Statement("m1", stmtBase.Add(tt.from), stmtBase.Add(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				got = append(got, d.render(l))
				if l.ProviderOrderID == "" {
					t.Errorf("line without a provider order id: %+v", l)
				}
				if want := d.ids[l.OrderNo]; l.OrderNo == "" && l.ProviderOrderID != d.ids["W1"] || l.OrderNo != "" && l.ProviderOrderID != want {
					t.Errorf("line %s has provider order id %s", l.OrderNo, l.ProviderOrderID)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("statement:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestWriteStatementCSV(t *testing.T) {
	d := newStatementDay(t)
	var buf bytes.Buffer
	if err := d.e.WriteStatement(&buf, "m1", stmtBase.Add(2*time.Minute), stmtBase.Add(4*time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	p1 := d.ids["P1"]
	want := "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at,part_id,requested\n" +
		"D2," + d.ids["D2"] + ",deposit,succeeded,90.50,0.90,USD,2025-03-01T00:02:00Z,,100\n" +
		"P1," + p1 + ",payout,succeeded,100,,USD,2025-03-01T00:03:00Z," + p1 + "-1,\n" +
		"P1," + p1 + ",payout,succeeded,200,7.00,USD,2025-03-01T00:04:00Z," + p1 + "-2,\n"
	if buf.String() != want {
		t.Fatalf("statement:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := d.e.WriteStatement(&buf, "m1", stmtBase, stmtBase.Add(time.Minute)); err != nil || buf.String() != strings.SplitAfter(want, "\n")[0] {
		t.Fatalf("empty window: %q, %v; want the header alone", buf.String(), err)
	}
}

func TestStatementRefusals(t *testing.T) {
	d := newStatementDay(t)
	tests := []struct {
		name     string
		merchant string
		from, to time.Time
		want     error
	}{
		{"unknown merchant", "nobody", stmtBase, stmtBase.Add(time.Hour), sim.ErrUnknownMerchant},
		{"empty window", "m1", stmtBase, stmtBase, sim.ErrBadWindow},
		{"reversed window", "m1", stmtBase.Add(time.Hour), stmtBase, sim.ErrBadWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := d.e.WriteStatement(&buf, tt.merchant, tt.from, tt.to)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("wrote %q before refusing", buf.String())
			}
		})
	}
}

func TestOrderSettledAt(t *testing.T) {
	d := newStatementDay(t)
	tests := []struct {
		no   string
		want time.Duration // -1: not settled
	}{
		{"D1", time.Minute}, {"P1", 4 * time.Minute}, {"D3", 6 * time.Minute}, {"D4", 7 * time.Minute},
		{"D5", 8 * time.Minute}, {"W1", 9 * time.Minute}, {"D6", -1}, {"P3", -1},
	}
	for _, tt := range tests {
		o, err := d.e.FindOrder("m1", d.ids[tt.no])
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tt.want < 0 && !o.SettledAt.IsZero():
			t.Errorf("%s (%s) settled at %s, want not settled", tt.no, o.Status, o.SettledAt)
		case tt.want >= 0 && !o.SettledAt.Equal(stmtBase.Add(tt.want)):
			t.Errorf("%s (%s) settled at %s, want %s", tt.no, o.Status, o.SettledAt, stmtBase.Add(tt.want))
		}
	}
}

func TestControlStatementRoute(t *testing.T) {
	d := newStatementDay(t)
	srv := httptest.NewServer(d.e.ControlHandler())
	defer srv.Close()
	var direct bytes.Buffer
	if err := d.e.WriteStatement(&direct, "m1", stmtBase, stmtBase.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		query  url.Values
		status int
		body   string // exact body for 200, a fragment of the error otherwise
	}{
		{"the statement", url.Values{"merchant_id": {"m1"}, "from": {"2025-03-01T00:00:00Z"}, "to": {"2025-03-01T01:00:00Z"}}, http.StatusOK, direct.String()},
		{"an offset and fractions", url.Values{"merchant_id": {"m1"}, "from": {"2025-03-01T08:00:00.000+08:00"}, "to": {"2025-03-01T09:00:00+08:00"}}, http.StatusOK, direct.String()},
		{"no merchant", url.Values{"from": {"2025-03-01T00:00:00Z"}, "to": {"2025-03-01T01:00:00Z"}}, http.StatusBadRequest, "merchant_id is required"},
		{"no from", url.Values{"merchant_id": {"m1"}, "to": {"2025-03-01T01:00:00Z"}}, http.StatusBadRequest, "from must be an RFC 3339 time"},
		{"bad to", url.Values{"merchant_id": {"m1"}, "from": {"2025-03-01T00:00:00Z"}, "to": {"2025-03-01 01:00"}}, http.StatusBadRequest, "to must be an RFC 3339 time"},
		{"empty window", url.Values{"merchant_id": {"m1"}, "from": {"2025-03-01T00:00:00Z"}, "to": {"2025-03-01T00:00:00Z"}}, http.StatusBadRequest, "window"},
		{"unknown merchant", url.Values{"merchant_id": {"nobody"}, "from": {"2025-03-01T00:00:00Z"}, "to": {"2025-03-01T01:00:00Z"}}, http.StatusNotFound, "unknown merchant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/statement?" + tt.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status == http.StatusOK {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
					t.Fatalf("Content-Type = %q, want text/csv", ct)
				}
				if string(body) != tt.body || strings.Count(tt.body, "\n") != 12 {
					t.Fatalf("body:\n%s\nwant (header and 11 lines):\n%s", body, tt.body)
				}
				return
			}
			if !strings.Contains(string(body), tt.body) {
				t.Fatalf("body %s does not mention %q", body, tt.body)
			}
		})
	}
}
