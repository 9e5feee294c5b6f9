package recon

import (
	"encoding/json"

	"github.com/tallyhq/tally/ledger"
)

// The JSON of a summary's lines and of a proposal writes each amount as a
// string at its currency's scale (ledger.FormatIn: "100.50", never "100.5";
// digits beyond the scale are kept). Each shadows the amounts of the embedded
// plain type (no MarshalJSON) with their formatted text; reading back (a
// stored summary) takes any decimal string.

type (
	plainOrderLine       OrderLine
	plainDiscrepancyLine DiscrepancyLine
	plainBalanceLine     BalanceLine
	plainOpenItem        OpenItem
	plainAgingLine       AgingLine
	plainFinding         Finding
	plainProposal        Proposal
)

// MarshalJSON writes the line with its amounts at the currency's scale.
func (l OrderLine) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainOrderLine
		MatchedAmount   string `json:"matched_amount"`
		UnmatchedAmount string `json:"unmatched_amount"`
	}{plainOrderLine(l), ledger.FormatIn(l.MatchedAmount, l.Currency), ledger.FormatIn(l.UnmatchedAmount, l.Currency)})
}

// MarshalJSON writes the line with its amount at the currency's scale.
func (l DiscrepancyLine) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainDiscrepancyLine
		AmountDelta string `json:"amount_delta"`
	}{plainDiscrepancyLine(l), ledger.FormatIn(l.AmountDelta, l.Currency)})
}

// MarshalJSON writes the line with its amounts at the currency's scale.
func (l BalanceLine) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainBalanceLine
		Provider   string `json:"provider_balance"`
		Ledger     string `json:"ledger_balance"`
		InFlight   string `json:"in_flight"`
		Difference string `json:"difference"`
		Tolerance  string `json:"tolerance"`
	}{plainBalanceLine(l), ledger.FormatIn(l.Provider, l.Currency), ledger.FormatIn(l.Ledger, l.Currency),
		ledger.FormatIn(l.InFlight, l.Currency), ledger.FormatIn(l.Difference, l.Currency), ledger.FormatIn(l.Tolerance, l.Currency)})
}

// MarshalJSON writes the item with its amount at the currency's scale.
func (it OpenItem) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainOpenItem
		AmountDelta string `json:"amount_delta"`
	}{plainOpenItem(it), ledger.FormatIn(it.AmountDelta, it.Currency)})
}

// MarshalJSON writes the line with its amount at the currency's scale.
func (l AgingLine) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainAgingLine
		AmountAtStake string `json:"amount_at_stake"`
	}{plainAgingLine(l), ledger.FormatIn(l.AmountAtStake, l.Currency)})
}

// MarshalJSON writes the finding with its amount at the currency's scale.
func (f Finding) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainFinding
		AmountDelta string `json:"amount_delta"`
	}{plainFinding(f), ledger.FormatIn(f.AmountDelta, f.Currency)})
}

// MarshalJSON writes the proposal with its amount at the currency's scale.
func (p Proposal) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainProposal
		Amount string `json:"amount"`
	}{plainProposal(p), ledger.FormatIn(p.Amount, p.Currency)})
}

// fillLists makes every list of the summary an empty list rather than null
// (a run stored before a section existed, a run that found nothing).
func (s *Summary) fillLists() {
	if s.Orders == nil {
		s.Orders = []OrderLine{}
	}
	if s.Discrepancies == nil {
		s.Discrepancies = []DiscrepancyLine{}
	}
	if s.Balances == nil {
		s.Balances = []BalanceLine{}
	}
	if s.Aging == nil {
		s.Aging = []AgingLine{}
	}
	if s.OpenItems == nil {
		s.OpenItems = []OpenItem{}
	}
	if s.Findings == nil {
		s.Findings = []Finding{}
	}
}
