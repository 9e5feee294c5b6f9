package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/shopspring/decimal"
)

// ControlHandler serves the control API of this simulator; the sandbox mounts it
// under /control/{provider}/. Paths below are relative to that mount:
//
//	GET    /orders                        every order
//	GET    /orders/{ref}                  one order by provider id, merchant order no or tx hash
//	POST   /orders/{ref}/pay              the payer pays; {"amount":"95.5"} pays a different amount
//	POST   /orders/{ref}/process          the order moves to processing
//	POST   /orders/{ref}/settle           a payout completes
//	POST   /orders/{ref}/settle-part      {"amount":"300"} a payout completes one part
//	POST   /orders/{ref}/fail             {"reason":"..."} the order fails
//	POST   /orders/{ref}/expire           the order expires
//	POST   /orders/{ref}/reverse          a succeeded order is reversed
//	POST   /orders/{ref}/notify           the current callback is sent again
//	PUT    /scripts/{order_no}            a Script for an order, before or after it exists
//	GET|PUT /auto                         the autopilot for orders without a script
//	GET|POST|DELETE /faults               endpoint faults (5xx, timeout, hang)
//	GET    /deliveries                    every callback delivery attempt
//	GET    /injected                      every fault injected so far
//	GET    /merchants                     merchants with balances
//	POST   /merchants/{id}/adjust         {"currency":"USDT","amount":"-5"} balance drift
//	POST   /deposits                      {"merchant_id","user_id","currency","amount",...} a deposit without an order
//	GET    /statement?merchant_id=&from=&to=  the merchant's settlement statement for [from, to) (RFC 3339), text/csv
func (e *Engine) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.Orders()) })
	mux.HandleFunc("GET /orders/{ref}", func(w http.ResponseWriter, r *http.Request) {
		o, err := e.FindOrder("", r.PathValue("ref"))
		reply(w, o, err)
	})
	mux.HandleFunc("POST /orders/{ref}/pay", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Amount *decimal.Decimal `json:"amount"`
		}
		if !readJSON(w, r, &body, true) {
			return
		}
		o, err := e.Pay(r.PathValue("ref"), body.Amount)
		reply(w, o, err)
	})
	simple := map[string]func(string) (*Order, error){
		"process": e.Process, "settle": e.Settle, "expire": e.Expire, "reverse": e.Reverse,
	}
	for name, f := range simple {
		mux.HandleFunc("POST /orders/{ref}/"+name, func(w http.ResponseWriter, r *http.Request) {
			o, err := f(r.PathValue("ref"))
			reply(w, o, err)
		})
	}
	mux.HandleFunc("POST /orders/{ref}/settle-part", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Amount decimal.Decimal `json:"amount"`
		}
		if !readJSON(w, r, &body, false) {
			return
		}
		o, err := e.SettlePart(r.PathValue("ref"), body.Amount)
		reply(w, o, err)
	})
	mux.HandleFunc("POST /orders/{ref}/fail", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reason string `json:"reason"`
		}
		if !readJSON(w, r, &body, true) {
			return
		}
		o, err := e.Fail(r.PathValue("ref"), firstNonEmpty(body.Reason, "payment failed"))
		reply(w, o, err)
	})
	mux.HandleFunc("POST /orders/{ref}/notify", func(w http.ResponseWriter, r *http.Request) {
		err := e.Notify(r.PathValue("ref"))
		reply(w, map[string]bool{"sent": err == nil}, err)
	})
	mux.HandleFunc("PUT /scripts/{orderNo}", func(w http.ResponseWriter, r *http.Request) {
		var s Script
		if !readJSON(w, r, &s, false) {
			return
		}
		if err := e.SetScript(r.PathValue("orderNo"), s); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("GET /auto", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.GetAuto()) })
	mux.HandleFunc("PUT /auto", func(w http.ResponseWriter, r *http.Request) {
		var a Auto
		if !readJSON(w, r, &a, false) {
			return
		}
		e.SetAuto(a)
		writeJSON(w, http.StatusOK, a)
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.EndpointFaults()) })
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var f EndpointFault
		if !readJSON(w, r, &f, false) {
			return
		}
		if err := e.AddEndpointFault(f); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusCreated, f)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		e.ClearEndpointFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /deliveries", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.Deliveries()) })
	mux.HandleFunc("GET /injected", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, e.Injected()) })
	mux.HandleFunc("GET /merchants", func(w http.ResponseWriter, r *http.Request) {
		ms := e.Merchants()
		for i := range ms {
			ms[i].Secret = "" // the control API never shows secrets
		}
		writeJSON(w, http.StatusOK, ms)
	})
	mux.HandleFunc("POST /merchants/{id}/adjust", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Currency string          `json:"currency"`
			Amount   decimal.Decimal `json:"amount"`
		}
		if !readJSON(w, r, &body, false) {
			return
		}
		if body.Currency == "" || body.Amount.IsZero() {
			writeError(w, http.StatusBadRequest, errors.New("currency and a non-zero amount are required"))
			return
		}
		err := e.AdjustBalance(r.PathValue("id"), body.Currency, body.Amount)
		if err != nil {
			reply(w, nil, err)
			return
		}
		b, err := e.Balances(r.PathValue("id"))
		reply(w, b, err)
	})
	mux.HandleFunc("POST /deposits", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			MerchantID string          `json:"merchant_id"`
			UserID     string          `json:"user_id"`
			OrderNo    string          `json:"order_no"`
			Currency   string          `json:"currency"`
			Network    string          `json:"network"`
			Address    string          `json:"address"`
			Amount     decimal.Decimal `json:"amount"`
			TxHash     string          `json:"tx_hash"`
			NotifyURL  string          `json:"notify_url"`
		}
		if !readJSON(w, r, &body, false) {
			return
		}
		if body.MerchantID == "" || body.Currency == "" || !body.Amount.IsPositive() {
			writeError(w, http.StatusBadRequest, errors.New("merchant_id, currency and a positive amount are required"))
			return
		}
		o, err := e.Deposit(Order{MerchantID: body.MerchantID, UserID: body.UserID, OrderNo: body.OrderNo, Currency: body.Currency,
			Network: body.Network, Address: body.Address, Amount: body.Amount, TxHash: body.TxHash, NotifyURL: body.NotifyURL})
		reply(w, o, err)
	})
	mux.HandleFunc("GET /statement", e.serveStatement)
	return mux
}

// maxControlBody bounds a control request.
const maxControlBody = 1 << 20

func readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	if len(b) == 0 && optional {
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("malformed JSON: %w", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, ErrOrderNotFound), errors.Is(err, ErrUnknownMerchant):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, ErrBadTransition), errors.Is(err, ErrDuplicateOrder), errors.Is(err, ErrInsufficientBalance):
		writeError(w, http.StatusConflict, err)
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
