package usdtcnpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Name is this provider's name in tally.
const Name = "usdtcnpay"

// Hosts are the API hosts usdtcnpay.txt names (every endpoint is under
// https://user.usdtcnpay.com): the base URL hosts a merchant may set through
// the API unless the operator allows more (--provider-host-allow).
var Hosts = []string{"user.usdtcnpay.com"}

// Currency is the only currency USDTCNPAY takes for deposits and withdrawals.
const Currency = "CNY"

// Config.Options keys this adapter understands.
const (
	// OptionCallbackKey is the HMAC key of the sig parameter in the callback
	// URLs; default the secretKey. Set it to keep callbacks of orders created
	// before a secretKey rotation verifiable.
	OptionCallbackKey = "callback_key"
	// OptionTimestampUnit is "ms" (default) or "s": the unit of the Timestamp
	// header, which the document calls only a Number.
	OptionTimestampUnit = "timestamp_unit"
	// OptionRSAPadding is PaddingPKCS1 (default) or PaddingOAEP.
	OptionRSAPadding = "rsa_padding"
)

// Payout methods (PayoutRequest.Method); Beneficiary.Category "0"/"1" says the same.
const (
	MethodBank   = "bank"   // category 0: bank card, Beneficiary.BankCode is the bankChannel
	MethodAlipay = "alipay" // category 1: Alipay account
)

// AmountMultiple is what every USDTCNPAY amount must be a whole multiple of.
var AmountMultiple = decimal.NewFromInt(100)

// Adapter is a client for one USDTCNPAY merchant account (one accessKey). It is
// safe for concurrent use: its access token is shared by every call.
type Adapter struct {
	cfg         providers.Config
	t           *providers.Transport
	now         func() time.Time
	log         *slog.Logger
	callbackKey string
	tsSeconds   bool
	padding     string
	tokens      *tokenSource
}

var _ providers.Adapter = (*Adapter)(nil)

// New builds an Adapter. BaseURL, MerchantID (the accessKey) and Secret (the
// secretKey) are required; the document limits both keys to 1 to 30 characters.
func New(cfg providers.Config) (*Adapter, error) {
	const op = "new"
	if err := checkBaseURL(cfg.BaseURL); err != nil {
		return nil, providers.Invalid(Name, op, "Config.BaseURL: %v", err)
	}
	if n := utf8.RuneCountInString(cfg.MerchantID); n < 1 || n > 30 {
		return nil, providers.Invalid(Name, op, "Config.MerchantID (accessKey) must be 1 to 30 characters, got %d", n)
	}
	if n := utf8.RuneCountInString(cfg.Secret.Reveal()); n < 1 || n > 30 {
		return nil, providers.Invalid(Name, op, "Config.Secret (secretKey) must be 1 to 30 characters, got %d", n)
	}
	if cfg.NotifyURL != "" {
		if err := checkNotifyURL(cfg.NotifyURL); err != nil {
			return nil, providers.Invalid(Name, op, "Config.NotifyURL: %v", err)
		}
	}
	a := &Adapter{cfg: cfg, now: cfg.Now, callbackKey: cfg.Secret.Reveal(), padding: PaddingPKCS1}
	if v, ok := cfg.Options[OptionCallbackKey]; ok {
		if v == "" {
			return nil, providers.Invalid(Name, op, "option %s is empty", OptionCallbackKey)
		}
		a.callbackKey = v
	}
	switch v := cfg.Options[OptionTimestampUnit]; v {
	case "", "ms":
	case "s":
		a.tsSeconds = true
	default:
		return nil, providers.Invalid(Name, op, "option %s is %q, want ms or s", OptionTimestampUnit, v)
	}
	switch v := cfg.Options[OptionRSAPadding]; v {
	case "":
	case PaddingPKCS1, PaddingOAEP:
		a.padding = v
	default:
		return nil, providers.Invalid(Name, op, "option %s is %q, want %s or %s", OptionRSAPadding, v, PaddingPKCS1, PaddingOAEP)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.log = cfg.Logger
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("provider", Name, "account", cfg.Account)
	a.t = providers.NewTransport(Name, cfg)
	a.tokens = &tokenSource{fetch: a.fetchToken, now: a.now}
	return a, nil
}

// Provider returns "usdtcnpay".
func (a *Adapter) Provider() string { return Name }

// Capabilities: CNY deposits through a hosted page and CNY withdrawals to a
// bank card or Alipay, both in whole multiples of 100, queried by merchant order
// number; no balance endpoint; unsigned callbacks.
func (a *Adapter) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Deposit:           true,
		Payout:            true,
		QueryOrder:        true,
		QueryBalance:      false,
		SignedCallbacks:   false,
		PayPage:           true,
		DepositCurrencies: []string{Currency},
		PayoutCurrencies:  []string{Currency},
		AmountDecimals:    0,
		AmountMultiple:    AmountMultiple,
		// 已取消/已驳回 after 已确认/已完成 is the platform's only way to say reversed.
		ReversedAsFailed: true,
		// The success and fail URLs: the document names no method (GET or
		// POST are both read), everything is in the query, no body is read.
		CallbackGET:         true,
		CallbackQuery:       []string{ParamResult, ParamKind, ParamOrderNo, ParamSig},
		CallbackBodyIgnored: true,
	}
}

// ValidateDeposit refuses, before any call, a deposit the platform would refuse:
// a currency other than CNY, an amount that is not a whole multiple of 100, no
// order number, no usable notify URL, an unknown Method.
func (a *Adapter) ValidateDeposit(req providers.DepositRequest) error {
	const op = "invokecharge"
	if err := providers.CheckCurrency(Name, op, []string{Currency}, req.Currency); err != nil {
		return err
	}
	if req.PayCurrency != "" && req.PayCurrency != Currency {
		return providers.Invalid(Name, op, "pay currency %q is not accepted: USDTCNPAY payers pay CNY", req.PayCurrency)
	}
	if err := checkAmount(op, req.Amount); err != nil {
		return err
	}
	if err := providers.RequireFields(Name, op, "orderNo", req.OrderNo); err != nil {
		return err
	}
	if req.Method != "" {
		return providers.Invalid(Name, op, "unknown deposit method %q: USDTCNPAY has a single deposit flow (leave Method empty)", req.Method)
	}
	if _, err := a.notifyURL(op, req.NotifyURL); err != nil {
		return err
	}
	return nil
}

// ValidatePayout refuses, before any call, a withdrawal the platform would
// refuse: ValidateDeposit's checks plus the payee's name and account, a
// category (bank or Alipay) and, for a bank, a numeric bankChannel.
func (a *Adapter) ValidatePayout(req providers.PayoutRequest) error {
	const op = "submitwithdraw"
	if err := providers.CheckCurrency(Name, op, []string{Currency}, req.Currency); err != nil {
		return err
	}
	if err := checkAmount(op, req.Amount); err != nil {
		return err
	}
	if err := providers.RequireFields(Name, op, "orderNo", req.OrderNo, "name (Beneficiary.Name)", req.Beneficiary.Name,
		"account (Beneficiary.Account)", req.Beneficiary.Account); err != nil {
		return err
	}
	category, err := payoutCategory(op, req)
	if err != nil {
		return err
	}
	if category == 0 && !isDigits(req.Beneficiary.BankCode) {
		return providers.Invalid(Name, op, "bankChannel (Beneficiary.BankCode) must be the platform's numeric bank code for a bank withdrawal, got %q", req.Beneficiary.BankCode)
	}
	if _, err := a.notifyURL(op, req.NotifyURL); err != nil {
		return err
	}
	return nil
}

// CreateDeposit calls invokecharge. The success and fail URLs are built from
// the notify URL (CallbackURLs). The result carries the platform's charge number
// and hosted page (payUrl) when the answer has them.
func (a *Adapter) CreateDeposit(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	const op = "invokecharge"
	if err := a.ValidateDeposit(req); err != nil {
		return nil, err
	}
	notify, _ := a.notifyURL(op, req.NotifyURL)
	success, fail, err := a.CallbackURLs(notify, providers.KindDeposit, req.OrderNo)
	if err != nil {
		return nil, providers.Invalid(Name, op, "%v", err)
	}
	payload := ChargeRequest{OrderNo: req.OrderNo, Amount: json.Number(req.Amount.StringFixed(0)), SuccessURL: success, FailURL: fail}
	data, raw, err := a.call(ctx, op, PathCharge, payload, true)
	if err != nil {
		return nil, err
	}
	res, err := a.createResult(ctx, op, providers.KindDeposit, req.OrderNo, data, raw)
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "usdtcnpay charge created", "order_no", req.OrderNo, "charge_no", res.ProviderOrderID, "amount", req.Amount.String(), "status", res.Status)
	return res, nil
}

// CreatePayout calls submitwithdraw: category 0 (bank, with bankChannel from
// Beneficiary.BankCode) or 1 (Alipay), payee Beneficiary.Name and
// Beneficiary.Account.
func (a *Adapter) CreatePayout(ctx context.Context, req providers.PayoutRequest) (*providers.CreateResult, error) {
	const op = "submitwithdraw"
	if err := a.ValidatePayout(req); err != nil {
		return nil, err
	}
	category, _ := payoutCategory(op, req)
	notify, _ := a.notifyURL(op, req.NotifyURL)
	success, fail, err := a.CallbackURLs(notify, providers.KindPayout, req.OrderNo)
	if err != nil {
		return nil, providers.Invalid(Name, op, "%v", err)
	}
	payload := WithdrawRequest{
		OrderNo: req.OrderNo, Amount: json.Number(req.Amount.StringFixed(0)), Category: category,
		Name: req.Beneficiary.Name, Account: req.Beneficiary.Account, SuccessURL: success, FailURL: fail,
	}
	if category == 0 {
		payload.BankChannel = json.Number(strings.TrimLeft(req.Beneficiary.BankCode, "0"))
		if payload.BankChannel == "" {
			payload.BankChannel = "0"
		}
	}
	data, raw, err := a.call(ctx, op, PathWithdraw, payload, true)
	if err != nil {
		return nil, err
	}
	res, err := a.createResult(ctx, op, providers.KindPayout, req.OrderNo, data, raw)
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "usdtcnpay withdrawal submitted", "order_no", req.OrderNo, "charge_no", res.ProviderOrderID, "amount", req.Amount.String(), "category", category, "status", res.Status)
	return res, nil
}

// QueryOrder calls getcharge (q.Kind deposit) or getwithdraw (q.Kind payout) by
// merchant order number; the platform looks orders up by nothing else. The
// answer is read with or without the {msg, code, data} envelope. An unknown
// order (code 2004, or code 0 with no data) wraps ErrNotFound.
func (a *Adapter) QueryOrder(ctx context.Context, q providers.OrderQuery) (*providers.Event, error) {
	var op, path string
	switch q.Kind {
	case providers.KindDeposit:
		op, path = "getcharge", PathGetCharge
	case providers.KindPayout:
		op, path = "getwithdraw", PathGetWithdraw
	default:
		return nil, providers.Invalid(Name, "query", "order kind %q: USDTCNPAY queries charges (deposit) and withdrawals (payout) separately", q.Kind)
	}
	if strings.TrimSpace(q.OrderNo) == "" {
		return nil, providers.Invalid(Name, op, "orderNo is required: USDTCNPAY looks orders up by merchant order number only")
	}
	data, raw, err := a.call(ctx, op, path, QueryRequest{OrderNo: q.OrderNo}, false)
	if err != nil {
		return nil, err
	}
	if isNull(data) {
		return nil, &providers.Error{Kind: providers.ErrNotFound, Provider: Name, Op: op, Message: "no data for order " + q.OrderNo}
	}
	var d OrderData
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "malformed order: " + providers.Snippet(data), Err: err}
	}
	if got := string(d.OrderNo); got != "" && got != q.OrderNo {
		return nil, providers.Errorf(providers.ErrTransient, Name, op, "asked for order %q, the platform answered about %q", q.OrderNo, got)
	}
	ev, err := orderEvent(op, q.Kind, d, raw)
	if err != nil {
		return nil, err
	}
	ev.OrderNo = q.OrderNo
	return ev, nil
}

// QueryBalances is not offered: the document has no balance endpoint.
func (a *Adapter) QueryBalances(context.Context) ([]providers.Balance, error) {
	return nil, providers.Unsupported(Name, "balance")
}

// call sends one authenticated, encrypted request and returns the answer's data
// (the envelope's data, or the whole body when the platform answered without
// an envelope) and the raw body. A token the platform refuses (401) or a body
// it cannot decrypt (1001: the key may have rotated) makes it fetch a new token
// and key and send once more; the platform did not act on a refused request, so
// repeating a create is safe.
func (a *Adapter) call(ctx context.Context, op, path string, payload any, creates bool) (json.RawMessage, []byte, error) {
	plain, err := json.Marshal(payload)
	if err != nil {
		return nil, nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "encoding the request", Err: err}
	}
	for attempt := 1; ; attempt++ {
		tok, err := a.tokens.get(ctx)
		if err != nil {
			return nil, nil, err
		}
		body, err := EncryptBody(tok.key, a.padding, plain)
		if err != nil {
			return nil, nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "encrypting the request", Err: err}
		}
		h := http.Header{}
		h.Set(HeaderAccessKey, a.cfg.MerchantID)
		h.Set(HeaderAccessToken, tok.value)
		h.Set(HeaderTimestamp, a.timestamp())
		resp, err := a.t.Do(ctx, providers.Call{Op: op, Method: http.MethodPost, Path: path, Header: h,
			ContentType: "application/json", Body: body, Creates: creates})
		if err != nil {
			return nil, nil, err
		}
		data, ref := interpret(op, creates, resp)
		if ref == nil {
			return data, resp.Body, nil
		}
		if ref.refetch && attempt == 1 {
			a.log.InfoContext(ctx, "usdtcnpay refused the token or the encryption; fetching a new token and key", "op", op, "code", ref.err.Code)
			a.tokens.invalidate(tok)
			continue
		}
		return nil, resp.Body, ref.err
	}
}

// refusal is an answer that is not a success; refetch says a new token and key
// may cure it.
type refusal struct {
	err     *providers.Error
	refetch bool
}

// interpret reads a platform answer. A 2xx body is the envelope (or, for the
// order answers the document shows bare, the order itself); a 4xx is read as an
// envelope if it carries one, else by its HTTP status; a body that makes no
// sense after a create is ambiguous (the platform may have acted).
func interpret(op string, creates bool, resp *providers.Response) (json.RawMessage, *refusal) {
	unsure := providers.ErrTransient
	if creates {
		unsure = providers.ErrAmbiguous
	}
	ok2xx := resp.Status >= 200 && resp.Status < 300
	is4xx := resp.Status >= 400 && resp.Status < 500
	if !ok2xx && !is4xx {
		return nil, &refusal{err: &providers.Error{Kind: unsure, Provider: Name, Op: op, Code: strconv.Itoa(resp.Status), Message: "unexpected HTTP status: " + providers.Snippet(resp.Body)}}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &top); err != nil || top == nil {
		if is4xx {
			return nil, statusRefusal(op, resp)
		}
		return nil, &refusal{err: &providers.Error{Kind: unsure, Provider: Name, Op: op, Message: "unreadable answer: " + providers.Snippet(resp.Body), Err: err}}
	}
	rawCode, enveloped := top["code"]
	if !enveloped {
		_, hasZT := top["zt"]
		_, hasNo := top["orderNo"]
		if ok2xx && (hasZT || hasNo) {
			return json.RawMessage(resp.Body), nil // the bare order the document shows
		}
		if is4xx {
			return nil, statusRefusal(op, resp)
		}
		return nil, &refusal{err: &providers.Error{Kind: unsure, Provider: Name, Op: op, Message: "answer has neither envelope nor order: " + providers.Snippet(resp.Body)}}
	}
	code, err := envelopeCode(rawCode)
	if err != nil {
		return nil, &refusal{err: &providers.Error{Kind: unsure, Provider: Name, Op: op, Message: providers.Snippet(resp.Body), Err: err}}
	}
	var msg string
	_ = json.Unmarshal(top["msg"], &msg)
	if code == "0" {
		if is4xx {
			return nil, statusRefusal(op, resp)
		}
		return top["data"], nil
	}
	return nil, codeRefusal(op, code, msg, creates)
}

// codeRefusal turns an envelope code into a typed error (see the Code constants).
func codeRefusal(op, code, msg string, creates bool) *refusal {
	e := &providers.Error{Provider: Name, Op: op, Code: code, Message: msg}
	r := &refusal{err: e}
	switch code {
	case strconv.Itoa(CodeAuth):
		e.Kind, r.refetch = providers.ErrRejected, true
	case strconv.Itoa(CodeDecrypt):
		e.Kind, r.refetch = providers.ErrInvalidRequest, true
	case strconv.Itoa(CodeBadRequest), strconv.Itoa(CodeMethod), strconv.Itoa(CodeTimestamp), strconv.Itoa(CodeAmount):
		e.Kind = providers.ErrInvalidRequest
	case strconv.Itoa(CodeNotFound):
		e.Kind = providers.ErrNotFound
	case strconv.Itoa(CodeServer):
		e.Kind = providers.ErrTransient
		if creates {
			e.Kind = providers.ErrAmbiguous
		}
	default: // CodeForbidden, CodeDuplicate, CodeBalance and any code the document does not list
		e.Kind = providers.ErrRejected
	}
	return r
}

// statusRefusal reads a 4xx answer without an envelope by its HTTP status.
func statusRefusal(op string, resp *providers.Response) *refusal {
	e := &providers.Error{Provider: Name, Op: op, Code: strconv.Itoa(resp.Status), Message: providers.Snippet(resp.Body)}
	switch resp.Status {
	case http.StatusUnauthorized:
		e.Kind = providers.ErrRejected
		return &refusal{err: e, refetch: true}
	case http.StatusForbidden:
		e.Kind = providers.ErrRejected
	case http.StatusNotFound:
		e.Kind = providers.ErrInvalidRequest
		e.Message = "no such endpoint (check Config.BaseURL): " + e.Message
	default:
		e.Kind = providers.ErrInvalidRequest
	}
	return &refusal{err: e}
}

// fetchToken calls getAccessToken. Its body is plain JSON: no platform key is
// known before the first token. The lifetime counts from before the request
// was sent, so that the cached token never outlives the platform's.
func (a *Adapter) fetchToken(ctx context.Context) (*accessToken, error) {
	const op = "getAccessToken"
	body, err := json.Marshal(TokenRequest{AccessKey: a.cfg.MerchantID, SecretKey: a.cfg.Secret.Reveal()})
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Err: err}
	}
	start := a.now()
	resp, err := a.t.Do(ctx, providers.Call{Op: op, Method: http.MethodPost, Path: PathToken, ContentType: "application/json", Body: body})
	if err != nil {
		return nil, err
	}
	data, ref := interpret(op, false, resp)
	if ref != nil {
		return nil, ref.err
	}
	malformed := func(format string, args ...any) error {
		return &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: fmt.Sprintf(format, args...)}
	}
	var d TokenData
	if isNull(data) || json.Unmarshal(data, &d) != nil {
		return nil, malformed("token answer without usable data")
	}
	if d.AccessToken == "" {
		return nil, malformed("token answer without accessToken")
	}
	key, err := ParsePublicKey(d.PublicKey)
	if err != nil {
		return nil, malformed("token answer's publicKey: %v", err)
	}
	ttl, err := tokenLifetime(d.ExpireTime, start)
	if err != nil {
		return nil, malformed("token answer's expireTime: %v", err)
	}
	a.log.InfoContext(ctx, "usdtcnpay access token fetched", "lifetime", ttl, "key_bits", key.N.BitLen())
	return &accessToken{value: d.AccessToken, key: key, expires: start.Add(ttl), refresh: start.Add(ttl - refreshMargin(ttl))}, nil
}

// defaultTokenLifetime applies when the token answer has no expireTime: 600 s,
// the shorter of the document's two figures (600 s and 15 minutes).
const defaultTokenLifetime = 600 * time.Second

// tokenLifetime reads expireTime: seconds of lifetime (600), or, tolerated, an
// absolute Unix time in seconds or milliseconds.
func tokenLifetime(raw json.RawMessage, start time.Time) (time.Duration, error) {
	if isNull(raw) {
		return defaultTokenLifetime, nil
	}
	var f FlexString
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(f)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of seconds", string(f))
	}
	var ttl time.Duration
	switch {
	case n > 1e11:
		ttl = time.UnixMilli(n).Sub(start)
	case n > 1e9:
		ttl = time.Unix(n, 0).Sub(start)
	default:
		ttl = time.Duration(n) * time.Second
	}
	if ttl <= 0 {
		return 0, fmt.Errorf("%d leaves no lifetime", n)
	}
	return ttl, nil
}

// createResult reads the answer of invokecharge or submitwithdraw. The
// document shows none, so every field is optional; an answer that is there but
// unreadable, or about another order, is ambiguous: the platform may have
// created the order, so it must be queried before anything is sent again.
func (a *Adapter) createResult(ctx context.Context, op string, kind providers.OrderKind, orderNo string, data json.RawMessage, raw []byte) (*providers.CreateResult, error) {
	res := &providers.CreateResult{Status: providers.StatusPending, Raw: raw}
	if isNull(data) {
		return res, nil
	}
	var d OrderData
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, &providers.Error{Kind: providers.ErrAmbiguous, Provider: Name, Op: op, Message: "unreadable answer: " + providers.Snippet(data), Err: err}
	}
	if got := string(d.OrderNo); got != "" && got != orderNo {
		return nil, providers.Errorf(providers.ErrAmbiguous, Name, op, "created order %q, the platform answered about %q", orderNo, got)
	}
	res.ProviderOrderID = string(d.ChargeNo)
	res.CashierURL = d.PayURL
	if d.ZT != "" {
		if st, err := MapStatus(kind, string(d.ZT)); err == nil {
			res.Status = st
		} else {
			a.log.WarnContext(ctx, "usdtcnpay create answer with unknown zt; taking pending", "op", op, "order_no", orderNo, "zt", string(d.ZT))
		}
	}
	if !isNull(d.Amount) {
		if amt, err := providers.ParseJSONAmount(d.Amount); err == nil {
			res.Amount = providers.Nullable(amt)
		}
	}
	return res, nil
}

// orderEvent normalizes an order answer. The platform states no fee and no
// credited amount, so those stay invalid; Requested and Paid come from the
// amount and actualAmount extensions when present.
func orderEvent(op string, kind providers.OrderKind, d OrderData, raw []byte) (*providers.Event, error) {
	st, err := MapStatus(kind, string(d.ZT))
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "order status not understood", Err: err}
	}
	ev := &providers.Event{
		Provider: Name, Kind: kind, ProviderOrderID: string(d.ChargeNo), OrderNo: string(d.OrderNo),
		Status: st, ProviderStatus: string(d.ZT), Currency: Currency, Remark: d.Remark, Verified: true, Raw: raw,
	}
	if ev.Requested, err = optionalAmount(d.Amount); err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "amount", Err: err}
	}
	if ev.Paid, err = optionalAmount(d.ActualAmount); err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "actualAmount", Err: err}
	}
	for i, p := range d.Parts {
		amt, err := providers.ParseJSONAmount(p.Amount)
		if err != nil {
			return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: fmt.Sprintf("parts[%d].amount", i), Err: err}
		}
		part := providers.Part{ID: string(p.PartNo), Amount: amt, Status: providers.StatusProcessing}
		if p.ZT != "" {
			if part.Status, err = MapStatus(providers.KindPayout, string(p.ZT)); err != nil {
				return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: fmt.Sprintf("parts[%d].zt", i), Err: err}
			}
		}
		part.OccurredAt, _ = ParseTime(string(p.FinishTime))
		ev.Parts = append(ev.Parts, part)
	}
	return ev, nil
}

func optionalAmount(raw json.RawMessage) (decimal.NullDecimal, error) {
	if isNull(raw) {
		return decimal.NullDecimal{}, nil
	}
	d, err := providers.ParseJSONAmount(raw)
	if err != nil {
		return decimal.NullDecimal{}, err
	}
	return providers.Nullable(d), nil
}

// checkAmount refuses an amount the platform would refuse: anything but a
// positive whole multiple of 100 CNY.
func checkAmount(op string, amount decimal.Decimal) error {
	if !amount.IsPositive() || !amount.Mod(AmountMultiple).IsZero() {
		return providers.Invalid(Name, op, "amount %s CNY refused: USDTCNPAY takes only positive whole multiples of 100 CNY (100, 200, 300, ...)", amount.String())
	}
	return nil
}

// payoutCategory resolves the withdrawal channel from Method and
// Beneficiary.Category, which must agree when both are set; neither means bank
// (category 0), the document's first channel, which then needs a bankChannel.
func payoutCategory(op string, req providers.PayoutRequest) (int, error) {
	byMethod := -1
	switch req.Method {
	case "":
	case MethodBank:
		byMethod = 0
	case MethodAlipay:
		byMethod = 1
	default:
		return 0, providers.Invalid(Name, op, "unknown payout method %q (want %q or %q)", req.Method, MethodBank, MethodAlipay)
	}
	byCategory := -1
	switch req.Beneficiary.Category {
	case "":
	case "0":
		byCategory = 0
	case "1":
		byCategory = 1
	default:
		return 0, providers.Invalid(Name, op, "unknown category %q (want \"0\" bank or \"1\" Alipay)", req.Beneficiary.Category)
	}
	switch {
	case byMethod >= 0 && byCategory >= 0 && byMethod != byCategory:
		return 0, providers.Invalid(Name, op, "method %q and category %q disagree", req.Method, req.Beneficiary.Category)
	case byCategory >= 0:
		return byCategory, nil
	case byMethod >= 0:
		return byMethod, nil
	}
	return 0, nil
}

// notifyURL is the request's notify URL, else the account's; the success and
// fail URLs are built from it, so it is required.
func (a *Adapter) notifyURL(op, override string) (string, error) {
	u := override
	if u == "" {
		u = a.cfg.NotifyURL
	}
	if u == "" {
		return "", providers.Invalid(Name, op, "a notify URL is required (request NotifyURL or Config.NotifyURL): the success and fail URLs are built from it")
	}
	if err := checkNotifyURL(u); err != nil {
		return "", providers.Invalid(Name, op, "notify URL: %v", err)
	}
	return u, nil
}

// timestamp is the Timestamp header: Unix milliseconds, or seconds with
// Options timestamp_unit=s.
func (a *Adapter) timestamp() string {
	if a.tsSeconds {
		return strconv.FormatInt(a.now().Unix(), 10)
	}
	return strconv.FormatInt(a.now().UnixMilli(), 10)
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

func checkNotifyURL(s string) error {
	if err := checkBaseURL(s); err != nil {
		return err
	}
	if strings.Contains(s, "#") {
		return errors.New("must not carry a fragment")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
