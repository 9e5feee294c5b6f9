package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/webhooks"
)

// hookReceiver is a merchant endpoint that keeps every delivery it gets,
// raw, with the merchant it was addressed to (?m=<code>).
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hookDelivery
}

type hookDelivery struct {
	merchant, signature string
	body                []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookDelivery{r.URL.Query().Get("m"), r.Header.Get(webhooks.SignatureHeader), b})
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// of returns the deliveries to merchant whose body's type is typ.
func (h *hookReceiver) of(merchant, typ string) []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookDelivery
	for _, d := range h.got {
		var b struct{ Type string }
		if d.merchant == merchant && json.Unmarshal(d.body, &b) == nil && b.Type == typ {
			out = append(out, d)
		}
	}
	return out
}

// TestWebhookDiscrepancyEvents: a merchant subscribed to discrepancy events
// hears, signed, of the discrepancy a reconciliation run opens about its
// order (discrepancy.opened) and of its resolution by an accountant
// (discrepancy.resolved), the discrepancy being the object GET
// /v1/discrepancies/{id} answers; a merchant that did not subscribe hears of
// none of its own.
func TestWebhookDiscrepancyEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hooks := newHookReceiver(t)
	u, _ := url.Parse(hooks.srv.URL)
	e := tallytest.New(t, tallytest.Options{ReconStaleAfter: time.Millisecond, EgressAllow: egress.MustAllowList(u.Host)})
	// Before any webhook is sent (the targets are cached for a while).
	_, secret, err := e.Merchants.SetWebhook(ctx, "acme", hooks.srv.URL+"?m=acme", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Merchants.SetWebhookEvents(ctx, "acme", []string{merchants.EventOrder, "discrepancy"}); err != nil {
		t.Fatal(err)
	}
	// beta keeps the default: order events only.
	beta, _, err := e.Merchants.CreateMerchant(ctx, "beta", "Beta", hooks.srv.URL+"?m=beta")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bd, opened, err := e.Disc.RecordTx(ctx, tx, discrepancies.Finding{Type: discrepancies.StalePending, MerchantID: beta.ID,
		Fingerprint: "stale_pending:beta:1", Summary: "beta's own"})
	if err != nil || !opened {
		t.Fatalf("beta's discrepancy: %v %v", opened, err)
	}
	if _, err := e.Disc.CloseTx(ctx, tx, bd.ID, discrepancies.Resolved, "repaired", "alice", "fixed", ""); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The event would have been written in that transaction: none was.
	var betaEvents int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events WHERE merchant_id = $1`, beta.ID).Scan(&betaEvents); err != nil || betaEvents != 0 {
		t.Fatalf("beta, not subscribed, has %d webhook events (%v)", betaEvents, err)
	}

	// A deposit left unpaid past ReconStaleAfter: the run flags it
	// (stale_pending, about the order), and leaves it open.
	start := time.Now()
	o := brlDeposit(e, "w1", "20.00")
	e.WaitOrder(o.ID, "submitted", func(o orders.Order) bool { return o.SubmitState == "submitted" })
	e.WaitIdle()
	from, to := window(start)
	if sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to}); sum.Status != recon.RunCompleted {
		t.Fatalf("run: %+v", sum)
	}
	var d discrepancies.Discrepancy
	for _, x := range e.Discrepancies(discrepancies.StalePending) {
		if x.OrderID == o.ID {
			d = x
		}
	}
	if d.ID == 0 || d.Status != discrepancies.Open {
		t.Fatalf("the run flagged no open stale_pending for order %d: %+v", o.ID, d)
	}

	type body struct {
		ID          int64           `json:"id"`
		Type        string          `json:"type"`
		OccurredAt  time.Time       `json:"occurred_at"`
		Discrepancy json.RawMessage `json:"discrepancy"`
	}
	check := func(typ string) (body, map[string]any) {
		t.Helper()
		e.Eventually(typ, func() bool { return len(hooks.of("acme", typ)) > 0 })
		got := hooks.of("acme", typ)
		if len(got) != 1 {
			t.Fatalf("%d %s deliveries, want 1", len(got), typ)
		}
		if err := webhooks.Verify(secret, got[0].signature, got[0].body, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("%s: signature: %v", typ, err)
		}
		var b body
		if err := json.Unmarshal(got[0].body, &b); err != nil {
			t.Fatal(err)
		}
		var disc map[string]any
		if err := json.Unmarshal(b.Discrepancy, &disc); err != nil {
			t.Fatal(err)
		}
		if b.ID == 0 || b.OccurredAt.IsZero() || disc["id"] != float64(d.ID) || disc["order_id"] != float64(o.ID) || disc["type"] != "stale_pending" {
			t.Fatalf("%s body: %s", typ, got[0].body)
		}
		return b, disc
	}
	openedBody, disc := check("discrepancy.opened")
	if disc["status"] != "open" {
		t.Fatalf("discrepancy.opened carries status %v", disc["status"])
	}

	// An accountant resolves it through the API.
	res := e.API("POST", "/v1/discrepancies/"+strconv.FormatInt(d.ID, 10)+"/resolve", map[string]any{"action": "ignore", "note": "the payer gave up"})
	if res.Status != http.StatusOK {
		t.Fatalf("resolve: %d %s", res.Status, res.Body)
	}
	resolvedBody, disc := check("discrepancy.resolved")
	if resolvedBody.ID <= openedBody.ID {
		t.Fatalf("event ids %d then %d: want increasing", openedBody.ID, resolvedBody.ID)
	}
	var get struct {
		Discrepancy map[string]any `json:"discrepancy"`
	}
	e.API("GET", "/v1/discrepancies/"+strconv.FormatInt(d.ID, 10), nil).JSON(t, &get)
	if !reflect.DeepEqual(disc, get.Discrepancy) {
		t.Fatalf("discrepancy.resolved carries\n%v\nGET answers\n%v", disc, get.Discrepancy)
	}
	// Every attempt is recorded, about no order.
	var recorded int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE event_id IN ($1, $2) AND order_id IS NULL AND delivered`,
		openedBody.ID, resolvedBody.ID).Scan(&recorded); err != nil || recorded != 2 {
		t.Fatalf("%d delivered attempts recorded (%v), want 2", recorded, err)
	}
	// Order events keep coming as before.
	e.Eventually("order.pending", func() bool { return len(hooks.of("acme", "order.pending")) > 0 })
	e.WaitIdle()
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for _, g := range hooks.got {
		if g.merchant == "beta" {
			t.Fatalf("beta received %s", g.body)
		}
	}
}
