package e2e_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// tenantState is what one merchant has that another must not touch.
type tenantState struct {
	inbox, discrepancies, orders, accounts int
	updated                                string // the accounts' updated_at, in id order
}

func stateOf(t *testing.T, e *tallytest.Env, merchantID int64) tenantState {
	t.Helper()
	var s tenantState
	if err := e.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM callback_inbox WHERE merchant_id = $1),
		(SELECT count(*) FROM discrepancies WHERE merchant_id = $1),
		(SELECT count(*) FROM orders WHERE merchant_id = $1),
		(SELECT count(*) FROM provider_accounts WHERE merchant_id = $1),
		(SELECT COALESCE(string_agg(updated_at::text, ',' ORDER BY id), '') FROM provider_accounts WHERE merchant_id = $1)`,
		merchantID).Scan(&s.inbox, &s.discrepancies, &s.orders, &s.accounts, &s.updated); err != nil {
		t.Fatal(err)
	}
	return s
}

// sameRefusal: a refusal about another merchant's account is the refusal
// about a name nobody has, word for word but for the name: it tells nothing.
func sameRefusal(t *testing.T, what string, theirs, nobodys tallytest.Response, theirName, nobodyName string) {
	t.Helper()
	// Each answer carries its own request id: the rest must be the same.
	if theirs.Status < 400 || theirs.Status != nobodys.Status ||
		withoutRequestID(strings.ReplaceAll(string(theirs.Body), theirName, nobodyName)) != withoutRequestID(string(nobodys.Body)) {
		t.Errorf("%s: another merchant's account answers %d %s; a name nobody has %d %s", what, theirs.Status, theirs.Body, nobodys.Status, nobodys.Body)
	}
}

var requestIDField = regexp.MustCompile(`,?"request_id":"[^"]*"`)

// withoutRequestID is an error answer without its request id.
func withoutRequestID(body string) string { return requestIDField.ReplaceAllString(body, "") }

// TestTenantCannotProbeClaimOrAddressAnotherAccount: merchant mallory tries
// acme's provider account names everywhere a name is taken (listing,
// changing, ordering, filtering, reconciling, importing), registers accounts
// of acme's names with acme's provider credentials, and posts acme's genuine
// signed callback to the old name route and to its own key. Every refusal
// reads as for a name nobody has, nothing of acme's is shown, and nothing of
// acme's is stored, changed or settled by it.
func TestTenantCannotProbeClaimOrAddressAnotherAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := tallytest.New(t, tallytest.Options{})
	mallory, _, err := e.Merchants.CreateMerchant(ctx, "mallory", "Mallory", "")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := e.Merchants.CreateAPIKey(ctx, "mallory", "probe", merchants.AllScopes()...)
	if err != nil {
		t.Fatal(err)
	}
	as := func(method, path string, body any, headers ...string) tallytest.Response {
		return e.APIAs(key, method, path, body, headers...)
	}
	// acme's deposit whose genuine callback mallory gets hold of.
	ic := e.InterceptCallbacks()
	o := brlDeposit(e, "victim", "42.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	genuine := ic.WaitFor(o.ProviderOrderNo)
	ic.Release()
	acme := stateOf(t, e, e.Merchant.ID)
	var answers []tallytest.Response

	// Seeing: mallory's list is mallory's.
	r := as("GET", "/v1/provider-accounts", nil)
	answers = append(answers, r)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), "cxpay-main") {
		t.Fatalf("mallory's account list: %d %s", r.Status, r.Body)
	}
	// Probing by name: every answer is the answer about a name nobody has.
	for _, probe := range []struct {
		what, method, path, body string
		headers                  []string
	}{
		{"PATCH", "PATCH", "/v1/provider-accounts/{name}", `{"enabled":false}`, nil},
		{"deposit", "POST", "/v1/deposits", `{"provider_account":"{name}","customer_id":"m1","amount":"5.00","currency":"BRL"}`, []string{"Idempotency-Key", "probe-{name}"}},
		{"order filter", "GET", "/v1/orders?provider_account={name}", "", nil},
		{"recon run", "POST", "/v1/recon/runs", `{"provider_account":"{name}","kind":"orders"}`, nil},
		{"statement import", "POST", "/v1/statements?provider_account={name}", "order_no,kind,status,amount,currency,settled_at\n", nil},
	} {
		send := func(name string) tallytest.Response {
			var body any
			if probe.body != "" {
				body = strings.ReplaceAll(probe.body, "{name}", name)
			}
			var hs []string
			for _, h := range probe.headers {
				hs = append(hs, strings.ReplaceAll(h, "{name}", name))
			}
			return as(probe.method, strings.ReplaceAll(probe.path, "{name}", name), body, hs...)
		}
		theirs, nobodys := send("cxpay-main"), send("nobody-has-it")
		answers = append(answers, theirs)
		sameRefusal(t, probe.what, theirs, nobodys, "cxpay-main", "nobody-has-it")
	}
	// acme's order by id is not there for mallory.
	r = as("GET", "/v1/orders/"+itoa(o.ID), nil)
	answers = append(answers, r)
	if r.Status != http.StatusNotFound {
		t.Fatalf("acme's order read by mallory: %d %s", r.Status, r.Body)
	}

	// Claiming: mallory registers acme's account names, with acme's CXPay
	// credentials. It is mallory's own account: created, without a word about
	// acme's, under a callback key of its own.
	claim := `{"name":"cxpay-main","provider":"cxpay","base_url":"` + e.SandboxURL + `/cxpay","provider_merchant_id":"M10001",` +
		`"secret":"34797ffec7814a0b","options":{"pay_code":"PIX","currency":"BRL"}}`
	r = as("POST", "/v1/provider-accounts", claim)
	answers = append(answers, r)
	var view struct {
		Name        string `json:"name"`
		CallbackURL string `json:"callback_url"`
	}
	r.JSON(t, &view)
	if r.Status != http.StatusCreated || view.Name != "cxpay-main" || view.CallbackURL == e.CallbackURL("cxpay") || !strings.HasPrefix(view.CallbackURL, e.URL+"/callbacks/") {
		t.Fatalf("mallory's cxpay-main: %d %s", r.Status, r.Body)
	}
	if r := as("POST", "/v1/provider-accounts", claim); r.Status != http.StatusConflict {
		t.Fatalf("mallory's second cxpay-main: %d %s (only mallory's own names clash)", r.Status, r.Body)
	}

	// Addressing: acme's genuine signed callback posted to the old name route
	// is 404, as any unknown key; posted to mallory's key it is mallory's
	// business (an order mallory does not know), never acme's order.
	old := genuine
	old.Path = "/callbacks/cxpay-main"
	if status, body := e.Deliver(old, genuine.Body, nil); status != http.StatusNotFound {
		t.Fatalf("acme's callback to /callbacks/cxpay-main: %d %s", status, body)
	}
	mine := genuine
	mine.Path = strings.TrimPrefix(view.CallbackURL, e.URL)
	if status, body := e.Deliver(mine, genuine.Body, nil); status != http.StatusOK {
		t.Fatalf("acme's callback to mallory's key: %d %s", status, body)
	}
	e.WaitIdle()
	if got := e.Order(o.ID); got.Status != orders.StatusPending && got.Status != orders.StatusCreated {
		t.Fatalf("acme's order moved on a callback to mallory's key: %s", got.Status)
	}
	if now := stateOf(t, e, e.Merchant.ID); now != acme {
		t.Fatalf("acme's data changed under mallory's probes: %+v, was %+v", now, acme)
	}
	ds, err := e.Disc.List(ctx, e.Pool, discrepancies.Filter{MerchantID: mallory.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Type != discrepancies.UnknownOrder {
		t.Fatalf("mallory's discrepancies: %+v, want the one unknown order", ds)
	}
	// Nothing mallory was answered names acme's callback keys.
	for _, a := range answers {
		for p := range e.CallbackKeys {
			if strings.Contains(string(a.Body), e.CallbackKeys[p]) {
				t.Fatalf("an answer to mallory shows acme's %s callback key: %s", p, a.Body)
			}
		}
	}
	// acme's own key still settles acme's order, once.
	if status, body := e.Deliver(genuine, genuine.Body, nil); status != http.StatusOK {
		t.Fatalf("acme's callback to acme's key: %d %s", status, body)
	}
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:victim:BRL"); !got.Equal(dec("42")) {
		t.Fatalf("acme's customer = %s, want 42", got)
	}
	e.CheckLedger()
}
