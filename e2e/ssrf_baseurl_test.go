package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// TestSSRFByBaseURL: a merchant points a provider account's base URL at a
// service inside tally's network. The API refuses it (a PATCH, a new
// account); forced into the database, every call tally would make there
// (submit, reconciliation) is refused when it connects, the service sees no
// connection, and the merchant reads egress_refused, not the address.
func TestSSRFByBaseURL(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	inside := newInsideService(t, nil)
	before, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cxpay-main")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{
		inside.URL + "/cxpay",
		"http://localhost:" + inside.Port + "/cxpay",
		"http://[::1]:" + inside.Port + "/",
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[fd00:ec2::254]/",
		"http://10.0.0.1/",
		"http://100.100.100.200/latest/meta-data/",
		"https://evil.example/cxpay", // public, but not CXPay's: the operator did not allow it
	} {
		r := e.API("PATCH", "/v1/provider-accounts/cxpay-main", map[string]any{"base_url": u})
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"base_url_not_allowed"`) || !strings.Contains(string(r.Body), `"field":"base_url"`) {
			t.Errorf("PATCH base_url %s: %d %s, want 422 base_url_not_allowed", u, r.Status, r.Body)
		}
		r = e.API("POST", "/v1/provider-accounts", map[string]any{"name": "inside", "provider": "cxpay", "base_url": u,
			"provider_merchant_id": "M1", "secret": "s", "options": map[string]string{"pay_code": "PIX", "currency": "BRL"}})
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"base_url_not_allowed"`) {
			t.Errorf("POST base_url %s: %d %s, want 422 base_url_not_allowed", u, r.Status, r.Body)
		}
	}
	if now, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cxpay-main"); err != nil || now.BaseURL != before.BaseURL {
		t.Fatalf("the account changed: %v %q", err, now.BaseURL)
	}
	if _, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "inside"); err == nil {
		t.Fatal("an account was stored")
	}

	// Forced into the database: refused when tally connects.
	forceBaseURL(t, e, "cxpay-main", inside.URL+"/cxpay")
	start := time.Now()
	o := brlDeposit(e, "ssrf", "10.00")
	o = e.WaitOrder(o.ID, "the egress refusal", func(o orders.Order) bool { return o.LastErrorCode == "egress_refused" })
	// A definite failure of that attempt (nothing reached anything): not
	// ambiguous, and the job retries.
	if o.Status != "created" || o.SubmitState != "pending" {
		t.Fatalf("refused submit: status %s, submit %s", o.Status, o.SubmitState)
	}
	r := e.API("GET", "/v1/orders/"+itoa(o.ID)+"/timeline", nil)
	for _, leak := range []string{inside.Host, "loopback"} {
		if strings.Contains(o.LastError, leak) || strings.Contains(string(r.Body), leak) {
			t.Fatalf("the merchant reads %q: %s / %s", leak, o.LastError, r.Body)
		}
	}
	if !strings.Contains(string(r.Body), `"error_code":"egress_refused"`) {
		t.Fatalf("timeline without the refusal: %s", r.Body)
	}

	// Reconciliation's queries and balances: refused too; the run says so in
	// tally's words.
	from, to := window(start)
	run, err := e.Recon.Create(context.Background(), recon.Request{MerchantID: e.Merchant.ID, Kind: recon.KindFull, ProviderAccount: "cxpay-main",
		From: from, To: to, Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Recon.Execute(context.Background(), run.ID, nil); err == nil || !strings.Contains(err.Error(), "egress_refused") {
		t.Fatalf("run against the inside service: %v", err)
	}
	r = e.API("GET", "/v1/recon/runs/"+itoa(run.ID), nil)
	if !strings.Contains(string(r.Body), "egress_refused") || strings.Contains(string(r.Body), inside.Host) {
		t.Fatalf("the run as the merchant reads it: %s", r.Body)
	}
	if n := inside.Conns(); n != 0 {
		t.Fatalf("the inside service saw %d connections", n)
	}
}
