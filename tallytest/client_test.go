package tallytest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// errorRecorder is a testing.TB that records Errorf instead of failing.
type errorRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestClientChecksContract: the generated client Env.Client builds runs every
// answer through CheckContract: an answer the document describes passes and
// decodes; one it does not (an amount as a number) is a test error, and the
// client still gets the body.
func TestClientChecksContract(t *testing.T) {
	order := `{"id":7,"provider_account":"cpay-main","provider":"cpay","kind":"deposit","origin":"api","provider_order_no":"T7",
		"customer_id":"c1","amount":"100.50","currency":"BRL","pay_currency":"BRL","status":"created","submit_state":"pending",
		"created_at":"2026-12-07T00:00:00Z","updated_at":"2026-12-07T00:00:00Z"}`
	var answer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/orders/7" || r.Header.Get("Authorization") != "Bearer k1" {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	for _, c := range []struct {
		name, body string
		ok         bool
	}{
		{"described", order, true},
		{"an amount as a number", strings.Replace(order, `"100.50"`, `100.5`, 1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			answer = c.body
			rec := &errorRecorder{TB: t}
			e := &Env{T: rec, URL: srv.URL, APIKey: "k0"}
			r, err := e.Client("k1").GetOrderWithResponse(context.Background(), 7)
			if c.ok {
				if err != nil || r.JSON200 == nil || r.JSON200.ID != 7 || r.JSON200.Amount != "100.50" || len(rec.errs) != 0 {
					t.Fatalf("a described answer: %v, %+v, contract errors %q", err, r, rec.errs)
				}
				return
			}
			if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "openapi.json does not describe") {
				t.Fatalf("contract errors = %q, want the mismatch", rec.errs)
			}
			if r != nil && !strings.Contains(string(r.Body), `100.5`) {
				t.Fatalf("the client lost the body: %s", r.Body)
			}
		})
	}
}
