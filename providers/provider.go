// Package providers defines what tally needs from a payment provider — the Adapter
// interface every provider package implements, normalized order statuses and
// events, and typed errors the job layer acts on — and holds what the five
// adapters share: HTTP plumbing with error classification, amount formatting,
// constant-time signature comparison and redacted secrets.
//
// Each provider lives in its own sub-package (usdtpay, cxpay, usdtcnpay, cpay,
// vpay) with the same shape: the adapter (client and callback parsing), its
// signing rule, its status mapping, and a faithful simulator built on package
// providers/sim, in the same files under the same names (README.md in this
// directory), each pair passing the suite of package providers/conformance. An adapter depends only on an *http.Client and a base URL, so the
// same code talks to the simulator and to the real provider.
package providers

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/shopspring/decimal"
)

// Adapter is a client for one provider account (a provider plus one set of
// merchant credentials). Methods a provider does not offer return an error that
// wraps ErrUnsupported; Capabilities says which those are before any call.
type Adapter interface {
	// Provider is the provider's name: "usdtpay", "cxpay", "usdtcnpay", "cpay" or "vpay".
	Provider() string
	// Capabilities says what this provider offers and which currencies it takes.
	Capabilities() Capabilities

	// ValidateDeposit refuses, without any network call, a deposit the provider
	// would refuse: a currency it does not take, an amount it cannot express (too
	// many decimals, not a multiple of 100 for USDTCNPAY), a missing required field.
	// The error wraps ErrInvalidRequest.
	ValidateDeposit(req DepositRequest) error
	// ValidatePayout is ValidateDeposit for payouts.
	ValidatePayout(req PayoutRequest) error

	// CreateDeposit asks the provider to collect money from a payer. It validates
	// first. The result carries what the payer needs: a cashier URL, a
	// self-submitting pay form, or wallet addresses.
	CreateDeposit(ctx context.Context, req DepositRequest) (*CreateResult, error)
	// CreatePayout asks the provider to pay money out to a beneficiary.
	CreatePayout(ctx context.Context, req PayoutRequest) (*CreateResult, error)
	// QueryOrder asks the provider for an order's current state. An order the
	// provider does not know is an error wrapping ErrNotFound, which after an
	// ambiguous create means it is safe to create again.
	QueryOrder(ctx context.Context, q OrderQuery) (*Event, error)
	// QueryBalances returns the merchant's balances at the provider, per currency.
	QueryBalances(ctx context.Context) ([]Balance, error)

	// ParseCallback verifies a callback the provider sent and normalizes it. It
	// makes no network call. A signature that does not verify is an error
	// wrapping ErrBadSignature; an unparsable body wraps ErrInvalidRequest. For
	// providers whose callbacks are unsigned, the event has Verified false: it is
	// a hint to query the order, never a reason to post money.
	ParseCallback(cb *Callback) (*Event, error)
	// Reply is the answer to send the provider for a callback: its documented
	// acknowledgement when err is nil (only after the callback is durably
	// stored), otherwise a failure answer that makes the provider retry.
	Reply(err error) Reply
}

// Capabilities describe what a provider offers, because the five differ widely.
type Capabilities struct {
	Deposit         bool // create deposit (collection) orders
	Payout          bool // create payout (withdrawal) orders
	QueryOrder      bool // query an order's state
	QueryBalance    bool // query the merchant's balances
	SignedCallbacks bool // callbacks carry a signature that can be verified
	PayPage         bool // deposits return a hosted page (cashier URL or pay form)
	WalletAddress   bool // per-user wallet addresses; deposits may arrive without an order
	QuotedDeposits  bool // deposits are quoted in one currency and paid in another

	// DepositCurrencies and PayoutCurrencies list the currencies accepted; a
	// deposit's Currency must be one of them (for quoted deposits, the quote currency).
	DepositCurrencies []string
	PayoutCurrencies  []string
	// AmountDecimals is the most decimals an amount may carry on the wire.
	AmountDecimals int32
	// AmountMultiple, when non-zero, is what every amount must be a multiple of
	// (USDTCNPAY: 100).
	AmountMultiple decimal.Decimal

	// ReversedAsFailed: the provider has no reversed status and reports a
	// reversal as a failure of an order that had succeeded (C-Pay 15 after 14,
	// USDTCNPAY 已取消/已驳回 after 已确认/已完成). tally reads it as a reversal.
	ReversedAsFailed bool
	// QueryHidesReversals: the order query still says succeeded after a
	// reversal (CXPay); only the callback shows it, so reconciliation does not
	// call a reversed order that the query reports succeeded a mismatch.
	QueryHidesReversals bool

	// CallbackGET: the provider may call tally's callback URL with GET
	// (USDTCNPAY's successUrl and failUrl); every other provider's document
	// POSTs, and a GET to its account is refused (405) before anything is read.
	CallbackGET bool
	// CallbackQuery names the query parameters of a callback that the
	// adapter reads (UsdtPay's amount, USDTCNPAY's result, kind, orderNo and
	// sig); any other is dropped before the callback is verified and stored,
	// so that a query string never makes a delivery new. Nil: none.
	CallbackQuery []string
	// CallbackBodyIgnored: the adapter never reads a callback's body
	// (USDTCNPAY); it is dropped before the callback is stored.
	CallbackBodyIgnored bool
}

// Config is what an adapter needs to talk to one provider account.
type Config struct {
	// Account is tally's name for this provider account, e.g. "cpay-main".
	Account string
	// BaseURL is where the provider's API lives, e.g. "https://api.cpay.ltd" or a
	// sandbox prefix such as "http://127.0.0.1:9000/cpay".
	BaseURL string
	// MerchantID is the provider's id for the merchant (C-Pay merchantId, CXPay
	// merchant, UsdtPay crmNo, VPay key, USDTCNPAY accessKey).
	MerchantID string
	// Secret is the signing or authentication secret (C-Pay secret, CXPay key,
	// UsdtPay MD5 key, VPay secret, USDTCNPAY secretKey). It never reaches a log.
	Secret Secret
	// Options holds provider-specific settings, documented in each package
	// (e.g. CXPay "pay_code" and "payout_pay_code").
	Options map[string]string
	// NotifyURL is where the provider should send callbacks for this account
	// (tally's /callbacks/{account}); a request's own NotifyURL overrides it.
	NotifyURL string
	// HTTPClient makes every call; nil means a client with a 30 s timeout under
	// the default egress policy (package egress: public addresses only, no
	// redirects).
	HTTPClient *http.Client
	// Now is the clock for request timestamps; nil means time.Now.
	Now func() time.Time
	// Logger receives request logs (never secrets or signatures); nil means slog.Default().
	Logger *slog.Logger
}

// DepositRequest asks a provider to collect money from a payer.
type DepositRequest struct {
	// OrderNo is the merchant order number sent to the provider; unique per
	// provider account (tally sends its own order reference).
	OrderNo string
	// Amount is the requested amount in Currency.
	Amount decimal.Decimal
	// Currency is the order's currency; for a quoted deposit (VPay) the quote
	// currency, e.g. CNY.
	Currency string
	// PayCurrency is what the payer pays in when it differs from Currency
	// (VPay: USDT). Empty means Currency.
	PayCurrency string
	// CustomerID is the payer's id in the merchant's system (C-Pay userId,
	// UsdtPay customerId, VPay localUserId).
	CustomerID string
	// NotifyURL overrides Config.NotifyURL for this order.
	NotifyURL string
	// ReturnURL is where the payer's browser goes after paying; FailURL after a
	// failure (providers that have only one use ReturnURL).
	ReturnURL string
	FailURL   string
	// Payer is what some providers require about the payer (CXPay in Brazil).
	Payer Party
	// Method selects a variant where a provider has several ways to collect
	// (C-Pay: "" for the cashier, "credit_card"); each package documents its own.
	Method string
	// Extra carries provider-specific fields, documented in each package.
	Extra map[string]string
	// CreatedAt is the order time sent where a provider wants one; zero means now.
	CreatedAt time.Time
}

// PayoutRequest asks a provider to pay money out to a beneficiary.
type PayoutRequest struct {
	OrderNo    string
	Amount     decimal.Decimal
	Currency   string
	CustomerID string
	NotifyURL  string
	ReturnURL  string
	FailURL    string
	// Beneficiary is who receives the money and where.
	Beneficiary Party
	Method      string
	Extra       map[string]string
	CreatedAt   time.Time
}

// Party describes a payer or a beneficiary; each provider uses the fields it knows.
// Its JSON (the merchant API's payer and beneficiary) is snake_case; rows
// stored by an earlier tally spelt the keys as Go's field names (TaxID), which
// UnmarshalStoredParty still reads.
type Party struct {
	Name        string `json:"name,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	TaxID       string `json:"tax_id,omitempty"`       // Brazil CPF/CNPJ
	Account     string `json:"account,omitempty"`      // bank account, card, Pix key, Alipay account or wallet address
	AccountType string `json:"account_type,omitempty"` // provider's own code (C-Pay Pix accountType, CXPay account kind)
	BankCode    string `json:"bank_code,omitempty"`    // bank code, IFSC, or USDTCNPAY bankChannel
	Network     string `json:"network,omitempty"`      // crypto network, e.g. "TRON(TRC-20)"
	Country     string `json:"country,omitempty"`
	Category    string `json:"category,omitempty"` // USDTCNPAY: "0" bank, "1" Alipay
}

// CreateResult is a provider's answer to a create call.
type CreateResult struct {
	ProviderOrderID string
	Status          Status
	// CashierURL is the hosted page the payer opens.
	CashierURL string
	// PayForm is a self-submitting form the payer's browser posts (UsdtPay).
	PayForm *PayForm
	// Addresses are wallet addresses the payer sends crypto to.
	Addresses []WalletAddress
	// Fee and Amount are what the provider reported, where it did.
	Fee    decimal.NullDecimal
	Amount decimal.NullDecimal
	// Raw is the provider's response body as received.
	Raw []byte
}

// PayForm is an HTML form the payer's browser submits to the provider.
// Its JSON keys are snake_case (single words, which encoding/json also
// matched in the Go spelling of the rows stored before).
type PayForm struct {
	Action string      `json:"action"`
	Method string      `json:"method"`
	Fields []FormField `json:"fields"` // in the provider's documented order
}

// FormField is one field of a PayForm.
type FormField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// WalletAddress is a deposit address on one network.
type WalletAddress struct {
	Currency string `json:"currency"`
	Network  string `json:"network"`
	Address  string `json:"address"`
}

// OrderQuery identifies an order at the provider. Providers look orders up by
// different keys; each uses the first it supports.
type OrderQuery struct {
	Kind            OrderKind // some providers query deposits and payouts separately
	OrderNo         string
	ProviderOrderID string
	TxHash          string
}

// Balance is a merchant's balance at a provider in one currency.
type Balance struct {
	Currency  string
	Total     decimal.Decimal // available + frozen
	Available decimal.Decimal
	Frozen    decimal.Decimal
}

// OrderKind tells deposits from payouts.
type OrderKind string

const (
	KindDeposit OrderKind = "deposit"
	KindPayout  OrderKind = "payout"
)

// Status is a normalized order status.
type Status string

const (
	StatusPending    Status = "pending"    // created, nothing paid yet
	StatusProcessing Status = "processing" // the provider is working on it (payout sent, proof under review)
	StatusSucceeded  Status = "succeeded"  // money moved
	StatusFailed     Status = "failed"     // money did not move and will not
	StatusExpired    Status = "expired"    // the payer never paid in time
	StatusReversed   Status = "reversed"   // money moved, then moved back
)

// Final reports whether no further ordinary transition is expected. A succeeded
// order is final but may still be reversed.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusExpired, StatusReversed:
		return true
	}
	return false
}

// Valid reports whether s is one of the normalized statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusSucceeded, StatusFailed, StatusExpired, StatusReversed:
		return true
	}
	return false
}

// Event is a normalized statement by a provider about one order: a callback, or
// the answer to a query. It keeps everything reconciliation compares. Amounts a
// provider did not state are invalid NullDecimals, never zero.
type Event struct {
	Provider        string
	Kind            OrderKind // empty when the provider does not say
	ProviderOrderID string
	OrderNo         string // the merchant order number; empty for deposits without an order
	Status          Status
	// ProviderStatus is the provider's own status value, as sent ("14", "已确认").
	ProviderStatus string

	Requested decimal.NullDecimal // amount the order asked for
	Paid      decimal.NullDecimal // amount the payer actually paid (or the provider received)
	Credited  decimal.NullDecimal // amount credited to (or debited from) the merchant balance
	Fee       decimal.NullDecimal // the provider's fee
	Currency  string              // currency of Requested, Paid, Credited and Fee

	// Quote is the other currency's side of a cross-currency order: an amount
	// in a currency other than Currency, set only where the provider states
	// one. Which side it is depends on which amount the provider signs:
	//   - VPay signs the paid side: Currency is the paid currency (USDT, Paid
	//     the USDT received) and Quote the quote the order was made in
	//     ({CNY, quoteAmount, quotePrice}).
	//   - UsdtPay signs the order side: Currency is the order currency (CNY,
	//     Paid the signed orderAmount UsdtPay settled for) and Quote the USDT
	//     the payer paid ({USDT, amount, Rate zero}), from the unsigned
	//     `amount` parameter: information for reconciliation only, never a
	//     basis for posting money, and absent when UsdtPay does not send it.
	// A consumer therefore reads Quote by Quote.Currency, never by position.
	Quote *Quote

	Reversed bool   // the provider flags the order as reversed
	TxHash   string // on-chain transaction hash
	Network  string
	UserID   string // the payer's id in the merchant's system (C-Pay wallet deposits)
	Address  string // the wallet address paid to
	Remark   string // failure reason or note
	// Parts are the pieces of an order the provider settles in several parts
	// (USDTCNPAY withdrawals).
	Parts []Part

	// Verified is true when the event comes from a verified signature or from a
	// query the adapter made itself; false for unsigned callbacks, which are hints.
	Verified bool
	// OccurredAt is the provider's time for the event, zero when not given.
	OccurredAt time.Time
	// Raw is the provider's payload as received (callback body or query response).
	Raw []byte
}

// Quote is the side of a cross-currency order stated in a currency other than
// the Event's Currency (see Event.Quote for which side each provider fills).
type Quote struct {
	// Currency is the currency of Amount; it differs from Event.Currency.
	Currency string
	// Amount is the order's amount in Currency.
	Amount decimal.Decimal
	// Rate is the provider's stated rate in units of the order's quote
	// currency per unit of the currency paid (CNY per USDT) whichever side
	// Quote holds; zero when the provider states none (UsdtPay).
	Rate decimal.Decimal
}

// Part is one piece of an order settled in several parts. Its JSON keys are
// snake_case; UnmarshalJSON also reads the Go spelling of parts stored by an
// earlier tally (OccurredAt).
type Part struct {
	ID         string          `json:"id"`
	Amount     decimal.Decimal `json:"amount"`
	Status     Status          `json:"status"`
	OccurredAt time.Time       `json:"occurred_at"`
}

// Callback is an inbound request from a provider, as received.
type Callback struct {
	Method     string
	Path       string
	Query      url.Values
	Header     http.Header
	Body       []byte
	RemoteAddr string
}

// Reply is the HTTP answer to a provider's callback.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
}

// Write sends r on w.
func (r Reply) Write(w http.ResponseWriter) {
	if r.ContentType != "" {
		w.Header().Set("Content-Type", r.ContentType)
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body)
}

// TextReply is a plain-text reply, the shape of every provider's acknowledgement.
func TextReply(status int, body string) Reply {
	return Reply{Status: status, ContentType: "text/plain; charset=utf-8", Body: []byte(body)}
}
