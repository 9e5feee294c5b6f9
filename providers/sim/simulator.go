package sim

import (
	"log/slog"
	"net/http"
	"time"
)

// Simulator is what every provider package's simulator offers the sandbox and
// the tests: the provider's own API and the engine behind it.
type Simulator interface {
	// Provider is the provider's name ("cpay").
	Provider() string
	// Handler serves the provider's documented API, with paths relative to the
	// simulator's mount point (the sandbox mounts cpay under /cpay, so
	// /cpay/openapi/v1/createOrder reaches "/openapi/v1/createOrder").
	Handler() http.Handler
	// Engine is the order book, balances, faults and callbacks behind it; its
	// ControlHandler is the control API.
	Engine() *Engine
	// Close stops the simulator's deliveries.
	Close()
}

// Config is what every provider's NewSimulator takes.
type Config struct {
	// BaseURL is the public URL of the simulator's mount point, e.g.
	// "http://127.0.0.1:9000/cpay"; cashier URLs and pay pages point under it.
	BaseURL string
	// Merchants are the merchant accounts the simulator knows.
	Merchants []Merchant
	// Scale divides documented delays (see Options.Scale).
	Scale float64
	// Seed makes the autopilot repeatable.
	Seed uint64
	// HTTPClient sends callbacks.
	HTTPClient *http.Client
	// Logger receives the simulator's logs.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Options turns a Config into engine Options for the given provider.
func (c Config) Options(provider string, p Protocol, amountDecimals int32) Options {
	return Options{
		Provider:       provider,
		Protocol:       p,
		Scale:          c.Scale,
		AmountDecimals: amountDecimals,
		HTTPClient:     c.HTTPClient,
		Seed:           c.Seed,
		Logger:         c.Logger,
		Now:            c.Now,
	}
}

// NewEngine starts an engine from a Config and registers its merchants.
func (c Config) NewEngine(provider string, p Protocol, amountDecimals int32) *Engine {
	e := New(c.Options(provider, p, amountDecimals))
	for _, m := range c.Merchants {
		e.AddMerchant(m)
	}
	return e
}
