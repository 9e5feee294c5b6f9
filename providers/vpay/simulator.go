package vpay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// PayDecimals is the precision of the amount a payer owes in USDT or TRX (both
// are 6-decimal tokens on TRON): quoteAmount / rate is rounded UP to it, so
// that the merchant never receives less than its quote.
const PayDecimals = 6

// Simulator is a faithful in-memory MinPay: the create endpoint of section
// 6.3.2 with its envelope and codes, the hosted pay page, signature checks,
// per-merchant balances in the paid currency with deposit fees, and signed
// JSON callbacks retried on MinPay's schedule until "success" comes back.
//
// Merchant options: "rate:CNY" is the merchant's quote rate, CNY per USDT
// (MinPay's back-office setting); "rate:CNY:TRX" the rate for payers in TRX;
// "merchant_id" the numeric merchant number sent as merchantId (default:
// derived from the key).
type Simulator struct {
	cfg  sim.Config
	eng  *sim.Engine
	base string
	mux  *http.ServeMux

	mu       sync.Mutex
	byPubKey map[string]string // publicKey -> provider order id
}

var _ sim.Simulator = (*Simulator)(nil)

// NewSimulator starts a MinPay simulator. cfg.BaseURL is its public mount
// point; pay page URLs point under it.
func NewSimulator(cfg sim.Config) *Simulator {
	s := &Simulator{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), byPubKey: map[string]string{}}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s.eng = cfg.NewEngine(Name, protocol{now: now}, PayDecimals)
	s.mux = http.NewServeMux()
	s.mux.Handle("POST "+PathCreate, s.eng.Endpoint(PathCreate, s.create))
	s.mux.Handle("GET "+PathPayPage+"{publicKey}", s.eng.Endpoint(PathPayPage, s.payPage))
	return s
}

// Provider returns "vpay".
func (s *Simulator) Provider() string { return Name }

// Handler serves MinPay's API relative to the mount point.
func (s *Simulator) Handler() http.Handler { return s.mux }

// Engine is the order book, balances, faults and callbacks behind the API.
func (s *Simulator) Engine() *sim.Engine { return s.eng }

// Close stops callback deliveries.
func (s *Simulator) Close() { s.eng.Close() }

// maxRequestBytes bounds a create request.
const maxRequestBytes = 64 << 10

// create serves POST PathCreate.
func (s *Simulator) create(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeEnvelope(w, http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType, "Content-Type must be application/json", nil)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(b) > maxRequestBytes {
		writeEnvelope(w, http.StatusOK, CodeInvalidParam, "request body unreadable or too large", nil)
		return
	}
	root, err := parseJSON(b)
	if err != nil || root.kind != kindObject {
		writeEnvelope(w, http.StatusOK, CodeInvalidParam, "request body is not a JSON object", nil)
		return
	}
	str := func(name string) string {
		v, _ := root.field(name).scalar()
		return strings.TrimSpace(v)
	}
	key := str("key")
	if key == "" {
		writeEnvelope(w, http.StatusOK, CodeInvalidParam, "key is required", nil)
		return
	}
	m, err := s.eng.Merchant(key)
	if err != nil {
		writeEnvelope(w, http.StatusOK, CodeUnknownMerchant, "merchant key does not exist", nil)
		return
	}
	if !verifyObject(root, m.Secret) {
		writeEnvelope(w, http.StatusOK, CodeBadSignature, "sign error", nil)
		return
	}
	o, code, msg := s.orderFromRequest(root, &m)
	if code != CodeOK {
		writeEnvelope(w, http.StatusOK, code, msg, nil)
		return
	}
	created, err := s.eng.CreateOrder(*o)
	switch {
	case errors.Is(err, sim.ErrDuplicateOrder):
		writeEnvelope(w, http.StatusOK, CodeDuplicateOrder, "localOrderId already exists", nil)
		return
	case errors.Is(err, sim.ErrUnknownMerchant):
		writeEnvelope(w, http.StatusOK, CodeUnknownMerchant, "merchant key does not exist", nil)
		return
	case err != nil:
		writeEnvelope(w, http.StatusInternalServerError, 500, "system error", nil)
		return
	}
	pub := created.Fields["publicKey"]
	s.mu.Lock()
	s.byPubKey[pub] = created.ID
	s.mu.Unlock()
	var localUserID any
	if created.UserID != "" {
		localUserID = created.UserID
	}
	writeEnvelope(w, http.StatusOK, CodeOK, "", map[string]any{
		"orderId":      json.Number(created.ID),
		"localUserId":  localUserID,
		"localOrderId": created.OrderNo,
		"orderType":    TypePayment,
		"orderBizType": BizFixedDigitalScan,
		"paymentUrl":   s.base + PathPayPage + pub,
		"publicKey":    pub,
		"addresses":    addressesFor(created.Currency, m.ID, created.ID),
	})
}

// orderFromRequest validates a verified create request and prices it: the
// payer owes quoteAmount / rate in userCurrency, rounded up to PayDecimals.
func (s *Simulator) orderFromRequest(root *node, m *sim.Merchant) (*sim.Order, int, string) {
	str := func(name string) string {
		v, _ := root.field(name).scalar()
		return strings.TrimSpace(v)
	}
	for _, name := range []string{"localOrderId", "userCurrency", "quoteCurrency", "quoteAmount"} {
		if str(name) == "" {
			return nil, CodeInvalidParam, name + " is required"
		}
	}
	// localOrderId is kept exactly as sent (callbacks echo it) and has no
	// length limit: the document gives none.
	orderNo, _ := root.field("localOrderId").scalar()
	userCur, quoteCur := str("userCurrency"), str("quoteCurrency")
	if userCur != "USDT" && userCur != "TRX" {
		return nil, CodeCurrencyRejected, "userCurrency " + userCur + " is not supported (USDT, TRX)"
	}
	quote, _, err := root.field("quoteAmount").amount()
	if err != nil || !quote.IsPositive() || providers.CheckDecimals(quote, QuoteDecimals) != nil {
		return nil, CodeInvalidParam, "quoteAmount must be a positive amount with at most 2 decimals"
	}
	if v := root.field("isBlockchain"); v != nil && v.kind != kindBool && v.kind != kindNull {
		return nil, CodeInvalidParam, "isBlockchain must be a boolean"
	}
	for _, name := range []string{"notifyUrl", "successRedirectUrl"} {
		if v := str(name); v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, CodeInvalidParam, name + " must be an absolute http(s) URL"
			}
		}
	}
	rate, ok := merchantRate(m, quoteCur, userCur)
	if !ok {
		return nil, CodeRateNotSet, fmt.Sprintf("no %s rate set for %s in the merchant back office", quoteCur, userCur)
	}
	id := s.eng.NextID()
	o := &sim.Order{
		ID:             id,
		MerchantID:     m.ID,
		OrderNo:        orderNo,
		Kind:           providers.KindDeposit,
		Amount:         PayAmount(quote, rate),
		Currency:       userCur,
		SettleCurrency: userCur,
		QuoteCurrency:  quoteCur,
		QuoteAmount:    quote,
		Rate:           rate,
		UserID:         str("localUserId"),
		NotifyURL:      str("notifyUrl"),
		ReturnURL:      str("successRedirectUrl"),
		Network:        "TRON",
		Fields:         map[string]string{"publicKey": publicKey(m.ID, id)},
	}
	return o, CodeOK, ""
}

// PayAmount is what the payer owes for quote at rate (quote currency per paid
// unit): quote / rate rounded up to PayDecimals.
func PayAmount(quote, rate decimal.Decimal) decimal.Decimal {
	q, rem := quote.QuoRem(rate, PayDecimals)
	if !rem.IsZero() {
		q = q.Add(decimal.New(1, -PayDecimals))
	}
	return q
}

// merchantRate reads the merchant's quote rate: "rate:CNY:TRX" for a payer in
// TRX, else "rate:CNY" (per USDT) for USDT.
func merchantRate(m *sim.Merchant, quoteCur, userCur string) (decimal.Decimal, bool) {
	v, ok := m.Options["rate:"+quoteCur+":"+userCur]
	if !ok && userCur == "USDT" {
		v, ok = m.Options["rate:"+quoteCur]
	}
	if !ok {
		return decimal.Decimal{}, false
	}
	d, err := providers.ParseAmount(v)
	if err != nil || !d.IsPositive() {
		return decimal.Decimal{}, false
	}
	return d, true
}

// writeEnvelope writes MinPay's {code, success, message, data} answer.
func writeEnvelope(w http.ResponseWriter, status, code int, message string, data any) {
	var msg any
	if message != "" {
		msg = message
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "success": code == CodeOK, "message": msg, "data": data})
}
