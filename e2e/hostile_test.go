package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/server"
	"github.com/tallyhq/tally/tallytest"
)

// The attacks of "Hostile input and hostile tenants": one test per class.

// call is one HTTP request with an optional API key and headers (name, value
// pairs); it returns the status, headers and body.
func call(t *testing.T, method, url, key string, body any, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// An attacker on the public port (where providers post callbacks) finds no
// metrics, readiness, or pprof: they are on the admin listener, whose /metrics
// names the provider accounts.
func TestAttackMetricsOnPublicPort(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	if status, _ := post(t, e.CallbackURL("cxpay"), `{"orderId":"x"}`); status != http.StatusOK && status != http.StatusBadRequest {
		t.Logf("forged callback answered %d", status)
	}
	for _, path := range []string{"/metrics", "/metrics/", "/readyz", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2",
		"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1", "/debug/pprof/cmdline", "/debug/vars", "/ops/river"} {
		status, _, body := call(t, "GET", e.URL+path, "", nil)
		if status != http.StatusNotFound || strings.Contains(string(body), "cxpay-main") {
			t.Errorf("public GET %s = %d %.80s, want 404", path, status, body)
		}
		// An API key does not open them either.
		if status, _, _ := call(t, "GET", e.URL+path, e.APIKey, nil); status != http.StatusNotFound {
			t.Errorf("public GET %s with an API key = %d, want 404", path, status)
		}
	}
	status, _, body := call(t, "GET", e.AdminURL+"/metrics", "", nil)
	if status != http.StatusOK || !strings.Contains(string(body), `tally_callbacks_total{provider_account="acme/cxpay-main"`) {
		t.Fatalf("admin /metrics = %d:\n%s", status, body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/debug/pprof/"} {
		if status, _, _ := call(t, "GET", e.AdminURL+path, "", nil); status != http.StatusOK {
			t.Errorf("admin GET %s = %d, want 200", path, status)
		}
	}
	if status, _, _ := call(t, "GET", e.URL+"/healthz", "", nil); status != http.StatusOK {
		t.Errorf("public /healthz = %d", status)
	}
}

// A merchant's reconciliation run checks its own ledger only: merchant A's
// broken balance row is found by A's run, while merchant B's run (started and
// read through B's API key) passes and nothing B sees names A's accounts or
// figures.
func TestAttackCrossTenantRun(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()

	// A (the Env's merchant) has money on a customer; B has a ledger of its own.
	e.Fund("cxpay", "a-secret-customer", "BRL", "4321.09")
	b, _, err := e.Merchants.CreateMerchant(ctx, "beta", "Beta Ltd", e.Webhooks.URL)
	if err != nil {
		t.Fatal(err)
	}
	bKey, _, err := e.Merchants.CreateAPIKey(ctx, "beta", "tests", merchants.AllScopes()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ledger.Transfer(ctx, ledger.TransferRequest{Merchant: b.ID, Key: "opening", Reference: "opening balance",
		Entries: []ledger.Entry{
			{Account: ledger.ProviderAccount("cpay-beta", "USDT"), Side: ledger.Debit, Amount: decimal.RequireFromString("10")},
			{Account: ledger.OpeningAccount("USDT"), Side: ledger.Credit, Amount: decimal.RequireFromString("10")},
		}}); err != nil {
		t.Fatal(err)
	}
	// Break A's ledger: the balance row no longer equals its entries.
	var aAccount int64
	if err := e.Pool.QueryRow(ctx, `UPDATE balances SET credits_posted = credits_posted + 1000
		WHERE account_id = (SELECT id FROM accounts WHERE merchant_id = $1 AND code = 'liabilities:customer:a-secret-customer:BRL')
		RETURNING account_id`, e.Merchant.ID).Scan(&aAccount); err != nil {
		t.Fatal(err)
	}
	leaks := []string{"a-secret-customer", "4321.09", "5321.09", fmt.Sprintf("account %d ", aAccount), fmt.Sprintf("account %d:", aAccount)}

	// B's run, through B's API key, as B would.
	status, _, body := call(t, "POST", e.URL+"/v1/recon/runs", bKey, map[string]any{"kind": "orders"})
	if status != http.StatusAccepted {
		t.Fatalf("B starts a run: %d %s", status, body)
	}
	var run recon.Run
	if err := json.Unmarshal(body, &run); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Run     recon.Run     `json:"run"`
		Summary recon.Summary `json:"summary"`
	}
	e.Eventually("B's run to finish", func() bool {
		_, _, body = call(t, "GET", e.URL+"/v1/recon/runs/"+itoa(run.ID), bKey, nil)
		return json.Unmarshal(body, &got) == nil && got.Run.Status != recon.RunRunning
	})
	if got.Run.Status != recon.RunCompleted || !got.Summary.Ledger.OK || len(got.Summary.Ledger.Violations) != 0 ||
		got.Summary.Ledger.Transfers != 1 || got.Summary.Ledger.Entries != 2 {
		t.Fatalf("B's run: %s %+v", got.Run.Status, got.Summary.Ledger)
	}
	_, _, report := call(t, "GET", e.URL+"/v1/recon/runs/"+itoa(run.ID)+"/report?format=json", bKey, nil)
	_, _, discs := call(t, "GET", e.URL+"/v1/discrepancies", bKey, nil)
	_, _, ledgerOnly := call(t, "GET", e.URL+"/v1/discrepancies?type=ledger_invariant", bKey, nil)
	for what, text := range map[string][]byte{"run": body, "report": report, "discrepancies": discs} {
		for _, leak := range leaks {
			if bytes.Contains(text, []byte(leak)) {
				t.Errorf("B's %s mentions A's %q:\n%s", what, leak, text)
			}
		}
	}
	if string(ledgerOnly) != `{"data":[]}`+"\n" {
		t.Errorf("B has ledger_invariant discrepancies: %s", ledgerOnly)
	}
	if list, err := e.Disc.List(ctx, e.Pool, discrepancies.Filter{MerchantID: b.ID}); err != nil || len(list) != 0 {
		t.Fatalf("B's discrepancies: %+v %v", list, err)
	}

	// A's run finds it, under A.
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main"})
	if sum.Ledger.OK || !strings.Contains(strings.Join(sum.Ledger.Violations, "\n"), fmt.Sprintf("account %d slot", aAccount)) {
		t.Fatalf("A's run: %+v", sum.Ledger)
	}
	if ds := e.Discrepancies(discrepancies.LedgerInvariant); len(ds) != 1 || ds[0].MerchantID != e.Merchant.ID {
		t.Fatalf("A's ledger_invariant: %+v", ds)
	}
	// The platform check is the operator's: it sees A's violation.
	if rep, err := ledger.Check(ctx, e.Pool); err != nil || rep.OK() {
		t.Fatalf("platform check: %v %v", rep, err)
	}
}

// 1,000 requests with bad keys from one source: after the burst (10) the
// source is answered 429 with Retry-After before any key is looked up, and
// nothing is stored. Meanwhile a good key from another source is served at
// once; from the attacking source it waits like any other request there.
func TestAttackBadKeyFlood(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	e := tallytest.New(t, tallytest.Options{NoWorkers: true, Server: server.Options{TrustedProxies: proxies}})
	const attacker, other = "203.0.113.7", "198.51.100.9"
	deposit := func(key, source, idem string) (int, http.Header, []byte) {
		return call(t, "POST", e.URL+"/v1/deposits", key, map[string]any{"provider_account": "cpay-main", "customer_id": "c1",
			"amount": "10.00", "currency": "USDT"}, "Idempotency-Key", idem, "X-Forwarded-For", source)
	}

	const n, workers = 1000, 8
	var mu sync.Mutex
	counts := map[int]int{}
	var badRetry []string
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				// Well-formed keys (looked up by prefix) and garbage alike.
				key := fmt.Sprintf("tly_%08d_%032d", i, i)
				if i%3 == 0 {
					key = "not-a-key-" + strconv.Itoa(i)
				}
				status, h, _ := deposit(key, attacker, fmt.Sprintf("flood-%d", i))
				mu.Lock()
				counts[status]++
				if status == http.StatusTooManyRequests {
					if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
						badRetry = append(badRetry, h.Get("Retry-After"))
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	// At most the burst, one per second after it, and what the workers had
	// in flight when the source became blocked.
	maxRefused := server.DefaultAuthFailureBurst + (int(elapsed.Seconds())+1)*(1+workers)
	if counts[http.StatusUnauthorized] < server.DefaultAuthFailureBurst || counts[http.StatusUnauthorized] > maxRefused ||
		counts[http.StatusTooManyRequests] != n-counts[http.StatusUnauthorized] || len(badRetry) > 0 {
		t.Fatalf("in %v: %v (want at least %d and at most %d 401s, the rest 429 with Retry-After); bad Retry-After: %v",
			elapsed, counts, server.DefaultAuthFailureBurst, maxRefused, badRetry)
	}
	t.Logf("1,000 bad keys in %v: %d refused (401), %d limited (429)", elapsed, counts[http.StatusUnauthorized], counts[http.StatusTooManyRequests])

	var stored int
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM river_job WHERE kind = 'submit_order')`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("the flood stored %d orders or jobs", stored)
	}

	// Another source's good key is not slowed.
	if status, _, body := deposit(e.APIKey, other, "good-other"); status != http.StatusCreated {
		t.Fatalf("good key from another source: %d %s", status, body)
	}
	if status, _, body := call(t, "GET", e.URL+"/v1/orders", e.APIKey, nil); status != http.StatusOK {
		t.Fatalf("good key from the proxy itself: %d %s", status, body)
	}
	// The attacking source is blocked before its key is looked up, good or not.
	if status, h, _ := deposit(e.APIKey, attacker, "good-attacker"); status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("good key from the blocked source: %d", status)
	}
	// X-Forwarded-For from an untrusted peer is not believed: a second tally
	// without trusted proxies counts the peer (127.0.0.1), whatever the header.
	e2 := tallytest.New(t, tallytest.Options{NoWorkers: true, Server: server.Options{AuthFailureBurst: 2}})
	for i := range 3 {
		call(t, "GET", e2.URL+"/v1/orders", "tly_bad_key", nil, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	if status, _, _ := call(t, "GET", e2.URL+"/v1/orders", e2.APIKey, nil, "X-Forwarded-For", "192.0.2.99"); status != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For from an untrusted peer escaped the limit: %d", status)
	}
	_, _, metrics := call(t, "GET", e.AdminURL+"/metrics", "", nil)
	if want := fmt.Sprintf(`tally_api_auth_failures_total{outcome="limited"} %d`, counts[http.StatusTooManyRequests]+1); !strings.Contains(string(metrics), want) {
		t.Errorf("admin /metrics lacks %q", want)
	}
}

// Unknown filter values (and unknown or repeated filters) on every list
// endpoint are 400 invalid_filter naming the parameter, not an empty page.
func TestAttackUnknownFilterValues(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	ctx := context.Background()
	// Another merchant's provider account: its name is no filter of A's.
	if _, _, err := e.Merchants.CreateMerchant(ctx, "beta", "Beta Ltd", e.Webhooks.URL); err != nil {
		t.Fatal(err)
	}
	c := sandbox.DefaultCredentials["cpay"]
	if _, err := e.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "beta", Name: "cpay-beta", Provider: "cpay",
		BaseURL: e.SandboxURL + "/cpay", ProviderMerchantID: c.ID, Secret: c.Secret, Options: tallytest.AccountOptions("cpay")}); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	for path, field := range map[string]string{
		"/v1/orders?status=bogus":                                        "status",
		"/v1/orders?status=SUCCEEDED":                                    "status",
		"/v1/orders?kind=refund":                                         "kind",
		"/v1/orders?provider_account=nope":                               "provider_account",
		"/v1/orders?provider_account=cpay-beta":                          "provider_account",
		"/v1/orders?stauts=failed":                                       "stauts",
		"/v1/orders?status=failed&status=succeeded":                      "status",
		"/v1/discrepancies?status=closed":                                "status",
		"/v1/discrepancies?type=bogus":                                   "type",
		"/v1/discrepancies?severity=high":                                "severity",
		"/v1/webhook-deliveries?status=failed":                           "status",
		"/v1/balances?currency=USDT":                                     "currency",
		"/v1/provider-accounts?provider=cpay":                            "provider",
		"/v1/accounts/liabilities:customer:c1:USDT/entries?phase=posted": "phase",
		"/v1/recon/runs?kind=full":                                       "kind",
		"/v1/reports/daily?date=" + day + "&format=pdf":                  "format",
		"/v1/reports/daily?date=" + day + "&merchant=beta":               "merchant",
	} {
		status, _, body := call(t, "GET", e.URL+path, e.APIKey, nil)
		var apiErr server.APIError
		_ = json.Unmarshal(body, &apiErr)
		if status != http.StatusBadRequest || apiErr.Error.Code != "invalid_filter" || apiErr.Error.Field != field {
			t.Errorf("GET %s = %d %s, want 400 invalid_filter on %s", path, status, body, field)
		}
	}
	status, _, body := call(t, "POST", e.URL+"/v1/statements?provider_account=vpay-main&allow_bad_rows=yes", e.APIKey, nil)
	if !strings.Contains(string(body), `"invalid_filter"`) || status != http.StatusBadRequest {
		t.Errorf("allow_bad_rows=yes: %d %s", status, body)
	}
	for _, path := range []string{"/v1/orders?status=succeeded&kind=deposit&provider_account=cpay-main", "/v1/orders?status=",
		"/v1/discrepancies?status=open&type=ledger_invariant", "/v1/webhook-deliveries?order_id=1", "/v1/balances",
		"/v1/provider-accounts", "/v1/recon/runs?before=10", "/v1/reports/daily?date=" + day + "&format=CSV"} {
		if status, _, body := call(t, "GET", e.URL+path, e.APIKey, nil); status != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200", path, status, body)
		}
	}
}
