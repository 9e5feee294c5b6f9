package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/progress"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
)

func init() {
	extraCommands = append(extraCommands, newReconCmd, newDiscrepancyCmd, newReportCmd, newApprovalCmd)
}

func newReconCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "recon", Short: "Reconcile provider accounts against the ledger"}
	var merchant, account, kind, from, to string
	var statementID int64
	var work, detach bool
	run := &cobra.Command{
		Use:   "run",
		Short: "Queue a reconciliation run (the recon_run River job), work it, show its progress and print its summary",
		Long: `Queue a reconciliation run as the recon_run River job, exactly as the schedule and
the API do, then wait for it with a progress bar and print its summary.

With --work (the default) this process works the recon queue (and nothing
else) while it waits, so the run starts at once whether or not tally serve or
tally worker is running;
any of them may pick the job up instead. A run checkpoints every page: when this
command is interrupted or killed, the job is retried by whichever worker comes
next and resumes where it stopped (tally recon runs shows it). --work=false
leaves the job to the running workers; --detach queues it and returns.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Only the recon queue: this process must not submit orders,
			// apply callbacks or deliver webhooks (it has no public URL).
			a, err := g.newApp(ctx, envOr("TALLY_PUBLIC_URL", "http://127.0.0.1:8080"), 16, func(c *app.Config) {
				c.Jobs = jobs.Options{Workers: work, Queues: []string{jobs.QueueRecon}}
			})
			if err != nil {
				return err
			}
			// Running work (the run's job, if this process took it) gets 10 s
			// to stop; it resumes from its checkpoint.
			defer closeAppWithin(a, 10*time.Second)
			m, err := a.Merchants.Merchant(ctx, merchant)
			if err != nil {
				return err
			}
			req := recon.Request{MerchantID: m.ID, ProviderAccount: account, Kind: recon.RunKind(kind), StatementID: statementID, Trigger: "cli"}
			if req.From, err = optTime(from); err != nil {
				return err
			}
			if req.To, err = optTime(to); err != nil {
				return err
			}
			r, err := a.Recon.Start(ctx, req)
			if err != nil {
				return err
			}
			if detach {
				fmt.Fprintf(cmd.OutOrStdout(), "run %d queued (recon_run job); follow it with: tally recon runs --merchant %s\n", r.ID, merchant)
				return nil
			}
			if work {
				if err := a.Start(context.WithoutCancel(ctx)); err != nil {
					return err
				}
			}
			bar := progress.New(os.Stderr, 0, fmt.Sprintf("run %d", r.ID))
			p, err := waitRun(ctx, a.Recon, r.ID, work, bar, cmd.ErrOrStderr())
			bar.Finish()
			if errors.Is(err, context.Canceled) {
				fmt.Fprintf(cmd.ErrOrStderr(), "interrupted: run %d stays queued and resumes from its checkpoint in the next tally worker (or tally recon run)\n", r.ID)
				return err
			}
			if err != nil {
				return err
			}
			if p.Status == recon.RunFailed {
				return fmt.Errorf("run %d failed: %s", r.ID, p.Error)
			}
			sum, err := a.Recon.Summary(ctx, r.ID)
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), sum)
			return nil
		},
	}
	f := run.Flags()
	f.StringVar(&merchant, "merchant", "", "merchant code")
	f.StringVar(&account, "account", "", "provider account (default: every account of the merchant)")
	f.StringVar(&kind, "kind", "full", "orders, statement, balances or full")
	f.StringVar(&from, "from", "", "window start, RFC 3339 (default: 24 h before --to)")
	f.StringVar(&to, "to", "", "window end, RFC 3339 (default: now)")
	f.Int64Var(&statementID, "statement", 0, "statement id for --kind statement (tally recon import prints it)")
	f.BoolVar(&work, "work", true, "run River workers in this process while waiting (false: leave the job to tally serve / tally worker)")
	f.BoolVar(&detach, "detach", false, "queue the run and return without waiting")
	_ = run.MarkFlagRequired("merchant")

	var allowBad bool
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import a provider settlement statement (CSV); bad rows are reported with their line numbers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, m, err := g.merchantApp(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			defer closeApp(a)
			file, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer file.Close()
			var size int64
			if st, err := file.Stat(); err == nil {
				size = st.Size()
			}
			bar := progress.New(os.Stderr, 0, "import "+filepath.Base(args[0]))
			var last int64
			res, err := a.Recon.Import(cmd.Context(), m.ID, account, filepath.Base(args[0]), file, recon.ImportOptions{AllowBadRows: allowBad,
				Actor: "cli", Progress: func(n int64) { bar.Add(n - last); last = n }})
			bar.Finish()
			_ = size
			for _, b := range res.BadRows {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: %s\n", args[0], b.Line, b.Error())
			}
			if err != nil {
				return err
			}
			if res.Duplicate {
				fmt.Fprintf(cmd.OutOrStdout(), "already imported as statement %d (%d lines)\n", res.Statement.ID, res.Statement.Lines)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "statement %d: %d lines (%d bad, skipped), settled %s to %s\nreconcile it: tally recon run --merchant %s --kind statement --statement %d\n",
				res.Statement.ID, res.Statement.Lines, res.Statement.BadLines, res.Statement.PeriodStart.Format(time.RFC3339),
				res.Statement.PeriodEnd.Format(time.RFC3339), merchant, res.Statement.ID)
			return nil
		},
	}
	imp.Flags().StringVar(&merchant, "merchant", "", "merchant code")
	imp.Flags().StringVar(&account, "account", "", "provider account the statement belongs to")
	imp.Flags().BoolVar(&allowBad, "allow-bad-rows", false, "import the good rows of a file with bad ones")
	_ = imp.MarkFlagRequired("merchant")
	_ = imp.MarkFlagRequired("account")

	runs := &cobra.Command{
		Use:   "runs",
		Short: "List reconciliation runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, m, err := g.merchantApp(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			defer closeApp(a)
			list, err := a.Recon.Runs(cmd.Context(), m.ID, 0, 50)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RUN\tKIND\tACCOUNT\tWINDOW\tTRIGGER\tSTATUS")
			for _, r := range list {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s .. %s\t%s\t%s\n", r.ID, r.Kind, orAll(r.ProviderAccount), r.WindowStart.Format(time.RFC3339),
					r.WindowEnd.Format(time.RFC3339), r.Trigger, r.Status)
			}
			return w.Flush()
		},
	}
	runs.Flags().StringVar(&merchant, "merchant", "", "merchant code")
	_ = runs.MarkFlagRequired("merchant")

	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Print a run's summary",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("run id %q: %w", args[0], err)
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			sum, err := a.Recon.Summary(cmd.Context(), id)
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), sum)
			return nil
		},
	}
	cmd.AddCommand(run, imp, runs, show)
	return cmd
}

func newDiscrepancyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "discrepancy", Aliases: []string{"discrepancies"}, Short: "List, show and resolve discrepancies"}
	var merchant, status, typ string
	list := &cobra.Command{
		Use:   "list",
		Short: "List discrepancies, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, m, err := g.merchantApp(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			defer closeApp(a)
			ds, err := a.Discrepancies.List(cmd.Context(), a.Pool, discrepancies.Filter{MerchantID: m.ID, Status: discrepancies.Status(status), Type: discrepancies.Type(typ), Limit: 500})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTYPE\tSEVERITY\tSTATUS\tDELTA\tCUR\tAGE\tSUMMARY")
			now := time.Now()
			for _, d := range ds {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Type, d.Severity, d.Status, d.AmountDelta, d.Currency,
					d.Age(now).Round(time.Second), truncate(d.Summary, 90))
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&merchant, "merchant", "", "merchant code")
	list.Flags().StringVar(&status, "status", "open", "open, resolved, ignored (empty: all)")
	list.Flags().StringVar(&typ, "type", "", "only this type")
	_ = list.MarkFlagRequired("merchant")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a discrepancy and its audit trail",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return err
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			d, err := a.Discrepancies.Get(cmd.Context(), a.Pool, id)
			if err != nil {
				return err
			}
			evs, err := a.Discrepancies.Events(cmd.Context(), a.Pool, id)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "discrepancy %d: %s (%s, %s)\n%s\ndelta %s %s, suspense %s, first seen %s, seen %d times\n",
				d.ID, d.Type, d.Severity, d.Status, d.Summary, d.AmountDelta, d.Currency, d.SuspenseAmount, d.FirstSeenAt.Format(time.RFC3339), d.SeenCount)
			if d.Status != discrepancies.Open {
				fmt.Fprintf(out, "%s by %s at %s: %s (transfer %s)\n", d.Resolution, d.ResolvedBy, d.ResolvedAt.Format(time.RFC3339), d.ResolutionNote, d.ResolutionTransferKey)
			}
			if d.AssignedTo != 0 {
				fmt.Fprintf(out, "assigned to user:%d since %s\n", d.AssignedTo, d.AssignedAt.Format(time.RFC3339))
			}
			props, err := a.Recon.Approvals(cmd.Context(), recon.ApprovalFilter{DiscrepancyID: id, Limit: 20})
			if err != nil {
				return err
			}
			for _, p := range props {
				fmt.Fprintf(out, "proposal %d: %s of %s %s by %s (%q): %s", p.ID, p.Action, p.Amount, p.Currency, p.Maker, p.Reason, p.Status)
				if p.DecidedBy != "" {
					fmt.Fprintf(out, " by %s (%q)", p.DecidedBy, p.DecisionNote)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintln(out, "audit trail:")
			for _, e := range evs {
				fmt.Fprintf(out, "  %s  %-11s %-8s %s\n", e.CreatedAt.Format(time.RFC3339), e.Action, e.Actor, e.Note)
			}
			return nil
		},
	}
	var action, note, refundAccount string
	var orderID int64
	var bene []string
	resolve := &cobra.Command{
		Use:   "resolve ID",
		Short: "Propose a resolution: accept_received, refund_payer, write_off, match_order or ignore",
		Long: `Propose a resolution as the operating system user (recorded as cli:$USER), with a
reason (--note, required). ignore, and a resolution whose amount is below the
merchant's threshold for its currency (tally merchant threshold), resolve at once;
any other resolution that posts to the ledger becomes a proposal that another
person approves (tally approval approve) before money moves.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return err
			}
			party, err := parseParty(bene)
			if err != nil {
				return err
			}
			actor, err := cliActor()
			if err != nil {
				return err
			}
			a, m, err := g.merchantApp(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			defer closeApp(a)
			res, err := a.Recon.Propose(cmd.Context(), m.ID, id, recon.Resolution{Action: recon.Action(action), Actor: actor, Note: note,
				OrderID: orderID, RefundAccount: refundAccount, Beneficiary: party})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if p := res.Proposal; p != nil {
				fmt.Fprintf(out, "proposal %d: %s of %s %s on discrepancy %d by %s awaits approval (tally approval approve %d)\n",
					p.ID, p.Action, p.Amount, p.Currency, p.DiscrepancyID, p.Maker, p.ID)
				return nil
			}
			printResolved(out, *res.Resolved)
			return nil
		},
	}
	rf := resolve.Flags()
	rf.StringVar(&merchant, "merchant", "", "merchant code")
	rf.StringVar(&action, "action", "", "accept_received, refund_payer, write_off, match_order or ignore")
	rf.StringVar(&note, "note", "", "why (required; recorded in the audit trail)")
	rf.Int64Var(&orderID, "order", 0, "match_order: the order to attribute the money to")
	rf.StringVar(&refundAccount, "refund-account", "", "refund_payer: provider account of the payout (default: the order's)")
	rf.StringArrayVar(&bene, "beneficiary", nil, "refund_payer: beneficiary field Name=..., Account=... (repeatable)")
	_ = resolve.MarkFlagRequired("merchant")
	_ = resolve.MarkFlagRequired("action")
	_ = resolve.MarkFlagRequired("note")
	cmd.AddCommand(list, show, resolve)
	return cmd
}

// cliActor is the CLI's authenticated actor: cli:<login>, the login of the
// process's user id (the operator's CLI has database access; the kernel, not
// an environment variable anyone can set, says who runs it).
func cliActor() (string, error) {
	u, err := cliUser()
	if err != nil || strings.TrimSpace(u) == "" {
		return "", fmt.Errorf("resolutions and approvals record the operating system user who made them, and it cannot be found: %v", err)
	}
	return "cli:" + u, nil
}

// cliUser finds the login of the process's user id; tests replace it to
// play two operators.
var cliUser = func() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	return u.Username, nil
}

func printResolved(w io.Writer, res recon.Resolved) {
	fmt.Fprintf(w, "discrepancy %d %s (%s by %s)", res.Discrepancy.ID, res.Discrepancy.Status, res.Discrepancy.Resolution, res.Discrepancy.ResolvedBy)
	if res.TransferKey != "" {
		fmt.Fprintf(w, "; ledger transfer %s", res.TransferKey)
	}
	if res.Refund != nil {
		fmt.Fprintf(w, "; refund payout order %d", res.Refund.ID)
	}
	fmt.Fprintln(w)
}

func newApprovalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "approval", Aliases: []string{"approvals"}, Short: "List, approve and reject resolution proposals (maker-checker)"}
	var merchant, status string
	var after int64
	list := &cobra.Command{
		Use:   "list",
		Short: "List resolution proposals, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			f := recon.ApprovalFilter{Status: recon.ProposalStatus(status), After: after, Limit: 500}
			if merchant != "" {
				m, err := a.Merchants.Merchant(cmd.Context(), merchant)
				if err != nil {
					return err
				}
				f.MerchantIDs = []int64{m.ID}
			}
			ps, err := a.Recon.Approvals(cmd.Context(), f)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tDISCREPANCY\tACTION\tAMOUNT\tCUR\tMAKER\tSTATUS\tDECIDED BY\tREASON")
			for _, p := range ps {
				fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.DiscrepancyID, p.Action, p.Amount, p.Currency, p.Maker,
					p.Status, orDash(p.DecidedBy), truncate(p.Reason, 60))
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&merchant, "merchant", "", "only this merchant's proposals")
	list.Flags().StringVar(&status, "status", "pending", "pending, approved, rejected (empty: all)")
	list.Flags().Int64Var(&after, "after", 0, "page: proposals older than this id")

	decide := func(use, short string, approve bool) *cobra.Command {
		var note string
		c := &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return err
				}
				actor, err := cliActor()
				if err != nil {
					return err
				}
				a, err := g.adminApp(cmd.Context())
				if err != nil {
					return err
				}
				defer closeApp(a)
				fn := a.Recon.Reject
				if approve {
					fn = a.Recon.Approve
				}
				d, err := fn(cmd.Context(), 0, id, actor, note)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "proposal %d %s by %s\n", d.Proposal.ID, d.Proposal.Status, d.Proposal.DecidedBy)
				if d.Resolved != nil {
					printResolved(out, *d.Resolved)
				}
				return nil
			},
		}
		c.Flags().StringVar(&note, "note", "", "why (required to reject)")
		return c
	}
	cmd.AddCommand(list,
		decide("approve", "Approve a proposal (not your own): its resolution posts now, exactly once", true),
		decide("reject", "Reject a proposal with a reason (your own: withdraw it); nothing posts", false))
	return cmd
}

// newThresholdCmd is tally merchant threshold: the approval threshold of a
// merchant's currency.
func newThresholdCmd(g *globals) *cobra.Command {
	var merchant, currency, amount string
	c := &cobra.Command{
		Use:   "threshold",
		Short: "Set (with --currency and --amount) or show a merchant's approval thresholds",
		Long: `A resolution that posts to the ledger needs a second person's approval when its
amount is at or above the merchant's threshold for the currency; without a
threshold every amount needs approval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, m, err := g.merchantApp(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			defer closeApp(a)
			if currency != "" || amount != "" {
				if currency == "" || amount == "" {
					return errors.New("set a threshold with both --currency and --amount")
				}
				v, err := decimal.NewFromString(amount)
				if err != nil {
					return fmt.Errorf("--amount %q: %w", amount, err)
				}
				if err := a.Recon.SetThreshold(cmd.Context(), m.ID, currency, v); err != nil {
					return err
				}
			}
			ts, err := a.Recon.Thresholds(cmd.Context(), m.ID)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(ts) == 0 {
				fmt.Fprintf(out, "merchant %s: no thresholds, every posting resolution needs approval\n", m.Code)
			}
			for _, t := range ts {
				fmt.Fprintf(out, "%s: resolutions of %s or more need approval\n", t.Currency, t.Amount)
			}
			return nil
		},
	}
	c.Flags().StringVar(&merchant, "merchant", "", "merchant code")
	c.Flags().StringVar(&currency, "currency", "", "currency code")
	c.Flags().StringVar(&amount, "amount", "", "threshold (>= 0)")
	_ = c.MarkFlagRequired("merchant")
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newReportCmd(g *globals) *cobra.Command {
	var merchant, day, format, out string
	var runID int64
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Export a reconciliation run (--run) or a day (--day) as CSV, JSON or XLSX",
		Long: `Export a reconciliation run (--run) or a UTC day (--day, with --merchant) as CSV, JSON or XLSX.

A day's report holds the completed runs whose window ends in that UTC day, the
end being exclusive: a window ending at midnight belongs to the day before. So
the scheduled daily run [D 00:00, D+1 00:00) is day D's, and a manual run with
the default window (the last 24 hours) is in the report of the day it ends in,
though it began the day before (a note names it). Runs whose windows overlap
are merged so that each order counts once; a run ending after the day is in a
later day's report (a note counts them). The report also lists every
discrepancy open at the end of the day, whatever found it, with its age
(<1d, 1-7d, 7-30d, >30d since first seen) and the aging per account and
currency.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return err
			}
			if (runID == 0) == (day == "") {
				return errors.New("give --run ID or --day YYYY-MM-DD")
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			var sum recon.Summary
			if runID != 0 {
				sum, err = a.Recon.Summary(cmd.Context(), runID)
			} else {
				m, merr := a.Merchants.Merchant(cmd.Context(), merchant)
				if merr != nil {
					return merr
				}
				d, perr := time.Parse(time.DateOnly, day)
				if perr != nil {
					return fmt.Errorf("--day %q: %w", day, perr)
				}
				sum, err = a.Recon.Day(cmd.Context(), m.ID, d)
			}
			if err != nil {
				return err
			}
			cur, err := a.Ledger.CurrencyLookup(cmd.Context())
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				return report.Write(cmd.OutOrStdout(), sum, f, cur)
			}
			bar := progress.New(os.Stderr, int64(len(sum.Findings)), "export")
			err = report.WriteFile(out, sum, f, cur)
			bar.Add(int64(len(sum.Findings)))
			bar.Finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&merchant, "merchant", "", "merchant code (with --day)")
	cmd.Flags().Int64Var(&runID, "run", 0, "run id")
	cmd.Flags().StringVar(&day, "day", "", "UTC day YYYY-MM-DD: the runs whose window ends in that day, merged, and the items open at its end")
	cmd.Flags().StringVar(&format, "format", "xlsx", "csv, json or xlsx")
	cmd.Flags().StringVar(&out, "out", "", "output file (default standard output)")
	return cmd
}

// waitRun follows a run through its checkpoints until it is no longer running,
// advancing bar by the orders handled. Without workers of its own it says so
// when nobody has started the job after a while.
func waitRun(ctx context.Context, svc *recon.Service, id int64, working bool, bar *progress.Bar, w io.Writer) (recon.RunProgress, error) {
	var last int64
	started := time.Now()
	hinted := false
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := svc.ProgressOf(ctx, id)
		if err != nil {
			return p, err
		}
		if p.Done > last {
			bar.Add(p.Done - last)
			last = p.Done
		}
		if p.Status != recon.RunRunning {
			return p, nil
		}
		if !working && !hinted && p.Phase == "" && time.Since(started) > 15*time.Second {
			hinted = true
			fmt.Fprintf(w, "run %d has not started yet: is tally serve or tally worker running? (--work runs it here)\n", id)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-tick.C:
		}
	}
}

// printSummary writes a run's summary as text tables.
func printSummary(w io.Writer, s recon.Summary) {
	fmt.Fprintf(w, "run %d: %s %s, window %s .. %s, %s\n", s.RunID, s.Kind, orAll(s.ProviderAccount),
		s.WindowStart.Format(time.RFC3339), s.WindowEnd.Format(time.RFC3339), s.Status)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ACCOUNT\tCUR\tSOURCE\tCHECKED\tMATCHED\tAMOUNT\tUNMATCHED\tAMOUNT\tREPAIRED\tFEES COMPLETED\t")
	for _, o := range s.Orders {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%d\t%d\t\n", o.ProviderAccount, o.Currency, o.Source, o.Checked, o.Matched,
			o.MatchedAmount, o.Unmatched, o.UnmatchedAmount, o.Repaired, o.FeesCompleted)
	}
	_ = tw.Flush()
	if len(s.Discrepancies) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ACCOUNT\tCUR\tTYPE\tFOUND\tNEW\tAUTO-CLOSED\tDELTA\t")
		for _, d := range s.Discrepancies {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", orAll(d.ProviderAccount), d.Currency, d.Type, d.Found, d.New, d.AutoClosed, d.AmountDelta)
		}
		_ = tw.Flush()
	}
	if len(s.Balances) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ACCOUNT\tCUR\tPROVIDER\tLEDGER\tIN FLIGHT\tDIFFERENCE\tOK\t")
		for _, b := range s.Balances {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t\n", b.ProviderAccount, b.Currency, b.Provider, b.Ledger, b.InFlight, b.Difference, b.OK)
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "\nledger invariant check: %s (%d transfers, %d entries)\n", map[bool]string{true: "ok", false: "FAILED"}[s.Ledger.OK], s.Ledger.Transfers, s.Ledger.Entries)
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, v := range s.Ledger.Violations {
		fmt.Fprintln(w, "  ", v)
	}
}

func parseParty(fields []string) (providers.Party, error) {
	var p providers.Party
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return p, fmt.Errorf("--beneficiary %q: want Field=value", f)
		}
		switch strings.ToLower(k) {
		case "name":
			p.Name = v
		case "email":
			p.Email = v
		case "phone":
			p.Phone = v
		case "taxid":
			p.TaxID = v
		case "account":
			p.Account = v
		case "accounttype":
			p.AccountType = v
		case "bankcode":
			p.BankCode = v
		case "network":
			p.Network = v
		case "country":
			p.Country = v
		case "category":
			p.Category = v
		default:
			return p, fmt.Errorf("--beneficiary field %q unknown", k)
		}
	}
	return p, nil
}

func optTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339: %w", s, err)
	}
	return t, nil
}

func orAll(s string) string {
	if s == "" {
		return "all accounts"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
