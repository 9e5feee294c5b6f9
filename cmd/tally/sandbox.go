package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/sandbox"
)

func init() { extraCommands = append(extraCommands, newSandboxCmd) }

func newSandboxCmd(_ *globals) *cobra.Command {
	var addr, baseURL, merchantsFile string
	var merchantFlags []string
	var scale float64
	var seed uint64
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve all five provider simulators (and their control APIs) on one port",
		Long: `Serve the five provider simulators, each under its own prefix with its documented
paths beneath (/cpay/openapi/v1/createOrder, /cxpay/collect/create,
/usdtcnpay/api/getAccessToken, /vpay/wallet-trade-merchant/..., /usdtpay/pay/toConfirmIn),
and each one's control API under /control/<provider>/ (see the README).

Merchants come from --merchants FILE (JSON: provider -> list of merchants) and
--merchant provider:id:secret flags. A provider named in either gets exactly the
merchants given there; every provider named in neither keeps its one default
sandbox merchant, with the credentials listed in the README (so with neither
flag, all five have their default merchant). The default merchants hold only what
the README books as opening balances: C-Pay 100000 USDT, CXPay 100000 BRL,
USDTCNPAY 1000000 CNY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms, err := sandbox.Merchants(merchantsFile, merchantFlags)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen %s: %w", addr, err)
			}
			if baseURL == "" {
				baseURL = "http://" + ln.Addr().String()
			}
			sb, err := sandbox.New(sandbox.Config{BaseURL: baseURL, Merchants: ms, Scale: scale, Seed: seed, Logger: slog.Default()})
			if err != nil {
				return err
			}
			defer sb.Close()
			hs := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: sandbox.Timeout}
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			slog.Info("sandbox serving", "addr", ln.Addr().String(), "base_url", baseURL, "scale", scale)
			select {
			case <-cmd.Context().Done():
			case err := <-errc:
				if !errors.Is(err, http.ErrServerClosed) {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return hs.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9000", "listen address")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "public URL of the sandbox (default http://<addr>)")
	cmd.Flags().StringVar(&merchantsFile, "merchants", "", "JSON file of merchants per provider (providers it does not name keep their default merchant)")
	cmd.Flags().StringArrayVar(&merchantFlags, "merchant", nil, "a merchant as provider:id:secret (repeatable; replaces that provider's default merchant, the others keep theirs)")
	cmd.Flags().Float64Var(&scale, "scale", 1, "divide documented delays (callback retry schedules) by this; 60 runs a minute in a second")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed for the autopilot (0: random)")
	return cmd
}
