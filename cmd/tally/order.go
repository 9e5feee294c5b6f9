package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newOrderCmd) }

func newOrderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "order", Short: "Look at orders as staff do"}
	timeline := &cobra.Command{
		Use:   "timeline ID",
		Short: "An order's whole timeline, with the staff-only entries (a provider's own words, credentials redacted) the merchant API leaves out",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("order id %q: a positive integer", args[0])
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			if _, err := a.Orders.Get(cmd.Context(), 0, id); err != nil {
				return err
			}
			tl, err := a.Orders.StaffTimeline(cmd.Context(), id)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tAT\tSOURCE\tSTATUS\tSEEN BY\tDETAIL")
			for _, e := range tl {
				seen := "merchant"
				if e.StaffOnly {
					seen = "staff"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s -> %s\t%s\t%s\n", e.ID, e.At.UTC().Format("2006-01-02T15:04:05.000Z"), e.Source, e.FromStatus, e.ToStatus, seen, e.Detail)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(timeline)
	return cmd
}
