package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
)

func init() {
	extraCommands = append(extraCommands, newAccountCmd)
}

func newAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage provider accounts (credentials sealed at rest)"}
	var in merchants.ProviderAccountInput
	var secretEnv, secretFile, policy, amountTol, balanceTol string
	var opts, maxAmounts []string
	var dateTol, lifetime time.Duration
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
			in.Operator = true // operator tooling: any host the egress policy allows
			in.AmountPolicy = merchants.AmountPolicy(policy)
			in.DateTolerance = dateTol
			in.DepositLifetime = lifetime
			if in.Options, err = parseOptions(opts); err != nil {
				return err
			}
			if in.AmountTolerance, err = decimalFlag("amount-tolerance", amountTol); err != nil {
				return err
			}
			if in.BalanceTolerance, err = decimalFlag("balance-tolerance", balanceTol); err != nil {
				return err
			}
			if in.MaxAmounts, err = parseMaxAmounts(maxAmounts); err != nil {
				return err
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			acct, err := a.Merchants.AddProviderAccount(cmd.Context(), in)
			if err != nil {
				return err
			}
			callbackURL := "<public-url>/callbacks/" + acct.CallbackKey
			if os.Getenv("TALLY_PUBLIC_URL") != "" {
				callbackURL = a.Merchants.NotifyURL(acct)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "provider account %s (%s) of %s added\ncallback key: %s\ncallback URL: %s (every order sent to the provider carries it)\n",
				acct.Name, acct.Provider, in.MerchantCode, acct.CallbackKey, callbackURL)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&in.MerchantCode, "merchant", "", "merchant code")
	f.StringVar(&in.Provider, "provider", "", "usdtpay, cxpay, usdtcnpay, cpay or vpay")
	f.StringVar(&in.Name, "name", "", "account name, e.g. cpay-main (unique among the merchant's accounts; callbacks are routed by the account's callback key, not its name)")
	f.StringVar(&in.BaseURL, "base-url", "", "provider API base URL, any host the egress policy allows (a sandbox prefix such as http://127.0.0.1:9000/cpay needs --egress-allow 127.0.0.1:9000)")
	f.StringVar(&in.ProviderMerchantID, "merchant-id", "", "the provider's id for the merchant (merchantId, merchant, crmNo, key, accessKey)")
	f.StringVar(&secretEnv, "secret-env", "", "environment variable holding the provider secret")
	f.StringVar(&secretFile, "secret-file", "", "file holding the provider secret")
	f.StringArrayVar(&opts, "option", nil, "provider option key=value (repeatable), e.g. pay_code=PIX")
	f.StringVar(&policy, "amount-policy", "hold_in_suspense", "payer-modified amounts: hold_in_suspense or credit_received")
	f.StringVar(&amountTol, "amount-tolerance", "0", "reconciliation amount tolerance")
	f.StringVar(&balanceTol, "balance-tolerance", "0", "reconciliation balance tolerance")
	f.DurationVar(&dateTol, "date-tolerance", time.Hour, "reconciliation date tolerance")
	f.DurationVar(&lifetime, "deposit-lifetime", merchants.DefaultDepositLifetime, "how long a deposit may stay unpaid (its deadline; reconciliation calls it stale after)")
	f.StringArrayVar(&maxAmounts, "max-amount", nil, "the largest amount the account takes in a currency, CUR=AMOUNT (repeatable), e.g. CNY=5000000; default 10^12 minor units")
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
			defer closeApp(a)
			var mid int64
			if merchant != "" {
				m, err := a.Merchants.Merchant(cmd.Context(), merchant)
				if err != nil {
					return err
				}
				mid = m.ID
			}
			accts, err := a.Merchants.ProviderAccounts(cmd.Context(), mid)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			codes := map[int64]string{}
			fmt.Fprintln(w, "MERCHANT\tNAME\tPROVIDER\tMERCHANT-ID\tBASE-URL\tPOLICY\tDEPOSIT-LIFETIME\tMAX-AMOUNTS\tENABLED\tCALLBACK-KEY")
			for _, ac := range accts {
				code, ok := codes[ac.MerchantID]
				if !ok {
					m, err := a.Merchants.MerchantByID(cmd.Context(), ac.MerchantID)
					if err != nil {
						return err
					}
					code, codes[ac.MerchantID] = m.Code, m.Code
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", code, ac.Name, ac.Provider, ac.ProviderMerchantID, ac.BaseURL, ac.AmountPolicy,
					ac.DepositLifetime, limitsText(ac.MaxAmounts), ac.Enabled, ac.CallbackKey)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&merchant, "merchant", "", "only this merchant's accounts")
	var opMerchant, opName, opCur, opAmount string
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
			defer closeApp(a)
			acct, err := accountByName(cmd.Context(), a, opMerchant, opName)
			if err != nil {
				return err
			}
			t, err := a.Ledger.Transfer(cmd.Context(), ledger.TransferRequest{Merchant: acct.MerchantID,
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
	opening.Flags().StringVar(&opMerchant, "merchant", "", "merchant code (required when another merchant has an account of the same name)")
	opening.Flags().StringVar(&opName, "name", "", "provider account")
	opening.Flags().StringVar(&opCur, "currency", "", "currency, e.g. USDT")
	opening.Flags().StringVar(&opAmount, "amount", "", "what the provider holds for the merchant")
	for _, n := range []string{"name", "currency", "amount"} {
		_ = opening.MarkFlagRequired(n)
	}
	cmd.AddCommand(add, list, newAccountUpdateCmd(g), opening)
	return cmd
}

// newAccountUpdateCmd is tally account update: only the flags given change.
func newAccountUpdateCmd(g *globals) *cobra.Command {
	var merchant, name, baseURL, merchantID, secretEnv, secretFile, policy, amountTol, balanceTol string
	var opts, maxAmounts []string
	var dateTol, lifetime time.Duration
	var enable, disable bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Change a provider account's settings; only the flags given change (the secret from --secret-env or --secret-file, never the command line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			var p merchants.ProviderAccountPatch
			if fl.Changed("base-url") {
				p.BaseURL = &baseURL
			}
			if fl.Changed("merchant-id") {
				p.ProviderMerchantID = &merchantID
			}
			if fl.Changed("secret-env") || fl.Changed("secret-file") {
				secret, err := readSecret(secretEnv, secretFile)
				if err != nil {
					return err
				}
				p.Secret = &secret
			}
			if fl.Changed("option") {
				o, err := parseOptions(opts)
				if err != nil {
					return err
				}
				p.Options = o
			}
			if fl.Changed("amount-policy") {
				ap := merchants.AmountPolicy(policy)
				if ap != merchants.HoldInSuspense && ap != merchants.CreditReceived {
					return fmt.Errorf("--amount-policy %q: hold_in_suspense or credit_received", policy)
				}
				p.AmountPolicy = &ap
			}
			for _, d := range []struct {
				flag string
				v    string
				out  **decimal.Decimal
			}{{"amount-tolerance", amountTol, &p.AmountTolerance}, {"balance-tolerance", balanceTol, &p.BalanceTolerance}} {
				if fl.Changed(d.flag) {
					v, err := decimalFlag(d.flag, d.v)
					if err != nil {
						return err
					}
					*d.out = &v
				}
			}
			if fl.Changed("date-tolerance") {
				p.DateTolerance = &dateTol
			}
			if fl.Changed("max-amount") {
				m, err := parseMaxAmounts(maxAmounts)
				if err != nil {
					return err
				}
				p.MaxAmounts = m
			}
			if fl.Changed("deposit-lifetime") {
				if lifetime <= 0 {
					return fmt.Errorf("--deposit-lifetime %s: a positive duration such as 24h", lifetime)
				}
				p.DepositLifetime = &lifetime
			}
			switch {
			case enable && disable:
				return fmt.Errorf("give --enable or --disable, not both")
			case enable || disable:
				p.Enabled = &enable
			}
			if !changedAny(fl, "base-url", "merchant-id", "secret-env", "secret-file", "option", "amount-policy", "amount-tolerance",
				"balance-tolerance", "date-tolerance", "deposit-lifetime", "max-amount", "enable", "disable") {
				return fmt.Errorf("nothing to change: give at least one setting (tally account update --help)")
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			cur, err := accountByName(cmd.Context(), a, merchant, name)
			if err != nil {
				return err
			}
			p.Operator = true // operator tooling: any host the egress policy allows
			acct, err := a.Merchants.PatchProviderAccount(cmd.Context(), cur.MerchantID, cur.Name, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "provider account %s (%s) updated: base URL %s, merchant id %s, policy %s, deposit lifetime %s, max amounts %s, enabled %v%s\n",
				acct.Name, acct.Provider, acct.BaseURL, acct.ProviderMerchantID, acct.AmountPolicy, acct.DepositLifetime, limitsText(acct.MaxAmounts), acct.Enabled,
				map[bool]string{true: ", secret replaced", false: ""}[p.Secret != nil])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&merchant, "merchant", "", "merchant code (required when another merchant has an account of the same name)")
	f.StringVar(&name, "name", "", "provider account name, e.g. cpay-main")
	f.StringVar(&baseURL, "base-url", "", "provider API base URL")
	f.StringVar(&merchantID, "merchant-id", "", "the provider's id for the merchant")
	f.StringVar(&secretEnv, "secret-env", "", "environment variable holding the new provider secret")
	f.StringVar(&secretFile, "secret-file", "", "file holding the new provider secret")
	f.StringArrayVar(&opts, "option", nil, "provider option key=value (repeatable); replaces every option")
	f.StringVar(&policy, "amount-policy", "", "payer-modified amounts: hold_in_suspense or credit_received")
	f.StringVar(&amountTol, "amount-tolerance", "", "reconciliation amount tolerance")
	f.StringVar(&balanceTol, "balance-tolerance", "", "reconciliation balance tolerance")
	f.DurationVar(&dateTol, "date-tolerance", 0, "reconciliation date tolerance")
	f.DurationVar(&lifetime, "deposit-lifetime", 0, "how long a deposit may stay unpaid (deposits created from now on)")
	f.StringArrayVar(&maxAmounts, "max-amount", nil, "the largest amount the account takes in a currency, CUR=AMOUNT (repeatable); replaces every limit (--max-amount= alone: none, the default 10^12 minor units everywhere)")
	f.BoolVar(&enable, "enable", false, "take new orders again")
	f.BoolVar(&disable, "disable", false, "take no new orders (open orders still settle)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// accountByName finds a provider account by name for an operator's command:
// the merchant's when merchantCode is given, else the one account of that
// name (merchants.ErrAmbiguous when several merchants have one).
func accountByName(ctx context.Context, a *app.App, merchantCode, name string) (merchants.ProviderAccount, error) {
	if merchantCode == "" {
		return a.Merchants.ProviderAccountNamed(ctx, name)
	}
	m, err := a.Merchants.Merchant(ctx, merchantCode)
	if err != nil {
		return merchants.ProviderAccount{}, err
	}
	return a.Merchants.ProviderAccount(ctx, m.ID, name)
}

// limitsText writes an account's limits as CUR=AMOUNT, sorted, or "default".
func limitsText(m map[string]decimal.Decimal) string {
	if len(m) == 0 {
		return "default"
	}
	parts := make([]string, 0, len(m))
	for cur, v := range m {
		parts = append(parts, cur+"="+v.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// changedAny reports whether any of the named flags was given.
func changedAny(fl interface{ Changed(string) bool }, names ...string) bool {
	for _, n := range names {
		if fl.Changed(n) {
			return true
		}
	}
	return false
}
