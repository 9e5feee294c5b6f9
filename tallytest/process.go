package tallytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

// WorkerProcessEnv names the environment variables a test binary re-executed
// as a tally worker process reads (see RunWorkerProcess).
const (
	WorkerProcessDB        = "TALLYTEST_WORKER_DB"
	WorkerProcessPublicURL = "TALLYTEST_WORKER_PUBLIC_URL"
)

// RunWorkerProcess runs what `tally worker` runs — the River workers of every
// queue, no schedule — against an Env's database (from WorkerProcessDB) until
// it is killed or interrupted: a real OS process a test can kill with
// SIGKILL. A test package calls it from TestMain when WorkerProcessDB is set,
// and starts it with exec.Command(os.Args[0]).
func RunWorkerProcess() error {
	dbURL, publicURL := os.Getenv(WorkerProcessDB), os.Getenv(WorkerProcessPublicURL)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32)) // the Env's key
	if err != nil {
		return err
	}
	a, err := app.New(ctx, app.Config{DatabaseURL: dbURL, PoolSize: 4, // what the test reserved for it
		Box: box, PublicURL: publicURL, Logger: logger,
		// A test's worker reaches the test's sandbox on loopback, which
		// tally's egress policy otherwise refuses.
		Egress:   egress.New(egress.MustAllowList("127.0.0.0/8")),
		Adapters: merchants.AdapterOptions{Timeout: 5 * time.Second},
		Jobs:     jobs.Options{Workers: true, FetchPoll: 50 * time.Millisecond}})
	if err != nil {
		return fmt.Errorf("worker process: %w", err)
	}
	if err := a.Start(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(err, a.Close(stopCtx))
	}
	fmt.Fprintln(os.Stdout, "worker process started")
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.Close(stopCtx)
}
