package merchants_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

// TestAPIKeyScopes: a key holds the scopes it was made with, in the order of
// merchants.Scopes, as stored and as authenticated; an unknown scope is
// refused before anything is stored.
func TestAPIKeyScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	if _, _, err := s.CreateMerchant(ctx, "acme", "Acme", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ask  []merchants.Scope
		want []merchants.Scope
	}{
		{"default", nil, []merchants.Scope{merchants.OrdersRead, merchants.OrdersWrite, merchants.ReconRead}},
		{"one", []merchants.Scope{merchants.AccountsWrite}, []merchants.Scope{merchants.AccountsWrite}},
		{"reordered and repeated", []merchants.Scope{merchants.ReconWrite, merchants.OrdersRead, merchants.ReconWrite},
			[]merchants.Scope{merchants.OrdersRead, merchants.ReconWrite}},
		{"all", merchants.AllScopes(), merchants.Scopes},
	} {
		key, info, err := s.CreateAPIKey(ctx, "acme", tc.name, tc.ask...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, k, err := s.Authenticate(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(info.Scopes, tc.want) || !slices.Equal(k.Scopes, tc.want) {
			t.Errorf("%s: created %v, authenticated %v, want %v", tc.name, info.Scopes, k.Scopes, tc.want)
		}
	}
	keys, err := s.APIKeys(ctx, "acme")
	if err != nil || len(keys) != 4 || !slices.Equal(keys[3].Scopes, merchants.Scopes) {
		t.Fatalf("APIKeys = %+v, %v", keys, err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "acme", "bad", merchants.ReconRead, "recon:delete"); !errors.Is(err, merchants.ErrInvalid) {
		t.Fatalf("unknown scope: %v, want ErrInvalid", err)
	}
	if keys, _ := s.APIKeys(ctx, "acme"); len(keys) != 4 {
		t.Fatalf("a refused key was stored: %d keys", len(keys))
	}
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []merchants.Scope
		ok   bool
	}{
		{nil, nil, true},
		{[]string{""}, nil, true},
		{[]string{"recon:write"}, []merchants.Scope{merchants.ReconWrite}, true},
		{[]string{"recon:write,accounts:write", " Orders:Read "}, []merchants.Scope{merchants.ReconWrite, merchants.AccountsWrite, merchants.OrdersRead}, true},
		{[]string{"recon:write", "recon:write"}, []merchants.Scope{merchants.ReconWrite}, true},
		{[]string{"recon:write,admin"}, nil, false},
		{[]string{"recon"}, nil, false},
	} {
		got, err := merchants.ParseScopes(tc.in...)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScopes(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errors.Is(err, merchants.ErrInvalid) || !strings.Contains(err.Error(), "accounts:write")) {
			t.Errorf("ParseScopes(%q): %v, want ErrInvalid naming the known scopes", tc.in, err)
		}
	}
}

// TestNoSecretKey: a Service without a box (a read-only command run without
// TALLY_SECRET_KEY) reads merchants, keys and provider accounts, and refuses
// what needs the key with an error naming TALLY_SECRET_KEY.
func TestNoSecretKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	withKey := merchants.New(pool, testBox(t), merchants.Options{Egress: testEgress, HostAllow: testHostAllow})
	m, _, err := withKey.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	in := merchants.ProviderAccountInput{MerchantCode: "acme", Name: "cpay-main", Provider: "cpay", BaseURL: "http://127.0.0.1:9000/cpay",
		ProviderMerchantID: "20000387", Secret: "xxx112233", Operator: true}
	if _, err := withKey.AddProviderAccount(ctx, in); err != nil {
		t.Fatal(err)
	}

	s := merchants.New(pool, nil, merchants.Options{Egress: testEgress, HostAllow: testHostAllow})
	if got, err := s.Merchant(ctx, "acme"); err != nil || got.ID != m.ID {
		t.Fatalf("Merchant without the key: %+v, %v", got, err)
	}
	accts, err := s.ProviderAccounts(ctx, m.ID)
	if err != nil || len(accts) != 1 || accts[0].Name != "cpay-main" || accts[0].Secret.Reveal() != "" {
		t.Fatalf("ProviderAccounts without the key: %+v, %v", accts, err)
	}
	if _, _, err := s.CreateAPIKey(ctx, "acme", "ro"); err != nil {
		t.Fatalf("an API key needs no secret key: %v", err)
	}
	in2 := in
	in2.Name = "cpay-two"
	noKey := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, secrets.ErrNoKey) || !strings.Contains(err.Error(), secrets.EnvKey) {
			t.Errorf("%s without the key: %v, want secrets.ErrNoKey naming %s", what, err, secrets.EnvKey)
		}
	}
	_, _, err = s.Adapter(ctx, m.ID, "cpay-main")
	noKey("Adapter", err)
	_, err = s.WebhookSecret(ctx, m.ID)
	noKey("WebhookSecret", err)
	_, _, err = s.CreateMerchant(ctx, "beta", "Beta", "")
	noKey("CreateMerchant", err)
	_, err = s.AddProviderAccount(ctx, in2)
	noKey("AddProviderAccount", err)
	off := false
	_, err = s.PatchProviderAccount(ctx, m.ID, "cpay-main", merchants.ProviderAccountPatch{Enabled: &off})
	noKey("PatchProviderAccount", err)
	if a, err := withKey.ProviderAccount(ctx, m.ID, "cpay-main"); err != nil || !a.Enabled || a.Secret.Reveal() != "xxx112233" {
		t.Fatalf("the account after refused changes: %+v, %v", a, err)
	}
}
