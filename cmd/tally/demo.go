package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/db/localpg"
	"github.com/tallyhq/tally/demo"
)

func init() { extraCommands = append(extraCommands, newDemoCmd) }

func newDemoCmd(g *globals) *cobra.Command {
	var o demo.Options
	var quiet bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "One-command tour: simulated providers, a day of deposits and payouts with faults, reconciliation, reports",
		Long: `Create a fresh database (tally_demo), start the five simulated providers and tally
(server, workers, schedule) on local ports, drive a day of deposits and payouts
through the merchant API while the sandbox injects faults (payer-modified amounts,
dropped, duplicated, reordered and delayed callbacks, reversals, provider outages,
bad signatures, balance drift, unknown orders), reconcile every provider account,
export the reports, and print how many injected faults tally caught, then the
accounting console's address and its demo logins (an accountant, an approver, a
viewer and an admin, with their passwords).

With --serve, everything stays up on the demo's data until interrupted (Ctrl-C,
SIGTERM): tally's public listener, with the console under /console/, at --listen
(default 127.0.0.1:8080; the session cookie is Secure, which browsers accept over
plain HTTP on 127.0.0.1 and localhost only). Everything it started is stopped at the
end; a PostgreSQL cluster it had to start is stopped too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			startedPG := false
			if g.databaseURL == "" && os.Getenv("DATABASE_URL") == "" {
				startedPG = !localpg.ThrowawayRunning(ctx, localpg.Options{})
			}
			u, err := g.devURL(ctx)
			if err != nil {
				return err
			}
			if startedPG && localpg.ThrowawayRunning(ctx, localpg.Options{}) {
				defer func() { _ = localpg.Stop(ctx, localpg.Options{}) }()
			}
			o.DatabaseURL = u
			if !o.Serve && !cmd.Flags().Changed("listen") {
				o.Listen = "" // a free port: nothing is served after the demo
			}
			o.Stdout = cmd.OutOrStdout()
			policy, err := g.egressPolicy()
			if err != nil {
				return err
			}
			o.EgressAllow = policy.Allowed()
			if !quiet {
				o.Progress = func(s string) { fmt.Fprintf(os.Stderr, "  .. %s\n", s) }
			}
			res, err := demo.Run(ctx, o)
			if err != nil {
				return err
			}
			if !res.OK() {
				return errors.New("the demo missed injected faults or the ledger check failed (see above)")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Deposits, "deposits", 40, "deposits per provider")
	f.IntVar(&o.Payouts, "payouts", 12, "payouts per provider that pays out")
	f.Float64Var(&o.Scale, "scale", 120, "run the providers' documented delays this many times faster")
	f.StringVar(&o.OutDir, "out", "", "report folder (default out/demo-<time>)")
	f.StringVar(&o.Database, "database", "tally_demo", "database the demo (re)creates on the server")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the day's randomness (0: a fixed default)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines")
	f.BoolVar(&o.Serve, "serve", false, "keep tally (and its console) up on the demo's data until interrupted")
	f.StringVar(&o.Listen, "listen", demo.DefaultListen, "address of tally's public listener (merchant API, callbacks, console)")
	return cmd
}
