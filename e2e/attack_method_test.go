package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// ingressRows counts what the callback ingress has stored or counted.
func ingressRows(t *testing.T, e *tallytest.Env) [3]int64 {
	t.Helper()
	var n [3]int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM callback_inbox),
		(SELECT COALESCE(sum(deliveries), 0)::bigint FROM callback_rejections), (SELECT count(*) FROM discrepancies)`).Scan(&n[0], &n[1], &n[2]); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGETToPostOnlyProviderRefused: only USDTCNPAY calls its callback URLs
// with GET. A GET to any other provider's account key, even one carrying a
// genuine callback's fields in its query, is 405 (Allow: POST) and nothing is
// stored, counted or opened; other methods are 405 too. USDTCNPAY's own GET
// is taken. A query string never makes a delivery new: a genuine callback sent
// again with other query strings is the same inbox row.
func TestGETToPostOnlyProviderRefused(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ic := e.InterceptCallbacks()
	o := brlDeposit(e, "m1", "15.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	cx := ic.WaitFor(o.ProviderOrderNo)
	u := e.CreateOrder("deposit", map[string]any{"provider_account": "usdtcnpay-main", "customer_id": "m2", "amount": "300", "currency": "CNY"})
	e.Control("usdtcnpay", "POST", "/orders/"+u.ProviderOrderNo+"/pay", nil)
	cn := ic.WaitFor(u.ProviderOrderNo)
	ic.Release()
	before := ingressRows(t, e)

	// The genuine CXPay callback's fields as a query string.
	var fields map[string]any
	tallytest.Response{Body: cx.Body}.JSON(t, &fields)
	q := url.Values{}
	for k, v := range fields {
		q.Set(k, strings.Trim(string(mustJSON(t, v)), `"`))
	}
	for _, p := range []string{"cxpay", "cpay", "vpay", "usdtpay"} {
		for _, method := range []string{"GET", "HEAD", "PUT", "DELETE", "PATCH"} {
			req, err := http.NewRequest(method, e.CallbackURL(p)+"?"+q.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
				t.Errorf("%s to %s's key: %d (Allow %q), want 405", method, p, resp.StatusCode, resp.Header.Get("Allow"))
			}
			if method == "GET" && strings.Contains(resp.Header.Get("Allow"), "GET") {
				t.Errorf("GET to %s's key: Allow %q offers GET", p, resp.Header.Get("Allow"))
			}
		}
	}
	if now := ingressRows(t, e); now != before {
		t.Fatalf("refused methods stored or counted something: inbox, rejections, discrepancies %v, were %v", now, before)
	}

	// USDTCNPAY's success URL called with GET: its hint is taken.
	get := cn
	get.Method, get.Body = "GET", nil
	if status, body := e.Deliver(get, nil, nil); status != http.StatusOK || body != "success" {
		t.Fatalf("GET of USDTCNPAY's success URL: %d %s", status, body)
	}
	// The genuine CXPay callback with query strings of the sender's choosing:
	// one inbox row, its deliveries counted.
	for _, extra := range []string{"", "a=1", "b=2&c=3", "sign=forged", "orderId=T0"} {
		c := cx
		c.RawQuery = extra
		if status, body := e.Deliver(c, cx.Body, nil); status != http.StatusOK {
			t.Fatalf("genuine callback with query %q: %d %s", extra, status, body)
		}
	}
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	var rows, deliveries int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*), sum(deliveries)::int FROM callback_inbox WHERE order_id = $1`, o.ID).Scan(&rows, &deliveries); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || deliveries != 5 {
		t.Fatalf("a genuine callback sent with 5 query strings: %d rows, %d deliveries; want 1 row, 5 deliveries", rows, deliveries)
	}
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:m1:BRL"); !got.Equal(dec("15")) {
		t.Fatalf("customer = %s, want 15", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
