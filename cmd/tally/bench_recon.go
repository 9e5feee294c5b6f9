package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/benchmarks"
)

func init() {
	benchCommands = append(benchCommands, newBenchReconCmd)
}

func newBenchReconCmd(g *globals) *cobra.Command {
	cfg := benchmarks.DefaultReconConfig()
	var quiet bool
	cmd := &cobra.Command{
		Use:   "recon",
		Short: "Statement reconciliation of a million orders: import and run time, peak memory, findings checked, in a scratch database",
		Long: `For each of --orders (a list: 100000,300000,1000000 shows whether memory stays
flat), creates the scratch database (--database, dropped afterwards) with that
many settled deposits of one CXPay account, writes the provider's statement for
them with deliberate differences (--amount-every, --missing-every,
--unknown-every), imports it (tally recon import) and reconciles it (a
statement run). Prints setup, write, import and run times, statement lines per
second, the peak RSS (VmHWM, reset before each phase) and Go heap of the import
and of the run, and the run's findings against the differences planted; exits
non-zero when they differ.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := g.devURL(cmd.Context())
			if err != nil {
				return err
			}
			cfg.URL = u
			if !quiet {
				var last time.Time
				var lastPhase string
				cfg.Progress = func(phase string, done, total int64) {
					if phase == lastPhase && time.Since(last) < time.Second && done < total {
						return
					}
					last, lastPhase = time.Now(), phase
					fmt.Fprintf(os.Stderr, "\r%-28s %10d / %d   ", phase, done, total)
					if done >= total {
						fmt.Fprintln(os.Stderr)
					}
				}
			}
			_, err = benchmarks.Recon(cmd.Context(), cfg, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Database, "database", cfg.Database, "scratch database to create, use and drop (once per size)")
	f.IntSliceVar(&cfg.Sizes, "orders", cfg.Sizes, "orders to reconcile; several sizes run one after the other")
	f.IntVar(&cfg.AmountEvery, "amount-every", cfg.AmountEvery, "one order in this many has a different amount in the statement")
	f.IntVar(&cfg.MissingEvery, "missing-every", cfg.MissingEvery, "one order in this many is missing from the statement")
	f.IntVar(&cfg.UnknownEvery, "unknown-every", cfg.UnknownEvery, "one statement line per this many orders is for an order tally does not know")
	f.Int32Var(&cfg.PageSize, "page-size", 0, "orders a run handles between checkpoints (0: the reconciliation default)")
	f.StringVar(&cfg.Dir, "dir", "", "directory for the statement file (default the temporary directory)")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the last size's import and run to this file (go tool pprof)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the scratch database (of the last size)")
	return cmd
}
