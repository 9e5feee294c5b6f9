package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var callbackSeries = regexp.MustCompile(`(?m)^tally_callbacks_total\{provider_account="([^"]*)",verdict="([^"]*)"\} (\d+)$`)

// callbackMetrics reads tally_callbacks_total from /metrics: account -> verdict -> count.
func callbackMetrics(t *testing.T, e *tallytest.Env) map[string]map[string]string {
	t.Helper()
	resp, err := http.Get(e.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]map[string]string{}
	for _, m := range callbackSeries.FindAllStringSubmatch(string(b), -1) {
		if out[m[1]] == nil {
			out[m[1]] = map[string]string{}
		}
		out[m[1]][m[2]] = m[3]
	}
	return out
}

// A callback body over 64 KiB is refused with 413 and nothing is stored, and
// callbacks for keys tally does not have are 404 before their body is read and
// never become metric series of their own, however many are tried.
func TestCallbackBodyLimitAndBoundedMetricLabels(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	big := `{"orderId":"` + strings.Repeat("x", 65<<10) + `"}`
	// Exactly at the limit is read (and refused for its signature, not its size).
	atLimit := `{"orderId":"` + strings.Repeat("x", 64<<10-len(`{"orderId":""}`)) + `"}`
	if status, _ := post(t, e.CallbackURL("cxpay"), atLimit); status == http.StatusRequestEntityTooLarge {
		t.Fatal("a body of exactly 64 KiB was refused as too large")
	}
	// An oversized body to a known account is labelled with it ("merchant/account").
	if status, body := post(t, e.CallbackURL("cxpay"), big); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized callback: %d %s, want 413", status, body)
	}
	const tries = 25
	for i := 0; i < tries; i++ {
		if status, _ := post(t, e.URL+fmt.Sprintf("/callbacks/probe-%d", i), big); status != http.StatusNotFound {
			t.Fatalf("oversized callback to an unknown key: %d, want 404", status)
		}
		if status, _ := post(t, e.URL+fmt.Sprintf("/callbacks/guess-%d-%s", i, strings.Repeat("k", 22)), `{}`); status != http.StatusNotFound {
			t.Fatalf("callback to an unknown key: %d, want 404", status)
		}
	}
	var stored int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM callback_inbox WHERE length(body) > 65536`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("%d oversized callbacks stored", stored)
	}
	m := callbackMetrics(t, e)
	for acct := range m {
		if acct != "acme/cxpay-main" && acct != "unknown" {
			t.Errorf("a metric series for provider_account %q", acct)
		}
	}
	if m["acme/cxpay-main"]["too_large"] != "1" || m["unknown"]["unknown_account"] != fmt.Sprint(2*tries) {
		t.Fatalf("tally_callbacks_total = %v", m)
	}
}

// TestLegacyCallbackRoutes: /callbacks/{name} reaches an account only while
// the operator keeps the migration window open (LegacyCallbackRoutes) and only
// for an account that existed before callback keys; otherwise it is 404, as
// any key nobody has.
func TestLegacyCallbackRoutes(t *testing.T) {
	t.Parallel()
	for _, open := range []bool{false, true} {
		// A subtest each, so that the first Env (and its connection slots,
		// testdb.Reserve) is released before the second is asked for: a test
		// holding one Env while waiting for another can starve the suite.
		t.Run(fmt.Sprintf("legacy=%v", open), func(t *testing.T) { legacyCallbackRoute(t, open) })
	}
}

// legacyCallbackRoute is TestLegacyCallbackRoutes with the window open or shut.
func legacyCallbackRoute(t *testing.T, open bool) {
	e := tallytest.New(t, tallytest.Options{LegacyCallbackRoutes: open})
	ctx := context.Background()
	// cxpay-main stands for an account migration 00025 found; cpay-main
	// for one added after it.
	if _, err := e.Pool.Exec(ctx, `UPDATE provider_accounts SET legacy_route = true WHERE name = 'cxpay-main'`); err != nil {
		t.Fatal(err)
	}
	ic := e.InterceptCallbacks()
	o := brlDeposit(e, "legacy", "12.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	cb := ic.WaitFor(o.ProviderOrderNo)
	ic.Release()
	byName := cb
	byName.Path = "/callbacks/cxpay-main"
	status, body := e.Deliver(byName, cb.Body, nil)
	if open && status != http.StatusOK || !open && status != http.StatusNotFound {
		t.Fatalf("legacy routes %v: the old name route answered %d %s", open, status, body)
	}
	newer := byName
	newer.Path = "/callbacks/cpay-main"
	if status, body := e.Deliver(newer, []byte(`{}`), nil); status != http.StatusNotFound {
		t.Fatalf("legacy routes %v: a newer account's name answered %d %s", open, status, body)
	}
	if open {
		e.WaitStatus(o.ID, orders.StatusSucceeded)
		e.WaitIdle()
		if got := e.Balance("liabilities:customer:legacy:BRL"); !got.Equal(dec("12")) {
			t.Fatalf("customer = %s, want 12", got)
		}
	}
}
