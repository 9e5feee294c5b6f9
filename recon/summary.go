package recon

import (
	"time"

	"github.com/shopspring/decimal"
)

// Summary is what a reconciliation run found, the body of every report (CSV,
// JSON, XLSX, the API and the demo's printout). Amounts are decimal strings in
// JSON, never floats.
type Summary struct {
	RunID           int64     `json:"run_id"`
	Merchant        string    `json:"merchant"`
	Kind            RunKind   `json:"kind"`
	ProviderAccount string    `json:"provider_account,omitempty"` // empty: every account of the merchant
	WindowStart     time.Time `json:"window_start"`
	WindowEnd       time.Time `json:"window_end"`
	Status          RunStatus `json:"status"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at,omitzero"` // left out while the run is still going
	Error           string    `json:"error,omitempty"`

	// Orders has one line per provider account and currency.
	Orders []OrderLine `json:"orders"`
	// Discrepancies has one line per provider account, currency and type, for
	// the discrepancies this run found (new or seen again) and closed.
	Discrepancies []DiscrepancyLine `json:"discrepancies"`
	// Balances has one line per provider account and currency compared.
	Balances []BalanceLine `json:"balances"`
	// Ledger is the invariant check made in every run.
	Ledger LedgerLine `json:"ledger"`
	// Notes are what the run could not check, or (a day's report) left out.
	Notes []string `json:"notes,omitempty"`
	// Aging (a day's report) counts the open items per provider account,
	// currency and age bucket; empty in a run's report.
	Aging []AgingLine `json:"aging"`
	// OpenItems (a day's report) lists every discrepancy open at the end of
	// the day, whatever run (or the pipeline) found it, oldest first; empty
	// in a run's report.
	OpenItems []OpenItem `json:"open_items"`
	// Findings lists every discrepancy the run touched, one row each. It is
	// the last field, after OpenItems: the JSON writer streams those two.
	Findings []Finding `json:"findings"`
}

// The age buckets of open items: how long before the end of the day the
// discrepancy was first seen. A bucket holds ages from its lower bound
// (included) to its upper bound (excluded).
const (
	AgeUnder1Day = "<1d"   // under 24 hours
	Age1To7Days  = "1-7d"  // 24 hours to under 7 days
	Age7To30Days = "7-30d" // 7 days to under 30 days
	AgeOver30Day = ">30d"  // 30 days or more
)

// AgeBuckets lists the age buckets, youngest first.
var AgeBuckets = []string{AgeUnder1Day, Age1To7Days, Age7To30Days, AgeOver30Day}

// AgeBucket is the bucket of an item first seen at firstSeen, at time at.
func AgeBucket(firstSeen, at time.Time) string {
	switch age := at.Sub(firstSeen); {
	case age < 24*time.Hour:
		return AgeUnder1Day
	case age < 7*24*time.Hour:
		return Age1To7Days
	case age < 30*24*time.Hour:
		return Age7To30Days
	}
	return AgeOver30Day
}

// OpenItem is a discrepancy open at the end of a day: first seen before the
// day ended and not resolved or ignored before then.
type OpenItem struct {
	DiscrepancyID   int64           `json:"discrepancy_id"`
	Type            string          `json:"type"`
	Severity        string          `json:"severity"`
	ProviderAccount string          `json:"provider_account"`
	OrderID         int64           `json:"order_id,omitempty"`
	OrderNo         string          `json:"order_no,omitempty"`
	Currency        string          `json:"currency"`
	AmountDelta     decimal.Decimal `json:"amount_delta"` // provider less tally, as the discrepancy states it
	FirstSeenAt     time.Time       `json:"first_seen_at"`
	Age             string          `json:"age"` // its bucket (AgeBuckets) at the end of the day
	Summary         string          `json:"summary"`
}

// AgingLine counts the open items of one provider account, currency and age
// bucket. AmountAtStake sums their differences without their sign (a surplus
// and a shortfall do not cancel out); items without a currency (a ledger
// invariant) are counted but add no amount.
type AgingLine struct {
	ProviderAccount string          `json:"provider_account"`
	Currency        string          `json:"currency"`
	Age             string          `json:"age"`
	Count           int64           `json:"count"`
	AmountAtStake   decimal.Decimal `json:"amount_at_stake"`
}

// OrderLine counts the orders of one provider account and currency.
type OrderLine struct {
	ProviderAccount string `json:"provider_account"`
	Provider        string `json:"provider"`
	Currency        string `json:"currency"`
	Checked         int64  `json:"checked"`
	Matched         int64  `json:"matched"`
	// MatchedAmount is the money the matched orders moved, as the ledger
	// posted it: the settled amount of each one that succeeded, nothing for
	// one that failed, expired, is still open or was reversed. Never the
	// amounts requested. An order settled in another currency than its own
	// adds its money to that currency's line.
	MatchedAmount decimal.Decimal `json:"matched_amount"`
	Unmatched     int64           `json:"unmatched"`
	// UnmatchedAmount is what the unmatched orders were for (their requested
	// amounts): the money in question.
	UnmatchedAmount decimal.Decimal `json:"unmatched_amount"`
	// Repaired are orders the run fixed through the state machine (a missing
	// callback applied from the provider's answer).
	Repaired int64 `json:"repaired"`
	// FeesCompleted are settled orders whose fee the provider did not state at
	// settlement and this run's query or statement did: the fee was booked.
	// Neither a mismatch nor a repair: the settlement simply lacked it.
	FeesCompleted int64 `json:"fees_completed"`
	// Source says what the orders were compared with: "query" or
	// "statement"; "overdue" counts the open orders whose deadline fell in
	// the window though they were created before it (queried, or judged on
	// tally's word where the provider has no order query).
	Source string `json:"source"`
}

// DiscrepancyLine counts discrepancies of one type.
type DiscrepancyLine struct {
	ProviderAccount string          `json:"provider_account"`
	Currency        string          `json:"currency"`
	Type            string          `json:"type"`
	Found           int64           `json:"found"`       // opened or seen again by this run
	New             int64           `json:"new"`         // of which opened by this run
	AutoClosed      int64           `json:"auto_closed"` // closed by this run as consistent again
	AmountDelta     decimal.Decimal `json:"amount_delta"`
}

// BalanceLine compares a provider's balance with the ledger.
type BalanceLine struct {
	ProviderAccount string          `json:"provider_account"`
	Currency        string          `json:"currency"`
	Provider        decimal.Decimal `json:"provider_balance"` // available + frozen at the provider
	Ledger          decimal.Decimal `json:"ledger_balance"`   // posted balance of the clearing account
	InFlight        decimal.Decimal `json:"in_flight"`        // amounts the provider has moved that the ledger has not yet (or vice versa)
	Difference      decimal.Decimal `json:"difference"`       // provider - (ledger + in flight)
	Tolerance       decimal.Decimal `json:"tolerance"`
	OK              bool            `json:"ok"`
}

// LedgerLine is the result of the invariant check.
type LedgerLine struct {
	OK         bool     `json:"ok"`
	Transfers  int64    `json:"transfers"`
	Entries    int64    `json:"entries"`
	Violations []string `json:"violations,omitempty"`
}

// Finding is one discrepancy a run touched.
type Finding struct {
	DiscrepancyID   int64           `json:"discrepancy_id"`
	Type            string          `json:"type"`
	Severity        string          `json:"severity"`
	Status          string          `json:"status"`
	ProviderAccount string          `json:"provider_account"`
	OrderID         int64           `json:"order_id,omitempty"`
	OrderNo         string          `json:"order_no,omitempty"`
	Currency        string          `json:"currency"`
	Expected        string          `json:"expected,omitempty"`
	Actual          string          `json:"actual,omitempty"`
	AmountDelta     decimal.Decimal `json:"amount_delta"`
	Summary         string          `json:"summary"`
	New             bool            `json:"new"`
	AutoClosed      bool            `json:"auto_closed"`
	Repaired        bool            `json:"repaired"`
}

// RunKind is what a run compares.
type RunKind string

// Run kinds.
const (
	KindOrders    RunKind = "orders"    // orders against the providers' query APIs
	KindStatement RunKind = "statement" // orders against an imported statement
	KindBalances  RunKind = "balances"  // provider balances against the ledger
	KindFull      RunKind = "full"      // orders and balances
)

// RunStatus is a run's state.
type RunStatus string

// Run states. A run is never left running forever: a crashed run's job resumes
// from its checkpoint, and a run whose job is gone is failed by the next sweep.
const (
	RunRunning   RunStatus = "running"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed"
)
