package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newCallbacksCmd)
}

func newCallbacksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "callbacks", Short: "Provider callback ingress: what it rejected"}
	var merchant string
	var since time.Duration
	rejections := &cobra.Command{
		Use:   "rejections",
		Short: "Rejected callback deliveries (bad signature, unparsable) per provider account and UTC hour: counted, and how many were kept as samples",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			var mid int64
			if merchant != "" {
				m, err := a.Merchants.Merchant(cmd.Context(), merchant)
				if err != nil {
					return err
				}
				mid = m.ID
			}
			list, err := a.Callbacks.RejectionCounts(cmd.Context(), mid, time.Now().Add(-since).Truncate(time.Hour))
			if err != nil {
				return err
			}
			codes := map[int64]string{}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "HOUR (UTC)\tMERCHANT\tACCOUNT\tREJECTED\tSAMPLES KEPT\tLAST FROM\tLAST ERROR")
			for _, r := range list {
				code, ok := codes[r.MerchantID]
				if !ok {
					m, err := a.Merchants.MerchantByID(cmd.Context(), r.MerchantID)
					if err != nil {
						return err
					}
					code, codes[r.MerchantID] = m.Code, m.Code
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.Hour.Format("2006-01-02 15:04"), code, r.ProviderAccount, r.Deliveries, r.Sampled,
					r.LastRemoteAddr, r.LastError)
			}
			return w.Flush()
		},
	}
	rejections.Flags().StringVar(&merchant, "merchant", "", "only this merchant's accounts")
	rejections.Flags().DurationVar(&since, "since", 24*time.Hour, "how far back")
	cmd.AddCommand(rejections)
	return cmd
}
