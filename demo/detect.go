package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// KindResult says, for one kind of injected fault, how many tally caught.
// Flagged: a discrepancy names it. Absorbed: it was made harmless with nothing
// for an accountant to do (a duplicate posted once, a dropped callback repaired
// by a query, an outage retried) — tally and the provider agree on the order.
type KindResult struct {
	Kind     string `json:"kind"`
	Injected int    `json:"injected"`
	Flagged  int    `json:"flagged"`
	Absorbed int    `json:"absorbed"`
	Missed   int    `json:"missed"`
	How      string `json:"how"`
}

// how explains each kind's detection rule.
var how = map[string]string{
	string(sim.FaultAmountMismatch):    "amount_mismatch discrepancy on the order",
	string(sim.FaultReversal):          "reversal (or status_mismatch) discrepancy on the order",
	string(sim.FaultDropCallback):      "order repaired by a query or a statement (missing_callback) and agrees with the provider",
	string(sim.FaultDuplicateCallback): "posted once; order agrees with the provider",
	string(sim.FaultReorderCallbacks):  "never moved backwards; order agrees with the provider",
	string(sim.FaultDelayCallback):     "order agrees with the provider",
	string(sim.FaultBadSignature):      "rejected_callback discrepancy (forged copy refused)",
	string(sim.FaultEndpoint5xx):       "retried; every order submitted exactly once",
	string(sim.FaultEndpointTimeout):   "ambiguous create resolved by a query; no order created twice",
	string(sim.FaultBalanceDrift):      "balance_drift discrepancy on the account",
	string(sim.FaultOrderlessDeposit):  "credited to the wallet's user (origin wallet)",
	"unknown_order":                    "unknown_order discrepancy, money in suspense",
}

// detect checks every injected fault against what tally recorded.
func (st *stack) detect(ctx context.Context, injected []sim.Injection) ([]KindResult, []string, error) {
	results := map[string]*KindResult{}
	var missed []string
	get := func(kind string) *KindResult {
		r, ok := results[kind]
		if !ok {
			r = &KindResult{Kind: kind, How: how[kind]}
			results[kind] = r
		}
		return r
	}
	byAccount := map[string]map[discrepancies.Type]int{}
	for _, p := range providersInOrder {
		byAccount[p] = map[discrepancies.Type]int{}
		list, err := st.disc.List(ctx, st.pool, discrepancies.Filter{MerchantID: st.merchant.ID, ProviderAccountID: st.accounts[p].ID, Limit: 1000})
		if err != nil {
			return nil, nil, err
		}
		for _, d := range list {
			byAccount[p][d.Type]++
		}
	}
	perProvider := map[string]map[string]int{}
	for _, in := range injected {
		r := get(string(in.Kind))
		r.Injected++
		if perProvider[in.Provider] == nil {
			perProvider[in.Provider] = map[string]int{}
		}
		perProvider[in.Provider][string(in.Kind)]++
		ok, flagged, err := st.caught(ctx, in, byAccount)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case ok && flagged:
			r.Flagged++
		case ok:
			r.Absorbed++
		default:
			r.Missed++
			missed = append(missed, fmt.Sprintf("%s at %s, order %s: %s", in.Kind, in.Provider, in.OrderNo, in.Detail))
		}
	}
	out := make([]KindResult, 0, len(results))
	for _, r := range results {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, missed, nil
}

// caught reports whether tally caught one injected fault, and whether a
// discrepancy flags it.
func (st *stack) caught(ctx context.Context, in sim.Injection, byAccount map[string]map[discrepancies.Type]int) (bool, bool, error) {
	acct := st.accounts[in.Provider]
	switch string(in.Kind) {
	case string(sim.FaultBadSignature):
		return byAccount[in.Provider][discrepancies.RejectedCallback] > 0, true, nil
	case string(sim.FaultBalanceDrift):
		return byAccount[in.Provider][discrepancies.BalanceDrift] > 0, true, nil
	case "unknown_order":
		return byAccount[in.Provider][discrepancies.UnknownOrder] > 0, true, nil
	case string(sim.FaultEndpoint5xx), string(sim.FaultEndpointTimeout):
		ok, err := st.submittedOnce(ctx, in.Provider)
		return ok, false, err
	case string(sim.FaultOrderlessDeposit):
		user := in.Detail[strings.LastIndex(in.Detail, " ")+1:]
		list, err := st.orders.List(ctx, orders.ListFilter{MerchantID: st.merchant.ID, ProviderAccount: acct.Name, Limit: 500})
		if err != nil {
			return false, false, err
		}
		for _, o := range list {
			if o.Origin == "wallet" && o.CustomerID == user && o.Status == orders.StatusSucceeded {
				return true, false, nil
			}
		}
		return false, false, nil
	}
	if in.OrderNo == "" {
		return false, false, nil
	}
	o, err := st.orders.ByProviderNo(ctx, acct.ID, in.OrderNo)
	if err != nil {
		return false, false, nil
	}
	ds, err := st.disc.List(ctx, st.pool, discrepancies.Filter{MerchantID: st.merchant.ID, OrderID: o.ID, Limit: 100})
	if err != nil {
		return false, false, err
	}
	has := map[discrepancies.Type]bool{}
	for _, d := range ds {
		has[d.Type] = true
	}
	switch string(in.Kind) {
	case string(sim.FaultAmountMismatch):
		return has[discrepancies.AmountMismatch], true, nil
	case string(sim.FaultReversal):
		return has[discrepancies.Reversal] || has[discrepancies.StatusMismatch], true, nil
	}
	// Callback faults: caught when the order agrees with the provider in the end
	// (a discrepancy on the way, such as a repaired missing callback, flags it).
	so, err := st.sandbox.Simulator(in.Provider).Engine().FindOrder("", in.OrderNo)
	if err != nil {
		return false, false, nil
	}
	agrees := string(o.Status) == string(so.Status) ||
		so.Status == providers.StatusReversed && (has[discrepancies.Reversal] || has[discrepancies.StatusMismatch])
	flagged := has[discrepancies.MissingCallback] || has[discrepancies.DuplicateConflict] || has[discrepancies.StatusMismatch]
	return agrees, flagged && agrees, nil
}

// submittedOnce: no order of the provider is stuck unsubmitted and the provider
// holds no order number twice.
func (st *stack) submittedOnce(ctx context.Context, provider string) (bool, error) {
	list, err := st.orders.List(ctx, orders.ListFilter{MerchantID: st.merchant.ID, ProviderAccount: st.accounts[provider].Name, Status: orders.StatusCreated, Limit: 10})
	if err != nil {
		return false, err
	}
	if len(list) > 0 {
		return false, nil
	}
	seen := map[string]bool{}
	for _, o := range st.sandbox.Simulator(provider).Engine().Orders() {
		if o.OrderNo == "" {
			continue
		}
		if seen[o.OrderNo] {
			return false, nil
		}
		seen[o.OrderNo] = true
	}
	return true, nil
}
