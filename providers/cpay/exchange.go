package cpay

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// PurchaseType says which side of a rate query Amount is on.
type PurchaseType int

const (
	// BySource: Amount is what the user spends in the source currency.
	BySource PurchaseType = 0
	// ByTarget: Amount is what the user wants to get in the target currency.
	ByTarget PurchaseType = 1
)

// RateQuery asks for an exchange rate (getExchangeRate,
// getExchangeRateForCreditCard).
type RateQuery struct {
	Source       string // the currency the user has
	Target       string // the currency the user wants
	PurchaseType PurchaseType
	Amount       decimal.Decimal
}

// Rate is C-Pay's quote. Rate is source units per one target unit (USDT→BTC
// 40000): the document's "sourceCurrency:targetCurrency=1:exchangeRate" is
// contradicted by its own example and by the card quote's arithmetic (100 USD
// at 2999.342 gives 0.03334064604 ETH), which the adapter follows.
type Rate struct {
	Source, Target string
	Rate           decimal.Decimal
	// AmountExchanged is only in card quotes: for BySource the target amount
	// the user gets, for ByTarget the source amount the user pays.
	AmountExchanged decimal.NullDecimal
	Raw             []byte
}

// ExchangeRate returns the real-time rate for fiat to crypto and crypto to
// crypto (getExchangeRate).
func (a *Adapter) ExchangeRate(ctx context.Context, q RateQuery) (*Rate, error) {
	return a.rate(ctx, "getExchangeRate", PathGetExchangeRate, q)
}

// ExchangeRateForCreditCard returns the rate and converted amount of a card
// purchase (getExchangeRateForCreditCard).
func (a *Adapter) ExchangeRateForCreditCard(ctx context.Context, q RateQuery) (*Rate, error) {
	return a.rate(ctx, "getExchangeRateForCreditCard", PathGetExchangeRateForCreditCard, q)
}

// ExchangeRequest converts merchant money between two currencies at C-Pay
// (exchange): SourceAmount of Source is debited, the target amount credited.
type ExchangeRequest struct {
	OrderNo      string // merchantTradeNo, unique like any order no
	UserID       string // userId
	Source       string
	SourceAmount decimal.Decimal
	Target       string
	CreatedAt    time.Time // zero means now
}

// ExchangeResult is what an exchange gave.
type ExchangeResult struct {
	TargetCurrency string
	// TargetAmount is what arrived, after Fee (in the target currency).
	TargetAmount decimal.Decimal
	Rate         decimal.Decimal // source units per target unit
	Fee          decimal.NullDecimal
	Raw          []byte
}

// Exchange converts between two currencies (exchange). Like every create it
// may end ambiguous: query by OrderNo (QueryOrder) before sending it again.
func (a *Adapter) Exchange(ctx context.Context, req ExchangeRequest) (*ExchangeResult, error) {
	const op = "exchange"
	if err := a.validateOrder(op, req.OrderNo, req.UserID, "", "", ""); err != nil {
		return nil, err
	}
	if err := providers.RequireFields(Name, op, "Source", req.Source, "Target", req.Target); err != nil {
		return nil, err
	}
	if req.Source == req.Target {
		return nil, providers.Invalid(Name, op, "source and target currency are both %s", req.Source)
	}
	if err := checkAmount(op, req.SourceAmount, AmountDecimals); err != nil {
		return nil, err
	}
	p := params{}
	p.set("userId", req.UserID)
	p.set("merchantTradeNo", req.OrderNo)
	p.set("createTime", a.millis(req.CreatedAt))
	p.set("sourceCurrency", req.Source)
	p.set("sourceAmount", req.SourceAmount.String())
	p.set("targetCurrency", req.Target)
	env, raw, err := a.call(ctx, op, http.MethodPost, PathExchange, p, true)
	if err != nil {
		return nil, err
	}
	data, err := decodeObject(env.Data)
	if err == nil && data == nil {
		err = errors.New("no data")
	}
	var res ExchangeResult
	if err == nil {
		var amt, rate decimal.NullDecimal
		var e1, e2, e3 error
		amt, e1 = data.amount("targetAmount")
		rate, e2 = data.amount("exchangeRate")
		res.Fee, e3 = data.amount("fee")
		err = errors.Join(e1, e2, e3)
		if err == nil && (!amt.Valid || !rate.Valid) {
			err = errors.New("no targetAmount or exchangeRate")
		}
		res.TargetAmount, res.Rate = amt.Decimal, rate.Decimal
	}
	if err != nil {
		// C-Pay answered success but the result cannot be read: the exchange
		// may have happened.
		return nil, &providers.Error{Kind: providers.ErrAmbiguous, Provider: Name, Op: op, Message: "unreadable exchange result", Err: err}
	}
	res.TargetCurrency = firstNonEmpty(data.str("targetCurrency"), req.Target)
	res.Raw = raw
	return &res, nil
}

func (a *Adapter) rate(ctx context.Context, op, path string, q RateQuery) (*Rate, error) {
	if err := providers.RequireFields(Name, op, "Source", q.Source, "Target", q.Target); err != nil {
		return nil, err
	}
	if len(q.Source) > 16 || len(q.Target) > 16 {
		return nil, providers.Invalid(Name, op, "currency longer than 16 characters")
	}
	if q.PurchaseType != BySource && q.PurchaseType != ByTarget {
		return nil, providers.Invalid(Name, op, "purchaseType %d must be 0 (by source) or 1 (by target)", q.PurchaseType)
	}
	if err := checkAmount(op, q.Amount, AmountDecimals); err != nil {
		return nil, err
	}
	p := params{}
	p.set("sourceCurrency", q.Source)
	p.set("targetCurrency", q.Target)
	p.set("purchaseType", strconv.Itoa(int(q.PurchaseType)))
	p.set("amount", q.Amount.String())
	env, raw, err := a.call(ctx, op, http.MethodGet, path, p, false)
	if err != nil {
		return nil, err
	}
	data, err := decodeObject(env.Data)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable rate", Err: err}
	}
	r := &Rate{Source: q.Source, Target: q.Target, Raw: raw}
	rate, err1 := data.amount("exchangeRate")
	var err2 error
	r.AmountExchanged, err2 = data.amount("amountExchanged")
	if err := errors.Join(err1, err2); err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable rate", Err: err}
	}
	if !rate.Valid || !rate.Decimal.IsPositive() {
		// The document's own example answers "exchangeRate": 0: no rate for
		// that pair.
		return nil, providers.Errorf(providers.ErrRejected, Name, op, "no rate for %s to %s", q.Source, q.Target)
	}
	r.Rate = rate.Decimal
	return r, nil
}
