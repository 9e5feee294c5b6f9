package usdtpay

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Simulator is a faithful UsdtPay: POST /pay/toConfirmIn verifies the signed
// pay form, creates the order and answers an HTML pay page; once the scripted
// payer pays, it posts the signed callback to receiveUrl (with ?amount=<USDT>)
// every minute until it is answered "success", ten tries in all. Nothing else is
// served: UsdtPay has no query, balance or payout API.
type Simulator struct {
	engine  *sim.Engine
	handler http.Handler
	logger  *slog.Logger
}

var _ sim.Simulator = (*Simulator)(nil)

// DefaultRates are the USDT rates, in order-currency units per USDT, the
// simulator uses when a merchant has no "rate:<CUR>" option.
var DefaultRates = map[string]decimal.Decimal{
	"CNY": decimal.RequireFromString("7.20"),
	"USD": decimal.RequireFromString("1"),
	"MYR": decimal.RequireFromString("4.70"),
}

// NewSimulator builds a UsdtPay simulator. Each merchant's ID is its crmNo and
// its Secret the MD5 key; Options "rate:CNY", "rate:USD", "rate:MYR" set its
// USDT rate (order-currency units per USDT, e.g. "7.20"; "none" sends no USDT
// amount); DepositFeeRate is UsdtPay's fee, taken from the order currency
// balance the simulator keeps per merchant.
func NewSimulator(cfg sim.Config) *Simulator {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Simulator{
		engine: cfg.NewEngine(Provider, protocol{}, 2),
		logger: logger.With("simulator", Provider),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PayPath, s.engine.Endpoint(PayPath, s.pay))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorPage(w, http.StatusNotFound, "not_found", "页面不存在 / page not found")
	})
	s.handler = mux
	return s
}

// Provider returns "usdtpay".
func (s *Simulator) Provider() string { return Provider }

// Handler serves /pay/toConfirmIn (relative to the mount point).
func (s *Simulator) Handler() http.Handler { return s.handler }

// Engine is the order book, balances, faults and callbacks behind the simulator.
func (s *Simulator) Engine() *sim.Engine { return s.engine }

// Close stops callback deliveries.
func (s *Simulator) Close() { s.engine.Close() }

// CrmNoFromOrderNo reads the merchant number a Leanwork CRM order number
// carries: 12 digits of time (yyMMddHHmmss), then the 8-character crmNo
// ("180606174026TW0014780000081000012" carries "TW001478"). It returns "" for
// an order number of another shape.
func CrmNoFromOrderNo(orderNo string) string {
	if len(orderNo) < 12+maxCrmNoLen {
		return ""
	}
	for i := 0; i < 12; i++ {
		if orderNo[i] < '0' || orderNo[i] > '9' {
			return ""
		}
	}
	return orderNo[12 : 12+maxCrmNoLen]
}

// Error codes of the simulator's error pages (<p id="error" data-code="...">).
const (
	CodeMethodNotAllowed = "method_not_allowed"
	CodeBadRequest       = "bad_request"
	CodeUnknownMerchant  = "merchant_unknown"
	CodeSignError        = "sign_error"
	CodeParamError       = "param_error"
	CodeOrderExists      = "order_exists"
	CodeSystemError      = "system_error"
)

// maxPayFormBytes bounds a pay form.
const maxPayFormBytes = 64 << 10

// pay serves POST /pay/toConfirmIn.
func (s *Simulator) pay(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeErrorPage(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "请使用POST提交 / submit the form with POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPayFormBytes)
	if err := r.ParseForm(); err != nil {
		writeErrorPage(w, http.StatusBadRequest, CodeBadRequest, "无法读取表单 / unreadable form")
		return
	}
	f := r.PostForm
	p := PayRequest{
		PickupURL: f.Get("pickupUrl"), ReceiveURL: f.Get("receiveUrl"), SignType: f.Get("signType"),
		OrderNo: f.Get("orderNo"), OrderAmount: f.Get("orderAmount"), OrderCurrency: f.Get("orderCurrency"),
		CustomerID: f.Get("customerId"), Sign: f.Get("sign"), CrmNo: f.Get("crmNo"),
	}
	merchantID := p.CrmNo
	if merchantID == "" {
		merchantID = CrmNoFromOrderNo(p.OrderNo)
	}
	m, err := s.engine.Merchant(merchantID)
	if merchantID == "" || err != nil {
		writeErrorPage(w, http.StatusBadRequest, CodeUnknownMerchant, "商户不存在 / unknown merchant (crmNo)")
		return
	}
	if !p.Verify(m.Secret) {
		s.logger.Info("usdtpay simulator: pay form signature does not verify", "crm_no", m.ID, "order_no", p.OrderNo)
		writeErrorPage(w, http.StatusBadRequest, CodeSignError, "签名错误 / signature verification failed")
		return
	}
	amount, err := checkPayRequest(p)
	if err != nil {
		writeErrorPage(w, http.StatusBadRequest, CodeParamError, "参数错误 / invalid parameter: "+err.Error())
		return
	}
	rate := merchantRate(m, p.OrderCurrency)
	o := sim.Order{
		MerchantID: m.ID,
		OrderNo:    p.OrderNo,
		Kind:       providers.KindDeposit,
		Amount:     amount,
		Currency:   p.OrderCurrency,
		UserID:     p.CustomerID,
		NotifyURL:  p.ReceiveURL,
		ReturnURL:  p.PickupURL,
		Fields:     map[string]string{"orderAmount": p.OrderAmount, "signType": p.SignType, "crmNo": p.CrmNo},
	}
	if rate.IsPositive() {
		o.QuoteCurrency, o.QuoteAmount, o.Rate = USDT, usdtFor(amount, rate), rate
	}
	created, err := s.engine.CreateOrder(o)
	switch {
	case errors.Is(err, sim.ErrDuplicateOrder):
		writeErrorPage(w, http.StatusBadRequest, CodeOrderExists, "订单号重复 / order number already used")
		return
	case err != nil:
		writeErrorPage(w, http.StatusInternalServerError, CodeSystemError, "系统错误 / system error")
		return
	}
	page := payPageData{
		TransactionID: created.ID,
		CrmNo:         m.ID,
		OrderNo:       created.OrderNo,
		Amount:        p.OrderAmount,
		Currency:      created.Currency,
		CustomerID:    created.UserID,
		ReturnURL:     created.ReturnURL,
	}
	if rate.IsPositive() {
		page.USDT, page.Rate = created.QuoteAmount.StringFixed(2), rate.String()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = payPage.Execute(w, page)
}

// checkPayRequest refuses what UsdtPay would refuse in a pay form whose
// signature verified, and returns the order amount.
func checkPayRequest(p PayRequest) (decimal.Decimal, error) {
	required := [][2]string{{"pickupUrl", p.PickupURL}, {"receiveUrl", p.ReceiveURL}, {"signType", p.SignType}, {"orderNo", p.OrderNo},
		{"orderAmount", p.OrderAmount}, {"orderCurrency", p.OrderCurrency}, {"customerId", p.CustomerID}}
	for _, f := range required {
		if strings.TrimSpace(f[1]) == "" {
			return decimal.Decimal{}, fmt.Errorf("%s is empty", f[0])
		}
	}
	limits := []struct {
		name  string
		value string
		max   int
	}{{"pickupUrl", p.PickupURL, maxURLLen}, {"receiveUrl", p.ReceiveURL, maxURLLen}, {"signType", p.SignType, 5},
		{"orderNo", p.OrderNo, maxOrderNoLen}, {"orderAmount", p.OrderAmount, maxAmountLen}, {"orderCurrency", p.OrderCurrency, 3},
		{"customerId", p.CustomerID, maxCustomerIDLen}, {"crmNo", p.CrmNo, maxCrmNoLen}}
	for _, l := range limits {
		// The length column counts characters (a Chinese customerId of 32
		// characters fits), not the bytes of their UTF-8 encoding.
		if utf8.RuneCountInString(l.value) > l.max {
			return decimal.Decimal{}, fmt.Errorf("%s is longer than %d characters", l.name, l.max)
		}
	}
	if !strings.EqualFold(p.SignType, SignTypeMD5) {
		return decimal.Decimal{}, fmt.Errorf("signType %q is not supported", p.SignType)
	}
	if err := checkHTTPURL(p.ReceiveURL); err != nil {
		return decimal.Decimal{}, fmt.Errorf("receiveUrl: %w", err)
	}
	if !slices.Contains(Currencies, p.OrderCurrency) {
		return decimal.Decimal{}, fmt.Errorf("orderCurrency %q is not CNY, USD or MYR", p.OrderCurrency)
	}
	amount, err := providers.ParseAmount(p.OrderAmount)
	if err != nil || !amount.IsPositive() || providers.CheckDecimals(amount, 2) != nil {
		return decimal.Decimal{}, fmt.Errorf("orderAmount %q is not a positive amount with at most 2 decimals", p.OrderAmount)
	}
	return amount, nil
}

// merchantRate is the merchant's USDT rate for currency (units per USDT), or
// zero when it has none ("none", or a value that is not a positive decimal).
func merchantRate(m sim.Merchant, currency string) decimal.Decimal {
	v, ok := m.Options["rate:"+currency]
	if !ok {
		return DefaultRates[currency]
	}
	r, err := providers.ParseAmount(v)
	if err != nil || !r.IsPositive() {
		return decimal.Decimal{}
	}
	return r
}

// usdtFor converts an order-currency amount to USDT at rate, rounded down to
// two decimals: what the merchant obtains.
func usdtFor(amount, rate decimal.Decimal) decimal.Decimal {
	if !rate.IsPositive() {
		return decimal.Decimal{}
	}
	return amount.DivRound(rate, 8).RoundDown(2)
}

// protocol renders UsdtPay's callbacks for the engine.
type protocol struct{}

// Callback renders the success callback: a form POST to receiveUrl with
// ?amount=<USDT> appended, fields in the document's order. UsdtPay calls back
// only after a successful payment: other states render nothing. orderAmount
// echoes the request's value when the payer paid it exactly, else the paid
// amount with two decimals.
func (protocol) Callback(m *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	status, ok := callbackStatus(o.Status)
	if !ok || o.NotifyURL == "" {
		return nil, nil
	}
	f := CallbackFields{
		SignType:      firstNonEmpty(o.Fields["signType"], SignTypeMD5),
		OrderNo:       o.OrderNo,
		OrderAmount:   wireAmount(o.Paid),
		OrderCurrency: o.Currency,
		TransactionID: o.ID,
		Status:        status,
	}
	if raw := o.Fields["orderAmount"]; raw != "" && o.Paid.Equal(o.Amount) {
		f.OrderAmount = raw
	}
	f.Sign = f.ComputeSign(m.Secret)
	usdt := usdtFor(o.Paid, o.Rate)
	if forged {
		// A tampered copy: ten times the amount under the genuine signature.
		ten := decimal.NewFromInt(10)
		f.OrderAmount = wireAmount(o.Paid.Mul(ten))
		usdt = usdt.Mul(ten)
	}
	u := o.NotifyURL
	if usdt.IsPositive() {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "amount=" + url.QueryEscape(usdt.StringFixed(2))
	}
	var body strings.Builder
	for i, kv := range f.pairs() {
		if i > 0 {
			body.WriteByte('&')
		}
		body.WriteString(url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]))
	}
	return &sim.Outbound{
		Method:      http.MethodPost,
		URL:         u,
		ContentType: "application/x-www-form-urlencoded",
		Body:        []byte(body.String()),
	}, nil
}

// Schedule: ten tries, one minute apart.
func (protocol) Schedule() []time.Duration {
	s := make([]time.Duration, 9)
	for i := range s {
		s[i] = time.Minute
	}
	return s
}

// Ack is "success".
func (protocol) Ack() string { return Ack }

// wireAmount writes an amount as UsdtPay does, with two decimals, or exactly
// when it has more (money is never rounded).
func wireAmount(d decimal.Decimal) string {
	if providers.CheckDecimals(d, 2) == nil {
		return d.StringFixed(2)
	}
	return d.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

type payPageData struct {
	TransactionID, CrmNo, OrderNo, Amount, Currency, CustomerID, ReturnURL, USDT, Rate string
}

var payPage = template.Must(template.New("pay").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>UsdtPay 支付 / Payment</title></head>
<body>
<h1>UsdtPay</h1>
<dl id="order" data-transaction-id="{{.TransactionID}}" data-order-no="{{.OrderNo}}" data-amount="{{.Amount}}" data-currency="{{.Currency}}" data-usdt="{{.USDT}}" data-rate="{{.Rate}}">
<dt>流水号 / Serial number</dt><dd>{{.TransactionID}}</dd>
<dt>商户号 / Merchant</dt><dd>{{.CrmNo}}</dd>
<dt>订单号 / Order number</dt><dd>{{.OrderNo}}</dd>
<dt>客户账号 / Account</dt><dd>{{.CustomerID}}</dd>
<dt>订单金额 / Amount</dt><dd>{{.Amount}} {{.Currency}}</dd>
{{- if .USDT}}
<dt>应付USDT / USDT to pay</dt><dd>{{.USDT}} USDT</dd>
<dt>汇率 / Rate</dt><dd>1 USDT = {{.Rate}} {{.Currency}}</dd>
{{- end}}
</dl>
<p>请完成USDT支付，支付成功后将自动入金。/ Complete the USDT payment; your deposit is credited automatically.</p>
<p><a href="{{.ReturnURL}}">返回商户 / Back to the merchant</a></p>
</body>
</html>
`))

var errorTemplate = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>UsdtPay 错误 / Error</title></head>
<body>
<h1>UsdtPay</h1>
<p id="error" data-code="{{.Code}}">{{.Message}}</p>
</body>
</html>
`))

// writeErrorPage answers an HTML error page: never a pay page.
func writeErrorPage(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorTemplate.Execute(w, struct{ Code, Message string }{code, msg})
}
