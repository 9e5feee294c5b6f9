package merchants_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/secrets"
)

// The tests' addresses are on 127.0.0.1 (and the host "h"): the operator
// allows them, for tally to call and for merchants to set.
var (
	testEgress    = egress.New(egress.MustAllowList("127.0.0.0/8"))
	testHostAllow = egress.MustAllowList("127.0.0.0/8", "h")
)

func newService(t *testing.T, tune ...func(*merchants.Options)) *merchants.Service {
	t.Helper()
	s, _ := newServiceAndPool(t, tune...)
	return s
}

// newServiceAndPool is newService with its pool, for a test that builds a
// second Service (another policy) on the same database.
func newServiceAndPool(t *testing.T, tune ...func(*merchants.Options)) (*merchants.Service, *pgxpool.Pool) {
	t.Helper()
	pool := testdb.New(t)
	o := merchants.Options{Egress: testEgress, HostAllow: testHostAllow, Ledger: ledger.New(pool)}
	for _, f := range tune {
		f(&o)
	}
	return merchants.New(pool, testBox(t), o), pool
}

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	box, err := secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func TestAPIKeysAuthenticateAndRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	m, whsec, err := s.CreateMerchant(ctx, "acme", "Acme", "http://127.0.0.1:1/hook")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(whsec, "whsec_") {
		t.Fatalf("webhook secret %q", whsec)
	}
	if got, err := s.WebhookSecret(ctx, m.ID); err != nil || got != whsec {
		t.Fatalf("WebhookSecret = %q, %v", got, err)
	}
	if _, _, err := s.CreateMerchant(ctx, "acme", "again", ""); !errors.Is(err, merchants.ErrExists) {
		t.Fatalf("duplicate merchant: %v", err)
	}
	if _, _, err := s.CreateMerchant(ctx, "Bad Code", "x", ""); !errors.Is(err, merchants.ErrInvalid) {
		t.Fatalf("bad code: %v", err)
	}
	key, info, err := s.CreateAPIKey(ctx, "acme", "ci")
	if err != nil {
		t.Fatal(err)
	}
	got, k, err := s.Authenticate(ctx, key)
	if err != nil || got.ID != m.ID || k.ID != info.ID || k.Actor() != fmt.Sprintf("key:%d", info.ID) {
		t.Fatalf("Authenticate = %+v, %+v, %v", got, k, err)
	}
	// A key made without scopes holds the default ones, and only them.
	if !slices.Equal(k.Scopes, merchants.DefaultScopes) || !slices.Equal(info.Scopes, merchants.DefaultScopes) {
		t.Fatalf("new key's scopes = %v (info %v), want %v", k.Scopes, info.Scopes, merchants.DefaultScopes)
	}
	for _, sc := range merchants.Scopes {
		if k.Has(sc) != slices.Contains(merchants.DefaultScopes, sc) {
			t.Errorf("default key Has(%s) = %v", sc, k.Has(sc))
		}
	}
	last := "Z"
	if strings.HasSuffix(key, "Z") {
		last = "Y"
	}
	for _, bad := range []string{"", "tly_", "nope", key + "x", key[:len(key)-1] + last, strings.Replace(key, "tly_", "tlx_", 1)} {
		if _, _, err := s.Authenticate(ctx, bad); !errors.Is(err, merchants.ErrUnauthorized) {
			t.Errorf("Authenticate(%q) err = %v, want ErrUnauthorized", bad, err)
		}
	}
	if err := s.RevokeAPIKey(ctx, "acme", info.Prefix); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, key); !errors.Is(err, merchants.ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, "acme", info.Prefix); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
}

func TestProviderAccountSecretSealedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, _ := secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	pool := testdb.New(t)
	s := merchants.New(pool, box, merchants.Options{Egress: testEgress, HostAllow: testHostAllow})
	if _, _, err := s.CreateMerchant(ctx, "acme", "Acme", ""); err != nil {
		t.Fatal(err)
	}
	in := merchants.ProviderAccountInput{
		MerchantCode: "acme", Name: "cpay-main", Provider: "cpay", BaseURL: "http://127.0.0.1:9000/cpay",
		ProviderMerchantID: "20000387", Secret: "xxx112233", Options: map[string]string{"network": "TRON(TRC-20)"},
		BalanceTolerance: decimal.RequireFromString("0.01"),
	}
	a, err := s.AddProviderAccount(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if a.Secret.Reveal() != "xxx112233" || a.AmountPolicy != merchants.HoldInSuspense || a.Options["network"] != "TRON(TRC-20)" {
		t.Fatalf("account = %+v", a)
	}
	var raw []byte
	if err := pool.QueryRow(ctx, `SELECT secret_sealed FROM provider_accounts WHERE name = 'cpay-main'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "xxx112233") {
		t.Fatal("secret stored in clear")
	}
	if _, err := s.AddProviderAccount(ctx, in); !errors.Is(err, merchants.ErrExists) {
		t.Fatalf("duplicate account: %v", err)
	}
	bad := []merchants.ProviderAccountInput{
		{MerchantCode: "acme", Name: "x1", Provider: "paypal", BaseURL: "http://h", ProviderMerchantID: "1", Secret: "s"},
		{MerchantCode: "acme", Name: "x2", Provider: "cpay", BaseURL: "ftp://h", ProviderMerchantID: "1", Secret: "s"},
		{MerchantCode: "acme", Name: "x3", Provider: "cpay", BaseURL: "http://h", ProviderMerchantID: "", Secret: "s"},
		{MerchantCode: "acme", Name: "x4", Provider: "cpay", BaseURL: "http://h", ProviderMerchantID: "1", Secret: ""},
		{MerchantCode: "acme", Name: "x5", Provider: "cpay", BaseURL: "http://h", ProviderMerchantID: "1", Secret: "s", AmountPolicy: "keep"},
		{MerchantCode: "acme", Name: "X 6", Provider: "cpay", BaseURL: "http://h", ProviderMerchantID: "1", Secret: "s"},
	}
	for _, b := range bad {
		if _, err := s.AddProviderAccount(ctx, b); !errors.Is(err, merchants.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", b.Name, err)
		}
	}
	if _, err := s.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "nobody", Name: "y"}); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("unknown merchant: %v", err)
	}
	upd, err := s.UpdateProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "acme", Name: "cpay-main", BaseURL: "http://127.0.0.1:9001/cpay",
		ProviderMerchantID: "20000387", AmountPolicy: merchants.CreditReceived}, true)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Secret.Reveal() != "xxx112233" || upd.AmountPolicy != merchants.CreditReceived || upd.BaseURL != "http://127.0.0.1:9001/cpay" {
		t.Fatalf("updated = %+v", upd)
	}
}

func TestPatchProviderAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	for _, code := range []string{"acme", "other"} {
		if _, _, err := s.CreateMerchant(ctx, code, code, ""); err != nil {
			t.Fatal(err)
		}
	}
	acme, _ := s.Merchant(ctx, "acme")
	other, _ := s.Merchant(ctx, "other")
	a, err := s.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "acme", Name: "cpay-main", Provider: "cpay",
		BaseURL: "http://127.0.0.1:9000/cpay", ProviderMerchantID: "20000387", Secret: "first-secret", AmountTolerance: decimal.RequireFromString("0.01")})
	if err != nil {
		t.Fatal(err)
	}
	if a.DepositLifetime != 24*time.Hour || !a.Enabled || a.AmountPolicy != merchants.HoldInSuspense {
		t.Fatalf("new account: lifetime %s enabled %v policy %s", a.DepositLifetime, a.Enabled, a.AmountPolicy)
	}
	// Another merchant's account is not there for them.
	url := "http://evil.example/cpay"
	if _, err := s.PatchProviderAccount(ctx, other.ID, "cpay-main", merchants.ProviderAccountPatch{BaseURL: &url}); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("patch by another merchant: %v, want ErrNotFound", err)
	}
	policy, off, life, secret := merchants.CreditReceived, false, 90*time.Minute, "second-secret"
	b, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{AmountPolicy: &policy, Enabled: &off, DepositLifetime: &life, Secret: &secret})
	if err != nil {
		t.Fatal(err)
	}
	if b.AmountPolicy != merchants.CreditReceived || b.Enabled || b.DepositLifetime != life || b.Secret.Reveal() != "second-secret" {
		t.Fatalf("patched: policy %s enabled %v lifetime %s", b.AmountPolicy, b.Enabled, b.DepositLifetime)
	}
	// Everything not in the patch is kept.
	if b.BaseURL != a.BaseURL || b.ProviderMerchantID != a.ProviderMerchantID || !b.AmountTolerance.Equal(a.AmountTolerance) || b.DateTolerance != a.DateTolerance {
		t.Fatalf("patch changed what it did not name: %+v", b)
	}
	if !b.UpdatedAt.After(a.UpdatedAt) {
		t.Fatalf("updated_at did not move: %s, %s", a.UpdatedAt, b.UpdatedAt)
	}
	// A bad value is refused whole and nothing changes.
	bad, on := merchants.AmountPolicy("keep_it"), true
	if _, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{AmountPolicy: &bad, Enabled: &on}); !errors.Is(err, merchants.ErrInvalid) {
		t.Fatalf("bad policy: %v, want ErrInvalid", err)
	}
	neg := -time.Minute
	if _, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{DepositLifetime: &neg}); !errors.Is(err, merchants.ErrInvalid) {
		t.Fatalf("negative lifetime: %v, want ErrInvalid", err)
	}
	empty := ""
	if _, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{Secret: &empty}); !errors.Is(err, merchants.ErrInvalid) {
		t.Fatalf("empty secret: %v, want ErrInvalid", err)
	}
	c, err := s.ProviderAccount(ctx, acme.ID, "cpay-main")
	if err != nil {
		t.Fatal(err)
	}
	if c.Enabled || c.AmountPolicy != merchants.CreditReceived || c.Secret.Reveal() != "second-secret" {
		t.Fatalf("a refused patch changed the account: %+v", c)
	}
	if _, err := s.PatchProviderAccount(ctx, acme.ID, "nope", merchants.ProviderAccountPatch{Enabled: &on}); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}

// An account whose adapter takes a currency the ledger cannot book is refused,
// on creation and on change; once the currency is added it is accepted. CXPay's
// currencies (the "currency" option) are bookable as seeded.
func TestProviderAccountCurrencyMustBeBookable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, err := secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	pool := testdb.New(t)
	l := ledger.New(pool)
	s := merchants.New(pool, box, merchants.Options{Egress: testEgress, HostAllow: testHostAllow, Validate: registry.Validate, Ledger: l})
	acme, _, err := s.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	in := func(name string, opts map[string]string) merchants.ProviderAccountInput {
		return merchants.ProviderAccountInput{MerchantCode: "acme", Name: name, Provider: "cxpay",
			BaseURL: "http://127.0.0.1:9000/cxpay", ProviderMerchantID: "M1", Secret: "s3cret", Options: opts}
	}
	for _, cur := range []string{"BRL", "INR", "IDR", "NGN"} {
		if _, err := s.AddProviderAccount(ctx, in("cx-"+strings.ToLower(cur), map[string]string{"pay_code": "P", "currency": cur})); err != nil {
			t.Errorf("CXPay account in %s: %v", cur, err)
		}
	}
	_, err = s.AddProviderAccount(ctx, in("cx-xyz", map[string]string{"pay_code": "P", "currency": "XYZ"}))
	if !errors.Is(err, merchants.ErrInvalid) || !errors.Is(err, ledger.ErrUnknownCurrency) || !strings.Contains(err.Error(), `currency "XYZ"`) {
		t.Fatalf("CXPay account in XYZ: %v, want ErrInvalid and ErrUnknownCurrency naming XYZ", err)
	}
	if _, err := s.ProviderAccount(ctx, acme.ID, "cx-xyz"); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("the refused account was stored: %v", err)
	}
	// VPay's quote currencies are the account's too.
	vp := merchants.ProviderAccountInput{MerchantCode: "acme", Name: "vp", Provider: "vpay", BaseURL: "http://127.0.0.1:9000/vpay",
		ProviderMerchantID: "K", Secret: "s3cret", Options: map[string]string{"quote_currencies": "CNY,XYZ"}}
	if _, err := s.AddProviderAccount(ctx, vp); !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Fatalf("VPay quoting XYZ: %v, want ErrUnknownCurrency", err)
	}
	// A change to an unknown currency is refused and changes nothing.
	_, err = s.PatchProviderAccount(ctx, acme.ID, "cx-inr", merchants.ProviderAccountPatch{Options: map[string]string{"pay_code": "P", "currency": "XYZ"}})
	if !errors.Is(err, merchants.ErrInvalid) || !errors.Is(err, ledger.ErrUnknownCurrency) {
		t.Fatalf("patch to XYZ: %v", err)
	}
	if a, err := s.ProviderAccount(ctx, acme.ID, "cx-inr"); err != nil || a.Options["currency"] != "INR" {
		t.Fatalf("after the refused patch: %+v, %v", a.Options, err)
	}
	if err := l.AddCurrency(ctx, ledger.Currency{Code: "XYZ", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddProviderAccount(ctx, in("cx-xyz", map[string]string{"pay_code": "P", "currency": "XYZ"})); err != nil {
		t.Fatalf("CXPay account in XYZ once the ledger has it: %v", err)
	}
	if _, err := s.AddProviderAccount(ctx, vp); err != nil {
		t.Fatalf("VPay quoting XYZ once the ledger has it: %v", err)
	}
}

// TestMaxAmounts: an account's limits by currency are stored, patched as a
// whole and validated against each currency's scale; MaxAmount gives the
// configured limit or the default of 10^12 minor units.
func TestMaxAmounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	acme, _, err := s.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	d := decimal.RequireFromString
	a, err := s.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "acme", Name: "cpay-main", Provider: "cpay",
		BaseURL: "http://127.0.0.1:9000/cpay", ProviderMerchantID: "20000387", Secret: "s",
		MaxAmounts: map[string]decimal.Decimal{"cny": d("5000000"), "USDT": d("250000.123456")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cur   string
		scale int32
		want  string
	}{
		{"CNY", 2, "5000000"},
		{"cny", 2, "5000000"},
		{"USDT", 6, "250000.123456"},
		{"BRL", 2, "10000000000"},   // 10^12 minor units
		{"BTC", 8, "10000"},         // 10^12 satoshi
		{"JPY", 0, "1000000000000"}, // a currency without decimals
		{"XYZ", 3, "1000000000"},    // unknown to the ledger: still bounded
	} {
		if got := a.MaxAmount(tc.cur, tc.scale); !got.Equal(d(tc.want)) {
			t.Errorf("MaxAmount(%s, %d) = %s, want %s", tc.cur, tc.scale, got, tc.want)
		}
	}
	if got := merchants.DefaultMaxAmount(2); got.String() != "10000000000" {
		t.Errorf("DefaultMaxAmount(2) = %s", got)
	}
	// Stored and read back the same.
	b, err := s.ProviderAccount(ctx, acme.ID, "cpay-main")
	if err != nil || len(b.MaxAmounts) != 2 || !b.MaxAmounts["CNY"].Equal(d("5000000")) || !b.MaxAmounts["USDT"].Equal(d("250000.123456")) {
		t.Fatalf("stored limits %v, %v", b.MaxAmounts, err)
	}
	for name, limits := range map[string]map[string]decimal.Decimal{
		"unknown currency": {"XYZ": d("1")},
		"zero":             {"CNY": d("0")},
		"negative":         {"CNY": d("-1")},
		"beyond the scale": {"CNY": d("1.001")},
		"beyond 10^18":     {"CNY": d("10000000000000000.01")},
		"two spellings":    {"CNY": d("1"), "cny": d("2")},
	} {
		if _, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{MaxAmounts: limits}); !errors.Is(err, merchants.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, tol := range map[string]decimal.Decimal{"nine decimals": d("0.000000001"), "negative": d("-0.01")} {
		if _, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{AmountTolerance: &tol}); !errors.Is(err, merchants.ErrInvalid) {
			t.Errorf("amount tolerance %s: %v, want ErrInvalid", name, err)
		}
	}
	// A patch without limits keeps them; one with limits replaces them all;
	// an empty map returns every currency to the default.
	on := true
	c, err := s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{Enabled: &on})
	if err != nil || len(c.MaxAmounts) != 2 {
		t.Fatalf("patch without limits: %v, %v", c.MaxAmounts, err)
	}
	c, err = s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{MaxAmounts: map[string]decimal.Decimal{"BRL": d("100")}})
	if err != nil || len(c.MaxAmounts) != 1 || !c.MaxAmount("BRL", 2).Equal(d("100")) || !c.MaxAmount("CNY", 2).Equal(d("10000000000")) {
		t.Fatalf("replaced limits: %v, %v", c.MaxAmounts, err)
	}
	c, err = s.PatchProviderAccount(ctx, acme.ID, "cpay-main", merchants.ProviderAccountPatch{MaxAmounts: map[string]decimal.Decimal{}})
	if err != nil || len(c.MaxAmounts) != 0 {
		t.Fatalf("cleared limits: %v, %v", c.MaxAmounts, err)
	}
	if _, err := s.CurrencyScale(ctx, "XYZ"); !errors.Is(err, merchants.ErrUnknownCurrency) {
		t.Fatalf("CurrencyScale(XYZ) = %v", err)
	}
	if sc, err := s.CurrencyScale(ctx, "USDT"); err != nil || sc != 8 {
		t.Fatalf("CurrencyScale(USDT) = %d, %v", sc, err)
	}
}

// Provider account names are per merchant: a second merchant may use a name
// the first has (no "exists" to learn from), looks up only its own, and each
// account is routed by a callback key of its own, never by the name.
func TestProviderAccountNamesPerMerchant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	in := func(merchant, secret string) merchants.ProviderAccountInput {
		return merchants.ProviderAccountInput{MerchantCode: merchant, Name: "cpay-main", Provider: "cpay",
			BaseURL: "http://127.0.0.1:9000/cpay", ProviderMerchantID: "20000387", Secret: secret}
	}
	acme, _, err := s.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	beta, _, err := s.CreateMerchant(ctx, "beta", "Beta", "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AddProviderAccount(ctx, in("acme", "acme-secret"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AddProviderAccount(ctx, in("beta", "beta-secret"))
	if err != nil {
		t.Fatalf("beta's account of acme's name: %v", err)
	}
	if _, err := s.AddProviderAccount(ctx, in("beta", "again")); !errors.Is(err, merchants.ErrExists) {
		t.Fatalf("beta's second cpay-main: %v, want ErrExists", err)
	}
	if a.ID == b.ID || a.CallbackKey == b.CallbackKey || !merchants.ValidCallbackKey(a.CallbackKey) || len(a.CallbackKey) < 22 ||
		strings.Contains(a.CallbackKey, a.Name) || a.LegacyRoute || b.LegacyRoute {
		t.Fatalf("keys %q and %q (legacy %v %v)", a.CallbackKey, b.CallbackKey, a.LegacyRoute, b.LegacyRoute)
	}
	for _, tc := range []struct {
		merchant int64
		want     merchants.ProviderAccount
	}{{acme.ID, a}, {beta.ID, b}} {
		got, err := s.ProviderAccount(ctx, tc.merchant, "cpay-main")
		if err != nil || got.ID != tc.want.ID || got.Secret.Reveal() != tc.want.Secret.Reveal() {
			t.Fatalf("merchant %d's cpay-main: %d, %v", tc.merchant, got.ID, err)
		}
		byKey, err := s.ProviderAccountByCallbackKey(ctx, tc.want.CallbackKey)
		if err != nil || byKey.ID != tc.want.ID {
			t.Fatalf("by key: %d, %v", byKey.ID, err)
		}
	}
	if _, err := s.ProviderAccountNamed(ctx, "cpay-main"); !errors.Is(err, merchants.ErrAmbiguous) {
		t.Fatalf("cpay-main without a merchant: %v, want ErrAmbiguous", err)
	}
	for _, key := range []string{"cpay-main", "", "x", strings.Repeat("A", 24), a.CallbackKey + "x", "../" + a.CallbackKey} {
		if _, err := s.ProviderAccountByCallbackKey(ctx, key); !errors.Is(err, merchants.ErrNotFound) {
			t.Errorf("key %q: %v, want ErrNotFound", key, err)
		}
	}
	if _, err := s.ProviderAccountByLegacyName(ctx, "cpay-main"); !errors.Is(err, merchants.ErrNotFound) {
		t.Fatalf("an account added after callback keys has a name route: %v", err)
	}
	// beta's change is beta's only.
	off := false
	if _, err := s.PatchProviderAccount(ctx, beta.ID, "cpay-main", merchants.ProviderAccountPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ProviderAccount(ctx, acme.ID, "cpay-main"); !got.Enabled || got.UpdatedAt != a.UpdatedAt {
		t.Fatalf("acme's account changed with beta's: %+v", got)
	}
}
