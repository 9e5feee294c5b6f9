package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/server"
)

func init() {
	extraCommands = append(extraCommands, newServeCmd, newWorkerCmd)
}

// runtimeFlags are the flags of serve and worker.
type runtimeFlags struct {
	workers, schedule bool
	poolSize          int32
	callbackWorkers   int
	webhookWorkers    int
	syncEvery         time.Duration
	syncAge           time.Duration
	reconEvery        time.Duration
	reconLag          time.Duration
}

func (f *runtimeFlags) bind(cmd *cobra.Command, serve bool) {
	cmd.Flags().BoolVar(&f.schedule, "schedule", true, "run the periodic schedule (one leader across all processes)")
	if serve {
		cmd.Flags().BoolVar(&f.workers, "workers", true, "run River workers in this process (false: API only)")
	}
	cmd.Flags().Int32Var(&f.poolSize, "pool-size", 40, "database connections")
	cmd.Flags().IntVar(&f.callbackWorkers, "callback-workers", 64, "workers processing provider callbacks (their jobs share group transactions: too few make small groups)")
	cmd.Flags().IntVar(&f.webhookWorkers, "webhook-workers", 16, "workers delivering merchant webhooks (more keep up with a higher sustained rate, at the ledger's expense under a burst)")
	cmd.Flags().DurationVar(&f.syncEvery, "sync-every", 30*time.Second, "how often open orders are polled through providers' query APIs")
	cmd.Flags().DurationVar(&f.syncAge, "sync-age", time.Minute, "how old an open order must be before it is polled")
	cmd.Flags().DurationVar(&f.reconEvery, "recon-every", 15*time.Minute, "reconciliation window: every provider account is reconciled (orders and balances) once per window")
	cmd.Flags().DurationVar(&f.reconLag, "recon-lag", 5*time.Minute, "how long after a window ends it is reconciled (late callbacks land first)")
}

func (f *runtimeFlags) options(a *app) jobs.Options {
	return jobs.Options{Workers: f.workers, Schedule: f.schedule, CallbackWorkers: f.callbackWorkers, WebhookWorkers: f.webhookWorkers,
		SyncEvery: f.syncEvery, SyncAge: f.syncAge, Logger: slog.Default(),
		Register: []func(*river.Workers){a.recon.Register},
		Tasks: []jobs.Task{
			{Name: "recon_schedule", Every: f.reconEvery, Args: recon.ScheduleArgs{RunKind: recon.KindFull, Every: f.reconEvery, Lag: f.reconLag}},
			// The daily window is the UTC day; looking every hour runs it within
			// an hour of midnight (plus the lag), whenever the process started.
			{Name: "recon_daily", Every: time.Hour, Args: recon.ScheduleArgs{RunKind: recon.KindFull, Every: 24 * time.Hour, Lag: f.reconLag}},
			{Name: "recon_sweep", Every: 5 * time.Minute, Args: recon.SweepArgs{}},
		}}
}

// ingressFlags are serve's callback ingress limits.
type ingressFlags struct {
	limits         server.IngressOptions
	samplesPerHour int
	legacyRoutes   bool
}

func (f *ingressFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&f.limits.Rate, "callback-rate", server.DefaultCallbackRate, "callback deliveries per second to one provider account, verified or not (a token bucket; beyond it 503 with Retry-After, nothing stored); negative: no limit")
	fl.IntVar(&f.limits.Burst, "callback-burst", server.DefaultCallbackBurst, "burst of --callback-rate")
	fl.Float64Var(&f.limits.RejectRate, "callback-reject-rate", server.DefaultCallbackRejectRate, "failed callback deliveries per second (unknown key, wrong method, too large, bad signature) per source address and per provider account; beyond it 503 with Retry-After, nothing stored or counted; negative: no limit")
	fl.IntVar(&f.limits.RejectBurst, "callback-reject-burst", server.DefaultCallbackRejectBurst, "burst of --callback-reject-rate")
	fl.IntVar(&f.samplesPerHour, "rejected-samples-per-hour", orders.DefaultRejectedSamplesPerHour, "rejected callback deliveries per provider account and hour kept in the inbox as samples; the rest are only counted (0: none kept)")
	fl.BoolVar(&f.legacyRoutes, "legacy-callback-routes", false, "also route /callbacks/<account name> to the accounts that existed before callback keys (migration 00025), for the orders sent before it; a migration window, off by default")
}

func (f *ingressFlags) orders(o *orders.Options) {
	o.RejectedSamplesPerHour = f.samplesPerHour
	if f.samplesPerHour == 0 {
		o.RejectedSamplesPerHour = -1 // none kept (zero is the default in orders.Options)
	}
	o.LegacyCallbackRoutes = f.legacyRoutes
}

func newServeCmd(g *globals) *cobra.Command {
	var addr, publicURL string
	f := &runtimeFlags{}
	in := &ingressFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (merchant API, callback ingress) and, unless told otherwise, the workers and the schedule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if publicURL == "" {
				publicURL = "http://" + addr
			}
			if err := checkPublicURL(publicURL, false); err != nil {
				return err
			}
			a, err := g.newApp(ctx, publicURL, f.poolSize, in.orders)
			if err != nil {
				return err
			}
			defer a.close()
			runner, err := jobs.New(a.pool, a.orders, f.options(a))
			if err != nil {
				return err
			}
			srv := server.New(server.Deps{Pool: a.pool, Orders: a.orders, Merchants: a.merchants, Ledger: a.ledger, Discrepancies: a.disc,
				Recon: a.recon, River: runner.Client()},
				server.Options{Logger: slog.Default(), Ingress: in.limits})
			return serveUntilDone(ctx, addr, srv.Handler(), runner)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&publicURL, "public-url", envOr("TALLY_PUBLIC_URL", ""), "URL providers reach tally at (callbacks go to <url>/callbacks/<account's callback key>); default http://<addr>")
	f.workers = true
	f.bind(cmd, true)
	in.bind(cmd)
	return cmd
}

func newWorkerCmd(g *globals) *cobra.Command {
	f := &runtimeFlags{workers: true}
	var publicURL string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run River workers (and the schedule) without the HTTP server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := checkPublicURL(publicURL, true); err != nil {
				return err
			}
			a, err := g.newApp(ctx, publicURL, f.poolSize)
			if err != nil {
				return err
			}
			defer a.close()
			f.workers = true
			runner, err := jobs.New(a.pool, a.orders, f.options(a))
			if err != nil {
				return err
			}
			if err := runner.Start(ctx); err != nil {
				return err
			}
			slog.Info("worker running")
			<-ctx.Done()
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return runner.Stop(stopCtx)
		},
	}
	cmd.Flags().StringVar(&publicURL, "public-url", envOr("TALLY_PUBLIC_URL", ""), "URL providers reach the API nodes at: every order sent to a provider carries <url>/callbacks/<account's callback key> (required; default $TALLY_PUBLIC_URL)")
	f.bind(cmd, false)
	return cmd
}

// serveUntilDone runs the HTTP server and the runner until ctx ends, then shuts
// both down gracefully.
func serveUntilDone(ctx context.Context, addr string, h http.Handler, runner *jobs.Runner) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	if err := runner.Start(ctx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	slog.Info("tally serving", "addr", ln.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = errors.Join(hs.Shutdown(stopCtx), runner.Stop(stopCtx))
	slog.Info("tally stopped")
	return err
}

// errNoPublicURL: a worker would send providers notify URLs that lead nowhere.
var errNoPublicURL = errors.New("tally worker needs --public-url (or TALLY_PUBLIC_URL): the URL providers reach tally's API nodes at; " +
	"every order a worker sends a provider carries <url>/callbacks/<account's callback key> as its notify URL, and a wrong one loses every callback")

// checkPublicURL refuses a public URL that is not an absolute http(s) URL; with
// required, an empty one too.
func checkPublicURL(raw string, required bool) error {
	if raw == "" {
		if required {
			return errNoPublicURL
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--public-url %q: an absolute http(s) URL such as https://tally.example.com", raw)
	}
	return nil
}
