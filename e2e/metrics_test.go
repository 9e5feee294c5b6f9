package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// scrape reads the admin listener's /metrics: family name -> family.
func scrape(t *testing.T, e *tallytest.Env) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(e.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series finds the value of a family's series with exactly these labels
// (gauge, counter or, for a histogram, its count).
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("/metrics has no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func mustSeries(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := series(t, fams, name, labels)
	if !ok {
		t.Fatalf("/metrics: no %s%v", name, labels)
	}
	return v
}

// After a deposit settles, a short payment, a reconciliation run and a
// webhook left waiting, every family of /metrics is there with the values
// the database holds.
func TestMetricsFamilies(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()

	// A deposit paid in full, and one paid short (an amount_mismatch).
	a := brlDeposit(e, "m1", "10.00")
	e.Control("cxpay", "POST", "/orders/"+a.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(a.ID, orders.StatusSucceeded)
	b := brlDeposit(e, "m1", "30.00")
	e.Control("cxpay", "POST", "/orders/"+b.ProviderOrderNo+"/pay", map[string]string{"amount": "25.00"})
	e.WaitStatus(b.ID, orders.StatusSucceeded)
	e.WaitIdle()
	// Two discrepancies of a type of our own making: stale_pending, medium.
	for _, fp := range []string{"metrics-a", "metrics-b"} {
		if err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
			_, _, err := e.Disc.RecordTx(ctx, tx, discrepancies.Finding{Type: discrepancies.StalePending, MerchantID: e.Merchant.ID,
				Fingerprint: discrepancies.Fingerprint(discrepancies.StalePending, fp), Severity: discrepancies.Medium,
				Summary: "made by the metrics test", Actor: "test"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	from, to := window(start)
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if sum.Status != recon.RunCompleted || !sum.Ledger.OK {
		t.Fatalf("run: %+v", sum)
	}
	// A webhook left waiting: the workers stopped, an event in the outbox.
	e.StopWorkers()
	var eventID int64
	if err := e.Pool.QueryRow(ctx, `SELECT max(id) FROM order_events WHERE order_id = $1`, a.ID).Scan(&eventID); err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		return e.Runner.Queue().NotifyMerchant(ctx, tx, orders.Notice{OrderID: a.ID, EventID: eventID, MerchantID: e.Merchant.ID})
	}); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, e)

	// Go and process collectors.
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// The pool: tally's own, 16 connections at most, used.
	if got := mustSeries(t, fams, "tally_db_pool_max_conns", nil); got != 16 {
		t.Errorf("tally_db_pool_max_conns = %v, want 16", got)
	}
	if got := mustSeries(t, fams, "tally_db_pool_acquires_total", nil); got < 1 {
		t.Errorf("tally_db_pool_acquires_total = %v", got)
	}
	for _, name := range []string{"tally_db_pool_acquired_conns", "tally_db_pool_idle_conns", "tally_db_pool_total_conns",
		"tally_db_pool_acquire_seconds_total", "tally_db_pool_empty_acquires_total", "tally_db_pool_canceled_acquires_total"} {
		mustSeries(t, fams, name, nil)
	}
	// Webhooks: the one event waiting, its age, the merchant's endpoint delivering.
	if got := mustSeries(t, fams, "tally_webhook_merchant_backlog", map[string]string{"merchant": "acme"}); got != 1 {
		t.Errorf("tally_webhook_merchant_backlog{acme} = %v, want 1", got)
	}
	if got := mustSeries(t, fams, "tally_webhook_merchant_lag_seconds", map[string]string{"merchant": "acme"}); got < 0 || got > 60 {
		t.Errorf("tally_webhook_merchant_lag_seconds{acme} = %v", got)
	}
	if got := mustSeries(t, fams, "tally_webhook_endpoint_state", map[string]string{"merchant": "acme"}); got != 0 {
		t.Errorf("tally_webhook_endpoint_state{acme} = %v, want 0 (closed)", got)
	}
	if got := mustSeries(t, fams, "tally_webhook_backlog", nil); got != 1 {
		t.Errorf("tally_webhook_backlog = %v, want 1", got)
	}
	if got := mustSeries(t, fams, "tally_webhook_lag_seconds", nil); got < 0 || got > 60 {
		t.Errorf("tally_webhook_lag_seconds = %v", got)
	}
	// Callback to ledger: one observation per callback applied to its order.
	var applied int64
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_inbox WHERE processed_at IS NOT NULL AND order_id IS NOT NULL
		AND outcome NOT LIKE 'hint%' AND outcome NOT LIKE 'failed%'`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if got := mustSeries(t, fams, "tally_callback_to_ledger_seconds", nil); got != float64(applied) || applied < 2 {
		t.Errorf("tally_callback_to_ledger_seconds count = %v, want %d (at least the two deposits')", got, applied)
	}
	// Open discrepancies: what the test made, and the database's count of each kind.
	if got := mustSeries(t, fams, "tally_discrepancies_open", map[string]string{"type": "stale_pending", "severity": "medium"}); got != 2 {
		t.Errorf("open stale_pending/medium = %v, want 2", got)
	}
	if got := mustSeries(t, fams, "tally_discrepancies_open",
		map[string]string{"type": "amount_mismatch", "severity": string(discrepancies.DefaultSeverity(discrepancies.AmountMismatch))}); got != 1 {
		t.Errorf("open amount_mismatch = %v, want 1", got)
	}
	rows, err := e.Pool.Query(ctx, `SELECT type, severity, count(*) FROM discrepancies WHERE status = 'open' GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for rows.Next() {
		var typ, sev string
		var n int64
		if err := rows.Scan(&typ, &sev, &n); err != nil {
			t.Fatal(err)
		}
		total += float64(n)
		if got := mustSeries(t, fams, "tally_discrepancies_open", map[string]string{"type": typ, "severity": sev}); got != float64(n) {
			t.Errorf("open %s/%s = %v, want %d", typ, sev, got, n)
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	var seen float64
	for _, m := range fams["tally_discrepancies_open"].GetMetric() {
		seen += m.GetGauge().GetValue()
	}
	if seen != total {
		t.Errorf("tally_discrepancies_open sums to %v, the database has %v open", seen, total)
	}
	// The run: cxpay-main's last, completed, when it finished; its ledger check ok.
	acct := e.Merchant.Code + "/cxpay-main"
	if got := mustSeries(t, fams, "tally_recon_last_run_ok", map[string]string{"provider_account": acct}); got != 1 {
		t.Errorf("tally_recon_last_run_ok = %v, want 1", got)
	}
	if got := mustSeries(t, fams, "tally_recon_last_run_timestamp_seconds", map[string]string{"provider_account": acct}); got < float64(start.Unix()) || got > float64(time.Now().Unix()+1) {
		t.Errorf("tally_recon_last_run_timestamp_seconds = %v, run finished %v", got, sum.FinishedAt)
	}
	if _, ok := series(t, fams, "tally_recon_last_run_ok", map[string]string{"provider_account": e.Merchant.Code + "/" + e.Accounts["cpay"]}); ok {
		t.Errorf("an account without a run has a last run")
	}
	if got := mustSeries(t, fams, "tally_ledger_check_ok", map[string]string{"merchant": e.Merchant.Code}); got != 1 {
		t.Errorf("tally_ledger_check_ok = %v, want 1", got)
	}
	if got := mustSeries(t, fams, "tally_ledger_check_timestamp_seconds", map[string]string{"merchant": e.Merchant.Code}); got < float64(start.Unix()) {
		t.Errorf("tally_ledger_check_timestamp_seconds = %v, before the test", got)
	}
	// Every scrape-time source answered.
	for _, src := range []string{"jobs", "discrepancies", "recon_runs", "ledger_checks"} {
		if got := mustSeries(t, fams, "tally_metrics_source_up", map[string]string{"source": src}); got != 1 {
			t.Errorf("source %s up = %v", src, got)
		}
	}
}
