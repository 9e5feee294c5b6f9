package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/server"
)

func init() {
	extraCommands = append(extraCommands, newMerchantCmd, newAPIKeyCmd, newSecretKeyCmd)
}

func newSecretKeyCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "secret-key",
		Short: "Print a new random key for TALLY_SECRET_KEY (seals provider secrets at rest)",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), secrets.GenerateKey())
		},
	}
}

func newMerchantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "merchant", Short: "Manage merchants (tenants)"}
	var code, name, webhook string
	var rotate bool
	var overlap time.Duration
	var events []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a merchant; prints its webhook signing secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			m, secret, err := a.Merchants.CreateMerchant(cmd.Context(), code, name, webhook)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merchant %s (id %d) created\nwebhook secret (shown once): %s\n", m.Code, m.ID, secret)
			return nil
		},
	}
	create.Flags().StringVar(&code, "code", "", "merchant code (lowercase, digits, _ -)")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&webhook, "webhook-url", "", "URL that receives signed order webhooks")
	_ = create.MarkFlagRequired("code")
	list := &cobra.Command{
		Use:   "list",
		Short: "List merchants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			ms, err := a.Merchants.Merchants(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tCODE\tNAME\tWEBHOOK")
			for _, m := range ms {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", m.ID, m.Code, m.Name, m.WebhookURL)
			}
			return w.Flush()
		},
	}
	hook := &cobra.Command{
		Use:   "webhook",
		Short: "Set a merchant's webhook URL; --rotate makes (and prints once) a new signing secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			var kinds []string
			if cmd.Flags().Changed("events") {
				// Checked before anything changes.
				if kinds, err = merchants.ParseWebhookEvents(events...); err != nil {
					return err
				}
			}
			m, secret, err := a.Merchants.SetWebhook(cmd.Context(), code, webhook, rotate && overlap == 0)
			if err != nil {
				return err
			}
			if rotate && overlap > 0 {
				if m, secret, err = a.Merchants.RotateWebhookSecret(cmd.Context(), code, overlap); err != nil {
					return err
				}
			}
			if kinds != nil {
				if m, err = a.Merchants.SetWebhookEvents(cmd.Context(), code, kinds); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merchant %s webhook: %s\nevents: %s\n", m.Code, m.WebhookURL, strings.Join(m.WebhookEvents, ","))
			if secret != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "new webhook secret (shown once): %s\n", secret)
			}
			return nil
		},
	}
	hook.Flags().StringVar(&code, "code", "", "merchant code")
	hook.Flags().StringVar(&webhook, "url", "", "webhook URL (empty disables webhooks)")
	hook.Flags().BoolVar(&rotate, "rotate", false, "make a new signing secret")
	hook.Flags().DurationVar(&overlap, "overlap", 0, "with --rotate: how long the old secret keeps signing beside the new one (two v1= signatures)")
	hook.Flags().StringSliceVar(&events, "events", nil, "events the webhook receives: order, discrepancy.opened, discrepancy.resolved (discrepancy: both); default order")
	_ = hook.MarkFlagRequired("code")
	hook.AddCommand(newWebhookRotateCmd(g))
	cmd.AddCommand(create, list, hook, newThresholdCmd(g))
	return cmd
}

// newWebhookRotateCmd is tally merchant webhook rotate: a new signing
// secret, printed once, with an overlap window during which the old one
// signs too.
func newWebhookRotateCmd(g *globals) *cobra.Command {
	var code string
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Make (and print once) a new webhook signing secret; the old one keeps signing for --overlap",
		Long: `Make a new webhook signing secret, printed once. For --overlap, every delivery carries a
signature under each secret (Tally-Signature: t=<unix>,v1=<new>,v1=<old>), so the merchant can
switch its endpoint to the new secret at any moment of the window; after it, only the new
secret signs. Running processes take the new secret within a few seconds.`,
		Example: "  tally merchant webhook rotate --code acme --overlap 24h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			m, secret, err := a.Merchants.RotateWebhookSecret(cmd.Context(), code, overlap)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "merchant %s: new webhook secret (shown once): %s\n", m.Code, secret)
			if overlap > 0 {
				fmt.Fprintf(out, "the previous secret signs too until %s\n", time.Now().Add(overlap).UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintln(out, "the previous secret no longer signs")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "merchant code")
	cmd.Flags().DurationVar(&overlap, "overlap", 24*time.Hour, "how long the old secret keeps signing beside the new one (0: stops at once)")
	_ = cmd.MarkFlagRequired("code")
	return cmd
}

func newAPIKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage merchant API keys"}
	var merchant, name, prefix string
	var scopeFlags []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key with scopes; it is printed once and stored only as a hash",
		Long: `Create an API key for a merchant. It is printed once and stored only as a hash.

A key holds scopes; each merchant API route needs one:
  orders:read     orders, their timelines and webhook deliveries
  orders:write    create deposits and payouts
  recon:read      discrepancies, runs, reports, balances, entries, provider accounts
  recon:write     resolve or propose resolutions, withdraw own proposals, import statements, start runs
  accounts:write  create and change provider accounts and webhook settings
Without --scope a key holds orders:read, orders:write and recon:read.`,
		Example: `  tally apikey create --merchant acme --name shop
  tally apikey create --merchant acme --name back-office --scope recon:read --scope recon:write,accounts:write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scopes, err := merchants.ParseScopes(scopeFlags...)
			if err != nil {
				return fmt.Errorf("--scope: %w", err)
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			key, info, err := a.Merchants.CreateAPIKey(cmd.Context(), merchant, name, scopes...)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "API key %s (id %d) for %s, scopes %s (shown once; store it now):\n", info.Prefix, info.ID, merchant,
				merchants.JoinScopes(info.Scopes))
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List a merchant's API keys (prefixes and scopes, never the keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			keys, err := a.Merchants.APIKeys(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPREFIX\tNAME\tSCOPES\tCREATED\tREVOKED")
			for _, k := range keys {
				rev := ""
				if k.RevokedAt != nil {
					rev = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, merchants.JoinScopes(k.Scopes), k.CreatedAt.Format(time.RFC3339), rev)
			}
			return w.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke an API key by its prefix",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			return a.Merchants.RevokeAPIKey(cmd.Context(), merchant, prefix)
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVar(&merchant, "merchant", "", "merchant code")
		_ = c.MarkFlagRequired("merchant")
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	create.Flags().StringArrayVar(&scopeFlags, "scope", nil, "a scope the key holds (repeatable or comma-separated; default orders:read,orders:write,recon:read)")
	revoke.Flags().StringVar(&prefix, "prefix", "", "the key's prefix (tly_xxxxxxxx)")
	_ = revoke.MarkFlagRequired("prefix")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func readSecret(env, file string) (string, error) {
	switch {
	case env != "" && file != "":
		return "", fmt.Errorf("give --secret-env or --secret-file, not both")
	case env != "":
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", fmt.Errorf("the provider secret is required: --secret-env VAR or --secret-file FILE")
}

func parseOptions(opts []string) (map[string]string, error) {
	out := map[string]string{}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--option %q: want key=value", o)
		}
		out[k] = v
	}
	return out, nil
}

// decimalFlag reads an amount flag as the merchant API reads an amount
// (server.ParseAmount): plain decimal digits, no sign or exponent.
func decimalFlag(name, v string) (decimal.Decimal, error) {
	a, err := server.ParseAmount(v)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("--%s: %w", name, err)
	}
	return a.Decimal(), nil
}

// parseMaxAmounts reads --max-amount CUR=AMOUNT flags (repeatable) into
// limits by currency; an empty value ("--max-amount=") alone means none.
func parseMaxAmounts(flags []string) (map[string]decimal.Decimal, error) {
	out := map[string]decimal.Decimal{}
	for _, f := range flags {
		if f == "" {
			continue
		}
		cur, v, ok := strings.Cut(f, "=")
		cur = strings.ToUpper(strings.TrimSpace(cur))
		if !ok || cur == "" {
			return nil, fmt.Errorf("--max-amount %q: want CURRENCY=AMOUNT, e.g. CNY=5000000", f)
		}
		if _, dup := out[cur]; dup {
			return nil, fmt.Errorf("--max-amount: %s given twice", cur)
		}
		d, err := decimalFlag("max-amount "+cur, v)
		if err != nil {
			return nil, err
		}
		out[cur] = d
	}
	return out, nil
}
