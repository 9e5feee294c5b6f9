package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Scale is the simulators' time scale: a documented one-minute callback
// retry takes 10 ms, C-Pay's longest (two hours) 1.2 s.
const Scale = 6000

// waitTimeout bounds every wait for a callback.
const waitTimeout = 10 * time.Second

// faultTimeout is how long a call hit by a "timeout" fault waits before
// giving up.
const faultTimeout = 500 * time.Millisecond

var quiet = slog.New(slog.DiscardHandler)

// env is one test's adapter and the collaborators around it (River's
// setup pair): its own simulator mounted as the sandbox mounts it
// (/{name}/), and a callback receiver built on the adapter's own
// ParseCallback and Reply, as tally's callback ingress is.
type env struct {
	t    *testing.T
	h    Harness
	a    providers.Adapter
	caps providers.Capabilities
	sim  sim.Simulator
	eng  *sim.Engine
	m    sim.Merchant
	base string
	rcv  *receiver
	next int
}

func setup(t *testing.T, h Harness) *env {
	t.Helper()
	rcv := &receiver{}
	rsrv := httptest.NewServer(rcv)
	t.Cleanup(rsrv.Close)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	e := &env{t: t, h: h, m: h.merchant(), base: srv.URL + "/" + h.Name, rcv: rcv}
	e.sim = h.NewSimulator(sim.Config{
		BaseURL:    e.base,
		Merchants:  []sim.Merchant{e.m},
		Scale:      Scale,
		Seed:       1,
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Logger:     quiet,
	})
	t.Cleanup(e.sim.Close)
	e.eng = e.sim.Engine()
	mux.Handle("/"+h.Name+"/", http.StripPrefix("/"+h.Name, e.sim.Handler()))

	e.a = e.adapter(h.Merchant.Secret, rsrv.URL+"/callbacks/"+h.Name)
	e.caps = e.a.Capabilities()
	rcv.a = e.a
	return e
}

// adapter builds an adapter for the harness's merchant with secret.
func (e *env) adapter(secret, notifyURL string) providers.Adapter {
	e.t.Helper()
	a, err := e.h.New(providers.Config{
		Account:    e.h.Name + "-conformance",
		BaseURL:    e.base,
		MerchantID: e.m.ID,
		Secret:     providers.Secret(secret),
		Options:    maps.Clone(e.h.Options),
		NotifyURL:  notifyURL,
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Logger:     quiet,
	})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return a
}

// orderNo is a fresh order number of a fixed length (UsdtPay's signature
// has no separators: no order number may be a prefix of another).
func (e *env) orderNo() string {
	e.next++
	return fmt.Sprintf("CF%08d", e.next)
}

// createDeposit creates a deposit as tally does, then, where the payer's
// browser creates the order (Harness.Submit), does what it does.
func (e *env) createDeposit(ctx context.Context, a providers.Adapter, orderNo string) (*providers.CreateResult, error) {
	res, err := a.CreateDeposit(ctx, e.h.Deposit(orderNo))
	if err != nil || e.h.Submit == nil {
		return res, err
	}
	return res, e.h.Submit(ctx, a, res)
}

// create creates an order of kind.
func (e *env) create(ctx context.Context, kind providers.OrderKind, orderNo string) (*providers.CreateResult, error) {
	if kind == providers.KindPayout {
		return e.a.CreatePayout(ctx, e.h.Payout(orderNo))
	}
	return e.createDeposit(ctx, e.a, orderNo)
}

// mustCreate creates an order of kind and returns the simulator's copy.
func (e *env) mustCreate(kind providers.OrderKind) *sim.Order {
	e.t.Helper()
	no := e.orderNo()
	if _, err := e.create(context.Background(), kind, no); err != nil {
		e.t.Fatalf("create %s %s: %v", kind, no, err)
	}
	return e.order(no)
}

// order is the simulator's order with merchant order number no.
func (e *env) order(no string) *sim.Order {
	e.t.Helper()
	o, err := e.eng.FindOrder(e.m.ID, no)
	if err != nil {
		e.t.Fatalf("order %s at the simulator: %v", no, err)
	}
	return o
}

// count is how many orders the simulator holds with merchant order number no.
func (e *env) count(no string) int {
	n := 0
	for _, o := range e.eng.Orders() {
		if o.MerchantID == e.m.ID && o.OrderNo == no {
			n++
		}
	}
	return n
}

// complete makes the simulated payer pay a deposit, or the provider settle
// a payout.
func (e *env) complete(o *sim.Order) {
	e.t.Helper()
	var err error
	switch {
	case o.Kind == providers.KindPayout && e.h.Settle != nil:
		err = e.h.Settle(e.eng, o.ID)
	case o.Kind == providers.KindPayout:
		_, err = e.eng.Settle(o.ID)
	case e.h.Pay != nil:
		err = e.h.Pay(e.eng, o.ID)
	default:
		_, err = e.eng.Pay(o.ID, nil)
	}
	if err != nil {
		e.t.Fatalf("complete %s %s: %v", o.Kind, o.OrderNo, err)
	}
}

// fault makes the next request the adapter sends misbehave once.
func (e *env) fault(mode sim.FaultMode) {
	e.t.Helper()
	if err := e.eng.AddEndpointFault(sim.EndpointFault{Path: "*", Mode: mode, Count: 1}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(e.eng.ClearEndpointFaults)
}

// errStore is the failure a receiver answers when told to fail: the
// callback verified but could not be stored.
var errStore = errors.New("conformance: callback inbox unavailable")

// delivery is one callback the receiver got and what it made of it.
type delivery struct {
	cb    *providers.Callback
	ev    *providers.Event
	err   error
	reply providers.Reply
}

// receiver is a merchant's callback endpoint.
type receiver struct {
	a providers.Adapter

	mu   sync.Mutex
	fail int // answer errStore to the next n callbacks that verify
	got  []delivery
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	cb := &providers.Callback{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr}
	ev, err := rc.a.ParseCallback(cloneCallback(cb))
	rc.mu.Lock()
	if err == nil && rc.fail > 0 {
		rc.fail--
		err = errStore
	}
	reply := rc.a.Reply(err)
	rc.got = append(rc.got, delivery{cb: cb, ev: ev, err: err, reply: reply})
	rc.mu.Unlock()
	reply.Write(w)
}

func (rc *receiver) failNext(n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.fail = n
}

// wait returns the first callback for order no that verified and was
// acknowledged with status.
func (e *env) wait(no string, status providers.Status) delivery {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		e.rcv.mu.Lock()
		for _, d := range e.rcv.got {
			if d.err == nil && d.ev != nil && d.ev.OrderNo == no && d.ev.Status == status {
				e.rcv.mu.Unlock()
				return d
			}
		}
		got := len(e.rcv.got)
		e.rcv.mu.Unlock()
		if time.Now().After(deadline) {
			e.t.Fatalf("no acknowledged %s callback for order %s within %s (%d callbacks received)", status, no, waitTimeout, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deliveries are the simulator's delivery attempts for order no.
func (e *env) deliveries(no string) []sim.Delivery {
	var out []sim.Delivery
	for _, d := range e.eng.Deliveries() {
		if d.OrderNo == no && !d.Forged {
			out = append(out, d)
		}
	}
	return out
}

// callbackOf is the request an Outbound the simulator rendered makes, as
// the receiver would see it.
func callbackOf(t *testing.T, out *sim.Outbound) *providers.Callback {
	t.Helper()
	u, err := url.Parse(out.URL)
	if err != nil {
		t.Fatalf("rendered callback URL: %v", err)
	}
	h := out.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if out.ContentType != "" {
		h.Set("Content-Type", out.ContentType)
	}
	return &providers.Callback{Method: out.Method, Path: u.Path, Query: u.Query(), Header: h, Body: out.Body, RemoteAddr: "127.0.0.1:1"}
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(waitTimeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
