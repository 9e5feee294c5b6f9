package cpay

import (
	"html/template"
	"net/http"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// PathCashier is the simulator's hosted page for cashier and card orders; the
// real C-Pay serves it on cashier.cpay.ltd (crypto) or its card acquirer's
// domain. GET shows the order; POST (the page's button) pays it in full, as a
// payer would.
const PathCashier = "/payment"

var cashierPage = template.Must(template.New("cashier").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>C-Pay cashier</title></head>
<body>
<h1>C-Pay cashier</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{else}}
<dl>
<dt>Order</dt><dd id="order">{{.Order.ID}}</dd>
<dt>Merchant order</dt><dd id="order-no">{{.Order.OrderNo}}</dd>
<dt>Amount</dt><dd id="amount">{{.Order.Amount}} {{.Order.Currency}}</dd>
{{if .Order.Address}}<dt>Send to</dt><dd id="address">{{.Order.Address}}</dd>
<dt>Network</dt><dd id="network">{{.Order.Network}}</dd>{{end}}
<dt>Status</dt><dd id="status">{{.Status}}</dd>
</dl>
{{if .Payable}}<form method="post">
<input type="hidden" name="orderId" value="{{.Order.ID}}">
<input type="hidden" name="sign" value="{{.Sign}}">
<button id="pay" type="submit">{{if .Card}}Pay by card{{else}}I have paid{{end}}</button>
</form>{{end}}
{{if .Done}}{{if .Return}}<p><a id="return" href="{{.Return}}">Return to merchant</a></p>{{end}}{{end}}
{{end}}
</body>
</html>
`))

type cashierView struct {
	Error   string
	Order   *sim.Order
	Status  string
	Sign    string
	Card    bool
	Payable bool
	Done    bool
	Return  string
}

// cashier serves the hosted page. The orderId/sign pair in its URL is signed
// with the merchant's secret, so a page for someone else's order cannot be
// forged.
func (s *Simulator) cashier(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusBadRequest, cashierView{Error: "malformed request"})
		return
	}
	id, sig := r.Form.Get("orderId"), r.Form.Get(SignField)
	o, err := s.engine.FindOrder("", id)
	if err != nil || o.ID != id || o.Kind != providers.KindDeposit {
		s.page(w, http.StatusNotFound, cashierView{Error: "order not found"})
		return
	}
	m, err := s.engine.Merchant(o.MerchantID)
	if err != nil || !providers.EqualSignature(sig, cashierSign(m, o.ID)) {
		s.page(w, http.StatusForbidden, cashierView{Error: msgBadSign})
		return
	}
	if r.Method == http.MethodPost && o.Status == providers.StatusPending {
		if paid, err := s.engine.Pay(o.ID, nil); err == nil {
			o = paid
		}
	}
	h2h := o.Fields[fieldMethod] == orderPWPP
	v := cashierView{Order: o, Sign: sig, Status: StatusCode(o.Status) + " " + string(o.Status), Card: o.Fields[fieldMethod] == orderCreditCard || h2h}
	v.Payable = o.Status == providers.StatusPending
	v.Done = o.Status.Final()
	if o.Status == providers.StatusSucceeded {
		v.Return = o.ReturnURL
	} else if v.Done {
		v.Return = o.FailURL
	}
	if h2h {
		// pwpp: the 3-D Secure page; C-Pay splices the order id onto the return URL.
		v.Return = withTxnRef(v.Return, o.ID)
	}
	s.page(w, http.StatusOK, v)
}

func (s *Simulator) page(w http.ResponseWriter, status int, v cashierView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = cashierPage.Execute(w, v)
}
