package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/webhooks"
)

// app is every service a long-running command needs, built once.
type app struct {
	pool      *pgxpool.Pool
	ledger    *ledger.Ledger
	merchants *merchants.Service
	disc      *discrepancies.Store
	orders    *orders.Service
	callbacks *callbacks.Service
	webhooks  *webhooks.Service
	recon     *recon.Service
}

// appOptions are the options of the services newApp builds, for a command to
// adjust (tune).
type appOptions struct {
	adapters  merchants.AdapterOptions
	orders    orders.Options
	callbacks callbacks.Options
	webhooks  webhooks.Options
}

// newApp connects and builds the services. poolSize bounds the connections;
// tune, when given, adjusts the services' options.
func (g *globals) newApp(ctx context.Context, publicURL string, poolSize int32, tune ...func(*appOptions)) (*app, error) {
	box, err := secrets.FromEnv()
	if err != nil {
		return nil, err
	}
	policy, err := g.egressPolicy()
	if err != nil {
		return nil, err
	}
	hostAllow, err := g.hostAllow()
	if err != nil {
		return nil, err
	}
	u, err := g.url(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", db.Redact(u), err)
	}
	if poolSize > 0 {
		cfg.MaxConns = poolSize
	}
	pool, err := db.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &app{pool: pool, ledger: ledger.New(pool, ledger.WithLogger(slog.Default())), disc: discrepancies.New()}
	o := appOptions{
		adapters:  merchants.AdapterOptions{PublicURL: publicURL, Logger: slog.Default()},
		orders:    orders.Options{Logger: slog.Default()},
		callbacks: callbacks.Options{Logger: slog.Default()},
		webhooks:  webhooks.Options{Logger: slog.Default(), Egress: policy},
	}
	for _, f := range tune {
		f(&o)
	}
	a.merchants = merchants.New(pool, box, merchants.Options{Validate: registry.Validate, Ledger: a.ledger, Egress: policy, HostAllow: hostAllow,
		ProviderHosts: registry.Hosts, Adapters: o.adapters})
	a.orders = orders.New(pool, a.ledger, a.merchants, a.disc, nil, o.orders)
	a.callbacks = callbacks.New(pool, a.orders, a.merchants, a.disc, nil, o.callbacks)
	a.webhooks = webhooks.New(pool, a.orders, a.merchants, o.webhooks)
	a.recon = recon.New(pool, a.orders, a.merchants, a.ledger, a.disc, recon.Options{Logger: slog.Default()})
	return a, nil
}

// adminApp is newApp for short commands that need no public URL.
func (g *globals) adminApp(ctx context.Context) (*app, error) {
	return g.newApp(ctx, envOr("TALLY_PUBLIC_URL", "http://127.0.0.1:8080"), 4)
}

// close stops the callbacks service's loops (after the HTTP server and the
// workers that use them), then closes the pool.
func (a *app) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.callbacks.Close(ctx); err != nil {
		slog.Warn("callbacks not drained", "error", err)
	}
	a.pool.Close()
}

// services are what the app's River workers call (jobs.New).
func (a *app) services() jobs.Services {
	return jobs.Services{Orders: a.orders, Callbacks: a.callbacks, Webhooks: a.webhooks}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// merchantApp is adminApp for the commands that act on one merchant: it also
// finds the merchant by code.
func (g *globals) merchantApp(ctx context.Context, code string) (*app, merchants.Merchant, error) {
	a, err := g.adminApp(ctx)
	if err != nil {
		return nil, merchants.Merchant{}, err
	}
	m, err := a.merchants.Merchant(ctx, code)
	if err != nil {
		a.close()
		return nil, merchants.Merchant{}, err
	}
	return a, m, nil
}
