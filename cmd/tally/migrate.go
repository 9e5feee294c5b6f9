package main

import (
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/db"
)

func newMigrateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list database migrations (tally's and River's)",
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.requireDatabaseURL("migrate"); err != nil {
				return err
			}
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			return db.MigrateUp(cmd.Context(), pool, slog.Default())
		},
	}
	var to int64
	var river bool
	down := &cobra.Command{
		Use:   "down",
		Short: "Roll back the last tally migration (or down to --to; --river also drops River's tables at 0)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.requireDatabaseURL("migrate"); err != nil {
				return err
			}
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			return db.MigrateDown(cmd.Context(), pool, slog.Default(), to, river)
		},
	}
	down.Flags().Int64Var(&to, "to", -1, "roll back to this version (0 = all tally migrations)")
	down.Flags().BoolVar(&river, "river", false, "with --to 0, remove River's tables too")
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.requireDatabaseURL("migrate"); err != nil {
				return err
			}
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			st, err := db.Status(cmd.Context(), pool, slog.Default())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "COMPONENT\tVERSION\tAPPLIED\tNAME")
			for _, s := range st {
				fmt.Fprintf(w, "%s\t%d\t%v\t%s\n", s.Component, s.Version, s.Applied, s.Name)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}
