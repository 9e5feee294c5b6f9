package cxpay

import (
	"html/template"
	"net/http"
	"net/url"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// cashierPath labels the cashier page for endpoint faults.
const cashierPath = "/pay/{id}"

// cashierTmpl is the simulated cashier: the order, and a form with which a
// person (or a browser test) pays it — the exact or a different amount — or
// cancels it.
var cashierTmpl = template.Must(template.New("cashier").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>CXPay cashier</title></head>
<body>
<h1>CXPay cashier</h1>
<dl>
<dt>Order</dt><dd id="order-no">{{.OrderNo}}</dd>
<dt>Platform order</dt><dd id="plat-order-id">{{.ID}}</dd>
<dt>Amount</dt><dd id="amount">{{.Amount}} {{.Currency}}</dd>
<dt>Status</dt><dd id="status">{{.Status}}</dd>
</dl>
{{if .Open}}
<form method="post" action="{{.Action}}">
<label>Amount to pay <input name="amount" id="pay-amount" value="{{.Amount}}"></label>
<button type="submit" name="action" value="pay" id="pay">Pay</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
</form>
{{end}}
</body>
</html>
`))

type cashierView struct {
	ID, OrderNo, Amount, Currency, Status, Action string
	Open                                          bool
}

// cashierPage serves GET /pay/{id}, the URL /collect/create answers with.
func (s *Simulator) cashierPage(w http.ResponseWriter, r *http.Request) {
	o, ok := s.cashierOrder(w, r)
	if !ok {
		return
	}
	s.renderCashier(w, o)
}

// cashierSubmit serves the cashier form: "pay" pays the amount entered (a
// different amount is a payer-modified amount), "cancel" fails the order.
// Afterwards the payer goes to the order's callbackUrl when it has one.
func (s *Simulator) cashierSubmit(w http.ResponseWriter, r *http.Request) {
	o, ok := s.cashierOrder(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	var err error
	switch r.PostForm.Get("action") {
	case "cancel":
		_, err = s.engine.Fail(o.ID, "cancelled by payer")
	default:
		amount, perr := providers.ParseAmount(r.PostForm.Get("amount"))
		if perr != nil || !amount.IsPositive() {
			http.Error(w, "enter a positive amount", http.StatusBadRequest)
			return
		}
		_, err = s.engine.Pay(o.ID, &amount)
	}
	if err != nil {
		http.Error(w, "this order can no longer be paid", http.StatusConflict)
		return
	}
	if u, perr := url.Parse(o.ReturnURL); perr == nil && (u.Scheme == "http" || u.Scheme == "https") {
		http.Redirect(w, r, o.ReturnURL, http.StatusSeeOther)
		return
	}
	o, _ = s.engine.FindOrder("", o.ID)
	s.renderCashier(w, o)
}

func (s *Simulator) cashierOrder(w http.ResponseWriter, r *http.Request) (*sim.Order, bool) {
	o, err := s.engine.FindOrder("", r.PathValue("id"))
	if err != nil || o.Kind != providers.KindDeposit || o.ID != r.PathValue("id") {
		http.Error(w, "order does not exist", http.StatusNotFound)
		return nil, false
	}
	return o, true
}

func (s *Simulator) renderCashier(w http.ResponseWriter, o *sim.Order) {
	places := int32(DefaultAmountDecimals)
	if m, err := s.engine.Merchant(o.MerchantID); err == nil {
		places = merchantDecimals(m)
	}
	// The action is relative ("<id>/submit" beside "/pay/<id>"), so the form
	// works under whatever prefix the simulator is mounted.
	v := cashierView{
		ID: o.ID, OrderNo: o.OrderNo, Amount: o.Amount.StringFixed(places), Currency: o.Currency,
		Status: string(o.Status), Open: !o.Status.Final(),
		Action: url.PathEscape(o.ID) + "/submit",
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = cashierTmpl.Execute(w, v)
}
