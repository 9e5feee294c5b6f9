package usdtpay

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tallyhq/tally/providers"
)

// Name is the provider's name in tally.
const Name = "usdtpay"

// Hosts are the hosts usdtpay.txt names: its payment URL's,
// http://otc.globalokpaytech.com/pay/toConfirmIn. They are the base URL hosts
// a merchant may set through the API unless the operator allows more
// (--provider-host-allow).
var Hosts = []string{"otc.globalokpaytech.com"}

// Currencies are the order currencies the document lists.
var Currencies = []string{"CNY", "USD", "MYR"}

// USDT is the currency of the optional `amount` a callback carries.
const USDT = "USDT"

// Field limits, in characters, from the document's length column.
const (
	maxURLLen        = 100 // pickupUrl, receiveUrl
	maxOrderNoLen    = 32  // orderNo
	maxAmountLen     = 10  // orderAmount, as formatted ("9999999.99")
	maxCustomerIDLen = 32  // customerId
	maxCrmNoLen      = 8   // crmNo
)

// Adapter is a client for one UsdtPay merchant (one crmNo and MD5 key). It
// builds signed pay forms, verifies callbacks and answers them; UsdtPay has no
// server-to-server API, so only SubmitPayForm ever makes a network call.
type Adapter struct {
	account   string
	baseURL   string
	crmNo     string
	key       providers.Secret
	notifyURL string
	transport *providers.Transport
	logger    *slog.Logger
}

var _ providers.Adapter = (*Adapter)(nil)

// New builds an Adapter. BaseURL (the payment host, e.g.
// "http://otc.globalokpaytech.com" or "http://127.0.0.1:9000/usdtpay"),
// MerchantID (crmNo, at most 8 characters) and Secret (the MD5 key) are
// required. UsdtPay has no Config.Options; an unknown key is an error so that a
// typo does not go unnoticed.
func New(cfg providers.Config) (*Adapter, error) {
	if err := providers.RequireFields(Name, "config",
		"BaseURL", cfg.BaseURL, "MerchantID (crmNo)", cfg.MerchantID, "Secret (MD5 key)", cfg.Secret.Reveal()); err != nil {
		return nil, err
	}
	if err := checkHTTPURL(cfg.BaseURL); err != nil {
		return nil, providers.Invalid(Name, "config", "BaseURL: %v", err)
	}
	if len(cfg.MerchantID) > maxCrmNoLen {
		return nil, providers.Invalid(Name, "config", "MerchantID (crmNo) %q is longer than %d characters", cfg.MerchantID, maxCrmNoLen)
	}
	for k := range cfg.Options {
		return nil, providers.Invalid(Name, "config", "unknown option %q (UsdtPay takes no options)", k)
	}
	if cfg.NotifyURL != "" {
		if err := checkURLField("NotifyURL", cfg.NotifyURL); err != nil {
			return nil, providers.Invalid(Name, "config", "%v", err)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	t := providers.NewTransport(Name, cfg)
	t.Logger = logger
	return &Adapter{
		account:   cfg.Account,
		baseURL:   t.BaseURL,
		crmNo:     cfg.MerchantID,
		key:       cfg.Secret,
		notifyURL: cfg.NotifyURL,
		transport: t,
		logger:    logger.With("provider", Name, "account", cfg.Account),
	}, nil
}

// Provider returns "usdtpay".
func (a *Adapter) Provider() string { return Name }

// Capabilities: deposits through a hosted pay page, signed callbacks; no
// payouts, order queries or balances (reconciliation uses statements).
func (a *Adapter) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Deposit:           true,
		PayPage:           true,
		SignedCallbacks:   true,
		DepositCurrencies: slices.Clone(Currencies),
		AmountDecimals:    2,
		// receiveUrl?amount=<USDT>: the USDT amount travels in the query.
		CallbackQuery: []string{"amount"},
	}
}

// ValidateDeposit refuses, without any network call, a deposit UsdtPay would
// refuse or that cannot be written into its fields: a currency other than
// CNY/USD/MYR, an amount that is not positive, has more than two decimals or
// does not fit in 10 characters, an order number longer than 32 characters or
// with characters other than letters, digits, '-' and '_', a missing or too long
// customer id, return URL (pickupUrl) or notify URL (receiveUrl), a Method or an
// Extra key (UsdtPay has none).
func (a *Adapter) ValidateDeposit(req providers.DepositRequest) error {
	_, err := a.payRequest(req)
	return err
}

// ValidatePayout always fails: UsdtPay has no payouts.
func (a *Adapter) ValidatePayout(providers.PayoutRequest) error {
	return providers.Unsupported(Name, "payout")
}

// CreateDeposit builds the signed pay form the payer's browser posts to
// BaseURL + /pay/toConfirmIn. It makes no network call: UsdtPay learns of the
// order only when the browser submits the form, so the result has no provider
// order id (the callback's transactionId is the first one tally sees). Render
// the form with RenderPayPage.
func (a *Adapter) CreateDeposit(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	p, err := a.payRequest(req)
	if err != nil {
		return nil, err
	}
	a.logger.DebugContext(ctx, "usdtpay pay form built", "order_no", p.OrderNo, "amount", p.OrderAmount, "currency", p.OrderCurrency)
	return &providers.CreateResult{
		Status: providers.StatusPending,
		PayForm: &providers.PayForm{
			Action: a.baseURL + PathPay,
			Method: http.MethodPost,
			Fields: p.Fields(),
		},
	}, nil
}

// CreatePayout is unsupported: UsdtPay has no payouts.
func (a *Adapter) CreatePayout(context.Context, providers.PayoutRequest) (*providers.CreateResult, error) {
	return nil, providers.Unsupported(Name, "payout")
}

// QueryOrder is unsupported: UsdtPay has no query API.
func (a *Adapter) QueryOrder(context.Context, providers.OrderQuery) (*providers.Event, error) {
	return nil, providers.Unsupported(Name, "queryOrder")
}

// QueryBalances is unsupported: UsdtPay has no balance API.
func (a *Adapter) QueryBalances(context.Context) ([]providers.Balance, error) {
	return nil, providers.Unsupported(Name, "queryBalances")
}

// RenderPayPage renders form as a minimal HTML page that submits itself on
// load (with a button for browsers without JavaScript): what the merchant
// system serves the payer to send it on to UsdtPay. Every value is
// HTML-escaped.
func (a *Adapter) RenderPayPage(form *providers.PayForm) ([]byte, error) {
	if form == nil || form.Action == "" {
		return nil, providers.Invalid(Name, "payPage", "no pay form to render")
	}
	var b bytes.Buffer
	if err := payFormPage.Execute(&b, form); err != nil {
		return nil, providers.Invalid(Name, "payPage", "render pay form: %v", err)
	}
	return b.Bytes(), nil
}

// SubmitPayForm posts form as the payer's browser would and returns UsdtPay's
// pay page. tally itself never needs it (the payer's browser posts the form);
// the demo and the tests use it to play the payer. A 5xx or a timeout is
// ErrAmbiguous (UsdtPay may have created the order); an error page is
// ErrRejected with the page's error code (the simulator's data-code, e.g.
// "sign_error", "order_exists") or the HTTP status as Code.
func (a *Adapter) SubmitPayForm(ctx context.Context, form *providers.PayForm) ([]byte, error) {
	const op = "toConfirmIn"
	if form == nil || form.Action != a.baseURL+PathPay || !strings.EqualFold(form.Method, http.MethodPost) {
		return nil, providers.Invalid(Name, op, "not a pay form for %s", a.baseURL+PathPay)
	}
	vals := make([]string, 0, len(form.Fields))
	for _, f := range form.Fields {
		vals = append(vals, url.QueryEscape(f.Name)+"="+url.QueryEscape(f.Value))
	}
	resp, err := a.transport.Do(ctx, providers.Call{
		Op:          op,
		Method:      http.MethodPost,
		Path:        PathPay,
		ContentType: "application/x-www-form-urlencoded",
		Body:        []byte(strings.Join(vals, "&")),
		Creates:     true,
	})
	if err != nil {
		return nil, err
	}
	code, msg, isError := errorPage(resp.Body)
	if resp.Status >= 300 || isError {
		if code == "" {
			code = fmt.Sprint(resp.Status)
		}
		if msg == "" {
			msg = providers.Snippet(resp.Body)
		}
		a.logger.WarnContext(ctx, "usdtpay refused pay form", "status", resp.Status, "code", code)
		return nil, &providers.Error{Kind: providers.ErrRejected, Provider: Name, Op: op, Code: code, Message: msg}
	}
	return resp.Body, nil
}

// payRequest validates req and builds the signed pay request.
func (a *Adapter) payRequest(req providers.DepositRequest) (PayRequest, error) {
	const op = "deposit"
	notify := req.NotifyURL
	if notify == "" {
		notify = a.notifyURL
	}
	if req.Method != "" {
		return PayRequest{}, providers.Invalid(Name, op, "unknown method %q (UsdtPay has one way to collect: leave Method empty)", req.Method)
	}
	for k := range req.Extra {
		return PayRequest{}, providers.Invalid(Name, op, "unknown extra field %q (UsdtPay takes none)", k)
	}
	if err := providers.RequireFields(Name, op,
		"OrderNo", req.OrderNo, "Currency", req.Currency, "CustomerID (customerId)", req.CustomerID,
		"ReturnURL (pickupUrl)", req.ReturnURL, "NotifyURL (receiveUrl)", notify); err != nil {
		return PayRequest{}, err
	}
	if err := providers.CheckCurrency(Name, op, Currencies, req.Currency); err != nil {
		return PayRequest{}, err
	}
	if req.PayCurrency != "" && req.PayCurrency != req.Currency {
		// The payer does pay in USDT, but the callback signs only the order
		// side: the USDT amount is unsigned, so no ledger may be kept in it.
		return PayRequest{}, providers.Invalid(Name, op, "pay currency %q: UsdtPay settles the order in %s (the USDT it shows the payer is unsigned); leave PayCurrency empty", req.PayCurrency, req.Currency)
	}
	caps := a.Capabilities()
	if err := providers.CheckAmount(Name, op, caps, req.Amount); err != nil {
		return PayRequest{}, err
	}
	amount, err := providers.FormatFixed(req.Amount, caps.AmountDecimals)
	if err != nil {
		return PayRequest{}, providers.Invalid(Name, op, "%v", err)
	}
	if len(amount) > maxAmountLen {
		return PayRequest{}, providers.Invalid(Name, op, "amount %s is longer than %d characters (largest is 9999999.99)", amount, maxAmountLen)
	}
	if len(req.OrderNo) > maxOrderNoLen {
		return PayRequest{}, providers.Invalid(Name, op, "order no %q is longer than %d characters", req.OrderNo, maxOrderNoLen)
	}
	if !validOrderNo(req.OrderNo) {
		return PayRequest{}, providers.Invalid(Name, op, "order no %q may hold only letters, digits, '-' and '_'", req.OrderNo)
	}
	if len(req.CustomerID) > maxCustomerIDLen {
		return PayRequest{}, providers.Invalid(Name, op, "customer id is longer than %d characters", maxCustomerIDLen)
	}
	if strings.ContainsFunc(req.CustomerID, isControlOrSpace) {
		return PayRequest{}, providers.Invalid(Name, op, "customer id %q contains spaces or control characters", req.CustomerID)
	}
	if err := checkURLField("ReturnURL (pickupUrl)", req.ReturnURL); err != nil {
		return PayRequest{}, providers.Invalid(Name, op, "%v", err)
	}
	if err := checkURLField("NotifyURL (receiveUrl)", notify); err != nil {
		return PayRequest{}, providers.Invalid(Name, op, "%v", err)
	}
	p := PayRequest{
		PickupURL:     req.ReturnURL,
		ReceiveURL:    notify,
		SignType:      SignTypeMD5,
		OrderNo:       req.OrderNo,
		OrderAmount:   amount,
		OrderCurrency: req.Currency,
		CustomerID:    req.CustomerID,
		CrmNo:         a.crmNo,
	}
	p.Sign = p.ComputeSign(a.key.Reveal())
	return p, nil
}

// checkURLField refuses a URL UsdtPay cannot take: not absolute http(s), or
// longer than the document's 100 characters.
func checkURLField(name, u string) error {
	if len(u) > maxURLLen {
		return fmt.Errorf("%s is %d characters, longer than the %d UsdtPay accepts", name, len(u), maxURLLen)
	}
	if err := checkHTTPURL(u); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func checkHTTPURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("malformed URL: %w", err)
	}
	if (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", u)
	}
	if strings.ContainsFunc(u, isControlOrSpace) {
		return fmt.Errorf("%q contains spaces or control characters", u)
	}
	return nil
}

func validOrderNo(s string) bool {
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

// errorPage extracts the error code and message from an error page in the
// simulator's shape (<p id="error" data-code="...">message</p>); isError is
// true when the page is one.
func errorPage(body []byte) (code, msg string, isError bool) {
	m := errorPageRE.FindSubmatch(body)
	if m == nil {
		return "", "", false
	}
	return html.UnescapeString(string(m[1])), strings.TrimSpace(html.UnescapeString(string(m[2]))), true
}

var errorPageRE = regexp.MustCompile(`<p id="error" data-code="([^"]*)">([^<]*)</p>`)

var payFormPage = template.Must(template.New("payform").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>UsdtPay</title></head>
<body>
<form id="usdtpay" action="{{.Action}}" method="{{.Method}}">
{{- range .Fields}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{- end}}
<noscript><button type="submit">Continue to UsdtPay</button></noscript>
</form>
<script>document.getElementById("usdtpay").submit();</script>
</body>
</html>
`))
