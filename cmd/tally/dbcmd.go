package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/db"
	"github.com/tallyhq/tally/db/localpg"
)

func newDBCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Find or start the PostgreSQL server tally uses",
	}
	url := &cobra.Command{
		Use:   "url",
		Short: "Print the database URL, starting a throwaway cluster when no server answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := g.devURL(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), u)
			return nil
		},
	}
	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the throwaway cluster in ./.pgdata if one is running",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return localpg.Stop(cmd.Context(), localpg.Options{})
		},
	}
	ping := &cobra.Command{
		Use:   "ping",
		Short: "Check that the database answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := g.devURL(cmd.Context())
			if err != nil {
				return err
			}
			pool, err := db.Connect(cmd.Context(), u)
			if err != nil {
				return err
			}
			pool.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "ok", db.Redact(u))
			return nil
		},
	}
	cmd.AddCommand(url, stop, ping)
	return cmd
}
