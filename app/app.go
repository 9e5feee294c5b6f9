// Package app is tally's composition root: New builds a whole tally — its
// pool, ledger, merchants (with the provider adapters), orders, callbacks,
// webhooks, discrepancies, reconciliation, the jobs that run them and the
// HTTP server — from one Config, in dependency order, with every
// collaborator given to its constructor and nothing set afterwards. Every
// process builds through it: tally serve and tally worker, the admin
// commands, the demo, tallytest's environments and worker process, and the
// benchmarks.
//
// The one cycle of the graph, the services that queue jobs and the workers
// that call those services, is broken by jobs.Queue: an insert-only River
// client built from the pool first, given to the services, then shared by
// the jobs.Runner built after them.
//
// A process then calls Start (workers and schedule) and, at the end, Close:
// the runner, the callbacks service's loops and the pool, in that order. The
// HTTP listeners are the caller's (they need addresses, TLS, a test server):
// it serves App.Server's handlers and shuts its listeners down before Close.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/console"
	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/server"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/webhooks"
)

// ErrConfig: the Config lacks what New needs or contradicts itself.
var ErrConfig = errors.New("invalid app config")

// Config is everything New needs to build a tally.
type Config struct {
	// DatabaseURL is the database: New opens a pool of PoolSize connections
	// (zero: pgx's default) and Close closes it.
	DatabaseURL string
	PoolSize    int32
	// ApplicationName is the pool's application_name (pg_stat_activity), when
	// DatabaseURL names none: tally serve and tally worker name their command,
	// pid and host, so that an operator sees which process holds which
	// connection, and which leads the schedule (jobs.ScheduleLeaderOf).
	ApplicationName string
	// Pool, instead of DatabaseURL, is a pool the App uses and leaves open:
	// its owner closes it after Close (a test that orders its cleanups, a
	// second process in a test sharing the first one's pool).
	Pool *pgxpool.Pool
	// Migrate applies every pending migration (db.MigrateUp) before anything
	// else is built: for the development helpers' scratch databases (demo,
	// bench). tally serve never migrates: tally migrate is a deploy step.
	Migrate bool
	// Box seals and opens the provider accounts' secrets and the merchants'
	// webhook secrets (secrets.FromEnv). Nil is allowed, for a process that
	// only reads (tally discrepancy list, report, recon runs without
	// TALLY_SECRET_KEY): everything is read but the secrets, and what needs
	// one (a provider adapter, a webhook's signature, creating a merchant,
	// adding or changing a provider account) fails with an error wrapping
	// secrets.ErrNoKey, which names TALLY_SECRET_KEY. A process that works
	// jobs (Jobs.Workers) must have one: New refuses it without.
	Box *secrets.Box
	// PublicURL is where providers reach tally's API nodes: every order a
	// provider is sent carries {PublicURL}/callbacks/{callback key}.
	PublicURL string
	// Egress is the operator's policy for every outbound call (providers,
	// webhooks); nil is egress.Default(), public addresses only.
	Egress *egress.Policy
	// ProviderHostAllow are the base URL hosts merchants may set beyond each
	// provider's documented hosts (tally serve --provider-host-allow).
	ProviderHostAllow egress.AllowList
	// Logger is every part's logger unless its options name one; default
	// slog.Default().
	Logger *slog.Logger

	// Adapters tune the provider adapters (timeout, legacy callback routes);
	// their PublicURL is Config.PublicURL.
	Adapters merchants.AdapterOptions
	// Orders, Callbacks, Webhooks and Recon tune the services (Webhooks'
	// Egress is Config.Egress).
	Orders    orders.Options
	Callbacks callbacks.Options
	Webhooks  webhooks.Options
	Recon     recon.Options
	// Jobs say whether this process works jobs (Workers), runs the schedule
	// (Schedule, Recon) and how; the zero value does neither, for a process
	// that only queues (an admin command).
	Jobs jobs.Options
	// Server tunes the HTTP server (its Logger is Config.Logger unless set).
	Server server.Options
	// Staff tunes the console's sessions (idle and absolute expiry).
	Staff staff.Options
	// Tracing, when set, traces this tally (package tracing): the public
	// listener's requests, the jobs, the queries of the pool New opens (a
	// given Pool is instrumented by its owner, db.Trace) and the spans the
	// services add inside those traces. Nil: no tracing, at no cost. It
	// fills Jobs.Tracer and Server.Tracer unless they are set.
	Tracing trace.TracerProvider
}

// App is a whole tally, built by New.
type App struct {
	// Pool is the database pool every part shares.
	Pool          *pgxpool.Pool
	Ledger        *ledger.Ledger
	Merchants     *merchants.Service
	Discrepancies *discrepancies.Store
	Orders        *orders.Service
	Callbacks     *callbacks.Service
	Webhooks      *webhooks.Service
	Recon         *recon.Service
	// Staff keeps the console's users and sessions.
	Staff *staff.Service
	// Console is the accounting console, served under /console on the
	// public listener (Server.Handler).
	Console *console.Console
	// Jobs works this process's jobs and runs its schedule (Start); its
	// Queue is the one the services insert through.
	Jobs *jobs.Runner
	// Server is the HTTP face: Server.Handler for the public listener,
	// Server.Admin for the operator's.
	Server *server.Server

	riverUI   *jobs.UI
	logger    *slog.Logger
	ownPool   bool
	closeOnce sync.Once
	closeErr  error
}

// New builds a tally from cfg: the pool (unless given), then the jobs
// Queue, the ledger, merchants, discrepancies, orders, callbacks, webhooks and
// reconciliation services, the jobs Runner over them, and the HTTP server.
// Nothing runs until Start, except the callbacks service's loops, which wait
// for work until Close.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Box == nil && cfg.Jobs.Workers {
		return nil, fmt.Errorf("%w: the workers call providers and sign webhooks: they need the secret key (%s)", ErrConfig, secrets.EnvKey)
	}
	if (cfg.Pool == nil) == (cfg.DatabaseURL == "") {
		return nil, fmt.Errorf("%w: give either a database URL or a pool", ErrConfig)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	a := &App{Pool: cfg.Pool, logger: logger}
	if a.Pool == nil {
		pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("database URL %s: %w", db.Redact(cfg.DatabaseURL), err)
		}
		if cfg.PoolSize > 0 {
			pcfg.MaxConns = cfg.PoolSize
		}
		if _, named := pcfg.ConnConfig.RuntimeParams["application_name"]; !named && cfg.ApplicationName != "" {
			pcfg.ConnConfig.RuntimeParams["application_name"] = cfg.ApplicationName
		}
		db.Trace(pcfg, cfg.Tracing)
		if a.Pool, err = db.ConnectConfig(ctx, pcfg); err != nil {
			return nil, err
		}
		a.ownPool = true
	}
	if err := a.build(ctx, cfg, logger); err != nil {
		a.abandon()
		return nil, err
	}
	return a, nil
}

// build builds every part on a.Pool, in dependency order.
func (a *App) build(ctx context.Context, cfg Config, logger *slog.Logger) error {
	pool := a.Pool
	if cfg.Migrate {
		if err := db.MigrateUp(ctx, pool, logger); err != nil {
			return err
		}
	}
	jo := cfg.Jobs
	if jo.Logger == nil {
		jo.Logger = logger
	}
	if jo.Tracer == nil {
		jo.Tracer = cfg.Tracing
	}
	// The queue first: the services insert through it, the runner built
	// after them shares it.
	queue, err := jobs.NewQueue(pool, jo)
	if err != nil {
		return err
	}
	a.Ledger = ledger.New(pool, ledger.WithLogger(logger))
	ad := cfg.Adapters
	ad.PublicURL = cfg.PublicURL
	if ad.Logger == nil {
		ad.Logger = logger
	}
	a.Merchants = merchants.New(pool, cfg.Box, merchants.Options{Validate: registry.Validate, Ledger: a.Ledger, Egress: cfg.Egress,
		ProviderHosts: registry.Hosts, HostAllow: cfg.ProviderHostAllow, Adapters: ad})
	a.Discrepancies = discrepancies.New()
	oo := cfg.Orders
	if oo.Logger == nil {
		oo.Logger = logger
	}
	a.Orders = orders.New(pool, a.Ledger, a.Merchants, a.Discrepancies, queue, oo)
	// The registry first: the callbacks service observes the
	// callback-to-ledger latency into it.
	so := cfg.Server
	if so.Registry == nil {
		so.Registry = server.NewRegistry()
	}
	if so.Tracer == nil {
		so.Tracer = cfg.Tracing
	}
	co := cfg.Callbacks
	if co.Logger == nil {
		co.Logger = logger
	}
	observe := server.CallbackLatency(so.Registry)
	if prev := co.Applied; prev != nil {
		co.Applied = func(d time.Duration) { prev(d); observe(d) }
	} else {
		co.Applied = observe
	}
	a.Callbacks = callbacks.New(pool, a.Orders, a.Merchants, a.Discrepancies, queue, co)
	wo := cfg.Webhooks
	wo.Egress = cfg.Egress
	if wo.Logger == nil {
		wo.Logger = logger
	}
	a.Webhooks = webhooks.New(pool, a.Orders, a.Merchants, wo)
	// Discrepancies opened and closed become the merchants' webhook events.
	a.Discrepancies.SetNotifier(a.Webhooks)
	ro := cfg.Recon
	if ro.Logger == nil {
		ro.Logger = logger
	}
	a.Recon = recon.New(pool, a.Orders, a.Merchants, a.Ledger, a.Discrepancies, queue, ro)
	if a.Jobs, err = jobs.New(pool, queue, jobs.Services{Orders: a.Orders, Callbacks: a.Callbacks, Webhooks: a.Webhooks, Recon: a.Recon}, jo); err != nil {
		return err
	}
	if so.Logger == nil {
		so.Logger = logger
	}
	a.Staff = staff.New(pool, cfg.Staff)
	if a.riverUI, err = jobs.NewUI(queue, console.RiverPrefix, logger); err != nil {
		return err
	}
	a.Console = console.New(console.Deps{Staff: a.Staff, Discrepancies: a.Discrepancies, Recon: a.Recon, Ledger: a.Ledger,
		Orders: a.Orders, Merchants: a.Merchants, Webhooks: a.Webhooks, Callbacks: a.Callbacks, Pool: pool,
		RiverUI: a.riverUI},
		console.Options{Logger: logger, ClientAddr: func(r *http.Request) string {
			return server.ClientAddr(r, so.TrustedProxies).String()
		}})
	a.Server = server.New(server.Deps{Pool: pool, Orders: a.Orders, Callbacks: a.Callbacks, Webhooks: a.Webhooks, Merchants: a.Merchants,
		Ledger: a.Ledger, Discrepancies: a.Discrepancies, Recon: a.Recon, Jobs: a.Jobs,
		Extra: []server.Route{{Pattern: console.Prefix + "/", Handler: a.Console.Handler().ServeHTTP, Internal: true}}}, so)
	return nil
}

// abandon releases what a failed New built.
func (a *App) abandon() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel() // nothing was handed to the loops: they stop at once
	if a.Jobs != nil {
		_ = a.Jobs.Stop(ctx)
	}
	if a.Callbacks != nil {
		_ = a.Callbacks.Close(ctx)
	}
	if a.ownPool {
		a.Pool.Close()
	}
}

// Start starts the jobs: the workers (Config.Jobs.Workers) and the schedule
// (Config.Jobs.Schedule). ctx is River's: when it ends, the workers stop
// fetching.
func (a *App) Start(ctx context.Context) error {
	if err := a.Jobs.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	return nil
}

// Close stops everything New built and Start started, in order: the runner
// (the schedule, then the workers, letting running jobs finish until ctx
// ends), the callbacks service's loops (after the workers, which hand them
// callbacks, and after the caller's HTTP listeners, which must be shut down
// first), then the pool, when the App opened it. Later calls return the first
// one's result.
func (a *App) Close(ctx context.Context) error {
	a.closeOnce.Do(func() {
		var errs []error
		if err := a.Jobs.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop jobs: %w", err))
		}
		if err := a.Callbacks.Close(ctx); err != nil {
			a.logger.Warn("callbacks not drained", "error", err)
			errs = append(errs, err)
		}
		a.riverUI.Close()
		if a.ownPool {
			a.Pool.Close()
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}
