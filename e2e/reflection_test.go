package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// What a provider (or whatever a base URL leads to) answers: a marker a
// merchant must never read, and credentials no one may read.
const (
	marker = "MARKER-7f3a-db.internal:5432-panic-at-0xdeadbeef"
)

var planted = []string{"SIGNATURE-c0ffee", "SECRETKEY-beef", "TOKEN-f00d", "hunter2pass", "AKID-123"}

// answerBody is an answer carrying the marker and credentials in every shape
// Redact knows: JSON fields, a query string inside a message.
func answerBody(code int) string {
	return `{"code":` + itoa(int64(code)) + `,"success":false,"msg":"refused","desc":"` + marker + ` sign=SIGNATURE-c0ffee&accessKey=AKID-123",` +
		`"sign":"SIGNATURE-c0ffee","data":{"secretKey":"SECRETKEY-beef","token":"TOKEN-f00d","password":"hunter2pass"}}`
}

// cannedProvider stands between tally and the CXPay simulator: it answers
// what the test queues for a path (its create answers in turn, an order
// query by order number, always for the balance) and passes the rest on.
type cannedProvider struct {
	mu      sync.Mutex
	creates []canned
	queries map[string]canned // by orderId
	balance *canned
	target  *url.URL
}

type canned struct {
	status int
	body   string
}

func (p *cannedProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var ans *canned
	p.mu.Lock()
	switch r.URL.Path {
	case "/cxpay/collect/create":
		if len(p.creates) > 0 {
			ans, p.creates = &p.creates[0], p.creates[1:]
		}
	case "/cxpay/order/query":
		var q struct {
			OrderID string `json:"orderId"`
		}
		_ = json.Unmarshal(body, &q)
		if c, ok := p.queries[q.OrderID]; ok {
			ans = &c
		}
	case "/cxpay/order/balance":
		ans = p.balance
	}
	target := p.target
	p.mu.Unlock()
	if ans != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ans.status)
		_, _ = w.Write([]byte(ans.body))
		return
	}
	(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}).ServeHTTP(w, r)
}

// TestProviderAnswerNotReflected: whatever a provider answers, a merchant
// reads tally's words for it: a refusal, an unreadable answer, an error
// status, a failure reason in a query answer, a balance query that fails in
// a reconciliation run. The marker never appears in any merchant API answer
// or webhook; staff read it on the staff-only timeline and operators in the
// debug log, both without the credentials the answers carried.
func TestProviderAnswerNotReflected(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	provider := &cannedProvider{queries: map[string]canned{}}
	front := newInsideService(t, provider)
	e := tallytest.New(t, tallytest.Options{EgressAllow: egress.MustAllowList(front.Host),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	sbx, _ := url.Parse(e.SandboxURL)
	provider.mu.Lock()
	provider.target = sbx
	provider.balance = &canned{http.StatusInternalServerError, answerBody(500)}
	provider.mu.Unlock()
	forceBaseURL(t, e, "cxpay-main", front.URL+"/cxpay")
	start := time.Now()
	queue := func(c ...canned) {
		provider.mu.Lock()
		provider.creates = append(provider.creates, c...)
		provider.mu.Unlock()
	}

	// A refusal (CXPay's code 400 with the marker as its reason): failed.
	queue(canned{http.StatusOK, answerBody(400)})
	refused := brlDeposit(e, "refl1", "10.00")
	refused = e.WaitStatus(refused.ID, orders.StatusFailed)
	if refused.LastErrorCode != "provider_rejected" {
		t.Fatalf("refused: %s %q", refused.LastErrorCode, refused.LastError)
	}
	// An unreadable answer, then an error status, then the simulator's own
	// answer: submitted after two attempts in doubt.
	queue(canned{http.StatusOK, "<html><body>" + marker + " token=TOKEN-f00d</body></html>"}, canned{http.StatusServiceUnavailable, answerBody(503)})
	doubted := brlDeposit(e, "refl2", "11.00")
	e.WaitOrder(doubted.ID, "an unreadable answer", func(o orders.Order) bool { return o.LastErrorCode == "provider_answer_unreadable" })
	doubted = e.WaitStatus(doubted.ID, orders.StatusPending)
	// A query answer that fails the order with the marker as its remark.
	queried := brlDeposit(e, "refl3", "12.00")
	queried = e.WaitStatus(queried.ID, orders.StatusPending)
	provider.mu.Lock()
	provider.queries[queried.ProviderOrderNo] = canned{http.StatusOK, `{"code":200,"success":true,"msg":"ok","data":{"orderId":"` + queried.ProviderOrderNo +
		`","platOrderId":"` + queried.ProviderOrderID + `","status":"2","amount":"12.00","remark":"` + marker + ` sign=SIGNATURE-c0ffee"}}`}
	provider.mu.Unlock()
	if _, err := e.Orders.Sync(context.Background(), queried.ID); err != nil {
		t.Fatal(err)
	}
	queried = e.WaitStatus(queried.ID, orders.StatusFailed)
	// A reconciliation run whose balance query gets the marker.
	from, to := window(start)
	run, err := e.Recon.Create(context.Background(), recon.Request{MerchantID: e.Merchant.ID, Kind: recon.KindBalances, ProviderAccount: "cxpay-main",
		From: from, To: to, Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Recon.Execute(context.Background(), run.ID, nil); err == nil || strings.Contains(err.Error(), marker) {
		t.Fatalf("the run's error: %v", err)
	}
	e.Eventually("the webhooks of the failed orders", func() bool {
		return hasWebhook(e, refused.ID, "order.failed") && hasWebhook(e, queried.ID, "order.failed") && hasWebhook(e, doubted.ID, "order.pending")
	})
	e.WaitIdle()

	// Everything a merchant can read.
	var merchantSees strings.Builder
	get := func(path string) {
		r := e.API("GET", path, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		merchantSees.Write(r.Body)
	}
	for _, p := range []string{"/v1/orders?limit=500", "/v1/webhook-deliveries", "/v1/discrepancies", "/v1/recon/runs", "/v1/provider-accounts",
		"/v1/balances", "/v1/recon/runs/" + itoa(run.ID), "/v1/recon/runs/" + itoa(run.ID) + "/report?format=json"} {
		get(p)
	}
	for _, o := range []orders.Order{refused, doubted, queried} {
		get("/v1/orders/" + itoa(o.ID))
		get("/v1/orders/" + itoa(o.ID) + "/timeline")
		for _, ev := range e.Webhooks.For(o.ID) {
			b, _ := json.Marshal(ev)
			merchantSees.Write(b)
		}
	}
	seen := merchantSees.String()
	for _, s := range append([]string{marker, "7f3a", "db.internal"}, planted...) {
		if strings.Contains(seen, s) {
			i := strings.Index(seen, s)
			t.Fatalf("a merchant reads %q: ...%s...", s, seen[max(0, i-300):min(len(seen), i+100)])
		}
	}
	for _, code := range []string{"provider_rejected", "provider_answer_unreadable", "provider_unavailable", "provider_unavailable"} {
		if !strings.Contains(seen, code) {
			t.Errorf("the merchant is not told %s", code)
		}
	}

	// Staff read the provider's words, without its credentials.
	var staffSees strings.Builder
	for _, o := range []orders.Order{refused, doubted, queried} {
		tl, err := e.Orders.StaffTimeline(context.Background(), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(tl)
		if !strings.Contains(string(b), marker) || !strings.Contains(string(b), `"staff_only":true`) {
			t.Errorf("order %d: the staff timeline lacks the provider's words: %s", o.ID, b)
		}
		staffSees.Write(b)
	}
	operatorLog := logs.String()
	if !strings.Contains(operatorLog, marker) {
		t.Error("the debug log lacks the provider's words")
	}
	for _, line := range strings.Split(operatorLog, "\n") {
		if strings.Contains(line, "7f3a") && !strings.Contains(line, "level=DEBUG") {
			t.Errorf("the provider's words above the debug level: %s", line)
		}
	}
	for _, s := range planted {
		if strings.Contains(staffSees.String(), s) || strings.Contains(operatorLog, s) {
			i := strings.Index(operatorLog, s)
			t.Errorf("%q is kept for staff or operators: %s\n%s", s, staffSees.String(), operatorLog[max(0, i-600):min(len(operatorLog), i+100)])
		}
	}
	if !strings.Contains(staffSees.String(), "REDACTED") {
		t.Error("nothing was redacted on the staff timeline")
	}
	if n := front.Conns(); n == 0 {
		t.Fatal("the provider saw nothing")
	}
}

// hasWebhook reports whether the merchant was sent an event of type typ for an order.
func hasWebhook(e *tallytest.Env, orderID int64, typ string) bool {
	for _, ev := range e.Webhooks.For(orderID) {
		if ev.Type == typ {
			return true
		}
	}
	return false
}
