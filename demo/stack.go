package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/client"
	"github.com/tallyhq/tally/db/localpg"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/webhooks"
)

// stack is everything the demo runs: its own database, the sandbox and tally,
// each on a real TCP port, as `tally sandbox` and `tally serve` run them.
type stack struct {
	opts  Options
	log   *slog.Logger
	dbURL string
	// tally is the tally under demonstration, built as tally serve builds
	// it (app.New): server, workers and schedule.
	tally *app.App

	sandbox    *sandbox.Sandbox
	sandboxURL string
	tallyURL   string
	servers    []*http.Server

	merchant merchants.Merchant
	apiKey   string
	// api is tally's merchant API as the merchant's system calls it: the
	// client generated from tally's OpenAPI document, with the merchant's key.
	api      *client.ClientWithResponses
	hooks    *hookReceiver
	accounts map[string]merchants.ProviderAccount
	client   *http.Client
}

// providersInOrder is the order the demo reports providers in.
var providersInOrder = []string{"cpay", "cxpay", "usdtcnpay", "usdtpay", "vpay"}

// up creates the database, starts the sandbox and tally, and sets up the
// merchant and its five provider accounts.
func up(ctx context.Context, opts Options) (*stack, error) {
	st := &stack{opts: opts, log: opts.Logger, accounts: map[string]merchants.ProviderAccount{},
		client: &http.Client{Timeout: 30 * time.Second}}
	var err error
	if st.dbURL, err = localpg.RecreateDatabase(ctx, opts.DatabaseURL, opts.Database); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, _ := secrets.New(key)

	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	tallyLn, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("tally's listener: %w", err)
	}
	sbxLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st.tallyURL, st.sandboxURL = "http://"+dialable(tallyLn.Addr()), "http://"+sbxLn.Addr().String()

	// The merchant's webhook receiver, before tally: its address is in the
	// egress policy.
	if st.hooks, err = newHookReceiver(st); err != nil {
		return nil, err
	}
	// tally's egress policy refuses loopback: the demo allows exactly the
	// sandbox and the webhook receiver it runs on 127.0.0.1 (and whatever the
	// operator allows with --egress-allow).
	policy := egress.New(egress.MustAllowList(sbxLn.Addr().String(), st.hooks.host).Join(opts.EgressAllow))
	st.tally, err = app.New(ctx, app.Config{DatabaseURL: st.dbURL, PoolSize: 40, Migrate: true, Box: box, PublicURL: st.tallyURL, Egress: policy,
		Logger: st.log, Adapters: merchants.AdapterOptions{Timeout: 3 * time.Second},
		Jobs: jobs.Options{Workers: true, Schedule: true, SyncEvery: 2 * time.Second, SyncAge: time.Second, FetchPoll: 100 * time.Millisecond}})
	if err != nil {
		return nil, err
	}
	if err := st.setup(ctx); err != nil {
		return nil, err
	}
	if err := st.staffUsers(ctx); err != nil {
		return nil, err
	}
	// The sandbox's merchants post to their account's callback key (the
	// notify URL of orders without one of their own: C-Pay's wallet deposits).
	ms := sandbox.DefaultMerchants()
	for p := range ms {
		for i := range ms[p] {
			ms[p][i].NotifyURL = st.tally.Merchants.NotifyURL(st.accounts[p])
		}
	}
	if st.sandbox, err = sandbox.New(sandbox.Config{BaseURL: st.sandboxURL, Merchants: ms, Scale: opts.Scale, Seed: opts.Seed,
		Logger: st.log.With("component", "sandbox")}); err != nil {
		return nil, err
	}
	st.serve(sbxLn, st.sandbox.Handler())
	if err := st.openings(ctx); err != nil {
		return nil, err
	}
	st.serve(tallyLn, st.tally.Server.Handler())
	if err := st.tally.Start(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// dialable is a listener's address as a client reaches it: a wildcard
// listener (0.0.0.0:8080, [::]:8080) on this machine's loopback.
func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

func (st *stack) serve(ln net.Listener, h http.Handler) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	st.servers = append(st.servers, hs)
	go func() { _ = hs.Serve(ln) }()
}

// setup creates the merchant, its API key and webhook, and the provider
// accounts (whose callback keys the sandbox's merchants then post to).
func (st *stack) setup(ctx context.Context) error {
	m, secret, err := st.tally.Merchants.CreateMerchant(ctx, "demo-broker", "Demo Broker Ltd", st.hooks.url)
	if err != nil {
		return err
	}
	st.merchant, st.hooks.secret = m, secret
	if st.apiKey, _, err = st.tally.Merchants.CreateAPIKey(ctx, m.Code, "demo"); err != nil {
		return err
	}
	if st.api, err = client.NewWithKey(st.tallyURL, st.apiKey, client.WithHTTPClient(st.client)); err != nil {
		return err
	}
	for _, p := range providersInOrder {
		c := sandbox.DefaultCredentials[p]
		opts := map[string]string{}
		if p == "cxpay" {
			opts = map[string]string{"pay_code": "PIX", "payout_pay_code": "PIX", "currency": "BRL"}
		}
		acct, err := st.tally.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: m.Code, Name: p + "-main", Provider: p,
			BaseURL: st.sandboxURL + "/" + p, ProviderMerchantID: c.ID, Secret: c.Secret, Options: opts, Operator: true,
			BalanceTolerance: decimal.RequireFromString("0.01"), DateTolerance: 5 * time.Second})
		if err != nil {
			return err
		}
		st.accounts[p] = acct
	}
	return nil
}

// openings books the provider accounts' opening balances: what the sandbox
// merchants hold before the day.
func (st *stack) openings(ctx context.Context) error {
	m := st.merchant
	for _, p := range providersInOrder {
		c := sandbox.DefaultCredentials[p]
		acct := st.accounts[p]
		sm, err := st.sandbox.Simulator(p).Engine().Merchant(c.ID)
		if err != nil {
			return err
		}
		for cur, b := range sm.Balances {
			total := b.Available.Add(b.Frozen)
			if _, err := st.tally.Ledger.Currency(ctx, cur); errors.Is(err, ledger.ErrUnknownCurrency) || !total.IsPositive() {
				continue
			} else if err != nil {
				return err
			}
			if _, err := st.tally.Ledger.Transfer(ctx, ledger.TransferRequest{Merchant: m.ID, Key: "opening:" + p + ":" + cur, Reference: "opening balance",
				Entries: []ledger.Entry{
					{Account: ledger.ProviderAccount(acct.Name, cur), Side: ledger.Debit, Amount: total},
					{Account: ledger.OpeningAccount(cur), Side: ledger.Credit, Amount: total},
				}}); err != nil {
				return fmt.Errorf("opening balance %s %s: %w", p, cur, err)
			}
		}
	}
	return nil
}

// down stops everything the demo started.
func (st *stack) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The jobs first (they call the sandbox and the webhook receiver), then
	// the listeners, then the rest of tally (callbacks' loops, the pool).
	if st.tally != nil {
		_ = st.tally.Jobs.Stop(ctx)
	}
	for _, s := range st.servers {
		_ = s.Shutdown(ctx)
	}
	if st.tally != nil {
		_ = st.tally.Close(ctx)
	}
	if st.sandbox != nil {
		st.sandbox.Close()
	}
}

// control calls a provider's sandbox control API.
func (st *stack) control(ctx context.Context, provider, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, st.sandboxURL+"/control/"+provider+path, rd)
	if err != nil {
		return nil, err
	}
	resp, err := st.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return b, fmt.Errorf("control %s %s %s: %d %s", provider, method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// hookReceiver is the merchant system's webhook endpoint: it verifies every
// signature and counts what it got.
type hookReceiver struct {
	url    string
	host   string // host:port it listens on
	secret string
	mu     sync.Mutex
	ok     int
	bad    int
}

func newHookReceiver(st *stack) (*hookReceiver, error) {
	h := &hookReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.host = ln.Addr().String()
	h.url = "http://" + h.host + "/tally"
	st.serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := webhooks.Verify(h.secret, r.Header.Get(webhooks.SignatureHeader), b, time.Now(), 5*time.Minute); err != nil {
			h.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		h.ok++
	}))
	return h, nil
}

func (h *hookReceiver) counts() (int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok, h.bad
}

var errTimeout = errors.New("timed out")
