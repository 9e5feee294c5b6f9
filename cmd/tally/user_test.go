package main

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/staff"
)

var generatedPassword = regexp.MustCompile(`password \(shown once[^)]*\): (\S+)`)

// TestUserCommands drives tally user as an operator would: create (a
// generated password printed once, or one from the environment never
// printed), list, role and merchants, disable and enable, reset-password; the
// passwords work for a login and the refusals name what is wrong. It runs
// without TALLY_SECRET_KEY: staff users need no provider credential.
func TestUserCommands(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	mustRun(t, dbURL, "merchant", "create", "--code", "beta")
	t.Setenv(secrets.EnvKey, "")
	ctx := context.Background()
	svc := staff.New(pool, staff.Options{})
	login := func(email, password string) error {
		t.Helper()
		_, _, err := svc.Login(ctx, email, password, "127.0.0.1")
		return err
	}

	out := mustRun(t, dbURL, "user", "create", "--email", "Ana@Example.com", "--role", "accountant", "--merchant", "acme")
	m := generatedPassword.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "ana@example.com") || !strings.Contains(out, "accountant") || !strings.Contains(out, "acme") {
		t.Fatalf("user create:\n%s", out)
	}
	anaPassword := m[1]
	if len(anaPassword) < staff.MinPasswordLength {
		t.Fatalf("generated password %d characters", len(anaPassword))
	}
	if err := login("ana@example.com", anaPassword); err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}

	t.Setenv("BOB_PW", "bob's own long password")
	out = mustRun(t, dbURL, "user", "create", "--email", "bob@example.com", "--role", "approver", "--password-env", "BOB_PW")
	if strings.Contains(out, "bob's own") || generatedPassword.MatchString(out) || !strings.Contains(out, "all merchants") {
		t.Fatalf("user create --password-env printed the password or a generated one:\n%s", out)
	}
	if err := login("bob@example.com", "bob's own long password"); err != nil {
		t.Fatalf("login with the chosen password: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "create", "--email", "ana@example.com", "--role", "viewer"}, "exists"},
		{[]string{"user", "create", "--email", "c@example.com", "--role", "boss"}, "viewer, accountant, approver or admin"},
		{[]string{"user", "create", "--email", "c@example.com", "--role", "viewer", "--merchant", "nobody"}, "not found"},
		{[]string{"user", "create", "--email", "not-an-address", "--role", "viewer"}, "not an address"},
		{[]string{"user", "create", "--email", "c@example.com", "--role", "viewer", "--password-env", "UNSET_PW_VAR"}, "UNSET_PW_VAR"},
		{[]string{"user", "disable", "nobody@example.com"}, "not found"},
		{[]string{"user", "role", "ana@example.com", "--role", "viewer", "--merchant", "acme", "--all-merchants"}, "not both"},
	} {
		if out, err := run(t, dbURL, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tally %s: %v\n%s\nwant an error with %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}

	out = mustRun(t, dbURL, "user", "list")
	for _, want := range []string{"ana@example.com", "accountant", "acme", "bob@example.com", "approver", "all merchants"} {
		if !strings.Contains(out, want) {
			t.Errorf("user list lacks %q:\n%s", want, out)
		}
	}

	// role: the role changes; the merchants only with --merchant or
	// --all-merchants.
	mustRun(t, dbURL, "user", "role", "ana@example.com", "--role", "approver")
	ana, err := svc.UserByEmail(ctx, "ana@example.com")
	if err != nil || ana.Role != staff.Approver || len(ana.MerchantIDs) != 1 {
		t.Fatalf("after role --role approver: %+v, %v", ana, err)
	}
	mustRun(t, dbURL, "user", "role", "ana@example.com", "--role", "viewer", "--merchant", "acme,beta")
	if ana, _ = svc.UserByEmail(ctx, "ana@example.com"); ana.Role != staff.Viewer || len(ana.MerchantIDs) != 2 {
		t.Fatalf("after role --merchant acme,beta: %+v", ana)
	}
	mustRun(t, dbURL, "user", "role", "ana@example.com", "--role", "accountant", "--all-merchants")
	if ana, _ = svc.UserByEmail(ctx, "ana@example.com"); ana.Role != staff.Accountant || ana.MerchantIDs != nil {
		t.Fatalf("after role --all-merchants: %+v", ana)
	}

	// disable ends the sessions and refuses logins; enable lets them in again.
	token, _, err := svc.Login(ctx, "bob@example.com", "bob's own long password", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, dbURL, "user", "disable", "bob@example.com")
	if _, err := svc.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("a disabled user's session: %v, want ErrNoSession", err)
	}
	if err := login("bob@example.com", "bob's own long password"); err == nil {
		t.Fatal("a disabled user logged in")
	}
	if out := mustRun(t, dbURL, "user", "list"); !strings.Contains(out, "disabled") {
		t.Fatalf("user list does not show the disabled user:\n%s", out)
	}
	mustRun(t, dbURL, "user", "enable", "bob@example.com")
	if err := login("bob@example.com", "bob's own long password"); err != nil {
		t.Fatalf("an enabled user's login: %v", err)
	}

	// reset-password: a new generated password, the old one refused.
	out = mustRun(t, dbURL, "user", "reset-password", "ana@example.com")
	m = generatedPassword.FindStringSubmatch(out)
	if m == nil || m[1] == anaPassword {
		t.Fatalf("reset-password:\n%s", out)
	}
	if err := login("ana@example.com", anaPassword); err == nil {
		t.Fatal("the old password still works")
	}
	if err := login("ana@example.com", m[1]); err != nil {
		t.Fatalf("login with the reset password: %v", err)
	}
	if ana, _ = svc.UserByEmail(ctx, "ana@example.com"); !ana.MustChange {
		t.Fatal("a reset password need not be changed")
	}
}

// TestAPIKeyScopesCommand: tally apikey create --scope (repeatable and
// comma-separated) makes a key with those scopes, without --scope the
// default ones; an unknown scope is refused; tally apikey list shows them.
func TestAPIKeyScopesCommand(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	svc := merchants.New(pool, nil, merchants.Options{})
	ctx := context.Background()

	key := strings.TrimSpace(mustRun(t, dbURL, "apikey", "create", "--merchant", "acme", "--name", "back-office",
		"--scope", "recon:write", "--scope", "accounts:write,recon:read"))
	_, k, err := svc.Authenticate(ctx, key)
	if want := []merchants.Scope{merchants.ReconRead, merchants.ReconWrite, merchants.AccountsWrite}; err != nil || !slices.Equal(k.Scopes, want) {
		t.Fatalf("key with --scope: %+v, %v; want scopes %v", k, err, want)
	}
	key = strings.TrimSpace(mustRun(t, dbURL, "apikey", "create", "--merchant", "acme", "--name", "shop"))
	if _, k, err = svc.Authenticate(ctx, key); err != nil || !slices.Equal(k.Scopes, merchants.DefaultScopes) {
		t.Fatalf("key without --scope: %+v, %v", k, err)
	}
	if out, err := run(t, dbURL, "apikey", "create", "--merchant", "acme", "--scope", "recon:write,recon:everything"); err == nil ||
		!strings.Contains(err.Error(), "recon:everything") {
		t.Fatalf("an unknown scope: %v\n%s", err, out)
	}
	out := mustRun(t, dbURL, "apikey", "list", "--merchant", "acme")
	if !strings.Contains(out, "SCOPES") || !strings.Contains(out, "recon:read,recon:write,accounts:write") ||
		!strings.Contains(out, "orders:read,orders:write,recon:read") || strings.Count(out, "tly_") != 2 {
		t.Fatalf("apikey list:\n%s", out)
	}
}
