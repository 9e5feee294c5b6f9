// Package bench measures the ledger's posting throughput and latency against a
// real PostgreSQL, in a scratch database it creates and drops: single transfers
// from concurrent clients on random accounts, the same with one hot account in
// every transfer, the batch API, and the ceiling: the same rows written by raw SQL
// (pgbench, and an equivalent raw pgx loop). `tally bench ledger` runs it.
package bench

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

// Config says what to run. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// URL is any database URL of the server to measure; the benchmark runs in
	// Database on that server, which it creates and drops.
	URL      string
	Database string
	// Clients is the number of concurrent clients of the single-transfer runs.
	Clients int
	// Accounts is the number of customer accounts transfers pick from.
	Accounts int
	// Duration is the measured time of each run (after Warmup).
	Duration time.Duration
	Warmup   time.Duration
	// BatchSize is the number of transfers per TransferBatch call, and
	// BatchClients the number of concurrent batch callers.
	BatchSize    int
	BatchClients int
	// PgBench is the pgbench binary; empty: /usr/lib/postgresql/*/bin/pgbench or
	// $PATH; "-" skips pgbench.
	PgBench string
	// Runs selects runs by name: random, hot, batch, raw, pgbench (empty: all).
	Runs []string
	// Keep leaves the scratch database in place.
	Keep bool
	Log  *slog.Logger
}

// DefaultConfig is the run issue 2 asks for.
func DefaultConfig() Config {
	return Config{
		Database:     "tally_bench",
		Clients:      16,
		Accounts:     1000,
		Duration:     10 * time.Second,
		Warmup:       2 * time.Second,
		BatchSize:    1000,
		BatchClients: 2,
	}
}

// Result is one measured run.
type Result struct {
	Name      string
	Transfers int
	Elapsed   time.Duration
	// PerSecond is transfers per second; P50 and P99 the latency of one call (a
	// batch call for the batch run).
	PerSecond float64
	P50, P99  time.Duration
	Errors    int
	Note      string
}

// Run creates the scratch database, runs every scenario, prints a table to out
// and returns the results.
func Run(ctx context.Context, cfg Config, out io.Writer) ([]Result, error) {
	cfg = withDefaults(cfg)
	benchURL, err := createDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer dropDatabase(context.WithoutCancel(ctx), cfg)
	}
	pcfg, err := pgxpool.ParseConfig(benchURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = int32(max(cfg.Clients, cfg.BatchClients) + 2)
	pool, err := db.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := db.MigrateUp(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return nil, err
	}
	l := ledger.New(pool, ledger.WithLogger(cfg.Log))
	s, err := setup(ctx, pool, l, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench setup: %w", err)
	}
	fmt.Fprintf(out, "ledger bench: %d clients, %d customer accounts, %s per run (after %s warm-up), batch %d x %d clients\n",
		cfg.Clients, cfg.Accounts, cfg.Duration, cfg.Warmup, cfg.BatchSize, cfg.BatchClients)
	printHeader(out)

	var results []Result
	add := func(r Result) {
		results = append(results, r)
		printResult(out, r)
	}
	if cfg.selected("random") {
		add(s.measure(ctx, "single transfer, random accounts", cfg.Clients, 1, func(ctx context.Context, rng *rand.Rand) error {
			a, b := s.pair(rng)
			_, err := l.Transfer(ctx, s.move(a, b))
			return err
		}))
	}
	if cfg.selected("hot") {
		add(s.measure(ctx, "single transfer, hot account in each", cfg.Clients, 1, func(ctx context.Context, rng *rand.Rand) error {
			_, err := l.Transfer(ctx, s.move(s.provider, s.customers[rng.IntN(len(s.customers))]))
			return err
		}))
	}
	if cfg.selected("batch") {
		add(s.measure(ctx, fmt.Sprintf("batch API (%d per call, hot account in each)", cfg.BatchSize), cfg.BatchClients, cfg.BatchSize,
			func(ctx context.Context, rng *rand.Rand) error {
				reqs := make([]ledger.TransferRequest, cfg.BatchSize)
				for i := range reqs {
					reqs[i] = s.move(s.provider, s.customers[rng.IntN(len(s.customers))])
				}
				_, err := l.TransferBatch(ctx, reqs)
				return err
			}))
	}
	if cfg.selected("raw") {
		add(s.measure(ctx, "ceiling: raw SQL via pgx, random accounts", cfg.Clients, 1, func(ctx context.Context, rng *rand.Rand) error {
			a, b := rng.IntN(len(s.customerIDs)), rng.IntN(len(s.customerIDs)-1)
			if b >= a {
				b++
			}
			_, err := pool.Exec(ctx, rawTransferSQL, s.merchant, s.customerIDs[a], s.customerIDs[b])
			return err
		}))
	}
	if cfg.selected("pgbench") && cfg.PgBench != "-" {
		r, err := s.pgbench(ctx, cfg, benchURL)
		if err != nil {
			r = Result{Name: "ceiling: pgbench, random accounts", Note: err.Error()}
		}
		add(r)
	}
	rep, err := ledger.Check(ctx, pool)
	if err != nil {
		return results, err
	}
	fmt.Fprintln(out, rep.String())
	if !rep.OK() {
		return results, errors.New("ledger check failed after the benchmark")
	}
	return results, nil
}

// selected reports whether run is one of c.Runs (all runs when it is empty).
func (c Config) selected(run string) bool {
	if len(c.Runs) == 0 {
		return true
	}
	for _, r := range c.Runs {
		if r == run {
			return true
		}
	}
	return false
}

func withDefaults(c Config) Config {
	d := DefaultConfig()
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.Clients <= 0 {
		c.Clients = d.Clients
	}
	if c.Accounts < 2 {
		c.Accounts = d.Accounts
	}
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.BatchClients <= 0 {
		c.BatchClients = d.BatchClients
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// state is the benchmark's merchant and accounts.
type state struct {
	cfg         Config
	merchant    int64
	provider    string
	customers   []string
	customerIDs []int64
	amount      decimal.Decimal
	seq         atomic.Int64 // the last key number used
}

func setup(ctx context.Context, pool *pgxpool.Pool, l *ledger.Ledger, cfg Config) (*state, error) {
	// The merchant is package merchants' to write; its webhook secret is
	// sealed with a key of the run's own.
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		return nil, err
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, err
	}
	m, err := merchants.New(pool, box, merchants.Options{}).EnsureMerchant(ctx, "bench", "Benchmark merchant")
	if err != nil {
		return nil, err
	}
	s := &state{cfg: cfg, merchant: m.ID, provider: ledger.ProviderAccount("bench-psp", "USDT"), amount: decimal.RequireFromString("0.01")}
	var fund []ledger.TransferRequest
	for i := range cfg.Accounts {
		c := ledger.CustomerAccount(fmt.Sprintf("cust%05d", i), "USDT")
		s.customers = append(s.customers, c)
		a, err := l.EnsureAccount(ctx, m.ID, c)
		if err != nil {
			return nil, err
		}
		s.customerIDs = append(s.customerIDs, a.ID)
		fund = append(fund, ledger.TransferRequest{Merchant: m.ID, Key: "fund:" + c, Entries: []ledger.Entry{
			{Account: ledger.OpeningAccount("USDT"), Side: ledger.Debit, Amount: decimal.NewFromInt(1_000_000)},
			{Account: c, Side: ledger.Credit, Amount: decimal.NewFromInt(1_000_000)},
		}})
	}
	for len(fund) > 0 {
		n := min(len(fund), 500)
		if _, err := l.TransferBatch(ctx, fund[:n]); err != nil {
			return nil, err
		}
		fund = fund[n:]
	}
	return s, nil
}

// pair picks two different customers.
func (s *state) pair(rng *rand.Rand) (string, string) {
	a, b := rng.IntN(len(s.customers)), rng.IntN(len(s.customers)-1)
	if b >= a {
		b++
	}
	return s.customers[a], s.customers[b]
}

// move is a transfer of 0.01 from a (debit) to b (credit) under a fresh key.
func (s *state) move(a, b string) ledger.TransferRequest {
	n := s.seq.Add(1)
	return ledger.TransferRequest{Merchant: s.merchant, Key: "bench:" + strconv.FormatInt(n, 10), Entries: []ledger.Entry{
		{Account: a, Side: ledger.Debit, Amount: s.amount},
		{Account: b, Side: ledger.Credit, Amount: s.amount},
	}}
}

// measure runs op from clients goroutines for Warmup+Duration and reports the
// calls made after the warm-up; perCall is the number of transfers per call.
func (s *state) measure(ctx context.Context, name string, clients, perCall int, op func(context.Context, *rand.Rand) error) Result {
	start := time.Now()
	measureFrom := start.Add(s.cfg.Warmup)
	stop := measureFrom.Add(s.cfg.Duration)
	lat := make([][]time.Duration, clients)
	errs := make([]int, clients)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			for {
				t0 := time.Now()
				if t0.After(stop) || ctx.Err() != nil {
					return
				}
				err := op(ctx, rng)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					errs[c]++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	var all []time.Duration
	nerr := 0
	for c := range clients {
		all = append(all, lat[c]...)
		nerr += errs[c]
	}
	r := summarize(name, all, perCall, elapsed)
	r.Errors = nerr
	if firstErr != nil {
		r.Note = "first error: " + firstErr.Error()
	}
	return r
}

func summarize(name string, lat []time.Duration, perCall int, elapsed time.Duration) Result {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := Result{Name: name, Transfers: len(lat) * perCall, Elapsed: elapsed}
	if elapsed > 0 {
		r.PerSecond = float64(r.Transfers) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		r.P50 = lat[len(lat)*50/100]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

// rawTransferSQL is the ceiling: the rows one ledger transfer writes (a
// transfer, two entries, two balance updates), in one hand-written statement
// with no checks beyond the table constraints. $1 merchant, $2 debited and $3
// credited account.
const rawTransferSQL = `WITH t AS (
    INSERT INTO transfers (merchant_id, idempotency_key, content_hash, state)
    VALUES ($1, 'raw:' || gen_random_uuid(), '\x00', 'posted') RETURNING id, created_at
), e AS (
    INSERT INTO entries (merchant_id, transfer_id, account_id, slot, side, phase, amount, currency, created_at)
    SELECT $1, t.id, v.a, 0, v.side, 'posted', 0.01, 'USDT', t.created_at
    FROM t, (VALUES ($2::bigint, 'debit'), ($3::bigint, 'credit')) v(a, side)
)
UPDATE balances SET
    debits_posted = debits_posted + CASE WHEN account_id = $2 THEN 0.01 ELSE 0 END,
    credits_posted = credits_posted + CASE WHEN account_id = $3 THEN 0.01 ELSE 0 END
WHERE account_id IN ($2, $3) AND slot = 0`

// pgbench runs rawTransferSQL through pgbench with the same number of clients.
func (s *state) pgbench(ctx context.Context, cfg Config, benchURL string) (Result, error) {
	name := "ceiling: pgbench, random accounts"
	bin := cfg.PgBench
	if bin == "" {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		sort.Strings(matches)
		if len(matches) > 0 {
			bin = matches[len(matches)-1]
		} else if p, err := exec.LookPath("pgbench"); err == nil {
			bin = p
		} else {
			return Result{}, errors.New("pgbench not found")
		}
	}
	dir, err := os.MkdirTemp("", "tally-pgbench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	// pgbench variables: :m merchant, :a/:b random customers (their ids are a
	// contiguous range, checked below).
	lo, hi := s.customerIDs[0], s.customerIDs[len(s.customerIDs)-1]
	if hi-lo+1 != int64(len(s.customerIDs)) {
		return Result{}, fmt.Errorf("customer account ids are not contiguous (%d..%d for %d)", lo, hi, len(s.customerIDs))
	}
	script := "\\set a random(" + strconv.FormatInt(lo, 10) + ", " + strconv.FormatInt(hi, 10) + ")\n" +
		"\\set b random(" + strconv.FormatInt(lo, 10) + ", " + strconv.FormatInt(hi, 10) + ")\n" +
		"\\if :a = :b\n\\set b " + strconv.FormatInt(lo, 10) + " + ((:a - " + strconv.FormatInt(lo, 10) + " + 1) % " +
		strconv.Itoa(len(s.customerIDs)) + ")\n\\endif\n" +
		strings.NewReplacer("$1", ":m", "$2", ":a", "$3", ":b", "\n", " ").Replace(rawTransferSQL) + ";\n"
	scriptPath := filepath.Join(dir, "transfer.sql")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return Result{}, err
	}
	secs := max(1, int((cfg.Warmup + cfg.Duration + time.Second/2).Seconds()))
	args := []string{
		"-n", "-M", "prepared", "-c", strconv.Itoa(cfg.Clients), "-j", "2", "-T", strconv.Itoa(secs),
		"-D", "m=" + strconv.FormatInt(s.merchant, 10), "-f", scriptPath,
		"-l", "--log-prefix", filepath.Join(dir, "log"), "--max-tries", "10",
		benchURL,
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("pgbench: %w: %s", err, lastLines(string(outb), 5))
	}
	// Per-transaction log lines: client_id transaction_no latency_us script_no
	// epoch_s epoch_us (the end time). Transactions that started within the
	// warm-up are dropped.
	type txn struct{ start, end, us int64 }
	var txns []txn
	logs, _ := filepath.Glob(filepath.Join(dir, "log*"))
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil {
			return Result{}, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 6 {
				continue
			}
			us, _ := strconv.ParseInt(fs[2], 10, 64)
			sec, _ := strconv.ParseInt(fs[4], 10, 64)
			usec, _ := strconv.ParseInt(fs[5], 10, 64)
			end := sec*1_000_000 + usec
			txns = append(txns, txn{start: end - us, end: end, us: us})
		}
	}
	if len(txns) == 0 {
		return Result{}, fmt.Errorf("pgbench wrote no transaction log: %s", lastLines(string(outb), 5))
	}
	first, last := txns[0].start, txns[0].end
	for _, t := range txns {
		first, last = min(first, t.start), max(last, t.end)
	}
	cut := first + cfg.Warmup.Microseconds()
	var kept []time.Duration
	for _, t := range txns {
		if t.start >= cut {
			kept = append(kept, time.Duration(t.us)*time.Microsecond)
		}
	}
	r := summarize(name, kept, 1, time.Duration(last-max(cut, first))*time.Microsecond)
	r.Note = bin
	return r, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func printHeader(out io.Writer) {
	fmt.Fprintf(out, "%-52s %10s %12s %9s %9s %7s\n", "run", "transfers", "transfers/s", "p50", "p99", "errors")
}

func printResult(out io.Writer, r Result) {
	fmt.Fprintf(out, "%-52s %10d %12.0f %9s %9s %7d\n", r.Name, r.Transfers, r.PerSecond,
		r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Errors)
	if r.Note != "" && (r.Errors > 0 || r.Transfers == 0) {
		fmt.Fprintf(out, "    %s\n", r.Note)
	}
}

// createDatabase (re)creates cfg.Database on cfg.URL's server and returns its URL.
func createDatabase(ctx context.Context, cfg Config) (string, error) {
	admin, err := withDatabase(cfg.URL, "postgres")
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", db.Redact(admin), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{cfg.Database}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop %s: %w", cfg.Database, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create %s: %w", cfg.Database, err)
	}
	return withDatabase(cfg.URL, cfg.Database)
}

func dropDatabase(ctx context.Context, cfg Config) {
	admin, err := withDatabase(cfg.URL, "postgres")
	if err != nil {
		return
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		cfg.Log.Warn("bench: drop scratch database", "err", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)"); err != nil {
		cfg.Log.Warn("bench: drop scratch database", "err", err)
	}
}

func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
