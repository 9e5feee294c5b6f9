package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/providers/sim"
)

// validConfig is the least each adapter needs.
func validConfig(provider string) providers.Config {
	c := providers.Config{Account: provider + "-main", BaseURL: "http://127.0.0.1:9000/" + provider, MerchantID: "M1", Secret: "s3cret"}
	if provider == "cxpay" {
		c.Options = map[string]string{"pay_code": "PIX", "currency": "BRL"}
	}
	return c
}

func TestNames(t *testing.T) {
	want := []string{"cpay", "cxpay", "usdtcnpay", "usdtpay", "vpay"}
	if got := registry.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	// A copy: changing it does not change the registry.
	got := registry.Names()
	got[0] = "x"
	if registry.Names()[0] != "cpay" {
		t.Fatal("Names() exposes the registry's own slice")
	}
}

func TestNewAdapter(t *testing.T) {
	for _, name := range registry.Names() {
		a, err := registry.NewAdapter(name, validConfig(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a.Provider() != name {
			t.Fatalf("NewAdapter(%q).Provider() = %q", name, a.Provider())
		}
		if _, err := registry.Validate(name, validConfig(name)); err != nil {
			t.Fatalf("Validate(%s): %v", name, err)
		}
		// An incomplete config is refused, naming provider and account.
		bad := validConfig(name)
		bad.Secret = ""
		_, err = registry.NewAdapter(name, bad)
		if err == nil || !strings.Contains(err.Error(), name+" adapter for \""+name+"-main\"") || errors.Is(err, registry.ErrUnknownProvider) {
			t.Fatalf("%s without a secret: %v", name, err)
		}
		if _, err := registry.Validate(name, bad); err == nil {
			t.Fatalf("Validate(%s) accepts a config without a secret", name)
		}
	}
}

func TestUnknownProvider(t *testing.T) {
	for _, name := range []string{"", "CPAY", "paypal", "cpay "} {
		if _, err := registry.NewAdapter(name, validConfig("cpay")); !errors.Is(err, registry.ErrUnknownProvider) {
			t.Errorf("NewAdapter(%q) = %v, want ErrUnknownProvider", name, err)
		}
		if _, err := registry.NewSimulator(name, sim.Config{}); !errors.Is(err, registry.ErrUnknownProvider) {
			t.Errorf("NewSimulator(%q) = %v, want ErrUnknownProvider", name, err)
		}
		if _, err := registry.Validate(name, validConfig("cpay")); !errors.Is(err, registry.ErrUnknownProvider) {
			t.Errorf("Validate(%q) = %v, want ErrUnknownProvider", name, err)
		}
	}
}

func TestNewSimulator(t *testing.T) {
	for _, name := range registry.Names() {
		s, err := registry.NewSimulator(name, sim.Config{BaseURL: "http://127.0.0.1:9000/" + name, Merchants: []sim.Merchant{{ID: "M1", Secret: "s"}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Provider() != name || s.Handler() == nil || s.Engine() == nil || s.Engine().Provider() != name {
			t.Fatalf("NewSimulator(%q): provider %q, engine %q", name, s.Provider(), s.Engine().Provider())
		}
		if _, err := s.Engine().Merchant("M1"); err != nil {
			t.Fatalf("%s simulator lost its merchant: %v", name, err)
		}
		s.Close()
	}
}

// Each adapter's acknowledgement is byte for byte what its simulator (and so
// the provider's document) waits for: the simulators compare exactly.
func TestAdapterAckIsWhatTheSimulatorWaitsFor(t *testing.T) {
	want := map[string]string{"cpay": "OK", "cxpay": "success", "usdtcnpay": "success", "usdtpay": "success", "vpay": "success"}
	for _, name := range registry.Names() {
		a, err := registry.NewAdapter(name, validConfig(name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := registry.NewSimulator(name, sim.Config{})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Reply(nil)
		if r.Status != 200 || string(r.Body) != s.Engine().Ack() || s.Engine().Ack() != want[name] {
			t.Errorf("%s: Reply(nil) = %d %q, simulator waits for %q, document says %q", name, r.Status, r.Body, s.Engine().Ack(), want[name])
		}
		if f := a.Reply(providers.ErrTransient); f.Status == 200 && string(f.Body) == want[name] {
			t.Errorf("%s: a failure is acknowledged: %d %q", name, f.Status, f.Body)
		}
		s.Close()
	}
}

// TestHosts: the documented hosts each provider package names, and none for
// the documents that name none (cxpay, vpay).
func TestHosts(t *testing.T) {
	want := map[string][]string{
		"cpay":      {"api.cpay.ltd", "sandbox-api.cpay.ltd"},
		"cxpay":     nil,
		"usdtcnpay": {"user.usdtcnpay.com"},
		"usdtpay":   {"otc.globalokpaytech.com"},
		"vpay":      nil,
	}
	for _, p := range registry.Names() {
		if got := registry.Hosts(p); !slices.Equal(got, want[p]) {
			t.Errorf("Hosts(%s) = %v, want %v", p, got, want[p])
		}
	}
	if got := registry.Hosts("nope"); len(got) != 0 {
		t.Errorf("Hosts(nope) = %v", got)
	}
}
