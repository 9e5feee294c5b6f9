// Package conformance is the one test every provider package runs, as River
// runs one driver suite (riverdrivertest) for every driver: an adapter
// against its own simulator, over HTTP, checked for what tally relies on
// from every provider. A provider package is done when Run passes.
//
// Each provider package supplies a Harness in its conformance_test.go:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			Name:         Name,
//			Ack:          Ack,
//			New:          func(c providers.Config) (providers.Adapter, error) { return New(c) },
//			NewSimulator: func(c sim.Config) sim.Simulator { return NewSimulator(c) },
//			Merchant:     sim.Merchant{ID: "M1", Secret: "s", Balances: ...},
//			Deposit:      func(no string) providers.DepositRequest { ... },
//			Duplicate:    conformance.DuplicateRejected,
//			Tamper:       conformance.JSONBody("sign"),
//			Unreadable:   func(o *sim.Order) { o.Paid = o.Paid.Neg() },
//		})
//	}
//
// Run covers, skipping what the adapter's Capabilities say it does not offer
// (and checking that those methods wrap providers.ErrUnsupported):
//
//   - Capabilities: the name, the harness's requests are valid and in the
//     currencies offered, and an unknown currency is refused before any call.
//   - Create: a deposit and a payout reach the simulator as asked, with a
//     result that is not final (and a pay page where PayPage says so).
//   - Idempotent create: the same order number twice leaves one order at the
//     provider and gets the Duplicate answer the harness documents.
//   - Query: a created order is found (verified, not final); an unknown one
//     wraps ErrNotFound.
//   - Balance: QueryBalances states the simulator's balances, before and
//     after a payout freezes funds.
//   - Callbacks: the simulator's own delivery verifies and is acknowledged
//     (the delivery log says acked); every signed field altered one at a time,
//     the signature altered and the signature removed each wrap
//     ErrBadSignature; a callback the simulator signs for an order the
//     harness made unreadable wraps ErrUnreadableEvent and ErrInvalidRequest;
//     a failure answer makes the simulator deliver again.
//   - Reply: Reply(nil) is exactly the documented acknowledgement with 200,
//     and Reply(err) never is.
//   - Error classes, by the simulator's fault injection: error_5xx on a
//     create is ErrAmbiguous (and the order does not exist), a timeout on a
//     create is ErrAmbiguous (and the order exists), 5xx and timeout on a
//     query are ErrTransient, wrong credentials and a payout beyond the
//     balance are ErrRejected.
//
// Everything runs in memory on loopback at the simulator's time scale
// (Scale), each test on its own simulator, in parallel.
package conformance

import (
	"context"
	"maps"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Harness is what one provider package gives Run: how to build its adapter
// against its simulator, valid requests, and the answers its document (or
// the package's reading of it, in doc.go) gives where providers differ.
type Harness struct {
	// Name is the provider's name (the package's Name constant); the adapter
	// and the simulator must report it.
	Name string
	// Ack is the documented acknowledgement (the package's Ack constant):
	// Reply(nil) must answer it and the simulator must wait for it.
	Ack string

	// New builds the adapter (the package's New).
	New func(providers.Config) (providers.Adapter, error)
	// NewSimulator builds the simulator (the package's NewSimulator, or a
	// test variant of it that saves time, such as a shared key).
	NewSimulator func(sim.Config) sim.Simulator
	// Merchant is the simulated merchant account the adapter is configured
	// for: its ID is Config.MerchantID and its Secret Config.Secret. Its
	// balances must cover a few payouts. Each test gets a copy.
	Merchant sim.Merchant
	// Options are the adapter's Config.Options.
	Options map[string]string

	// Deposit returns a valid deposit request for order number orderNo.
	Deposit func(orderNo string) providers.DepositRequest
	// Payout returns a valid payout request for order number orderNo; nil
	// when the provider has no payouts (Capabilities.Payout false).
	Payout func(orderNo string) providers.PayoutRequest
	// Submit does what the payer's browser does with a deposit's
	// CreateResult when CreateDeposit itself does not reach the provider
	// (UsdtPay's pay form): the provider learns of the order only then. Nil
	// when CreateDeposit creates the order.
	Submit func(ctx context.Context, a providers.Adapter, res *providers.CreateResult) error
	// Pay makes the simulated payer pay a deposit in full and Settle makes
	// the simulated provider complete a payout, each by the engine's order
	// id; nil means the engine's Pay (exact amount) and Settle.
	Pay    func(e *sim.Engine, orderID string) error
	Settle func(e *sim.Engine, orderID string) error

	// Duplicate is the documented answer to a create whose order number the
	// provider already has.
	Duplicate Duplicate
	// Tamper returns a genuine callback's forgeries: each field its
	// signature covers altered one at a time, the signature altered, the
	// signature removed (JSONBody, FormBody, QueryParams).
	Tamper Tamper
	// Unreadable changes a copy of a paid deposit so that the callback the
	// simulator renders and signs for it (Engine.Render) verifies but cannot
	// be read: a value outside its document's range. Nil when no such
	// callback exists; NoUnreadable then says why, and the test is skipped.
	Unreadable   func(o *sim.Order)
	NoUnreadable string
}

// Duplicate is how a provider answers a create whose order number it
// already has.
type Duplicate int

const (
	// DuplicateRefused: a refusal wrapping providers.ErrRejected and
	// providers.ErrDuplicateOrder, the proof a provider without an order
	// query gives that an ambiguous first create did create the order.
	DuplicateRefused Duplicate = iota + 1
	// DuplicateRejected: a refusal wrapping ErrRejected but not
	// ErrDuplicateOrder, where the document names no duplicate answer. The
	// provider must then let the first order be found: its order query does
	// (the job layer queries after any refused create), or, without one,
	// tally's CreateDeposit never reaches the provider (Harness.Submit set),
	// so that no create of tally's can be ambiguous.
	DuplicateRejected
	// DuplicateSameOrder: the create succeeds and answers the first order.
	DuplicateSameOrder
)

// String names the answer.
func (d Duplicate) String() string {
	switch d {
	case DuplicateRefused:
		return "refused as a duplicate (ErrDuplicateOrder)"
	case DuplicateRejected:
		return "rejected (ErrRejected)"
	case DuplicateSameOrder:
		return "the same order"
	}
	return "unset"
}

// merchant returns a copy of the harness's merchant whose maps and balances
// the test's engine may change freely.
func (h Harness) merchant() sim.Merchant {
	m := h.Merchant
	m.Options = maps.Clone(h.Merchant.Options)
	m.Balances = make(map[string]*sim.Balance, len(h.Merchant.Balances))
	for k, b := range h.Merchant.Balances {
		c := *b
		m.Balances[k] = &c
	}
	return m
}
