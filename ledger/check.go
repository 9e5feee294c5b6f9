package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// Violation is one broken invariant found by Check.
type Violation struct {
	// Invariant names the rule, e.g. "balance rows equal their entries".
	Invariant string
	// Detail names the transfer, entry or account and the figures that disagree.
	Detail string
}

// Report is the result of Check or CheckMerchant: what it looked at and what
// it found.
type Report struct {
	// MerchantID is the merchant CheckMerchant checked; 0 for the whole
	// platform (Check).
	MerchantID int64
	Transfers  int64
	Entries    int64
	Accounts   int64
	// OpenHolds are pending transfers; OverdueHolds those of them past their
	// deadline that ExpirePending has not expired yet (not a violation).
	OpenHolds    int64
	OverdueHolds int64
	Violations   []Violation
}

// OK reports whether Check found no violation.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// String is a human-readable summary: the counts, then each broken invariant with
// up to ten of its violations.
func (r Report) String() string {
	var b strings.Builder
	b.WriteString("ledger check")
	if r.MerchantID != 0 {
		fmt.Fprintf(&b, " of merchant %d", r.MerchantID)
	}
	fmt.Fprintf(&b, ": %d transfers, %d entries, %d accounts, %d open holds (%d overdue): ",
		r.Transfers, r.Entries, r.Accounts, r.OpenHolds, r.OverdueHolds)
	if r.OK() {
		b.WriteString("ok")
		return b.String()
	}
	fmt.Fprintf(&b, "%d violations", len(r.Violations))
	shown := map[string]int{}
	var order []string
	for _, v := range r.Violations {
		if _, ok := shown[v.Invariant]; !ok {
			order = append(order, v.Invariant)
		}
		shown[v.Invariant]++
	}
	for _, inv := range order {
		more := " (the first 100)"
		if shown[inv] < maxViolations {
			more = ""
		}
		fmt.Fprintf(&b, "\n  %s: %d violations%s", inv, shown[inv], more)
		n := 0
		for _, v := range r.Violations {
			if v.Invariant == inv && n < 10 {
				fmt.Fprintf(&b, "\n    %s", v.Detail)
				n++
			}
		}
		if shown[inv] > n {
			fmt.Fprintf(&b, "\n    ...")
		}
	}
	return b.String()
}

// maxViolations is how many violations of one invariant Check reports (the LIMIT
// of its queries).
const maxViolations = 100

// Check proves the ledger's invariants over the whole database, in one
// repeatable-read snapshot, and reports every violation (at most 100 per
// invariant):
//
//   - every transfer balances per currency (in each phase on its own) and has at
//     least two entries;
//   - every entry is on an account of its transfer's merchant, in the account's
//     currency and within the currency's scale, in the phase its transfer allows;
//   - every balances row equals the sums of its entries, copies its account's
//     attributes, and no account that forbids it is negative;
//   - the pending columns of every account equal what its open holds hold;
//   - every hold is in the state its resolutions say (pending: none; committed:
//     one that posts; voided or expired: one that posts nothing), every resolution
//     released exactly what its hold held, and no post exceeded its hold.
//
// Its report names every merchant's accounts and figures: it is the operator's
// (`tally ledger check`), never shown to a merchant; a merchant's own check is
// CheckMerchant. An error is returned only when the check itself could not run.
func Check(ctx context.Context, pool *pgxpool.Pool) (Report, error) {
	return check(ctx, pool, 0)
}

// CheckMerchant proves the same invariants as Check over one merchant's ledger
// only: its accounts with their balance rows and entries, and its transfers.
// Its counts and violations say nothing about other merchants, so that its
// report may be filed with that merchant (a reconciliation run's ledger line
// and ledger_invariant discrepancy). An entry that mixes merchants (on one
// merchant's account, in another's transfer) is a violation of each merchant
// it names. merchantID must be positive (ErrInvalid).
func CheckMerchant(ctx context.Context, pool *pgxpool.Pool, merchantID int64) (Report, error) {
	if merchantID <= 0 {
		return Report{}, fmt.Errorf("ledger check of merchant %d: %w", merchantID, ErrInvalid)
	}
	return check(ctx, pool, merchantID)
}

// check is Check (merchantID 0) or CheckMerchant.
func check(ctx context.Context, pool *pgxpool.Pool, merchantID int64) (Report, error) {
	rep := Report{MerchantID: merchantID}
	scope := pgtype.Int8{Int64: merchantID, Valid: merchantID != 0}
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q := ledgerdb.New(tx)
		c, err := q.CheckCounts(ctx, scope)
		if err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		rep.Transfers, rep.Entries, rep.Accounts, rep.OpenHolds, rep.OverdueHolds =
			c.Transfers, c.Entries, c.Accounts, c.OpenHolds, c.OverdueHolds
		checks := []struct {
			invariant string
			run       func(context.Context, pgtype.Int8) ([]string, error)
		}{
			{"transfers balance per currency", q.CheckUnbalancedTransfers},
			{"transfers have two or more entries", q.CheckEntryCounts},
			{"entries have their transfer's phase", q.CheckEntryPhases},
			{"entries match their account", q.CheckEntryAccounts},
			{"balance rows equal their entries", q.CheckBalanceRows},
			{"balance rows match their account", q.CheckBalanceAttributes},
			{"no forbidden negative balance", q.CheckNegativeBalances},
			{"pending balances equal open holds", q.CheckPendingMatchesHolds},
			{"holds are in the state their resolutions say", q.CheckHoldStates},
			{"resolutions release what their hold held", q.CheckReleases},
			{"posts stay within their hold", q.CheckPostsWithinHolds},
		}
		for _, ch := range checks {
			details, err := ch.run(ctx, scope)
			if err != nil {
				return fmt.Errorf("%s: %w", ch.invariant, err)
			}
			for _, d := range details {
				rep.Violations = append(rep.Violations, Violation{Invariant: ch.invariant, Detail: d})
			}
		}
		return nil
	})
	if err != nil {
		if merchantID != 0 {
			return Report{}, fmt.Errorf("ledger check of merchant %d: %w", merchantID, err)
		}
		return Report{}, fmt.Errorf("ledger check: %w", err)
	}
	return rep, nil
}
