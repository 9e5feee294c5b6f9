// Package tallytest runs a whole tally in a test: a fresh PostgreSQL database,
// the five provider simulators behind the sandbox over real HTTP, tally's HTTP
// server with its River workers, one merchant with an API key and a webhook
// receiver, and one provider account per provider. Nothing is mocked; tests
// drive it through the merchant API and the sandbox control API as a user would.
package tallytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/client"
	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/server"
	"github.com/tallyhq/tally/webhooks"
)

// Options tune an Env.
type Options struct {
	// Scale divides the simulators' documented delays; default 600 (a one-minute
	// callback retry takes 100 ms).
	Scale float64
	// AmountPolicy of every provider account; default hold_in_suspense.
	AmountPolicy merchants.AmountPolicy
	// NoWorkers leaves the River workers stopped (StartWorkers starts them).
	NoWorkers bool
	// Jobs tunes the runner (Workers is set by the Env; Schedule runs the
	// periodic sync and expiry).
	Jobs jobs.Options
	// DBProxy routes the tally server's and workers' connections through a TCP
	// proxy the test can cut (Env.DBDown) to simulate a database outage.
	DBProxy bool
	// Logger; default discards below warn.
	Logger *slog.Logger
	// Wait bounds every Wait* and Eventually; default 20s.
	Wait time.Duration
	// ReconPageSize is the reconciliation page size (small values exercise checkpoints).
	ReconPageSize int32
	// DateTolerance of every provider account; default an hour.
	DateTolerance time.Duration
	// HoldTTL is how long payout holds last; default the service's 72h.
	HoldTTL time.Duration
	// ReconStaleAfter is how long an order may stay pending before reconciliation
	// calls it stale; default 24h.
	ReconStaleAfter time.Duration
	// DepositLifetime of every provider account (a deposit's deadline); default
	// ReconStaleAfter when that is set (a deposit past its deadline is what
	// reconciliation calls stale), else the account default of 24h.
	DepositLifetime time.Duration
	// ProviderTimeout bounds every provider call tally makes; default 5s.
	ProviderTimeout time.Duration
	// UnresolvedGrace is the orders service's grace before a provider's "no
	// such order" fails an unresolved submission; default the service's.
	UnresolvedGrace time.Duration
	// NoCallbackGroups applies every stored callback in a transaction of its
	// own (callbacks.Options.NoGroups).
	NoCallbackGroups bool
	// ExtraConnections are connections the test opens besides the Env's (a
	// worker process of its own): reserved with the Env's (testdb.Reserve).
	ExtraConnections int
	// Server tunes tally's HTTP server (its Logger is the Env's).
	Server server.Options
	// LegacyCallbackRoutes opens /callbacks/{name} for accounts that existed
	// before callback keys (merchants.AdapterOptions.LegacyCallbackRoutes).
	LegacyCallbackRoutes bool
	// EgressAllow is what tally may reach besides public addresses, beyond
	// the sandbox and the webhook receiver (which the Env allows, exactly:
	// tally's egress policy refuses loopback like any operator's default).
	EgressAllow egress.AllowList
	// ProviderHostAllow are the base URL hosts merchants may set through the
	// API beyond the providers' documented hosts and the sandbox
	// (merchants.Options.HostAllow, tally serve --provider-host-allow).
	ProviderHostAllow egress.AllowList
	// EgressLookup resolves host names for the egress policy
	// (egress.WithLookup); nil is the system resolver.
	EgressLookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// APIKeyScopes are the scopes of the Env's API key (Env.APIKey); nil is
	// every scope (merchants.AllScopes), so that a test drives the whole API
	// with it. A test of what a key may not do makes keys of its own
	// (Env.NewAPIKey) or narrows this one.
	APIKeyScopes []merchants.Scope
	// Tracer traces this tally (app.Config.Tracing) and its pool's queries
	// (db.Trace): a test's provider over an in-memory exporter. Nil: no
	// tracing.
	Tracer trace.TracerProvider
}

// envPoolSize is the size of tally's own pool in an Env, sized like a small
// deployment.
const envPoolSize = 16

// Env is a running tally.
type Env struct {
	T testing.TB
	// Egress is tally's egress policy: the sandbox and the webhook receiver,
	// and Options.EgressAllow.
	Egress *egress.Policy
	// Pool is the test's own pool (not tally's): for reading what tally
	// wrote.
	Pool  *pgxpool.Pool
	DBURL string
	// App is the tally under test, built by the composition root (app.New)
	// on a pool of its own; the fields below are its parts.
	App       *app.App
	Ledger    *ledger.Ledger
	Merchants *merchants.Service
	Disc      *discrepancies.Store
	Orders    *orders.Service
	// Callbacks takes the providers' callbacks in and applies them.
	Callbacks *callbacks.Service
	// WebhookService delivers the merchant's webhooks (Webhooks records them).
	WebhookService *webhooks.Service
	Runner         *jobs.Runner
	Recon          *recon.Service
	Sandbox        *sandbox.Sandbox
	// SandboxURL and URL are the sandbox's and tally's (public listener's)
	// base URLs; AdminURL is tally's admin listener (/metrics, /readyz, pprof).
	SandboxURL string
	URL        string
	AdminURL   string
	Merchant   merchants.Merchant
	// APIKey is the merchant's API key, holding Options.APIKeyScopes (every
	// scope by default).
	APIKey string
	// Webhooks records the signed webhooks tally sends the merchant.
	Webhooks *WebhookRecorder
	// Accounts maps provider -> provider account name ("cpay" -> "cpay-main").
	Accounts map[string]string
	// CallbackKeys maps provider -> its account's callback key: the sandbox's
	// merchants post to /callbacks/{key} (CallbackURL).
	CallbackKeys map[string]string

	handler  swappable
	sbx      swappable
	proxy    *proxy
	svcPool  *pgxpool.Pool
	cfg      app.Config // App's, for Process
	wait     time.Duration
	workerOn bool
	mu       sync.Mutex
	// intercept, when set, takes provider callbacks instead of tally.
	intercept atomic.Pointer[Interceptor]
}

// New starts an Env; everything stops when the test ends.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Scale == 0 {
		opts.Scale = 600
	}
	if opts.Wait == 0 {
		opts.Wait = 20 * time.Second
	}
	if opts.Logger == nil {
		level := slog.LevelWarn
		if os.Getenv("TALLY_TEST_LOG") != "" {
			level = slog.LevelDebug
		}
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	ctx := context.Background()
	testPool, dbURL := testdb.NewWithURLReserving(t, envPoolSize+opts.ExtraConnections)
	e := &Env{T: t, Pool: testPool, DBURL: dbURL, Accounts: map[string]string{}, CallbackKeys: map[string]string{}, wait: opts.Wait}
	// tally gets its own pool, sized like a small deployment, optionally through
	// a proxy the test can cut.
	svcURL := dbURL
	if opts.DBProxy {
		e.proxy = newProxy(t, dbURL)
		svcURL = e.proxy.url
	}
	cfg, err := pgxpool.ParseConfig(svcURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = envPoolSize
	db.Trace(cfg, opts.Tracer)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.svcPool = pool

	tallySrv := httptest.NewServer(&e.handler)
	t.Cleanup(tallySrv.Close)
	sbxSrv := httptest.NewServer(&e.sbx)
	t.Cleanup(sbxSrv.Close)
	e.URL, e.SandboxURL = tallySrv.URL, sbxSrv.URL

	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.Webhooks = newWebhookRecorder(t)
	// The operator of this tally allows exactly the sandbox and the webhook
	// receiver on 127.0.0.1, for tally to call and (the sandbox) for
	// merchants to set as a base URL.
	sbxHost, hookHost := hostPort(e.SandboxURL), hostPort(e.Webhooks.URL)
	var egressOpts []egress.Option
	if opts.EgressLookup != nil {
		egressOpts = append(egressOpts, egress.WithLookup(opts.EgressLookup))
	}
	e.Egress = egress.New(egress.MustAllowList(sbxHost, hookHost).Join(opts.EgressAllow), egressOpts...)
	if opts.DepositLifetime == 0 {
		opts.DepositLifetime = opts.ReconStaleAfter
	}
	if opts.ProviderTimeout == 0 {
		opts.ProviderTimeout = 5 * time.Second
	}
	jo := opts.Jobs
	jo.Workers = true
	if jo.FetchPoll == 0 {
		jo.FetchPoll = 50 * time.Millisecond
	}
	so := opts.Server
	so.Logger = opts.Logger
	e.cfg = app.Config{Pool: pool, Box: box, PublicURL: e.URL, Egress: e.Egress,
		ProviderHostAllow: egress.MustAllowList(sbxHost).Join(opts.ProviderHostAllow), Logger: opts.Logger,
		Adapters:  merchants.AdapterOptions{Timeout: opts.ProviderTimeout, LegacyCallbackRoutes: opts.LegacyCallbackRoutes},
		Orders:    orders.Options{HoldTTL: opts.HoldTTL, UnresolvedGrace: opts.UnresolvedGrace},
		Callbacks: callbacks.Options{NoGroups: opts.NoCallbackGroups},
		Recon:     recon.Options{PageSize: opts.ReconPageSize, StaleAfter: opts.ReconStaleAfter},
		Jobs:      jo,
		Server:    so,
		Tracing:   opts.Tracer,
	}
	if e.App, err = app.New(ctx, e.cfg); err != nil {
		t.Fatal(err)
	}
	// After the workers (cleanups run last first) and before the pool:
	// the callbacks service's loops (the runner is stopped by then).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.App.Close(ctx); err != nil {
			t.Logf("close tally: %v", err)
		}
	})
	e.Ledger, e.Merchants, e.Disc, e.Orders = e.App.Ledger, e.App.Merchants, e.App.Discrepancies, e.App.Orders
	e.Callbacks, e.WebhookService, e.Recon, e.Runner = e.App.Callbacks, e.App.Webhooks, e.App.Recon, e.App.Jobs

	m, whsec, err := e.Merchants.CreateMerchant(ctx, "acme", "Acme Broker", e.Webhooks.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.Merchant, e.Webhooks.secret = m, whsec
	scopes := opts.APIKeyScopes
	if scopes == nil {
		scopes = merchants.AllScopes()
	}
	if e.APIKey, _, err = e.Merchants.CreateAPIKey(ctx, "acme", "tests", scopes...); err != nil {
		t.Fatal(err)
	}

	for _, p := range registry.Names() {
		c := sandbox.DefaultCredentials[p]
		in := merchants.ProviderAccountInput{MerchantCode: "acme", Name: p + "-main", Provider: p, BaseURL: e.SandboxURL + "/" + p,
			ProviderMerchantID: c.ID, Secret: c.Secret, Options: AccountOptions(p), AmountPolicy: opts.AmountPolicy, Operator: true,
			DateTolerance: opts.DateTolerance, DepositLifetime: opts.DepositLifetime}
		acct, err := e.Merchants.AddProviderAccount(ctx, in)
		if err != nil {
			t.Fatalf("provider account %s: %v", in.Name, err)
		}
		e.Accounts[p], e.CallbackKeys[p] = acct.Name, acct.CallbackKey
	}

	// The sandbox's merchants post to their account's callback key (the
	// notify URL of orders without one of their own: C-Pay's wallet deposits).
	ms := sandbox.DefaultMerchants()
	for p := range ms {
		for i := range ms[p] {
			ms[p][i].NotifyURL = e.CallbackURL(p)
		}
	}
	sb, err := sandbox.New(sandbox.Config{BaseURL: e.SandboxURL, Merchants: ms, Scale: opts.Scale, Seed: 1, Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	e.Sandbox = sb
	e.sbx.set(sb.Handler())
	t.Cleanup(sb.Close)

	e.handler.set(e.callbackHandler(e.App.Server.Handler()))
	adminSrv := httptest.NewServer(e.App.Server.Admin().Handler())
	t.Cleanup(adminSrv.Close)
	e.AdminURL = adminSrv.URL
	if !opts.NoWorkers {
		e.StartWorkers()
	}
	t.Cleanup(func() { e.StopWorkers() })
	return e
}

// CallbackURL is tally's callback URL for a provider's account:
// {URL}/callbacks/{callback key}.
func (e *Env) CallbackURL(provider string) string {
	return e.URL + e.CallbackPath(provider)
}

// CallbackPath is CallbackURL without tally's base URL.
func (e *Env) CallbackPath(provider string) string {
	key, ok := e.CallbackKeys[provider]
	if !ok {
		e.T.Fatalf("no provider account for %q", provider)
	}
	return "/callbacks/" + key
}

// hostPort is the host:port of an http URL.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// AccountOptions are the provider account options the sandbox merchants need.
func AccountOptions(provider string) map[string]string {
	switch provider {
	case "cxpay":
		return map[string]string{"pay_code": "PIX", "payout_pay_code": "PIX", "currency": "BRL"}
	}
	return map[string]string{}
}

// StartWorkers starts River's workers.
func (e *Env) StartWorkers() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.workerOn {
		return
	}
	if err := e.Runner.Start(context.Background()); err != nil {
		e.T.Fatal(err)
	}
	e.workerOn = true
}

// StopWorkers stops River's workers, letting running jobs finish.
func (e *Env) StopWorkers() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.workerOn {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = e.Runner.Stop(ctx)
	e.workerOn = false
}

// Response is an HTTP answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it does not decode.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// API calls tally's merchant API with the merchant's key. body may be a string
// (sent as is), nil, or a value sent as JSON.
func (e *Env) API(method, path string, body any, headers ...string) Response {
	e.T.Helper()
	return e.api(method, path, body, append([]string{"Authorization", "Bearer " + e.APIKey}, headers...)...)
}

// api calls tally's merchant API and checks the answer against the OpenAPI
// document (CheckContract), failing the test on a mismatch.
func (e *Env) api(method, path string, body any, headers ...string) Response {
	e.T.Helper()
	return e.doChecked(true, e.URL, method, path, body, headers...)
}

// NewAPIKey makes another API key of the Env's merchant holding scopes (none:
// merchants.DefaultScopes), for APIAs.
func (e *Env) NewAPIKey(name string, scopes ...merchants.Scope) string {
	e.T.Helper()
	key, _, err := e.Merchants.CreateAPIKey(context.Background(), e.Merchant.Code, name, scopes...)
	if err != nil {
		e.T.Fatalf("API key %s: %v", name, err)
	}
	return key
}

// APIAs calls tally's merchant API with another API key (another merchant's).
func (e *Env) APIAs(apiKey, method, path string, body any, headers ...string) Response {
	e.T.Helper()
	return e.api(method, path, body, append([]string{"Authorization", "Bearer " + apiKey}, headers...)...)
}

// Client is the generated merchant API client (package client) on this tally,
// sending the Env's API key, or apiKey when one is given. Every answer it
// receives is also checked against the OpenAPI document (CheckContract), as
// API's are: a mismatch fails the test.
func (e *Env) Client(apiKey ...string) *client.ClientWithResponses {
	e.T.Helper()
	key := e.APIKey
	if len(apiKey) > 0 {
		key = apiKey[0]
	}
	c, err := client.NewWithKey(e.URL, key, client.WithHTTPClient(&http.Client{Transport: contractTransport{t: e.T}}))
	if err != nil {
		e.T.Fatal(err)
	}
	return c
}

// contractTransport runs every request through http.DefaultTransport and its
// answer through CheckContract.
type contractTransport struct{ t testing.TB }

// RoundTrip sends req, reads the answer whole, checks it against the
// document (a mismatch is a test error) and hands it on unread.
func (ct contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read the request body: %w", err)
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if err := CheckContract(req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		ct.t.Errorf("contract: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// Control calls the sandbox control API of a provider (path relative to
// /control/{provider}).
func (e *Env) Control(provider, method, path string, body any) Response {
	e.T.Helper()
	r := e.do(e.SandboxURL, method, "/control/"+provider+path, body)
	if r.Status >= 300 {
		e.T.Fatalf("control %s %s %s: %d %s", provider, method, path, r.Status, r.Body)
	}
	return r
}

func (e *Env) do(base, method, path string, body any, headers ...string) Response {
	e.T.Helper()
	return e.doChecked(false, base, method, path, body, headers...)
}

// doChecked is do; with check, the answer is also validated against the
// merchant API's OpenAPI document (CheckContract).
func (e *Env) doChecked(check bool, base, method, path string, body any, headers ...string) Response {
	e.T.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		raw = j
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if check {
		if err := CheckContract(req, raw, resp.StatusCode, resp.Header, b); err != nil {
			e.T.Errorf("contract: %v", err)
		}
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// CreateOrder posts a deposit or payout with a fresh idempotency key (unless
// given in req["idempotency_key"]) and ?wait=5s, and returns the order; a non-2xx
// answer fails the test.
func (e *Env) CreateOrder(kind string, req map[string]any) orders.Order {
	e.T.Helper()
	key, _ := req["idempotency_key"].(string)
	if key == "" {
		key = fmt.Sprintf("k-%d", time.Now().UnixNano())
	}
	delete(req, "idempotency_key")
	r := e.API("POST", "/v1/"+kind+"s?wait=5s", req, "Idempotency-Key", key)
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		e.T.Fatalf("create %s: %d %s", kind, r.Status, r.Body)
	}
	var o orders.Order
	r.JSON(e.T, &o)
	return o
}

// Order reads an order through the service.
func (e *Env) Order(id int64) orders.Order {
	e.T.Helper()
	o, err := e.Orders.Get(context.Background(), e.Merchant.ID, id)
	if err != nil {
		e.T.Fatal(err)
	}
	return o
}

// WaitOrder waits (up to Options.Wait) until cond holds for the order.
func (e *Env) WaitOrder(id int64, what string, cond func(orders.Order) bool) orders.Order {
	e.T.Helper()
	deadline := time.Now().Add(e.wait)
	for {
		// Reads may fail for a moment after a simulated database outage.
		o, err := e.Orders.Get(context.Background(), e.Merchant.ID, id)
		if err == nil && cond(o) {
			return o
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("order %d: timed out waiting for %s; it is %s (submit %s, last error %q)", id, what, o.Status, o.SubmitState, o.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitStatus waits for an order to reach status.
func (e *Env) WaitStatus(id int64, status orders.Status) orders.Order {
	e.T.Helper()
	return e.WaitOrder(id, string(status), func(o orders.Order) bool { return o.Status == status })
}

// Eventually polls cond for up to Options.Wait.
func (e *Env) Eventually(what string, cond func() bool) {
	e.T.Helper()
	deadline := time.Now().Add(e.wait)
	for !cond() {
		if time.Now().After(deadline) {
			e.T.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitIdle waits until River has no job left to run and every merchant
// webhook is delivered (or given up).
func (e *Env) WaitIdle() {
	e.T.Helper()
	e.Eventually("River queues and webhooks to drain", func() bool {
		var n int
		_ = e.Pool.QueryRow(context.Background(),
			`SELECT (SELECT count(*) FROM river_job WHERE state IN ('available','running','retryable','scheduled') AND kind NOT IN ('sync_open_orders','expire_holds'))
			      + (SELECT count(*) FROM webhook_outbox WHERE next_attempt_at < '9999-01-01')`).Scan(&n)
		return n == 0
	})
}

// Balance is the posted balance of a ledger account of the merchant (zero when unused).
func (e *Env) Balance(account string) decimal.Decimal {
	e.T.Helper()
	b, err := e.Ledger.Balance(context.Background(), e.Merchant.ID, account)
	if err != nil {
		return decimal.Zero
	}
	return b.Posted
}

// Available is the available balance of a ledger account.
func (e *Env) Available(account string) decimal.Decimal {
	e.T.Helper()
	b, err := e.Ledger.Balance(context.Background(), e.Merchant.ID, account)
	if err != nil {
		return decimal.Zero
	}
	return b.Available
}

// Fund credits a customer as if earlier deposits had arrived at a provider
// account, so that payouts have a balance to hold.
func (e *Env) Fund(provider, customer, currency, amount string) {
	e.T.Helper()
	amt := decimal.RequireFromString(amount)
	_, err := e.Ledger.Transfer(context.Background(), ledger.TransferRequest{
		Merchant: e.Merchant.ID, Key: fmt.Sprintf("fund:%s:%s:%s:%d", provider, customer, currency, time.Now().UnixNano()),
		Reference: "test funding",
		Entries: []ledger.Entry{
			{Account: ledger.ProviderAccount(e.Accounts[provider], currency), Side: ledger.Debit, Amount: amt},
			{Account: ledger.CustomerAccount(customer, currency), Side: ledger.Credit, Amount: amt},
		},
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

// CheckLedger runs the ledger invariant check and fails the test on a violation.
func (e *Env) CheckLedger() {
	e.T.Helper()
	rep, err := ledger.Check(context.Background(), e.Pool)
	if err != nil {
		e.T.Fatal(err)
	}
	if !rep.OK() {
		e.T.Fatalf("ledger check failed: %+v", rep)
	}
}

// Discrepancies lists the merchant's discrepancies of a type ("" for all).
func (e *Env) Discrepancies(t discrepancies.Type) []discrepancies.Discrepancy {
	e.T.Helper()
	list, err := e.Disc.List(context.Background(), e.Pool, discrepancies.Filter{MerchantID: e.Merchant.ID, Type: t, Limit: 1000})
	if err != nil {
		e.T.Fatal(err)
	}
	return list
}

// swappable is a handler set after its server started (URLs must be known first).
type swappable struct {
	mu sync.RWMutex
	h  http.Handler
}

func (s *swappable) set(h http.Handler) { s.mu.Lock(); s.h = h; s.mu.Unlock() }

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.h
	s.mu.RUnlock()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// WebhookRecorder is the merchant's webhook endpoint: it verifies each
// signature and records the events.
type WebhookRecorder struct {
	URL    string
	secret string
	mu     sync.Mutex
	events []webhooks.Event
	bad    int
	// Fail makes the next n deliveries answer 500.
	fail int
	// drift are the deliveries that did not match the document's webhooks
	// (CheckWebhook): the test fails with them when it ends.
	drift []error
}

func newWebhookRecorder(t testing.TB) *WebhookRecorder {
	w := &WebhookRecorder{}
	// Registered before the server's Close, so it runs after it: every
	// delivery has been checked by then.
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, err := range w.drift {
			t.Errorf("a webhook tally sent does not match openapi.json: %v", err)
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err := CheckWebhook(r.Header, b); err != nil && len(w.drift) < 10 {
			w.drift = append(w.drift, err)
		}
		if w.fail > 0 {
			w.fail--
			http.Error(rw, "down", http.StatusInternalServerError)
			return
		}
		if err := webhooks.Verify(w.secret, r.Header.Get(webhooks.SignatureHeader), b, time.Now(), 5*time.Minute); err != nil {
			w.bad++
			http.Error(rw, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev webhooks.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			w.bad++
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.events = append(w.events, ev)
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

// FailNext makes the next n deliveries fail with 500.
func (w *WebhookRecorder) FailNext(n int) { w.mu.Lock(); w.fail = n; w.mu.Unlock() }

// For returns the verified events of an order, in arrival order.
func (w *WebhookRecorder) For(orderID int64) []webhooks.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []webhooks.Event
	for _, ev := range w.events {
		if ev.Order.ID == orderID {
			out = append(out, ev)
		}
	}
	return out
}

// Bad counts deliveries whose signature did not verify.
func (w *WebhookRecorder) Bad() int { w.mu.Lock(); defer w.mu.Unlock(); return w.bad }

// KillWorkers simulates the death of the worker process: tally's database
// connections are cut mid-job, its River client is abandoned without finishing
// anything, and the database comes back. Jobs it had running stay "running"
// until another worker (RestartWorkers) rescues them. Needs Options.DBProxy.
func (e *Env) KillWorkers() {
	e.T.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.proxy.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	e.Runner.Abandon(ctx)
	e.workerOn = false
	e.proxy.restore()
}

// RestartWorkers starts a new worker process with opts: a tally of its own
// (Process) on tally's pool, whose runner becomes the Env's Runner; the
// server keeps the Env's services.
func (e *Env) RestartWorkers(opts jobs.Options) {
	e.T.Helper()
	opts.Workers = true
	p := e.process(e.svcPool, opts)
	e.mu.Lock()
	e.Runner = p.Jobs
	e.mu.Unlock()
	e.StartWorkers()
}

// Process builds another tally process on the Env's database, as a second
// node would run (app.New): services, queue and runner of its own, configured
// as the Env's tally but for opts, on the test's pool (Pool).
// Its workers run when opts.Workers and it is started (App.Start); it is
// closed when the test ends.
func (e *Env) Process(opts jobs.Options) *app.App {
	e.T.Helper()
	return e.process(e.Pool, opts)
}

func (e *Env) process(pool *pgxpool.Pool, opts jobs.Options) *app.App {
	e.T.Helper()
	if opts.FetchPoll == 0 {
		opts.FetchPoll = 50 * time.Millisecond
	}
	cfg := e.cfg
	cfg.Pool, cfg.Jobs = pool, opts
	p, err := app.New(context.Background(), cfg)
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// Reconcile runs a reconciliation to completion in the test's goroutine and
// returns its summary.
func (e *Env) Reconcile(req recon.Request) recon.Summary {
	e.T.Helper()
	req.MerchantID = e.Merchant.ID
	if req.Trigger == "" {
		req.Trigger = "test"
	}
	run, err := e.Recon.Create(context.Background(), req)
	if err != nil {
		e.T.Fatalf("create run: %v", err)
	}
	sum, err := e.Recon.Execute(context.Background(), run.ID, nil)
	if err != nil {
		e.T.Fatalf("run %d: %v", run.ID, err)
	}
	return sum
}

// StatementFromSandbox exports a provider's statement for [from, to) from the
// sandbox (what the provider's settlement file says) and imports it.
func (e *Env) StatementFromSandbox(provider string, from, to time.Time) recon.ImportResult {
	e.T.Helper()
	c := sandbox.DefaultCredentials[provider]
	r := e.do(e.SandboxURL, "GET", fmt.Sprintf("/control/%s/statement?merchant_id=%s&from=%s&to=%s", provider, url.QueryEscape(c.ID),
		url.QueryEscape(from.UTC().Format(time.RFC3339Nano)), url.QueryEscape(to.UTC().Format(time.RFC3339Nano))), nil)
	if r.Status != http.StatusOK {
		e.T.Fatalf("statement of %s: %d %s", provider, r.Status, r.Body)
	}
	res, err := e.Recon.Import(context.Background(), e.Merchant.ID, e.Accounts[provider], provider+".csv", bytes.NewReader(r.Body), recon.ImportOptions{Actor: "test"})
	if err != nil {
		e.T.Fatalf("import statement of %s: %v", provider, err)
	}
	return res
}

// Opening books a provider account's starting balance (what the provider holds
// before tally's first order) against equity:opening, as an accountant does when
// an account is onboarded.
func (e *Env) Opening(provider, currency, amount string) {
	e.T.Helper()
	amt := decimal.RequireFromString(amount)
	_, err := e.Ledger.Transfer(context.Background(), ledger.TransferRequest{
		Merchant: e.Merchant.ID, Key: fmt.Sprintf("opening:%s:%s", provider, currency), Reference: "opening balance",
		Entries: []ledger.Entry{
			{Account: ledger.ProviderAccount(e.Accounts[provider], currency), Side: ledger.Debit, Amount: amt},
			{Account: ledger.OpeningAccount(currency), Side: ledger.Credit, Amount: amt},
		},
	})
	if err != nil {
		e.T.Fatal(err)
	}
}
