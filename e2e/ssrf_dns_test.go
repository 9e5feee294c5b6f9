package e2e_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/webhooks"
)

// TestSSRFByName: a host name that resolves inside tally's network is
// refused when tally connects, on the address it resolved to, whatever was
// checked before: a provider gateway the operator allows merchants to use,
// whose DNS now answers 127.0.0.1 (rebinding); "localhost" through the
// system resolver; a webhook host that resolves inside. The service inside
// sees no connection.
func TestSSRFByName(t *testing.T) {
	t.Parallel()
	inside := newInsideService(t, nil)
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "pay.partner.example", "hooks.acme.example":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	e := tallytest.New(t, tallytest.Options{EgressLookup: lookup, ProviderHostAllow: egress.MustAllowList("pay.partner.example")})

	// The operator lets merchants use the gateway's name; a name is not
	// resolved when it is set.
	base := "http://pay.partner.example:" + inside.Port + "/cxpay"
	if r := e.API("PATCH", "/v1/provider-accounts/cxpay-main", map[string]any{"base_url": base}); r.Status != http.StatusOK {
		t.Fatalf("PATCH to an allowed host: %d %s", r.Status, r.Body)
	}
	forceBaseURL(t, e, "cxpay-main", base) // (only to wait out the account cache)
	o := brlDeposit(e, "dns1", "10.00")
	o = e.WaitOrder(o.ID, "the egress refusal", func(o orders.Order) bool { return o.LastErrorCode == "egress_refused" })
	if o.SubmitState != "pending" || strings.Contains(o.LastError, "127.0.0.1") {
		t.Fatalf("refused by name: submit %s, %q", o.SubmitState, o.LastError)
	}

	// localhost, forced into the database, through the system resolver.
	forceBaseURL(t, e, "cxpay-main", "http://localhost:"+inside.Port+"/cxpay")
	o = brlDeposit(e, "dns2", "10.00")
	e.WaitOrder(o.ID, "the egress refusal", func(o orders.Order) bool { return o.LastErrorCode == "egress_refused" })

	// A webhook host that resolves inside: the delivery is refused, and the
	// merchant reads egress_refused, not the address.
	if _, _, err := e.Merchants.SetWebhook(context.Background(), "acme", "http://hooks.acme.example:"+inside.Port+"/tally", false); err != nil {
		t.Fatal(err)
	}
	forceBaseURL(t, e, "cxpay-main", e.SandboxURL+"/cxpay") // the sandbox again; waits out the webhook cache too
	o = brlDeposit(e, "dns3", "10.00")
	e.WaitStatus(o.ID, orders.StatusPending)
	var deliveries struct {
		Data []webhooks.Delivery `json:"data"`
	}
	e.Eventually("a refused webhook delivery", func() bool {
		r := e.API("GET", "/v1/webhook-deliveries?order_id="+itoa(o.ID), nil)
		if json.Unmarshal(r.Body, &deliveries) != nil || len(deliveries.Data) == 0 {
			return false
		}
		if strings.Contains(string(r.Body), "127.0.0.1") {
			t.Fatalf("the merchant reads the address: %s", r.Body)
		}
		return strings.HasPrefix(deliveries.Data[0].Error, "egress_refused:")
	})
	if deliveries.Data[0].Delivered {
		t.Fatal("a refused webhook counted as delivered")
	}
	if n := inside.Conns(); n != 0 {
		t.Fatalf("the inside service saw %d connections", n)
	}
}
