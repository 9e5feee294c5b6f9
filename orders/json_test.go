package orders_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

// TestOrderJSONAmountsAtScale: an order's amounts are strings at their
// currency's scale (the order's currency for amount, the settled currency
// for what was paid, credited and charged, and the parts), digits beyond the
// scale kept; an amount not known yet is left out, never null.
func TestOrderJSONAmountsAtScale(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	for _, c := range []struct {
		name string
		o    orders.Order
		want map[string]any
	}{
		{"USD open", orders.Order{Amount: d("100.5"), Currency: "USD", PayCurrency: "USD"},
			map[string]any{"amount": "100.50", "paid_amount": nil, "fee": nil, "credited_amount": nil, "fx_rate": nil}},
		{"USD settled", orders.Order{Amount: d("100.5"), Currency: "USD", SettledCurrency: "USD", PaidAmount: providers.Nullable(d("100.5")),
			CreditedAmount: providers.Nullable(d("99")), Fee: providers.Nullable(d("1.5"))},
			map[string]any{"amount": "100.50", "paid_amount": "100.50", "credited_amount": "99.00", "fee": "1.50"}},
		{"JPY", orders.Order{Amount: d("1000"), Currency: "JPY", SettledCurrency: "JPY", PaidAmount: providers.Nullable(d("1000.000"))},
			map[string]any{"amount": "1000", "paid_amount": "1000"}},
		{"USDT parts", orders.Order{Amount: d("10"), Currency: "USDT", PayCurrency: "USDT", SettledCurrency: "USDT",
			PaidAmount: providers.Nullable(d("10.5")), FXRate: providers.Nullable(d("7.1")),
			Parts: []providers.Part{{ID: "p1", Amount: d("4.5"), Status: providers.StatusSucceeded, OccurredAt: at}}},
			map[string]any{"amount": "10.00000000", "paid_amount": "10.50000000", "fx_rate": "7.1",
				"parts": []any{map[string]any{"id": "p1", "amount": "4.50000000", "status": "succeeded", "occurred_at": "2026-12-07T01:02:03Z"}}}},
		{"CNY paid in USDT", orders.Order{Amount: d("100"), Currency: "CNY", PayCurrency: "USDT", SettledCurrency: "USDT",
			PaidAmount: providers.Nullable(d("14.0845"))},
			map[string]any{"amount": "100.00", "paid_amount": "14.08450000"}},
		{"more digits than the scale", orders.Order{Amount: d("0.125"), Currency: "USD"}, map[string]any{"amount": "0.125"}},
		{"a form without fields", orders.Order{Amount: d("1"), Currency: "USD", PayForm: &providers.PayForm{Action: "https://x", Method: "GET"}},
			map[string]any{"pay_form": map[string]any{"action": "https://x", "method": "GET", "fields": []any{}}}},
	} {
		b, err := json.Marshal(c.o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for k, want := range c.want {
			v, present := got[k]
			if want == nil {
				if present {
					t.Errorf("%s: %s = %v, want it left out", c.name, k, v)
				}
				continue
			}
			wb, _ := json.Marshal(want)
			vb, _ := json.Marshal(v)
			if string(wb) != string(vb) {
				t.Errorf("%s: %s = %s, want %s (body %s)", c.name, k, vb, wb, b)
			}
		}
		if strings.Contains(string(b), "null") {
			t.Errorf("%s: null in %s", c.name, b)
		}
		// The body reads back into the same order.
		var back orders.Order
		if err := json.Unmarshal(b, &back); err != nil || !back.Amount.Equal(c.o.Amount) || len(back.Parts) != len(c.o.Parts) {
			t.Errorf("%s: read back %+v (%v)", c.name, back, err)
		}
	}
}
