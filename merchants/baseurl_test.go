package merchants_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers/registry"
)

// TestBaseURLPolicy: which base URLs a merchant may set is operator policy.
// Through the API (no Operator flag, a merchant's patch) only the provider's
// documented hosts and the hosts the operator allows; the operator's tooling
// any host the egress policy allows; nobody an address the policy refuses.
func TestBaseURLPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, func(o *merchants.Options) {
		o.Egress = egress.New(egress.MustAllowList("127.0.0.1:9000"))
		o.HostAllow = egress.MustAllowList("provider-proxy.corp:8443")
		o.ProviderHosts = registry.Hosts
	})
	m, _, err := s.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	add := func(name, provider, base string, operator bool) error {
		_, err := s.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "acme", Name: name, Provider: provider, BaseURL: base,
			ProviderMerchantID: "20000387", Secret: "s3cret", Operator: operator})
		return err
	}
	for _, tc := range []struct {
		name, provider, base string
		operator             bool
		ok                   bool
	}{
		{"doc-prod", "cpay", "https://api.cpay.ltd", false, true},
		{"doc-sandbox", "cpay", "https://SANDBOX-API.cpay.ltd./", false, true},
		{"doc-port", "cpay", "https://api.cpay.ltd:8443", false, false},
		{"doc-other-provider", "cxpay", "https://api.cpay.ltd", false, false},
		{"allowed-host", "cxpay", "https://provider-proxy.corp:8443/cxpay", false, true},
		{"allowed-host-other-port", "cxpay", "https://provider-proxy.corp/cxpay", false, false},
		{"public-elsewhere", "cpay", "https://evil.example", false, false},
		{"loopback-merchant", "cpay", "http://127.0.0.1:9000/cpay", false, false},
		{"metadata-merchant", "cpay", "http://169.254.169.254/latest", false, false},
		{"op-public", "cxpay", "https://gateway.cxpay.example", true, true},
		{"op-allowed-loopback", "cpay", "http://127.0.0.1:9000/cpay", true, true},
		{"op-loopback-other-port", "cpay", "http://127.0.0.1:9001/cpay", true, false},
		{"op-localhost", "cpay", "http://localhost:9001/cpay", true, false},
		{"op-metadata", "cpay", "http://169.254.169.254/", true, false},
		{"op-private", "cpay", "http://[fd00::1]/", true, false},
	} {
		err := add(tc.name, tc.provider, tc.base, tc.operator)
		if tc.ok && err != nil {
			t.Errorf("%s %s: %v", tc.name, tc.base, err)
		}
		if !tc.ok && (!errors.Is(err, merchants.ErrBaseURLNotAllowed) || !errors.Is(err, merchants.ErrInvalid)) {
			t.Errorf("%s %s: %v, want ErrBaseURLNotAllowed", tc.name, tc.base, err)
		}
	}
	// A merchant's patch: the same policy, only when the base URL changes.
	patch := func(merchantID int64, name, base string) error {
		operator := merchantID == 0 // the operator's tooling, for the merchant's account
		_, err := s.PatchProviderAccount(ctx, m.ID, name, merchants.ProviderAccountPatch{BaseURL: &base, Operator: operator})
		return err
	}
	if err := patch(m.ID, "doc-prod", "http://127.0.0.1:9000/cpay"); !errors.Is(err, merchants.ErrBaseURLNotAllowed) {
		t.Errorf("merchant patch to loopback: %v", err)
	}
	if err := patch(m.ID, "doc-prod", "https://sandbox-api.cpay.ltd"); err != nil {
		t.Errorf("merchant patch to the documented sandbox: %v", err)
	}
	if err := patch(0, "doc-prod", "http://127.0.0.1:9000/cpay"); err != nil {
		t.Errorf("operator patch to an allowed address: %v", err)
	}
	enabled := false
	if _, err := s.PatchProviderAccount(ctx, m.ID, "doc-prod", merchants.ProviderAccountPatch{Enabled: &enabled}); err != nil {
		t.Errorf("merchant patch of another field, the operator's base URL kept: %v", err)
	}
	if err := patch(m.ID, "doc-prod", "http://127.0.0.1:9000/cpay/"); !errors.Is(err, merchants.ErrBaseURLNotAllowed) {
		t.Errorf("merchant patch to another loopback URL: %v", err)
	}
	if err := patch(0, "doc-prod", "http://10.0.0.8/cpay"); !errors.Is(err, merchants.ErrBaseURLNotAllowed) {
		t.Errorf("operator patch to a private address: %v", err)
	}
}

// TestWebhookURLPolicy: a webhook URL the egress policy refuses outright is
// refused when it is set; names are left to the check when tally connects.
func TestWebhookURLPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newServiceAndPool(t, func(o *merchants.Options) { o.Egress = egress.Default() })
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://localhost/hook", "http://169.254.169.254/", "http://10.1.2.3/hook"} {
		if _, _, err := s.CreateMerchant(ctx, "m1", "M", u); !errors.Is(err, merchants.ErrInvalid) || !errors.Is(err, egress.ErrRefused) {
			t.Errorf("webhook %s: %v, want refused", u, err)
		}
	}
	if _, _, err := s.CreateMerchant(ctx, "m1", "M", "https://hooks.acme.example/tally"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetWebhook(ctx, "m1", "http://192.168.0.10/hook", false); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("set webhook to a private address: %v", err)
	}
	// The operator allows 127.0.0.1: a Service built with that policy.
	s = merchants.New(pool, testBox(t), merchants.Options{Egress: egress.New(egress.MustAllowList("127.0.0.1")), HostAllow: testHostAllow, Ledger: ledger.New(pool)})
	if _, _, err := s.SetWebhook(ctx, "m1", "http://127.0.0.1:8080/hook", false); err != nil {
		t.Errorf("set webhook to an allowed address: %v", err)
	}
}
