package vpay

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

const (
	testKey    = "dNNTJZpgFVWlYrVv"
	testSecret = "s3cr3t-D2PQPllGEBOV4mcMxoKT"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// env is a simulator behind an httptest server, its control API, and an
// adapter pointed at it.
type env struct {
	sim     *Simulator
	srv     *httptest.Server
	control *httptest.Server
	ad      *Adapter
	// requests holds the bodies the simulator received on the create path.
	mu       sync.Mutex
	requests [][]byte
}

type envOpts struct {
	scale   float64
	client  *http.Client
	options map[string]string // adapter options
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.scale == 0 {
		o.scale = 1000
	}
	e := &env{}
	var handler http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathCreate {
			b, _ := io.ReadAll(r.Body)
			e.mu.Lock()
			e.requests = append(e.requests, b)
			e.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.sim = NewSimulator(sim.Config{
		BaseURL: e.srv.URL,
		Logger:  slog.New(slog.DiscardHandler),
		Scale:   o.scale,
		Seed:    1,
		Merchants: []sim.Merchant{{
			ID: testKey, Secret: testSecret,
			Options:        map[string]string{"rate:CNY": "7.1", "rate:CNY:TRX": "2.5", "merchant_id": "303122065665"},
			DepositFeeRate: dec("0.01"),
		}},
	})
	handler = e.sim.Handler()
	t.Cleanup(e.sim.Close)
	e.control = httptest.NewServer(e.sim.Engine().ControlHandler())
	t.Cleanup(e.control.Close)
	e.ad = newAdapter(t, e.srv.URL, testKey, testSecret, o.client, o.options)
	return e
}

func newAdapter(t testing.TB, baseURL, key, secret string, client *http.Client, opts map[string]string) *Adapter {
	t.Helper()
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ad, err := New(providers.Config{Account: "vpay-test", BaseURL: baseURL, MerchantID: key, Secret: providers.Secret(secret), HTTPClient: client, Options: opts, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return ad
}

func (e *env) lastRequest(t *testing.T) map[string]any {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.requests) == 0 {
		t.Fatal("the simulator received no create request")
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(e.requests[len(e.requests)-1]))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// ctl calls the control API and fails the test unless it answers 2xx.
func (e *env) ctl(t *testing.T, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.control.URL+path, bytes.NewBufferString(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("control %s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

// deposit creates a 100.00 CNY deposit notifying rcv.
func (e *env) deposit(t *testing.T, orderNo string, rcv *receiver) *providers.CreateResult {
	t.Helper()
	req := providers.DepositRequest{OrderNo: orderNo, Amount: dec("100.00"), Currency: "CNY", PayCurrency: "USDT", CustomerID: "55"}
	if rcv != nil {
		req.NotifyURL = rcv.srv.URL + "/callbacks/vpay-test"
	}
	res, err := e.ad.CreateDeposit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// receiver is tally's callback ingress in miniature: ParseCallback, then Reply.
type receiver struct {
	ad        *Adapter
	srv       *httptest.Server
	mu        sync.Mutex
	failFirst int // answer 500 (storage down) to this many first calls
	calls     int
	at        []time.Time
	events    []*providers.Event
	errs      []error
}

func newReceiver(t *testing.T, ad *Adapter, failFirst int) *receiver {
	t.Helper()
	rc := &receiver{ad: ad, failFirst: failFirst}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.calls++
		rc.at = append(rc.at, time.Now())
		fail := rc.calls <= rc.failFirst
		rc.mu.Unlock()
		if fail {
			ad.Reply(providers.Errorf(providers.ErrTransient, "tally", "store", "database down")).Write(w)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		ev, err := ad.ParseCallback(&providers.Callback{Method: r.Method, Path: r.URL.Path, Header: r.Header, Body: b})
		rc.mu.Lock()
		if err != nil {
			rc.errs = append(rc.errs, err)
		} else {
			rc.events = append(rc.events, ev)
		}
		rc.mu.Unlock()
		ad.Reply(err).Write(w)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) snapshot() ([]*providers.Event, []error, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*providers.Event(nil), rc.events...), append([]error(nil), rc.errs...), rc.calls
}

// waitEvents waits until rc has at least n events and returns them.
func (rc *receiver) waitEvents(t *testing.T, n int) []*providers.Event {
	t.Helper()
	var evs []*providers.Event
	waitFor(t, "callback events", func() bool {
		evs, _, _ = rc.snapshot()
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

func assertDec(t *testing.T, what string, got decimal.NullDecimal, want string) {
	t.Helper()
	if want == "" {
		if got.Valid {
			t.Errorf("%s = %s, want unset", what, got.Decimal)
		}
		return
	}
	if !got.Valid || !got.Decimal.Equal(dec(want)) {
		t.Errorf("%s = %v (valid %v), want %s", what, got.Decimal, got.Valid, want)
	}
}
