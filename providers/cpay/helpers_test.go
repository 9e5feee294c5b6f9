package cpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// testScale runs RetrySchedule (3 h 49 min) in under 0.7 s.
const testScale = 20000

// harness is a simulator mounted as the sandbox mounts it (/cpay and
// /control/cpay), an adapter pointed at it, and a callback receiver built on
// the adapter's own ParseCallback and Reply.
type harness struct {
	t    *testing.T
	sim  *Simulator
	srv  *httptest.Server
	base string
	a    *Adapter
	recv *receiver
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t}
	h.recv = &receiver{}
	recvSrv := httptest.NewServer(h.recv)
	t.Cleanup(recvSrv.Close)
	mux := http.NewServeMux()
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL + "/cpay"
	h.sim = NewSimulator(sim.Config{
		BaseURL: h.base,
		Scale:   testScale,
		Seed:    3,
		Merchants: []sim.Merchant{{
			ID: testMerchant, Secret: testSecret, NotifyURL: recvSrv.URL + "/callbacks/cpay-test",
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.005"), PayoutFixedFee: dec("1"),
			Balances: map[string]*sim.Balance{"USDT": {Available: dec("1000")}, "BRL": {Available: dec("500")}},
			Options: map[string]string{
				"rate:USDT:BTC": "40000", "ccrate:USD:ETH": "2999.342", "exchange_fee_rate": "0.003",
			},
		}},
	})
	t.Cleanup(h.sim.Close)
	mux.Handle("/cpay/", http.StripPrefix("/cpay", h.sim.Handler()))
	mux.Handle("/control/cpay/", http.StripPrefix("/control/cpay", h.sim.Engine().ControlHandler()))
	h.a = testAdapter(t, h.base)
	h.recv.a = h.a
	return h
}

// adapterWith is an adapter on the same simulator with another client or credentials.
func (h *harness) adapterWith(merchantID, secret string, client *http.Client) *Adapter {
	if client == nil {
		client = testClient
	}
	a, err := New(providers.Config{BaseURL: h.base, MerchantID: merchantID, Secret: providers.Secret(secret), HTTPClient: client})
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// control calls the control API and decodes its JSON answer into out.
func (h *harness) control(method, path string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+"/control/cpay"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		h.t.Fatalf("control %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("control %s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// raw sends a hand-made request (params signed with secret unless sign is
// already set) and returns the HTTP status and the decoded envelope.
func (h *harness) raw(method, path string, p map[string]string, secret string) (int, map[string]any) {
	h.t.Helper()
	if _, ok := p[SignField]; !ok && secret != "" {
		p[SignField] = Sign(p, secret)
	}
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, h.base+path+"?"+form.Encode(), nil)
	} else {
		req, _ = http.NewRequest(method, h.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	d := json.NewDecoder(resp.Body)
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		h.t.Fatalf("%s %s: %d, not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, env
}

func (h *harness) setScript(orderNo string, s sim.Script) {
	h.t.Helper()
	h.control(http.MethodPut, "/scripts/"+orderNo, s, nil)
}

func (h *harness) balance(currency string) providers.Balance {
	h.t.Helper()
	bs, err := h.a.QueryBalances(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == currency {
			return b
		}
	}
	h.t.Fatalf("no %s balance in %+v", currency, bs)
	return providers.Balance{}
}

func (h *harness) deposit(no string, amount string) *providers.CreateResult {
	h.t.Helper()
	res, err := h.a.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: no, Amount: dec(amount), Currency: "USDT", CustomerID: "u1"})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// receiver is tally's callback endpoint in miniature: ParseCallback, then
// Reply; it can fail its first calls as if storage were down.
type receiver struct {
	a         *Adapter
	mu        sync.Mutex
	failFirst int
	calls     int
	events    []*providers.Event
	errs      []error
	at        []time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxCallbackBytes+1))
	ev, err := rc.a.ParseCallback(&providers.Callback{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Body: body, RemoteAddr: r.RemoteAddr})
	rc.mu.Lock()
	rc.calls++
	if err == nil && r.Header.Get("Content-Type") != "application/json" {
		err = errors.New("webhook is not JSON")
	}
	if err == nil && rc.calls <= rc.failFirst {
		err = errors.New("storage down")
	}
	if err == nil {
		rc.events = append(rc.events, ev)
		rc.at = append(rc.at, time.Now())
	} else {
		rc.errs = append(rc.errs, err)
	}
	rc.mu.Unlock()
	rc.a.Reply(err).Write(w)
}

func (rc *receiver) snapshot() ([]*providers.Event, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*providers.Event(nil), rc.events...), append([]error(nil), rc.errs...)
}

// waitEvents waits for n accepted callbacks.
func (h *harness) waitEvents(n int) []*providers.Event {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _ := h.recv.snapshot()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %d callbacks, got %d", n, len(evs))
		}
		time.Sleep(5 * time.Millisecond)
	}
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

func checkAmounts(t *testing.T, what string, ev *providers.Event, paid, credited, fee string) {
	t.Helper()
	if !sameNull(ev.Paid, nd(paid)) || !sameNull(ev.Credited, nd(credited)) || !sameNull(ev.Fee, nd(fee)) {
		t.Fatalf("%s: paid %v credited %v fee %v; want %s %s %s", what, ev.Paid, ev.Credited, ev.Fee, paid, credited, fee)
	}
}

func checkBalance(t *testing.T, b providers.Balance, avail, frozen string) {
	t.Helper()
	if !b.Available.Equal(dec(avail)) || !b.Frozen.Equal(dec(frozen)) || !b.Total.Equal(dec(avail).Add(dec(frozen))) {
		t.Fatalf("%s balance = available %s frozen %s total %s; want %s + %s", b.Currency, b.Available, b.Frozen, b.Total, avail, frozen)
	}
}
