package usdtcnpay

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
	testAccessKey = "mch-test-01"
	testSecretKey = "sk-test-0123456789"
	testAccount   = "usdtcnpay-test"
)

// quietLogger keeps test output readable.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// fakeClock is a clock tests move by hand, shared by the adapter and the
// simulator so that token lifetimes can be crossed without waiting.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// envConfig tunes newEnv.
type envConfig struct {
	scale       float64
	clock       *fakeClock
	merchantOpt map[string]string
	adapterOpt  map[string]string
	timeout     time.Duration
	wrap        func(http.Handler) http.Handler
	failFirst   int
	alwaysFail  bool
	freshKey    bool
}

type envOpt func(*envConfig)

// withFreshKey makes the simulator generate its own key, as NewSimulator does.
func withFreshKey() envOpt { return func(c *envConfig) { c.freshKey = true } }

func withScale(s float64) envOpt                        { return func(c *envConfig) { c.scale = s } }
func withClock(k *fakeClock) envOpt                     { return func(c *envConfig) { c.clock = k } }
func withMerchantOption(k, v string) envOpt             { return func(c *envConfig) { c.merchantOpt[k] = v } }
func withAdapterOption(k, v string) envOpt              { return func(c *envConfig) { c.adapterOpt[k] = v } }
func withClientTimeout(d time.Duration) envOpt          { return func(c *envConfig) { c.timeout = d } }
func withWrap(w func(http.Handler) http.Handler) envOpt { return func(c *envConfig) { c.wrap = w } }
func withReceiverFailFirst(n int) envOpt                { return func(c *envConfig) { c.failFirst = n } }
func withReceiverAlwaysFailing() envOpt                 { return func(c *envConfig) { c.alwaysFail = true } }

// env is an adapter talking to a simulator over HTTP, a control API client and
// a callback receiver built on the adapter's own ParseCallback and Reply.
type env struct {
	t    *testing.T
	sim  *Simulator
	api  *httptest.Server
	ctl  *httptest.Server
	ad   *Adapter
	rcv  *receiver
	rsrv *httptest.Server
}

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	c := envConfig{scale: 6000, merchantOpt: map[string]string{}, adapterOpt: map[string]string{}, timeout: 10 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	rcv := &receiver{failFirst: c.failFirst, alwaysFail: c.alwaysFail}
	rsrv := httptest.NewServer(rcv)

	api := httptest.NewUnstartedServer(nil)
	baseURL := "http://" + api.Listener.Addr().String()
	var now func() time.Time
	if c.clock != nil {
		now = c.clock.Now
	}
	key := platformKey(t)
	if c.freshKey {
		key = nil
	}
	s := newSimulator(sim.Config{
		BaseURL: baseURL,
		Merchants: []sim.Merchant{{
			ID: testAccessKey, Secret: testSecretKey, Options: c.merchantOpt,
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.005"), PayoutFixedFee: dec("2"),
			Balances: map[string]*sim.Balance{"CNY": {Available: dec("10000")}},
		}},
		Scale: c.scale, Seed: 1, Now: now, Logger: quietLogger,
	}, key)
	var h http.Handler = s.Handler()
	if c.wrap != nil {
		h = c.wrap(h)
	}
	api.Config.Handler = h
	api.Start()
	ctl := httptest.NewServer(s.Engine().ControlHandler())

	ad, err := New(providers.Config{
		Account: testAccount, BaseURL: baseURL, MerchantID: testAccessKey, Secret: providers.Secret(testSecretKey),
		NotifyURL: rsrv.URL + "/callbacks/" + testAccount, Options: c.adapterOpt,
		HTTPClient: &http.Client{Timeout: c.timeout}, Now: now, Logger: quietLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	rcv.ad = ad
	t.Cleanup(func() {
		s.Close()
		api.Close()
		ctl.Close()
		rsrv.Close()
	})
	return &env{t: t, sim: s, api: api, ctl: ctl, ad: ad, rcv: rcv, rsrv: rsrv}
}

// control calls the simulator's control API and returns the status and body.
func (e *env) control(method, path, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ctl.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mustControl is control that fails the test on a non-2xx answer.
func (e *env) mustControl(method, path, body string) []byte {
	e.t.Helper()
	st, b := e.control(method, path, body)
	if st/100 != 2 {
		e.t.Fatalf("control %s %s: %d %s", method, path, st, b)
	}
	return b
}

func (e *env) deposit(orderNo, amount string) *providers.CreateResult {
	e.t.Helper()
	res, err := e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: orderNo, Amount: dec(amount), Currency: "CNY"})
	if err != nil {
		e.t.Fatalf("CreateDeposit %s: %v", orderNo, err)
	}
	return res
}

func bankPayout(orderNo, amount string) providers.PayoutRequest {
	return providers.PayoutRequest{OrderNo: orderNo, Amount: dec(amount), Currency: "CNY",
		Beneficiary: providers.Party{Name: "张三", Account: "6222020200112233445", BankCode: "102"}}
}

func (e *env) payout(orderNo, amount string) *providers.CreateResult {
	e.t.Helper()
	res, err := e.ad.CreatePayout(context.Background(), bankPayout(orderNo, amount))
	if err != nil {
		e.t.Fatalf("CreatePayout %s: %v", orderNo, err)
	}
	return res
}

func (e *env) query(kind providers.OrderKind, orderNo string) *providers.Event {
	e.t.Helper()
	ev, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: kind, OrderNo: orderNo})
	if err != nil {
		e.t.Fatalf("QueryOrder %s %s: %v", kind, orderNo, err)
	}
	return ev
}

// waitStatus polls QueryOrder until the order reaches want.
func (e *env) waitStatus(kind providers.OrderKind, orderNo string, want providers.Status) *providers.Event {
	e.t.Helper()
	var ev *providers.Event
	waitFor(e.t, "order "+orderNo+" "+string(want), func() bool {
		ev = e.query(kind, orderNo)
		return ev.Status == want
	})
	return ev
}

func (e *env) balance() sim.Balance {
	e.t.Helper()
	b, err := e.sim.Engine().Balances(testAccessKey)
	if err != nil {
		e.t.Fatal(err)
	}
	return b["CNY"]
}

// deliveriesOf returns the engine's delivery log for one order.
func (e *env) deliveriesOf(orderNo string) []sim.Delivery {
	var out []sim.Delivery
	for _, d := range e.sim.Engine().Deliveries() {
		if d.OrderNo == orderNo {
			out = append(out, d)
		}
	}
	return out
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

// receiver is tally's callback ingress in miniature: ParseCallback, then Reply.
// It answers 500 (a storage failure) to the first failFirst callbacks, or to
// all with alwaysFail.
type receiver struct {
	ad         *Adapter
	failFirst  int
	alwaysFail bool

	mu    sync.Mutex
	calls int
	got   []received
}

type received struct {
	method string
	path   string
	body   []byte
	ev     *providers.Event
	err    error
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cb := &providers.Callback{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Body: body, RemoteAddr: r.RemoteAddr}
	ev, err := rc.ad.ParseCallback(cb)
	rc.mu.Lock()
	rc.calls++
	if err == nil && (rc.alwaysFail || rc.calls <= rc.failFirst) {
		err = &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: "store", Message: "database unavailable"}
	}
	reply := rc.ad.Reply(err)
	rc.got = append(rc.got, received{method: r.Method, path: r.URL.Path, body: body, ev: ev, err: err, status: reply.Status})
	rc.mu.Unlock()
	reply.Write(w)
}

func (rc *receiver) snapshot() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// acked returns the events the receiver acknowledged, in arrival order.
func (rc *receiver) acked() []*providers.Event {
	var out []*providers.Event
	for _, r := range rc.snapshot() {
		if r.status == http.StatusOK {
			out = append(out, r.ev)
		}
	}
	return out
}

// rawCall posts body to the simulator with the given headers.
func rawCall(t *testing.T, url string, header http.Header, body []byte) (int, Envelope) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("answer %q is not an envelope: %v", b, err)
	}
	return resp.StatusCode, env
}

func codeOf(t *testing.T, env Envelope) string {
	t.Helper()
	c, err := envelopeCode(env.Code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// providerError extracts the *providers.Error, failing the test otherwise.
func providerError(t *testing.T, err error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	return pe
}

// rewriter wraps the simulator to rewrite or replace answers on one path.
func rewriter(path string, rewrite func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == path && rewrite(w, r, next) {
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// recordAnswer runs next and returns its status and body.
func recordAnswer(next http.Handler, r *http.Request) (int, []byte) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec.Code, rec.Body.Bytes()
}
