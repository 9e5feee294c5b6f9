package main

import (
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/ledger"
)

func init() {
	extraCommands = append(extraCommands, newCurrencyCmd)
}

// newCurrencyCmd is `tally currency`: the currencies the ledger can book. Neither
// subcommand opens a secret, so neither needs TALLY_SECRET_KEY.
func newCurrencyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "currency",
		Short: "List and add the currencies the ledger can book",
	}
	cmd.AddCommand(currencyListCmd(g), currencyAddCmd(g))
	return cmd
}

func currencyListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Print every currency the ledger can book: code, scale (decimal places), kind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			cs, err := ledger.New(pool).Currencies(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CODE\tSCALE\tKIND")
			for _, c := range cs {
				fmt.Fprintf(w, "%s\t%d\t%s\n", c.Code, c.Scale, c.Kind)
			}
			return w.Flush()
		},
	}
}

func currencyAddCmd(g *globals) *cobra.Command {
	var code, kind string
	var scale int32
	c := &cobra.Command{
		Use:   "add",
		Short: "Add a currency the ledger can then book (an existing one keeps its scale)",
		Long: "Add a currency: --code is 3 to 10 uppercase letters or digits, --scale the decimal places\n" +
			"(0 to 18), --kind fiat or crypto. Adding a currency again with the same scale changes\n" +
			"nothing; another scale is refused, since the scale of a currency never changes.\n" +
			"Running processes pick it up on its first use.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			l := ledger.New(pool, ledger.WithLogger(slog.Default()))
			cur := ledger.Currency{Code: strings.TrimSpace(code), Scale: scale, Kind: strings.TrimSpace(kind)}
			if err := l.AddCurrency(cmd.Context(), cur); err != nil {
				return err
			}
			got, err := l.Currency(cmd.Context(), cur.Code)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "currency %s: scale %d, %s\n", got.Code, got.Scale, got.Kind)
			return nil
		},
	}
	c.Flags().StringVar(&code, "code", "", "currency code, e.g. INR (required)")
	c.Flags().Int32Var(&scale, "scale", 0, "decimal places an amount may have, 0 to 18 (required)")
	c.Flags().StringVar(&kind, "kind", "", "fiat or crypto (a new currency without it is fiat; an existing one keeps its kind)")
	_ = c.MarkFlagRequired("code")
	_ = c.MarkFlagRequired("scale")
	return c
}
