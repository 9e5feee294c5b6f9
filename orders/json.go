package orders

import (
	"encoding/json"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/providers"
)

// orderJSON is an Order as the merchant API and the webhooks write it: the
// amounts are strings at their currency's scale (ledger.FormatIn: "100.50",
// never "100.5"), an amount not known yet is left out (not null), and the
// parts' amounts are at the settled currency's scale too. Its fields shadow
// the embedded Order's of the same JSON name.
type orderJSON struct {
	plainOrder
	Amount         string     `json:"amount"`
	PaidAmount     string     `json:"paid_amount,omitempty"`
	CreditedAmount string     `json:"credited_amount,omitempty"`
	Fee            string     `json:"fee,omitempty"`
	FXRate         string     `json:"fx_rate,omitempty"`
	Parts          []partJSON `json:"parts,omitempty"`
}

// plainOrder is Order without its MarshalJSON.
type plainOrder Order

// partJSON is a providers.Part with its amount at the currency's scale.
type partJSON struct {
	providers.Part
	Amount string `json:"amount"`
}

// MarshalJSON writes the order as the merchant API shows it (orderJSON).
func (o Order) MarshalJSON() ([]byte, error) {
	settled := o.SettledCurrency
	if settled == "" {
		settled = o.PayCurrency
	}
	if settled == "" {
		settled = o.Currency
	}
	v := orderJSON{plainOrder: plainOrder(o), Amount: ledger.FormatIn(o.Amount, o.Currency),
		PaidAmount: optIn(o.PaidAmount, settled), CreditedAmount: optIn(o.CreditedAmount, settled), Fee: optIn(o.Fee, settled)}
	if o.PayForm != nil && o.PayForm.Fields == nil {
		pf := *o.PayForm
		pf.Fields = []providers.FormField{} // a list is [], never null
		v.PayForm = &pf
	}
	if o.FXRate.Valid {
		v.FXRate = o.FXRate.Decimal.String() // a rate, not an amount: its own digits
	}
	for _, p := range o.Parts {
		v.Parts = append(v.Parts, partJSON{Part: p, Amount: ledger.FormatIn(p.Amount, settled)})
	}
	return json.Marshal(v)
}

// optIn is an amount known or not: "" (left out) when not.
func optIn(d decimal.NullDecimal, currency string) string {
	if !d.Valid {
		return ""
	}
	return ledger.FormatIn(d.Decimal, currency)
}

// UnmarshalJSON reads a stored request (the orders.request column): its
// party in either spelling (providers.UnmarshalStoredParty), since requests
// stored by an earlier tally spelt the party's keys as Go's field names.
func (r *CreateRequest) UnmarshalJSON(b []byte) error {
	type plain CreateRequest
	var v struct {
		plain
		Party json.RawMessage `json:"party"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = CreateRequest(v.plain)
	if len(v.Party) > 0 && string(v.Party) != "null" {
		if err := providers.UnmarshalStoredParty(v.Party, &r.Party); err != nil {
			return err
		}
	}
	return nil
}

// hashedParty is a Party as requestHash writes it: Go's field names as keys,
// the encoding of the requests hashed before Party had JSON tags, so that an
// idempotent retry of such a request still matches its order.
type hashedParty struct {
	Name, Email, Phone, TaxID, Account, AccountType, BankCode, Network, Country, Category string
}

// hashedRequest is a CreateRequest as requestHash writes it: the same fields,
// in the same order, with the party as hashedParty.
type hashedRequest struct {
	MerchantID      int64             `json:"-"`
	Kind            Kind              `json:"kind"`
	ProviderAccount string            `json:"provider_account"`
	MerchantOrderNo string            `json:"merchant_order_no,omitempty"`
	CustomerID      string            `json:"customer_id"`
	Amount          decimal.Decimal   `json:"amount"`
	Currency        string            `json:"currency"`
	PayCurrency     string            `json:"pay_currency,omitempty"`
	Method          string            `json:"method,omitempty"`
	Party           hashedParty       `json:"party"`
	ReturnURL       string            `json:"return_url,omitempty"`
	FailURL         string            `json:"fail_url,omitempty"`
	Extra           map[string]string `json:"extra,omitempty"`
	IdempotencyKey  string            `json:"-"`
}
