package main

import (
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/ledger/bench"
)

func init() {
	extraCommands = append(extraCommands, newBenchCmd)
}

// benchCommands lets each benchmark file add its subcommand to `tally bench`.
var benchCommands []func(*globals) *cobra.Command

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure tally's performance against the configured database",
	}
	cfg := bench.DefaultConfig()
	ledgerCmd := &cobra.Command{
		Use:   "ledger",
		Short: "Ledger posting throughput and latency (single, hot account, batch, raw-SQL ceiling) in a scratch database",
		Long: `Creates the scratch database (--database, dropped afterwards), funds --accounts
customer accounts, and measures for --duration each: single transfers from
--clients concurrent clients on random accounts; the same with one hot account
(a provider clearing account) in every transfer; the batch API; and the ceiling,
the same rows written by raw SQL through pgx and through pgbench. Prints
transfers/s and p50/p99 latency, then runs ledger.Check over the result.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := g.devURL(cmd.Context())
			if err != nil {
				return err
			}
			cfg.URL = u
			_, err = bench.Run(cmd.Context(), cfg, cmd.OutOrStdout())
			return err
		},
	}
	f := ledgerCmd.Flags()
	f.StringVar(&cfg.Database, "database", cfg.Database, "scratch database to create, use and drop")
	f.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent clients for single transfers")
	f.IntVar(&cfg.Accounts, "accounts", cfg.Accounts, "customer accounts")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured time per run")
	f.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured warm-up before each run")
	f.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "transfers per batch call")
	f.IntVar(&cfg.BatchClients, "batch-clients", cfg.BatchClients, "concurrent batch callers")
	f.StringVar(&cfg.PgBench, "pgbench", cfg.PgBench, "pgbench binary (default: found under /usr/lib/postgresql; - to skip)")
	f.StringSliceVar(&cfg.Runs, "runs", nil, "runs to make: random, hot, batch, raw, pgbench (default all)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the scratch database")
	cmd.AddCommand(ledgerCmd)
	for _, add := range benchCommands {
		cmd.AddCommand(add(g))
	}
	return cmd
}
