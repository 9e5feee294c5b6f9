// Package sandbox serves the five provider simulators on one HTTP server, each
// under its own prefix with its documented paths beneath (/cpay/openapi/v1/...,
// /cxpay/collect/create, ...), and each one's control API under
// /control/{provider}/. Tests, the demo and benchmarks all run against it.
package sandbox

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/providers/sim"
)

// Config configures a sandbox.
type Config struct {
	// BaseURL is where the sandbox is reachable, e.g. "http://127.0.0.1:9000";
	// each simulator's pages live under BaseURL/{provider}.
	BaseURL string
	// Merchants are the merchant accounts per provider.
	Merchants map[string][]sim.Merchant
	// Scale divides every documented delay (callback retries); 1 is real time.
	Scale float64
	// Seed makes the autopilots repeatable.
	Seed       uint64
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Sandbox is the five simulators behind one handler.
type Sandbox struct {
	sims    map[string]sim.Simulator
	handler http.Handler
}

// New starts every simulator.
func New(cfg Config) (*Sandbox, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	sb := &Sandbox{sims: map[string]sim.Simulator{}}
	mux := http.NewServeMux()
	for i, name := range registry.Names() {
		seed := cfg.Seed
		if seed != 0 {
			seed += uint64(i+1) * 7919 // each provider its own stream of payer behaviour
		}
		s, err := registry.NewSimulator(name, sim.Config{
			BaseURL: base + "/" + name, Merchants: cfg.Merchants[name], Scale: cfg.Scale, Seed: seed,
			HTTPClient: cfg.HTTPClient, Logger: cfg.Logger.With("provider", name),
		})
		if err != nil {
			sb.Close()
			return nil, err
		}
		sb.sims[name] = s
		mux.Handle("/"+name+"/", http.StripPrefix("/"+name, s.Handler()))
		mux.Handle("/control/"+name+"/", http.StripPrefix("/control/"+name, s.Engine().ControlHandler()))
	}
	mux.HandleFunc("GET /control/injected", sb.injected)
	mux.HandleFunc("GET /{$}", sb.index)
	sb.handler = mux
	return sb, nil
}

// Handler serves every simulator and control API.
func (s *Sandbox) Handler() http.Handler { return s.handler }

// Simulator returns the simulator of a provider.
func (s *Sandbox) Simulator(provider string) sim.Simulator { return s.sims[provider] }

// Close stops every simulator's deliveries.
func (s *Sandbox) Close() {
	for _, v := range s.sims {
		v.Close()
	}
}

// Injected returns every fault injected by every simulator, oldest first.
func (s *Sandbox) Injected() []sim.Injection {
	var all []sim.Injection
	for _, v := range s.sims {
		all = append(all, v.Engine().Injected()...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	return all
}

func (s *Sandbox) injected(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Injected())
}

func (s *Sandbox) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "tally sandbox: five provider simulators")
	for _, name := range registry.Names() {
		fmt.Fprintf(w, "  /%s/...            %s's own API\n  /control/%s/...    its control API (see README)\n", name, name, name)
	}
	fmt.Fprintln(w, "  /control/injected  every fault injected so far")
}

// MerchantFile is the JSON file of sandbox merchants: provider -> merchants.
//
//	{"cpay": [{"id": "20000387", "secret": "...", "notify_url": "...",
//	           "deposit_fee_rate": "0.01", "balances": {"USDT": {"available": "1000"}}}]}
type MerchantFile map[string][]sim.Merchant

// LoadMerchants reads a MerchantFile.
func LoadMerchants(path string) (map[string][]sim.Merchant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read merchants file: %w", err)
	}
	var f MerchantFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("merchants file %s: %w", path, err)
	}
	for p := range f {
		if !known(p) {
			return nil, fmt.Errorf("merchants file %s: unknown provider %q (%s)", path, p, strings.Join(registry.Names(), ", "))
		}
	}
	return f, nil
}

// Merchants assembles the merchants of `tally sandbox` from a --merchants file
// (path, "" for none) and --merchant provider:id:secret flags: a provider named
// in either gets exactly the merchants given there (the file's, then the
// flags'), and every provider named in neither keeps its default merchant
// (CommandMerchants: holding only the README's opening balances), so that naming one provider does not leave the other
// four without merchants. A provider the file lists with an empty list has no
// merchants.
func Merchants(path string, flags []string) (map[string][]sim.Merchant, error) {
	named := map[string][]sim.Merchant{}
	if path != "" {
		f, err := LoadMerchants(path)
		if err != nil {
			return nil, err
		}
		for p, ms := range f {
			named[p] = append([]sim.Merchant{}, ms...)
		}
	}
	for _, v := range flags {
		p, m, err := ParseMerchantFlag(v)
		if err != nil {
			return nil, err
		}
		named[p] = append(named[p], m)
	}
	out := CommandMerchants()
	for p, ms := range named {
		out[p] = ms
	}
	return out, nil
}

// ParseMerchantFlag reads "provider:id:secret" (a --merchant flag) into a merchant
// with the default fees of DefaultMerchants and the balances of
// CommandBalances.
func ParseMerchantFlag(v string) (string, sim.Merchant, error) {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" || !known(parts[0]) {
		return "", sim.Merchant{}, fmt.Errorf("--merchant %q: want provider:id:secret with provider one of %s", v, strings.Join(registry.Names(), ", "))
	}
	m := defaultMerchant(parts[0], false)
	m.ID, m.Secret = parts[1], parts[2]
	return parts[0], m, nil
}

func known(p string) bool {
	for _, n := range registry.Names() {
		if n == p {
			return true
		}
	}
	return false
}

// DefaultMerchants is one merchant per provider with documented credentials,
// for the demo and the tests, which book an opening balance for every currency
// these merchants hold (C-Pay's hold eight). Secrets here are sandbox-only.
func DefaultMerchants() map[string][]sim.Merchant {
	out := map[string][]sim.Merchant{}
	for _, p := range registry.Names() {
		out[p] = []sim.Merchant{defaultMerchant(p, true)}
	}
	return out
}

// CommandMerchants is DefaultMerchants as `tally sandbox` starts them without
// flags: the same credentials and fees, but holding only CommandBalances, so
// that a walkthrough of the README, which books exactly those as its provider
// accounts' opening balances (`tally account opening`), opens no balance_drift
// for money it was never told about.
func CommandMerchants() map[string][]sim.Merchant {
	out := map[string][]sim.Merchant{}
	for _, p := range registry.Names() {
		out[p] = []sim.Merchant{defaultMerchant(p, false)}
	}
	return out
}

// CommandBalances are the balances (available, none frozen) of CommandMerchants
// per provider and currency: what the README's walkthrough books as opening
// balances. UsdtPay and VPay have no balance API and hold nothing.
var CommandBalances = map[string]map[string]string{
	"cpay":      {"USDT": "100000"},
	"cxpay":     {"BRL": "100000"},
	"usdtcnpay": {"CNY": "1000000"},
}

// DefaultCredentials are the ids and secrets of DefaultMerchants.
var DefaultCredentials = map[string]struct{ ID, Secret string }{
	"cpay":      {"20000387", "xxx112233"},
	"cxpay":     {"M10001", "34797ffec7814a0b"},
	"usdtcnpay": {"thisisaccessKey", "thisissecretKey"},
	"usdtpay":   {"TW001478", "762549114209675"},
	"vpay":      {"9yUreYgTRtit39Dy", "D2PQPllGEBOV4mcMxoKTM7foVpzqrjIx"},
}

// defaultMerchant is p's default merchant; full gives it DefaultMerchants'
// balances, else CommandBalances.
func defaultMerchant(p string, full bool) sim.Merchant {
	d := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	c := DefaultCredentials[p]
	m := sim.Merchant{ID: c.ID, Secret: c.Secret, Options: map[string]string{}, Balances: map[string]*sim.Balance{},
		DepositFeeRate: d("0.01"), PayoutFeeRate: d("0.01"), PayoutFixedFee: d("0")}
	switch p {
	case "cpay":
		for _, cur := range []string{"USDT", "BTC", "ETH", "TRX", "BNB", "USD", "EUR", "BRL"} {
			m.Balances[cur] = &sim.Balance{Available: d("100000")}
		}
	case "cxpay":
		m.Options["pay_code"], m.Options["payout_pay_code"] = "PIX", "PIX"
		m.Balances["BRL"] = &sim.Balance{Available: d("100000")}
	case "usdtcnpay":
		m.Balances["CNY"] = &sim.Balance{Available: d("1000000")}
	case "usdtpay":
		m.Options["rate:CNY"] = "7.20"
	case "vpay":
		m.Options["rate:CNY"] = "7.20"
	}
	if !full {
		m.Balances = map[string]*sim.Balance{}
		for cur, amt := range CommandBalances[p] {
			m.Balances[cur] = &sim.Balance{Available: d(amt)}
		}
	}
	return m
}

// Timeout is the HTTP server timeout the sandbox command uses: long enough for
// the "hang" and "timeout" faults to outlast a client's own timeout.
const Timeout = 15 * time.Minute
