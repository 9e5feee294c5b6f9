package cpay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Name is the provider's name in tally.
const Name = "cpay"

// Hosts are the API hosts cpay.txt names ("Env config": prod and test): the
// base URL hosts a merchant may set through the API unless the operator
// allows more (tally serve --provider-host-allow).
var Hosts = []string{"api.cpay.ltd", "sandbox-api.cpay.ltd"}

// Deposit methods (DepositRequest.Method).
const (
	// MethodCashier ("") creates a cashier order (createOrder); the payer opens
	// CreateResult.CashierURL and pays in crypto.
	MethodCashier = ""
	// MethodCreditCard creates a card order (createOrderByCreditCard) in USD,
	// EUR or BRL; the payer opens CreateResult.CashierURL.
	MethodCreditCard = "credit_card"
	// MethodWallet creates no order: it returns the user's deposit addresses
	// (getWalletAddress); what the user sends arrives as a webhook without a
	// merchantTradeNo.
	MethodWallet = "wallet"
)

// Payout methods (PayoutRequest.Method) for fiat currencies; a crypto currency
// always goes through withdraw and takes only "".
const (
	// MethodPix (or "" for BRL) is payoutChannel 1: currency BRL, country BRA,
	// Beneficiary.AccountType 1 cpf/cnpj, 2 email, 3 mobile, 4 random key.
	MethodPix = "pix"
	// MethodBankCard is payoutChannel 2.
	MethodBankCard = "bank_card"
)

// Networks as C-Pay names them.
const (
	NetworkTRON     = "TRON(TRC-20)"
	NetworkBSC      = "BSC(BEP-20)"
	NetworkEthereum = "Ethereum(ERC-20)"
	NetworkBitcoin  = "Bitcoin"
)

// Extra keys the adapter reads.
const (
	// ExtraIP is the payer's IPv4/IPv6 address, required by createOrderByCreditCard.
	ExtraIP = "ip"
	// ExtraProducts is the card order's products JSON array; when absent the
	// adapter sends one product named after the order.
	ExtraProducts = "products"
	// ExtraLanguage is the card page language (en-US, ru-RU), sent as the
	// documented (misspelt) field "lanuage".
	ExtraLanguage = "language"
	// ExtraTotalAmount is withdraw's totalAmount, what the user is charged at
	// the merchant; default the payout amount (receivedAmount).
	ExtraTotalAmount = "totalAmount"
	// ExtraRemark and ExtraExtInfo are createFiatPayoutOrder's remark and extInfo.
	ExtraRemark  = "remark"
	ExtraExtInfo = "extInfo"
)

// AmountDecimals is the most decimals C-Pay takes on a crypto amount
// ("Support 8 decimals, e.g. 66.12345678").
const AmountDecimals = 8

// fiatDecimals is the most decimals on a fiat amount (card orders: "The
// precision is two decimal places, higher precision rounds down" — tally never
// lets an amount be rounded, so it refuses a third decimal).
const fiatDecimals = 2

// maxNoLen is the length of merchantTradeNo and userId (String(64)); maxURLLen
// of the callback and return URLs (String(256)).
const (
	maxNoLen  = 64
	maxURLLen = 256
)

var (
	cashierCurrencies = []string{"BNB", "BTC", "ETH", "USDT"}
	walletCurrencies  = []string{"BNB", "BTC", "ETH", "TRX", "USDT"}
	cardCurrencies    = []string{"BRL", "EUR", "USD"}
	cryptoCurrencies  = []string{"BNB", "BTC", "ETH", "TRX", "USDT"}
	fiatCurrencies    = []string{"BRL", "EUR", "USD"}

	// networkCurrencies says which currencies travel on which network.
	networkCurrencies = map[string][]string{
		NetworkTRON:     {"TRX", "USDT"},
		NetworkBSC:      {"BNB", "USDT"},
		NetworkEthereum: {"ETH", "USDT"},
		NetworkBitcoin:  {"BTC"},
	}
)

// Adapter is a client for one C-Pay merchant account. It holds only an HTTP
// client and a base URL, so the same code talks to C-Pay and to the simulator.
type Adapter struct {
	cfg providers.Config
	tr  *providers.Transport
	now func() time.Time
	log *slog.Logger
}

var _ providers.Adapter = (*Adapter)(nil)

// New builds an adapter. BaseURL, MerchantID and Secret are required; C-Pay
// reads no Options.
func New(cfg providers.Config) (*Adapter, error) {
	var missing []string
	if cfg.BaseURL == "" {
		missing = append(missing, "BaseURL")
	}
	if cfg.MerchantID == "" {
		missing = append(missing, "MerchantID")
	}
	if cfg.Secret.Reveal() == "" {
		missing = append(missing, "Secret")
	}
	if len(missing) > 0 {
		return nil, providers.Invalid(Name, "config", "missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, providers.Invalid(Name, "config", "BaseURL %q is not an http(s) URL", cfg.BaseURL)
	}
	a := &Adapter{cfg: cfg, tr: providers.NewTransport(Name, cfg), now: cfg.Now, log: cfg.Logger}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a, nil
}

// Provider is "cpay".
func (a *Adapter) Provider() string { return Name }

// Capabilities: cashier and card deposits, crypto and fiat payouts, order and
// balance queries, signed webhooks, hosted cashier pages, and per-user wallet
// addresses whose deposits arrive without an order; up to 8 decimals.
func (a *Adapter) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Deposit:           true,
		Payout:            true,
		QueryOrder:        true,
		QueryBalance:      true,
		SignedCallbacks:   true,
		PayPage:           true,
		WalletAddress:     true,
		DepositCurrencies: union(cashierCurrencies, walletCurrencies, cardCurrencies),
		PayoutCurrencies:  union(cryptoCurrencies, fiatCurrencies),
		AmountDecimals:    AmountDecimals,
		// Status 15 (CLOSED) after 14 (COMPLETED) is C-Pay's only way to say reversed.
		ReversedAsFailed: true,
	}
}

// ValidateDeposit refuses, before any call, a deposit C-Pay would refuse, and
// a PayCurrency other than the deposit's currency: C-Pay is sent the one
// currency it settles the order in (cryptoCurrency, or currency for cards),
// so books kept in another would be wrong.
func (a *Adapter) ValidateDeposit(req providers.DepositRequest) error {
	const op = "createOrder"
	if req.PayCurrency != "" && req.PayCurrency != req.Currency {
		return providers.Invalid(Name, op, "pay currency %q: C-Pay settles the deposit in its currency %q; leave PayCurrency empty or the same", req.PayCurrency, req.Currency)
	}
	switch req.Method {
	case MethodCashier:
		if err := a.validateOrder(op, req.OrderNo, req.CustomerID, req.NotifyURL, req.ReturnURL, req.FailURL); err != nil {
			return err
		}
		if err := providers.CheckCurrency(Name, op, cashierCurrencies, req.Currency); err != nil {
			return err
		}
		return providers.CheckAmount(Name, op, a.Capabilities(), req.Amount)
	case MethodCreditCard:
		const op = "createOrderByCreditCard"
		if err := a.validateOrder(op, req.OrderNo, req.CustomerID, req.NotifyURL, req.ReturnURL, req.FailURL); err != nil {
			return err
		}
		if err := providers.CheckCurrency(Name, op, cardCurrencies, req.Currency); err != nil {
			return err
		}
		if err := checkAmount(op, req.Amount, fiatDecimals); err != nil {
			return err
		}
		if err := providers.RequireFields(Name, op, "Payer.Email", req.Payer.Email, "Payer.Country", req.Payer.Country, "Extra[ip]", req.Extra[ExtraIP]); err != nil {
			return err
		}
		if p := req.Extra[ExtraProducts]; p != "" && !json.Valid([]byte(p)) {
			return providers.Invalid(Name, op, "Extra[products] is not JSON")
		}
		return nil
	case MethodWallet:
		const op = "getWalletAddress"
		if err := checkID(op, "CustomerID (userId)", req.CustomerID); err != nil {
			return err
		}
		if req.Currency != "" {
			return providers.CheckCurrency(Name, op, walletCurrencies, req.Currency)
		}
		return nil
	}
	return providers.Invalid(Name, op, "unknown deposit method %q (\"\", %q, %q)", req.Method, MethodCreditCard, MethodWallet)
}

// ValidatePayout refuses, before any call, a payout C-Pay would refuse.
func (a *Adapter) ValidatePayout(req providers.PayoutRequest) error {
	if slices.Contains(cryptoCurrencies, req.Currency) {
		const op = "withdraw"
		if req.Method != "" {
			return providers.Invalid(Name, op, "crypto payouts take no method, got %q", req.Method)
		}
		if err := a.validateOrder(op, req.OrderNo, req.CustomerID, req.NotifyURL, "", ""); err != nil {
			return err
		}
		if err := providers.CheckAmount(Name, op, a.Capabilities(), req.Amount); err != nil {
			return err
		}
		if err := providers.RequireFields(Name, op, "Beneficiary.Network", req.Beneficiary.Network, "Beneficiary.Account (toAddress)", req.Beneficiary.Account); err != nil {
			return err
		}
		if err := checkNetwork(op, req.Currency, req.Beneficiary.Network); err != nil {
			return err
		}
		if len(req.Beneficiary.Account) > 128 {
			return providers.Invalid(Name, op, "toAddress longer than 128 characters")
		}
		if t := req.Extra[ExtraTotalAmount]; t != "" {
			total, err := providers.ParseAmount(t)
			if err != nil {
				return providers.Invalid(Name, op, "Extra[totalAmount]: %v", err)
			}
			if err := providers.CheckDecimals(total, AmountDecimals); err != nil {
				return providers.Invalid(Name, op, "Extra[totalAmount]: %v", err)
			}
			if total.LessThan(req.Amount) {
				return providers.Invalid(Name, op, "Extra[totalAmount] %s is less than the amount received %s", total, req.Amount)
			}
		}
		return nil
	}
	const op = "createFiatPayoutOrder"
	if err := providers.CheckCurrency(Name, op, union(cryptoCurrencies, fiatCurrencies), req.Currency); err != nil {
		return err
	}
	if err := a.validateOrder(op, req.OrderNo, req.CustomerID, req.NotifyURL, req.ReturnURL, req.FailURL); err != nil {
		return err
	}
	if err := checkAmount(op, req.Amount, fiatDecimals); err != nil {
		return err
	}
	channel, err := payoutChannel(req.Method, req.Currency)
	if err != nil {
		return err
	}
	if err := providers.RequireFields(Name, op, "Beneficiary.Account (toAccount)", req.Beneficiary.Account, "Beneficiary.AccountType", req.Beneficiary.AccountType); err != nil {
		return err
	}
	if channel == payoutChannelPix {
		if req.Currency != "BRL" {
			return providers.Invalid(Name, op, "Pix payouts are in BRL, got %s", req.Currency)
		}
		if c := req.Beneficiary.Country; c != "" && c != "BRA" {
			return providers.Invalid(Name, op, "Pix payouts go to country BRA, got %s", c)
		}
		if !slices.Contains([]string{"1", "2", "3", "4"}, req.Beneficiary.AccountType) {
			return providers.Invalid(Name, op, "Pix accountType %q must be 1 (cpf/cnpj), 2 (email), 3 (mobile) or 4 (random key)", req.Beneficiary.AccountType)
		}
	} else if req.Beneficiary.Country == "" {
		return providers.Invalid(Name, op, "missing required field(s): Beneficiary.Country")
	}
	return nil
}

// CreateDeposit creates a cashier order (Method ""), a card order
// ("credit_card"), or returns the user's deposit addresses ("wallet").
func (a *Adapter) CreateDeposit(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	if err := a.ValidateDeposit(req); err != nil {
		return nil, err
	}
	switch req.Method {
	case MethodCreditCard:
		return a.createCardOrder(ctx, req)
	case MethodWallet:
		return a.walletDeposit(ctx, req)
	}
	p := params{}
	p.set("merchantTradeNo", req.OrderNo)
	p.set("createTime", a.millis(req.CreatedAt))
	p.set("userId", req.CustomerID)
	p.set("amount", req.Amount.String())
	p.set("cryptoCurrency", req.Currency)
	p.set("callbackURL", firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL))
	p.set("successURL", req.ReturnURL)
	p.set("failURL", req.FailURL)
	env, raw, err := a.call(ctx, "createOrder", http.MethodPost, PathCreateOrder, p, true)
	if err != nil {
		return nil, err
	}
	res, data, err := a.createResult("createOrder", env, raw, "status", "orderAmount")
	if err != nil {
		return nil, err
	}
	res.CashierURL = data.str("cashierURL")
	a.logCreated(ctx, "createOrder", req.OrderNo, res)
	return res, nil
}

// CreatePayout sends a crypto payout (withdraw) for a crypto currency, a fiat
// payout (createFiatPayoutOrder: Pix or bank card) for a fiat one.
func (a *Adapter) CreatePayout(ctx context.Context, req providers.PayoutRequest) (*providers.CreateResult, error) {
	if err := a.ValidatePayout(req); err != nil {
		return nil, err
	}
	if slices.Contains(cryptoCurrencies, req.Currency) {
		return a.withdraw(ctx, req)
	}
	return a.fiatPayout(ctx, req)
}

// QueryOrder looks an order up (getOrderDetail) by every key given: merchant
// order no (merchantTradeNo), C-Pay order id (cpayOrderId) and transaction
// hash (hash). An order C-Pay does not know wraps ErrNotFound.
func (a *Adapter) QueryOrder(ctx context.Context, q providers.OrderQuery) (*providers.Event, error) {
	const op = "getOrderDetail"
	if q.OrderNo == "" && q.ProviderOrderID == "" && q.TxHash == "" {
		return nil, providers.Invalid(Name, op, "an order no, a C-Pay order id or a transaction hash is required")
	}
	p := params{}
	p.set("merchantTradeNo", q.OrderNo)
	p.set("cpayOrderId", q.ProviderOrderID)
	p.set("hash", q.TxHash)
	env, raw, err := a.call(ctx, op, http.MethodGet, PathGetOrderDetail, p, false)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) && pe.Kind == providers.ErrRejected && isNotFound(pe.Message) {
			pe.Kind = providers.ErrNotFound
		}
		return nil, err
	}
	data, err := decodeObject(env.Data)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable order detail", Err: err}
	}
	if len(data) == 0 {
		return nil, &providers.Error{Kind: providers.ErrNotFound, Provider: Name, Op: op, Message: "no order for " + describeQuery(q)}
	}
	ev, err := eventFrom(data, "status", "currency")
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable order detail", Err: err}
	}
	ev.Kind = q.Kind
	if ev.Kind == "" && ev.OrderNo == "" && ev.UserID != "" {
		ev.Kind = providers.KindDeposit
	}
	ev.Verified = true
	ev.Raw = raw
	return ev, nil
}

// QueryBalances returns the merchant's balance in every currency C-Pay lists
// (getMerchantBalance), sorted by currency: Available is availableBalance,
// Frozen freezeBalance.
func (a *Adapter) QueryBalances(ctx context.Context) ([]providers.Balance, error) {
	const op = "getMerchantBalance"
	env, _, err := a.call(ctx, op, http.MethodGet, PathGetMerchantBalance, params{}, false)
	if err != nil {
		return nil, err
	}
	list, err := decodeList(env.Data)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable balances", Err: err}
	}
	out := make([]providers.Balance, 0, len(list))
	for _, item := range list {
		cur := item.str("cryptoCurrency")
		avail, err1 := item.amount("availableBalance")
		frozen, err2 := item.amount("freezeBalance")
		if err := errors.Join(err1, err2); err != nil || cur == "" {
			if err == nil {
				err = errors.New("balance without cryptoCurrency")
			}
			return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable balance", Err: err}
		}
		b := providers.Balance{Currency: cur, Available: avail.Decimal, Frozen: frozen.Decimal}
		b.Total = b.Available.Add(b.Frozen)
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out, nil
}

// WalletAddresses returns the deposit addresses C-Pay keeps for a user, one
// per currency and network (getWalletAddress). Crypto the user sends to one
// of them arrives as a webhook without a merchantTradeNo.
func (a *Adapter) WalletAddresses(ctx context.Context, userID string) ([]providers.WalletAddress, error) {
	const op = "getWalletAddress"
	if err := checkID(op, "userId", userID); err != nil {
		return nil, err
	}
	env, _, err := a.call(ctx, op, http.MethodGet, PathGetWalletAddress, params{"userId": userID}, false)
	if err != nil {
		return nil, err
	}
	list, err := decodeList(env.Data)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable addresses", Err: err}
	}
	out := make([]providers.WalletAddress, 0, len(list))
	for _, item := range list {
		w := providers.WalletAddress{Currency: item.str("currency"), Network: item.str("network"), Address: item.str("address")}
		if w.Address == "" || w.Currency == "" {
			return nil, providers.Errorf(providers.ErrTransient, Name, op, "address entry without currency or address")
		}
		out = append(out, w)
	}
	return out, nil
}

// --- helpers ---

const (
	payoutChannelPix      = "1"
	payoutChannelBankCard = "2"
)

func (a *Adapter) createCardOrder(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	const op = "createOrderByCreditCard"
	products := req.Extra[ExtraProducts]
	if products == "" {
		b, _ := json.Marshal([]map[string]string{{"name": "order " + req.OrderNo, "price": req.Amount.StringFixed(fiatDecimals), "num": "1", "currency": req.Currency}})
		products = string(b)
	}
	p := params{}
	p.set("merchantTradeNo", req.OrderNo)
	p.set("userId", req.CustomerID)
	p.set("currency", req.Currency)
	p.set("amount", req.Amount.String())
	p.set("products", products)
	p.set("country", req.Payer.Country)
	p.set("email", req.Payer.Email)
	p.set("ip", req.Extra[ExtraIP])
	p.set("lanuage", req.Extra[ExtraLanguage])
	p.set("callBackURL", firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL))
	p.set("successURL", req.ReturnURL)
	p.set("failURL", req.FailURL)
	p.set("createTime", a.millis(req.CreatedAt))
	env, raw, err := a.call(ctx, op, http.MethodPost, PathCreateOrderByCreditCard, p, true)
	if err != nil {
		return nil, err
	}
	res, data, err := a.createResult(op, env, raw, "orderStatus", "orderAmount")
	if err != nil {
		return nil, err
	}
	if sig := data.str(SignField); sig != "" {
		ps, err := JSONParams(data)
		if err != nil || !Verify(ps, a.cfg.Secret.Reveal(), sig) {
			return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "response signature does not verify (order %s may exist: query it)", req.OrderNo)
		}
	}
	res.CashierURL = data.str("cashierURL")
	a.logCreated(ctx, op, req.OrderNo, res)
	return res, nil
}

func (a *Adapter) walletDeposit(ctx context.Context, req providers.DepositRequest) (*providers.CreateResult, error) {
	all, err := a.WalletAddresses(ctx, req.CustomerID)
	if err != nil {
		return nil, err
	}
	res := &providers.CreateResult{Status: providers.StatusPending}
	for _, w := range all {
		if req.Currency == "" || w.Currency == req.Currency {
			res.Addresses = append(res.Addresses, w)
		}
	}
	if len(res.Addresses) == 0 {
		return nil, providers.Errorf(providers.ErrRejected, Name, "getWalletAddress", "no %s address for user %s", req.Currency, req.CustomerID)
	}
	return res, nil
}

func (a *Adapter) withdraw(ctx context.Context, req providers.PayoutRequest) (*providers.CreateResult, error) {
	const op = "withdraw"
	p := params{}
	p.set("userId", req.CustomerID)
	p.set("merchantTradeNo", req.OrderNo)
	p.set("createTime", a.millis(req.CreatedAt))
	p.set("cryptoCurrency", req.Currency)
	p.set("network", req.Beneficiary.Network)
	p.set("totalAmount", firstNonEmpty(req.Extra[ExtraTotalAmount], req.Amount.String()))
	p.set("receivedAmount", req.Amount.String())
	p.set("toAddress", req.Beneficiary.Account)
	p.set("callbackURL", firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL))
	env, raw, err := a.call(ctx, op, http.MethodPost, PathWithdraw, p, true)
	if err != nil {
		return nil, err
	}
	res, _, err := a.createResult(op, env, raw, "status", "receivedAmount")
	if err != nil {
		return nil, err
	}
	a.logCreated(ctx, op, req.OrderNo, res)
	return res, nil
}

func (a *Adapter) fiatPayout(ctx context.Context, req providers.PayoutRequest) (*providers.CreateResult, error) {
	const op = "createFiatPayoutOrder"
	channel, _ := payoutChannel(req.Method, req.Currency)
	country := req.Beneficiary.Country
	if country == "" && channel == payoutChannelPix {
		country = "BRA"
	}
	p := params{}
	p.set("userId", req.CustomerID)
	p.set("merchantTradeNo", req.OrderNo)
	p.set("payoutChannel", channel)
	p.set("amount", req.Amount.String())
	p.set("currency", req.Currency)
	p.set("accountType", req.Beneficiary.AccountType)
	p.set("toAccount", req.Beneficiary.Account)
	p.set("accountCode", req.Beneficiary.BankCode)
	p.set("country", country)
	p.set("createTime", a.millis(req.CreatedAt))
	p.set("callBackURL", firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL))
	p.set("successURL", req.ReturnURL)
	p.set("failURL", req.FailURL)
	p.set("remark", req.Extra[ExtraRemark])
	p.set("extInfo", req.Extra[ExtraExtInfo])
	env, raw, err := a.call(ctx, op, http.MethodPost, PathCreateFiatPayoutOrder, p, true)
	if err != nil {
		return nil, err
	}
	res, _, err := a.createResult(op, env, raw, "status", "receivedAmount")
	if err != nil {
		return nil, err
	}
	a.logCreated(ctx, op, req.OrderNo, res)
	return res, nil
}

// createResult reads the data of a successful create. C-Pay said success, so
// an unreadable answer is ambiguous: the order exists but we do not know it.
func (a *Adapter) createResult(op string, env *envelope, raw []byte, statusKey, amountKey string) (*providers.CreateResult, object, error) {
	ambiguous := func(err error) error {
		return &providers.Error{Kind: providers.ErrAmbiguous, Provider: Name, Op: op, Message: "success without a readable order", Err: err}
	}
	data, err := decodeObject(env.Data)
	if err != nil {
		return nil, nil, ambiguous(err)
	}
	res := &providers.CreateResult{ProviderOrderID: data.str("orderId"), Status: providers.StatusPending, Raw: raw}
	if res.ProviderOrderID == "" {
		return nil, nil, ambiguous(errors.New("no orderId"))
	}
	if code := data.str(statusKey); code != "" {
		st, err := MapStatus(code)
		if err != nil {
			return nil, nil, ambiguous(err)
		}
		res.Status = st
	}
	if res.Amount, err = data.amount(amountKey); err != nil {
		return nil, nil, ambiguous(err)
	}
	if res.Fee, err = data.amount("fee"); err != nil {
		return nil, nil, ambiguous(err)
	}
	return res, data, nil
}

// call signs and sends one request: form parameters in the query string for
// GET, a form-encoded body for POST. It returns the envelope of a success
// (code 0); any other code is an error: "invalid param ..." wraps
// ErrInvalidRequest, everything else ErrRejected with C-Pay's code and msg.
func (a *Adapter) call(ctx context.Context, op, method, path string, p params, creates bool) (*envelope, []byte, error) {
	p["merchantId"] = a.cfg.MerchantID
	p[SignField] = Sign(p, a.cfg.Secret.Reveal())
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	c := providers.Call{Op: op, Method: method, Path: path, Creates: creates}
	if method == http.MethodGet {
		c.Query = form
	} else {
		c.Body = []byte(form.Encode())
		c.ContentType = "application/x-www-form-urlencoded"
	}
	resp, err := a.tr.Do(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	env, perr := parseEnvelope(resp.Body)
	if resp.Status != http.StatusOK {
		if perr == nil && !env.ok() {
			return nil, nil, a.refusal(op, env)
		}
		kind := providers.ErrRejected
		switch resp.Status {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
			kind = providers.ErrInvalidRequest
		}
		return nil, nil, &providers.Error{Kind: kind, Provider: Name, Op: op, Code: "HTTP " + strconv.Itoa(resp.Status), Message: providers.Snippet(resp.Body)}
	}
	if perr != nil {
		kind := providers.ErrTransient
		if creates {
			kind = providers.ErrAmbiguous
		}
		return nil, nil, &providers.Error{Kind: kind, Provider: Name, Op: op, Message: "unreadable response", Err: perr}
	}
	if !env.ok() {
		return nil, nil, a.refusal(op, env)
	}
	return env, resp.Body, nil
}

func (a *Adapter) refusal(op string, env *envelope) error {
	kind := providers.ErrRejected
	if strings.HasPrefix(strings.ToLower(env.Msg), "invalid param") {
		kind = providers.ErrInvalidRequest
	}
	a.log.Warn("cpay refused", "account", a.cfg.Account, "op", op, "code", env.Code, "msg", env.Msg, "traceid", env.TraceID)
	return &providers.Error{Kind: kind, Provider: Name, Op: op, Code: env.Code, Message: env.Msg}
}

func (a *Adapter) logCreated(ctx context.Context, op, orderNo string, res *providers.CreateResult) {
	a.log.InfoContext(ctx, "cpay order created", "account", a.cfg.Account, "op", op, "order_no", orderNo,
		"provider_order_id", res.ProviderOrderID, "status", string(res.Status))
}

func (a *Adapter) validateOrder(op, orderNo, userID, notifyURL, returnURL, failURL string) error {
	if err := checkID(op, "OrderNo (merchantTradeNo)", orderNo); err != nil {
		return err
	}
	if err := checkID(op, "CustomerID (userId)", userID); err != nil {
		return err
	}
	for _, u := range []string{firstNonEmpty(notifyURL, a.cfg.NotifyURL), returnURL, failURL} {
		if len(u) > maxURLLen {
			return providers.Invalid(Name, op, "URL longer than %d characters", maxURLLen)
		}
	}
	return nil
}

func (a *Adapter) millis(t time.Time) string {
	if t.IsZero() {
		t = a.now()
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func checkID(op, name, v string) error {
	if strings.TrimSpace(v) == "" {
		return providers.Invalid(Name, op, "missing required field(s): %s", name)
	}
	if len(v) > maxNoLen {
		return providers.Invalid(Name, op, "%s longer than %d characters", name, maxNoLen)
	}
	return nil
}

func checkAmount(op string, amount decimal.Decimal, places int32) error {
	if !amount.IsPositive() {
		return providers.Invalid(Name, op, "amount %s must be positive", amount.String())
	}
	if err := providers.CheckDecimals(amount, places); err != nil {
		return providers.Invalid(Name, op, "%v", err)
	}
	return nil
}

func checkNetwork(op, currency, network string) error {
	curs, ok := networkCurrencies[network]
	if !ok {
		return providers.Invalid(Name, op, "unknown network %q (%s, %s, %s, %s)", network, NetworkBitcoin, NetworkEthereum, NetworkTRON, NetworkBSC)
	}
	if !slices.Contains(curs, currency) {
		return providers.Invalid(Name, op, "%s does not travel on %s", currency, network)
	}
	return nil
}

func payoutChannel(method, currency string) (string, error) {
	switch method {
	case MethodPix:
		return payoutChannelPix, nil
	case MethodBankCard:
		return payoutChannelBankCard, nil
	case "":
		if currency == "BRL" {
			return payoutChannelPix, nil
		}
		return "", providers.Invalid(Name, "createFiatPayoutOrder", "a %s payout needs method %q", currency, MethodBankCard)
	}
	return "", providers.Invalid(Name, "createFiatPayoutOrder", "unknown payout method %q (%q, %q)", method, MethodPix, MethodBankCard)
}

// isNotFound recognizes C-Pay's answer for an unknown order. It is strict on
// purpose: a false "not found" after an ambiguous create would create the
// order twice.
func isNotFound(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "order") && (strings.Contains(m, "not exist") || strings.Contains(m, "not found"))
}

func describeQuery(q providers.OrderQuery) string {
	var parts []string
	if q.OrderNo != "" {
		parts = append(parts, "merchantTradeNo "+q.OrderNo)
	}
	if q.ProviderOrderID != "" {
		parts = append(parts, "cpayOrderId "+q.ProviderOrderID)
	}
	if q.TxHash != "" {
		parts = append(parts, "hash "+q.TxHash)
	}
	return strings.Join(parts, ", ")
}

func union(sets ...[]string) []string {
	var out []string
	for _, s := range sets {
		for _, v := range s {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
