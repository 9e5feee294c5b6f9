package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/ledger"
)

func init() {
	extraCommands = append(extraCommands, newLedgerCmd)
}

func newLedgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect and check the double-entry ledger",
	}
	cmd.AddCommand(ledgerCheckCmd(g), ledgerBalanceCmd(g), ledgerEntriesCmd(g), ledgerExpireCmd(g), ledgerChartCmd())
	return cmd
}

func ledgerCheckCmd(g *globals) *cobra.Command {
	var merchant string
	c := &cobra.Command{
		Use:   "check",
		Short: "Prove the ledger's invariants over the whole database (--merchant: one merchant's ledger); exits non-zero on a violation",
		Long: `Prove the ledger's invariants over the whole database, every merchant's
accounts and figures included: an operator's command. --merchant CODE checks
that merchant's ledger only (what its reconciliation runs check).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			var rep ledger.Report
			if merchant == "" {
				rep, err = ledger.Check(cmd.Context(), pool)
			} else {
				m, merr := ledger.New(pool).MerchantByCode(cmd.Context(), merchant)
				if merr != nil {
					return merr
				}
				rep, err = ledger.CheckMerchant(cmd.Context(), pool, m.ID)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), rep.String())
			if !rep.OK() {
				return fmt.Errorf("ledger check: %d violations", len(rep.Violations))
			}
			return nil
		},
	}
	c.Flags().StringVar(&merchant, "merchant", "", "check only this merchant's ledger (code)")
	return c
}

func ledgerBalanceCmd(g *globals) *cobra.Command {
	var merchant, at string
	c := &cobra.Command{
		Use:   "balance [ACCOUNT...]",
		Short: "Print balances of a merchant's accounts (all of them without arguments), now or --at a past time",
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			l := ledger.New(pool)
			m, err := l.MerchantByCode(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			var when time.Time
			if at != "" {
				if when, err = time.Parse(time.RFC3339Nano, at); err != nil {
					return fmt.Errorf("--at: %w", err)
				}
			}
			var bals []ledger.Balance
			switch {
			case len(args) == 0 && when.IsZero():
				if bals, err = l.Balances(cmd.Context(), m.ID); err != nil {
					return err
				}
			case len(args) == 0:
				return errors.New("--at needs account codes")
			default:
				for _, a := range args {
					var b ledger.Balance
					if when.IsZero() {
						b, err = l.Balance(cmd.Context(), m.ID, a)
					} else {
						b, err = l.BalanceAt(cmd.Context(), m.ID, a, when)
					}
					if err != nil {
						return err
					}
					bals = append(bals, b)
				}
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "ACCOUNT\tPOSTED\tPENDING\tAVAILABLE\t")
			for _, b := range bals {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", b.Account, b.Posted, b.Pending, b.Available)
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&merchant, "merchant", "", "merchant code (required)")
	c.Flags().StringVar(&at, "at", "", "balance as of this time (RFC 3339)")
	_ = c.MarkFlagRequired("merchant")
	return c
}

func ledgerEntriesCmd(g *globals) *cobra.Command {
	var merchant string
	var after int64
	var limit int
	var all bool
	c := &cobra.Command{
		Use:   "entries ACCOUNT",
		Short: "Print an account's entries, oldest first, a page at a time (--after the last id shown)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			l := ledger.New(pool)
			m, err := l.MerchantByCode(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTIME\tTRANSFER\tKEY\tSIDE\tPHASE\tAMOUNT\tREFERENCE")
			for {
				p, err := l.Entries(cmd.Context(), m.ID, args[0], after, limit)
				if err != nil {
					return err
				}
				for _, e := range p.Entries {
					fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\t%s %s\t%s\n", e.ID, e.CreatedAt.Format(time.RFC3339),
						e.TransferID, e.TransferKey, e.Side, e.Phase, e.Amount, e.Currency, e.Reference)
				}
				if p.Next == 0 {
					break
				}
				if !all {
					fmt.Fprintf(w, "(more: --after %d)\n", p.Next)
					break
				}
				after = p.Next
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&merchant, "merchant", "", "merchant code (required)")
	c.Flags().Int64Var(&after, "after", 0, "show entries after this entry id")
	c.Flags().IntVar(&limit, "limit", 100, "entries per page (at most 1000)")
	c.Flags().BoolVar(&all, "all", false, "print every page")
	_ = c.MarkFlagRequired("merchant")
	return c
}

func ledgerExpireCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "expire",
		Short: "Expire every hold past its deadline now (the scheduler does this on its own)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			n, err := ledger.New(pool).ExpirePending(cmd.Context(), time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "expired %d holds\n", n)
			return nil
		},
	}
}

func ledgerChartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "chart",
		Short: "Print the chart of accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PATTERN\tTYPE\tNORMAL\tNEGATIVE\tSLOTS\tPURPOSE")
			for _, r := range ledger.Chart {
				neg := "forbidden"
				if r.AllowNegative {
					neg = "allowed"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Pattern, r.Type, r.NormalSide, neg, r.Slots, r.Purpose)
			}
			return w.Flush()
		},
	}
}
