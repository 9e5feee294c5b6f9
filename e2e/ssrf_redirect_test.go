package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/webhooks"
)

// TestWebhookRedirectNotFollowed: the merchant's webhook endpoint answers 307
// to another address. tally does not follow it: the signed event is never
// posted there (even though the operator allows that address too, so only the
// rule on redirects stands in the way), the attempt is a failure the merchant
// reads as redirect_not_followed, and it is retried at the endpoint itself.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	target := newInsideService(t, nil)
	endpoint := newInsideService(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	e := tallytest.New(t, tallytest.Options{EgressAllow: egress.MustAllowList(endpoint.Host, target.Host)})
	if _, _, err := e.Merchants.SetWebhook(context.Background(), "acme", endpoint.URL+"/tally", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2200 * time.Millisecond) // the webhook target cache
	o := brlDeposit(e, "redir", "10.00")
	e.WaitStatus(o.ID, orders.StatusPending)
	var deliveries struct {
		Data []webhooks.Delivery `json:"data"`
	}
	e.Eventually("two redirected attempts", func() bool {
		r := e.API("GET", "/v1/webhook-deliveries?order_id="+itoa(o.ID), nil)
		return json.Unmarshal(r.Body, &deliveries) == nil && len(deliveries.Data) >= 2
	})
	for _, d := range deliveries.Data {
		if d.Delivered || d.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(d.Error, "redirect_not_followed:") || !strings.HasPrefix(d.URL, endpoint.URL) {
			t.Fatalf("delivery %+v, want a 307 not followed", d)
		}
	}
	if endpoint.Conns() == 0 {
		t.Fatal("the endpoint saw nothing")
	}
	if n := target.Conns(); n != 0 {
		t.Fatalf("the redirect target saw %d connections", n)
	}
}
