package tallytest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/webhooks"
)

// TestCheckContract: the check that every e2e answer goes through refuses an
// answer the document does not describe, accepts one it does (JSON and a CSV
// report), and leaves paths outside the merchant API alone.
func TestCheckContract(t *testing.T) {
	order := `{"id":7,"provider_account":"cpay-main","provider":"cpay","kind":"deposit","origin":"api","provider_order_no":"T7",
		"customer_id":"c1","amount":"100.50","currency":"BRL","pay_currency":"BRL","status":"created",
		"submit_state":"unresolved","expires_at":"2026-12-07T00:00:00Z",
		"parts":[{"id":"p1","amount":"1.00","status":"succeeded","occurred_at":"2026-12-07T00:00:00Z"}],
		"created_at":"2026-12-07T00:00:00Z","updated_at":"2026-12-07T00:00:00Z"}`
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name, method, url string
		status            int
		header            http.Header
		body              string
		ok                bool
	}{
		{"an order", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, order, true},
		{"an amount as a number", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, strings.Replace(order, `"100.50"`, `100.5`, 1), false},
		{"an unknown submit_state", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, strings.Replace(order, `"unresolved"`, `"lost"`, 1), false},
		{"a status not documented", "GET", "http://127.0.0.1:1/v1/orders/7", 418, jsonCT, `{"error":{"code":"x","message":"y"}}`, false},
		{"an error without its code", "GET", "http://127.0.0.1:1/v1/orders/7", 404, jsonCT, `{"error":{"message":"y"}}`, false},
		{"an error", "GET", "http://127.0.0.1:1/v1/orders/7", 404, jsonCT, `{"error":{"code":"not_found","message":"no such order","request_id":"ab"}}`, true},
		{"an error code not listed for the operation", "GET", "http://127.0.0.1:1/v1/orders/7", 404, jsonCT, `{"error":{"code":"no_such_thing","message":"y"}}`, false},
		{"another status's code", "GET", "http://127.0.0.1:1/v1/orders/7", 400, jsonCT, `{"error":{"code":"not_found","message":"y"}}`, false},
		{"a null amount", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, strings.Replace(order, `"status":"created",`, `"status":"created","paid_amount":null,`, 1), false},
		{"an extra Go field name", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, strings.Replace(order, `"id":"p1"`, `"id":"p1","OccurredAt":"2026-12-07T00:00:00Z"`, 1), false},
		{"a Go field name", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, strings.Replace(order, `"id":"p1"`, `"ID":"p1"`, 1), false},
		{"an amount in exponent form", "GET", "http://127.0.0.1:1/v1/orders/7", 200, jsonCT, strings.Replace(order, `"100.50"`, `"1.005E2"`, 1), false},
		{"a CSV report", "GET", "http://127.0.0.1:1/v1/reports/daily?date=2026-12-07&format=csv", 200,
			http.Header{"Content-Type": {"text/csv; charset=utf-8"}}, "section,currency\n", true},
		{"a list without data", "GET", "http://127.0.0.1:1/v1/recon/runs", 200, jsonCT, `{}`, false},
		{"not the merchant API", "GET", "http://127.0.0.1:1/healthz", 200, http.Header{"Content-Type": {"text/plain"}}, "ok", true},
		{"a provider's callback answer", "POST", "http://127.0.0.1:1/callbacks/k1", 200, http.Header{"Content-Type": {"text/plain"}}, "success", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = tallytest.CheckContract(req, nil, c.status, c.header, []byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("CheckContract = %v; want ok %v", err, c.ok)
			}
		})
	}
}

// TestCheckWebhook: an order webhook body as package webhooks builds it
// (webhooks.Event, signed with webhooks.Sign) agrees with the document's
// webhooks.order, also with two signatures (a secret rotation); a body or
// header that drifts does not.
func TestCheckWebhook(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	o := orders.Order{ID: 7, ProviderAccount: "cpay-main", Provider: "cpay", Kind: providers.KindDeposit, Origin: "api",
		MerchantOrderNo: "M-7", ProviderOrderNo: "T7", CustomerID: "c1", Amount: d("100.5"), Currency: "USD", PayCurrency: "USDT",
		Status: orders.StatusSucceeded, PaidAmount: providers.Nullable(d("14.5")), CreditedAmount: providers.Nullable(d("14")),
		Fee: providers.Nullable(d("0.5")), SettledCurrency: "USDT", FXRate: providers.Nullable(d("6.93")),
		Parts:       []providers.Part{{ID: "p1", Amount: d("14.5"), Status: providers.StatusSucceeded, OccurredAt: at}},
		PayForm:     &providers.PayForm{Action: "https://pay.example/f", Method: "POST", Fields: []providers.FormField{{Name: "a", Value: "b"}}},
		Addresses:   []providers.WalletAddress{{Currency: "USDT", Network: "TRON(TRC-20)", Address: "T1"}},
		SubmitState: "submitted", CreatedAt: at, UpdatedAt: at, FinalAt: &at, ExpiresAt: &at}
	body, err := json.Marshal(webhooks.Event{ID: 42, Type: "order.succeeded", FromStatus: "pending", ToStatus: "succeeded", OccurredAt: at, Order: o})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"amount":"100.50"`) || !strings.Contains(string(body), `"paid_amount":"14.50000000"`) {
		t.Fatalf("amounts not at their currency's scale: %s", body)
	}
	sig := webhooks.Sign("whsec_1", at, body)
	_, v1, _ := strings.Cut(sig, ",v1=")
	header := func(sig string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Tally-Signature": {sig}, "Tally-Event-Id": {"42"}}
	}
	for _, c := range []struct {
		name   string
		header http.Header
		body   string
		ok     bool
	}{
		{"an order webhook", header(sig), string(body), true},
		{"two signatures during a rotation", header(sig + ",v1=" + strings.Repeat("ab", 32)), string(body), true},
		{"a disputed order", header(sig), strings.Replace(string(body), `"type":"order.succeeded"`, `"type":"order.disputed","provider_says":"failed","dispute":"x"`, 1), true},
		{"no signature", http.Header{"Tally-Event-Id": {"42"}}, string(body), false},
		{"a signature of another form", header("sha256=" + v1), string(body), false},
		{"an amount as a number", header(sig), strings.Replace(string(body), `"amount":"100.50"`, `"amount":100.5`, 1), false},
		{"an unknown order type", header(sig), strings.Replace(string(body), `"type":"order.succeeded"`, `"type":"order.lost"`, 1), false},
		{"without its order", header(sig), `{"id":42,"type":"order.succeeded","from_status":"pending","to_status":"succeeded","occurred_at":"2026-12-07T01:02:03Z"}`, false},
		{"a discrepancy event", header(sig), `{"id":43,"type":"discrepancy.opened","occurred_at":"2026-12-07T01:02:03Z","discrepancy":` + discrepancyJSON(t) + `}`, true},
		{"a discrepancy event without its discrepancy", header(sig), `{"id":43,"type":"discrepancy.resolved","occurred_at":"2026-12-07T01:02:03Z"}`, false},
		{"an event type not described", header(sig), `{"id":1,"type":"merchant.updated"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tallytest.CheckWebhook(c.header, []byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("CheckWebhook = %v; want ok %v", err, c.ok)
			}
		})
	}
}

// discrepancyJSON is a discrepancy as GET /v1/discrepancies/{id} writes it.
func discrepancyJSON(t *testing.T) string {
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	b, err := json.Marshal(discrepancies.Discrepancy{ID: 9, MerchantID: 1, OrderID: 7, Type: discrepancies.AmountMismatch, Fingerprint: "f",
		Status: discrepancies.Open, Severity: discrepancies.High, Currency: "USD", AmountDelta: decimal.RequireFromString("-1.5"),
		Summary: "paid less", FirstSeenAt: at, LastSeenAt: at, SeenCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"amount_delta":"-1.50"`) || !strings.Contains(string(b), `"detail":{}`) {
		t.Fatalf("discrepancy JSON: %s", b)
	}
	return string(b)
}
