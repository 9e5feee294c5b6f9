package statement_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
	"github.com/tallyhq/tally/recon/statement"
)

// silent is a simulator protocol that sends no callbacks.
type silent struct{}

func (silent) Callback(*sim.Merchant, *sim.Order, bool) (*sim.Outbound, error) { return nil, nil }
func (silent) Schedule() []time.Duration                                       { return nil }
func (silent) Ack() string                                                     { return "ok" }

// busyEngine is a simulator with orders in every shape a statement lists:
// deposits paid exactly and differently at several scales, payouts settled at
// once and in three parts, failures, expiries, reversals, open orders and
// orderless wallet deposits, one a minute from start.
func busyEngine(t *testing.T, start time.Time, n int) *sim.Engine {
	t.Helper()
	now := start
	e := sim.New(sim.Options{Provider: "test", Protocol: silent{}, AmountDecimals: 6, Now: func() time.Time { return now }})
	t.Cleanup(e.Close)
	e.AddMerchant(sim.Merchant{ID: "m1", DepositFeeRate: decimal.RequireFromString("0.015"),
		PayoutFeeRate: decimal.RequireFromString("0.01"), PayoutFixedFee: decimal.RequireFromString("0.5"),
		Balances: map[string]*sim.Balance{"USDT": {Available: decimal.RequireFromString("1000000")}}})
	check := func(_ *sim.Order, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		now = start.Add(time.Duration(i) * time.Minute)
		no := fmt.Sprintf("ORD-%04d", i)
		amount := decimal.New(int64(1000+i*37), -int32(i%7)) // 0 to 6 decimals
		switch i % 9 {
		case 0, 1, 2: // deposits: paid exactly, paid less, reversed
			check(e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: no, Kind: providers.KindDeposit, Amount: amount, Currency: "USDT"}))
			paid := amount
			if i%9 == 1 {
				paid = amount.Mul(decimal.RequireFromString("0.9")).Truncate(6)
			}
			check(e.Pay(no, &paid))
			if i%9 == 2 {
				check(e.Reverse(no))
			}
		case 3: // a payout settled at once
			check(e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: no, Kind: providers.KindPayout, Amount: amount, Currency: "USDT"}))
			check(e.Settle(no))
		case 4: // a payout settled in three parts
			check(e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: no, Kind: providers.KindPayout, Amount: decimal.NewFromInt(300), Currency: "USDT"}))
			for _, p := range []int64{100, 150, 50} {
				check(e.SettlePart(no, decimal.NewFromInt(p)))
			}
		case 5:
			check(e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: no, Kind: providers.KindDeposit, Amount: amount, Currency: "USDT"}))
			check(e.Fail(no, "declined, by the bank"))
		case 6:
			check(e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: no, Kind: providers.KindDeposit, Amount: amount, Currency: "USDT"}))
			check(e.Expire(no))
		case 7: // open: not listed
			check(e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: no, Kind: providers.KindDeposit, Amount: amount, Currency: "USDT"}))
		case 8: // a wallet deposit without an order
			check(e.Deposit(sim.Order{MerchantID: "m1", UserID: "u" + no, Currency: "USDT", Amount: amount}))
		}
	}
	return e
}

// TestEngineStatementParses reads what the simulator exports, through
// WriteStatement and the control API, with this package's Reader: every line
// parses, and each is the engine's line.
func TestEngineStatementParses(t *testing.T) {
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	e := busyEngine(t, start, 200)
	from, to := start, start.Add(200*time.Minute)
	want, err := e.Statement("m1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, l := range want {
		switch {
		case l.PartID != "":
			kinds["part"]++
		case l.OrderNo == "":
			kinds["orderless"]++
		default:
			kinds[string(l.Status)]++
		}
	}
	if len(want) < 150 || kinds["part"] == 0 || kinds["orderless"] == 0 || kinds["reversed"] == 0 || kinds["failed"] == 0 || kinds["expired"] == 0 {
		t.Fatalf("the engine's statement lacks a shape: %d lines, %v", len(want), kinds)
	}

	var direct bytes.Buffer
	if err := e.WriteStatement(&direct, "m1", from, to); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.ControlHandler())
	defer srv.Close()
	q := url.Values{"merchant_id": {"m1"}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	resp, err := http.Get(srv.URL + "/statement?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	viaHTTP, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /statement: %d %v", resp.StatusCode, err)
	}

	for name, file := range map[string][]byte{"WriteStatement": direct.Bytes(), "GET /statement": viaHTTP} {
		t.Run(name, func(t *testing.T) {
			r, err := statement.NewReader(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				l, err := r.Next()
				if errors.Is(err, io.EOF) {
					if i != len(want) {
						t.Fatalf("read %d lines, the engine listed %d", i, len(want))
					}
					return
				}
				if err != nil {
					t.Fatalf("line %d: %v", i+2, err)
				}
				if i >= len(want) {
					t.Fatalf("more lines than the engine listed: %+v", l)
				}
				w := want[i]
				if l.LineNo != i+2 || l.OrderNo != w.OrderNo || l.ProviderOrderID != w.ProviderOrderID || l.Kind != w.Kind || l.Status != w.Status ||
					!l.Amount.Equal(w.Amount) || l.Fee.Valid != w.Fee.Valid || !l.Fee.Decimal.Equal(w.Fee.Decimal) ||
					l.Currency != w.Currency || !l.SettledAt.Equal(w.SettledAt) || l.PartID != w.PartID {
					t.Fatalf("line %d = %+v, the engine's %+v", i+2, l, w)
				}
			}
		})
	}
}
