package db_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/testdb"
)

// Concurrent migrate commands on an empty database (two replicas' deploy steps)
// both succeed: MigrateUp holds an advisory lock around River's and tally's
// migrations, so the second waits and then finds nothing to do.
func TestConcurrentMigrateUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.NewEmpty(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.MigrateUp(ctx, pool, log)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate up %d: %v", i, err)
		}
	}
	requireAllApplied(t, pool, log)
}
