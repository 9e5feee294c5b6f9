package orders

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// CreateRequest asks for a deposit or a payout.
type CreateRequest struct {
	MerchantID      int64             `json:"-"`
	Kind            Kind              `json:"kind"`
	ProviderAccount string            `json:"provider_account"`
	MerchantOrderNo string            `json:"merchant_order_no,omitempty"`
	CustomerID      string            `json:"customer_id"`
	Amount          decimal.Decimal   `json:"amount"`
	Currency        string            `json:"currency"`
	PayCurrency     string            `json:"pay_currency,omitempty"`
	Method          string            `json:"method,omitempty"`
	Party           providers.Party   `json:"party"`
	ReturnURL       string            `json:"return_url,omitempty"`
	FailURL         string            `json:"fail_url,omitempty"`
	Extra           map[string]string `json:"extra,omitempty"`
	IdempotencyKey  string            `json:"-"`
}

// InputError is an ErrInvalid with a machine-readable code and the field at fault.
type InputError struct {
	Code    string // e.g. "invalid_amount", "unsupported_currency"
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Message }

// Unwrap makes an InputError an ErrInvalid.
func (e *InputError) Unwrap() error { return ErrInvalid }

// Create validates and stores an order and, in the same transaction, a payout's
// ledger hold on the customer's balance and the submit_order job. The same
// idempotency key with the same request returns the first order (replayed);
// with another request it is ErrIdempotencyConflict. Nothing is stored when it
// returns an error.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Order, bool, error) {
	if err := checkRequest(req); err != nil {
		return Order{}, false, err
	}
	if err := s.checkAmount(ctx, req); err != nil {
		return Order{}, false, err
	}
	hash := requestHash(req)
	if prev, ok, err := s.replay(ctx, s.q, req.MerchantID, req.IdempotencyKey, hash); ok || err != nil {
		return prev, ok, err
	}
	p, err := s.prepare(ctx, req)
	if err != nil {
		return Order{}, false, err
	}
	var row ordersdb.Order
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		row, err = s.insert(ctx, tx, p, hash)
		return err
	})
	if errors.Is(err, errInsertConflict) {
		if prev, ok, rerr := s.replay(ctx, s.q, req.MerchantID, req.IdempotencyKey, hash); ok || rerr != nil {
			return prev, ok, rerr
		}
	}
	if err != nil {
		return Order{}, false, createError(p.req, err)
	}
	o, err := s.fromRow(ctx, row)
	return o, false, err
}

// CreateTx is Create inside the caller's transaction tx, so that the order, a
// payout's hold and its submit_order job commit or roll back with the
// caller's own writes (a resolution that credits a customer and pays the
// money back out). The same idempotency key and request return the order
// already made (true). A refusal leaves tx usable; on any error the caller
// should roll back.
func (s *Service) CreateTx(ctx context.Context, tx pgx.Tx, req CreateRequest) (Order, bool, error) {
	if err := checkRequest(req); err != nil {
		return Order{}, false, err
	}
	if err := s.checkAmount(ctx, req); err != nil {
		return Order{}, false, err
	}
	hash := requestHash(req)
	q := s.q.WithTx(tx)
	if prev, ok, err := s.replay(ctx, q, req.MerchantID, req.IdempotencyKey, hash); ok || err != nil {
		return prev, ok, err
	}
	p, err := s.prepare(ctx, req)
	if err != nil {
		return Order{}, false, err
	}
	row, err := s.insert(ctx, tx, p, hash)
	if err != nil {
		return Order{}, false, createError(p.req, err)
	}
	o, err := s.fromRow(ctx, row)
	return o, false, err
}

// prepared is a request checked against its provider account and adapter,
// with the order number tally will send the provider.
type prepared struct {
	req        CreateRequest
	acct       merchants.ProviderAccount
	providerNo string
}

// prepare checks what needs the provider account and its adapter (nothing is
// written): the account is the merchant's and enabled, the amount within the
// account's limit, the currency the provider settles in stated (settleCurrency),
// and the adapter would take the request.
func (s *Service) prepare(ctx context.Context, req CreateRequest) (prepared, error) {
	adapter, acct, err := s.merchants.Adapter(ctx, req.MerchantID, req.ProviderAccount)
	if err != nil || acct.MerchantID != req.MerchantID || !acct.Enabled {
		// The lookup is the merchant's own: another merchant's account of the
		// same name is as unknown as no account.
		return prepared{}, &InputError{Code: "unknown_provider_account", Field: "provider_account",
			Message: fmt.Sprintf("provider account %q is unknown or disabled", req.ProviderAccount)}
	}
	scale, err := s.merchants.CurrencyScale(ctx, req.Currency)
	if err != nil {
		return prepared{}, fmt.Errorf("scale of %s: %w", req.Currency, err) // checkAmount has seen it
	}
	if limit := acct.MaxAmount(req.Currency, scale); req.Amount.GreaterThan(limit) {
		return prepared{}, &InputError{Code: "invalid_amount", Field: "amount",
			Message: fmt.Sprintf("amount %s %s is above the limit of provider account %q: %s %s", req.Amount, req.Currency, acct.Name, limit, req.Currency)}
	}
	if req.PayCurrency, err = s.settleCurrency(ctx, adapter, req); err != nil {
		return prepared{}, err
	}
	providerNo := newProviderOrderNo(s.opts.Now())
	if err := validateAtProvider(adapter, req, providerNo, s.merchants.NotifyURL(acct)); err != nil {
		return prepared{}, err
	}
	return prepared{req: req, acct: acct, providerNo: providerNo}, nil
}

// insert stores a prepared order in tx: the order row, a payout's hold, the
// created event and the submit_order job. An order already stored under the
// idempotency key or merchant order no is errInsertConflict.
func (s *Service) insert(ctx context.Context, tx pgx.Tx, p prepared, hash []byte) (ordersdb.Order, error) {
	req, acct := p.req, p.acct
	requestJSON, _ := json.Marshal(req)
	q := s.q.WithTx(tx)
	ip := ordersdb.InsertOrderParams{
		MerchantID: req.MerchantID, ProviderAccountID: acct.ID, Kind: string(req.Kind), Origin: "api",
		ProviderOrderNo: p.providerNo, CustomerID: req.CustomerID, Amount: req.Amount, Currency: req.Currency,
		PayCurrency: req.PayCurrency, Status: string(StatusCreated), Request: requestJSON,
		IdempotencyKey: &req.IdempotencyKey, RequestHash: hash,
	}
	if req.MerchantOrderNo != "" {
		ip.MerchantOrderNo = &req.MerchantOrderNo
	}
	// Every order has a deadline: a payout's hold lasts HoldTTL, a deposit
	// may stay unpaid for its account's deposit lifetime (after which
	// reconciliation calls it stale).
	exp := s.opts.Now().Add(acct.DepositLifetime)
	if req.Kind == providers.KindPayout {
		exp = s.opts.Now().Add(s.opts.HoldTTL)
	}
	ip.ExpiresAt = &exp
	row, err := q.InsertOrder(ctx, ip)
	if errors.Is(err, pgx.ErrNoRows) {
		return row, errInsertConflict
	}
	if err != nil {
		return row, fmt.Errorf("insert order: %w", err)
	}
	if req.Kind == providers.KindPayout {
		holdKey := fmt.Sprintf("order:%d:hold", row.ID)
		_, err := s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
			// No ledger deadline: the hold ends when the order does.
			// ExpireHolds queries the provider at the order's expires_at
			// and releases the hold only when that is safe.
			Merchant: req.MerchantID, Key: holdKey, Pending: true,
			Reference: orderRef(row.ID),
			Entries: []ledger.Entry{
				{Account: ledger.CustomerAccount(req.CustomerID, req.Currency), Side: ledger.Debit, Amount: req.Amount},
				{Account: ledger.ProviderAccount(acct.Name, req.Currency), Side: ledger.Credit, Amount: req.Amount},
			},
		})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return row, ErrInsufficientFunds
		}
		if err != nil {
			return row, fmt.Errorf("hold payout: %w", err)
		}
		if err := q.SetHoldKey(ctx, ordersdb.SetHoldKeyParams{ID: row.ID, HoldKey: holdKey}); err != nil {
			return row, fmt.Errorf("record hold: %w", err)
		}
		row.HoldKey = holdKey
	}
	if _, err := s.recordEvent(ctx, q, row, "api", "", string(StatusCreated), map[string]any{"request": json.RawMessage(requestJSON)}); err != nil {
		return row, err
	}
	return row, s.queue.SubmitOrder(ctx, tx, row.ID)
}

// createError says why an insert failed, in the caller's terms.
func createError(req CreateRequest, err error) error {
	switch {
	case errors.Is(err, errInsertConflict):
		return fmt.Errorf("merchant order no %q: %w", req.MerchantOrderNo, ErrDuplicateOrderNo)
	case errors.Is(err, ErrInsufficientFunds):
		return fmt.Errorf("payout of %s %s for customer %s: %w", req.Amount, req.Currency, req.CustomerID, ErrInsufficientFunds)
	default:
		return fmt.Errorf("create %s: %w", req.Kind, err)
	}
}

var errInsertConflict = errors.New("order insert conflict")

// replay returns the order stored under an idempotency key: (order, true) when
// the request is the same, ErrIdempotencyConflict when it differs, (_, false)
// when the key is new.
func (s *Service) replay(ctx context.Context, q *ordersdb.Queries, merchantID int64, key string, hash []byte) (Order, bool, error) {
	row, err := q.OrderByIdempotencyKey(ctx, ordersdb.OrderByIdempotencyKeyParams{MerchantID: merchantID, IdempotencyKey: &key})
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, false, nil
	}
	if err != nil {
		return Order{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if !bytes.Equal(row.RequestHash, hash) {
		return Order{}, false, fmt.Errorf("idempotency key %q: %w", key, ErrIdempotencyConflict)
	}
	o, err := s.fromRow(ctx, row)
	return o, true, err
}

var (
	customerRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
	orderNoRE  = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
)

// checkAmount refuses an order currency tally keeps no books in, and an
// amount that is not positive or has more decimals than its currency.
func (s *Service) checkAmount(ctx context.Context, req CreateRequest) error {
	scale, err := s.merchants.CurrencyScale(ctx, req.Currency)
	if errors.Is(err, merchants.ErrUnknownCurrency) {
		return &InputError{Code: "unsupported_currency", Field: "currency", Message: fmt.Sprintf("currency %q is not supported", req.Currency)}
	}
	if err != nil {
		return fmt.Errorf("scale of %s: %w", req.Currency, err)
	}
	if !req.Amount.IsPositive() {
		return &InputError{Code: "invalid_amount", Field: "amount", Message: fmt.Sprintf("amount %s must be positive", req.Amount)}
	}
	if !req.Amount.Equal(req.Amount.Truncate(scale)) {
		return &InputError{Code: "invalid_amount", Field: "amount", Message: fmt.Sprintf("amount %s has more than %d decimals for %s", req.Amount, scale, req.Currency)}
	}
	return nil
}

// settleCurrency is the currency the provider will settle the order in, which
// the order's books (its pay_currency) follow, and which must therefore be
// stated rather than defaulted wherever the provider is told it:
//
//   - a quoted deposit (VPay: quoted in CNY, paid in USDT or TRX) needs
//     pay_currency: the provider's request requires it (userCurrency) and a
//     default would decide the settlement currency for the merchant;
//   - every other order settles in its own currency (the provider is sent
//     currency, or the account has one, which New of the adapter requires), so
//     pay_currency may only repeat it.
func (s *Service) settleCurrency(ctx context.Context, adapter providers.Adapter, req CreateRequest) (string, error) {
	quoted := req.Kind == providers.KindDeposit && adapter.Capabilities().QuotedDeposits
	switch {
	case quoted && req.PayCurrency == "":
		return "", &InputError{Code: "missing_field", Field: "pay_currency",
			Message: fmt.Sprintf("pay_currency is required: %s quotes the deposit in %s and settles it in the currency the payer pays in, which the request must state", adapter.Provider(), req.Currency)}
	case quoted:
		if _, err := s.merchants.CurrencyScale(ctx, req.PayCurrency); err != nil {
			return "", &InputError{Code: "unsupported_currency", Field: "pay_currency", Message: fmt.Sprintf("currency %q is not supported", req.PayCurrency)}
		}
		return req.PayCurrency, nil
	case req.PayCurrency != "" && req.PayCurrency != req.Currency:
		what := "settles this deposit in its currency"
		if req.Kind == providers.KindPayout {
			what = "pays a payout out in its currency"
		}
		return "", &InputError{Code: "unsupported_currency", Field: "pay_currency",
			Message: fmt.Sprintf("pay_currency %q: %s %s (%s); leave pay_currency out or send %s", req.PayCurrency, adapter.Provider(), what, req.Currency, req.Currency)}
	}
	return req.Currency, nil
}

// checkRequest validates what needs no database or provider.
func checkRequest(req CreateRequest) error {
	if req.Kind != providers.KindDeposit && req.Kind != providers.KindPayout {
		return &InputError{Code: "invalid_kind", Field: "kind", Message: fmt.Sprintf("kind %q: deposit or payout", req.Kind)}
	}
	if k := req.IdempotencyKey; k == "" || len(k) > 255 {
		return &InputError{Code: "missing_idempotency_key", Field: "Idempotency-Key", Message: "an Idempotency-Key of 1 to 255 characters is required"}
	}
	if req.ProviderAccount == "" {
		return &InputError{Code: "missing_field", Field: "provider_account", Message: "provider_account is required"}
	}
	if !customerRE.MatchString(req.CustomerID) {
		return &InputError{Code: "invalid_customer_id", Field: "customer_id", Message: "customer_id: 1 to 64 of A-Z a-z 0-9 _ . @ -"}
	}
	if req.MerchantOrderNo != "" && !orderNoRE.MatchString(req.MerchantOrderNo) {
		return &InputError{Code: "invalid_merchant_order_no", Field: "merchant_order_no", Message: "merchant_order_no: 1 to 64 printable ASCII characters"}
	}
	return nil
}

// validateAtProvider asks the adapter whether the provider would take the order,
// before anything is stored.
func validateAtProvider(a providers.Adapter, req CreateRequest, providerNo, notifyURL string) error {
	caps := a.Capabilities()
	var err error
	switch req.Kind {
	case providers.KindDeposit:
		if !caps.Deposit {
			return &InputError{Code: "unsupported_operation", Field: "provider_account", Message: a.Provider() + " does not take deposits"}
		}
		err = a.ValidateDeposit(depositRequest(req, providerNo, notifyURL))
	case providers.KindPayout:
		if !caps.Payout {
			return &InputError{Code: "unsupported_operation", Field: "provider_account", Message: a.Provider() + " does not make payouts"}
		}
		err = a.ValidatePayout(payoutRequest(req, providerNo, notifyURL))
	}
	if err == nil {
		return nil
	}
	msg := err.Error()
	var perr *providers.Error
	if errors.As(err, &perr) && perr.Message != "" {
		msg = perr.Message
	}
	code, field := "rejected_by_provider_rules", ""
	switch lower := strings.ToLower(msg); {
	case strings.Contains(lower, "pay currency"):
		code, field = "unsupported_currency", "pay_currency"
	case strings.Contains(lower, "currency"):
		code, field = "unsupported_currency", "currency"
	case strings.Contains(lower, "multiple"), strings.Contains(lower, "decimal"), strings.Contains(lower, "amount"):
		code, field = "invalid_amount", "amount"
	case strings.Contains(lower, "missing"), strings.Contains(lower, "required"):
		code = "missing_field"
	}
	return &InputError{Code: code, Field: field, Message: fmt.Sprintf("%s: %s", a.Provider(), msg)}
}

// depositRequest is what the adapter is asked for. PayCurrency is always the
// order's settlement currency (prepare has made it explicit), so that no
// adapter falls back to a default of its own.
func depositRequest(req CreateRequest, providerNo, notifyURL string) providers.DepositRequest {
	return providers.DepositRequest{
		OrderNo: providerNo, Amount: req.Amount, Currency: req.Currency, PayCurrency: req.PayCurrency, CustomerID: req.CustomerID,
		NotifyURL: notifyURL, ReturnURL: req.ReturnURL, FailURL: req.FailURL, Payer: req.Party, Method: req.Method, Extra: req.Extra,
	}
}

func payoutRequest(req CreateRequest, providerNo, notifyURL string) providers.PayoutRequest {
	return providers.PayoutRequest{
		OrderNo: providerNo, Amount: req.Amount, Currency: req.Currency, CustomerID: req.CustomerID, NotifyURL: notifyURL,
		ReturnURL: req.ReturnURL, FailURL: req.FailURL, Beneficiary: req.Party, Method: req.Method, Extra: req.Extra,
	}
}

// requestHash identifies a request's content for idempotency.
func requestHash(req CreateRequest) []byte {
	h := hashedRequest{Kind: req.Kind, ProviderAccount: req.ProviderAccount, MerchantOrderNo: req.MerchantOrderNo,
		CustomerID: req.CustomerID, Amount: req.Amount, Currency: req.Currency, PayCurrency: req.PayCurrency, Method: req.Method,
		Party: hashedParty(req.Party), ReturnURL: req.ReturnURL, FailURL: req.FailURL, Extra: req.Extra}
	b, _ := json.Marshal(struct {
		hashedRequest
		Amount string `json:"amount"`
	}{h, req.Amount.String()})
	sum := sha256.Sum256(b)
	return sum[:]
}

// newProviderOrderNo makes the order number tally sends a provider: "T", the
// time to the second and 8 random digits (21 characters, digits only after the
// T), within every provider's length and character limits.
func newProviderOrderNo(now time.Time) string {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("T%s%08d", now.UTC().Format("060102150405"), n.Int64())
}

func orderRef(id int64) string { return fmt.Sprintf("order:%d", id) }
