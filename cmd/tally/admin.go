package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

func init() {
	extraCommands = append(extraCommands, newMerchantCmd, newAPIKeyCmd, newAccountCmd, newSecretKeyCmd)
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
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a merchant; prints its webhook signing secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			m, secret, err := a.merchants.CreateMerchant(cmd.Context(), code, name, webhook)
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
			defer a.close()
			ms, err := a.merchants.Merchants(cmd.Context())
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
			defer a.close()
			m, secret, err := a.merchants.SetWebhook(cmd.Context(), code, webhook, rotate)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merchant %s webhook: %s\n", m.Code, m.WebhookURL)
			if secret != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "new webhook secret (shown once): %s\n", secret)
			}
			return nil
		},
	}
	hook.Flags().StringVar(&code, "code", "", "merchant code")
	hook.Flags().StringVar(&webhook, "url", "", "webhook URL (empty disables webhooks)")
	hook.Flags().BoolVar(&rotate, "rotate", false, "make a new signing secret")
	_ = hook.MarkFlagRequired("code")
	cmd.AddCommand(create, list, hook)
	return cmd
}

func newAPIKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage merchant API keys"}
	var merchant, name, prefix string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; it is printed once and stored only as a hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			key, info, err := a.merchants.CreateAPIKey(cmd.Context(), merchant, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "API key %s for %s (shown once; store it now):\n", info.Prefix, merchant)
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List a merchant's API keys (prefixes only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			keys, err := a.merchants.APIKeys(cmd.Context(), merchant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PREFIX\tNAME\tCREATED\tREVOKED")
			for _, k := range keys {
				rev := ""
				if k.RevokedAt != nil {
					rev = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.Prefix, k.Name, k.CreatedAt.Format(time.RFC3339), rev)
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
			defer a.close()
			return a.merchants.RevokeAPIKey(cmd.Context(), merchant, prefix)
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVar(&merchant, "merchant", "", "merchant code")
		_ = c.MarkFlagRequired("merchant")
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	revoke.Flags().StringVar(&prefix, "prefix", "", "the key's prefix (tly_xxxxxxxx)")
	_ = revoke.MarkFlagRequired("prefix")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage provider accounts (credentials sealed at rest)"}
	var in merchants.ProviderAccountInput
	var secretEnv, secretFile, policy, amountTol, balanceTol string
	var opts []string
	var dateTol time.Duration
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a provider account; the secret comes from --secret-env or --secret-file, never the command line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := readSecret(secretEnv, secretFile)
			if err != nil {
				return err
			}
			in.Secret = secret
			in.AmountPolicy = merchants.AmountPolicy(policy)
			in.DateTolerance = dateTol
			if in.Options, err = parseOptions(opts); err != nil {
				return err
			}
			if in.AmountTolerance, err = decimalFlag("amount-tolerance", amountTol); err != nil {
				return err
			}
			if in.BalanceTolerance, err = decimalFlag("balance-tolerance", balanceTol); err != nil {
				return err
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			acct, err := a.merchants.AddProviderAccount(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "provider account %s (%s) added; callbacks: <public-url>/callbacks/%s\n", acct.Name, acct.Provider, acct.Name)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&in.MerchantCode, "merchant", "", "merchant code")
	f.StringVar(&in.Provider, "provider", "", "usdtpay, cxpay, usdtcnpay, cpay or vpay")
	f.StringVar(&in.Name, "name", "", "account name, e.g. cpay-main (routes callbacks)")
	f.StringVar(&in.BaseURL, "base-url", "", "provider API base URL (or a sandbox prefix such as http://127.0.0.1:9000/cpay)")
	f.StringVar(&in.ProviderMerchantID, "merchant-id", "", "the provider's id for the merchant (merchantId, merchant, crmNo, key, accessKey)")
	f.StringVar(&secretEnv, "secret-env", "", "environment variable holding the provider secret")
	f.StringVar(&secretFile, "secret-file", "", "file holding the provider secret")
	f.StringArrayVar(&opts, "option", nil, "provider option key=value (repeatable), e.g. pay_code=PIX")
	f.StringVar(&policy, "amount-policy", "hold_in_suspense", "payer-modified amounts: hold_in_suspense or credit_received")
	f.StringVar(&amountTol, "amount-tolerance", "0", "reconciliation amount tolerance")
	f.StringVar(&balanceTol, "balance-tolerance", "0", "reconciliation balance tolerance")
	f.DurationVar(&dateTol, "date-tolerance", time.Hour, "reconciliation date tolerance")
	for _, n := range []string{"merchant", "provider", "name", "base-url", "merchant-id"} {
		_ = add.MarkFlagRequired(n)
	}
	var merchant string
	list := &cobra.Command{
		Use:   "list",
		Short: "List provider accounts (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			var mid int64
			if merchant != "" {
				m, err := a.merchants.Merchant(cmd.Context(), merchant)
				if err != nil {
					return err
				}
				mid = m.ID
			}
			accts, err := a.merchants.ProviderAccounts(cmd.Context(), mid)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tPROVIDER\tMERCHANT-ID\tBASE-URL\tPOLICY\tENABLED")
			for _, ac := range accts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%v\n", ac.Name, ac.Provider, ac.ProviderMerchantID, ac.BaseURL, ac.AmountPolicy, ac.Enabled)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&merchant, "merchant", "", "only this merchant's accounts")
	var opName, opCur, opAmount string
	opening := &cobra.Command{
		Use:   "opening",
		Short: "Book what a provider account already holds when tally starts (against equity:opening), so that balance reconciliation starts even",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			amt, err := decimal.NewFromString(opAmount)
			if err != nil || !amt.IsPositive() {
				return fmt.Errorf("--amount %q: a positive decimal", opAmount)
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			acct, err := a.merchants.ProviderAccount(cmd.Context(), opName)
			if err != nil {
				return err
			}
			t, err := a.ledger.Transfer(cmd.Context(), ledger.TransferRequest{Merchant: acct.MerchantID,
				Key: "opening:" + acct.Name + ":" + opCur, Reference: "opening balance",
				Entries: []ledger.Entry{
					{Account: ledger.ProviderAccount(acct.Name, opCur), Side: ledger.Debit, Amount: amt},
					{Account: ledger.OpeningAccount(opCur), Side: ledger.Credit, Amount: amt},
				}})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "opening balance of %s: %s %s (transfer %d%s)\n", acct.Name, amt, opCur, t.ID,
				map[bool]string{true: ", already booked", false: ""}[t.Replayed])
			return nil
		},
	}
	opening.Flags().StringVar(&opName, "name", "", "provider account")
	opening.Flags().StringVar(&opCur, "currency", "", "currency, e.g. USDT")
	opening.Flags().StringVar(&opAmount, "amount", "", "what the provider holds for the merchant")
	for _, n := range []string{"name", "currency", "amount"} {
		_ = opening.MarkFlagRequired(n)
	}
	cmd.AddCommand(add, list, opening)
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

func decimalFlag(name, v string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(v)
	if err != nil || d.IsNegative() {
		return decimal.Decimal{}, fmt.Errorf("--%s %q: a non-negative decimal", name, v)
	}
	return d, nil
}
