package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers/cxpay"
)

// CallbacksConfig says what `tally bench callbacks` runs. Zero fields take the
// defaults of DefaultCallbacksConfig.
type CallbacksConfig struct {
	// URL is any database URL of the server to measure; the benchmark runs in
	// Database on that server, which it creates and drops.
	URL      string
	Database string
	// Connections is the number of concurrent clients, each on its own
	// keep-alive connection.
	Connections int
	// Duration is the measured time after Warmup; sending stops earlier when
	// every one of Orders orders has had its callback. The warm-up covers the
	// start of a fresh server (new pool connections preparing their
	// statements, cold caches): on a 2-core machine its first 3 to 4 seconds
	// post callbacks late even at a rate the server then keeps up with.
	Duration, Warmup time.Duration
	// Orders is the number of pending deposits created, one callback each.
	Orders int
	// Customers is the number of customers the deposits credit.
	Customers int
	// NewCustomers leaves the customers' ledger accounts to be created by the
	// first deposit of each, as for customers the process has never seen; by
	// default they exist (and the ledger has them cached) before the load, the
	// steady state of a long-running server. Creating an account runs on a
	// second pool connection while the settlement's transaction holds one
	// (ledger.Ledger.account), which queues behind the callback handlers.
	NewCustomers bool
	// PoolSize and CallbackWorkers are tally serve's --pool-size and
	// --callback-workers.
	PoolSize        int32
	CallbackWorkers int
	// WebhookWorkers sizes the notify_merchant queue; zero keeps tally
	// serve's.
	WebhookWorkers int
	// SplitWorkers runs the River workers as `tally worker` beside `tally
	// serve --workers=false` would: on services and a pool (of PoolSize) of
	// their own, in this process, so that callback handlers and workers do not
	// queue for the same connections.
	SplitWorkers bool
	// NoWorkers runs the server without River workers (tally serve
	// --workers=false): acknowledgements only, nothing is posted.
	NoWorkers bool
	// Rate, when positive, paces the callbacks at that many per second in
	// total (open loop: callback i is due Warmup-independent at i/Rate); zero
	// sends as fast as the server answers.
	Rate float64
	// FetchPoll is passed to jobs.Options (River's fetch poll interval; its
	// fetch cooldown is a quarter of it); zero keeps tally serve's setting.
	FetchPoll time.Duration
	// Drain bounds the wait, after sending stops, for every stored callback to
	// be processed.
	Drain time.Duration
	// CPUProfile, when set, is written with a CPU profile of the process (server,
	// workers and the load generator) over the measured time.
	CPUProfile string
	// Keep leaves the scratch database in place.
	Keep bool
	// Merchants spreads the orders over this many merchants (order i is
	// merchant i % Merchants's), each with its own provider account and
	// webhook endpoint on the local receiver; default 1.
	Merchants int
	// FailingMerchant makes the first merchant's endpoint fail: "500"
	// answers 500, "hang" answers nothing until the request times out;
	// empty: every endpoint answers 200. The other merchants' figures show
	// whether one failing endpoint delays them.
	FailingMerchant string
	// Log receives tally's logs; default: warnings and errors to stderr.
	Log *slog.Logger
}

// DefaultCallbacksConfig is the run issue 4 asks for: 64 connections.
func DefaultCallbacksConfig() CallbacksConfig {
	return CallbacksConfig{
		Database:        "tally_bench_callbacks",
		Connections:     64,
		Duration:        20 * time.Second,
		Warmup:          5 * time.Second,
		Orders:          200_000,
		Customers:       1000,
		PoolSize:        40,
		CallbackWorkers: 64,
		Drain:           5 * time.Minute,
	}
}

func (c CallbacksConfig) withDefaults() CallbacksConfig {
	d := DefaultCallbacksConfig()
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.Connections <= 0 {
		c.Connections = d.Connections
	}
	if c.Duration <= 0 {
		c.Duration = d.Duration
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Orders <= 0 {
		c.Orders = d.Orders
	}
	if c.Customers <= 0 {
		c.Customers = d.Customers
	}
	if c.PoolSize <= 0 {
		c.PoolSize = d.PoolSize
	}
	if c.CallbackWorkers <= 0 {
		c.CallbackWorkers = d.CallbackWorkers
	}
	if c.Drain <= 0 {
		c.Drain = d.Drain
	}
	if c.Merchants <= 0 {
		c.Merchants = 1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return c
}

// CallbacksResult is what the callbacks benchmark measured. Only callbacks sent
// after the warm-up count.
type CallbacksResult struct {
	Connections int
	// Sent callbacks; Acked of them answered 200 "success" (stored durably
	// with their process_callback job); Errors the others.
	Sent, Acked, Errors int
	FirstError          string
	// Elapsed is the measured sending time; AcksPerSecond is Acked / Elapsed.
	Elapsed       time.Duration
	AcksPerSecond float64
	// AckP50 and AckP99 are the latencies of the acknowledgements.
	AckP50, AckP99 time.Duration
	// Posted is how many acknowledged callbacks had their deposit posted to
	// the ledger by the end of the drain. PostedInWindow is how many deposits
	// (of any callback, the warm-up's too) were posted during the measured
	// sending time, PostedPerSecond their rate: what the workers kept up.
	Posted          int
	PostedInWindow  int
	PostedPerSecond float64
	// Backlog is the stored callbacks not yet processed when sending stopped,
	// and Drain how long they then took to process.
	Backlog int
	Drain   time.Duration
	// PostP50 and PostP99 are the callback-to-ledger latencies: from sending a
	// callback to the end of the process_callback job that posted its deposit
	// (the job's finalized_at, taken right after its transaction committed).
	PostP50, PostP99 time.Duration
	// WithinSecond is the fraction of acknowledged callbacks posted within one
	// second of being sent (never-posted ones count as not within).
	WithinSecond float64
	// Settled is the number of orders succeeded with a settlement transfer at
	// the end; LedgerOK the ledger invariant check after the run.
	Settled  int
	LedgerOK bool
	// Grouped and Alone are the callbacks the workers applied in group
	// transactions and each in its own (callbacks.Stats).
	Grouped, Alone int64
	// WebhooksDone and WebhooksWaiting are the webhook events delivered and
	// not yet delivered when the posting had drained; WaitingAfter5s those
	// still waiting 5 s later (the failing merchant's apart, when one fails).
	WebhooksDone, WebhooksWaiting, WaitingAfter5s int
	// Events is the webhook events of the measured callbacks' deposits;
	// DeliveredPerSecond the webhooks delivered (any event's) during the
	// measured sending time, per second.
	Events             int
	DeliveredPerSecond float64
	// EventP50 and EventP99 are the event-to-delivered latencies (from the
	// event's transaction to the recorded 2xx delivery) of the measured
	// events, over the merchants whose endpoint answers 200; Undelivered
	// counts those of them not delivered when the webhook drain ended.
	EventP50, EventP99 time.Duration
	Undelivered        int
	// FailingAttempts is the attempts made to the failing merchant's
	// endpoint, and FailingState its breaker's state at the end.
	FailingAttempts int
	FailingState    string
}

// Callbacks runs the callbacks benchmark and prints its table to out.
func Callbacks(ctx context.Context, cfg CallbacksConfig, out io.Writer) (CallbacksResult, error) {
	cfg = cfg.withDefaults()
	res := CallbacksResult{Connections: cfg.Connections}

	// The merchant's webhook endpoint: every settled deposit makes a signed
	// notify_merchant delivery, as in production; it only answers 200.
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	hooks := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/hooks/0" {
			switch cfg.FailingMerchant {
			case "500":
				http.Error(w, "down", http.StatusInternalServerError)
			case "hang":
				select {
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
			}
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hooks.Serve(hookLn) }()
	defer hooks.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()

	// tally serve: the server's handler on a TCP listener with the same timeouts
	// (cmd/tally/serve.go), the River workers in the same process. The schedule
	// is off: its tasks only enqueue periodic work (polling open orders at a
	// provider that does not exist here). Split, the API side only inserts
	// jobs; the workers are another "process" (twin, below).
	jopts := jobs.Options{Workers: !cfg.NoWorkers && !cfg.SplitWorkers, CallbackWorkers: cfg.CallbackWorkers, WebhookWorkers: cfg.WebhookWorkers,
		FetchPoll: cfg.FetchPoll, Logger: cfg.Log}
	hookBase := "http://" + hookLn.Addr().String() + "/hooks/"
	st, closeStack, err := scratch(ctx, cfg.URL, cfg.Database, cfg.Keep, hookBase+"0",
		app.Config{PoolSize: cfg.PoolSize, PublicURL: base, Logger: cfg.Log, Jobs: jopts})
	if err != nil {
		return res, fmt.Errorf("callbacks bench setup: %w", err)
	}
	defer closeStack()
	// The merchants: the scratch one, and more with accounts of their own.
	ms, accts := []merchants.Merchant{st.merchant}, []merchants.ProviderAccount{st.account}
	for k := 1; k < cfg.Merchants; k++ {
		code := benchMerchant + strconv.Itoa(k)
		m, _, err := st.Merchants.CreateMerchant(ctx, code, "Benchmark merchant "+strconv.Itoa(k), hookBase+strconv.Itoa(k))
		if err != nil {
			return res, err
		}
		a, err := st.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: code, Name: benchAccount,
			Provider: benchProvider, BaseURL: "http://" + benchBaseHost + "/cxpay", ProviderMerchantID: "M10001", Secret: benchSecret,
			Options: benchAccountOptions, Operator: true})
		if err != nil {
			return res, err
		}
		ms, accts = append(ms, m), append(accts, a)
	}
	if err := insertPendingDeposits(ctx, st, ms, accts, cfg.Orders, cfg.Customers); err != nil {
		return res, fmt.Errorf("create %d pending deposits: %w", cfg.Orders, err)
	}
	type account struct {
		merchant int64
		name     string
	}
	var accounts []account
	for k, m := range ms {
		accounts = append(accounts, account{m.ID, ledger.ProviderAccount(benchAccount, benchCurrency)}, account{m.ID, ledger.FeesAccount(benchAccount, benchCurrency)})
		if !cfg.NewCustomers {
			for c := range cfg.Customers {
				if c%len(ms) == k%len(ms) || cfg.Customers%len(ms) != 0 {
					accounts = append(accounts, account{m.ID, ledger.CustomerAccount(customerID(c), benchCurrency)})
				}
			}
		}
	}
	for _, a := range accounts {
		if _, err := st.Ledger.EnsureAccount(ctx, a.merchant, a.name); err != nil {
			return res, err
		}
	}
	bodies := make([][]byte, cfg.Orders)
	for i := range bodies {
		bodies[i] = callbackBody(i)
	}

	runner := st.Jobs
	applier := st.Callbacks // the service whose workers apply the callbacks
	if cfg.SplitWorkers && !cfg.NoWorkers {
		jopts.Workers = true
		w, err := st.twin(ctx, cfg.PoolSize, jopts)
		if err != nil {
			return res, err
		}
		defer w.close()
		for _, a := range accounts {
			if _, err := w.Ledger.EnsureAccount(ctx, a.merchant, a.name); err != nil {
				return res, err
			}
		}
		runner, applier = w.Jobs, w.Callbacks
	}
	hs := &http.Server{Handler: st.Server.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	if err := runner.Start(ctx); err != nil {
		return res, err
	}
	runnerStopped := false
	stopRunner := func() {
		if !runnerStopped {
			runnerStopped = true
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = runner.Stop(stopCtx)
		}
	}
	defer stopRunner()
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()

	workers := "River workers in process, " + strconv.Itoa(cfg.CallbackWorkers) + " on the callbacks queue"
	if cfg.SplitWorkers {
		workers += fmt.Sprintf(" (on a pool of their own, %d connections)", cfg.PoolSize)
	}
	if cfg.NoWorkers {
		workers = "no River workers (acknowledgements only)"
	}
	fmt.Fprintf(out, "callbacks bench: %d connections, %s measured after %s warm-up, %s signed success callbacks (one per pending deposit, at most %s), pool %d, %s\n",
		cfg.Connections, cfg.Duration, cfg.Warmup, benchProvider, group(int64(cfg.Orders)), cfg.PoolSize, workers)
	if cfg.Merchants > 1 || cfg.FailingMerchant != "" {
		failing := "every endpoint answers 200"
		if cfg.FailingMerchant != "" {
			failing = "merchant 0's endpoint: " + cfg.FailingMerchant
		}
		fmt.Fprintf(out, "  %d merchants, %s\n", cfg.Merchants, failing)
	}

	// The load: each client its own keep-alive connection, posting the next
	// order's callback as soon as the previous one is answered.
	sent := make([]time.Time, cfg.Orders) // when each callback was sent (zero: never)
	acked := make([]time.Duration, cfg.Orders)
	ok := make([]bool, cfg.Orders)
	var next atomic.Int64
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	stopAt := measureFrom.Add(cfg.Duration)
	var errMu sync.Mutex
	var wg sync.WaitGroup
	urls := make([]string, len(accts)) // each account's callback key, as its orders carry it
	for k, a := range accts {
		urls[k] = base + "/callbacks/" + a.CallbackKey
	}
	var profiling bool
	var profileErr error
	profileStarted := make(chan struct{})
	go func() {
		defer close(profileStarted)
		if cfg.CPUProfile == "" {
			return
		}
		time.Sleep(time.Until(measureFrom))
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			profileErr = err
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			profileErr = err
			f.Close()
			return
		}
		profiling = true
	}()
	for range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(stopAt) {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= cfg.Orders {
					return
				}
				if cfg.Rate > 0 {
					due := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
					if due.After(stopAt) {
						return
					}
					time.Sleep(time.Until(due))
					t0 = time.Now()
				}
				sent[i] = t0
				err := post(ctx, client, urls[i%len(urls)], bodies[i])
				acked[i] = time.Since(t0)
				if err != nil {
					errMu.Lock()
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
					errMu.Unlock()
					continue
				}
				ok[i] = true
			}
		}()
	}
	wg.Wait()
	loadEnd := time.Now()
	sendEnd := loadEnd // the end of the measured sending time
	if sendEnd.After(stopAt) {
		sendEnd = stopAt
	}
	<-profileStarted
	if profiling {
		pprof.StopCPUProfile()
	}
	if profileErr != nil {
		fmt.Fprintf(out, "cpu profile: %v\n", profileErr)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.Elapsed = sendEnd.Sub(measureFrom)
	var ackLat []time.Duration
	measured := func(i int) bool { return !sent[i].IsZero() && !sent[i].Before(measureFrom) }
	for i := range sent {
		if !measured(i) {
			continue
		}
		res.Sent++
		if ok[i] {
			res.Acked++
			ackLat = append(ackLat, acked[i])
		} else {
			res.Errors++
		}
	}
	if res.Elapsed > 0 {
		res.AcksPerSecond = float64(res.Acked) / res.Elapsed.Seconds()
	}
	sortDurations(ackLat)
	res.AckP50, res.AckP99 = percentile(ackLat, 50), percentile(ackLat, 99)

	// The backlog: callbacks stored but not processed yet.
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_inbox WHERE processed_at IS NULL AND verdict <> 'rejected'`).Scan(&res.Backlog); err != nil {
		return res, err
	}
	if !cfg.NoWorkers {
		deadline := time.Now().Add(cfg.Drain)
		left := res.Backlog
		for left > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_inbox WHERE processed_at IS NULL AND verdict <> 'rejected'`).Scan(&left); err != nil {
				return res, err
			}
		}
		res.Drain = time.Since(loadEnd)
		if left > 0 {
			res.Drain = 0
			fmt.Fprintf(out, "warning: %d callbacks still unprocessed %s after sending stopped\n", left, cfg.Drain)
		}
	}
	if !cfg.NoWorkers {
		if err := webhookFigures(ctx, st.Pool, cfg, ms[0].ID, measureFrom, sendEnd, sent, ok, &res); err != nil {
			return res, err
		}
	}
	stopRunner() // River records the last completions before it stops
	stats := applier.Stats()
	res.Grouped, res.Alone = stats.Grouped, stats.Alone

	// Callback-to-ledger: the end of the job that posted each deposit (a job
	// of many callbacks ends after the last of them).
	if !cfg.NoWorkers {
		posted, err := postedAt(ctx, st.Pool)
		if err != nil {
			return res, err
		}
		var postLat []time.Duration
		within := 0
		for no, at := range posted {
			if !at.Before(measureFrom) && !at.After(sendEnd) {
				res.PostedInWindow++ // any callback's, the warm-up's too: the processing rate
			}
			i, err := orderIndex(no)
			if err != nil || i >= len(sent) || !measured(i) || !ok[i] {
				continue
			}
			res.Posted++
			lat := at.Sub(sent[i])
			postLat = append(postLat, lat)
			if lat <= time.Second {
				within++
			}
		}
		sortDurations(postLat)
		res.PostP50, res.PostP99 = percentile(postLat, 50), percentile(postLat, 99)
		if res.Acked > 0 {
			res.WithinSecond = float64(within) / float64(res.Acked)
		}
		if res.Elapsed > 0 {
			res.PostedPerSecond = float64(res.PostedInWindow) / res.Elapsed.Seconds()
		}
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM orders o JOIN transfers t ON t.merchant_id = o.merchant_id AND t.idempotency_key = 'order:' || o.id || ':settle'
		WHERE o.status = 'succeeded'`).Scan(&res.Settled); err != nil {
		return res, err
	}
	rep, err := ledger.Check(ctx, st.Pool)
	if err != nil {
		return res, err
	}
	res.LedgerOK = rep.OK()
	printCallbacks(out, cfg, res)
	if !rep.OK() {
		fmt.Fprintln(out, rep.String())
		return res, errors.New("ledger check failed after the callbacks benchmark")
	}
	// Every acknowledged callback (warm-up included) must have been posted once.
	if !cfg.NoWorkers {
		var ackedAll int
		for i := range ok {
			if ok[i] {
				ackedAll++
			}
		}
		if res.Settled != ackedAll {
			return res, fmt.Errorf("%d callbacks acknowledged but %d deposits settled", ackedAll, res.Settled)
		}
	}
	return res, nil
}

// postedAt is, by provider order number of each succeeded order, when the
// process_callback job that applied its callback ended. The join is made here:
// PostgreSQL's estimates for job arguments unpacked from JSON make it a nested
// loop that takes longer than the run.
func postedAt(ctx context.Context, pool *pgxpool.Pool) (map[string]time.Time, error) {
	orderOf := map[int64]string{}
	rows, err := pool.Query(ctx, `SELECT c.id, o.provider_order_no FROM callback_inbox c JOIN orders o ON o.id = c.order_id
		WHERE o.status = 'succeeded'`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var no string
		if err := rows.Scan(&id, &no); err != nil {
			rows.Close()
			return nil, err
		}
		orderOf[id] = no
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(orderOf))
	rows, err = pool.Query(ctx, `SELECT args, finalized_at FROM river_job WHERE kind = 'process_callback' AND state = 'completed'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var args jobs.ProcessCallbackArgs
		var at time.Time
		if err := rows.Scan(&args, &at); err != nil {
			return nil, err
		}
		for _, id := range args.IDs() {
			if no, ok := orderOf[id]; ok {
				out[no] = at
			}
		}
	}
	return out, rows.Err()
}

// post sends one callback and checks CXPay's acknowledgement.
func post(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != cxpay.Ack {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	return nil
}

// Orders of the benchmark: order i (0-based) is provider order number
// "cb-<i>", amount 100 + i%100 BRL, paid exactly with a fee of 1.50.
func orderNo(i int) string { return "cb-" + strconv.Itoa(i) }

func orderIndex(no string) (int, error) {
	return strconv.Atoi(strings.TrimPrefix(no, "cb-"))
}

func orderAmount(i int) int { return 100 + i%100 }

// customerID is customer c's id; order i is customer i % customers's.
func customerID(c int) string { return "cust" + strconv.Itoa(c) }

// insertPendingDeposits inserts n deposits as submit_order leaves them after
// CXPay accepted them (status pending, submit_state submitted), in one
// statement: order i is merchant i % len(ms)'s, on its account.
func insertPendingDeposits(ctx context.Context, st *stack, ms []merchants.Merchant, accts []merchants.ProviderAccount, n, customers int) error {
	mids, aids := make([]int64, len(ms)), make([]int64, len(ms))
	for k := range ms {
		mids[k], aids[k] = ms[k].ID, accts[k].ID
	}
	_, err := st.Pool.Exec(ctx, `
		INSERT INTO orders (merchant_id, provider_account_id, kind, origin, merchant_order_no, provider_order_no, provider_order_id,
		                    customer_id, amount, currency, pay_currency, status, submit_state, request, cashier_url)
		SELECT ($1::bigint[])[(g - 1) % $6 + 1], ($2::bigint[])[(g - 1) % $6 + 1], 'deposit', 'api', 'm-' || (g - 1), 'cb-' || (g - 1), 'P' || (g - 1),
		       'cust' || ((g - 1) % $4), 100 + (g - 1) % 100, $5, $5, 'pending', 'submitted', '{}',
		       'http://127.0.0.1:9/cxpay/pay/P' || (g - 1)
		FROM generate_series(1, $3::int) g`,
		mids, aids, n, customers, benchCurrency, len(ms))
	if err != nil {
		return err
	}
	_, err = st.Pool.Exec(ctx, `ANALYZE orders`)
	return err
}

// webhookFigures measures the merchant webhooks once the posting drained:
// what is delivered and waiting then and 5 s later, deliveries per second
// while sending, and (after waiting up to cfg.Drain for the healthy
// merchants' webhooks) event-to-delivered latency of the measured
// callbacks' events: from the event's transaction to its recorded 2xx
// delivery.
func webhookFigures(ctx context.Context, pool *pgxpool.Pool, cfg CallbacksConfig, failingID int64, measureFrom, sendEnd time.Time,
	sent []time.Time, ok []bool, res *CallbacksResult) error {
	exclude := int64(0) // a merchant left out of the waiting counts
	if cfg.FailingMerchant != "" {
		exclude = failingID
	}
	waiting := func() (int, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_outbox WHERE merchant_id <> $1`, exclude).Scan(&n)
		return n, err
	}
	var err error
	if res.WebhooksWaiting, err = waiting(); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE delivered`).Scan(&res.WebhooksDone); err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	if res.WaitingAfter5s, err = waiting(); err != nil {
		return err
	}
	deadline := time.Now().Add(cfg.Drain)
	for left := res.WaitingAfter5s; left > 0 && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(100 * time.Millisecond)
		if left, err = waiting(); err != nil {
			return err
		}
	}
	var inWindow int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE delivered AND created_at BETWEEN $1 AND $2`,
		measureFrom, sendEnd).Scan(&inWindow); err != nil {
		return err
	}
	if d := sendEnd.Sub(measureFrom); d > 0 {
		res.DeliveredPerSecond = float64(inWindow) / d.Seconds()
	}
	// The measured callbacks' events (a deposit's succeeded event), and when
	// each was delivered.
	rows, err := pool.Query(ctx, `SELECT o.provider_order_no, o.merchant_id, ev.created_at, d.created_at
		FROM order_events ev JOIN orders o ON o.id = ev.order_id
		LEFT JOIN LATERAL (SELECT min(created_at) AS created_at FROM webhook_deliveries WHERE event_id = ev.id AND delivered) d ON true
		WHERE ev.to_status = 'succeeded' AND ev.from_status <> ev.to_status`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var lat []time.Duration
	for rows.Next() {
		var no string
		var merchant int64
		var at time.Time
		var delivered *time.Time
		if err := rows.Scan(&no, &merchant, &at, &delivered); err != nil {
			return err
		}
		i, err := orderIndex(no)
		if err != nil || i >= len(sent) || sent[i].IsZero() || sent[i].Before(measureFrom) || !ok[i] {
			continue
		}
		if exclude != 0 && merchant == exclude {
			continue
		}
		res.Events++
		if delivered == nil {
			res.Undelivered++
			continue
		}
		lat = append(lat, delivered.Sub(at))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sortDurations(lat)
	res.EventP50, res.EventP99 = percentile(lat, 50), percentile(lat, 99)
	if cfg.FailingMerchant != "" {
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_deliveries WHERE merchant_id = $1),
			COALESCE((SELECT state FROM webhook_endpoints WHERE merchant_id = $1), 'closed')`, failingID).Scan(&res.FailingAttempts, &res.FailingState); err != nil {
			return err
		}
	}
	return nil
}

// callbackBody is CXPay's success callback for order i, exactly as its
// simulator renders one (providers/cxpay/simcallback.go), signed with cxpay.Sign.
func callbackBody(i int) []byte {
	amount := strconv.Itoa(orderAmount(i)) + ".00"
	const fee = "1.50"
	p := map[string]string{"platOrderId": "P" + strconv.Itoa(i), "orderId": orderNo(i), "amount": amount,
		"status": "1", "reverse": "false", "remark": "", "fee": fee}
	sign := cxpay.Sign(p, benchSecret)
	return []byte(`{"platOrderId":"` + p["platOrderId"] + `","orderId":"` + p["orderId"] + `","amount":` + amount +
		`,"status":1,"reverse":false,"remark":"","fee":` + fee + `,"sign":"` + sign + `"}`)
}

func printCallbacks(out io.Writer, cfg CallbacksConfig, r CallbacksResult) {
	row := func(k, v string) { fmt.Fprintf(out, "  %-38s %s\n", k, v) }
	row("callbacks sent (measured)", fmt.Sprintf("%s in %s", group(int64(r.Sent)), r.Elapsed.Round(10*time.Millisecond)))
	errs := group(int64(r.Errors)) + " errors"
	if r.FirstError != "" {
		errs += " (first: " + r.FirstError + ")"
	}
	row("acknowledged (200 success)", fmt.Sprintf("%s, %s", group(int64(r.Acked)), errs))
	row("acknowledged per second", fmt.Sprintf("%s   (target >= 2,000)", group(int64(r.AcksPerSecond+0.5))))
	row("ack latency p50 / p99", ms(r.AckP50)+" / "+ms(r.AckP99))
	if cfg.NoWorkers {
		row("posted to the ledger", "- (no workers)")
		return
	}
	row("posted per second while sending", group(int64(r.PostedPerSecond+0.5)))
	row("backlog when sending stopped", fmt.Sprintf("%s callbacks, drained in %s", group(int64(r.Backlog)), r.Drain.Round(10*time.Millisecond)))
	row("posted to the ledger (of acknowledged)", fmt.Sprintf("%s of %s", group(int64(r.Posted)), group(int64(r.Acked))))
	row("callback-to-ledger p50 / p99", ms(r.PostP50)+" / "+ms(r.PostP99))
	row("posted within 1 s", fmt.Sprintf("%.1f %%   (target >= 99 %%)", 100*r.WithinSecond))
	row("applied in groups / alone", fmt.Sprintf("%s / %s", group(r.Grouped), group(r.Alone)))
	row("webhooks delivered / waiting at drain", fmt.Sprintf("%s / %s, %s waiting 5 s later", group(int64(r.WebhooksDone)),
		group(int64(r.WebhooksWaiting)), group(int64(r.WaitingAfter5s))))
	row("webhooks delivered per second", group(int64(r.DeliveredPerSecond+0.5)))
	healthy := ""
	if cfg.FailingMerchant != "" {
		healthy = " (the merchants answering 200)"
	}
	row("event-to-delivered p50 / p99", fmt.Sprintf("%s / %s%s, %s of %s undelivered", ms(r.EventP50), ms(r.EventP99), healthy,
		group(int64(r.Undelivered)), group(int64(r.Events))))
	if cfg.FailingMerchant != "" {
		row("failing endpoint", fmt.Sprintf("%s attempts, breaker %s", group(int64(r.FailingAttempts)), r.FailingState))
	}
	check := "ok"
	if !r.LedgerOK {
		check = "FAILED"
	}
	row("deposits settled / ledger check", fmt.Sprintf("%s / %s", group(int64(r.Settled)), check))
}
