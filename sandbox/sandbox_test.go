package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/providers/sim"
	"github.com/tallyhq/tally/providers/usdtpay"
	"github.com/tallyhq/tally/sandbox"
)

// newSandbox serves a sandbox of the default merchants on a test server.
func newSandbox(t *testing.T) (*sandbox.Sandbox, string) {
	t.Helper()
	var mu sync.Mutex
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hh := h
		mu.Unlock()
		hh.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sb, err := sandbox.New(sandbox.Config{BaseURL: srv.URL, Merchants: sandbox.DefaultMerchants(), Scale: 1000, Seed: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	mu.Lock()
	h = sb.Handler()
	mu.Unlock()
	return sb, srv.URL
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func adapter(t *testing.T, base, provider string) providers.Adapter {
	t.Helper()
	c := sandbox.DefaultCredentials[provider]
	cfg := providers.Config{Account: provider + "-main", BaseURL: base + "/" + provider, MerchantID: c.ID, Secret: providers.Secret(c.Secret),
		NotifyURL: "https://tally.example.com/callbacks/" + provider + "-main", HTTPClient: testClient, Logger: slog.New(slog.DiscardHandler)}
	if provider == "cxpay" {
		cfg.Options = map[string]string{"pay_code": "PIX", "payout_pay_code": "PIX", "currency": "BRL"}
	}
	a, err := registry.NewAdapter(provider, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPrefixesRouteToTheirSimulators talks to each provider's prefix with
// that provider's own adapter and default credentials, and finds what it did
// in that provider's control API only.
func TestPrefixesRouteToTheirSimulators(t *testing.T) {
	sb, base := newSandbox(t)
	ctx := context.Background()
	d := decimal.RequireFromString

	// Balances: cpay and cxpay answer with their own merchants' balances.
	bs, err := adapter(t, base, "cpay").QueryBalances(ctx)
	if err != nil {
		t.Fatalf("cpay balances: %v", err)
	}
	found := false
	for _, b := range bs {
		if b.Currency == "USDT" && b.Available.Equal(d("100000")) {
			found = true
		}
	}
	if !found {
		t.Fatalf("cpay balances = %+v", bs)
	}
	bs, err = adapter(t, base, "cxpay").QueryBalances(ctx)
	if err != nil || len(bs) != 1 || bs[0].Currency != "BRL" || !bs[0].Total.Equal(d("100000")) {
		t.Fatalf("cxpay balances = %+v, %v", bs, err)
	}

	// Deposits: each order exists at its own simulator and nowhere else.
	orders := map[string]string{}
	for _, p := range []string{"cpay", "cxpay", "usdtcnpay", "vpay", "usdtpay"} {
		no := "SBX" + strings.ToUpper(p) + "0000000000000000001"[:20-len(p)]
		req := providers.DepositRequest{OrderNo: no, Amount: d("100"), Currency: "CNY", CustomerID: "83430099", ReturnURL: "https://shop.example.com/done"}
		switch p {
		case "cpay":
			req.Currency = "USDT"
		case "cxpay":
			req.Currency = "BRL"
			req.Payer = providers.Party{Name: "Ana", TaxID: "12345678901", Email: "ana@example.com", Phone: "+5511999990000"}
		case "vpay":
			req.PayCurrency = "USDT"
		}
		a := adapter(t, base, p)
		res, err := a.CreateDeposit(ctx, req)
		if err != nil {
			t.Fatalf("%s deposit: %v", p, err)
		}
		if p == "usdtpay" {
			if _, err := a.(*usdtpay.Adapter).SubmitPayForm(ctx, res.PayForm); err != nil {
				t.Fatalf("usdtpay pay form: %v", err)
			}
		}
		orders[p] = no
	}
	for p, no := range orders {
		for _, q := range registry.Names() {
			status, body := get(t, base+"/control/"+q+"/orders/"+no)
			if q == p {
				var o sim.Order
				if status != http.StatusOK || json.Unmarshal(body, &o) != nil || o.OrderNo != no || o.MerchantID != sandbox.DefaultCredentials[p].ID {
					t.Fatalf("/control/%s/orders/%s = %d %s", q, no, status, body)
				}
			} else if status != http.StatusNotFound {
				t.Fatalf("%s's order %s found at /control/%s: %d %s", p, no, q, status, body)
			}
		}
		if o, err := sb.Simulator(p).Engine().FindOrder("", no); err != nil || o.OrderNo != no {
			t.Fatalf("Simulator(%s) does not hold %s: %v", p, no, err)
		}
	}
}

func TestControlAPIAnswers(t *testing.T) {
	_, base := newSandbox(t)
	for _, p := range registry.Names() {
		status, body := get(t, base+"/control/"+p+"/merchants")
		if status != http.StatusOK || !strings.Contains(string(body), `"`+sandbox.DefaultCredentials[p].ID+`"`) {
			t.Fatalf("/control/%s/merchants = %d %s", p, status, body)
		}
		for _, q := range registry.Names() {
			if q != p && strings.Contains(string(body), `"`+sandbox.DefaultCredentials[q].ID+`"`) {
				t.Fatalf("/control/%s/merchants lists %s's merchant: %s", p, q, body)
			}
		}
		for _, path := range []string{"/orders", "/deliveries", "/injected", "/faults", "/auto"} {
			if status, body := get(t, base+"/control/"+p+path); status != http.StatusOK || !json.Valid(body) {
				t.Fatalf("/control/%s%s = %d %s", p, path, status, body)
			}
		}
		// A control write: a fault on this provider only.
		resp, err := http.Post(base+"/control/"+p+"/faults", "application/json", strings.NewReader(`{"path":"/x","mode":"error_5xx","count":1}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST /control/%s/faults = %d %s", p, resp.StatusCode, b)
		}
	}
	for _, p := range registry.Names() {
		_, body := get(t, base+"/control/"+p+"/faults")
		var fs []sim.EndpointFault
		if err := json.Unmarshal(body, &fs); err != nil || len(fs) != 1 {
			t.Fatalf("/control/%s/faults = %s (%v): want its one fault", p, body, err)
		}
	}
	if status, body := get(t, base+"/control/injected"); status != http.StatusOK || !json.Valid(body) {
		t.Fatalf("/control/injected = %d %s", status, body)
	}
	status, body := get(t, base+"/")
	for _, p := range registry.Names() {
		if status != http.StatusOK || !strings.Contains(string(body), "/control/"+p+"/") || !strings.Contains(string(body), "/"+p+"/...") {
			t.Fatalf("index = %d %s", status, body)
		}
	}
	if status, _ := get(t, base+"/nope/anything"); status != http.StatusNotFound {
		t.Fatalf("unknown prefix = %d", status)
	}
	if status, _ := get(t, base+"/control/nope/orders"); status != http.StatusNotFound {
		t.Fatalf("unknown control prefix = %d", status)
	}
}

func TestMerchantsKeepDefaultsForProvidersNotNamed(t *testing.T) {
	ids := func(ms []sim.Merchant) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	// Neither: every provider has its default merchant.
	ms, err := sandbox.Merchants("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range registry.Names() {
		if got := ids(ms[p]); len(got) != 1 || got[0] != sandbox.DefaultCredentials[p].ID {
			t.Fatalf("no flags: %s merchants %v", p, got)
		}
	}

	// --merchant for one provider replaces its default; the other four keep theirs.
	ms, err = sandbox.Merchants("", []string{"cpay:30000001:s1", "cpay:30000002:s2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ms["cpay"]); len(got) != 2 || got[0] != "30000001" || got[1] != "30000002" || ms["cpay"][0].Secret != "s1" {
		t.Fatalf("cpay merchants %v", got)
	}
	if !ms["cpay"][0].DepositFeeRate.Equal(decimal.RequireFromString("0.01")) || ms["cpay"][0].Balances["USDT"] == nil {
		t.Fatalf("a flag merchant lacks the default fees and balances: %+v", ms["cpay"][0])
	}
	for _, p := range []string{"cxpay", "usdtcnpay", "usdtpay", "vpay"} {
		if got := ids(ms[p]); len(got) != 1 || got[0] != sandbox.DefaultCredentials[p].ID {
			t.Fatalf("--merchant cpay left %s with %v, want its default merchant", p, got)
		}
	}

	// A file naming one provider, a flag another: both replaced, three defaults.
	path := t.TempDir() + "/merchants.json"
	if err := os.WriteFile(path, []byte(`{"vpay":[{"id":"V1","secret":"vs"}],"usdtpay":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ms, err = sandbox.Merchants(path, []string{"cxpay:M2:k2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ms["vpay"]); len(got) != 1 || got[0] != "V1" {
		t.Fatalf("vpay from the file: %v", got)
	}
	if got := ids(ms["cxpay"]); len(got) != 1 || got[0] != "M2" {
		t.Fatalf("cxpay from the flag: %v", got)
	}
	if len(ms["usdtpay"]) != 0 {
		t.Fatalf("usdtpay listed empty in the file has %v", ids(ms["usdtpay"]))
	}
	for _, p := range []string{"cpay", "usdtcnpay"} {
		if got := ids(ms[p]); len(got) != 1 || got[0] != sandbox.DefaultCredentials[p].ID {
			t.Fatalf("%s not named: %v, want its default", p, got)
		}
	}

	// Bad input is refused.
	if _, err := sandbox.Merchants("", []string{"paypal:1:2"}); err == nil {
		t.Fatal("unknown provider flag accepted")
	}
	if _, err := sandbox.Merchants(t.TempDir()+"/missing.json", nil); err == nil {
		t.Fatal("missing file accepted")
	}
}

// TestCommandMerchantsHoldWhatTheREADMEBooks: `tally sandbox` without flags
// (and a --merchant flag's merchant) holds exactly the opening balances the
// README's walkthrough books, and nothing in another currency, so that the
// first balances check of a fresh walkthrough opens no balance_drift; the
// demo's and tests' DefaultMerchants keep C-Pay's eight currencies.
func TestCommandMerchantsHoldWhatTheREADMEBooks(t *testing.T) {
	want := map[string]map[string]string{
		"cpay": {"USDT": "100000"}, "cxpay": {"BRL": "100000"}, "usdtcnpay": {"CNY": "1000000"}, "usdtpay": {}, "vpay": {},
	}
	held := func(m sim.Merchant) map[string]string {
		out := map[string]string{}
		for cur, b := range m.Balances {
			out[cur] = b.Available.Add(b.Frozen).String()
		}
		return out
	}
	ms, err := sandbox.Merchants("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, w := range want {
		if got := held(ms[p][0]); !maps.Equal(got, w) {
			t.Errorf("tally sandbox's %s merchant holds %v, want %v", p, got, w)
		}
	}
	_, m, err := sandbox.ParseMerchantFlag("cpay:30000001:s1")
	if err != nil || !maps.Equal(held(m), want["cpay"]) {
		t.Errorf("a --merchant cpay merchant holds %v (%v), want %v", held(m), err, want["cpay"])
	}
	if got := held(sandbox.DefaultMerchants()["cpay"][0]); len(got) != 8 || got["EUR"] != "100000" {
		t.Errorf("DefaultMerchants' cpay holds %v, want eight currencies", got)
	}
}
