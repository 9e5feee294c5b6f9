package recon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/settle"
)

// execution is one Execute call.
type execution struct {
	s        *Service
	run      Run
	cp       *checkpoint
	progress Progress
	acct     merchants.ProviderAccount
	adapter  providers.Adapter
}

// loop walks the checkpoint's phases until the run is done.
func (x *execution) loop(ctx context.Context) error {
	for x.cp.Index < len(x.cp.Accounts) {
		adapter, acct, err := x.s.orders.AdapterByID(ctx, x.cp.Accounts[x.cp.Index])
		if err != nil {
			return err
		}
		x.acct, x.adapter = acct, adapter
		if x.cp.Phase == "" {
			x.cp.Phase = x.firstPhase()
		}
		for x.cp.Phase != "" {
			next, err := x.step(ctx)
			if err != nil {
				return fmt.Errorf("%s, %s phase: %w", acct.Name, x.cp.Phase, err)
			}
			if next != x.cp.Phase {
				x.cp.Phase, x.cp.AfterID, x.cp.AfterKey = next, 0, ""
				if next == "" {
					x.cp.Index++ // in the same save: a resume never replays a finished account
				}
			}
			if err := x.s.saveCheckpoint(ctx, x.run.ID, x.cp); err != nil {
				return err
			}
		}
	}
	if x.cp.Ledger == nil {
		if err := x.checkLedger(ctx); err != nil {
			return err
		}
		return x.s.saveCheckpoint(ctx, x.run.ID, x.cp)
	}
	return nil
}

// firstPhase is where an account's part of the run starts.
func (x *execution) firstPhase() string {
	switch x.run.Kind {
	case KindStatement:
		return phaseStatement
	case KindBalances:
		return phaseBalances
	default:
		return phaseOrders
	}
}

// step runs one page of the current phase and returns the phase to go on with
// ("" when the account is done).
func (x *execution) step(ctx context.Context) (string, error) {
	switch x.cp.Phase {
	case phaseOrders:
		if !x.adapter.Capabilities().QueryOrder {
			x.note(fmt.Sprintf("%s (%s) has no order query: reconcile it by importing its statement", x.acct.Name, x.acct.Provider))
			return phaseOverdue, nil
		}
		more, err := x.queryPage(ctx)
		if err != nil || more {
			return phaseOrders, err
		}
		return phaseOverdue, nil
	case phaseOverdue:
		more, err := x.overduePage(ctx)
		if err != nil || more {
			return phaseOverdue, err
		}
		return x.afterOrders(), nil
	case phaseStatement:
		more, err := x.statementPage(ctx)
		if err != nil || more {
			return phaseStatement, err
		}
		return phaseMissing, nil
	case phaseMissing:
		more, err := x.missingPage(ctx)
		if err != nil || more {
			return phaseMissing, err
		}
		return phaseClose, nil
	case phaseBalances:
		if err := x.balances(ctx); err != nil {
			return phaseBalances, err
		}
		return phaseClose, nil
	case phaseClose:
		return "", x.autoClose(ctx)
	}
	return "", fmt.Errorf("unknown phase %q", x.cp.Phase)
}

// sourceOverdue is the summary line of orders looked at because their
// deadline fell in the window (overduePage).
const sourceOverdue = "overdue"

func (x *execution) afterOrders() string {
	if x.run.Kind == KindFull {
		return phaseBalances
	}
	return phaseClose
}

func (x *execution) note(n string) {
	for _, have := range x.cp.Notes {
		if have == n {
			return
		}
	}
	x.cp.Notes = append(x.cp.Notes, n)
}

// queryPage reconciles a page of the account's orders against the provider's
// order query, a few queries at a time.
func (x *execution) queryPage(ctx context.Context) (bool, error) {
	limit := min(x.s.opts.PageSize, 200)
	page, err := x.s.orders.CreatedIn(ctx, x.acct.ID, x.run.WindowStart, x.run.WindowEnd, x.cp.AfterID, limit)
	if err != nil {
		return false, fmt.Errorf("orders page: %w", err)
	}
	if err := x.queryOrders(ctx, page, "query"); err != nil {
		return false, err
	}
	x.report(phaseOrders)
	return len(page) == int(limit), nil
}

// queryOrders queries the provider for a page of orders, a few at a time, and
// compares each answer with tally; source names the summary line they count in.
func (x *execution) queryOrders(ctx context.Context, rows []orders.Order, source string) error {
	type result struct {
		ev  *providers.Event
		err error
	}
	results := make([]result, len(rows))
	sem := make(chan struct{}, x.s.opts.QueryConcurrency)
	var wg sync.WaitGroup
	for i, o := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			q := providers.OrderQuery{Kind: o.Kind, ProviderOrderID: o.ProviderOrderID, TxHash: o.TxHash}
			if o.Origin == "api" || o.Origin == "provider" && !strings.HasPrefix(o.ProviderOrderNo, "unknown:") {
				q.OrderNo = o.ProviderOrderNo
			}
			ev, err := x.adapter.QueryOrder(ctx, q)
			results[i] = result{ev, err}
		}()
	}
	wg.Wait()
	for i, o := range rows {
		if err := x.compareQuery(ctx, o, results[i].ev, results[i].err, source); err != nil {
			return fmt.Errorf("order %d: %w", o.ID, err)
		}
		x.cp.AfterID = o.ID
		x.cp.Done++
	}
	return nil
}

// overduePage looks at a page of the account's open orders whose deadline fell
// in the run's window (and before now) but that were created outside it: an
// order pending past its deadline is looked at by the run of the window its
// deadline falls in, whichever window it was created in. With an order query
// each is compared with the provider's answer (a settlement the callbacks
// missed is repaired); without one, an order still open in tally past its
// deadline is stale_pending on tally's own word. They count in the "overdue"
// line, apart from the window's own orders.
func (x *execution) overduePage(ctx context.Context) (bool, error) {
	before := x.run.WindowEnd
	if now := x.s.opts.Now(); now.Before(before) {
		before = now
	}
	if !before.After(x.run.WindowStart) {
		return false, nil
	}
	life := x.s.opts.StaleAfter
	ws := x.run.WindowStart
	limit := min(x.s.opts.PageSize, 200)
	page, err := x.s.orders.Overdue(ctx, orders.OverdueQuery{ProviderAccountID: x.acct.ID, DeadlineFrom: ws, DeadlineBefore: before,
		DefaultLifetime: life, SkipFrom: ws, SkipBefore: x.run.WindowEnd, AfterID: x.cp.AfterID, Limit: limit})
	if err != nil {
		return false, fmt.Errorf("overdue orders page: %w", err)
	}
	if x.adapter.Capabilities().QueryOrder {
		if err := x.queryOrders(ctx, page, sourceOverdue); err != nil {
			return false, err
		}
	} else {
		for _, o := range page {
			line := x.cp.line(x.acct, o.Currency, sourceOverdue)
			line.Checked++
			if err := x.stale(ctx, line, o, nil, "in tally; the provider has no order query"); err != nil {
				return false, fmt.Errorf("order %d: %w", o.ID, err)
			}
			x.cp.AfterID = o.ID
			x.cp.Done++
		}
	}
	x.report(phaseOverdue)
	if len(page) == int(limit) {
		return true, nil
	}
	return false, x.closeSettledStale(ctx)
}

// closeSettledStale closes the account's stale_pending discrepancies whose
// order has since ended normally (succeeded, failed or reversed: an expired
// order stays for an accountant): no longer pending, consistent now. At most
// maxAutoClose of them, the first by id, per run.
func (x *execution) closeSettledStale(ctx context.Context) error {
	type settled struct {
		id     int64
		status orders.Status
	}
	var found []settled
	err := x.notSeen(ctx, []string{string(discrepancies.StalePending)}, maxAutoClose, func(d recondb.Discrepancy, o *orders.Ref) bool {
		if o == nil || (o.Status != orders.StatusSucceeded && o.Status != orders.StatusFailed && o.Status != orders.StatusReversed) {
			return true // still open, or expired
		}
		found = append(found, settled{d.ID, o.Status})
		return len(found) < maxAutoClose
	})
	if err != nil {
		return fmt.Errorf("settled stale orders: %w", err)
	}
	for _, f := range found {
		if err := x.close(ctx, f.id, fmt.Sprintf("consistent in run %d: the order is %s now", x.run.ID, f.status)); err != nil {
			return err
		}
	}
	return nil
}

// maxAutoClose bounds the discrepancies one account's close phase (and the
// overdue phase's settled stale orders) looks at per run.
const maxAutoClose = 1000

// notSeen hands visit, by id, the account's open discrepancies of the given
// types that nothing found again since the run started, each with the order it
// is about (nil: none, or an order that does not exist), read a page of
// pageSize at a time, until visit returns false or none is left.
func (x *execution) notSeen(ctx context.Context, types []string, pageSize int32, visit func(recondb.Discrepancy, *orders.Ref) bool) error {
	var after int64
	for {
		page, err := x.s.q.OpenDiscrepanciesNotSeen(ctx, recondb.OpenDiscrepanciesNotSeenParams{ProviderAccountID: &x.acct.ID,
			Types: types, StartedAt: x.run.StartedAt, AfterID: after, RowLimit: pageSize})
		if err != nil {
			return fmt.Errorf("open discrepancies: %w", err)
		}
		var ids []int64
		for _, d := range page {
			if d.OrderID != nil {
				ids = append(ids, *d.OrderID)
			}
		}
		refs, err := x.s.orders.Refs(ctx, ids)
		if err != nil {
			return err
		}
		byID := make(map[int64]*orders.Ref, len(refs))
		for i := range refs {
			byID[refs[i].ID] = &refs[i]
		}
		for _, d := range page {
			after = d.ID
			var o *orders.Ref
			if d.OrderID != nil {
				o = byID[*d.OrderID]
			}
			if !visit(d, o) {
				return nil
			}
		}
		if len(page) < int(pageSize) {
			return nil
		}
	}
}

// deadline is when an order should have ended: its expires_at, or its
// creation plus the default lifetime (Options.StaleAfter) when it has none.
func (x *execution) deadline(o orders.Order) time.Time {
	if o.ExpiresAt != nil {
		return *o.ExpiresAt
	}
	return o.CreatedAt.Add(x.s.opts.StaleAfter)
}

// stale records an order open past its deadline (stale_pending), or counts it
// matched while its deadline is ahead. where says at which ends it is open.
func (x *execution) stale(ctx context.Context, line *OrderLine, o orders.Order, ev *providers.Event, where string) error {
	now := x.s.opts.Now()
	dl := x.deadline(o)
	if !now.After(dl) {
		return x.matched(line, o)
	}
	return x.unmatched(ctx, line, o, discrepancies.StalePending,
		fmt.Sprintf("%s %s past its deadline %s (created %s, %s ago) %s", o.Status, o.Amount, dl.UTC().Format(time.RFC3339),
			o.CreatedAt.UTC().Format(time.RFC3339), now.Sub(o.CreatedAt).Round(time.Second), where), ev)
}

// compareQuery compares one order with the provider's answer.
func (x *execution) compareQuery(ctx context.Context, o orders.Order, ev *providers.Event, qerr error, source string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	line := x.cp.line(x.acct, o.Currency, source)
	line.Checked++
	st := string(o.Status)
	switch {
	case errors.Is(qerr, providers.ErrNotFound):
		switch {
		case st == "created":
			// Not submitted yet (or submit will find out): in flight.
			return x.matched(line, o)
		case st == "succeeded" || st == "reversed":
			return x.unmatched(ctx, line, o, discrepancies.StatusMismatch, fmt.Sprintf("tally has %s %s %s, the provider does not know the order", o.Status, o.Amount, o.Currency), nil)
		case st == "failed" || st == "expired":
			return x.matched(line, o) // never reached the provider
		default:
			return x.unmatched(ctx, line, o, discrepancies.StatusMismatch, fmt.Sprintf("order is %s in tally, the provider does not know it", o.Status), nil)
		}
	case qerr != nil:
		line.Unmatched++
		line.UnmatchedAmount = line.UnmatchedAmount.Add(o.Amount)
		x.cp.QueryErrors++
		if x.cp.QueryErrors == 1 {
			// The merchant reads the run: tally's words for the failure, the
			// provider's in the operator log only.
			x.note(fmt.Sprintf("%s: order queries failed (first: %s)", x.acct.Name, providers.Describe(qerr)))
			x.s.opts.Logger.Debug("reconciliation order query failed", "run_id", x.run.ID, "provider_account", x.acct.Name,
				"error", providers.Redact(qerr.Error()))
		}
		// Unchecked is not consistent: its open discrepancies stay open.
		return x.s.disc.TouchOrder(ctx, x.s.pool, o.ID, x.run.ID)
	}
	pst := eventStatus(*ev)
	caps := x.adapter.Capabilities()
	switch {
	case caps.ReversedAsFailed && pst == "failed" && st == "succeeded":
		pst = "reversed" // this provider's only way to say reversed
	case caps.QueryHidesReversals && pst == "succeeded" && st == "reversed":
		return x.matched(line, o) // its query cannot see the reversal its callback reported
	case caps.ReversedAsFailed && pst == "failed" && st == "reversed":
		return x.matched(line, o) // its "failed after success" is the reversal tally applied
	}
	switch {
	case pst == st:
		return x.same(ctx, line, o, *ev)
	case rank(pst) > rank(st):
		return x.repair(ctx, line, o, *ev, "recon")
	case pst == "succeeded" && (st == "expired" || st == "failed") && o.Kind == providers.KindDeposit:
		return x.repair(ctx, line, o, *ev, "recon") // a late payment: the money arrived
	default:
		return x.unmatched(ctx, line, o, discrepancies.StatusMismatch, fmt.Sprintf("tally has %s, the provider says %s", o.Status, pst), ev)
	}
}

// same compares an order on which tally and the provider agree about the
// status: currency, requested amount, paid amount, credited amount (paid less
// the fee) and fee. A provider stating the order in another currency is an
// amount_mismatch of its own (the amounts cannot be compared); each amount
// that differs beyond the account's tolerance is one too, told apart by the
// fingerprint's suffix.
func (x *execution) same(ctx context.Context, line *OrderLine, o orders.Order, ev providers.Event) error {
	if st := string(o.Status); st == "pending" || st == "processing" || st == "created" {
		if ev.Currency != "" && !currencyAgrees(o, ev.Currency) {
			return x.currencyMismatch(ctx, line, o, ev)
		}
		return x.stale(ctx, line, o, &ev, "at both ends")
	}
	if ev.Currency != "" && !currencyAgrees(o, ev.Currency) {
		return x.currencyMismatch(ctx, line, o, ev)
	}
	tol := x.acct.AmountTolerance
	var found []finding
	// Requested: what the order asked for, where the provider states it in the
	// order's own currency (a quoted order's provider states it in the paid one).
	if ev.Requested.Valid && (ev.Currency == "" || ev.Currency == o.Currency) && ev.Requested.Decimal.Sub(o.Amount).Abs().GreaterThan(tol) {
		found = append(found, finding{t: discrepancies.AmountMismatch, suffix: "requested", currency: o.Currency,
			expected: providers.Nullable(o.Amount), actual: ev.Requested, delta: ev.Requested.Decimal.Sub(o.Amount),
			summary: fmt.Sprintf("tally asked for %s %s, the provider's order is for %s", o.Amount, o.Currency, ev.Requested.Decimal)})
	}
	feeCompleted := false
	if !o.Fee.Valid && ev.Fee.Valid && o.PaidAmount.Valid && (ev.Currency == "" || ev.Currency == o.SettledCurrency) {
		booked, err := x.completeFee(ctx, line, o, ev.Fee.Decimal)
		if err != nil {
			return err
		}
		feeCompleted = booked
	}
	if o.PaidAmount.Valid {
		if paid, ok := amountIn(ev, o.SettledCurrency); ok && paid.Sub(o.PaidAmount.Decimal).Abs().GreaterThan(tol) {
			found = append(found, finding{t: discrepancies.AmountMismatch, suffix: "ledger", currency: o.SettledCurrency,
				expected: o.PaidAmount, actual: providers.Nullable(paid), delta: paid.Sub(o.PaidAmount.Decimal),
				summary: fmt.Sprintf("the ledger recorded %s %s paid, the provider says %s", o.PaidAmount.Decimal, o.SettledCurrency, paid)})
		}
	}
	if o.Fee.Valid && ev.Fee.Valid && (ev.Currency == "" || ev.Currency == o.SettledCurrency) &&
		ev.Fee.Decimal.Sub(o.Fee.Decimal).Abs().GreaterThan(tol) {
		found = append(found, finding{t: discrepancies.FeeMismatch, currency: o.SettledCurrency, expected: o.Fee,
			actual: ev.Fee, delta: ev.Fee.Decimal.Sub(o.Fee.Decimal),
			summary: fmt.Sprintf("the ledger recorded a fee of %s %s, the provider says %s", o.Fee.Decimal, o.SettledCurrency, ev.Fee.Decimal)})
	}
	// Credited: what the merchant's balance at the provider got for a deposit
	// (paid less the fee), stated or implied. A fee just completed from this
	// answer set it (the row read before does not have it yet); a paid amount
	// or fee found different already explains a different credit, which is
	// not a second discrepancy.
	explained := false
	for _, f := range found {
		explained = explained || f.suffix == "ledger" || f.t == discrepancies.FeeMismatch
	}
	if o.Kind == providers.KindDeposit && o.CreditedAmount.Valid && !feeCompleted && !explained && (ev.Currency == "" || ev.Currency == o.SettledCurrency) {
		if cr, ok := creditedIn(ev); ok && cr.Sub(o.CreditedAmount.Decimal).Abs().GreaterThan(tol) {
			found = append(found, finding{t: discrepancies.AmountMismatch, suffix: "credited", currency: o.SettledCurrency,
				expected: o.CreditedAmount, actual: providers.Nullable(cr), delta: cr.Sub(o.CreditedAmount.Decimal),
				summary: fmt.Sprintf("the ledger recorded %s %s credited (paid less the fee), the provider says %s", o.CreditedAmount.Decimal, o.SettledCurrency, cr)})
		}
	}
	for _, f := range found {
		if err := x.record(ctx, o, f); err != nil {
			return err
		}
	}
	if err := x.refind(ctx, o); err != nil {
		return err
	}
	if len(found) > 0 {
		line.Unmatched++
		line.UnmatchedAmount = line.UnmatchedAmount.Add(o.Amount)
		return nil
	}
	return x.matched(line, o)
}

// currencyAgrees says whether cur is a currency the provider may state the
// order in: the one it settled in, or before settlement the order's or the
// payer's currency.
func currencyAgrees(o orders.Order, cur string) bool {
	if o.SettledCurrency != "" {
		return cur == o.SettledCurrency
	}
	return cur == o.Currency || cur == o.PayCurrency
}

// currencyMismatch records a provider that states the order in another
// currency than tally's: none of its amounts compare.
func (x *execution) currencyMismatch(ctx context.Context, line *OrderLine, o orders.Order, ev providers.Event) error {
	want := o.SettledCurrency
	if want == "" {
		want = o.PayCurrency
	}
	f := finding{t: discrepancies.AmountMismatch, suffix: "currency", currency: o.Currency, expected: providers.Nullable(o.Amount), delta: o.Amount,
		summary: fmt.Sprintf("tally has the order in %s (%s %s), the provider states it in %s: the amounts cannot be compared", want, o.Amount, o.Currency, ev.Currency)}
	if p, ok := amountIn(ev, ev.Currency); ok {
		f.summary += fmt.Sprintf(" (the provider says %s %s)", p, ev.Currency)
	}
	if err := x.record(ctx, o, f); err != nil {
		return err
	}
	line.Unmatched++
	line.UnmatchedAmount = line.UnmatchedAmount.Add(o.Amount)
	return nil
}

// creditedIn is what an event says the merchant was credited: stated, or
// paid less the fee.
func creditedIn(ev providers.Event) (decimal.Decimal, bool) {
	switch {
	case ev.Credited.Valid:
		return ev.Credited.Decimal, true
	case ev.Paid.Valid && ev.Fee.Valid:
		return ev.Paid.Decimal.Sub(ev.Fee.Decimal), true
	}
	return decimal.Decimal{}, false
}

// refind records again the pipeline's own finding about an order whose paid
// amount differs from what was ordered, so that closing consistent
// discrepancies never closes that one.
func (x *execution) refind(ctx context.Context, o orders.Order) error {
	if o.Kind != providers.KindDeposit || !o.PaidAmount.Valid || o.SettledCurrency != o.Currency {
		return nil
	}
	if o.PaidAmount.Decimal.Sub(o.Amount).Abs().LessThanOrEqual(x.acct.AmountTolerance) {
		return nil
	}
	d, err := x.s.disc.ByFingerprint(ctx, x.s.pool, x.acct.MerchantID, discrepancies.Fingerprint(discrepancies.AmountMismatch, x.acct.Name, o.ProviderOrderNo))
	if err != nil {
		return nil // the pipeline did not open one (e.g. credited under a tolerance)
	}
	return x.touch(ctx, d.ID, false, false, false)
}

// repair moves an order tally has behind the provider's answer through the
// state machine: a missing callback, fixed and reported as repaired.
func (x *execution) repair(ctx context.Context, line *OrderLine, o orders.Order, ev providers.Event, source string) error {
	ev.Verified = true
	res, err := x.s.orders.Apply(ctx, o.ID, ev, source, map[string]any{"run_id": x.run.ID})
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	if res.Outcome == orders.Conflict || res.Outcome == orders.Stale {
		// The state machine refused it (and opened its own discrepancy): not repaired.
		return x.unmatched(ctx, line, o, discrepancies.StatusMismatch,
			fmt.Sprintf("the provider says %s, tally could not apply it to its %s order", ev.Status, res.Before), &ev)
	}
	line.Repaired++
	// The order as the repair left it: what the ledger posted for it.
	after, err := x.s.orders.Get(ctx, 0, o.ID)
	if err != nil {
		return fmt.Errorf("repaired order: %w", err)
	}
	// The finding states the money the repair moved: what the ledger holds for
	// the order now less what it held before (provider less tally, as every
	// delta). An order the provider failed or expired moved nothing: no actual
	// amount, a delta of 0.
	cur := after.SettledCurrency
	if cur == "" {
		cur = o.SettledCurrency
	}
	if cur == "" {
		cur = o.Currency
	}
	now, was := moved(after, cur), moved(o, cur)
	f := finding{t: discrepancies.MissingCallback, currency: cur, delta: now.Sub(was),
		summary: fmt.Sprintf("the provider had %s the order, tally still had it %s: applied (now %s)", ev.Status, res.Before, res.After)}
	if !now.IsZero() {
		f.actual = providers.Nullable(now)
	}
	if was.IsZero() && now.IsZero() {
		f.summary += ", no money moved"
	}
	if err := x.repaired(ctx, o, f, fmt.Sprintf("run %d applied the provider's %s", x.run.ID, ev.Status)); err != nil {
		return err
	}
	return x.matched(line, after)
}

// moved is the money an order moved in currency cur, as the ledger posted it:
// the settled (paid) amount of a succeeded order, nothing for an order that
// failed, expired, is still open or was reversed (its money went back).
func moved(o orders.Order, cur string) decimal.Decimal {
	if o.Status != orders.StatusSucceeded || !o.PaidAmount.Valid {
		return decimal.Zero
	}
	settled := o.SettledCurrency
	if settled == "" {
		settled = o.Currency
	}
	if settled != cur {
		return decimal.Zero
	}
	return o.PaidAmount.Decimal
}

// completeFee books the fee a provider did not state at settlement once its
// query or statement does, and counts it in the line's FeesCompleted: the
// settlement lacked the fee, nothing disagreed, so no discrepancy is opened.
func (x *execution) completeFee(ctx context.Context, line *OrderLine, o orders.Order, fee decimal.Decimal) (bool, error) {
	source := "recon"
	if x.run.Kind == KindStatement {
		source = "statement"
	}
	booked, err := x.s.orders.CompleteFee(ctx, o.ID, fee, o.SettledCurrency, source, map[string]any{"run_id": x.run.ID})
	if err != nil || !booked {
		return false, err
	}
	line.FeesCompleted++
	return true, nil
}

// repaired records a finding tally fixed itself: opened (or seen), marked
// repaired and closed, so that it is reported without waiting for anyone.
func (x *execution) repaired(ctx context.Context, o orders.Order, f finding, note string) error {
	d, opened, err := x.recordTx(ctx, o, f)
	if err != nil {
		return err
	}
	if err := pgx.BeginFunc(ctx, x.s.pool, func(tx pgx.Tx) error {
		if err := x.s.disc.MarkRepairedTx(ctx, tx, d.ID, "recon", note); err != nil {
			return err
		}
		if d.Status == discrepancies.Open {
			_, err := x.s.disc.CloseTx(ctx, tx, d.ID, discrepancies.Resolved, "repaired", "recon", note, "")
			return err
		}
		return nil
	}); err != nil {
		return err
	}
	return x.touch(ctx, d.ID, opened, true, false)
}

// matched counts an order tally and the provider agree on, and adds the money
// it moved (what the ledger posted: its settled amount if it succeeded,
// nothing otherwise) to the matched amount, never the amount requested. An
// order settled in another currency than its own adds its money to that
// currency's line of the same source.
func (x *execution) matched(line *OrderLine, o orders.Order) error {
	line.Matched++
	cur := o.SettledCurrency
	if cur == "" {
		cur = o.Currency
	}
	m := moved(o, cur)
	if m.IsZero() {
		return nil
	}
	if cur != line.Currency {
		line = x.cp.line(x.acct, cur, line.Source)
	}
	line.MatchedAmount = line.MatchedAmount.Add(m)
	return nil
}

func (x *execution) unmatched(ctx context.Context, line *OrderLine, o orders.Order, t discrepancies.Type, summary string, ev *providers.Event) error {
	line.Unmatched++
	line.UnmatchedAmount = line.UnmatchedAmount.Add(o.Amount)
	f := finding{t: t, currency: o.Currency, expected: providers.Nullable(o.Amount), delta: o.Amount, summary: summary}
	if ev != nil {
		if p, ok := amountIn(*ev, o.Currency); ok {
			f.actual = providers.Nullable(p)
			f.delta = p.Sub(o.Amount)
		}
	}
	return x.record(ctx, o, f)
}

// checkLedger runs the invariant check over the run's merchant's ledger (its
// accounts, balance rows, entries and transfers: never another merchant's, whose
// figures would otherwise land in this merchant's report and discrepancy); a
// failure is the most severe discrepancy. The platform-wide check is the
// operator's (`tally ledger check`).
func (x *execution) checkLedger(ctx context.Context) error {
	rep, err := ledger.CheckMerchant(ctx, x.s.pool, x.run.MerchantID)
	if err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	l := &LedgerLine{OK: rep.OK(), Transfers: rep.Transfers, Entries: rep.Entries}
	for _, v := range rep.Violations {
		l.Violations = append(l.Violations, fmt.Sprint(v))
	}
	x.cp.Ledger = l
	fp := discrepancies.Fingerprint(discrepancies.LedgerInvariant, fmt.Sprint(x.run.MerchantID))
	if !rep.OK() {
		return pgx.BeginFunc(ctx, x.s.pool, func(tx pgx.Tx) error {
			d, opened, err := x.s.disc.RecordTx(ctx, tx, discrepancies.Finding{Type: discrepancies.LedgerInvariant, MerchantID: x.run.MerchantID,
				Fingerprint: fp, Summary: fmt.Sprintf("ledger invariant check failed: %d violations", len(rep.Violations)),
				Delta:  decimal.NewFromInt(int64(len(rep.Violations))),
				Detail: map[string]any{"report": rep.String()}, RunID: x.run.ID, Actor: "recon"})
			if err != nil {
				return err
			}
			return recondb.New(tx).RecordRunFinding(ctx, recondb.RecordRunFindingParams{RunID: x.run.ID, DiscrepancyID: d.ID, New: opened})
		})
	}
	d, err := x.s.disc.ByFingerprint(ctx, x.s.pool, x.run.MerchantID, fp)
	if err == nil && d.Status == discrepancies.Open {
		return x.close(ctx, d.ID, "the ledger invariant check passes again")
	}
	return nil
}

// autoClose closes the account's open discrepancies of the kinds this run
// checks that it did not find again: consistent now, closed with the reason.
func (x *execution) autoClose(ctx context.Context) error {
	types := []string{string(discrepancies.StatusMismatch), string(discrepancies.FeeMismatch), string(discrepancies.StalePending),
		string(discrepancies.MissingCallback), string(discrepancies.AmountMismatch)}
	switch x.run.Kind {
	case KindBalances:
		types = []string{string(discrepancies.BalanceDrift)}
	case KindFull:
		types = append(types, string(discrepancies.BalanceDrift))
	}
	switch {
	case x.run.Kind == KindStatement:
		// A statement lists what settled in its period: it can call consistent
		// only the orders it lists (and compared).
		return x.autoCloseStatement(ctx, append(types, string(discrepancies.StalePending)))
	case x.run.Kind != KindBalances && !x.adapter.Capabilities().QueryOrder:
		return nil // nothing about orders was checked
	}
	// Those about the account itself, or about an order created in the
	// window: the first maxAutoClose of them.
	var rows []recondb.Discrepancy
	err := x.notSeen(ctx, types, maxAutoClose, func(d recondb.Discrepancy, o *orders.Ref) bool {
		if d.OrderID != nil && (o == nil || o.CreatedAt.Before(x.run.WindowStart) || !o.CreatedAt.Before(x.run.WindowEnd)) {
			return true
		}
		rows = append(rows, d)
		return len(rows) < maxAutoClose
	})
	if err != nil {
		return err
	}
	for _, d := range rows {
		// A payer-modified amount and an unknown order found by the pipeline are
		// facts for an accountant, not conditions a run can see resolve.
		if d.Type == string(discrepancies.AmountMismatch) && !reconAmountFinding(d.Fingerprint) {
			continue
		}
		if d.Type == string(discrepancies.UnknownOrder) && d.OrderID != nil {
			continue
		}
		if err := x.close(ctx, d.ID, fmt.Sprintf("consistent in run %d", x.run.ID)); err != nil {
			return err
		}
	}
	return nil
}

// autoCloseStatement closes the open discrepancies of the given kinds about
// the orders the run's statement lists (by order number, or by the provider's
// id on lines without one) that the run did not find again: the statement and
// tally agree on them now. They are read a page at a time, by id.
func (x *execution) autoCloseStatement(ctx context.Context, types []string) error {
	const pageSize = 500
	var page []recondb.Discrepancy
	var refs []*orders.Ref
	flush := func() error {
		listed, err := x.listed(ctx, refs)
		if err != nil {
			return err
		}
		for i, d := range page {
			if !listed[i] {
				continue
			}
			if d.Type == string(discrepancies.AmountMismatch) && !reconAmountFinding(d.Fingerprint) {
				continue // the payer's modified amount: a fact for an accountant
			}
			if err := x.close(ctx, d.ID, fmt.Sprintf("consistent in run %d (statement %d)", x.run.ID, x.run.StatementID)); err != nil {
				return err
			}
		}
		page, refs = page[:0], refs[:0]
		return nil
	}
	var ferr error
	err := x.notSeen(ctx, types, pageSize, func(d recondb.Discrepancy, o *orders.Ref) bool {
		if o != nil {
			page, refs = append(page, d), append(refs, o)
		}
		if len(page) == pageSize {
			ferr = flush()
		}
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("open discrepancies of the statement's orders: %w", err)
	}
	return nil
}

// listed says, for each order, whether the run's statement lists it: a line
// with its order number as the key, or without an order number and with its
// provider id.
func (x *execution) listed(ctx context.Context, refs []*orders.Ref) ([]bool, error) {
	out := make([]bool, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	nos := make([]string, 0, len(refs))
	var pids []string
	for _, o := range refs {
		nos = append(nos, o.ProviderOrderNo)
		if o.ProviderOrderID != "" {
			pids = append(pids, o.ProviderOrderID)
		}
	}
	keys, err := x.s.q.StatementListsKeys(ctx, recondb.StatementListsKeysParams{StatementID: x.run.StatementID, Keys: nos})
	if err != nil {
		return nil, fmt.Errorf("statement keys: %w", err)
	}
	has := make(map[string]bool, len(keys))
	for _, k := range keys {
		has[k] = true
	}
	hasPID := map[string]bool{}
	if len(pids) > 0 {
		ids, err := x.s.q.StatementListsProviderIDs(ctx, recondb.StatementListsProviderIDsParams{StatementID: x.run.StatementID, ProviderOrderIds: pids})
		if err != nil {
			return nil, fmt.Errorf("statement provider ids: %w", err)
		}
		for _, id := range ids {
			hasPID[id] = true
		}
	}
	for i, o := range refs {
		out[i] = has[o.ProviderOrderNo] || (o.ProviderOrderID != "" && hasPID[o.ProviderOrderID])
	}
	return out, nil
}

// reconAmountFinding says whether an amount_mismatch fingerprint is one a run
// makes (and so can see resolve): paid, requested, credited or currency.
func reconAmountFinding(fp string) bool {
	for _, s := range []string{":ledger", ":requested", ":credited", ":currency"} {
		if strings.HasSuffix(fp, s) {
			return true
		}
	}
	return false
}

func (x *execution) close(ctx context.Context, id int64, reason string) error {
	err := pgx.BeginFunc(ctx, x.s.pool, func(tx pgx.Tx) error {
		if _, err := x.s.disc.CloseTx(ctx, tx, id, discrepancies.Resolved, "auto_closed", "recon", reason, ""); err != nil {
			return err
		}
		return recondb.New(tx).RecordRunFinding(ctx, recondb.RecordRunFindingParams{RunID: x.run.ID, DiscrepancyID: id, AutoClosed: true})
	})
	if errors.Is(err, discrepancies.ErrClosed) {
		return nil
	}
	return err
}

func (x *execution) report(phase string) {
	if x.progress != nil {
		x.progress(phase, x.cp.Done)
	}
}

// finding is a discrepancy about one order, before it is stored.
type finding struct {
	t        discrepancies.Type
	suffix   string // distinguishes two problems of one type about one order
	currency string
	expected decimal.NullDecimal
	actual   decimal.NullDecimal
	delta    decimal.Decimal
	summary  string
}

// record stores a finding about an order and ties it to the run.
func (x *execution) record(ctx context.Context, o orders.Order, f finding) error {
	_, _, err := x.recordTx(ctx, o, f)
	return err
}

// recordTx opens (or sees again) a finding about an order and ties it to the
// run, in one transaction.
func (x *execution) recordTx(ctx context.Context, o orders.Order, f finding) (discrepancies.Discrepancy, bool, error) {
	parts := []string{x.acct.Name, o.ProviderOrderNo}
	if f.suffix != "" {
		parts = append(parts, f.suffix)
	}
	var d discrepancies.Discrepancy
	var opened bool
	err := pgx.BeginFunc(ctx, x.s.pool, func(tx pgx.Tx) error {
		var err error
		d, opened, err = x.s.disc.RecordTx(ctx, tx, discrepancies.Finding{
			Type: f.t, MerchantID: x.run.MerchantID, ProviderAccountID: x.acct.ID, OrderID: o.ID,
			Fingerprint: discrepancies.Fingerprint(f.t, parts...), Currency: f.currency, Expected: f.expected, Actual: f.actual,
			Delta: f.delta, Summary: fmt.Sprintf("order %s: %s", o.ProviderOrderNo, f.summary), RunID: x.run.ID, Actor: "recon",
			Detail: map[string]any{"run_id": x.run.ID, "order_status": o.Status},
		})
		if err != nil {
			return err
		}
		// Tied to the run in the same transaction: a discrepancy that names its
		// run is never missing from the run's findings.
		return recondb.New(tx).RecordRunFinding(ctx, recondb.RecordRunFindingParams{RunID: x.run.ID, DiscrepancyID: d.ID, New: opened})
	})
	return d, opened, err
}

// touch ties a discrepancy to the run.
func (x *execution) touch(ctx context.Context, id int64, opened, repaired, closed bool) error {
	return x.s.q.RecordRunFinding(ctx, recondb.RecordRunFindingParams{RunID: x.run.ID, DiscrepancyID: id, New: opened, Repaired: repaired, AutoClosed: closed})
}

// amountIn is what an event says was paid in currency cur (the one reading
// of a provider's stated money, package settle's).
func amountIn(ev providers.Event, cur string) (decimal.Decimal, bool) {
	return settle.AmountIn(ev, cur)
}

func eventStatus(ev providers.Event) string {
	if ev.Reversed && (ev.Status == providers.StatusSucceeded || ev.Status == providers.StatusReversed) {
		return "reversed"
	}
	return string(ev.Status)
}

func rank(s string) int {
	switch s {
	case "created":
		return 0
	case "pending":
		return 1
	case "processing":
		return 2
	case "succeeded", "failed", "expired":
		return 3
	case "reversed":
		return 4
	}
	return -1
}
