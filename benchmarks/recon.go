package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/statement"
)

// ReconConfig says what `tally bench recon` runs. Zero fields take the defaults
// of DefaultReconConfig.
type ReconConfig struct {
	// URL is any database URL of the server to measure; each size runs in
	// Database on that server, created and dropped for it.
	URL      string
	Database string
	// Sizes are the order counts to reconcile, one run each.
	Sizes []int
	// The deliberate differences: one order in AmountEvery has a different
	// amount in the statement, one in MissingEvery is missing from it, and
	// the statement has one line per UnknownEvery orders for an order tally
	// does not know.
	AmountEvery, MissingEvery, UnknownEvery int
	// PageSize is recon.Options.PageSize (0: recon's default).
	PageSize int32
	// Dir holds the statement file while it is imported; default the system's
	// temporary directory.
	Dir string
	// CPUProfile, when set, is written with a CPU profile of the last size's
	// import and run.
	CPUProfile string
	// Progress, when set, is told each phase and how far it got.
	Progress func(phase string, done, total int64)
	Keep     bool
	Log      *slog.Logger
}

// DefaultReconConfig is the run issue 5 asks for: one million orders, 0.1%
// amount differences, 0.05% missing from the statement, 0.05% unknown lines.
func DefaultReconConfig() ReconConfig {
	return ReconConfig{
		Database:     "tally_bench_recon",
		Sizes:        []int{1_000_000},
		AmountEvery:  1000,
		MissingEvery: 2000,
		UnknownEvery: 2000,
	}
}

func (c ReconConfig) withDefaults() ReconConfig {
	d := DefaultReconConfig()
	if c.Database == "" {
		c.Database = d.Database
	}
	if len(c.Sizes) == 0 {
		c.Sizes = d.Sizes
	}
	if c.AmountEvery <= 0 {
		c.AmountEvery = d.AmountEvery
	}
	if c.MissingEvery <= 0 {
		c.MissingEvery = d.MissingEvery
	}
	if c.UnknownEvery <= 0 {
		c.UnknownEvery = d.UnknownEvery
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return c
}

// ReconResult is one size's run.
type ReconResult struct {
	Orders int
	// Lines is the statement's line count; Bytes its size.
	Lines int
	Bytes int64
	// Setup is the time to create the orders; Write to write the statement;
	// Import to import it (recon.Service.Import); Run to reconcile it
	// (recon.Service.Create and Execute).
	Setup, Write, Import, Run time.Duration
	// LinesPerSecond is Lines / Run.
	LinesPerSecond float64
	// ImportRSS and RunRSS are the process's peak resident set size during
	// the import and the run (VmHWM, reset before each); ImportHeap and RunHeap
	// the Go heap's peak live objects sampled every 20 ms.
	ImportRSS, RunRSS   int64
	ImportHeap, RunHeap int64
	// Expected are the discrepancies planted, by type; Found those the run
	// reported (its summary's discrepancy lines).
	Expected, Found map[string]int64
	// Matched and Unmatched are the run's order counts.
	Matched, Unmatched int64
	OK                 bool
}

// Recon runs the reconciliation benchmark for every size and prints a table.
// It fails when a run's findings differ from the differences planted.
func Recon(ctx context.Context, cfg ReconConfig, out io.Writer) ([]ReconResult, error) {
	cfg = cfg.withDefaults()
	peakResets := resetPeak()
	fmt.Fprintf(out, "recon bench: statement reconciliation of one CXPay account; per size: %d in %d amounts differ, %d in %d orders missing from the statement, 1 unknown line per %d orders\n",
		1, cfg.AmountEvery, 1, cfg.MissingEvery, cfg.UnknownEvery)
	if !peakResets {
		fmt.Fprintln(out, "(the kernel refused to reset the peak RSS: the peaks below are since the process started)")
	}
	var results []ReconResult
	var failed error
	for i, n := range cfg.Sizes {
		var prof *os.File
		if cfg.CPUProfile != "" && i == len(cfg.Sizes)-1 {
			f, err := os.Create(cfg.CPUProfile)
			if err != nil {
				return results, err
			}
			prof = f
		}
		r, err := reconOne(ctx, cfg, n, prof)
		if prof != nil {
			prof.Close()
		}
		if err != nil {
			return results, fmt.Errorf("recon bench, %d orders: %w", n, err)
		}
		results = append(results, r)
		if !r.OK && failed == nil {
			failed = fmt.Errorf("recon bench, %d orders: findings %v, planted %v", n, r.Found, r.Expected)
		}
	}
	printRecon(out, results)
	return results, failed
}

// statementAmount is order i's amount in cents (and its statement amount when
// it is not one of the differences).
func reconCents(i int) int64 { return 10000 + int64(i%100)*100 + int64(i%4)*25 }

const reconFeeCents = 150

var reconBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// reconSpacing spaces n orders' settlements evenly over one day (a daily
// statement), whatever n.
func reconSpacing(n int) time.Duration {
	return max(time.Microsecond, (24 * time.Hour / time.Duration(max(n, 1))).Truncate(time.Microsecond))
}

func reconOrderNo(i int) string { return fmt.Sprintf("R%09d", i) }

func reconOne(ctx context.Context, cfg ReconConfig, n int, prof *os.File) (ReconResult, error) {
	res := ReconResult{Orders: n, Expected: map[string]int64{}, Found: map[string]int64{}}
	progress := func(phase string, done, total int64) {
		if cfg.Progress != nil {
			cfg.Progress(phase, done, total)
		}
	}
	// The server's connections are few: a run is one goroutine.
	st, closeStack, err := scratch(ctx, cfg.URL, cfg.Database, cfg.Keep, "",
		app.Config{PoolSize: 8, PublicURL: "http://127.0.0.1:9", Logger: cfg.Log, Recon: recon.Options{PageSize: cfg.PageSize}})
	if err != nil {
		return res, err
	}
	defer closeStack()
	svc := st.Recon

	spacing := reconSpacing(n)
	reconSettled := func(i int) time.Time { return reconBase.Add(time.Duration(i) * spacing) }
	// n settled deposits, as the pipeline leaves them: succeeded, paid the
	// amount ordered, fee and credited amount set, final_at their settlement.
	t0 := time.Now()
	const chunk = 200_000
	for lo := 0; lo < n; lo += chunk {
		hi := min(n, lo+chunk)
		if _, err := st.Pool.Exec(ctx, `
			INSERT INTO orders (merchant_id, provider_account_id, kind, origin, merchant_order_no, provider_order_no, provider_order_id,
			                    customer_id, amount, currency, pay_currency, status, paid_amount, credited_amount, fee, settled_currency,
			                    credited_to, submit_state, request, created_at, updated_at, final_at)
			SELECT $1, $2, 'deposit', 'api', 'm-' || g, 'R' || lpad(g::text, 9, '0'), 'P' || g,
			       'cust' || (g % 1000), a.amount, $3, $3, 'succeeded', a.amount, a.amount - 1.50, 1.50, $3,
			       'liabilities:customer:cust' || (g % 1000) || ':' || $3, 'submitted', '{}',
			       a.settled - interval '1 minute', a.settled, a.settled
			FROM generate_series($4::int, $5::int - 1) g,
			     LATERAL (SELECT ((10000 + (g % 100) * 100 + (g % 4) * 25)::numeric / 100)::numeric(12, 2) AS amount,
			                     $6::timestamptz + g * $7::bigint * interval '1 microsecond' AS settled) a`,
			st.merchant.ID, st.account.ID, benchCurrency, lo, hi, reconBase, spacing.Microseconds()); err != nil {
			return res, fmt.Errorf("create orders: %w", err)
		}
		progress("create orders", int64(hi), int64(n))
	}
	// A table at rest, as autovacuum leaves one: statistics and a visibility map.
	if _, err := st.Pool.Exec(ctx, `VACUUM (ANALYZE) orders`); err != nil {
		return res, err
	}
	res.Setup = time.Since(t0)

	// The statement: every order but the missing ones, the amount differences,
	// and the unknown lines, in settlement order.
	t0 = time.Now()
	path := filepath.Join(cfg.Dir, fmt.Sprintf("tally-bench-recon-%d-%d.csv", os.Getpid(), n))
	defer os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		return res, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := statement.NewWriter(bw)
	fee := decimal.NullDecimal{Decimal: decimal.New(reconFeeCents, -2), Valid: true}
	// A run calls an order missing only when it settled more than the
	// account's date tolerance inside the statement's period (it may be in the
	// neighbouring statement otherwise); the period runs from the first order's
	// settlement to a second after the last one's.
	missFrom := reconSettled(0).Add(st.account.DateTolerance)
	missTo := reconSettled(n - 1).Add(time.Second - st.account.DateTolerance)
	for i := range n {
		if i%cfg.UnknownEvery == cfg.UnknownEvery/2 {
			if err := w.Write(statement.Line{OrderNo: fmt.Sprintf("X%09d", i), ProviderOrderID: "PX" + strconv.Itoa(i),
				Kind: providers.KindDeposit, Status: providers.StatusSucceeded, Amount: decimal.New(reconCents(i), -2), Fee: fee,
				Currency: benchCurrency, SettledAt: reconSettled(i)}); err != nil {
				return res, err
			}
			res.Expected[string(discrepancies.UnknownOrder)]++
			res.Lines++
		}
		// The first and last orders are always listed: they bound the
		// statement's period, which is the run's window.
		if i > 0 && i < n-1 && i%cfg.MissingEvery == 2 {
			if at := reconSettled(i); !at.Before(missFrom) && at.Before(missTo) {
				res.Expected[string(discrepancies.StatusMismatch)]++
			}
			continue
		}
		cents := reconCents(i)
		if i%cfg.AmountEvery == 1 {
			cents += 50
			res.Expected[string(discrepancies.AmountMismatch)]++
		}
		if err := w.Write(statement.Line{OrderNo: reconOrderNo(i), ProviderOrderID: "P" + strconv.Itoa(i),
			Kind: providers.KindDeposit, Status: providers.StatusSucceeded, Amount: decimal.New(cents, -2), Fee: fee,
			Currency: benchCurrency, SettledAt: reconSettled(i)}); err != nil {
			return res, err
		}
		res.Lines++
	}
	if err := w.Flush(); err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	if fi, err := os.Stat(path); err == nil {
		res.Bytes = fi.Size()
	}
	res.Write = time.Since(t0)

	if prof != nil {
		if err := pprof.StartCPUProfile(prof); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}

	// Import.
	in, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer in.Close()
	runtime.GC()
	resetPeak()
	heap := watchHeap()
	t0 = time.Now()
	imp, err := svc.Import(ctx, st.merchant.ID, benchAccount, filepath.Base(path), in, recon.ImportOptions{Actor: "bench",
		Progress: func(lines int64) { progress("import", lines, int64(res.Lines)) }})
	res.Import = time.Since(t0)
	res.ImportHeap = heap()
	_, res.ImportRSS = memory()
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if int(imp.Statement.Lines) != res.Lines || imp.Statement.BadLines != 0 {
		return res, fmt.Errorf("import read %d lines (%d bad), the statement has %d", imp.Statement.Lines, imp.Statement.BadLines, res.Lines)
	}

	// Run.
	runtime.GC()
	resetPeak()
	heap = watchHeap()
	t0 = time.Now()
	run, err := svc.Create(ctx, recon.Request{MerchantID: st.merchant.ID, ProviderAccount: benchAccount, Kind: recon.KindStatement,
		StatementID: imp.Statement.ID, Trigger: "cli"})
	if err != nil {
		return res, fmt.Errorf("create run: %w", err)
	}
	total := int64(res.Lines)
	sum, err := svc.Execute(ctx, run.ID, func(phase string, done int64) { progress("run: "+phase, done, total) })
	res.Run = time.Since(t0)
	res.RunHeap = heap()
	_, res.RunRSS = memory()
	if err != nil {
		return res, fmt.Errorf("run %d: %w", run.ID, err)
	}
	if res.Run > 0 {
		res.LinesPerSecond = float64(res.Lines) / res.Run.Seconds()
	}
	for _, d := range sum.Discrepancies {
		res.Found[d.Type] += d.Found
	}
	for _, l := range sum.Orders {
		res.Matched += l.Matched
		res.Unmatched += l.Unmatched
	}
	res.OK = sum.Status == recon.RunCompleted && sum.Ledger.OK && equalCounts(res.Found, res.Expected)
	return res, nil
}

func equalCounts(a, b map[string]int64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// watchHeap samples the Go heap's live objects every 20 ms until the returned
// function is called, which returns the peak seen.
func watchHeap() func() int64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(sample[0].Value.Uint64())
	}
	var mu sync.Mutex
	peak := read()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				v := read()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		v := read()
		mu.Lock()
		defer mu.Unlock()
		return max(peak, v)
	}
}

func printRecon(out io.Writer, rs []ReconResult) {
	fmt.Fprintf(out, "%10s %10s %9s %9s %9s %9s %11s %10s %10s %10s %10s  %s\n",
		"orders", "lines", "setup", "write", "import", "run", "lines/s", "RSS imp", "RSS run", "heap imp", "heap run", "findings (found / planted)")
	for _, r := range rs {
		fmt.Fprintf(out, "%10s %10s %9s %9s %9s %9s %11s %10s %10s %10s %10s  %s\n",
			group(int64(r.Orders)), group(int64(r.Lines)), secs(r.Setup), secs(r.Write), secs(r.Import), secs(r.Run),
			group(int64(r.LinesPerSecond+0.5)), mib(r.ImportRSS), mib(r.RunRSS), mib(r.ImportHeap), mib(r.RunHeap), findings(r))
	}
	fmt.Fprintln(out, "targets: 1,000,000 orders reconciled in under 60 s and 500 MB, memory flat as the count grows")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func findings(r ReconResult) string {
	types := map[string]bool{}
	for k := range r.Expected {
		types[k] = true
	}
	for k := range r.Found {
		types[k] = true
	}
	var names []string
	for k := range types {
		names = append(names, k)
	}
	sort.Strings(names)
	s := ""
	for _, k := range names {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d/%d", k, r.Found[k], r.Expected[k])
	}
	if r.OK {
		return s + " ok"
	}
	return s + " MISMATCH"
}
