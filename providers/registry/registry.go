// Package registry builds provider adapters and simulators by provider name, so
// that code configured from the database ("cpay") needs no switch of its own.
package registry

import (
	"fmt"
	"sort"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/cpay"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/providers/sim"
	"github.com/tallyhq/tally/providers/usdtcnpay"
	"github.com/tallyhq/tally/providers/usdtpay"
	"github.com/tallyhq/tally/providers/vpay"
)

// ErrUnknownProvider wraps the error for a name that is not one of the five.
var ErrUnknownProvider = fmt.Errorf("unknown provider")

type entry struct {
	adapter   func(providers.Config) (providers.Adapter, error)
	simulator func(sim.Config) sim.Simulator
	hosts     []string
}

var entries = map[string]entry{
	"usdtpay": {
		adapter:   func(c providers.Config) (providers.Adapter, error) { return usdtpay.New(c) },
		simulator: func(c sim.Config) sim.Simulator { return usdtpay.NewSimulator(c) },
		hosts:     usdtpay.Hosts,
	},
	"cxpay": {
		adapter:   func(c providers.Config) (providers.Adapter, error) { return cxpay.New(c) },
		simulator: func(c sim.Config) sim.Simulator { return cxpay.NewSimulator(c) },
		hosts:     cxpay.Hosts,
	},
	"usdtcnpay": {
		adapter:   func(c providers.Config) (providers.Adapter, error) { return usdtcnpay.New(c) },
		simulator: func(c sim.Config) sim.Simulator { return usdtcnpay.NewSimulator(c) },
		hosts:     usdtcnpay.Hosts,
	},
	"cpay": {
		adapter:   func(c providers.Config) (providers.Adapter, error) { return cpay.New(c) },
		simulator: func(c sim.Config) sim.Simulator { return cpay.NewSimulator(c) },
		hosts:     cpay.Hosts,
	},
	"vpay": {
		adapter:   func(c providers.Config) (providers.Adapter, error) { return vpay.New(c) },
		simulator: func(c sim.Config) sim.Simulator { return vpay.NewSimulator(c) },
		hosts:     vpay.Hosts,
	},
}

// Names lists the providers, sorted.
func Names() []string {
	out := make([]string, 0, len(entries))
	for k := range entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Hosts are the API hosts provider's document names (each package's Hosts):
// the base URL hosts a merchant may set through the API unless the operator
// allows more. Empty for a provider whose document names none, and for an
// unknown provider.
func Hosts(provider string) []string {
	return append([]string(nil), entries[provider].hosts...)
}

// NewAdapter builds the adapter of provider from cfg.
func NewAdapter(provider string, cfg providers.Config) (providers.Adapter, error) {
	e, ok := entries[provider]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProvider, provider)
	}
	a, err := e.adapter(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s adapter for %q: %w", provider, cfg.Account, err)
	}
	return a, nil
}

// Validate reports whether cfg builds an adapter of provider, and returns what
// that adapter offers (its currencies, which the ledger must be able to book).
func Validate(provider string, cfg providers.Config) (providers.Capabilities, error) {
	a, err := NewAdapter(provider, cfg)
	if err != nil {
		return providers.Capabilities{}, err
	}
	return a.Capabilities(), nil
}

// NewSimulator builds the simulator of provider.
func NewSimulator(provider string, cfg sim.Config) (sim.Simulator, error) {
	e, ok := entries[provider]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProvider, provider)
	}
	return e.simulator(cfg), nil
}
