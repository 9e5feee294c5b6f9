package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

func (s *Server) apiRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/deposits", Auth: true, Scope: merchants.OrdersWrite, Handler: s.createOrder(providers.KindDeposit)},
		{Method: "POST", Pattern: "/v1/payouts", Auth: true, Scope: merchants.OrdersWrite, Handler: s.createOrder(providers.KindPayout)},
		{Method: "GET", Pattern: "/v1/orders", Auth: true, Scope: merchants.OrdersRead, Handler: s.listOrders},
		{Method: "GET", Pattern: "/v1/orders/{id}", Auth: true, Scope: merchants.OrdersRead, Handler: s.getOrder},
		{Method: "GET", Pattern: "/v1/orders/{id}/timeline", Auth: true, Scope: merchants.OrdersRead, Handler: s.orderTimeline},
		{Method: "GET", Pattern: "/v1/balances", Auth: true, Scope: merchants.ReconRead, Handler: s.balances},
		{Method: "GET", Pattern: "/v1/accounts/{code}/entries", Auth: true, Scope: merchants.ReconRead, Handler: s.entries},
		{Method: "GET", Pattern: "/v1/provider-accounts", Auth: true, Scope: merchants.ReconRead, Handler: s.listProviderAccounts},
		{Method: "POST", Pattern: "/v1/provider-accounts", Auth: true, Scope: merchants.AccountsWrite, Handler: s.createProviderAccount},
		{Method: "PATCH", Pattern: "/v1/provider-accounts/{name}", Auth: true, Scope: merchants.AccountsWrite, Handler: s.updateProviderAccount},
		{Method: "GET", Pattern: "/v1/webhook-deliveries", Auth: true, Scope: merchants.OrdersRead, Handler: s.webhookDeliveries},
		{Method: "GET", Pattern: "/v1/discrepancies", Auth: true, Scope: merchants.ReconRead, Handler: s.listDiscrepancies},
		{Method: "GET", Pattern: "/v1/discrepancies/{id}", Auth: true, Scope: merchants.ReconRead, Handler: s.getDiscrepancy},
	}
}

// orderBody is the body of POST /v1/deposits and /v1/payouts.
type orderBody struct {
	ProviderAccount string            `json:"provider_account"`
	MerchantOrderNo string            `json:"merchant_order_no"`
	CustomerID      string            `json:"customer_id"`
	Amount          *Amount           `json:"amount"`
	Currency        string            `json:"currency"`
	PayCurrency     string            `json:"pay_currency"`
	Method          string            `json:"method"`
	Payer           *providers.Party  `json:"payer"`
	Beneficiary     *providers.Party  `json:"beneficiary"`
	ReturnURL       string            `json:"return_url"`
	FailURL         string            `json:"fail_url"`
	Extra           map[string]string `json:"extra"`
}

func (s *Server) createOrder(kind providers.OrderKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := MerchantFrom(r.Context())
		var body orderBody
		if !s.decode(w, r, &body) {
			return
		}
		wait, err := parseWait(r.URL.Query().Get("wait"), s.opts.MaxWait)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_wait", err.Error(), "wait")
			return
		}
		if body.Amount == nil {
			writeError(w, http.StatusBadRequest, "missing_field", "amount is required (a decimal string such as \"100.50\")", "amount")
			return
		}
		currency := strings.ToUpper(body.Currency)
		if scale, err := s.deps.Merchants.CurrencyScale(r.Context(), currency); err == nil && body.Amount.Places() > scale {
			// Written decimals, not only significant ones: "1.000" is refused
			// for a two-decimal currency, as a provider would refuse it.
			writeError(w, http.StatusBadRequest, "invalid_amount",
				fmt.Sprintf("amount %s has %d decimals; %s has at most %d", body.Amount, body.Amount.Places(), currency, scale), "amount")
			return
		} // an unknown currency is the order's refusal (unsupported_currency)
		party := providers.Party{}
		switch {
		case kind == providers.KindDeposit && body.Beneficiary != nil:
			writeError(w, http.StatusBadRequest, "unknown_field", "a deposit has a payer, not a beneficiary", "beneficiary")
			return
		case kind == providers.KindPayout && body.Payer != nil:
			writeError(w, http.StatusBadRequest, "unknown_field", "a payout has a beneficiary, not a payer", "payer")
			return
		case body.Payer != nil:
			party = *body.Payer
		case body.Beneficiary != nil:
			party = *body.Beneficiary
		}
		req := orders.CreateRequest{
			MerchantID: m.ID, Kind: kind, ProviderAccount: body.ProviderAccount, MerchantOrderNo: body.MerchantOrderNo,
			CustomerID: body.CustomerID, Amount: body.Amount.Decimal(), Currency: currency,
			PayCurrency: strings.ToUpper(body.PayCurrency), Method: body.Method, Party: party, ReturnURL: body.ReturnURL,
			FailURL: body.FailURL, Extra: body.Extra, IdempotencyKey: r.Header.Get("Idempotency-Key"),
		}
		o, replayed, err := s.deps.Orders.Create(r.Context(), req)
		if err != nil {
			s.orderError(w, r, err)
			return
		}
		if wait > 0 && o.Status == orders.StatusCreated {
			o = s.waitForProvider(r, m.ID, o, wait)
		}
		status := http.StatusCreated
		if replayed {
			status = http.StatusOK
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.Header().Set("Location", fmt.Sprintf("/v1/orders/%d", o.ID))
		writeJSON(w, status, o)
	}
}

// waitForProvider polls the order until the provider answered or wait passes.
func (s *Server) waitForProvider(r *http.Request, merchantID int64, o orders.Order, wait time.Duration) orders.Order {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			return o
		case <-r.Context().Done():
			return o
		case <-tick.C:
			cur, err := s.deps.Orders.Get(r.Context(), merchantID, o.ID)
			if err != nil {
				return o
			}
			o = cur
			if o.Status != orders.StatusCreated || o.SubmitState != "pending" {
				return o
			}
		}
	}
}

func (s *Server) orderError(w http.ResponseWriter, r *http.Request, err error) {
	var in *orders.InputError
	switch {
	case errors.As(err, &in):
		status := http.StatusUnprocessableEntity
		switch in.Code {
		case "missing_idempotency_key", "invalid_kind", "missing_field", "invalid_amount":
			// What the request itself gets wrong, whatever the account: an
			// amount out of form, scale or limit, a required field left out.
			status = http.StatusBadRequest
		}
		writeError(w, status, in.Code, in.Message, in.Field)
	case errors.Is(err, orders.ErrIdempotencyConflict):
		writeError(w, http.StatusConflict, "idempotency_conflict", "this Idempotency-Key was used with a different request", "Idempotency-Key")
	case errors.Is(err, orders.ErrDuplicateOrderNo):
		writeError(w, http.StatusConflict, "duplicate_merchant_order_no", "merchant_order_no is already used by another order", "merchant_order_no")
	case errors.Is(err, orders.ErrInsufficientFunds):
		writeError(w, http.StatusUnprocessableEntity, "insufficient_funds", "the customer's available balance does not cover this payout", "amount")
	case errors.Is(err, orders.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such order", "")
	case errors.Is(err, orders.ErrProviderAccount):
		writeError(w, http.StatusUnprocessableEntity, "unknown_provider_account", err.Error(), "provider_account")
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	o, err := s.deps.Orders.Get(r.Context(), MerchantFrom(r.Context()).ID, id)
	if err != nil {
		s.orderError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) orderTimeline(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	m := MerchantFrom(r.Context())
	o, err := s.deps.Orders.Get(r.Context(), m.ID, id)
	if err != nil {
		s.orderError(w, r, err)
		return
	}
	tl, err := s.deps.Orders.Timeline(r.Context(), id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	d, err := s.deps.Webhooks.Deliveries(r.Context(), m.ID, id, 0, 100)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"order": o, "events": nonNil(tl), "webhook_deliveries": nonNil(d)})
}

// page is a list answer with the cursor of the next page.
type page[T any] struct {
	Data []T   `json:"data"`
	Next int64 `json:"next_before,omitempty"`
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"status": orderStatuses, "kind": orderKinds, "provider_account": nil, "merchant_order_no": nil,
		"from": nil, "to": nil, "before": nil, "limit": nil}) {
		return
	}
	q := r.URL.Query()
	f := orders.ListFilter{MerchantID: MerchantFrom(r.Context()).ID, Status: orders.Status(q.Get("status")),
		Kind: providers.OrderKind(q.Get("kind")), ProviderAccount: q.Get("provider_account"), MerchantOrderNo: q.Get("merchant_order_no")}
	var err error
	if f.From, err = parseTime(q.Get("from")); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time", err.Error(), "from")
		return
	}
	if f.To, err = parseTime(q.Get("to")); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time", err.Error(), "to")
		return
	}
	if f.BeforeID, err = optInt(q.Get("before")); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "before must be an order id", "before")
		return
	}
	limit, err := optInt(q.Get("limit"))
	if err != nil || limit < 0 || limit > 500 {
		writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be 1 to 500", "limit")
		return
	}
	f.Limit = int32(limit)
	if f.ProviderAccount != "" && !s.hasProviderAccount(w, r, f.ProviderAccount) {
		return
	}
	list, err := s.deps.Orders.List(r.Context(), f)
	if err != nil {
		s.orderError(w, r, err)
		return
	}
	p := page[orders.Order]{Data: list}
	if p.Data == nil {
		p.Data = []orders.Order{}
	}
	if n := len(list); n > 0 && (f.Limit == 0 && n == 50 || f.Limit > 0 && n == int(f.Limit)) {
		p.Next = list[n-1].ID
	}
	writeJSON(w, http.StatusOK, p)
}

// hasProviderAccount reports whether the merchant has a provider account of
// that name; when it has not, it answers 400 invalid_filter (a filter on
// another merchant's account, or a misspelt one, would match nothing).
func (s *Server) hasProviderAccount(w http.ResponseWriter, r *http.Request, name string) bool {
	list, err := s.deps.Merchants.ProviderAccounts(r.Context(), MerchantFrom(r.Context()).ID)
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	for _, a := range list {
		if a.Name == name {
			return true
		}
	}
	writeError(w, http.StatusBadRequest, "invalid_filter", "no provider account "+strconv.Quote(name), "provider_account")
	return false
}

func (s *Server) balances(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{}) {
		return
	}
	bs, err := s.deps.Ledger.Balances(r.Context(), MerchantFrom(r.Context()).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type balance struct {
		Account   string       `json:"account"`
		Currency  string       `json:"currency"`
		Type      string       `json:"type"`
		Posted    ledger.Money `json:"posted"`
		Pending   ledger.Money `json:"pending"`
		Available ledger.Money `json:"available"`
	}
	out := make([]balance, 0, len(bs))
	for _, b := range bs {
		out = append(out, balance{Account: b.Account, Currency: b.Currency, Type: string(b.Type),
			Posted: ledger.Money{Amount: b.Posted, Currency: b.Currency}, Pending: ledger.Money{Amount: b.Pending, Currency: b.Currency},
			Available: ledger.Money{Amount: b.Available, Currency: b.Currency}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) entries(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"after": nil, "limit": nil}) {
		return
	}
	code := r.PathValue("code")
	if _, err := ledger.ParseAccount(code); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_account", err.Error(), "code")
		return
	}
	after, err := optInt(r.URL.Query().Get("after"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "after must be an entry id", "after")
		return
	}
	limit, err := optInt(r.URL.Query().Get("limit"))
	if err != nil || limit < 0 || limit > 1000 {
		writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be 1 to 1000", "limit")
		return
	}
	if limit == 0 {
		limit = 100
	}
	pg, err := s.deps.Ledger.Entries(r.Context(), MerchantFrom(r.Context()).ID, code, after, int(limit))
	if errors.Is(err, ledger.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such account", "code")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := entryPage{Data: make([]entryView, 0, len(pg.Entries)), NextAfter: pg.Next}
	for _, e := range pg.Entries {
		out.Data = append(out.Data, entryView{ID: e.ID, TransferID: e.TransferID, TransferKey: e.TransferKey, Reference: e.Reference,
			Account: e.Account, Side: string(e.Side), Phase: string(e.Phase), Amount: ledger.Money{Amount: e.Amount, Currency: e.Currency},
			Currency: e.Currency, CreatedAt: e.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// entryPage is one page of an account's entries, oldest first; next_after
// (left out on the last page) is the cursor of the next (?after=).
type entryPage struct {
	Data      []entryView `json:"data"`
	NextAfter int64       `json:"next_after,omitempty"`
}

// entryView is one ledger entry of an account as the merchant API shows it.
type entryView struct {
	ID          int64        `json:"id"`
	TransferID  int64        `json:"transfer_id"`
	TransferKey string       `json:"transfer_key"`
	Reference   string       `json:"reference"`
	Account     string       `json:"account"`
	Side        string       `json:"side"`
	Phase       string       `json:"phase"`
	Amount      ledger.Money `json:"amount"`
	Currency    string       `json:"currency"`
	CreatedAt   time.Time    `json:"created_at"`
}

// providerAccountView is a provider account without its secret.
type providerAccountView struct {
	Name               string            `json:"name"`
	Provider           string            `json:"provider"`
	BaseURL            string            `json:"base_url"`
	ProviderMerchantID string            `json:"provider_merchant_id"`
	Options            map[string]string `json:"options"`
	AmountPolicy       string            `json:"amount_policy"`
	AmountTolerance    decimal.Decimal   `json:"amount_tolerance"`
	BalanceTolerance   decimal.Decimal   `json:"balance_tolerance"`
	DateTolerance      string            `json:"date_tolerance"`
	DepositLifetime    string            `json:"deposit_lifetime"`
	// MaxAmounts are the account's own limits by currency; other currencies
	// have the default, 10^12 minor units.
	MaxAmounts map[string]ledger.Money `json:"max_amounts"`
	Enabled    bool                    `json:"enabled"`
	// CallbackURL is where the provider posts this account's callbacks:
	// tally's public URL and the account's unguessable callback key. Every
	// order tally sends the provider carries it; give it to the provider
	// where it asks for a fixed one (C-Pay's merchant platform).
	CallbackURL string    `json:"callback_url"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (s *Server) view(a merchants.ProviderAccount) providerAccountView {
	view := providerAccountView{Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL, ProviderMerchantID: a.ProviderMerchantID,
		Options: a.Options, AmountPolicy: string(a.AmountPolicy), AmountTolerance: a.AmountTolerance, BalanceTolerance: a.BalanceTolerance,
		DateTolerance: a.DateTolerance.String(), DepositLifetime: a.DepositLifetime.String(), MaxAmounts: map[string]ledger.Money{},
		Enabled: a.Enabled, CallbackURL: s.deps.Orders.NotifyURL(a), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	for cur, v := range a.MaxAmounts {
		view.MaxAmounts[cur] = ledger.Money{Amount: v, Currency: cur}
	}
	if view.Options == nil {
		view.Options = map[string]string{}
	}
	return view
}

func (s *Server) listProviderAccounts(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{}) {
		return
	}
	list, err := s.deps.Merchants.ProviderAccounts(r.Context(), MerchantFrom(r.Context()).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]providerAccountView, 0, len(list))
	for _, a := range list {
		out = append(out, s.view(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) createProviderAccount(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name               string            `json:"name"`
		Provider           string            `json:"provider"`
		BaseURL            string            `json:"base_url"`
		ProviderMerchantID string            `json:"provider_merchant_id"`
		Secret             string            `json:"secret"`
		Options            map[string]string `json:"options"`
		AmountPolicy       string            `json:"amount_policy"`
		AmountTolerance    *Amount           `json:"amount_tolerance"`
		BalanceTolerance   *Amount           `json:"balance_tolerance"`
		DepositLifetime    string            `json:"deposit_lifetime"`
		MaxAmounts         map[string]Amount `json:"max_amounts"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	var lifetime time.Duration
	if body.DepositLifetime != "" {
		var err error
		if lifetime, err = time.ParseDuration(body.DepositLifetime); err != nil || lifetime <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("deposit_lifetime %q is not a positive duration like 24h", body.DepositLifetime), "deposit_lifetime")
			return
		}
	}
	m := MerchantFrom(r.Context())
	a, err := s.deps.Merchants.AddProviderAccount(r.Context(), merchants.ProviderAccountInput{
		MerchantCode: m.Code, Name: body.Name, Provider: body.Provider, BaseURL: body.BaseURL, ProviderMerchantID: body.ProviderMerchantID,
		Secret: body.Secret, Options: body.Options, AmountPolicy: merchants.AmountPolicy(body.AmountPolicy),
		AmountTolerance: optAmount(body.AmountTolerance), BalanceTolerance: optAmount(body.BalanceTolerance), DepositLifetime: lifetime,
		MaxAmounts: limits(body.MaxAmounts),
	})
	switch {
	case errors.Is(err, merchants.ErrBaseURLNotAllowed):
		writeError(w, http.StatusUnprocessableEntity, "base_url_not_allowed", err.Error(), "base_url")
	case errors.Is(err, ledger.ErrUnknownCurrency):
		writeError(w, http.StatusUnprocessableEntity, "unsupported_currency", err.Error(), "options")
	case errors.Is(err, merchants.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "invalid_provider_account", err.Error(), "")
	case errors.Is(err, merchants.ErrExists):
		writeError(w, http.StatusConflict, "provider_account_exists", err.Error(), "name")
	case err != nil:
		s.internal(w, r, err)
	default:
		writeJSON(w, http.StatusCreated, s.view(a))
	}
}

// updateProviderAccount changes some settings of one of the merchant's provider
// accounts: only the fields sent change. The secret is write-only.
func (s *Server) updateProviderAccount(w http.ResponseWriter, r *http.Request) {
	var body struct {
		BaseURL            *string           `json:"base_url"`
		ProviderMerchantID *string           `json:"provider_merchant_id"`
		Secret             *string           `json:"secret"`
		Options            map[string]string `json:"options"`
		AmountPolicy       *string           `json:"amount_policy"`
		AmountTolerance    *Amount           `json:"amount_tolerance"`
		BalanceTolerance   *Amount           `json:"balance_tolerance"`
		DateTolerance      *string           `json:"date_tolerance"`
		DepositLifetime    *string           `json:"deposit_lifetime"`
		MaxAmounts         map[string]Amount `json:"max_amounts"`
		Enabled            *bool             `json:"enabled"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	p := merchants.ProviderAccountPatch{BaseURL: body.BaseURL, ProviderMerchantID: body.ProviderMerchantID, Secret: body.Secret,
		Options: body.Options, MaxAmounts: limits(body.MaxAmounts), Enabled: body.Enabled}
	if body.AmountTolerance != nil {
		v := body.AmountTolerance.Decimal()
		p.AmountTolerance = &v
	}
	if body.BalanceTolerance != nil {
		v := body.BalanceTolerance.Decimal()
		p.BalanceTolerance = &v
	}
	if body.AmountPolicy != nil {
		v := merchants.AmountPolicy(*body.AmountPolicy)
		p.AmountPolicy = &v
	}
	for _, d := range []struct {
		field string
		in    *string
		out   **time.Duration
	}{{"date_tolerance", body.DateTolerance, &p.DateTolerance}, {"deposit_lifetime", body.DepositLifetime, &p.DepositLifetime}} {
		if d.in == nil {
			continue
		}
		v, err := time.ParseDuration(*d.in)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("%s %q is not a duration like 24h", d.field, *d.in), d.field)
			return
		}
		*d.out = &v
	}
	a, err := s.deps.Merchants.PatchProviderAccount(r.Context(), MerchantFrom(r.Context()).ID, r.PathValue("name"), p)
	switch {
	case errors.Is(err, merchants.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such provider account", "name")
	case errors.Is(err, merchants.ErrBaseURLNotAllowed):
		writeError(w, http.StatusUnprocessableEntity, "base_url_not_allowed", err.Error(), "base_url")
	case errors.Is(err, ledger.ErrUnknownCurrency):
		writeError(w, http.StatusUnprocessableEntity, "unsupported_currency", err.Error(), "options")
	case errors.Is(err, merchants.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "invalid_provider_account", err.Error(), "")
	case err != nil:
		s.internal(w, r, err)
	default:
		s.opts.Logger.InfoContext(r.Context(), "provider account updated", "provider_account", a.Name, "secret_changed", body.Secret != nil)
		writeJSON(w, http.StatusOK, s.view(a))
	}
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"order_id": nil, "before": nil}) {
		return
	}
	orderID, err := optInt(r.URL.Query().Get("order_id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_order_id", "order_id must be an order id", "order_id")
		return
	}
	before, err := optInt(r.URL.Query().Get("before"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "before must be a delivery id", "before")
		return
	}
	list, err := s.deps.Webhooks.Deliveries(r.Context(), MerchantFrom(r.Context()).ID, orderID, before, 100)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": nonNil(list)})
}

func (s *Server) listDiscrepancies(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"status": discrepancyStatuses, "type": discrepancyTypes, "before": nil}) {
		return
	}
	q := r.URL.Query()
	before, err := optInt(q.Get("before"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "before must be a discrepancy id", "before")
		return
	}
	list, err := s.deps.Discrepancies.List(r.Context(), s.deps.Pool, discrepancies.Filter{
		MerchantID: MerchantFrom(r.Context()).ID, Status: discrepancies.Status(q.Get("status")), Type: discrepancies.Type(q.Get("type")),
		BeforeID: before, Limit: 100,
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if list == nil {
		list = []discrepancies.Discrepancy{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": list})
}

func (s *Server) getDiscrepancy(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	d, err := s.deps.Discrepancies.Get(r.Context(), s.deps.Pool, id)
	if errors.Is(err, discrepancies.ErrNotFound) || (err == nil && d.MerchantID != MerchantFrom(r.Context()).ID) {
		writeError(w, http.StatusNotFound, "not_found", "no such discrepancy", "")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	evs, err := s.deps.Discrepancies.Events(r.Context(), s.deps.Pool, id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"discrepancy": d, "audit": nonNil(evs)})
}

// decode reads a JSON body of at most MaxBodyBytes, refusing anything but
// exactly one JSON value, a key twice in one object (at any depth: see
// CheckDuplicateKeys), unknown fields, and amounts that are not decimal
// strings (Amount). It answers the refusal itself and reports whether v was
// filled.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json", "")
		return false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", s.opts.MaxBodyBytes), "")
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "malformed_json", "the body could not be read", "")
		return false
	}
	var dup *DuplicateKeyError
	if err := CheckDuplicateKeys(data); errors.As(err, &dup) {
		writeError(w, http.StatusBadRequest, "malformed_json", dup.Error()+": send each key once", dup.KeyPath())
		return false
	} else if err != nil {
		writeError(w, http.StatusBadRequest, "malformed_json", "the body is not valid JSON", "")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, "malformed_json", "the body is not valid JSON", "")
		case errors.As(err, &typ) && typ.Type == amountType:
			writeError(w, http.StatusBadRequest, "invalid_amount", typ.Field+" "+typ.Value, typ.Field)
		case errors.As(err, &typ):
			writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("%s must be a %s", typ.Field, typ.Type), typ.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			msg := "unknown field " + strconv.Quote(field)
			if snake := snakeCase(field); snake != field {
				msg += " (field names are snake_case: " + strconv.Quote(snake) + ")"
			}
			writeError(w, http.StatusBadRequest, "unknown_field", msg, field)
		default:
			writeError(w, http.StatusBadRequest, "malformed_json", err.Error(), "")
		}
		return false
	}
	return true
}

// optAmount is an optional amount's value, zero when absent.
func optAmount(a *Amount) decimal.Decimal {
	if a == nil {
		return decimal.Zero
	}
	return a.Decimal()
}

// limits converts max_amounts as sent; nil stays nil (not sent).
func limits(m map[string]Amount) map[string]decimal.Decimal {
	if m == nil {
		return nil
	}
	out := make(map[string]decimal.Decimal, len(m))
	for cur, a := range m {
		out[cur] = a.Decimal()
	}
	return out
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "invalid_id", "the id must be a positive integer", "id")
		return 0, false
	}
	return id, true
}

// snakeCase spells a Go-style field name ("TaxID", "payer.AccountType") as
// the API does ("tax_id", "payer.account_type"), for the hint of an
// unknown_field refusal.
func snakeCase(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			prevLower := i > 0 && (s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= '0' && s[i-1] <= '9')
			nextLower := i > 0 && i+1 < len(s) && s[i-1] >= 'A' && s[i-1] <= 'Z' && s[i+1] >= 'a' && s[i+1] <= 'z'
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// nonNil is list, or an empty list for nil: a list in an answer is [] when
// empty, never null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func optInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t, nil
}

func parseWait(s string, max time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("wait %q is not a duration like 5s", s)
	}
	if d > max {
		d = max
	}
	return d, nil
}
