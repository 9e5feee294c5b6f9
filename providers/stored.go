package providers

import (
	"encoding/json"
	"time"
)

// legacyParty is a Party as an earlier tally stored it: keys spelt as Go's
// field names ("TaxID", "AccountType"), from before Party had JSON tags.
type legacyParty struct {
	TaxID       string
	AccountType string
	BankCode    string
}

// UnmarshalStoredParty reads a Party stored as JSON (an order's request, a
// resolution proposal's beneficiary) in either spelling: snake_case
// ("tax_id"), as tally writes it now, or Go's field names ("TaxID"), as rows
// written before it did. Single-word keys match either way (encoding/json
// matches them without regard to case). The merchant API does not use it: a
// request spelling "TaxID" is refused as an unknown field.
func UnmarshalStoredParty(b []byte, p *Party) error {
	if err := json.Unmarshal(b, p); err != nil {
		return err
	}
	var old legacyParty
	if err := json.Unmarshal(b, &old); err != nil {
		return err
	}
	for _, f := range []struct {
		dst *string
		old string
	}{{&p.TaxID, old.TaxID}, {&p.AccountType, old.AccountType}, {&p.BankCode, old.BankCode}} {
		if *f.dst == "" {
			*f.dst = f.old
		}
	}
	return nil
}

// UnmarshalJSON reads a Part in either spelling: snake_case keys, or the Go
// field names of parts stored before Part had JSON tags ("OccurredAt").
func (p *Part) UnmarshalJSON(b []byte) error {
	type plain Part
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.OccurredAt.IsZero() {
		var old struct{ OccurredAt time.Time }
		if err := json.Unmarshal(b, &old); err == nil {
			v.OccurredAt = old.OccurredAt
		}
	}
	*p = Part(v)
	return nil
}
