package cpay

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Simulator is a faithful C-Pay: the documented paths and methods, form
// parameters in, code/msg/data/traceid envelopes out, HMAC-SHA256 signatures
// checked on every request, per-user wallet addresses, cashier and card pages,
// per-merchant balances with fees, exchange rates, and JSON webhooks retried
// until the merchant answers OK. The engine behind it (Engine) holds the
// orders and balances and serves the control API.
//
// Merchant Options the simulator reads (sim.Merchant.Options):
//
//	rate:SRC:DST       source units per one target unit, e.g. "rate:USDT:BTC" = "40000";
//	                   the inverse pair is derived; a pair with no rate quotes 0 on
//	                   getExchangeRate (as the document's example does) and is refused
//	                   by exchange and the card quote
//	ccrate:SRC:DST     the card quote's rate (getExchangeRateForCreditCard), default rate:SRC:DST
//	exchange_fee_rate  fraction of the target amount kept as exchange's fee, default 0
//
// Merchant.NotifyURL is the callback URL "configured in the merchant platform",
// used when an order names none and for deposits without an order.
type Simulator struct {
	engine *sim.Engine
	base   string
	mux    *http.ServeMux
	log    *slog.Logger
	trace  atomic.Uint64
	h2h    h2hState
}

var _ sim.Simulator = (*Simulator)(nil)

// NewSimulator builds a simulator; cfg.BaseURL is where it is mounted (cashier
// URLs point under it).
func NewSimulator(cfg sim.Config) *Simulator {
	s := &Simulator{
		engine: cfg.NewEngine(Name, protocol{}, AmountDecimals),
		base:   strings.TrimRight(cfg.BaseURL, "/"),
		mux:    http.NewServeMux(),
		log:    cfg.Logger,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.handle(PathGetWalletAddress, http.MethodGet, s.getWalletAddress)
	s.handle(PathCreateOrder, http.MethodPost, s.createOrder)
	s.handle(PathCreateOrderByCreditCard, http.MethodPost, s.createOrderByCreditCard)
	s.handle(PathWithdraw, http.MethodPost, s.withdraw)
	s.handle(PathCreateFiatPayoutOrder, http.MethodPost, s.createFiatPayoutOrder)
	s.handle(PathCreateFiatPayoutOrderAsDocumented, http.MethodPost, s.createFiatPayoutOrder)
	s.handle(PathGetMerchantBalance, http.MethodGet, s.getMerchantBalance)
	s.handle(PathGetExchangeRate, http.MethodGet, s.getExchangeRate)
	s.handle(PathGetExchangeRateForCreditCard, http.MethodGet, s.getExchangeRateForCreditCard)
	s.handle(PathGetOrderDetail, http.MethodGet, s.getOrderDetail)
	s.handle(PathExchange, http.MethodPost, s.exchange)
	s.handle(PathSubmitKYC, http.MethodPost, s.submitKYC)
	s.handle(PathPWPP, http.MethodPost, s.pwpp)
	s.mux.HandleFunc(PathCashier, s.engine.Endpoint(PathCashier, s.cashier))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339), "status": 404, "error": "Not Found", "path": r.URL.Path})
	})
	return s
}

// Provider is "cpay".
func (s *Simulator) Provider() string { return Name }

// Handler serves C-Pay's API, paths relative to the mount point.
func (s *Simulator) Handler() http.Handler { return s.mux }

// Engine is the order book, balances, faults and callbacks behind the API.
func (s *Simulator) Engine() *sim.Engine { return s.engine }

// Close stops the simulator's deliveries.
func (s *Simulator) Close() { s.engine.Close() }

// C-Pay's error answers: code 1 ("fail") with a message; the messages for a
// missing merchantId or sign and a failed check are those of C-Pay's Go demo.
const (
	codeOK   = 0
	codeFail = 1

	msgBadSign       = "verify sign fail"
	msgNoMerchant    = "merchant not exist"
	msgDuplicate     = "merchantTradeNo already exists"
	msgInsufficient  = "insufficient balance"
	msgOrderNotFound = "order not exist"
	msgNoPair        = "unsupported currency pair"
)

// request is a verified request: its parameters and its merchant.
type request struct {
	p params
	m sim.Merchant
}

// handle registers an endpoint: method check, form parsing, merchant look-up,
// signature check and the document's String(N) lengths (fieldLimits), wrapped
// by the engine's endpoint faults.
func (s *Simulator) handle(path, method string, h func(http.ResponseWriter, *request)) {
	s.mux.HandleFunc(path, s.engine.Endpoint(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			s.reply(w, http.StatusMethodNotAllowed, codeFail, fmt.Sprintf("Request method '%s' not supported", r.Method), nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			s.fail(w, "invalid param: "+err.Error())
			return
		}
		p := params{}
		for k, vs := range r.Form {
			if len(vs) > 0 {
				p[k] = vs[0]
			}
		}
		mid := p["merchantId"]
		if mid == "" {
			s.fail(w, "invalid param merchantId")
			return
		}
		if p[SignField] == "" {
			s.fail(w, "invalid param sign")
			return
		}
		m, err := s.engine.Merchant(mid)
		if err != nil {
			s.fail(w, msgNoMerchant)
			return
		}
		if !Verify(p, m.Secret, p[SignField]) {
			s.log.Info("cpay simulator: bad signature", "path", path, "merchant_id", mid)
			s.fail(w, msgBadSign)
			return
		}
		if name := overLong(path, p); name != "" {
			s.fail(w, "invalid param "+name)
			return
		}
		h(w, &request{p: p, m: m})
	}))
}

// ok answers code 0 with data.
func (s *Simulator) ok(w http.ResponseWriter, data any) {
	s.reply(w, http.StatusOK, codeOK, "success", data)
}

// fail answers code 1 with msg (HTTP 200, as C-Pay answers refusals).
func (s *Simulator) fail(w http.ResponseWriter, msg string) {
	s.reply(w, http.StatusOK, codeFail, msg, nil)
}

// failEngine answers an engine error the C-Pay way.
func (s *Simulator) failEngine(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, sim.ErrUnknownMerchant):
		s.fail(w, msgNoMerchant)
	case errors.Is(err, sim.ErrDuplicateOrder):
		s.fail(w, msgDuplicate)
	case errors.Is(err, sim.ErrInsufficientBalance):
		s.fail(w, msgInsufficient)
	case errors.Is(err, sim.ErrOrderNotFound):
		s.fail(w, msgOrderNotFound)
	default:
		s.log.Warn("cpay simulator", "error", err)
		s.reply(w, http.StatusInternalServerError, codeFail, "system error", nil)
	}
}

func (s *Simulator) reply(w http.ResponseWriter, status, code int, msg string, data any) {
	writeJSON(w, status, struct {
		Code    int    `json:"code"`
		Msg     string `json:"msg"`
		Data    any    `json:"data"`
		TraceID string `json:"traceid"`
	}{code, msg, data, s.traceID()})
}

// traceID looks like C-Pay's: yyMMddHHmmss, "X", seven digits.
func (s *Simulator) traceID() string {
	n := s.trace.Add(1)
	return fmt.Sprintf("%sX%07d", s.engine.Now().UTC().Format("060102150405"), n%10_000_000)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonID writes a numeric id as a JSON number (C-Pay's order detail and card
// order answers carry merchantId as a number), anything else as a string.
func jsonID(id string) any {
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		return json.Number(id)
	}
	return id
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Fields the simulator keeps on engine orders (sim.Order.Fields).
const (
	fieldMethod      = "method"
	fieldTotalAmount = "totalAmount"
	fieldRemark      = "remark"
	fieldExtInfo     = "extInfo"
	fieldCashierSign = "cashierSign"
)

// Order methods stored in fieldMethod; exchange orders also have their own kind.
const (
	orderCashier    = "cashier"
	orderCreditCard = "credit_card"
	orderWithdraw   = "withdraw"
	orderFiatPayout = "fiat_payout"
	orderExchange   = "exchange"
	orderPWPP       = "pwpp"
)

// kindExchange is the engine order kind of an exchange.
const kindExchange providers.OrderKind = "exchange"
