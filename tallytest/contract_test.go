package tallytest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tallyhq/tally/tallytest"
)

// TestCheckContract: the check that every e2e answer goes through refuses an
// answer the document does not describe, accepts one it does (JSON and a CSV
// report), and leaves paths outside the merchant API alone.
func TestCheckContract(t *testing.T) {
	order := `{"id":7,"provider_account":"cpay-main","provider":"cpay","kind":"deposit","origin":"api","provider_order_no":"T7",
		"customer_id":"c1","amount":"100.50","currency":"BRL","pay_currency":"BRL","status":"created","paid_amount":null,
		"credited_amount":null,"fee":null,"fx_rate":null,"submit_state":"unresolved","expires_at":"2026-12-07T00:00:00Z",
		"parts":[{"ID":"p1","Amount":"1.00","Status":"succeeded","OccurredAt":"2026-12-07T00:00:00Z"}],
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
