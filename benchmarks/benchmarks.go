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
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	ledgerbench "github.com/tallyhq/tally/ledger/bench"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
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

// stack is the part of tally a benchmark runs on its scratch database: a
// tally built as `tally serve` builds it (app.New), with a throwaway secret
// key, and the merchant and provider account the benchmark uses.
type stack struct {
	*app.App
	merchant merchants.Merchant
	account  merchants.ProviderAccount
	// cfg is the App's config, for twin.
	cfg app.Config
}

// close closes the stack's tally: its runner, its callback loops (after the
// server and the workers that use them) and its pool.
func (st *stack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = st.Close(ctx)
}

// twin builds the same tally on a pool of its own with jobs options jo, as a
// second process (tally worker beside tally serve --workers=false) would
// have.
func (st *stack) twin(ctx context.Context, poolSize int32, jo jobs.Options) (*stack, error) {
	cfg := st.cfg
	cfg.PoolSize, cfg.Jobs, cfg.Migrate = poolSize, jo, false
	a, err := app.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t := *st
	t.App, t.cfg = a, cfg
	return &t, nil
}

// scratch creates the scratch database and builds a tally on it from cfg
// (pool size, public URL, logger, jobs, services): app.New migrates the
// database, with a fresh secret key and an egress policy that allows the
// webhook receiver. It creates the benchmark's merchant and provider account.
// close closes the tally and, unless keep, drops the database.
func scratch(ctx context.Context, serverURL, database string, keep bool, webhookURL string, cfg app.Config) (st *stack, closeFn func(), err error) {
	u, err := ledgerbench.CreateDatabase(ctx, serverURL, database)
	if err != nil {
		return nil, nil, err
	}
	log := cfg.Logger
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
	cfg.DatabaseURL, cfg.Migrate, cfg.Box, cfg.Egress = u, true, box, egress.New(egress.MustAllowList(allow...))
	a, err := app.New(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("tally on %s: %w", database, err)
	}
	st = &stack{App: a, cfg: cfg}
	s := st // st is nil when an error is returned
	closeFn = func() { s.close(); drop() }
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if st.merchant, _, err = st.Merchants.CreateMerchant(ctx, benchMerchant, "Benchmark merchant", webhookURL); err != nil {
		return nil, nil, err
	}
	st.account, err = st.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{
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
