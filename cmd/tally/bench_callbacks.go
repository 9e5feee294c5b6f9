package main

import (
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/benchmarks"
)

func init() {
	benchCommands = append(benchCommands, newBenchCallbacksCmd)
}

func newBenchCallbacksCmd(g *globals) *cobra.Command {
	cfg := benchmarks.DefaultCallbacksConfig()
	cmd := &cobra.Command{
		Use:   "callbacks",
		Short: "Provider callbacks acknowledged per second and callback-to-ledger latency, against tally's HTTP server and workers, in a scratch database",
		Long: `Creates the scratch database (--database, dropped afterwards), a merchant, a
CXPay provider account and --orders pending deposits, then runs tally's HTTP
server (tally serve's handler on a TCP listener) with its River workers in this
process. --connections clients, each on its own keep-alive connection, post
signed success callbacks to /callbacks/{callback key} as fast as they are answered,
for --warmup then --duration. Prints acknowledgements per second (200
"success": stored durably with their job), acknowledgement latency p50/p99,
and callback-to-ledger latency p50/p99 (from sending a callback to the end of
the job that posted its deposit) with the share posted within one second;
merchant webhooks to a local receiver that answers 200: delivered per second,
waiting when the posting drained and 5 s later, and event-to-delivered p50/p99
(--merchants spreads the orders over several merchants, --failing-merchant
makes the first one's endpoint answer 500 or hang); then checks that every
acknowledged deposit was settled once and runs ledger.Check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := g.devURL(cmd.Context())
			if err != nil {
				return err
			}
			cfg.URL = u
			_, err = benchmarks.Callbacks(cmd.Context(), cfg, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Database, "database", cfg.Database, "scratch database to create, use and drop")
	f.IntVar(&cfg.Connections, "connections", cfg.Connections, "concurrent clients, each on its own keep-alive connection")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured sending time (sending stops earlier when every order has had its callback)")
	f.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured sending before the measured time")
	f.IntVar(&cfg.Orders, "orders", cfg.Orders, "pending deposits created (one callback each): the most callbacks sent")
	f.IntVar(&cfg.Customers, "customers", cfg.Customers, "customers the deposits credit")
	f.BoolVar(&cfg.NewCustomers, "new-customers", false, "leave each customer's ledger account to its first deposit (default: they exist, as for a long-running server)")
	f.Int32Var(&cfg.PoolSize, "pool-size", cfg.PoolSize, "database connections (tally serve --pool-size)")
	f.IntVar(&cfg.CallbackWorkers, "callback-workers", cfg.CallbackWorkers, "workers processing callbacks (tally serve --callback-workers)")
	f.IntVar(&cfg.WebhookWorkers, "webhook-workers", cfg.WebhookWorkers, "merchant webhook dispatchers run at once (0: tally serve's)")
	f.BoolVar(&cfg.SplitWorkers, "split-workers", false, "run the workers as tally worker beside tally serve --workers=false: services and a --pool-size pool of their own")
	f.BoolVar(&cfg.NoWorkers, "no-workers", false, "run no River workers (tally serve --workers=false): acknowledgements only")
	f.Float64Var(&cfg.Rate, "rate", 0, "callbacks per second in total, paced (0: as fast as the server answers)")
	f.DurationVar(&cfg.FetchPoll, "fetch-poll", 0, "River's fetch poll interval (its fetch cooldown is a quarter of it); 0 keeps tally serve's")
	f.DurationVar(&cfg.Drain, "drain", cfg.Drain, "longest wait, after sending stops, for the stored callbacks to be processed")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the measured time to this file (go tool pprof)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the scratch database")
	f.IntVar(&cfg.Merchants, "merchants", 1, "merchants the orders are spread over, each with its own account and webhook endpoint")
	f.StringVar(&cfg.FailingMerchant, "failing-merchant", "", "make the first merchant's webhook endpoint fail: 500 or hang (the others answer 200)")
	return cmd
}
