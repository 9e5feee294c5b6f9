package usdtpay

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
)

// formBody encodes a callback's fields in the document's order, as UsdtPay does.
func formBody(f CallbackFields) string {
	parts := make([]string, 0, 7)
	for _, kv := range f.pairs() {
		parts = append(parts, url.QueryEscape(kv[0])+"="+url.QueryEscape(kv[1]))
	}
	return strings.Join(parts, "&")
}

func formCallback(body, rawQuery string) *providers.Callback {
	q, _ := url.ParseQuery(rawQuery)
	return &providers.Callback{
		Method: http.MethodPost,
		Path:   "/callbacks/usdtpay-main",
		Query:  q,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   []byte(body),
	}
}

func vectorAdapter(t testing.TB) *Adapter {
	t.Helper()
	a, err := New(providers.Config{Account: "usdtpay-main", BaseURL: testBase, MerchantID: "TW001375", Secret: vectorKey, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// signed returns f signed with the vector key.
func signed(f CallbackFields) CallbackFields {
	f.Sign = f.ComputeSign(vectorKey)
	return f
}

func TestParseCallbackRealVectors(t *testing.T) {
	a := vectorAdapter(t)
	for i, v := range realCallbacks {
		body := formBody(v.fields)
		ev, err := a.ParseCallback(formCallback(body, ""))
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		wantPaid := []string{"1", "1.00"}[i]
		if ev.Provider != "usdtpay" || ev.Kind != providers.KindDeposit || ev.ProviderOrderID != v.fields.TransactionID ||
			ev.OrderNo != v.fields.OrderNo || ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "success" ||
			!ev.Verified || ev.Currency != "CNY" || string(ev.Raw) != body || ev.Quote != nil || ev.Remark != "" {
			t.Fatalf("vector %d: event = %+v", i, ev)
		}
		if !ev.Paid.Valid || !ev.Paid.Decimal.Equal(dec("1")) || ev.Paid.Decimal.String() != dec(wantPaid).String() {
			t.Fatalf("vector %d: paid = %v, want %s", i, ev.Paid, wantPaid)
		}
		if ev.Requested.Valid || ev.Credited.Valid || ev.Fee.Valid {
			t.Fatalf("vector %d: unstated amounts are set: requested %v credited %v fee %v", i, ev.Requested, ev.Credited, ev.Fee)
		}
		if !ev.OccurredAt.IsZero() || ev.TxHash != "" || ev.Reversed {
			t.Fatalf("vector %d: event states what the callback does not: %+v", i, ev)
		}
	}
}

func TestParseCallbackUSDTAmount(t *testing.T) {
	a := vectorAdapter(t)
	f := signed(CallbackFields{SignType: "MD5", OrderNo: "180322000449TW001375000001140999", OrderAmount: "720.00", OrderCurrency: "CNY",
		TransactionID: "1763780000000001", Status: "success"})
	body := formBody(f)
	tests := []struct {
		name       string
		body       string
		query      string
		wantQuote  string // "" = no quote
		wantRemark string
	}{
		{"in the query string", body, "amount=100.00", "100", ""},
		{"six decimals", body, "amount=13.888888", "13.888888", ""},
		{"absent", body, "", "", ""},
		{"in the body instead", body + "&amount=99.5", "", "99.5", ""},
		{"query wins over body", body + "&amount=1", "amount=2", "2", ""},
		{"malformed", body, "amount=abc", "", `unusable USDT amount "abc" ignored`},
		{"negative", body, "amount=-1", "", "unusable USDT amount"},
		{"zero", body, "amount=0", "", "unusable USDT amount"},
		{"empty", body, "amount=", "", "unusable USDT amount"},
		{"repeated", body, "amount=1&amount=2", "", "more than once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := a.ParseCallback(formCallback(tc.body, tc.query))
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Paid.Decimal.Equal(dec("720")) || ev.Currency != "CNY" {
				t.Fatalf("paid %v %s, want 720 CNY", ev.Paid, ev.Currency)
			}
			if tc.wantQuote == "" {
				if ev.Quote != nil {
					t.Fatalf("quote = %+v, want none", ev.Quote)
				}
			} else if ev.Quote == nil || ev.Quote.Currency != "USDT" || !ev.Quote.Amount.Equal(dec(tc.wantQuote)) || !ev.Quote.Rate.IsZero() {
				t.Fatalf("quote = %+v, want %s USDT with no rate", ev.Quote, tc.wantQuote)
			}
			if !strings.Contains(ev.Remark, tc.wantRemark) || (tc.wantRemark == "" && ev.Remark != "") {
				t.Fatalf("remark = %q, want %q", ev.Remark, tc.wantRemark)
			}
		})
	}
}

func TestParseCallbackRefusals(t *testing.T) {
	a := vectorAdapter(t)
	good := realCallbacks[1].fields
	body := formBody(good)
	with := func(change func(*CallbackFields)) string {
		f := good
		change(&f)
		return formBody(f)
	}
	resigned := func(change func(*CallbackFields)) string {
		f := good
		change(&f)
		return formBody(signed(f))
	}
	tests := []struct {
		name string
		cb   *providers.Callback
		want error
		msg  string
	}{
		{"tampered amount", formCallback(with(func(f *CallbackFields) { f.OrderAmount = "100.00" }), ""), providers.ErrBadSignature, "does not verify"},
		{"tampered order no", formCallback(with(func(f *CallbackFields) { f.OrderNo += "1" }), ""), providers.ErrBadSignature, "does not verify"},
		{"tampered currency", formCallback(with(func(f *CallbackFields) { f.OrderCurrency = "USD" }), ""), providers.ErrBadSignature, ""},
		{"tampered transaction", formCallback(with(func(f *CallbackFields) { f.TransactionID = "x" }), ""), providers.ErrBadSignature, ""},
		{"tampered status", formCallback(with(func(f *CallbackFields) { f.Status = "SUCCESS" }), ""), providers.ErrBadSignature, ""},
		{"tampered sign type", formCallback(with(func(f *CallbackFields) { f.SignType = "md5" }), ""), providers.ErrBadSignature, ""},
		{"missing sign", formCallback(with(func(f *CallbackFields) { f.Sign = "" }), ""), providers.ErrBadSignature, "carries no sign"},
		{"missing field", formCallback(strings.Replace(body, "status=success&", "", 1), ""), providers.ErrBadSignature, ""},
		{"wrong sign", formCallback(with(func(f *CallbackFields) { f.Sign = strings.Repeat("0", 32) }), ""), providers.ErrBadSignature, ""},
		{"GET", &providers.Callback{Method: http.MethodGet, Query: url.Values{}, Header: http.Header{}, Body: nil}, providers.ErrInvalidRequest, "form POSTs"},
		{"JSON", &providers.Callback{Method: http.MethodPost, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`)}, providers.ErrInvalidRequest, "content type"},
		{"unparsable form", formCallback("orderNo=%zz", ""), providers.ErrInvalidRequest, "not a form"},
		{"repeated field", formCallback(body+"&orderAmount=1.00", ""), providers.ErrInvalidRequest, "orderAmount sent 2 times"},
		{"too large", formCallback(body+"&pad="+strings.Repeat("x", MaxCallbackBytes), ""), providers.ErrInvalidRequest, "larger than"},
		{"nil", nil, providers.ErrInvalidRequest, "no callback"},
		{"signed undocumented status", formCallback(resigned(func(f *CallbackFields) { f.Status = "fail" }), ""), providers.ErrInvalidRequest, "undocumented status"},
		{"signed malformed amount", formCallback(resigned(func(f *CallbackFields) { f.OrderAmount = "1,00" }), ""), providers.ErrInvalidRequest, "not a positive amount"},
		{"signed zero amount", formCallback(resigned(func(f *CallbackFields) { f.OrderAmount = "0.00" }), ""), providers.ErrInvalidRequest, "not a positive amount"},
		{"signed other sign type", formCallback(resigned(func(f *CallbackFields) { f.SignType = "SHA1" }), ""), providers.ErrInvalidRequest, "signType"},
		{"signed without transaction id", formCallback(resigned(func(f *CallbackFields) { f.TransactionID = "" }), ""), providers.ErrInvalidRequest, "transactionId"},
		{"signed bad currency", formCallback(resigned(func(f *CallbackFields) { f.OrderCurrency = "cny" }), ""), providers.ErrInvalidRequest, "currency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := a.ParseCallback(tc.cb)
			if !errors.Is(err, tc.want) || ev != nil || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Fatalf("event %v, err = %v; want %v mentioning %q", ev, err, tc.want, tc.msg)
			}
			if strings.Contains(err.Error(), vectorKey) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestParseCallbackAcceptsVariants(t *testing.T) {
	a := vectorAdapter(t)
	f := realCallbacks[0].fields
	f.Sign = strings.ToUpper(f.Sign)
	cb := formCallback(formBody(f), "")
	cb.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	if _, err := a.ParseCallback(cb); err != nil {
		t.Fatalf("uppercase sign, charset: %v", err)
	}
	cb.Header.Del("Content-Type")
	cb.Method = ""
	if _, err := a.ParseCallback(cb); err != nil {
		t.Fatalf("no content type, no method (a stored replay): %v", err)
	}
	// Field order does not matter; extra unsigned fields are ignored.
	v := url.Values{}
	for _, kv := range realCallbacks[0].fields.pairs() {
		v.Set(kv[0], kv[1])
	}
	v.Set("extra", "1")
	if _, err := a.ParseCallback(formCallback(v.Encode(), "")); err != nil {
		t.Fatalf("sorted fields: %v", err)
	}
}

func TestReply(t *testing.T) {
	a := vectorAdapter(t)
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{nil, 200, "success"},
		{providers.Errorf(providers.ErrBadSignature, Name, "callback", "x"), 400, "fail"},
		{providers.Invalid(Name, "callback", "x"), 400, "fail"},
		{errors.New("database is down"), 500, "fail"},
		{fmt.Errorf("store: %w", providers.ErrTransient), 500, "fail"},
	}
	for _, tc := range tests {
		r := a.Reply(tc.err)
		if r.Status != tc.status || string(r.Body) != tc.body || !strings.HasPrefix(r.ContentType, "text/plain") {
			t.Errorf("Reply(%v) = %d %q %s, want %d %q", tc.err, r.Status, r.Body, r.ContentType, tc.status, tc.body)
		}
	}
}

// FuzzParseCallback: no input panics the parser; an accepted callback always
// carries a signature that verifies over its fields; and changing any one
// signed field of a genuine callback is always ErrBadSignature.
func FuzzParseCallback(f *testing.F) {
	for _, v := range realCallbacks {
		f.Add(formBody(v.fields), "", uint8(2), "100.00")
		f.Add(formBody(v.fields), "amount=0.14", uint8(0), "md5")
	}
	simShape := signed(CallbackFields{SignType: "MD5", OrderNo: "T0000000000000000000000000000001", OrderAmount: "720.00", OrderCurrency: "CNY",
		TransactionID: "1763780000000001", Status: "success"})
	f.Add(formBody(simShape), "amount=100.00", uint8(5), "SUCCESS")
	f.Add(formBody(simShape)+"&orderAmount=1", "amount=1&amount=2", uint8(6), "")
	f.Add("orderNo=%zz&sign=", "amount=%", uint8(1), "\x00")
	f.Add("", "", uint8(4), "20180813175128144000 ")

	a := vectorAdapter(f)
	f.Fuzz(func(t *testing.T, body, query string, field uint8, value string) {
		// 1. Arbitrary input: no panic; acceptance implies a verifying signature.
		ev, err := a.ParseCallback(formCallback(body, query))
		if err == nil {
			form, perr := url.ParseQuery(body)
			if perr != nil {
				t.Fatalf("accepted an unparsable body %q", body)
			}
			got := CallbackFields{SignType: form.Get("signType"), OrderNo: form.Get("orderNo"), OrderAmount: form.Get("orderAmount"),
				OrderCurrency: form.Get("orderCurrency"), TransactionID: form.Get("transactionId"), Status: form.Get("status"), Sign: form.Get("sign")}
			if !got.Verify(vectorKey) {
				t.Fatalf("accepted a callback whose signature does not verify: %q", body)
			}
			if ev.OrderNo != got.OrderNo || ev.ProviderOrderID != got.TransactionID || !ev.Verified || ev.Status != providers.StatusSucceeded {
				t.Fatalf("event does not reflect the signed fields: %+v", ev)
			}
		}

		// 2. A genuine callback with one signed field changed never verifies.
		base := realCallbacks[int(field)%2].fields
		tampered := base
		targets := []*string{&tampered.SignType, &tampered.OrderNo, &tampered.OrderAmount, &tampered.OrderCurrency,
			&tampered.TransactionID, &tampered.Status, &tampered.Sign}
		target := targets[int(field)%len(targets)]
		if len(value) > 1024 || *target == value || (target == &tampered.Sign && strings.EqualFold(value, base.Sign)) {
			return // not a change (hex case is not part of a signature), or too large a body
		}
		*target = value
		ev, err = a.ParseCallback(formCallback(formBody(tampered), query))
		if !errors.Is(err, providers.ErrBadSignature) || ev != nil {
			t.Fatalf("field %d changed to %q: event %v, err %v; want ErrBadSignature", int(field)%len(targets), value, ev, err)
		}
	})
}
