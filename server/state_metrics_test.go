package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/server"
)

type jobStatsFunc func(context.Context) (jobs.Stats, error)

func (f jobStatsFunc) Stats(ctx context.Context) (jobs.Stats, error) { return f(ctx) }

// A scrape-time source that fails or hangs is left out of the scrape (its
// families missing, tally_metrics_source_up 0) and the scrape answers, within
// the source's timeout, with everything else; one that answers is served.
func TestMetricsSourceFailureLeavesTheRest(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tc := range []struct {
		name  string
		stats jobStatsFunc
		want  []string
		never []string
	}{
		{"fails", func(context.Context) (jobs.Stats, error) { return jobs.Stats{}, errors.New("boom") },
			[]string{`tally_metrics_source_up{source="jobs"} 0`, "go_goroutines", "process_cpu_seconds_total"},
			[]string{"tally_jobs{"}},
		{"hangs", func(ctx context.Context) (jobs.Stats, error) { <-ctx.Done(); return jobs.Stats{}, ctx.Err() },
			[]string{`tally_metrics_source_up{source="jobs"} 0`, "go_goroutines"},
			[]string{"tally_jobs{"}},
		{"answers", func(context.Context) (jobs.Stats, error) {
			return jobs.Stats{At: now, Kinds: []jobs.KindState{
				{Kind: "notify_merchant", State: jobs.StateAvailable, Count: 3, Oldest: now.Add(-4 * time.Second), OldestCreated: now.Add(-5 * time.Second)},
				{Kind: "notify_merchant", State: jobs.StateRetryable, Count: 2, OldestCreated: now.Add(-9 * time.Second)},
				{Kind: "submit_order", State: jobs.StateDiscarded, Count: 1, OldestCreated: now.Add(-time.Hour)},
			}}, nil
		}, []string{`tally_metrics_source_up{source="jobs"} 1`, `tally_jobs{kind="notify_merchant",state="available"} 3`,
			`tally_jobs{kind="notify_merchant",state="retryable"} 2`, `tally_jobs{kind="submit_order",state="discarded"} 1`,
			`tally_job_queue_latency_seconds{kind="notify_merchant"} 4`, `tally_job_queue_latency_seconds{kind="submit_order"} 0`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := server.New(server.Deps{Jobs: tc.stats}, server.Options{})
			admin := httptest.NewServer(srv.Admin().Handler())
			t.Cleanup(admin.Close)
			resp, err := http.Get(admin.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/metrics = %d: %s", resp.StatusCode, b)
			}
			lines := strings.Split(string(b), "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					// A line that is w, or w's series with a value.
					found = found || l == w || (!strings.Contains(w, " ") && strings.HasPrefix(l, w+" "))
				}
				if !found {
					t.Errorf("/metrics lacks %q", w)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(string(b), n) {
					t.Errorf("/metrics has %q", n)
				}
			}
		})
	}
}
