package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

// newApp builds the whole tally of a command through the composition root
// (app.New) from the global flags: the database, the secret key
// (TALLY_SECRET_KEY, required: serve, worker and recon run call providers)
// and the operator's egress policy. poolSize bounds the connections; tune,
// when given, adjusts the rest of the config (jobs, services, server).
func (g *globals) newApp(ctx context.Context, publicURL string, poolSize int32, tune ...func(*app.Config)) (*app.App, error) {
	return g.buildApp(ctx, publicURL, poolSize, true, tune...)
}

// buildApp is newApp; without needKey an unset TALLY_SECRET_KEY leaves the
// App without a secrets box (app.Config.Box), so that a command that only
// reads runs without the key that opens every provider credential, and one
// that needs it fails when it does, naming TALLY_SECRET_KEY. A key that is
// set but malformed is an error either way.
func (g *globals) buildApp(ctx context.Context, publicURL string, poolSize int32, needKey bool, tune ...func(*app.Config)) (*app.App, error) {
	box, err := secrets.FromEnv()
	if errors.Is(err, secrets.ErrNoKey) && !needKey {
		box, err = nil, nil
	}
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
	cfg := app.Config{DatabaseURL: u, PoolSize: poolSize, Box: box, PublicURL: publicURL, Egress: policy, ProviderHostAllow: hostAllow,
		Logger: slog.Default()}
	for _, f := range tune {
		f(&cfg)
	}
	return app.New(ctx, cfg)
}

// adminApp is newApp for short commands that need no public URL: it works
// no job and runs no schedule (what they change queues jobs for the workers).
// The secret key is optional (buildApp): the commands that read (discrepancy
// list and show, report, recon runs and show, user list) run without it, and
// those that need it (merchant create, account add) say so.
func (g *globals) adminApp(ctx context.Context) (*app.App, error) {
	return g.buildApp(ctx, envOr("TALLY_PUBLIC_URL", "http://127.0.0.1:8080"), 4, false)
}

// closeApp closes a command's App (its runner, the callbacks service's loops,
// its pool), giving running work 30 s; what does not drain is logged by
// App.Close.
func closeApp(a *app.App) {
	closeAppWithin(a, 30*time.Second)
}

// closeAppWithin is closeApp giving running work d.
func closeAppWithin(a *app.App, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = a.Close(ctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// merchantApp is adminApp for the commands that act on one merchant: it also
// finds the merchant by code.
func (g *globals) merchantApp(ctx context.Context, code string) (*app.App, merchants.Merchant, error) {
	a, err := g.adminApp(ctx)
	if err != nil {
		return nil, merchants.Merchant{}, err
	}
	m, err := a.Merchants.Merchant(ctx, code)
	if err != nil {
		closeApp(a)
		return nil, merchants.Merchant{}, err
	}
	return a, m, nil
}
