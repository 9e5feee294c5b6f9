package cxpay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Merchant options the simulator reads from sim.Merchant.Options.
const (
	// SimOptionPayCodes lists the collection payCodes enabled for the merchant,
	// comma-separated; empty accepts any.
	SimOptionPayCodes = "pay_code"
	// SimOptionPayoutPayCodes lists the payout payCodes; empty means SimOptionPayCodes.
	SimOptionPayoutPayCodes = "payout_pay_code"
	// SimOptionCurrency is the merchant's currency; default DefaultCurrency.
	SimOptionCurrency = "currency"
	// SimOptionAmountDecimals is how many decimals amounts may carry; default 2.
	// IDR payouts carry none whatever it says.
	SimOptionAmountDecimals = "amount_decimals"
)

// maxRequestBytes bounds a request body the simulator reads.
const maxRequestBytes = 1 << 20

// Simulator is an in-memory CXPay: the four documented endpoints, the cashier
// page the collection URL points to, and callbacks to notifyUrl on the
// documented retry schedule. It implements sim.Simulator.
type Simulator struct {
	base   string
	engine *sim.Engine
	log    *slog.Logger
	mux    *http.ServeMux
}

var _ sim.Simulator = (*Simulator)(nil)

// NewSimulator starts a simulator for cfg's merchants. Merchants' Options
// select their currency, decimals and enabled payCodes (SimOption* keys).
func NewSimulator(cfg sim.Config) *Simulator {
	s := &Simulator{
		base:   strings.TrimRight(cfg.BaseURL, "/"),
		engine: cfg.NewEngine(Name, protocol{}, 2),
		log:    cfg.Logger,
		mux:    http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	api := map[string]func(sim.Merchant, map[string]string) (any, error){
		PathCollectCreate: s.collectCreate,
		PathPayCreate:     s.payCreate,
		PathOrderQuery:    s.orderQuery,
		PathOrderBalance:  s.orderBalance,
	}
	for path, h := range api {
		s.mux.HandleFunc("POST "+path, s.engine.Endpoint(path, s.api(h)))
	}
	s.mux.HandleFunc("GET /pay/{id}", s.engine.Endpoint(cashierPath, s.cashierPage))
	s.mux.HandleFunc("POST /pay/{id}/submit", s.engine.Endpoint(cashierPath, s.cashierSubmit))
	return s
}

// Provider returns "cxpay".
func (s *Simulator) Provider() string { return Name }

// Handler serves CXPay's API with paths relative to the mount point:
// POST /collect/create, /pay/create, /order/query, /order/balance, and the
// cashier page GET /pay/{platOrderId}.
func (s *Simulator) Handler() http.Handler { return s.mux }

// Engine is the order book, balances, faults and callbacks behind the API.
func (s *Simulator) Engine() *sim.Engine { return s.engine }

// Close stops callback deliveries.
func (s *Simulator) Close() { s.engine.Close() }

// apiError is a business error answered with code 400 and desc.
type apiError struct{ desc string }

func (e *apiError) Error() string { return e.desc }

func refuse(desc string) error { return &apiError{desc: desc} }

// api wraps an endpoint: it reads JSON or form parameters, finds the merchant,
// checks the signature, runs h and writes CXPay's envelope. Every answer is
// HTTP 200; code 400 carries a business error in desc, code 500 anything else.
func (s *Simulator) api(h func(sim.Merchant, map[string]string) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		params, err := readParams(r)
		if err != nil {
			writeEnvelope(w, 400, nil, DescUnparsableRequest)
			return
		}
		if params["merchant"] == "" {
			writeEnvelope(w, 400, nil, "merchant"+descRequiredSuffix)
			return
		}
		m, err := s.engine.Merchant(params["merchant"])
		if err != nil {
			writeEnvelope(w, 400, nil, DescMerchantNotExist)
			return
		}
		if params[SignField] == "" || !Verify(params, m.Secret) {
			s.log.Warn("cxpay simulator: bad request signature", "merchant", m.ID, "path", r.URL.Path)
			writeEnvelope(w, 400, nil, DescSignError)
			return
		}
		data, err := h(m, params)
		var ae *apiError
		switch {
		case err == nil:
			writeEnvelope(w, 200, data, "")
		case errors.As(err, &ae):
			writeEnvelope(w, 400, nil, ae.desc)
		default:
			s.log.Error("cxpay simulator", "path", r.URL.Path, "error", err)
			writeEnvelope(w, 500, nil, "system error")
		}
	}
}

// collectCreate serves /collect/create: data {url} of the cashier page.
func (s *Simulator) collectCreate(m sim.Merchant, p map[string]string) (any, error) {
	cur := merchantCurrency(m)
	if err := requireParams(p, append(slices.Clone(depositAlways), depositRequired(cur)...)); err != nil {
		return nil, err
	}
	if !payCodeEnabled(m.Options[SimOptionPayCodes], p["payCode"]) {
		return nil, refuse(DescPayCodeNotEnabled)
	}
	amount, err := checkOrder(p, merchantDecimals(m))
	if err != nil {
		return nil, err
	}
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: m.ID, OrderNo: p["orderId"], Kind: providers.KindDeposit, Amount: amount, Currency: cur,
		NotifyURL: p["notifyUrl"], ReturnURL: p["callbackUrl"],
		Fields: pick(p, "payCode", "remark", "customName", "number", "email"),
	})
	if err != nil {
		return nil, engineError(err)
	}
	return map[string]string{"url": s.base + "/pay/" + o.ID}, nil
}

// payCreate serves /pay/create: it freezes amount plus fee and answers data
// {platOrderId}.
func (s *Simulator) payCreate(m sim.Merchant, p map[string]string) (any, error) {
	cur := merchantCurrency(m)
	if err := requireParams(p, append(slices.Clone(payoutAlways), payoutRequired(cur)...)); err != nil {
		return nil, err
	}
	codes := firstNonEmpty(m.Options[SimOptionPayoutPayCodes], m.Options[SimOptionPayCodes])
	if !payCodeEnabled(codes, p["payCode"]) {
		return nil, refuse(DescPayCodeNotEnabled)
	}
	amount, err := checkOrder(p, payoutDecimals(cur, merchantDecimals(m)))
	if err != nil {
		return nil, err
	}
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: m.ID, OrderNo: p["orderId"], Kind: providers.KindPayout, Amount: amount, Currency: cur,
		NotifyURL: p["notifyUrl"],
		Fields:    pick(p, "payCode", "bankAccount", "customName", "remark", "number", "email"),
	})
	if err != nil {
		return nil, engineError(err)
	}
	return map[string]string{"platOrderId": o.ID}, nil
}

// orderQuery serves /order/query by merchant order number. amount is the
// amount paid once the order is paid, the order amount before; a reversed
// order reads as paid, the query having no reverse flag.
func (s *Simulator) orderQuery(m sim.Merchant, p map[string]string) (any, error) {
	if err := requireParams(p, []string{"orderId"}); err != nil {
		return nil, err
	}
	o, err := s.engine.FindOrder(m.ID, p["orderId"])
	if err != nil || o.OrderNo != p["orderId"] {
		return nil, refuse(DescOrderNotExist)
	}
	amount, fee := wireAmounts(o)
	status := wireStatus(o.Status)
	n, _ := strconv.Atoi(status)
	d := queryData{Amount: json.Number(amount.String()), OrderID: o.OrderNo, PlatOrderID: o.ID, Status: n, Fee: json.Number(fee.String())}
	if status == StatusPaid {
		d.UTR = utrFor(o.ID)
	}
	return d, nil
}

// orderBalance serves /order/balance in the merchant's currency: balanceAll is
// available plus frozen, balanceUsable the available part.
func (s *Simulator) orderBalance(m sim.Merchant, _ map[string]string) (any, error) {
	bs, err := s.engine.Balances(m.ID)
	if err != nil {
		return nil, engineError(err)
	}
	b := bs[merchantCurrency(m)]
	return map[string]json.Number{
		"balanceAll":    json.Number(b.Available.Add(b.Frozen).String()),
		"balanceUsable": json.Number(b.Available.String()),
	}, nil
}

// readParams reads a request's parameters from a JSON or a form body.
func readParams(r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxRequestBytes {
		return nil, errors.New("request too large")
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return ParseJSONParams(body)
	case "application/x-www-form-urlencoded":
		return ParseFormParams(body)
	case "":
		if t := strings.TrimSpace(string(body)); strings.HasPrefix(t, "{") {
			return ParseJSONParams(body)
		}
		return ParseFormParams(body)
	}
	return nil, fmt.Errorf("unsupported content type %q", mt)
}

// checkOrder validates the order number and amount (at most places
// decimals) of a create request.
func checkOrder(p map[string]string, places int32) (decimal.Decimal, error) {
	if utf8.RuneCountInString(p["orderId"]) > MaxOrderIDLen {
		return decimal.Decimal{}, refuse(DescOrderIDTooLong)
	}
	amount, err := providers.ParseAmount(p["amount"])
	if err != nil || !amount.IsPositive() || providers.CheckDecimals(amount, places) != nil {
		return decimal.Decimal{}, refuse(DescAmountFormat)
	}
	return amount, nil
}

// requireParams refuses the first missing field, as "<name> is required".
func requireParams(p map[string]string, names []string) error {
	for _, n := range names {
		if strings.TrimSpace(p[n]) == "" {
			return refuse(n + descRequiredSuffix)
		}
	}
	return nil
}

// engineError turns an engine refusal into CXPay's answer.
func engineError(err error) error {
	switch {
	case errors.Is(err, sim.ErrDuplicateOrder):
		return refuse(DescOrderExists)
	case errors.Is(err, sim.ErrInsufficientBalance):
		return refuse(DescInsufficient)
	case errors.Is(err, sim.ErrUnknownMerchant):
		return refuse(DescMerchantNotExist)
	case errors.Is(err, sim.ErrOrderNotFound):
		return refuse(DescOrderNotExist)
	}
	return err
}

func payCodeEnabled(list, code string) bool {
	if strings.TrimSpace(list) == "" {
		return true
	}
	for _, c := range strings.Split(list, ",") {
		if strings.TrimSpace(c) == code {
			return true
		}
	}
	return false
}

func merchantCurrency(m sim.Merchant) string {
	if c := strings.ToUpper(strings.TrimSpace(m.Options[SimOptionCurrency])); c != "" {
		return c
	}
	return DefaultCurrency
}

func merchantDecimals(m sim.Merchant) int32 {
	if n, err := strconv.Atoi(strings.TrimSpace(m.Options[SimOptionAmountDecimals])); err == nil && n >= 0 && n <= 8 {
		return int32(n)
	}
	return DefaultAmountDecimals
}

func pick(p map[string]string, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if p[n] != "" {
			out[n] = p[n]
		}
	}
	return out
}

// envelopeOut is CXPay's answer envelope.
type envelopeOut struct {
	Code    int    `json:"code"`
	Success bool   `json:"success"`
	Msg     string `json:"msg"`
	Desc    string `json:"desc"`
	Data    any    `json:"data"`
}

func writeEnvelope(w http.ResponseWriter, code int, data any, desc string) {
	env := envelopeOut{Code: code, Success: code == 200, Msg: "success", Data: data}
	if code != 200 {
		env.Msg = "fail"
		env.Desc = desc
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(env)
}
