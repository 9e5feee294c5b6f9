// Command tally is the one binary of tally: the HTTP server and workers, the
// migrations, the provider sandbox, the demo, reconciliation and reports.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/localpg"
	"github.com/tallyhq/tally/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tally:", err)
		os.Exit(1)
	}
}

// globals are the flags every subcommand shares.
type globals struct {
	databaseURL string
	logLevel    string
	logJSON     bool
	// egressAllow and providerHostAllow are the operator's egress policy
	// (egress.ParseAllowList entries); see egressPolicy.
	egressAllow       []string
	providerHostAllow []string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "tally",
		Short:         "Payment reconciliation engine: ledger, provider jobs, reconciliation",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every flag not given on the command line comes from its
		// TALLY_<FLAG> variable (applyEnv), before anything uses it.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd); err != nil {
				return err
			}
			return g.setupLogger()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.databaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL, else 127.0.0.1:5432, else a throwaway cluster in ./.pgdata)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.BoolVar(&g.logJSON, "log-json", false, "write logs as JSON")
	pf.StringArrayVar(&g.egressAllow, "egress-allow", nil, "let tally's provider calls and webhooks reach these otherwise refused addresses (repeatable or comma-separated: 10.0.0.0/8, 127.0.0.1:9000, sandbox.internal[:port])")
	pf.StringArrayVar(&g.providerHostAllow, "provider-host-allow", nil, "base URL hosts merchants may set through the API beyond each provider's documented hosts (same entries as --egress-allow)")
	root.AddCommand(newMigrateCmd(g), newDBCmd(g))
	for _, add := range extraCommands {
		root.AddCommand(add(g))
	}
	return root
}

// extraCommands lets each subcommand file register itself, keeping main.go short.
var extraCommands []func(*globals) *cobra.Command

func (g *globals) setupLogger() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", g.logLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if g.logJSON {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	// A line logged with an HTTP request's context carries its request_id.
	h = server.RequestIDHandler(h)
	slog.SetDefault(slog.New(h))
	return nil
}

// url resolves the database URL of an operator's command: the flag, else
// $DATABASE_URL, else a server localpg finds running (never one it starts).
func (g *globals) url(ctx context.Context) (string, error) {
	if g.databaseURL != "" {
		return g.databaseURL, nil
	}
	return localpg.URL(ctx, localpg.Options{NoStart: true})
}

// devURL is url for the development helpers (demo, bench, db): they may
// start a throwaway cluster, installing PostgreSQL's packages first.
func (g *globals) devURL(ctx context.Context) (string, error) {
	if g.databaseURL != "" {
		return g.databaseURL, nil
	}
	return localpg.URL(ctx, localpg.Options{})
}

// requireDatabaseURL refuses to run a server command (serve, worker,
// migrate) on a database nobody named: a misconfigured deploy must fail at
// once, not serve or migrate whatever answers on localhost.
func (g *globals) requireDatabaseURL(command string) error {
	if g.databaseURL != "" || os.Getenv("DATABASE_URL") != "" {
		return nil
	}
	return fmt.Errorf("tally %s: set DATABASE_URL (or --database-url) to the database it runs on; for a development database, `tally db url` finds or starts one", command)
}

// pool opens a pool on the resolved database.
func (g *globals) pool(ctx context.Context) (*pgxpool.Pool, error) {
	u, err := g.url(ctx)
	if err != nil {
		return nil, err
	}
	return db.Connect(ctx, u)
}
