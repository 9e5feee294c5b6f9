package vpay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Name is the provider's name in tally.
const Name = "vpay"

// Hosts are the API hosts vpay.txt names: none. Its endpoint is written
// https://网关域名/... ("the gateway's domain"), and walletapi.minpayapp.com
// appears only as the host of a pay page in an example answer. A merchant
// may set a VPay base URL through the API only on a host the operator allows
// (tally serve --provider-host-allow).
var Hosts []string

// QuoteDecimals is the most decimals quoteAmount may carry: quote currencies
// are fiat (CNY).
const QuoteDecimals = 2

// UserCurrencies are the currencies a payer can pay in (userCurrency).
var UserCurrencies = []string{"USDT", "TRX"}

// ErrDuplicateOrder is wrapped (beside providers.ErrRejected) by a create that
// MinPay refuses because the localOrderId already exists. VPay has no order
// query, so after an ambiguous create this refusal is the proof that the
// first attempt did create the order: wait for its callback or the statement,
// do not fail it.
var ErrDuplicateOrder = fmt.Errorf("vpay: localOrderId: %w", providers.ErrDuplicateOrder)

// Config.Options keys this adapter understands (see the package documentation).
const (
	// OptionQuoteCurrencies lists the quote currencies enabled in the
	// merchant back office, comma-separated; default CNY.
	OptionQuoteCurrencies = "quote_currencies"
	// OptionMerchantID is the numeric merchant number callbacks carry as
	// merchantId; when set, a callback for another is refused.
	OptionMerchantID = "merchant_id"
)

// Adapter is a client for one MinPay merchant account.
type Adapter struct {
	cfg             providers.Config
	t               *providers.Transport
	log             *slog.Logger
	quoteCurrencies []string
	merchantNo      string
}

var _ providers.Adapter = (*Adapter)(nil)

// New builds an adapter. BaseURL, MerchantID (the merchant key) and Secret are
// required; Options are documented in the package documentation.
func New(cfg providers.Config) (*Adapter, error) {
	if err := providers.RequireFields(Name, "new", "BaseURL", cfg.BaseURL, "MerchantID (merchant key)", cfg.MerchantID, "Secret", cfg.Secret.Reveal()); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, providers.Invalid(Name, "new", "BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	// Option user_currency (a default pay currency) is no longer read: every
	// request states its PayCurrency (see the package documentation).
	a := &Adapter{cfg: cfg, quoteCurrencies: []string{"CNY"}}
	if v := strings.TrimSpace(cfg.Options[OptionQuoteCurrencies]); v != "" {
		a.quoteCurrencies = nil
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				a.quoteCurrencies = append(a.quoteCurrencies, c)
			}
		}
		if len(a.quoteCurrencies) == 0 {
			return nil, providers.Invalid(Name, "new", "option quote_currencies lists no currency")
		}
	}
	a.merchantNo = strings.TrimSpace(cfg.Options[OptionMerchantID])
	a.log = cfg.Logger
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("account", cfg.Account) // the transport adds provider
	a.t = providers.NewTransport(Name, cfg)
	a.t.Logger = a.log
	return a, nil
}

// Provider returns "vpay".
func (a *Adapter) Provider() string { return Name }

// Capabilities: quoted deposits with a hosted pay page and signed callbacks
// (QuotedDeposits: the order is quoted in Currency and settled in the
// request's PayCurrency, which is required);
// MinPay's document offers no payout, order query or balance endpoint, so
// reconciliation relies on callbacks and statements.
func (a *Adapter) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Deposit:           true,
		SignedCallbacks:   true,
		PayPage:           true,
		QuotedDeposits:    true,
		DepositCurrencies: append([]string(nil), a.quoteCurrencies...),
		AmountDecimals:    QuoteDecimals,
	}
}

// ValidateDeposit refuses what MinPay would refuse: a missing order number, a
// quote currency not enabled for this account, a missing pay currency or one
// other than USDT or TRX, an amount that is not positive or has more than two
// decimals, a method this adapter does not know, and malformed URLs.
func (a *Adapter) ValidateDeposit(req providers.DepositRequest) error {
	const op = "createDeposit"
	if err := providers.RequireFields(Name, op, "OrderNo", req.OrderNo, "Currency", req.Currency, "PayCurrency (userCurrency)", req.PayCurrency); err != nil {
		return err
	}
	if len(req.OrderNo) > 64 {
		return providers.Invalid(Name, op, "order no %q is longer than 64 characters", req.OrderNo)
	}
	if req.Method != "" {
		return providers.Invalid(Name, op, "method %q is not offered (vpay has one deposit method: \"\")", req.Method)
	}
	if err := providers.CheckCurrency(Name, op, a.quoteCurrencies, req.Currency); err != nil {
		return err
	}
	if !slices.Contains(UserCurrencies, req.PayCurrency) {
		return providers.Invalid(Name, op, "pay currency %q is not accepted (userCurrency: %s)", req.PayCurrency, strings.Join(UserCurrencies, ", "))
	}
	if err := providers.CheckAmount(Name, op, a.Capabilities(), req.Amount); err != nil {
		return err
	}
	for _, u := range []struct{ name, v string }{{"NotifyURL", a.notifyURL(req)}, {"ReturnURL", req.ReturnURL}} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return providers.Invalid(Name, op, "%s %q is not an absolute http(s) URL", u.name, u.v)
		}
	}
	return nil
}

// ValidatePayout refuses every payout: MinPay's document offers none.
func (a *Adapter) ValidatePayout(providers.PayoutRequest) error {
	return providers.Unsupported(Name, "createPayout")
}

// CreateDeposit creates a fixed-amount scan-pay order quoted in req.Currency
// (CNY) and paid in req.PayCurrency (USDT or TRX, required). The result carries the
// hosted pay page (paymentUrl) and the order's chain addresses. The USDT
// amount the payer owes is not in MinPay's answer: it arrives with the callback.
func (a *Adapter) CreateDeposit(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	const op = "createDeposit"
	if err := a.ValidateDeposit(req); err != nil {
		return nil, err
	}
	fields := map[string]any{
		"key":           a.cfg.MerchantID,
		"localOrderId":  req.OrderNo,
		"userCurrency":  req.PayCurrency,
		"quoteCurrency": req.Currency,
		"quoteAmount":   json.Number(req.Amount.StringFixed(QuoteDecimals)),
		"isBlockchain":  true,
	}
	if req.CustomerID != "" {
		fields["localUserId"] = req.CustomerID
	}
	if u := a.notifyURL(req); u != "" {
		fields["notifyUrl"] = u
	}
	if req.ReturnURL != "" {
		fields["successRedirectUrl"] = req.ReturnURL
	}
	body, err := signedJSON(fields, a.cfg.Secret.Reveal())
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Err: err}
	}
	resp, err := a.t.Do(ctx, providers.Call{Op: op, Method: http.MethodPost, Path: PathCreate, ContentType: "application/json", Body: body, Creates: true})
	if err != nil {
		return nil, err
	}
	data, err := a.envelope(op, resp, true)
	if err != nil {
		return nil, err
	}
	var d struct {
		OrderID      json.Number       `json:"orderId"`
		LocalOrderID string            `json:"localOrderId"`
		OrderType    string            `json:"orderType"`
		OrderBizType string            `json:"orderBizType"`
		PaymentURL   string            `json:"paymentUrl"`
		PublicKey    string            `json:"publicKey"`
		Addresses    map[string]string `json:"addresses"`
	}
	if err := decodeNumbers(data, &d); err != nil || d.OrderID.String() == "" {
		return nil, ambiguous(op, "answer without a readable data.orderId: %s", providers.Snippet(resp.Body))
	}
	if d.LocalOrderID != "" && d.LocalOrderID != req.OrderNo {
		return nil, ambiguous(op, "answer is for localOrderId %q, not %q", d.LocalOrderID, req.OrderNo)
	}
	res := &providers.CreateResult{
		ProviderOrderID: d.OrderID.String(),
		Status:          providers.StatusPending,
		CashierURL:      d.PaymentURL,
		Raw:             resp.Body,
	}
	networks := make([]string, 0, len(d.Addresses))
	for n, addr := range d.Addresses {
		if addr != "" {
			networks = append(networks, n)
		}
	}
	sort.Strings(networks)
	for _, n := range networks {
		res.Addresses = append(res.Addresses, providers.WalletAddress{Currency: req.PayCurrency, Network: n, Address: d.Addresses[n]})
	}
	a.log.InfoContext(ctx, "vpay order created", "order_no", req.OrderNo, "provider_order_id", res.ProviderOrderID, "quote", req.Amount.String()+" "+req.Currency)
	return res, nil
}

// CreatePayout is unsupported: MinPay's document offers no payout endpoint.
func (a *Adapter) CreatePayout(context.Context, providers.PayoutRequest) (*providers.CreateResult, error) {
	return nil, providers.Unsupported(Name, "createPayout")
}

// QueryOrder is unsupported: MinPay's document offers no order query; orders
// are settled by callback and reconciled against statements.
func (a *Adapter) QueryOrder(context.Context, providers.OrderQuery) (*providers.Event, error) {
	return nil, providers.Unsupported(Name, "queryOrder")
}

// QueryBalances is unsupported: MinPay's document offers no balance endpoint.
func (a *Adapter) QueryBalances(context.Context) ([]providers.Balance, error) {
	return nil, providers.Unsupported(Name, "queryBalances")
}

func (a *Adapter) notifyURL(req providers.DepositRequest) string {
	if req.NotifyURL != "" {
		return req.NotifyURL
	}
	return a.cfg.NotifyURL
}

// envelope reads MinPay's {code, success, message, data} answer and returns
// data, or the typed error for a refusal. creates makes an unreadable success
// answer ambiguous (the order may exist).
func (a *Adapter) envelope(op string, resp *providers.Response, creates bool) (json.RawMessage, error) {
	var env struct {
		Code    json.RawMessage `json:"code"`
		Success *bool           `json:"success"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	decodeErr := decodeNumbers(resp.Body, &env)
	code := strings.Trim(strings.TrimSpace(string(env.Code)), `"`)
	msg := ""
	if env.Message != nil {
		msg = *env.Message
	}
	if resp.Status != http.StatusOK {
		// Our request was malformed at the HTTP level (wrong method, media
		// type, path): the same request would fail again.
		if code == "" {
			code = fmt.Sprint(resp.Status)
		}
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Code: code,
			Message: firstNonEmpty(msg, fmt.Sprintf("HTTP %d: %s", resp.Status, providers.Snippet(resp.Body)))}
	}
	if decodeErr != nil || code == "" {
		if creates {
			return nil, ambiguous(op, "unreadable answer: %s", providers.Snippet(resp.Body))
		}
		return nil, providers.Errorf(providers.ErrTransient, Name, op, "unreadable answer: %s", providers.Snippet(resp.Body))
	}
	if code == "0" && (env.Success == nil || *env.Success) {
		return env.Data, nil
	}
	e := &providers.Error{Kind: providers.ErrRejected, Provider: Name, Op: op, Code: code, Message: firstNonEmpty(msg, "refused without a message")}
	switch code {
	case fmt.Sprint(CodeInvalidParam):
		e.Kind = providers.ErrInvalidRequest
	case fmt.Sprint(CodeDuplicateOrder):
		e.Err = ErrDuplicateOrder
	case "0": // code 0 with success false: a refusal all the same
	}
	return nil, e
}

func ambiguous(op, format string, args ...any) error {
	return providers.Errorf(providers.ErrAmbiguous, Name, op, format, args...)
}

// decodeNumbers unmarshals with numbers kept as json.Number.
func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// msTime converts MinPay's millisecond timestamps.
func msTime(ms decimal.Decimal) time.Time {
	return time.UnixMilli(ms.IntPart()).UTC()
}
