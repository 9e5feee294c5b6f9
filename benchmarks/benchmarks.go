// Package benchmarks holds tally's end-to-end benchmarks, the figures of the
// issues' "Performance" sections, run by `tally bench callbacks` and `tally
// bench recon` (`tally bench ledger` lives in ledger/bench). Each creates a
// scratch database on the configured server, migrates it, assembles the parts of
// tally it measures in-process (as `tally serve` does), measures, prints a table
// and drops the database.
//
//   - Callbacks: signed CXPay success callbacks posted by many concurrent
//     keep-alive connections to tally's real HTTP server (its handler on a TCP
//     listener, River workers in the same process): acknowledgements per second,
//     acknowledgement latency, and callback-to-ledger latency.
//   - Recon: a statement reconciliation of many orders (default one million)
//     with deliberate differences: import time, run time, peak memory, and the
//     findings checked against the differences planted.
package benchmarks

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	ledgerbench "github.com/tallyhq/tally/ledger/bench"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/webhooks"
)

// Provider account the benchmarks use: CXPay, whose callbacks are signed JSON
// and whose adapter needs only these options (see tallytest.AccountOptions).
const (
	benchMerchant = "bench"
	benchAccount  = "cxpay-bench"
	benchProvider = "cxpay"
	benchCurrency = "BRL"
	benchSecret   = "bench0secret0key"
)

var benchAccountOptions = map[string]string{"pay_code": "PIX", "payout_pay_code": "PIX", "currency": benchCurrency}

// stack is the part of tally a benchmark runs on its scratch database: the
// services `tally serve` builds (cmd/tally/app.go), with a throwaway secret key.
type stack struct {
	pool      *pgxpool.Pool
	ledger    *ledger.Ledger
	merchants *merchants.Service
	disc      *discrepancies.Store
	orders    *orders.Service
	callbacks *callbacks.Service
	webhooks  *webhooks.Service
	merchant  merchants.Merchant
	account   merchants.ProviderAccount

	url       string // the scratch database
	box       *secrets.Box
	publicURL string
	egress    *egress.Policy
	log       *slog.Logger
}

// services are the services the stack's workers call (jobs.New).
func (st *stack) services() jobs.Services {
	return jobs.Services{Orders: st.orders, Callbacks: st.callbacks, Webhooks: st.webhooks}
}

// close stops the stack's callback loops (after the server and the workers
// that use them) and closes its pool.
func (st *stack) close() {
	if st.callbacks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = st.callbacks.Close(ctx)
	}
	st.pool.Close()
}

// twin builds the same services on a pool of their own, as a second process
// (tally worker beside tally serve --workers=false) would have.
func (st *stack) twin(ctx context.Context, poolSize int32) (*stack, error) {
	cfg, err := pgxpool.ParseConfig(st.url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = poolSize
	pool, err := db.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t := *st
	t.pool, t.ledger, t.disc = pool, ledger.New(pool, ledger.WithLogger(st.log)), discrepancies.New()
	t.merchants = merchants.New(pool, st.box, merchants.Options{Validate: registry.Validate, Ledger: t.ledger, Egress: st.egress,
		Adapters: merchants.AdapterOptions{PublicURL: st.publicURL, Logger: st.log}})
	t.orders = orders.New(pool, t.ledger, t.merchants, t.disc, nil, orders.Options{Logger: st.log})
	t.callbacks = callbacks.New(pool, t.orders, t.merchants, t.disc, nil, callbacks.Options{Logger: st.log})
	t.webhooks = webhooks.New(pool, t.orders, t.merchants, webhooks.Options{Egress: st.egress, Logger: st.log})
	return &t, nil
}

// scratch creates and migrates the scratch database and builds the services on
// a pool of poolSize connections. close closes the pool and, unless keep, drops
// the database.
func scratch(ctx context.Context, serverURL, database string, poolSize int32, keep bool, publicURL, webhookURL string, log *slog.Logger) (st *stack, closeFn func(), err error) {
	u, err := ledgerbench.CreateDatabase(ctx, serverURL, database)
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		if !keep {
			ledgerbench.DropDatabase(context.WithoutCancel(ctx), serverURL, database, log)
		}
	}
	defer func() {
		if err != nil {
			drop()
		}
	}()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, nil, err
	}
	cfg.MaxConns = poolSize
	pool, err := db.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	st = &stack{pool: pool, url: u, publicURL: publicURL, log: log}
	s := st // st is nil when an error is returned
	closeFn = func() { s.close(); drop() }
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := db.MigrateUp(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return nil, nil, fmt.Errorf("migrate %s: %w", database, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, nil, err
	}
	// tally's egress policy refuses loopback: the benchmark allows exactly its
	// webhook receiver and the account's (never called) base URL.
	allow := []string{benchBaseHost}
	if webhookURL != "" {
		wu, err := url.Parse(webhookURL)
		if err != nil {
			return nil, nil, fmt.Errorf("webhook URL %q: %w", webhookURL, err)
		}
		allow = append(allow, wu.Host)
	}
	policy := egress.New(egress.MustAllowList(allow...))
	st.ledger, st.disc, st.box, st.egress = ledger.New(pool, ledger.WithLogger(log)), discrepancies.New(), box, policy
	st.merchants = merchants.New(pool, box, merchants.Options{Validate: registry.Validate, Ledger: st.ledger, Egress: policy,
		Adapters: merchants.AdapterOptions{PublicURL: publicURL, Logger: log}})
	st.orders = orders.New(pool, st.ledger, st.merchants, st.disc, nil, orders.Options{Logger: log})
	st.callbacks = callbacks.New(pool, st.orders, st.merchants, st.disc, nil, callbacks.Options{Logger: log})
	st.webhooks = webhooks.New(pool, st.orders, st.merchants, webhooks.Options{Egress: policy, Logger: log})
	if st.merchant, _, err = st.merchants.CreateMerchant(ctx, benchMerchant, "Benchmark merchant", webhookURL); err != nil {
		return nil, nil, err
	}
	st.account, err = st.merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{
		MerchantCode: benchMerchant, Name: benchAccount, Provider: benchProvider,
		// Never called: the orders are already submitted and nothing polls them.
		BaseURL:            "http://" + benchBaseHost + "/cxpay",
		ProviderMerchantID: "M10001", Secret: benchSecret, Options: benchAccountOptions, Operator: true,
	})
	if err != nil {
		return nil, nil, err
	}
	return st, closeFn, nil
}

// benchBaseHost is the benchmark account's base URL host: never called.
const benchBaseHost = "127.0.0.1:9"

// percentile is the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)) * p / 100)
	return sorted[min(i, len(sorted)-1)]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

// memory reads the process's resident set size and its peak (VmRSS, VmHWM) from
// /proc/self/status; zero where unavailable.
func memory() (rss, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

// resetPeak resets the kernel's peak RSS (VmHWM) to the current RSS, so that
// each phase reports its own peak. It reports whether the kernel allowed it.
func resetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}
