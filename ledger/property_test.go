package ledger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
)

// The property test drives random sequences of transfers, holds, full and partial
// posts, voids, expiries and replays against the ledger and against a model of
// what the balances must be, and after every step checks that the two agree
// exactly, that ledger.Check finds nothing, and that a refused operation changed
// nothing. TestLedgerRandomOps runs seeded sequences in every test run;
// FuzzLedgerOps lets `go test -fuzz` search for a sequence that breaks it.

func TestLedgerRandomOps(t *testing.T) {
	t.Parallel()
	steps := 150
	if testing.Short() {
		steps = 40
	}
	var mu sync.Mutex
	total := map[string]int{}
	t.Cleanup(func() {
		if t.Failed() || testing.Short() {
			return
		}
		t.Logf("outcomes: %v", total)
		// The seeds must reach every kind of operation and refusal.
		for _, want := range []string{
			"op0 ok", "op1 " + ledger.ErrInsufficientFunds.Error(), "op2 ok", "op3 ok", "op4 ok",
			"op5 " + ledger.ErrPostExceedsHold.Error(), "op3 " + ledger.ErrHoldNotPending.Error(),
			"op4 " + ledger.ErrHoldExpired.Error(), "op6 ok", "op6 " + ledger.ErrHoldNotPending.Error(),
			"expire true", "op8 ok", "op8 " + ledger.ErrIdempotencyConflict.Error(),
		} {
			if total[want] == 0 {
				t.Errorf("no step had outcome %q", want)
			}
		}
	})
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed*7919))
			stats := runOps(t, func(n int) int { return rng.IntN(n) }, steps)
			mu.Lock()
			for k, v := range stats {
				total[k] += v
			}
			mu.Unlock()
		})
	}
}

func FuzzLedgerOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{1, 0, 0, 9, 2, 1, 0, 3, 0, 5, 1, 1, 1, 4, 0, 2, 0, 7, 6, 0})
	f.Add([]byte{1, 2, 3, 1, 1, 0, 4, 2, 9, 1, 3, 3, 3, 2, 0, 0, 5, 5, 1, 6, 2, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		// About forty operations per input: each input gets its own database,
		// and after every step the model is compared and Check proves every
		// invariant, as in TestLedgerRandomOps (Check is a few small queries on
		// a database this size).
		if len(data) > 120 {
			data = data[:120]
		}
		pos := 0
		// Each choice consumes one byte (zero once they run out); an operation
		// takes about three.
		next := func(n int) int {
			if pos >= len(data) {
				return 0
			}
			b := int(data[pos])
			pos++
			return b % n
		}
		runOps(t, next, len(data)/3+1)
	})
}

// account of the model.
type mAccount struct {
	code     string
	normal   ledger.Side
	negative bool
	dp, cp   decimal.Decimal // posted debits, credits
	dq, cq   decimal.Decimal // pending debits, credits
}

func (a *mAccount) available() decimal.Decimal {
	if a.normal == ledger.Credit {
		return a.cp.Sub(a.dp).Sub(a.dq)
	}
	return a.dp.Sub(a.cp).Sub(a.cq)
}

type mHold struct {
	id      int64
	entries []ledger.Entry
	state   ledger.TransferState
	overdue bool // its deadline has passed
}

type mSent struct {
	req ledger.TransferRequest
	id  int64
}

type model struct {
	accounts map[string]*mAccount
	order    []string
	holds    []*mHold
	sent     []mSent
}

// apply adds entries in phase to the model, or reports that an account that
// may not go negative would (the ledger must then refuse).
func (m *model) apply(entries []ledger.Entry, phase ledger.Phase) bool {
	next := map[string]mAccount{}
	for _, e := range entries {
		a, ok := next[e.Account]
		if !ok {
			a = *m.accounts[e.Account]
		}
		switch {
		case phase == ledger.PhasePosted && e.Side == ledger.Debit:
			a.dp = a.dp.Add(e.Amount)
		case phase == ledger.PhasePosted:
			a.cp = a.cp.Add(e.Amount)
		case phase == ledger.PhasePending && e.Side == ledger.Debit:
			a.dq = a.dq.Add(e.Amount)
		case phase == ledger.PhasePending:
			a.cq = a.cq.Add(e.Amount)
		case e.Side == ledger.Debit: // release
			a.dq = a.dq.Sub(e.Amount)
		default:
			a.cq = a.cq.Sub(e.Amount)
		}
		next[e.Account] = a
	}
	for _, a := range next {
		if !a.negative && a.available().Sign() < 0 {
			return false
		}
	}
	for code, a := range next {
		*m.accounts[code] = a
	}
	return true
}

// runOps runs up to steps operations chosen by next and returns how often each
// kind of outcome happened.
func runOps(t *testing.T, next func(int) int, steps int) map[string]int {
	stats := map[string]int{}
	e := newEnv(t)
	m := &model{accounts: map[string]*mAccount{}}
	codes := []string{cust1, cust2, ledger.CustomerAccount("c3", "USDT"), prov, ledger.ProviderAccount("p2", "USDT"), fees, susp, openUS}
	for _, c := range codes {
		spec, err := ledger.ParseAccount(c)
		if err != nil {
			t.Fatal(err)
		}
		m.accounts[c] = &mAccount{code: c, normal: spec.Rule.NormalSide, negative: spec.Rule.AllowNegative}
		m.order = append(m.order, c)
		if _, err := e.l.EnsureAccount(e.ctx, e.m, c); err != nil {
			t.Fatal(err)
		}
	}
	// Open with some money on the customers and suspense.
	for _, c := range []string{cust1, cust2, susp} {
		req := e.move(key("open"), openUS, c, "100")
		tr := e.transfer(req)
		m.apply(req.Entries, ledger.PhasePosted)
		m.sent = append(m.sent, mSent{req, tr.ID})
	}
	amount := func() (decimal.Decimal, bool) {
		var a decimal.Decimal
		switch next(4) {
		case 0:
			a = decimal.NewFromInt(int64(1 + next(60)))
		case 1:
			a = decimal.New(int64(1+next(200)*997), -6) // micro amounts
		case 2:
			a = decimal.New(int64(1+next(250)*40), -2)
		default:
			a = decimal.NewFromInt(int64(50 + next(200)))
		}
		return a, a.Sign() > 0
	}
	pick := func() string { return m.order[next(len(m.order))] }
	// pickHold prefers open holds (two times in three), else any hold.
	pickHold := func() *mHold {
		var open []*mHold
		for _, h := range m.holds {
			if h.state == ledger.StatePending {
				open = append(open, h)
			}
		}
		if len(open) > 0 && next(3) != 0 {
			return open[next(len(open))]
		}
		return m.holds[next(len(m.holds))]
	}
	for step := 0; step < steps; step++ {
		op := next(9)
		before := e.snapshot()
		expiredNow := 0
		var desc string
		var err, want error
		switch op {
		case 0, 1, 2: // a transfer between two accounts, posted or held
			from, to := pick(), pick()
			amt, ok := amount()
			if !ok || from == to {
				continue
			}
			req := e.move(key("op"), from, to, amt.String())
			req.Pending = op == 2
			overdue := false
			if req.Pending {
				switch next(3) {
				case 0:
					req.ExpiresAt = time.Now().Add(-time.Hour)
					overdue = true
				case 1:
					req.ExpiresAt = time.Now().Add(time.Hour)
				}
			}
			phase := ledger.PhasePosted
			if req.Pending {
				phase = ledger.PhasePending
			}
			desc = fmt.Sprintf("transfer %s %s -> %s pending=%v", amt, from, to, req.Pending)
			if !m.apply(req.Entries, phase) {
				want = ledger.ErrInsufficientFunds
			}
			var tr ledger.Transfer
			tr, err = transferVia(e, next(3), req)
			if err == nil && want == nil {
				m.sent = append(m.sent, mSent{req, tr.ID})
				if req.Pending {
					m.holds = append(m.holds, &mHold{id: tr.ID, entries: req.Entries, state: ledger.StatePending, overdue: overdue})
				}
			}
		case 3, 4, 5: // post a hold: in full, partially, or more than it holds
			if len(m.holds) == 0 {
				continue
			}
			h := pickHold()
			r := ledger.Resolution{Merchant: e.m, Key: key("post"), Hold: h.id}
			posted := h.entries
			held := h.entries[0].Amount
			switch op {
			case 4:
				part := held.Mul(decimal.NewFromInt(int64(1 + next(9)))).Div(decimal.NewFromInt(10)).Truncate(6)
				if part.Sign() <= 0 {
					part = decimal.New(1, -6)
				}
				r.Amount = part
				posted = []ledger.Entry{
					{Account: h.entries[0].Account, Side: h.entries[0].Side, Amount: part},
					{Account: h.entries[1].Account, Side: h.entries[1].Side, Amount: part},
				}
			case 5:
				r.Amount = held.Add(decimal.New(1, -6))
			}
			desc = fmt.Sprintf("post hold %d amount %s (%s, overdue %v)", h.id, r.Amount, h.state, h.overdue)
			switch {
			case h.state != ledger.StatePending:
				want = ledger.ErrHoldNotPending
			case h.overdue:
				want = ledger.ErrHoldExpired
			case op == 5:
				want = ledger.ErrPostExceedsHold
			default:
				if !m.apply(h.entries, ledger.PhaseRelease) || !m.apply(posted, ledger.PhasePosted) {
					t.Fatalf("step %d: model: posting a hold cannot overdraw", step)
				}
				h.state = ledger.StateCommitted
			}
			_, err = e.l.PostPending(e.ctx, r)
		case 6: // void
			if len(m.holds) == 0 {
				continue
			}
			h := pickHold()
			desc = fmt.Sprintf("void hold %d (%s, overdue %v)", h.id, h.state, h.overdue)
			switch {
			case h.state != ledger.StatePending:
				want = ledger.ErrHoldNotPending
			case h.overdue:
				want = ledger.ErrHoldExpired
			default:
				m.apply(h.entries, ledger.PhaseRelease)
				h.state = ledger.StateVoided
			}
			_, err = e.l.VoidPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: key("void"), Hold: h.id})
		case 7: // expire every overdue hold
			desc = "expire"
			wantN := 0
			for _, h := range m.holds {
				if h.state == ledger.StatePending && h.overdue {
					m.apply(h.entries, ledger.PhaseRelease)
					h.state = ledger.StateExpired
					wantN++
				}
			}
			var n int
			n, err = e.l.ExpirePending(e.ctx, time.Now())
			expiredNow = n
			if err == nil && n != wantN {
				t.Fatalf("step %d: expired %d holds, model says %d", step, n, wantN)
			}
		case 8: // replay an earlier transfer, or reuse its key for other content
			if len(m.sent) == 0 {
				continue
			}
			s := m.sent[next(len(m.sent))]
			req := s.req
			if next(2) == 0 {
				desc = "replay " + req.Key
				var tr ledger.Transfer
				tr, err = e.l.Transfer(e.ctx, req)
				if err == nil && (!tr.Replayed || tr.ID != s.id) {
					t.Fatalf("step %d: replay of %s = %+v, want replay of %d", step, req.Key, tr, s.id)
				}
			} else {
				desc = "conflict " + req.Key
				other := req
				other.Entries = append([]ledger.Entry(nil), req.Entries...)
				other.Entries[0].Amount = other.Entries[0].Amount.Add(decimal.NewFromInt(1))
				other.Entries[1].Amount = other.Entries[0].Amount
				want = ledger.ErrIdempotencyConflict
				_, err = e.l.Transfer(e.ctx, other)
			}
		}
		outcome := fmt.Sprintf("op%d ok", op)
		if want != nil {
			outcome = fmt.Sprintf("op%d %v", op, want)
		}
		if op == 7 {
			outcome = fmt.Sprintf("expire %v", expiredNow > 0)
		}
		stats[outcome]++
		if want != nil {
			if !errors.Is(err, want) {
				t.Fatalf("step %d %s: err = %v, want %v", step, desc, err, want)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("step %d %s: refused, yet changed the ledger:\nbefore %s\nafter  %s", step, desc, before, after)
			}
		} else if err != nil {
			t.Fatalf("step %d %s: %v", step, desc, err)
		}
		compareModel(t, e, m, step, desc)
		rep, cerr := ledger.Check(e.ctx, e.pool)
		if cerr != nil || !rep.OK() {
			t.Fatalf("step %d %s: check: %v %s", step, desc, cerr, rep)
		}
	}
	e.requireCheck()
	return stats
}

// transferVia stores req through the pool form (0), inside a committed caller
// transaction (1), or as a batch of one (2).
func transferVia(e *env, via int, req ledger.TransferRequest) (ledger.Transfer, error) {
	switch via {
	case 1:
		tx, err := e.pool.Begin(e.ctx)
		if err != nil {
			return ledger.Transfer{}, err
		}
		defer tx.Rollback(e.ctx)
		tr, err := e.l.TransferTx(e.ctx, tx, req)
		if cerr := tx.Commit(e.ctx); cerr != nil {
			return ledger.Transfer{}, cerr
		}
		return tr, err
	case 2:
		out, err := e.l.TransferBatch(e.ctx, []ledger.TransferRequest{req})
		if err != nil {
			return ledger.Transfer{}, err
		}
		return out[0], nil
	default:
		return e.l.Transfer(e.ctx, req)
	}
}

// compareModel requires every account's four sums to equal the model's exactly.
func compareModel(t *testing.T, e *env, m *model, step int, desc string) {
	t.Helper()
	bals, err := e.l.Balances(e.ctx, e.m)
	if err != nil {
		t.Fatal(err)
	}
	if len(bals) != len(m.accounts) {
		t.Fatalf("step %d %s: %d accounts, model %d", step, desc, len(bals), len(m.accounts))
	}
	for _, b := range bals {
		a := m.accounts[b.Account]
		if !b.DebitsPosted.Equal(a.dp) || !b.CreditsPosted.Equal(a.cp) || !b.DebitsPending.Equal(a.dq) || !b.CreditsPending.Equal(a.cq) {
			t.Fatalf("step %d %s: %s is %s/%s/%s/%s, model %s/%s/%s/%s", step, desc, b.Account,
				b.DebitsPosted, b.CreditsPosted, b.DebitsPending, b.CreditsPending, a.dp, a.cp, a.dq, a.cq)
		}
		if !b.Available.Equal(a.available()) {
			t.Fatalf("step %d %s: %s available %s, model %s", step, desc, b.Account, b.Available, a.available())
		}
	}
}
