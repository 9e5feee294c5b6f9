package cxpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Name is this package's provider name.
const Name = "cxpay"

// Hosts are the API hosts cxpay.txt names: none (its only URL is
// http://localhost:8888/pay/xxx in an example answer). A merchant may set a
// CXPay base URL through the API only on a host the operator allows (tally
// serve --provider-host-allow); the operator's own tooling (tally account
// add) takes any host the egress policy allows.
var Hosts []string

// Config.Options keys this adapter understands.
const (
	// OptionPayCode is the collection payCode ("merchant backend query"); required.
	OptionPayCode = "pay_code"
	// OptionPayoutPayCode is the payout payCode; default the collection one.
	OptionPayoutPayCode = "payout_pay_code"
	// OptionCurrency is the account's single currency (required).
	OptionCurrency = "currency"
	// OptionAmountDecimals is how many decimals amounts may carry (0..2); default
	// 2. IDR payouts carry none whatever it says (the document forbids
	// decimals on Indonesian payouts only).
	OptionAmountDecimals = "amount_decimals"
)

// ExtraRemark is the one DepositRequest/PayoutRequest Extra key understood: it
// replaces the remark field the adapter would derive from the Party.
const ExtraRemark = "remark"

// Adapter is a CXPay client for one merchant account. It depends only on an
// *http.Client and a base URL, so the same code talks to the simulator and to
// CXPay itself.
type Adapter struct {
	cfg           providers.Config
	tr            *providers.Transport
	log           *slog.Logger
	payCode       string
	payoutPayCode string
	currency      string
	decimals      int32 // collections, and payouts outside Indonesia
	payoutPlaces  int32 // payouts: decimals, or 0 for IDR
}

var _ providers.Adapter = (*Adapter)(nil)

// New builds an adapter. BaseURL, MerchantID, Secret and Options "pay_code" are
// required; an unknown Options key is refused so that a typo does not silently
// fall back to a default.
func New(cfg providers.Config) (*Adapter, error) {
	var missing []string
	if strings.TrimSpace(cfg.BaseURL) == "" {
		missing = append(missing, "BaseURL")
	}
	if strings.TrimSpace(cfg.MerchantID) == "" {
		missing = append(missing, "MerchantID")
	}
	if cfg.Secret.Reveal() == "" {
		missing = append(missing, "Secret")
	}
	if strings.TrimSpace(cfg.Options[OptionPayCode]) == "" {
		missing = append(missing, "Options[\""+OptionPayCode+"\"]")
	}
	// No request field tells CXPay a currency: the merchant account settles in
	// its one currency, and tally's books follow this option. It is required
	// (a default would decide the books for an account configured elsewhere).
	if strings.TrimSpace(cfg.Options[OptionCurrency]) == "" {
		missing = append(missing, "Options[\""+OptionCurrency+"\"] (the account's settlement currency, e.g. BRL)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cxpay: missing config: %s", strings.Join(missing, ", "))
	}
	for k := range cfg.Options {
		switch k {
		case OptionPayCode, OptionPayoutPayCode, OptionCurrency, OptionAmountDecimals:
		default:
			return nil, fmt.Errorf("cxpay: unknown option %q (known: %s, %s, %s, %s)", k, OptionPayCode, OptionPayoutPayCode, OptionCurrency, OptionAmountDecimals)
		}
	}
	a := &Adapter{
		cfg:           cfg,
		tr:            providers.NewTransport(Name, cfg),
		log:           cfg.Logger,
		payCode:       strings.TrimSpace(cfg.Options[OptionPayCode]),
		payoutPayCode: strings.TrimSpace(cfg.Options[OptionPayoutPayCode]),
		currency:      strings.ToUpper(strings.TrimSpace(cfg.Options[OptionCurrency])),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.payoutPayCode == "" {
		a.payoutPayCode = a.payCode
	}
	if len(a.currency) != 3 || strings.Trim(a.currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return nil, fmt.Errorf("cxpay: option %s %q is not a three-letter currency code", OptionCurrency, a.currency)
	}
	a.decimals = DefaultAmountDecimals
	if s := strings.TrimSpace(cfg.Options[OptionAmountDecimals]); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 2 {
			return nil, fmt.Errorf("cxpay: option %s %q must be 0, 1 or 2", OptionAmountDecimals, s)
		}
		a.decimals = int32(n)
	}
	a.payoutPlaces = payoutDecimals(a.currency, a.decimals)
	return a, nil
}

// Provider returns "cxpay".
func (a *Adapter) Provider() string { return Name }

// Capabilities: collections with a cashier page, payouts, one order query for
// both, the balance, signed callbacks; one currency per account.
func (a *Adapter) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Deposit:           true,
		Payout:            true,
		QueryOrder:        true,
		QueryBalance:      true,
		SignedCallbacks:   true,
		PayPage:           true,
		DepositCurrencies: []string{a.currency},
		PayoutCurrencies:  []string{a.currency},
		// Collections; IDR payouts take no decimals (ValidatePayout refuses them).
		AmountDecimals: a.decimals,
		// /order/query has no reverse field: a reversed order still reads as paid.
		QueryHidesReversals: true,
	}
}

// Currency is the account's currency (Options "currency").
func (a *Adapter) Currency() string { return a.currency }

// ValidateDeposit refuses, before any call, a collection CXPay would refuse: a
// currency other than the account's, an amount that is not positive or has
// more decimals than allowed, an order number longer than 32 characters, no
// notify URL, or a field the account's country requires (Brazil: the payer's
// CPF/CNPJ, name, phone and email).
func (a *Adapter) ValidateDeposit(req providers.DepositRequest) error {
	_, err := a.depositParams(req)
	return err
}

// ValidatePayout is ValidateDeposit for payouts: the beneficiary's account and
// name always, and per country the remark (Brazil account type, India IFSC,
// Indonesia/Nigeria bank code) and email (Brazil); the phone (number) is
// optional everywhere.
func (a *Adapter) ValidatePayout(req providers.PayoutRequest) error {
	_, err := a.payoutParams(req)
	return err
}

// CreateDeposit creates a collection order (POST /collect/create) and returns
// its cashier URL. CXPay's answer carries no platform order id: it comes with
// the callback or the order query.
func (a *Adapter) CreateDeposit(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	const op = "collect/create"
	params, err := a.depositParams(req)
	if err != nil {
		return nil, err
	}
	data, raw, err := a.call(ctx, op, PathCollectCreate, params, true)
	if err != nil {
		return nil, err
	}
	var d struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(data, &d); err != nil || strings.TrimSpace(d.URL) == "" {
		// Code 200 means the order exists; without its URL, query before retrying.
		return nil, &providers.Error{Kind: providers.ErrAmbiguous, Provider: Name, Op: op, Code: "200",
			Message: "success answer without a cashier url: " + providers.Snippet(raw)}
	}
	a.log.InfoContext(ctx, "cxpay deposit created", "account", a.cfg.Account, "order_no", req.OrderNo, "amount", params["amount"], "currency", a.currency)
	return &providers.CreateResult{Status: providers.StatusPending, CashierURL: d.URL, Raw: raw}, nil
}

// CreatePayout creates a payout order (POST /pay/create) and returns CXPay's
// platform order id; the payout is then in flight (processing).
func (a *Adapter) CreatePayout(ctx context.Context, req providers.PayoutRequest) (*providers.CreateResult, error) {
	const op = "pay/create"
	params, err := a.payoutParams(req)
	if err != nil {
		return nil, err
	}
	data, raw, err := a.call(ctx, op, PathPayCreate, params, true)
	if err != nil {
		return nil, err
	}
	p, perr := ParseJSONParams(data)
	if perr != nil || p["platOrderId"] == "" {
		return nil, &providers.Error{Kind: providers.ErrAmbiguous, Provider: Name, Op: op, Code: "200",
			Message: "success answer without a platOrderId: " + providers.Snippet(raw)}
	}
	a.log.InfoContext(ctx, "cxpay payout created", "account", a.cfg.Account, "order_no", req.OrderNo, "provider_order_id", p["platOrderId"], "amount", params["amount"], "currency", a.currency)
	return &providers.CreateResult{ProviderOrderID: p["platOrderId"], Status: providers.StatusProcessing, Raw: raw}, nil
}

// QueryOrder asks for an order's state (POST /order/query). CXPay looks orders
// up by the merchant order number only, for deposits and payouts alike; q.Kind,
// when given, is copied to the event and tells a payout in flight from a
// deposit awaiting its payer. An order CXPay does not know wraps ErrNotFound.
//
// The query has no reverse flag: a reversed order reads as paid (status 1)
// unless CXPay adds "reverse" to the answer, which is honoured when present.
func (a *Adapter) QueryOrder(ctx context.Context, q providers.OrderQuery) (*providers.Event, error) {
	const op = "order/query"
	if strings.TrimSpace(q.OrderNo) == "" {
		return nil, providers.Invalid(Name, op, "CXPay queries orders by merchant order number only; OrderNo is empty")
	}
	data, raw, err := a.call(ctx, op, PathOrderQuery, map[string]string{"orderId": q.OrderNo}, false)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) && isOrderNotFound(pe) {
			return nil, &providers.Error{Kind: providers.ErrNotFound, Provider: Name, Op: op, Code: pe.Code, Message: pe.Message}
		}
		return nil, err
	}
	p, err := ParseJSONParams(data)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable order data", Err: err}
	}
	if p["orderId"] != "" && p["orderId"] != q.OrderNo {
		return nil, providers.Errorf(providers.ErrTransient, Name, op, "asked for order %q, answered for %q", q.OrderNo, p["orderId"])
	}
	if p["orderId"] == "" {
		p["orderId"] = q.OrderNo
	}
	ev, err := a.event(op, p, q.Kind, raw)
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// QueryBalances returns the account's balance (POST /order/balance): balanceAll
// is the total and balanceUsable the available part; the difference is frozen
// (payouts in flight).
func (a *Adapter) QueryBalances(ctx context.Context) ([]providers.Balance, error) {
	const op = "order/balance"
	data, _, err := a.call(ctx, op, PathOrderBalance, map[string]string{}, false)
	if err != nil {
		return nil, err
	}
	p, err := ParseJSONParams(data)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable balance data", Err: err}
	}
	total, err := providers.ParseAmount(p["balanceAll"])
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "balanceAll", Err: err}
	}
	usable, err := providers.ParseAmount(p["balanceUsable"])
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "balanceUsable", Err: err}
	}
	return []providers.Balance{{Currency: a.currency, Total: total, Available: usable, Frozen: total.Sub(usable)}}, nil
}

// depositParams builds and validates the /collect/create fields (without sign).
func (a *Adapter) depositParams(req providers.DepositRequest) (map[string]string, error) {
	const op = "collect/create"
	p := map[string]string{
		"merchant":    a.cfg.MerchantID,
		"payCode":     firstNonEmpty(req.Method, a.payCode),
		"orderId":     req.OrderNo,
		"notifyUrl":   firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL),
		"callbackUrl": req.ReturnURL,
		"remark":      req.Payer.TaxID,
		"customName":  req.Payer.Name,
		"number":      req.Payer.Phone,
		"email":       req.Payer.Email,
	}
	if req.PayCurrency != "" && req.PayCurrency != req.Currency {
		return nil, providers.Invalid(Name, op, "pay currency %q: the account settles in %s; leave PayCurrency empty or the same", req.PayCurrency, a.currency)
	}
	if err := a.common(op, p, req.Amount, a.decimals, req.Currency, req.Extra); err != nil {
		return nil, err
	}
	if err := requireWire(op, p, append(slices.Clone(depositAlways), depositRequired(a.currency)...), depositSource); err != nil {
		return nil, err
	}
	return p, nil
}

// payoutParams builds and validates the /pay/create fields (without sign).
func (a *Adapter) payoutParams(req providers.PayoutRequest) (map[string]string, error) {
	const op = "pay/create"
	b := req.Beneficiary
	remark := b.BankCode
	if a.currency == "BRL" {
		remark = b.AccountType
	}
	p := map[string]string{
		"merchant":    a.cfg.MerchantID,
		"payCode":     firstNonEmpty(req.Method, a.payoutPayCode),
		"orderId":     req.OrderNo,
		"notifyUrl":   firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL),
		"bankAccount": b.Account,
		"customName":  b.Name,
		"remark":      remark,
		"number":      b.Phone,
		"email":       b.Email,
	}
	if err := a.common(op, p, req.Amount, a.payoutPlaces, req.Currency, req.Extra); err != nil {
		return nil, err
	}
	if err := requireWire(op, p, append(slices.Clone(payoutAlways), payoutRequired(a.currency)...), payoutSource); err != nil {
		return nil, err
	}
	return p, nil
}

// common checks what deposits and payouts share and sets amount (with
// exactly places decimals) and the Extra remark in p.
func (a *Adapter) common(op string, p map[string]string, amount decimal.Decimal, places int32, currency string, extra map[string]string) error {
	if err := providers.CheckCurrency(Name, op, []string{a.currency}, currency); err != nil {
		return err
	}
	caps := a.Capabilities()
	caps.AmountDecimals = places
	if err := providers.CheckAmount(Name, op, caps, amount); err != nil {
		return err
	}
	s, err := providers.FormatFixed(amount, places)
	if err != nil {
		return providers.Invalid(Name, op, "%v", err)
	}
	p["amount"] = s
	for k, v := range p {
		if k != "orderId" {
			p[k] = strings.TrimSpace(v)
		}
	}
	if no := p["orderId"]; no != strings.TrimSpace(no) || strings.ContainsFunc(no, unicode.IsControl) {
		return providers.Invalid(Name, op, "order number %q has surrounding spaces or control characters", no)
	}
	if n := utf8.RuneCountInString(p["orderId"]); n > MaxOrderIDLen {
		return providers.Invalid(Name, op, "order number %q is %d characters; CXPay accepts at most %d", p["orderId"], n, MaxOrderIDLen)
	}
	for _, f := range []string{"notifyUrl", "callbackUrl"} {
		if v := p[f]; v != "" && !absoluteHTTP(v) {
			return providers.Invalid(Name, op, "%s %q is not an absolute http(s) URL", f, v)
		}
	}
	for k, v := range extra {
		if k != ExtraRemark {
			return providers.Invalid(Name, op, "unknown Extra key %q (CXPay understands only %q)", k, ExtraRemark)
		}
		if v != "" {
			p["remark"] = strings.TrimSpace(v)
		}
	}
	return nil
}

// Where each wire field comes from, for clear validation messages.
var (
	depositSource = map[string]string{
		"payCode": "Method or Options[pay_code]", "amount": "Amount", "orderId": "OrderNo", "notifyUrl": "NotifyURL",
		"remark": "Payer.TaxID (CPF/CNPJ)", "customName": "Payer.Name", "number": "Payer.Phone", "email": "Payer.Email",
	}
	payoutSource = map[string]string{
		"payCode": "Method or Options[payout_pay_code]", "amount": "Amount", "orderId": "OrderNo", "notifyUrl": "NotifyURL",
		"bankAccount": "Beneficiary.Account", "customName": "Beneficiary.Name",
		"remark": "Beneficiary.AccountType (Brazil) or Beneficiary.BankCode (IFSC, bank code)", "number": "Beneficiary.Phone",
		"email": "Beneficiary.Email",
	}
)

// requireWire refuses params missing one of the required wire fields.
func requireWire(op string, p map[string]string, required []string, source map[string]string) error {
	var missing []string
	for _, f := range required {
		if p[f] == "" {
			name := f
			if s, ok := source[f]; ok {
				name += " (" + s + ")"
			}
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return providers.Invalid(Name, op, "missing required field(s): %s", strings.Join(missing, ", "))
	}
	return nil
}

// call signs params, posts them as JSON to path and interprets CXPay's envelope:
// code 200 returns data; 400 (business error) is ErrRejected with CXPay's
// message; 500 ("other anomalies") is ErrAmbiguous on a create, ErrTransient
// otherwise.
func (a *Adapter) call(ctx context.Context, op, path string, params map[string]string, creates bool) (json.RawMessage, []byte, error) {
	params["merchant"] = a.cfg.MerchantID
	for k, v := range params {
		if v == "" {
			delete(params, k) // optional fields left empty are not sent
		}
	}
	params[SignField] = Sign(params, a.cfg.Secret.Reveal())
	body, err := json.Marshal(params)
	if err != nil {
		return nil, nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Err: err}
	}
	resp, err := a.tr.Do(ctx, providers.Call{Op: op, Method: http.MethodPost, Path: path, ContentType: "application/json", Body: body, Creates: creates})
	if err != nil {
		return nil, nil, err
	}
	unsure := providers.ErrTransient
	if creates {
		unsure = providers.ErrAmbiguous
	}
	env, err := parseEnvelope(resp.Body)
	if err != nil {
		if resp.Status >= 400 {
			return nil, resp.Body, &providers.Error{Kind: providers.ErrRejected, Provider: Name, Op: op, Code: fmt.Sprintf("HTTP %d", resp.Status), Message: providers.Snippet(resp.Body)}
		}
		return nil, resp.Body, &providers.Error{Kind: unsure, Provider: Name, Op: op, Message: "unreadable answer: " + providers.Snippet(resp.Body), Err: err}
	}
	code, msg := env.code, env.message()
	switch {
	case code == 200:
		return env.Data, resp.Body, nil
	case code >= 400 && code < 500:
		a.log.WarnContext(ctx, "cxpay refused", "account", a.cfg.Account, "op", op, "order_no", params["orderId"], "code", code)
		a.log.DebugContext(ctx, "cxpay refused", "account", a.cfg.Account, "op", op, "code", code, "message", providers.Redact(msg))
		return nil, resp.Body, &providers.Error{Kind: providers.ErrRejected, Provider: Name, Op: op, Code: strconv.Itoa(code), Message: msg}
	default:
		return nil, resp.Body, &providers.Error{Kind: unsure, Provider: Name, Op: op, Code: strconv.Itoa(code), Message: msg}
	}
}

// absoluteHTTP reports whether s is an absolute http or https URL with a host.
func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isOrderNotFound reports whether a refusal of /order/query is the answer for
// an order CXPay does not know: code 400 with exactly DescOrderNotExist as its
// message. Nothing looser will do: ErrNotFound tells the job layer that it is
// safe to create the order again, and other code-400 answers that also say
// something "does not exist" (DescMerchantNotExist for an unknown merchant)
// are refusals of the request, not statements about the order.
func isOrderNotFound(pe *providers.Error) bool {
	return pe.Kind == providers.ErrRejected && pe.Code == "400" && pe.Message == DescOrderNotExist
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
