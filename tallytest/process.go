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

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/webhooks"
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
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("worker process: %w", err)
	}
	cfg.MaxConns = 4 // what the test reserved for it
	pool, err := db.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("worker process: %w", err)
	}
	defer pool.Close()
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32)) // the Env's key
	if err != nil {
		return err
	}
	l := ledger.New(pool, ledger.WithLogger(logger))
	// A test's worker reaches the test's sandbox on loopback, which tally's
	// egress policy otherwise refuses.
	policy := egress.New(egress.MustAllowList("127.0.0.0/8"))
	ms := merchants.New(pool, box, merchants.Options{Validate: registry.Validate, Ledger: l, Egress: policy,
		Adapters: merchants.AdapterOptions{PublicURL: publicURL, Logger: logger, Timeout: 5 * time.Second}})
	disc := discrepancies.New()
	svc := orders.New(pool, l, ms, disc, nil, orders.Options{Logger: logger})
	cbs := callbacks.New(pool, svc, ms, disc, nil, callbacks.Options{Logger: logger})
	hooks := webhooks.New(pool, svc, ms, webhooks.Options{Egress: policy, Logger: logger})
	r, err := jobs.New(pool, jobs.Services{Orders: svc, Callbacks: cbs, Webhooks: hooks}, jobs.Options{Workers: true, Logger: logger, FetchPoll: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := r.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, "worker process started")
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(r.Stop(stopCtx), cbs.Close(stopCtx))
}
