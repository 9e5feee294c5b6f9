package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/jobs"
)

func init() { extraCommands = append(extraCommands, newLeaderCmd) }

// processName is the application_name of a serve or worker process's
// database sessions, "tally worker pid=4242 host=node-2": pg_stat_activity
// then says which process holds which connection, and tally leader which
// one leads the schedule. The pid comes first: PostgreSQL keeps 63 bytes.
func processName(command string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("tally %s pid=%d host=%s", command, os.Getpid(), host)
}

// registerLeaderGauge adds tally_scheduler_leader to a process's admin
// metrics: 1 while the process leads the schedule, else 0. Summed over every
// process it is 1, except for the tick after a leader dies.
func registerLeaderGauge(reg *prometheus.Registry, r *jobs.Runner) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tally_scheduler_leader",
		Help: "1 while this process leads the periodic schedule (holds its advisory lock: it enqueues the sync, expiry, requeue and reconciliation jobs for every process), else 0.",
	}, func() float64 {
		if r.ScheduleLeader() {
			return 1
		}
		return 0
	}))
}

func newLeaderCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "leader",
		Short: "Print which process leads the periodic schedule (its database session's application_name)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.pool(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			l, err := jobs.ScheduleLeaderOf(cmd.Context(), pool)
			if errors.Is(err, jobs.ErrNoLeader) {
				fmt.Fprintln(cmd.OutOrStdout(), "no process leads the schedule now (none runs it with --schedule, or the leader just died: another takes over at its next tick)")
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (address %q, PostgreSQL backend %d, session since %s)\n",
				l.ApplicationName, l.ClientAddr, l.BackendPID, l.Since.UTC().Format("2006-01-02T15:04:05Z"))
			return nil
		},
	}
}
