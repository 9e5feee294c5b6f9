package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/staff"
)

func init() {
	extraCommands = append(extraCommands, newUserCmd)
}

// newUserCmd is tally user: the operator's management of the console's staff
// users (package staff). A password is never taken on the command line
// (shell history, ps): it comes from an environment variable (--password-env)
// or is generated and printed once; either way the user must choose their
// own at the first login.
func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the accounting console's staff users: roles, merchants, passwords",
		Long: `Manage the staff users of the accounting console.

Roles: viewer (reads), accountant (proposes resolutions, imports statements,
starts runs), approver (approves or rejects others' proposals), admin (users,
provider accounts, operator pages, and what accountants and approvers do).
A user limited to some merchants (--merchant) sees only those.`,
	}
	var email, role, passwordEnv string
	var merchantFlags []string
	var allMerchants bool

	create := &cobra.Command{
		Use:   "create",
		Short: "Create a staff user; without --password-env a password is generated and printed once",
		Example: `  tally user create --email ana@example.com --role accountant --merchant acme
  ANA_PW=... tally user create --email ana@example.com --role approver --password-env ANA_PW`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := staff.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			password, generated, err := passwordFrom(passwordEnv)
			if err != nil {
				return err
			}
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			ids, err := merchantIDs(cmd.Context(), a, merchantFlags)
			if err != nil {
				return err
			}
			u, err := a.Staff.CreateUser(cmd.Context(), staff.NewUser{Email: email, Role: r, Password: password, MerchantIDs: ids})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s (id %d) created: %s, %s\n", u.Email, u.ID, u.Role, merchantNames(cmd.Context(), a, u.MerchantIDs))
			printPassword(cmd.OutOrStdout(), password, generated)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "the user's email address (their login)")
	create.Flags().StringVar(&role, "role", "", "viewer, accountant, approver or admin")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the staff users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.adminApp(cmd.Context())
			if err != nil {
				return err
			}
			defer closeApp(a)
			users, err := a.Staff.Users(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tEMAIL\tROLE\tMERCHANTS\tSTATUS\tLAST LOGIN\tCREATED")
			for _, u := range users {
				status := "active"
				switch {
				case u.Disabled:
					status = "disabled"
				case u.MustChange:
					status = "must change password"
				}
				last := "never"
				if u.LastLoginAt != nil {
					last = u.LastLoginAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, merchantNames(cmd.Context(), a, u.MerchantIDs), status, last,
					u.CreatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}

	setDisabled := func(disabled bool) *cobra.Command {
		use, short := "enable EMAIL", "Enable a disabled staff user again"
		if disabled {
			use, short = "disable EMAIL", "Disable a staff user: no login, and their sessions end at once"
		}
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				a, u, err := g.staffUser(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				defer closeApp(a)
				if u, err = a.Staff.SetDisabled(cmd.Context(), u.ID, disabled); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s %s\n", u.Email, map[bool]string{true: "disabled", false: "enabled"}[u.Disabled])
				return nil
			},
		}
	}

	reset := &cobra.Command{
		Use:   "reset-password EMAIL",
		Short: "Set a staff user's password (generated and printed once without --password-env); their sessions end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, generated, err := passwordFrom(passwordEnv)
			if err != nil {
				return err
			}
			a, u, err := g.staffUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer closeApp(a)
			if u, err = a.Staff.ResetPassword(cmd.Context(), u.ID, password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s reset; their sessions ended\n", u.Email)
			printPassword(cmd.OutOrStdout(), password, generated)
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, reset} {
		c.Flags().StringVar(&passwordEnv, "password-env", "", "read the password from this environment variable (default: generate one and print it once)")
	}

	roleCmd := &cobra.Command{
		Use:   "role EMAIL",
		Short: "Change a staff user's role, and with --merchant or --all-merchants which merchants they see",
		Example: `  tally user role ana@example.com --role approver
  tally user role ana@example.com --role viewer --merchant acme,beta
  tally user role ana@example.com --role accountant --all-merchants`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := staff.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			if allMerchants && len(merchantFlags) > 0 {
				return fmt.Errorf("give --merchant or --all-merchants, not both")
			}
			a, u, err := g.staffUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer closeApp(a)
			ids := u.MerchantIDs // neither flag: the merchants stay as they are
			switch {
			case allMerchants:
				ids = nil
			case len(merchantFlags) > 0:
				if ids, err = merchantIDs(cmd.Context(), a, merchantFlags); err != nil {
					return err
				}
			}
			if u, err = a.Staff.SetRole(cmd.Context(), u.ID, r, ids); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s: %s, %s\n", u.Email, u.Role, merchantNames(cmd.Context(), a, u.MerchantIDs))
			return nil
		},
	}
	roleCmd.Flags().StringVar(&role, "role", "", "viewer, accountant, approver or admin")
	roleCmd.Flags().BoolVar(&allMerchants, "all-merchants", false, "lift the user's limit to some merchants")
	_ = roleCmd.MarkFlagRequired("role")
	for _, c := range []*cobra.Command{create, roleCmd} {
		c.Flags().StringArrayVar(&merchantFlags, "merchant", nil, "limit the user to this merchant's data (code; repeatable or comma-separated; default every merchant)")
	}

	cmd.AddCommand(create, list, setDisabled(true), setDisabled(false), reset, roleCmd)
	return cmd
}

// staffUser builds a command's App and finds the staff user by email.
func (g *globals) staffUser(ctx context.Context, email string) (*app.App, staff.User, error) {
	a, err := g.adminApp(ctx)
	if err != nil {
		return nil, staff.User{}, err
	}
	u, err := a.Staff.UserByEmail(ctx, email)
	if err != nil {
		closeApp(a)
		return nil, staff.User{}, err
	}
	return a, u, nil
}

// passwordFrom reads the password an operator chose from the environment
// variable env, or, without one, generates a password (generated true).
func passwordFrom(env string) (password string, generated bool, err error) {
	if env == "" {
		return staff.NewPassword(), true, nil
	}
	v := os.Getenv(env)
	if v == "" {
		return "", false, fmt.Errorf("--password-env: environment variable %s is empty", env)
	}
	return v, false, nil
}

// printPassword prints a generated password, once; a chosen one is never
// printed.
func printPassword(w io.Writer, password string, generated bool) {
	if generated {
		fmt.Fprintf(w, "password (shown once; the user must change it at the first login): %s\n", password)
	} else {
		fmt.Fprintln(w, "password set from the environment; the user must change it at the first login")
	}
}

// merchantIDs resolves merchant codes (repeatable, comma-separated flags) to
// ids; none is nil (every merchant).
func merchantIDs(ctx context.Context, a *app.App, flags []string) ([]int64, error) {
	var ids []int64
	for _, f := range flags {
		for _, code := range strings.Split(f, ",") {
			code = strings.TrimSpace(code)
			if code == "" {
				continue
			}
			m, err := a.Merchants.Merchant(ctx, code)
			if err != nil {
				return nil, fmt.Errorf("--merchant: %w", err)
			}
			if !slices.Contains(ids, m.ID) {
				ids = append(ids, m.ID)
			}
		}
	}
	return ids, nil
}

// merchantNames writes a user's merchant limit as codes ("all merchants"
// for none); an id whose merchant cannot be read is shown as its number.
func merchantNames(ctx context.Context, a *app.App, ids []int64) string {
	if ids == nil {
		return "all merchants"
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = "#" + strconv.FormatInt(id, 10)
		if m, err := a.Merchants.MerchantByID(ctx, id); err == nil {
			names[i] = m.Code
		}
	}
	return strings.Join(names, ",")
}
