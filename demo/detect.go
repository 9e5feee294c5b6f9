package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/callbacks"
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
	string(sim.FaultDuplicateCallback): "its money posted once, to the unit (the order's ledger transfers); order agrees with the provider",
	string(sim.FaultReorderCallbacks):  "never moved backwards; order agrees with the provider",
	string(sim.FaultDelayCallback):     "order agrees with the provider",
	string(sim.FaultBadSignature):      "forged copy refused, kept as a rejected sample naming the order and counted on its hour's rejected_callback",
	string(sim.FaultEndpoint5xx):       "retried; every order submitted exactly once",
	string(sim.FaultEndpointTimeout):   "ambiguous create resolved by a query; no order created twice",
	string(sim.FaultBalanceDrift):      "balance_drift on the account and currency, of the amount injected",
	string(sim.FaultOrderlessDeposit):  "credited to the wallet's user (origin wallet)",
	"unknown_order":                    "unknown_order naming the order, money in suspense",
}

// requiredKinds are the fault kinds the issue lists: every run injects each
// at least once (scripted orders, endpoint faults, balance drift), and a run
// where one was injected zero times fails.
var requiredKinds = []sim.FaultKind{sim.FaultAmountMismatch, sim.FaultDropCallback, sim.FaultDuplicateCallback,
	sim.FaultReorderCallbacks, sim.FaultReversal, sim.FaultEndpoint5xx, sim.FaultEndpointTimeout, sim.FaultBadSignature,
	sim.FaultBalanceDrift}

// detect checks every injected fault against what tally recorded, each on its
// own: the discrepancy of its order (by order number), of its account and
// currency (balance drift), or of its callback (bad signature, by the order
// number the forged callback named); a duplicated callback is caught when the
// order's ledger transfers posted its money once, to the unit. It also lists
// every required kind injected zero times.
func (st *stack) detect(ctx context.Context, injected []sim.Injection) ([]KindResult, []string, []string, error) {
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
	ev := evidence{byAccount: map[string][]discrepancies.Discrepancy{}, drift: map[string]decimal.Decimal{}}
	for _, p := range providersInOrder {
		list, err := st.tally.Discrepancies.List(ctx, st.tally.Pool, discrepancies.Filter{MerchantID: st.merchant.ID, ProviderAccountID: st.accounts[p].ID, Limit: 5000})
		if err != nil {
			return nil, nil, nil, err
		}
		ev.byAccount[p] = list
	}
	for _, in := range injected {
		if in.Kind == sim.FaultBalanceDrift {
			delta, cur, _ := strings.Cut(in.Detail, " ")
			d, err := decimal.NewFromString(delta)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("balance drift injection %q: %w", in.Detail, err)
			}
			k := in.Provider + "|" + cur
			ev.drift[k] = ev.drift[k].Add(d)
		}
	}
	for _, in := range injected {
		r := get(string(in.Kind))
		r.Injected++
		ok, flagged, why, err := st.caught(ctx, in, ev)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case ok && flagged:
			r.Flagged++
		case ok:
			r.Absorbed++
		default:
			r.Missed++
			if why != "" {
				why = " (" + why + ")"
			}
			missed = append(missed, fmt.Sprintf("%s at %s, order %s: %s%s", in.Kind, in.Provider, in.OrderNo, in.Detail, why))
		}
	}
	var absent []string
	for _, k := range requiredKinds {
		if r, ok := results[string(k)]; !ok || r.Injected == 0 {
			absent = append(absent, string(k))
			get(string(k)) // shown with 0 injected
		}
	}
	out := make([]KindResult, 0, len(results))
	for _, r := range results {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, missed, absent, nil
}

// evidence is what detect looks faults up in.
type evidence struct {
	byAccount map[string][]discrepancies.Discrepancy // provider -> its account's discrepancies
	drift     map[string]decimal.Decimal             // provider|currency -> the balance drift injected
}

// caught reports whether tally caught one injected fault, whether a
// discrepancy flags it, and when it was not caught, why.
func (st *stack) caught(ctx context.Context, in sim.Injection, ev evidence) (bool, bool, string, error) {
	acct := st.accounts[in.Provider]
	switch string(in.Kind) {
	case string(sim.FaultBadSignature):
		if in.OrderNo == "" {
			return false, false, "the injection names no order", nil
		}
		// A callback that fails its signature is not parsed: the order it
		// names is in the raw request the inbox kept as one of its hour's
		// samples, and the hour's rejected_callback discrepancy counts it.
		hours, err := st.rejectedSamples(ctx, acct.ID, in.OrderNo)
		if err != nil {
			return false, false, "", err
		}
		if len(hours) == 0 {
			return false, false, "no rejected sample in the inbox names the order", nil
		}
		for _, at := range hours {
			fp := callbacks.RejectionFingerprint(acct.Name, at)
			for _, d := range ev.byAccount[in.Provider] {
				if d.Type == discrepancies.RejectedCallback && d.Fingerprint == fp {
					return true, true, "", nil
				}
			}
		}
		return false, false, "no rejected_callback counts the hour of the forged callback", nil
	case string(sim.FaultBalanceDrift):
		_, cur, _ := strings.Cut(in.Detail, " ")
		want := ev.drift[in.Provider+"|"+cur]
		fp := discrepancies.Fingerprint(discrepancies.BalanceDrift, acct.Name, cur)
		for _, d := range ev.byAccount[in.Provider] {
			if d.Fingerprint == fp {
				if !d.AmountDelta.Equal(want) {
					return false, false, fmt.Sprintf("balance_drift of %s %s, %s injected", d.AmountDelta, cur, want), nil
				}
				return true, true, "", nil
			}
		}
		return false, false, "no balance_drift for the account and currency", nil
	case "unknown_order":
		for _, d := range ev.byAccount[in.Provider] {
			if d.Type == discrepancies.UnknownOrder && strings.HasSuffix(d.Fingerprint, ":"+in.OrderNo) {
				return true, true, "", nil
			}
		}
		return false, false, "no unknown_order names it", nil
	case string(sim.FaultEndpoint5xx), string(sim.FaultEndpointTimeout):
		ok, err := st.submittedOnce(ctx, in.Provider)
		return ok, false, "an order unsubmitted or created twice", err
	case string(sim.FaultOrderlessDeposit):
		user := in.Detail[strings.LastIndex(in.Detail, " ")+1:]
		list, err := st.tally.Orders.List(ctx, orders.ListFilter{MerchantID: st.merchant.ID, ProviderAccount: acct.Name, Limit: 500})
		if err != nil {
			return false, false, "", err
		}
		for _, o := range list {
			if o.Origin == "wallet" && o.CustomerID == user && o.Status == orders.StatusSucceeded {
				return true, false, "", nil
			}
		}
		return false, false, "no succeeded wallet deposit for the user", nil
	}
	if in.OrderNo == "" {
		return false, false, "the injection names no order", nil
	}
	o, err := st.tally.Orders.ByProviderNo(ctx, acct.ID, in.OrderNo)
	if err != nil {
		return false, false, "tally has no such order", nil
	}
	has := map[discrepancies.Type]bool{}
	for _, d := range ev.byAccount[in.Provider] {
		if d.OrderID == o.ID {
			has[d.Type] = true
		}
	}
	switch string(in.Kind) {
	case string(sim.FaultAmountMismatch):
		return has[discrepancies.AmountMismatch], true, "no amount_mismatch on the order", nil
	case string(sim.FaultReversal):
		return has[discrepancies.Reversal] || has[discrepancies.StatusMismatch], true, "no reversal on the order", nil
	}
	// Callback faults: caught when the order agrees with the provider in the end
	// (a discrepancy on the way, such as a repaired missing callback, flags it).
	so, err := st.sandbox.Simulator(in.Provider).Engine().FindOrder("", in.OrderNo)
	if err != nil {
		return false, false, "the provider has no such order", nil
	}
	agrees := string(o.Status) == string(so.Status) ||
		so.Status == providers.StatusReversed && (has[discrepancies.Reversal] || has[discrepancies.StatusMismatch])
	if !agrees {
		return false, false, fmt.Sprintf("tally has it %s, the provider %s", o.Status, so.Status), nil
	}
	if in.Kind == sim.FaultDuplicateCallback {
		if why, err := st.postedOnce(ctx, o); err != nil || why != "" {
			return false, false, why, err
		}
	}
	flagged := has[discrepancies.MissingCallback] || has[discrepancies.DuplicateConflict] || has[discrepancies.StatusMismatch]
	return true, flagged, "", nil
}

// rejectedSamples are when the rejected deliveries to an account that the
// inbox kept as samples and whose raw request names orderNo arrived.
func (st *stack) rejectedSamples(ctx context.Context, accountID int64, orderNo string) ([]time.Time, error) {
	rows, err := st.tally.Pool.Query(ctx, `SELECT received_at, query, body FROM callback_inbox WHERE provider_account_id = $1 AND verdict = 'rejected'`, accountID)
	if err != nil {
		return nil, fmt.Errorf("rejected callbacks of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at time.Time
		var query string
		var body []byte
		if err := rows.Scan(&at, &query, &body); err != nil {
			return nil, fmt.Errorf("rejected callbacks of account %d: %w", accountID, err)
		}
		if strings.Contains(query, orderNo) || strings.Contains(string(body), orderNo) {
			out = append(out, at)
		}
	}
	return out, rows.Err()
}

// postedOnce checks an order's ledger transfers (reference order:{id}): a
// succeeded deposit credited its customer (or suspense) once with what was
// paid, a succeeded payout debited its customer once with what was paid out,
// a failed or expired order posted nothing. It returns why not ("" when so).
func (st *stack) postedOnce(ctx context.Context, o orders.Order) (string, error) {
	rows, err := st.tally.Pool.Query(ctx, `SELECT a.code, count(DISTINCT t.id)::int,
		COALESCE(sum(CASE WHEN e.side = 'credit' THEN e.amount ELSE -e.amount END), 0)::text
		FROM transfers t JOIN entries e ON e.transfer_id = t.id JOIN accounts a ON a.id = e.account_id
		WHERE t.merchant_id = $1 AND t.reference = $2 AND e.phase = 'posted'
		GROUP BY a.code`, st.merchant.ID, fmt.Sprintf("order:%d", o.ID))
	if err != nil {
		return "", fmt.Errorf("ledger of order %d: %w", o.ID, err)
	}
	defer rows.Close()
	net := map[string]decimal.Decimal{}
	transfers := map[string]int{}
	for rows.Next() {
		var code, sum string
		var n int
		if err := rows.Scan(&code, &n, &sum); err != nil {
			return "", err
		}
		net[code], transfers[code] = decimal.RequireFromString(sum), n
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	customer := "liabilities:customer:" + o.CustomerID + ":" + o.Currency
	switch {
	case o.Status == orders.StatusFailed || o.Status == orders.StatusExpired:
		if len(net) > 0 {
			return fmt.Sprintf("a %s order posted %v", o.Status, net), nil
		}
	case o.Kind == "deposit" && o.Status == orders.StatusSucceeded:
		to := o.CreditedTo
		if to == "" {
			to = customer
		}
		want := o.PaidAmount.Decimal
		if o.SettledCurrency != o.Currency {
			want = net[to] // a quoted order: valued at its rate; posted once is the count
		}
		if transfers[to] != 1 || !net[to].Equal(want) {
			return fmt.Sprintf("%s credited %s in %d transfers, want %s once", to, net[to], transfers[to], want), nil
		}
	case o.Kind == "payout" && o.Status == orders.StatusSucceeded:
		if got, want := net[customer].Neg(), o.CreditedAmount.Decimal; !got.Equal(want) || transfers[customer] < 1 {
			return fmt.Sprintf("%s debited %s, want %s", customer, got, want), nil
		}
	}
	return "", nil
}

// submittedOnce: no order of the provider is stuck unsubmitted and the provider
// holds no order number twice.
func (st *stack) submittedOnce(ctx context.Context, provider string) (bool, error) {
	list, err := st.tally.Orders.List(ctx, orders.ListFilter{MerchantID: st.merchant.ID, ProviderAccount: st.accounts[provider].Name, Status: orders.StatusCreated, Limit: 10})
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
