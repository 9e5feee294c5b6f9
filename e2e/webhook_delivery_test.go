package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/webhooks"
)

// arrival is one webhook request as a merchant endpoint saw it.
type arrival struct {
	orderID int64
	typ     string
	status  int
}

// flakyEndpoint is a merchant endpoint whose answer a test decides per
// request; it records every request in arrival order.
type flakyEndpoint struct {
	srv    *httptest.Server
	answer atomic.Value // func(arrival) int
	mu     sync.Mutex
	got    []arrival
}

func newFlakyEndpoint(t *testing.T) *flakyEndpoint {
	f := &flakyEndpoint{}
	f.answer.Store(func(arrival) int { return http.StatusOK })
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev webhooks.Event
		_ = json.Unmarshal(b, &ev)
		a := arrival{orderID: ev.Order.ID, typ: ev.Type}
		f.mu.Lock()
		a.status = f.answer.Load().(func(arrival) int)(a)
		f.got = append(f.got, a)
		f.mu.Unlock()
		w.WriteHeader(a.status)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flakyEndpoint) arrivals(orderID int64) []arrival {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []arrival
	for _, a := range f.got {
		if orderID == 0 || a.orderID == orderID {
			out = append(out, a)
		}
	}
	return out
}

func flakyEnv(t *testing.T) (*tallytest.Env, *flakyEndpoint) {
	t.Helper()
	f := newFlakyEndpoint(t)
	u, _ := url.Parse(f.srv.URL)
	e := tallytest.New(t, tallytest.Options{EgressAllow: egress.MustAllowList(u.Host)})
	if _, _, err := e.Merchants.SetWebhook(context.Background(), "acme", f.srv.URL, false); err != nil {
		t.Fatal(err)
	}
	return e, f
}

// TestWebhookEventsOfAnOrderArriveInOrder: an order's first webhook fails
// and waits for its retry; the order's next event, due meanwhile, is not
// sent before it. Every attempt is recorded, the failed one with its status.
func TestWebhookEventsOfAnOrderArriveInOrder(t *testing.T) {
	t.Parallel()
	e, f := flakyEnv(t)
	var failed atomic.Bool
	f.answer.Store(func(a arrival) int {
		if a.typ == "order.pending" && failed.CompareAndSwap(false, true) {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	o := brlDeposit(e, "ord1", "7.00")
	e.Eventually("the pending webhook refused", func() bool { return failed.Load() })
	// Paid while the pending webhook waits for its retry (2 s ± 20 %).
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.Eventually("order.succeeded delivered", func() bool {
		got := f.arrivals(o.ID)
		return len(got) > 0 && got[len(got)-1].typ == "order.succeeded"
	})
	got := f.arrivals(o.ID)
	want := []arrival{{o.ID, "order.pending", 500}, {o.ID, "order.pending", 200}, {o.ID, "order.succeeded", 200}}
	if len(got) != len(want) {
		t.Fatalf("arrivals %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("arrivals %+v, want %+v", got, want)
		}
	}
	e.WaitIdle()
	type row struct {
		attempt, status int32
		delivered       bool
	}
	rows, err := e.Pool.Query(context.Background(), `SELECT d.attempt, d.status_code, d.delivered FROM webhook_deliveries d
		JOIN order_events ev ON ev.id = d.event_id WHERE d.order_id = $1 ORDER BY d.id`, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	var recorded []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.attempt, &r.status, &r.delivered); err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, r)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	wantRows := []row{{1, 500, false}, {2, 200, true}, {1, 200, true}}
	if len(recorded) != 3 || recorded[0] != wantRows[0] || recorded[1] != wantRows[1] || recorded[2] != wantRows[2] {
		t.Fatalf("recorded attempts %+v, want %+v", recorded, wantRows)
	}
}

// TestWebhookBreakerOpensAndRecovers: an endpoint that answers 500 to
// everything opens its circuit breaker after 5 failed attempts; while it is
// open nothing is attempted, /metrics reports it open, and once the endpoint
// answers again the probe closes it and every event is delivered.
func TestWebhookBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	e, f := flakyEnv(t)
	ctx := context.Background()
	var down atomic.Bool
	down.Store(true)
	f.answer.Store(func(a arrival) int {
		if down.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	var ids []int64
	for _, c := range []string{"b1", "b2", "b3", "b4", "b5", "b6", "b7"} {
		ids = append(ids, brlDeposit(e, c, "3.00").ID)
	}
	var openUntil time.Time
	e.Eventually("the breaker open", func() bool {
		var state string
		var until *time.Time
		err := e.Pool.QueryRow(ctx, `SELECT state, open_until FROM webhook_endpoints WHERE merchant_id = $1`, e.Merchant.ID).Scan(&state, &until)
		if err == nil && state == webhooks.EndpointOpen && until != nil {
			openUntil = *until
			return true
		}
		return false
	})
	attemptsWhenOpened := len(f.arrivals(0))
	if attemptsWhenOpened < 5 {
		t.Fatalf("the breaker opened after %d attempts, want at least 5", attemptsWhenOpened)
	}
	fams := scrape(t, e)
	if got := mustSeries(t, fams, "tally_webhook_endpoint_state", map[string]string{"merchant": "acme"}); got != 2 {
		t.Errorf("tally_webhook_endpoint_state{acme} = %v, want 2 (open)", got)
	}
	if got := mustSeries(t, fams, "tally_webhook_merchant_backlog", map[string]string{"merchant": "acme"}); got < 1 {
		t.Errorf("tally_webhook_merchant_backlog{acme} = %v, want the waiting events", got)
	}
	down.Store(false)
	e.WaitIdle()
	for _, id := range ids {
		if got := f.arrivals(id); len(got) == 0 || got[len(got)-1] != (arrival{id, "order.pending", 200}) {
			t.Fatalf("order %d: arrivals %+v, want its pending webhook delivered last", id, got)
		}
	}
	// Nothing was attempted while the breaker was open.
	var during int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE merchant_id = $1 AND created_at > $2 AND created_at < $3`,
		e.Merchant.ID, openUntil.Add(-4*time.Second), openUntil).Scan(&during); err != nil {
		t.Fatal(err)
	}
	if during != 0 {
		t.Fatalf("%d attempts while the breaker was open", during)
	}
	var state string
	if err := e.Pool.QueryRow(ctx, `SELECT state FROM webhook_endpoints WHERE merchant_id = $1`, e.Merchant.ID).Scan(&state); err != nil || state != webhooks.EndpointClosed {
		t.Fatalf("breaker after recovery: %q %v, want closed", state, err)
	}
}
