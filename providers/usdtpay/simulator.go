package usdtpay

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
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
		engine: cfg.NewEngine(Name, protocol{}, 2),
		logger: logger.With("simulator", Name),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PathPay, s.engine.Endpoint(PathPay, s.pay))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorPage(w, http.StatusNotFound, "not_found", "页面不存在 / page not found")
	})
	s.handler = mux
	return s
}

// Provider returns "usdtpay".
func (s *Simulator) Provider() string { return Name }

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

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
