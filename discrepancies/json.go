package discrepancies

import (
	"encoding/json"

	"github.com/tallyhq/tally/ledger"
)

// plainDiscrepancy is Discrepancy without its MarshalJSON.
type plainDiscrepancy Discrepancy

// MarshalJSON writes the discrepancy as the merchant API (and the
// discrepancy webhooks) show it: amount_delta and suspense_amount as strings
// at the currency's scale (ledger.FormatIn: "100.50", never "100.5"), and
// detail an object ({} when none was stored).
func (d Discrepancy) MarshalJSON() ([]byte, error) {
	detail := d.Detail
	if len(detail) == 0 || string(detail) == "null" {
		detail = json.RawMessage(`{}`)
	}
	return json.Marshal(struct {
		plainDiscrepancy
		AmountDelta    string          `json:"amount_delta"`
		SuspenseAmount string          `json:"suspense_amount"`
		Detail         json.RawMessage `json:"detail"`
	}{plainDiscrepancy(d), ledger.FormatIn(d.AmountDelta, d.Currency), ledger.FormatIn(d.SuspenseAmount, d.Currency), detail})
}
