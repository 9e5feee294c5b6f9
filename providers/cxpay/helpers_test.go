package cxpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

const (
	testMerchant = "M10001"
	testKey      = "5f8d2c0e9a7b4e1f"
	// testScale runs the 40-minute retry schedule in two seconds.
	testScale = 1200
)

// quiet discards the adapter's and simulator's logs in tests.
var quiet = slog.New(slog.DiscardHandler)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// testEnv is a simulator mounted under /cxpay (as the sandbox mounts it) with
// its control API under /control/cxpay, an adapter talking to it, and a
// callback receiver built on the adapter's ParseCallback and Reply.
type testEnv struct {
	t   *testing.T
	sim *Simulator
	srv *httptest.Server
	ad  *Adapter
	rcv *receiver
}

type envOption func(*envConfig)

type envConfig struct {
	merchant sim.Merchant
	adapter  providers.Config
}

func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rcv := &receiver{}
	rsrv := httptest.NewServer(rcv)
	t.Cleanup(rsrv.Close)

	c := envConfig{
		merchant: sim.Merchant{
			ID: testMerchant, Secret: testKey,
			Options:        map[string]string{SimOptionPayCodes: "PIX", SimOptionCurrency: "BRL"},
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.02"), PayoutFixedFee: dec("1"),
			Balances: map[string]*sim.Balance{"BRL": {Available: dec("1000")}},
		},
		adapter: providers.Config{
			Account: "cxpay-test", BaseURL: srv.URL + "/cxpay", MerchantID: testMerchant,
			Secret: testKey, Options: map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"}, NotifyURL: rsrv.URL + "/callbacks/cxpay-test",
			HTTPClient: &http.Client{Timeout: 2 * time.Second}, Logger: quiet,
		},
	}
	for _, o := range opts {
		o(&c)
	}
	s := NewSimulator(sim.Config{BaseURL: srv.URL + "/cxpay", Merchants: []sim.Merchant{c.merchant}, Scale: testScale, Seed: 1, Logger: quiet})
	t.Cleanup(s.Close)
	mux.Handle("/cxpay/", http.StripPrefix("/cxpay", s.Handler()))
	mux.Handle("/control/cxpay/", http.StripPrefix("/control/cxpay", s.Engine().ControlHandler()))
	ad, err := New(c.adapter)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rcv.ad = ad
	return &testEnv{t: t, sim: s, srv: srv, ad: ad, rcv: rcv}
}

// control calls the control API and fails the test unless it answers 2xx.
func (e *testEnv) control(method, path, body string) []byte {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/control/cxpay"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("control %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("control %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

func (e *testEnv) deposit(no, amount string) providers.DepositRequest {
	return providers.DepositRequest{
		OrderNo: no, Amount: dec(amount), Currency: "BRL", ReturnURL: "https://shop.example/return",
		Payer: providers.Party{Name: "Joao Silva", Email: "joao@example.com", Phone: "5511987654321", TaxID: "12345678909"},
	}
}

func (e *testEnv) payout(no, amount string) providers.PayoutRequest {
	return providers.PayoutRequest{
		OrderNo: no, Amount: dec(amount), Currency: "BRL",
		Beneficiary: providers.Party{Name: "Maria Souza", Email: "maria@example.com", Phone: "5511912345678", Account: "12345678909", AccountType: "CPF"},
	}
}

func (e *testEnv) order(ref string) *sim.Order {
	e.t.Helper()
	o, err := e.sim.Engine().FindOrder("", ref)
	if err != nil {
		e.t.Fatalf("find order %s: %v", ref, err)
	}
	return o
}

func (e *testEnv) balance() providers.Balance {
	e.t.Helper()
	bs, err := e.ad.QueryBalances(context.Background())
	if err != nil || len(bs) != 1 {
		e.t.Fatalf("QueryBalances = %v, %v", bs, err)
	}
	return bs[0]
}

func (e *testEnv) wantBalance(total, available string) {
	e.t.Helper()
	b := e.balance()
	if b.Currency != "BRL" || !b.Total.Equal(dec(total)) || !b.Available.Equal(dec(available)) || !b.Frozen.Equal(dec(total).Sub(dec(available))) {
		e.t.Fatalf("balance = %s total %s available %s frozen %s, want total %s available %s", b.Currency, b.Total, b.Available, b.Frozen, total, available)
	}
}

// receiver is a merchant's callback endpoint built on ParseCallback and Reply.
// It can fail its first failFirst deliveries (answering 500) to exercise retries.
type receiver struct {
	ad        *Adapter
	mu        sync.Mutex
	events    []*providers.Event
	errs      []error
	failFirst int
	calls     int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxCallbackBytes+1))
	ev, err := rc.ad.ParseCallback(&providers.Callback{Method: r.Method, Path: r.URL.Path, Header: r.Header, Body: body, RemoteAddr: r.RemoteAddr})
	rc.mu.Lock()
	rc.calls++
	if err == nil && rc.calls <= rc.failFirst {
		err = errors.New("database unavailable")
	}
	if err == nil {
		rc.events = append(rc.events, ev)
	} else {
		rc.errs = append(rc.errs, err)
	}
	rc.mu.Unlock()
	rc.ad.Reply(err).Write(w)
}

func (rc *receiver) setFailFirst(n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failFirst = n
}

func (rc *receiver) snapshot() ([]*providers.Event, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*providers.Event(nil), rc.events...), append([]error(nil), rc.errs...)
}

// waitEvents waits until the receiver holds n verified events and returns them.
func (rc *receiver) waitEvents(t *testing.T, n int) []*providers.Event {
	t.Helper()
	var evs []*providers.Event
	waitFor(t, "callbacks", func() bool {
		evs, _ = rc.snapshot()
		return len(evs) >= n
	})
	return evs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantKind fails unless err wraps kind.
func wantKind(t *testing.T, err, kind error) *providers.Error {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err %v is not a *providers.Error", err)
	}
	if providers.KindOf(err) != kind {
		t.Fatalf("KindOf(%v) = %v, want %v", err, providers.KindOf(err), kind)
	}
	return pe
}

// wantAmount fails unless n is valid and equal to want ("" wants invalid).
func wantAmount(t *testing.T, what string, n decimal.NullDecimal, want string) {
	t.Helper()
	if want == "" {
		if n.Valid {
			t.Fatalf("%s = %s, want invalid (not stated)", what, n.Decimal)
		}
		return
	}
	if !n.Valid || !n.Decimal.Equal(dec(want)) {
		t.Fatalf("%s = %v (valid %v), want %s", what, n.Decimal, n.Valid, want)
	}
}

// signedJSON builds a callback body from ordered name/raw-JSON pairs and signs
// it as CXPay does: each value as its JSON text (strings unquoted).
func signedJSON(t testing.TB, key string, pairs ...string) []byte {
	t.Helper()
	params := map[string]string{}
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		name, raw := pairs[i], pairs[i+1]
		text, ok, err := jsonValueText(json.RawMessage(raw))
		if err != nil {
			t.Fatalf("value %s: %v", raw, err)
		}
		if ok {
			params[name] = text
		}
		if i > 0 {
			b.WriteByte(',')
		}
		n, _ := json.Marshal(name)
		b.Write(n)
		b.WriteByte(':')
		b.WriteString(raw)
	}
	sign, _ := json.Marshal(Sign(params, key))
	b.WriteString(`,"sign":`)
	b.Write(sign)
	b.WriteByte('}')
	return b.Bytes()
}
