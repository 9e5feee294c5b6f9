package e2e_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// TestCallbackOfAKilledWorkerReachesTheLedgerWithinAMinute: a tally worker
// process (a real OS process) takes an acknowledged callback's job and is
// killed with SIGKILL mid-job. The callback must reach the ledger, once,
// within a minute of the kill, through the schedule's sweep of dead jobs (not
// River's rescue, which waits minutes), and the provider's retry is not
// needed for it.
func TestCallbackOfAKilledWorkerReachesTheLedgerWithinAMinute(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true, Wait: 90 * time.Second, ExtraConnections: 4, // the worker process's pool
		// Only the requeue sweep runs on the schedule: no poll may settle the order.
		Jobs: jobs.Options{Schedule: true, SyncEvery: time.Hour, ExpireEvery: time.Hour}})
	ctx := context.Background()

	worker := exec.Command(os.Args[0], "-test.run=^$")
	worker.Env = append(os.Environ(), tallytest.WorkerProcessDB+"="+e.DBURL, tallytest.WorkerProcessPublicURL+"="+e.URL)
	worker.Stderr = os.Stderr
	out, err := worker.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); !strings.Contains(line, "worker process started") {
		t.Fatalf("worker process: %q", line)
	}

	o := brlDeposit(e, "crash", "10.00") // submitted by the worker process
	if o.SubmitState != "submitted" {
		t.Fatalf("deposit not submitted by the worker process: %+v", o)
	}
	// Hold the order's row: the worker's callback job blocks on it mid-job.
	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM orders WHERE id = $1 FOR UPDATE`, o.ID); err != nil {
		t.Fatal(err)
	}
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.Eventually("the worker process to take the callback's job", func() bool {
		var n int
		_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'process_callback' AND state = 'running'`).Scan(&n)
		return n == 1
	})
	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	killed := time.Now()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	e.StartWorkers() // the surviving process: workers and the schedule
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	took := time.Since(killed)
	t.Logf("acknowledged callback posted %s after its worker was killed", took.Round(100*time.Millisecond))
	if took > time.Minute {
		t.Fatalf("posted %s after the kill, want under a minute", took)
	}
	if got := e.Balance("liabilities:customer:crash:BRL"); !got.Equal(dec("10")) {
		t.Fatalf("customer credited %s, want 10 once", got)
	}
	e.CheckLedger()
}
