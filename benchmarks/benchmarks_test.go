package benchmarks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/benchmarks"
	"github.com/tallyhq/tally/db/localpg"
	"github.com/tallyhq/tally/db/testdb"
)

// The smoke tests run each benchmark with tiny sizes in its own scratch
// database, so that `tally bench callbacks` and `tally bench recon` keep
// working; the figures are not checked, the invariants are.

func serverURL(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("benchmark smoke run")
	}
	u, err := localpg.URL(context.Background(), localpg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCallbacksSmoke(t *testing.T) {
	u := serverURL(t)
	testdb.Reserve(t, 2*12+2) // its pool, the workers' twin pool, the scratch database's admin
	var out bytes.Buffer
	res, err := benchmarks.Callbacks(context.Background(), benchmarks.CallbacksConfig{
		URL:         u,
		Database:    fmt.Sprintf("tally_bench_smoke_callbacks_%d", os.Getpid()),
		Connections: 8,
		Orders:      300,
		Customers:   20,
		Duration:    time.Second,
		Warmup:      100 * time.Millisecond,
		PoolSize:    12,
		Drain:       time.Minute,
		Log:         quiet(),
	}, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err) // includes "acknowledged but not settled" and a failed ledger check
	}
	if res.Acked == 0 || res.Errors > 0 || res.AckP50 <= 0 || res.AckP99 < res.AckP50 {
		t.Errorf("acknowledgements: %+v", res)
	}
	if res.Posted != res.Acked || res.PostP50 <= 0 || res.PostP99 < res.PostP50 || !res.LedgerOK {
		t.Errorf("postings: %+v", res)
	}
	if !strings.Contains(out.String(), "posted within 1 s") {
		t.Errorf("no table in the output")
	}
}

func TestReconSmoke(t *testing.T) {
	u := serverURL(t)
	testdb.Reserve(t, 8+2)
	var out bytes.Buffer
	res, err := benchmarks.Recon(context.Background(), benchmarks.ReconConfig{
		URL:          u,
		Database:     fmt.Sprintf("tally_bench_smoke_recon_%d", os.Getpid()),
		Sizes:        []int{400, 800},
		AmountEvery:  50,
		MissingEvery: 40,
		UnknownEvery: 60,
		PageSize:     100, // several pages and checkpoints
		Log:          quiet(),
	}, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err) // includes findings that differ from the differences planted
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2", len(res))
	}
	for _, r := range res {
		if !r.OK || r.Import <= 0 || r.Run <= 0 || r.RunRSS <= 0 {
			t.Errorf("%+v", r)
		}
		for _, typ := range []string{"amount_mismatch", "status_mismatch", "unknown_order"} {
			if r.Expected[typ] == 0 || r.Found[typ] != r.Expected[typ] {
				t.Errorf("%d orders: %s found %d, planted %d", r.Orders, typ, r.Found[typ], r.Expected[typ])
			}
		}
	}
}
