// Package demo is tally's one-command tour: it creates its own database, starts
// the five simulated providers and tally (server, workers, schedule) on real
// ports, drives a day of deposits and payouts through the merchant API with
// faults injected through the sandbox control API, reconciles every provider
// account, exports the reports, and accounts for every injected fault.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
	"github.com/tallyhq/tally/sandbox"
)

// Options tune the demo.
type Options struct {
	// DatabaseURL names the PostgreSQL server; the demo creates (and recreates)
	// its own database Database on it.
	DatabaseURL string
	Database    string
	// Deposits per provider and Payouts per provider that pays out.
	Deposits, Payouts int
	// Scale runs the providers' documented delays this many times faster.
	Scale float64
	// OutDir receives the reports.
	OutDir string
	Seed   uint64
	Stdout io.Writer
	Logger *slog.Logger
	// Progress receives progress lines (nil: none).
	Progress func(string)
	// Listen is the address of tally's public listener (the merchant API,
	// the callbacks and the console); empty is a free port on 127.0.0.1.
	Listen string
	// Serve keeps everything up on the demo's data after the summary, until
	// ctx ends (tally demo --serve, stopped by SIGINT or SIGTERM), so that
	// the console can be looked at.
	Serve bool
	// EgressAllow is what tally may reach besides public addresses, beyond
	// the sandbox and the webhook receiver the demo runs (which it allows
	// itself, exactly): tally demo --egress-allow.
	EgressAllow egress.AllowList
}

// Result is what the demo found.
type Result struct {
	Faults []KindResult
	Missed []string
	// Absent are the fault kinds the issue lists that were injected zero
	// times: the run proves nothing about them.
	Absent   []string
	LedgerOK bool
	Reports  []string
	DBURL    string
	// ConsoleURL is the accounting console's address; Logins are its demo
	// users (one of each role) and their passwords.
	ConsoleURL string
	Logins     []Login
}

// OK reports whether every listed kind of fault was injected, every injected
// fault was caught and the ledger holds.
func (r Result) OK() bool { return r.LedgerOK && len(r.Missed) == 0 && len(r.Absent) == 0 }

// Run runs the demo.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Database == "" {
		opts.Database = "tally_demo"
	}
	if opts.Deposits == 0 {
		opts.Deposits = 40
	}
	if opts.Payouts == 0 {
		opts.Payouts = 12
	}
	if opts.Scale == 0 {
		opts.Scale = 120
	}
	if opts.Seed == 0 {
		opts.Seed = 20261122
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join("out", "demo-"+time.Now().UTC().Format("20060102-150405"))
	}
	out := opts.Stdout
	start := time.Now()
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed>>1))

	st, err := up(ctx, opts)
	if st != nil {
		defer st.down()
	}
	if err != nil {
		return Result{}, err
	}
	res := Result{DBURL: st.dbURL, ConsoleURL: st.tallyURL + "/console/", Logins: append([]Login(nil), logins...)}
	fmt.Fprintf(out, "tally demo: merchant %q with five provider accounts\n  sandbox (5 simulated providers): %s   tally: %s   database: %s\n\n",
		st.merchant.Name, st.sandboxURL, st.tallyURL, redactURL(st.dbURL))

	if err := st.faults(ctx); err != nil {
		return res, err
	}
	scripted, err := st.scripted(ctx)
	if err != nil {
		return res, fmt.Errorf("scripted faults: %w", err)
	}
	deposits, err := st.deposits(ctx, rng)
	if err != nil {
		return res, fmt.Errorf("deposits: %w", err)
	}
	deposits = append(scripted, deposits...)
	extra, err := st.extras(ctx)
	if err != nil {
		return res, err
	}
	if err := st.settle(ctx, "deposits settling", 3*time.Minute); err != nil {
		st.progress(err.Error())
	}
	payouts, err := st.payouts(ctx, rng)
	if err != nil {
		return res, fmt.Errorf("payouts: %w", err)
	}
	if err := st.settle(ctx, "payouts settling", 3*time.Minute); err != nil {
		st.progress(err.Error())
	}
	if err := st.drift(ctx); err != nil {
		return res, err
	}
	dayEnd := time.Now().Add(time.Minute)

	// Reconcile every account: the three with an order query against it (and
	// their balances), the two without against their settlement statements.
	var runs []recon.Summary
	for _, p := range providersInOrder {
		acct := st.accounts[p]
		req := recon.Request{MerchantID: st.merchant.ID, ProviderAccount: acct.Name, Kind: recon.KindFull, From: start.Add(-time.Minute), To: dayEnd, Trigger: "demo"}
		if p == "usdtpay" || p == "vpay" {
			stmt, err := st.statement(ctx, p, start.Add(-time.Minute), dayEnd)
			if err != nil {
				return res, err
			}
			req = recon.Request{MerchantID: st.merchant.ID, Kind: recon.KindStatement, StatementID: stmt.ID,
				From: start.Add(-time.Minute), To: dayEnd, Trigger: "demo"}
		}
		st.progress("reconciling " + acct.Name)
		run, err := st.tally.Recon.Create(ctx, req)
		if err != nil {
			return res, err
		}
		sum, err := st.tally.Recon.Execute(ctx, run.ID, nil)
		if err != nil {
			return res, fmt.Errorf("reconcile %s: %w", acct.Name, err)
		}
		runs = append(runs, sum)
	}
	// Let the repairs' webhooks go out before counting.
	_ = st.settle(ctx, "after reconciliation", 30*time.Second)

	injected := append(st.sandbox.Injected(), extra...)
	res.Faults, res.Missed, res.Absent, err = st.detect(ctx, injected)
	if err != nil {
		return res, err
	}
	rep, err := ledger.Check(ctx, st.tally.Pool)
	if err != nil {
		return res, err
	}
	res.LedgerOK = rep.OK()
	if res.Reports, err = st.reports(ctx, opts.OutDir, runs); err != nil {
		return res, err
	}
	st.print(ctx, out, deposits, payouts, runs, res, rep, time.Since(start))
	printConsole(out, res.ConsoleURL, opts.Serve)
	if opts.Serve {
		<-ctx.Done()
		fmt.Fprintf(out, "stopping the demo\n")
	}
	return res, nil
}

// statement exports a provider's settlement statement from the sandbox (the
// file the provider would send) and imports it.
func (st *stack) statement(ctx context.Context, provider string, from, to time.Time) (recon.Statement, error) {
	c := sandbox.DefaultCredentials[provider]
	b, err := st.control(ctx, provider, "GET", fmt.Sprintf("/statement?merchant_id=%s&from=%s&to=%s", url.QueryEscape(c.ID),
		url.QueryEscape(from.UTC().Format(time.RFC3339Nano)), url.QueryEscape(to.UTC().Format(time.RFC3339Nano))), nil)
	if err != nil {
		return recon.Statement{}, err
	}
	res, err := st.tally.Recon.Import(ctx, st.merchant.ID, st.accounts[provider].Name, provider+"-statement.csv", bytes.NewReader(b), recon.ImportOptions{Actor: "demo"})
	if err != nil {
		return recon.Statement{}, fmt.Errorf("import %s statement: %w", provider, err)
	}
	return res.Statement, nil
}

// reports writes every run's report in the three formats, and the day's.
func (st *stack) reports(ctx context.Context, dir string, runs []recon.Summary) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cur, err := st.tally.Ledger.CurrencyLookup(ctx)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range []report.Format{report.CSV, report.JSON, report.XLSX} {
		for _, s := range runs {
			p := filepath.Join(dir, fmt.Sprintf("run-%d-%s%s", s.RunID, s.ProviderAccount, report.Extension(f)))
			if err := report.WriteFile(p, s, f, cur); err != nil {
				return files, err
			}
			files = append(files, p)
		}
	}
	day, err := st.tally.Recon.Day(ctx, st.merchant.ID, time.Now().UTC())
	if err != nil {
		return files, err
	}
	p := filepath.Join(dir, "day-"+time.Now().UTC().Format(time.DateOnly)+".xlsx")
	if err := report.WriteFile(p, day, report.XLSX, cur); err != nil {
		return files, err
	}
	return append(files, p), nil
}

// print writes the demo's summary.
func (st *stack) print(ctx context.Context, w io.Writer, deposits, payouts []order, runs []recon.Summary, res Result, rep ledger.Report, took time.Duration) {
	fmt.Fprintf(w, "orders (through the merchant API)\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PROVIDER\tKIND\tCREATED\tSUCCEEDED\tFAILED\tEXPIRED\tREVERSED\tOPEN\t")
	count := map[string]map[orders.Status]int{}
	created := map[string]int{}
	for _, list := range [][]order{deposits, payouts} {
		for _, o := range list {
			k := o.provider + "|" + string(o.order.Kind)
			created[k]++
			cur, err := st.tally.Orders.Get(ctx, st.merchant.ID, o.order.ID)
			if err != nil {
				continue
			}
			if count[k] == nil {
				count[k] = map[orders.Status]int{}
			}
			count[k][cur.Status]++
		}
	}
	keys := make([]string, 0, len(created))
	for k := range created {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, kind, _ := strings.Cut(k, "|")
		c := count[k]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p, kind, created[k], c[orders.StatusSucceeded], c[orders.StatusFailed],
			c[orders.StatusExpired], c[orders.StatusReversed], c[orders.StatusCreated]+c[orders.StatusPending]+c[orders.StatusProcessing])
	}
	_ = tw.Flush()

	fmt.Fprintf(w, "\nreconciliation\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RUN\tACCOUNT\tCUR\tAGAINST\tCHECKED\tMATCHED\tMATCHED AMOUNT\tUNMATCHED\tUNMATCHED AMOUNT\tREPAIRED\tFEES COMPLETED\t")
	for _, s := range runs {
		for _, o := range s.Orders {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%d\t%d\t\n", s.RunID, o.ProviderAccount, o.Currency, o.Source, o.Checked,
				o.Matched, o.MatchedAmount, o.Unmatched, o.UnmatchedAmount, o.Repaired, o.FeesCompleted)
		}
	}
	_ = tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nBALANCES\tCUR\tPROVIDER\tLEDGER\tIN FLIGHT\tDIFFERENCE\tOK\t")
	for _, s := range runs {
		for _, b := range s.Balances {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t\n", b.ProviderAccount, b.Currency, b.Provider, b.Ledger, b.InFlight, b.Difference, b.OK)
		}
	}
	_ = tw.Flush()

	fmt.Fprintf(w, "\ndiscrepancies\n")
	all, _ := st.tally.Discrepancies.List(ctx, st.tally.Pool, discrepancies.Filter{MerchantID: st.merchant.ID, Limit: 1000})
	byType := map[discrepancies.Type][2]int{}
	for _, d := range all {
		c := byType[d.Type]
		if d.Status == discrepancies.Open {
			c[0]++
		} else {
			c[1]++
		}
		byType[d.Type] = c
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TYPE\tOPEN\tCLOSED\t")
	for _, t := range discrepancies.Types {
		if c, ok := byType[t]; ok {
			fmt.Fprintf(tw, "%s\t%d\t%d\t\n", t, c[0], c[1])
		}
	}
	_ = tw.Flush()

	fmt.Fprintf(w, "\ninjected faults: how many tally caught\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tINJECTED\tFLAGGED\tABSORBED\tMISSED\tHOW")
	total, caught := 0, 0
	for _, f := range res.Faults {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", f.Kind, f.Injected, f.Flagged, f.Absorbed, f.Missed, f.How)
		total += f.Injected
		caught += f.Flagged + f.Absorbed
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "detected %d of %d injected faults\n", caught, total)
	for _, m := range res.Missed {
		fmt.Fprintf(w, "  MISSED: %s\n", m)
	}
	for _, k := range res.Absent {
		fmt.Fprintf(w, "  NOT INJECTED: %s (the demo must inject every listed kind at least once)\n", k)
	}
	ok, bad := st.hooks.counts()
	fmt.Fprintf(w, "\nmerchant webhooks received: %d (signatures verified; %d bad)\n", ok, bad)
	fmt.Fprintf(w, "ledger invariant check: %s (%d transfers, %d entries)\n", map[bool]string{true: "ok", false: "FAILED"}[rep.OK()], rep.Transfers, rep.Entries)
	fmt.Fprintf(w, "\nreports in %s:\n", filepath.Dir(res.Reports[0]))
	for _, f := range res.Reports {
		fmt.Fprintf(w, "  %s\n", f)
	}
	fmt.Fprintf(w, "\nthe demo's database is kept for a look: %s\ndone in %s\n", redactURL(st.dbURL), took.Round(time.Second))
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
