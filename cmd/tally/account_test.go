package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

// run runs the tally command line against dbURL and returns what it printed.
func run(t *testing.T, dbURL string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--database-url", dbURL, "--log-level", "error"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func mustRun(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	out, err := run(t, dbURL, args...)
	if err != nil {
		t.Fatalf("tally %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestAccountUpdateAndAPIKeyRevoke drives tally account add/update and tally
// apikey create/revoke as an operator would: only the flags given change, the
// secret is read from the environment and never printed, and a revoked key
// no longer authenticates.
func TestAccountUpdateAndAPIKeyRevoke(t *testing.T) {
	key := secrets.GenerateKey()
	t.Setenv(secrets.EnvKey, key)
	t.Setenv("CPAY_SECRET", "first-secret-112233")
	t.Setenv("CPAY_SECRET_2", "second-secret-445566")
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	added := mustRun(t, dbURL, "account", "add", "--merchant", "acme", "--provider", "cpay", "--name", "cpay-main",
		"--base-url", "http://127.0.0.1:9000/cpay", "--egress-allow", "127.0.0.1:9000", "--merchant-id", "20000387", "--secret-env", "CPAY_SECRET")

	out := mustRun(t, dbURL, "account", "update", "--name", "cpay-main", "--amount-policy", "credit_received", "--disable",
		"--deposit-lifetime", "2h", "--secret-env", "CPAY_SECRET_2")
	if strings.Contains(out, "second-secret") || strings.Contains(out, "first-secret") {
		t.Fatalf("update printed a secret: %s", out)
	}
	box, err := secrets.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := secrets.New(box)
	if err != nil {
		t.Fatal(err)
	}
	svc := merchants.New(pool, b, merchants.Options{})
	acme, err := svc.Merchant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.ProviderAccount(context.Background(), acme.ID, "cpay-main")
	if err != nil {
		t.Fatal(err)
	}
	// tally account add shows the account's callback key, the URL's only
	// variable part; the name is not in it.
	if !strings.Contains(added, "callback key: "+a.CallbackKey) || !strings.Contains(added, "/callbacks/"+a.CallbackKey) || !merchants.ValidCallbackKey(a.CallbackKey) {
		t.Fatalf("tally account add printed %q; key %q", added, a.CallbackKey)
	}
	if a.AmountPolicy != merchants.CreditReceived || a.Enabled || a.DepositLifetime != 2*time.Hour || a.Secret.Reveal() != "second-secret-445566" {
		t.Fatalf("after update: policy %s enabled %v lifetime %s secret changed %v", a.AmountPolicy, a.Enabled, a.DepositLifetime, a.Secret.Reveal() == "second-secret-445566")
	}
	if a.BaseURL != "http://127.0.0.1:9000/cpay" || a.ProviderMerchantID != "20000387" || a.DateTolerance != time.Hour {
		t.Fatalf("update changed what it was not given: %+v", a)
	}
	mustRun(t, dbURL, "account", "update", "--name", "cpay-main", "--enable", "--base-url", "http://127.0.0.1:9001/cpay",
		"--egress-allow", "127.0.0.1:9000,127.0.0.1:9001")
	if a, err = svc.ProviderAccount(context.Background(), acme.ID, "cpay-main"); err != nil || !a.Enabled || a.BaseURL != "http://127.0.0.1:9001/cpay" || a.AmountPolicy != merchants.CreditReceived {
		t.Fatalf("after the second update: %+v, %v", a, err)
	}
	for _, bad := range [][]string{
		{"account", "update", "--name", "cpay-main"},
		{"account", "update", "--name", "cpay-main", "--enable", "--disable"},
		{"account", "update", "--name", "cpay-main", "--amount-policy", "keep"},
		{"account", "update", "--name", "cpay-main", "--deposit-lifetime", "-1h"},
		{"account", "update", "--name", "nope", "--enable"},
	} {
		if _, err := run(t, dbURL, bad...); err == nil {
			t.Errorf("tally %s: no error", strings.Join(bad, " "))
		}
	}

	// Another merchant may use the same name: a command given only the name
	// is then ambiguous and changes nothing; --merchant says whose.
	mustRun(t, dbURL, "merchant", "create", "--code", "beta")
	mustRun(t, dbURL, "account", "add", "--merchant", "beta", "--provider", "cpay", "--name", "cpay-main",
		"--base-url", "http://127.0.0.1:9002/cpay", "--egress-allow", "127.0.0.1:9002", "--merchant-id", "20000388", "--secret-env", "CPAY_SECRET")
	if _, err := run(t, dbURL, "account", "update", "--name", "cpay-main", "--disable"); err == nil || !strings.Contains(err.Error(), "--merchant") {
		t.Fatalf("update of an ambiguous name: %v", err)
	}
	if _, err := run(t, dbURL, "account", "opening", "--name", "cpay-main", "--currency", "USDT", "--amount", "1"); err == nil {
		t.Fatal("opening balance of an ambiguous name: no error")
	}
	mustRun(t, dbURL, "account", "update", "--merchant", "beta", "--name", "cpay-main", "--disable")
	beta, err := svc.Merchant(context.Background(), "beta")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := svc.ProviderAccount(context.Background(), beta.ID, "cpay-main"); err != nil || b.Enabled || b.CallbackKey == a.CallbackKey {
		t.Fatalf("beta's account: %+v, %v", b, err)
	}
	if a, err = svc.ProviderAccount(context.Background(), acme.ID, "cpay-main"); err != nil || !a.Enabled {
		t.Fatalf("acme's account changed with beta's: %+v, %v", a, err)
	}
	mustRun(t, dbURL, "account", "opening", "--merchant", "acme", "--name", "cpay-main", "--currency", "USDT", "--amount", "1")

	apiKey := strings.TrimSpace(mustRun(t, dbURL, "apikey", "create", "--merchant", "acme"))
	if _, _, err := svc.Authenticate(context.Background(), apiKey); err != nil {
		t.Fatalf("new key: %v", err)
	}
	prefix := apiKey[:strings.LastIndexByte(apiKey, '_')]
	mustRun(t, dbURL, "apikey", "revoke", "--merchant", "acme", "--prefix", prefix)
	if _, _, err := svc.Authenticate(context.Background(), apiKey); !errors.Is(err, merchants.ErrUnauthorized) {
		t.Fatalf("revoked key: %v, want ErrUnauthorized", err)
	}
	if _, err := run(t, dbURL, "apikey", "revoke", "--merchant", "acme", "--prefix", prefix); err == nil {
		t.Fatal("revoking a revoked key: no error")
	}
}

// tally worker refuses to start without a public URL, before touching the
// database: every order it sends would carry a notify URL leading nowhere.
func TestWorkerNeedsPublicURL(t *testing.T) {
	t.Setenv("TALLY_PUBLIC_URL", "")
	_, err := run(t, "postgres://nowhere.invalid:1/x", "worker")
	if !errors.Is(err, errNoPublicURL) {
		t.Fatalf("tally worker without a public URL: %v, want errNoPublicURL", err)
	}
	if _, err := run(t, "postgres://nowhere.invalid:1/x", "worker", "--public-url", "tally.example.com"); err == nil || !strings.Contains(err.Error(), "absolute http(s) URL") {
		t.Fatalf("tally worker --public-url tally.example.com: %v", err)
	}
}

// TestAccountMaxAmounts: tally account add/update --max-amount sets an
// account's limits by currency, replaces them all on update, clears them with
// an empty value, and refuses an amount that is not plain decimal digits
// within the currency's scale, as the merchant API does.
func TestAccountMaxAmounts(t *testing.T) {
	key := secrets.GenerateKey()
	t.Setenv(secrets.EnvKey, key)
	t.Setenv("CPAY_SECRET", "first-secret-112233")
	pool, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	mustRun(t, dbURL, "account", "add", "--merchant", "acme", "--provider", "cpay", "--name", "cpay-main",
		"--base-url", "http://127.0.0.1:9000/cpay", "--egress-allow", "127.0.0.1:9000", "--merchant-id", "20000387", "--secret-env", "CPAY_SECRET",
		"--max-amount", "usdt=250000.5", "--max-amount", "BRL=1000")
	raw, _ := secrets.ParseKey(key)
	box, err := secrets.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	svc := merchants.New(pool, box, merchants.Options{})
	limits := func() string {
		t.Helper()
		a, err := svc.ProviderAccountNamed(context.Background(), "cpay-main")
		if err != nil {
			t.Fatal(err)
		}
		return limitsText(a.MaxAmounts)
	}
	if got := limits(); got != "BRL=1000,USDT=250000.5" {
		t.Fatalf("after add: %s", got)
	}
	if out := mustRun(t, dbURL, "account", "update", "--name", "cpay-main", "--max-amount", "CNY=5000000"); !strings.Contains(out, "max amounts CNY=5000000") {
		t.Fatalf("update printed %s", out)
	}
	if got := limits(); got != "CNY=5000000" {
		t.Fatalf("after update: %s", got)
	}
	for _, bad := range [][]string{
		{"--max-amount", "CNY=1e6"},
		{"--max-amount", "CNY=-5"},
		{"--max-amount", "CNY=+5"},
		{"--max-amount", "CNY= 5"},
		{"--max-amount", "CNY=5.001"},
		{"--max-amount", "CNY=0"},
		{"--max-amount", "XYZ=5"},
		{"--max-amount", "CNY"},
		{"--max-amount", "CNY=1", "--max-amount", "cny=2"},
		{"--amount-tolerance", "1e3"},
		{"--balance-tolerance", "-1"},
	} {
		if _, err := run(t, dbURL, append([]string{"account", "update", "--name", "cpay-main"}, bad...)...); err == nil {
			t.Errorf("tally account update %s: no error", strings.Join(bad, " "))
		}
	}
	if got := limits(); got != "CNY=5000000" {
		t.Fatalf("refused updates changed the limits: %s", got)
	}
	mustRun(t, dbURL, "account", "update", "--name", "cpay-main", "--max-amount=")
	if got := limits(); got != "default" {
		t.Fatalf("after clearing: %s", got)
	}
}

// tally callbacks rejections prints the rejected deliveries counted per
// account and hour, of one merchant or all.
func TestCallbacksRejections(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	t.Setenv("CPAY_SECRET", "first-secret-112233")
	pool, dbURL := testdb.NewWithURL(t)
	for _, m := range []string{"acme", "beta"} {
		mustRun(t, dbURL, "merchant", "create", "--code", m)
		mustRun(t, dbURL, "account", "add", "--merchant", m, "--provider", "cpay", "--name", "cpay-main",
			"--base-url", "http://127.0.0.1:9000/cpay", "--egress-allow", "127.0.0.1:9000", "--merchant-id", "20000387", "--secret-env", "CPAY_SECRET")
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO callback_rejections (provider_account_id, merchant_id, window_start, deliveries, sampled, last_remote_addr, last_error)
		SELECT pa.id, pa.merchant_id, date_trunc('hour', now(), 'UTC'), 4711, 20, '203.0.113.9:4000', 'cpay callback: sign does not verify'
		FROM provider_accounts pa JOIN merchants m ON m.id = pa.merchant_id WHERE m.code = 'acme'`); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, dbURL, "callbacks", "rejections")
	if !strings.Contains(out, "acme") || !strings.Contains(out, "4711") || !strings.Contains(out, "203.0.113.9") {
		t.Fatalf("tally callbacks rejections:\n%s", out)
	}
	if out := mustRun(t, dbURL, "callbacks", "rejections", "--merchant", "beta"); strings.Contains(out, "4711") {
		t.Fatalf("beta's rejections show acme's:\n%s", out)
	}
}

// TestAccountAddEgressPolicy: the operator's tooling takes any base URL the
// egress policy allows, and refuses, saying why, an address it does not:
// loopback without --egress-allow, a metadata address even inside an
// allowed network; TALLY_EGRESS_ALLOW is the flag's default.
func TestAccountAddEgressPolicy(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	t.Setenv("CPAY_SECRET", "cpay-secret-112233")
	_, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	add := func(name, base string, extra ...string) (string, error) {
		return run(t, dbURL, append([]string{"account", "add", "--merchant", "acme", "--provider", "cpay", "--name", name,
			"--base-url", base, "--merchant-id", "20000387", "--secret-env", "CPAY_SECRET"}, extra...)...)
	}
	if _, err := add("a1", "http://127.0.0.1:9000/cpay"); err == nil || !strings.Contains(err.Error(), "egress refused") {
		t.Fatalf("loopback without --egress-allow: %v", err)
	}
	if _, err := add("a2", "http://169.254.169.254/", "--egress-allow", "169.254.0.0/16"); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Fatalf("metadata address inside an allowed network: %v", err)
	}
	if out, err := add("a3", "https://gateway.cpay-partner.example"); err != nil {
		t.Fatalf("a public host (any, from the operator): %v\n%s", err, out)
	}
	if _, err := add("a4", "http://127.0.0.1:9000/cpay", "--egress-allow", "not a host"); err == nil || !strings.Contains(err.Error(), "--egress-allow") {
		t.Fatalf("a bad --egress-allow: %v", err)
	}
	t.Setenv("TALLY_EGRESS_ALLOW", "127.0.0.0/8")
	if out, err := add("a5", "http://127.0.0.1:9000/cpay"); err != nil {
		t.Fatalf("loopback allowed by TALLY_EGRESS_ALLOW: %v\n%s", err, out)
	}
}
