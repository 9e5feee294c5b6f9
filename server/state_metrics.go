package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/webhooks"
)

// JobStats counts the job queue by kind and state (jobs.Runner); the
// server's /metrics reads it at scrape time.
type JobStats interface {
	Stats(ctx context.Context) (jobs.Stats, error)
}

// StateQueryTimeout bounds each query /metrics makes at scrape time.
const StateQueryTimeout = 2 * time.Second

// callbackLatencyBuckets span a callback applied at once (tens of ms) to one
// waiting out a backlog (minutes).
var callbackLatencyBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// CallbackLatency registers on reg the callback-to-ledger latency histogram
// (tally_callback_to_ledger_seconds) and returns what observes it: give it
// to callbacks.Options.Applied, so that every callback a worker of this
// process applies to its order is timed from its receipt to its commit.
func CallbackLatency(reg prometheus.Registerer) func(time.Duration) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tally_callback_to_ledger_seconds",
		Help:    "Time from a verified callback's receipt (its inbox row) to the commit of the transaction that applied it to its order and the ledger, as this process's workers applied them.",
		Buckets: callbackLatencyBuckets})
	if err := reg.Register(h); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			h = are.ExistingCollector.(prometheus.Histogram)
		} else {
			panic(err)
		}
	}
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}

// stateCollector reads, at scrape time, what the database says about the
// whole installation: the pool's statistics (in memory), the job queue by
// kind and state, the webhook backlog, open discrepancies, the last
// reconciliation runs and ledger checks. Each source is queried with its own
// timeout, concurrently; a source that fails is left out of the scrape (its
// families are missing, tally_metrics_source_up{source} is 0) and logged,
// and the rest are served.
type stateCollector struct {
	pool   *pgxpool.Pool
	jobs   JobStats
	disc   *discrepancies.Store
	recon  *recon.Service
	hooks  WebhookBacklog
	logger *slog.Logger

	sourceUp *prometheus.Desc

	poolAcquired, poolIdle, poolTotal, poolMax, poolConstructing *prometheus.Desc
	poolAcquires, poolAcquireSeconds, poolEmpty, poolCanceled    *prometheus.Desc

	jobsByState, queueLatency      *prometheus.Desc
	webhookBacklog, webhookLag     *prometheus.Desc
	merchantBacklog, merchantLag   *prometheus.Desc
	endpointState                  *prometheus.Desc
	discOpen                       *prometheus.Desc
	reconLastRun, reconLastRunOK   *prometheus.Desc
	ledgerCheckOK, ledgerCheckLast *prometheus.Desc
}

func newStateCollector(deps Deps, logger *slog.Logger) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	var hooks WebhookBacklog
	if deps.Webhooks != nil {
		hooks = deps.Webhooks
	}
	return &stateCollector{pool: deps.Pool, jobs: deps.Jobs, disc: deps.Discrepancies, recon: deps.Recon, hooks: hooks, logger: logger,
		sourceUp: d("tally_metrics_source_up", "1 when the scrape-time query of a source (jobs, webhooks, discrepancies, recon_runs, ledger_checks) answered within its timeout, 0 when it failed and its families were left out.", "source"),

		poolAcquired:       d("tally_db_pool_acquired_conns", "Connections of this process's pool in use."),
		poolIdle:           d("tally_db_pool_idle_conns", "Idle connections of this process's pool."),
		poolTotal:          d("tally_db_pool_total_conns", "Connections of this process's pool (acquired, idle and being opened)."),
		poolMax:            d("tally_db_pool_max_conns", "Most connections this process's pool opens (--pool-size)."),
		poolConstructing:   d("tally_db_pool_constructing_conns", "Connections of this process's pool being opened."),
		poolAcquires:       d("tally_db_pool_acquires_total", "Connections acquired from this process's pool."),
		poolAcquireSeconds: d("tally_db_pool_acquire_seconds_total", "Time spent acquiring connections from this process's pool (waiting included)."),
		poolEmpty:          d("tally_db_pool_empty_acquires_total", "Acquires that waited because the pool had no idle connection."),
		poolCanceled:       d("tally_db_pool_canceled_acquires_total", "Acquires given up (their context ended) before a connection was free."),

		jobsByState:     d("tally_jobs", "Jobs in the queue (every process's) by kind and state: available (queued), scheduled, running, retryable (failed, waiting to be retried), discarded (gave up, kept by River for a week).", "kind", "state"),
		queueLatency:    d("tally_job_queue_latency_seconds", "Age of the oldest available job of a kind (since it became available): how long work waits for a worker; 0 when none waits.", "kind"),
		webhookBacklog:  d("tally_webhook_backlog", "Merchant webhook events not yet delivered (in the outbox, due or waiting for a retry; given up ones excluded)."),
		webhookLag:      d("tally_webhook_lag_seconds", "Age of the oldest merchant webhook event not yet delivered (since the change it reports committed); 0 when none is waiting."),
		merchantBacklog: d("tally_webhook_merchant_backlog", "A merchant's webhook events not yet delivered.", "merchant"),
		merchantLag:     d("tally_webhook_merchant_lag_seconds", "Age of a merchant's oldest webhook event not yet delivered.", "merchant"),
		endpointState: d("tally_webhook_endpoint_state",
			"A merchant webhook endpoint's circuit breaker: 0 closed (delivering), 1 half_open (one probe), 2 open (failing: nothing attempted until it half-opens).", "merchant"),
		discOpen:       d("tally_discrepancies_open", "Open discrepancies (every merchant's) by type and severity.", "type", "severity"),
		reconLastRun:   d("tally_recon_last_run_timestamp_seconds", "When the last finished reconciliation run of a provider account (merchant/account) finished, Unix seconds.", "provider_account"),
		reconLastRunOK: d("tally_recon_last_run_ok", "1 when the last finished reconciliation run of a provider account completed, 0 when it failed.", "provider_account"),
		ledgerCheckOK:  d("tally_ledger_check_ok", "1 when the ledger invariant check of a merchant's last completed reconciliation run passed, 0 when it found violations.", "merchant"),
		ledgerCheckLast: d("tally_ledger_check_timestamp_seconds",
			"When the run of tally_ledger_check_ok finished, Unix seconds.", "merchant"),
	}
}

// Describe sends every family's description.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sourceUp, c.poolAcquired, c.poolIdle, c.poolTotal, c.poolMax, c.poolConstructing,
		c.poolAcquires, c.poolAcquireSeconds, c.poolEmpty, c.poolCanceled, c.jobsByState, c.queueLatency, c.webhookBacklog,
		c.webhookLag, c.merchantBacklog, c.merchantLag, c.endpointState, c.discOpen, c.reconLastRun, c.reconLastRunOK, c.ledgerCheckOK, c.ledgerCheckLast} {
		ch <- d
	}
}

// Collect reads every source, concurrently, each bounded by
// StateQueryTimeout.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pool != nil {
		c.collectPool(ch)
	}
	var sources []func(context.Context, chan<- prometheus.Metric) (string, error)
	if c.jobs != nil {
		sources = append(sources, c.collectJobs)
	}
	if c.hooks != nil {
		sources = append(sources, c.collectWebhooks)
	}
	if c.pool != nil && c.disc != nil {
		sources = append(sources, c.collectDiscrepancies)
	}
	if c.recon != nil {
		sources = append(sources, c.collectRuns, c.collectLedgerChecks)
	}
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), StateQueryTimeout)
			defer cancel()
			// A source sends nothing until its query answered: a failure
			// leaves no half family.
			var buf []prometheus.Metric
			bc := make(chan prometheus.Metric)
			done := make(chan struct{})
			go func() {
				for m := range bc {
					buf = append(buf, m)
				}
				close(done)
			}()
			name, err := src(ctx, bc)
			close(bc)
			<-done
			up := 1.0
			if err != nil {
				up = 0
				c.logger.Warn("metrics: a scrape-time query failed; its families are left out", "source", name, "error", err)
			} else {
				for _, m := range buf {
					ch <- m
				}
			}
			ch <- prometheus.MustNewConstMetric(c.sourceUp, prometheus.GaugeValue, up, name)
		}()
	}
	wg.Wait()
}

func (c *stateCollector) collectPool(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	k := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.poolAcquired, float64(st.AcquiredConns()))
	g(c.poolIdle, float64(st.IdleConns()))
	g(c.poolTotal, float64(st.TotalConns()))
	g(c.poolMax, float64(st.MaxConns()))
	g(c.poolConstructing, float64(st.ConstructingConns()))
	k(c.poolAcquires, float64(st.AcquireCount()))
	k(c.poolAcquireSeconds, st.AcquireDuration().Seconds())
	k(c.poolEmpty, float64(st.EmptyAcquireCount()))
	k(c.poolCanceled, float64(st.CanceledAcquireCount()))
}

func (c *stateCollector) collectJobs(ctx context.Context, ch chan<- prometheus.Metric) (string, error) {
	st, err := c.jobs.Stats(ctx)
	if err != nil {
		return "jobs", err
	}
	latency := map[string]float64{}
	for _, k := range st.Kinds {
		ch <- prometheus.MustNewConstMetric(c.jobsByState, prometheus.GaugeValue, float64(k.Count), k.Kind, k.State)
		if _, ok := latency[k.Kind]; !ok {
			latency[k.Kind] = 0
		}
		if k.State == jobs.StateAvailable && !k.Oldest.IsZero() {
			latency[k.Kind] = max(st.At.Sub(k.Oldest).Seconds(), 0)
		}
	}
	for kind, v := range latency {
		ch <- prometheus.MustNewConstMetric(c.queueLatency, prometheus.GaugeValue, v, kind)
	}
	return "jobs", nil
}

// WebhookBacklog is what the metrics read of merchant webhook delivery;
// *webhooks.Service is one.
type WebhookBacklog interface {
	Backlog(ctx context.Context) ([]webhooks.EndpointStatus, error)
}

// endpointStates are tally_webhook_endpoint_state's values.
var endpointStates = map[string]float64{webhooks.EndpointClosed: 0, webhooks.EndpointHalfOpen: 1, webhooks.EndpointOpen: 2}

func (c *stateCollector) collectWebhooks(ctx context.Context, ch chan<- prometheus.Metric) (string, error) {
	eps, err := c.hooks.Backlog(ctx)
	if err != nil {
		return "webhooks", err
	}
	var backlog int64
	var lag time.Duration
	for _, e := range eps {
		backlog += e.Waiting
		lag = max(lag, e.Lag)
		ch <- prometheus.MustNewConstMetric(c.merchantBacklog, prometheus.GaugeValue, float64(e.Waiting), e.Merchant)
		ch <- prometheus.MustNewConstMetric(c.merchantLag, prometheus.GaugeValue, e.Lag.Seconds(), e.Merchant)
		ch <- prometheus.MustNewConstMetric(c.endpointState, prometheus.GaugeValue, endpointStates[e.State], e.Merchant)
	}
	ch <- prometheus.MustNewConstMetric(c.webhookBacklog, prometheus.GaugeValue, float64(backlog))
	ch <- prometheus.MustNewConstMetric(c.webhookLag, prometheus.GaugeValue, lag.Seconds())
	return "webhooks", nil
}

func (c *stateCollector) collectDiscrepancies(ctx context.Context, ch chan<- prometheus.Metric) (string, error) {
	open, err := c.disc.OpenByKind(ctx, c.pool)
	if err != nil {
		return "discrepancies", err
	}
	for _, o := range open {
		ch <- prometheus.MustNewConstMetric(c.discOpen, prometheus.GaugeValue, float64(o.Count), string(o.Type), string(o.Severity))
	}
	return "discrepancies", nil
}

func (c *stateCollector) collectRuns(ctx context.Context, ch chan<- prometheus.Metric) (string, error) {
	runs, err := c.recon.LastRuns(ctx)
	if err != nil {
		return "recon_runs", err
	}
	for _, r := range runs {
		ok := 0.0
		if r.Status == recon.RunCompleted {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(c.reconLastRun, prometheus.GaugeValue, unixSeconds(r.FinishedAt), r.Account)
		ch <- prometheus.MustNewConstMetric(c.reconLastRunOK, prometheus.GaugeValue, ok, r.Account)
	}
	return "recon_runs", nil
}

func (c *stateCollector) collectLedgerChecks(ctx context.Context, ch chan<- prometheus.Metric) (string, error) {
	checks, err := c.recon.LastLedgerChecks(ctx)
	if err != nil {
		return "ledger_checks", err
	}
	for _, l := range checks {
		ok := 0.0
		if l.OK {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(c.ledgerCheckOK, prometheus.GaugeValue, ok, l.Merchant)
		ch <- prometheus.MustNewConstMetric(c.ledgerCheckLast, prometheus.GaugeValue, unixSeconds(l.FinishedAt), l.Merchant)
	}
	return "ledger_checks", nil
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
