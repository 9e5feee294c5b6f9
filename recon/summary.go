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
	FinishedAt      time.Time `json:"finished_at,omitempty"`
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
	// Findings lists every discrepancy the run touched, one row each.
	Findings []Finding `json:"findings"`
}

// OrderLine counts the orders of one provider account and currency.
type OrderLine struct {
	ProviderAccount string          `json:"provider_account"`
	Provider        string          `json:"provider"`
	Currency        string          `json:"currency"`
	Checked         int64           `json:"checked"`
	Matched         int64           `json:"matched"`
	MatchedAmount   decimal.Decimal `json:"matched_amount"`
	Unmatched       int64           `json:"unmatched"`
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
