package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/db/localpg"
	"github.com/tallyhq/tally/ledger/bench"
)

// TestRunSmoke runs every scenario briefly in its own scratch database, so that
// `tally bench ledger` keeps working; the figures are not checked.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark smoke run")
	}
	ctx := context.Background()
	u, err := localpg.URL(ctx, localpg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := bench.Run(ctx, bench.Config{
		URL:          u,
		Database:     fmt.Sprintf("tally_bench_smoke_%d", os.Getpid()),
		Clients:      4,
		Accounts:     50,
		Duration:     300 * time.Millisecond,
		Warmup:       100 * time.Millisecond,
		BatchSize:    50,
		BatchClients: 1,
	}, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("%d results, want 5", len(res))
	}
	for _, r := range res {
		if r.Name == "ceiling: pgbench, random accounts" && r.Transfers == 0 && strings.Contains(r.Note, "not found") {
			continue // no pgbench on this machine
		}
		if r.Transfers == 0 || r.Errors > 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%+v", r)
		}
	}
	if !strings.Contains(out.String(), "ledger check:") || !strings.Contains(out.String(), ": ok") {
		t.Errorf("no passing ledger check in the output")
	}
}
