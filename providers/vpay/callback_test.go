package vpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
)

// docCallback is the callback example of vpay.txt, as printed (its sign was
// made with a secret the document does not give).
const docCallback = `{
"amount": 1,
"bizType": "PAYMENT_FIXED_DIGITAL_SCAN",
"currency": "USDT",
"extra": {
"quoteAmount": 10,
"quoteCurrency": "CNY",
"quotePrice": 10
},
"key": "h3cS7dBltRU4W1wD",
"localOrderId": "2820",
"merchantActualAmount": 22.72,
"merchantCurrency": "CNY",
"merchantId": 303122065665,
"merchantPaidAmount": 7.33,
"notifyTime": 1736744168370,
"orderCreateTime": 1731572133082,
"orderId": "273124814912907",
"sign": "699806308a9e055114c378671b0d2a15",
"status": "SUCCESS",
"type": "WITHDRAW",
"userAmount": 1,
"userCurrency": "USDT"
}`

const docKey = "h3cS7dBltRU4W1wD"

// fieldsOf decodes a JSON object keeping numbers as json.Number.
func fieldsOf(t testing.TB, body string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// resign signs fields with secret the way MinPay does.
func resign(t testing.TB, fields map[string]any, secret string) []byte {
	t.Helper()
	b, err := signedJSON(fields, secret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(body []byte) *providers.Callback {
	return &providers.Callback{Method: http.MethodPost, Path: "/callbacks/vpay-test", Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

func TestParseCallbackDocumentExample(t *testing.T) {
	a := newAdapter(t, "https://x.test", docKey, testSecret, nil, nil)
	// As printed, its sign is from an unknown secret: refused.
	if _, err := a.ParseCallback(post([]byte(docCallback))); !errors.Is(err, providers.ErrBadSignature) {
		t.Fatalf("printed example = %v, want ErrBadSignature", err)
	}
	body := resign(t, fieldsOf(t, docCallback), testSecret)
	ev, err := a.ParseCallback(post(body))
	if err != nil {
		t.Fatal(err)
	}
	// type WITHDRAW with bizType PAYMENT_FIXED_DIGITAL_SCAN: bizType decides.
	if ev.Provider != "vpay" || ev.Kind != providers.KindDeposit || ev.ProviderOrderID != "273124814912907" || ev.OrderNo != "2820" ||
		ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "SUCCESS" || ev.Currency != "CNY" || ev.Reversed || !ev.Verified {
		t.Fatalf("event %+v", ev)
	}
	// The merchant's balance moved in CNY (merchantCurrency), not in the
	// USDT the payer paid: the event states the merchant's side, and the
	// payer's is evidence in Remark. Its actual amount above its paid amount
	// states no fee (tally then flags a credit larger than the payment).
	assertDec(t, "Requested", ev.Requested, "")
	assertDec(t, "Paid", ev.Paid, "7.33")
	assertDec(t, "Credited", ev.Credited, "22.72")
	assertDec(t, "Fee", ev.Fee, "")
	if ev.Remark != "payer paid 1 USDT (order amount 1 USDT)" {
		t.Fatalf("remark %q", ev.Remark)
	}
	if ev.Quote != nil {
		t.Fatalf("quote %+v: in the event's own currency, it is no quote", ev.Quote)
	}
	if !ev.OccurredAt.Equal(time.UnixMilli(1736744168370)) {
		t.Fatalf("occurred at %v", ev.OccurredAt)
	}
	if !bytes.Equal(ev.Raw, body) {
		t.Fatal("raw body not kept")
	}
}

func TestParseCallbackShapes(t *testing.T) {
	base := func() map[string]any {
		return fieldsOf(t, `{"amount":14.084508,"bizType":"PAYMENT_FIXED_DIGITAL_SCAN","currency":"USDT",
			"extra":{"quoteAmount":100,"quoteCurrency":"CNY","quotePrice":7.1},"key":"`+testKey+`","localOrderId":"T-1",
			"merchantActualAmount":13.943663,"merchantCurrency":"USDT","merchantId":303122065665,"merchantPaidAmount":14.084508,
			"merchantUserId":"55","notifyTime":1736744168370,"orderCreateTime":1731572133082,"orderId":"1763800000000001",
			"status":"SUCCESS","type":"PAYMENT","userAmount":14.084508,"userCurrency":"USDT"}`)
	}
	type want struct {
		status                           providers.Status
		kind                             providers.OrderKind
		requested, paid, credited, fee   string
		quoteAmount, quoteRate, provider string
	}
	success := want{providers.StatusSucceeded, providers.KindDeposit, "14.084508", "14.084508", "13.943663", "0.140845", "100", "7.1", "SUCCESS"}
	cases := []struct {
		name   string
		mutate func(m map[string]any)
		want   want
	}{
		{"success in USDT with fee", func(map[string]any) {}, success},
		{"trailing zeros on the wire", func(m map[string]any) {
			m["amount"] = json.Number("14.08450800")
			m["extra"].(map[string]any)["quoteAmount"] = json.Number("100.00")
			m["extra"].(map[string]any)["quotePrice"] = json.Number("7.10")
		}, success},
		{"amounts and ids as strings", func(m map[string]any) {
			m["amount"], m["userAmount"], m["merchantPaidAmount"], m["merchantActualAmount"] = "14.084508", "14.084508", "14.084508", "13.943663"
			m["extra"].(map[string]any)["quotePrice"] = "7.1"
			m["orderId"] = json.Number("1763800000000001")
		}, success},
		{"payer paid less", func(m map[string]any) {
			m["userAmount"], m["merchantPaidAmount"], m["merchantActualAmount"] = json.Number("14"), json.Number("14"), json.Number("13.86")
		}, want{providers.StatusSucceeded, providers.KindDeposit, "14.084508", "14", "13.86", "0.14", "100", "7.1", "SUCCESS"}},
		{"processing", func(m map[string]any) {
			m["status"], m["userAmount"], m["merchantPaidAmount"], m["merchantActualAmount"] = "PROCESSING", json.Number("0"), json.Number("0"), json.Number("0")
		}, want{providers.StatusProcessing, providers.KindDeposit, "14.084508", "0", "0", "0", "100", "7.1", "PROCESSING"}},
		{"failed", func(m map[string]any) {
			m["status"], m["userAmount"], m["merchantPaidAmount"], m["merchantActualAmount"] = "FAIL", json.Number("0"), json.Number("0"), json.Number("0")
		}, want{providers.StatusFailed, providers.KindDeposit, "14.084508", "0", "0", "0", "100", "7.1", "FAIL"}},
		{"expired", func(m map[string]any) {
			m["status"], m["userAmount"], m["merchantPaidAmount"], m["merchantActualAmount"] = "EXPIRED", json.Number("0"), json.Number("0"), json.Number("0")
		}, want{providers.StatusExpired, providers.KindDeposit, "14.084508", "0", "0", "0", "100", "7.1", "EXPIRED"}},
		{"reversed", func(m map[string]any) { m["status"] = "REVERSED" },
			want{providers.StatusReversed, providers.KindDeposit, "14.084508", "14.084508", "13.943663", "0.140845", "100", "7.1", "REVERSED"}},
		{"unknown status", func(m map[string]any) { m["status"] = "FROZEN" },
			want{providers.StatusProcessing, providers.KindDeposit, "14.084508", "14.084508", "13.943663", "0.140845", "100", "7.1", "FROZEN"}},
		{"net above gross: no fee", func(m map[string]any) { m["merchantActualAmount"] = json.Number("15") },
			want{providers.StatusSucceeded, providers.KindDeposit, "14.084508", "14.084508", "15", "", "100", "7.1", "SUCCESS"}},
		{"no bizType, type decides", func(m map[string]any) { delete(m, "bizType"); m["type"] = "WITHDRAW" },
			want{providers.StatusSucceeded, providers.KindPayout, "14.084508", "14.084508", "13.943663", "0.140845", "100", "7.1", "SUCCESS"}},
		{"user currency differs", func(m map[string]any) { m["userCurrency"] = "TRX" },
			want{providers.StatusSucceeded, providers.KindDeposit, "14.084508", "", "13.943663", "0.140845", "100", "7.1", "SUCCESS"}},
		{"merchant amounts absent, extra absent", func(m map[string]any) {
			delete(m, "merchantPaidAmount")
			delete(m, "merchantActualAmount")
			delete(m, "extra")
		}, want{providers.StatusSucceeded, providers.KindDeposit, "14.084508", "14.084508", "", "", "", "", "SUCCESS"}},
		{"nulls are skipped", func(m map[string]any) { m["merchantUserId"] = nil; m["extra"] = nil },
			want{providers.StatusSucceeded, providers.KindDeposit, "14.084508", "14.084508", "13.943663", "0.140845", "", "", "SUCCESS"}},
	}
	a := newAdapter(t, "https://x.test", testKey, testSecret, nil, map[string]string{"merchant_id": "303122065665"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.mutate(m)
			ev, err := a.ParseCallback(post(resign(t, m, testSecret)))
			if err != nil {
				t.Fatal(err)
			}
			w := c.want
			if ev.Status != w.status || ev.Kind != w.kind || ev.ProviderStatus != w.provider || ev.Currency != "USDT" ||
				ev.Reversed != (w.status == providers.StatusReversed) || ev.OrderNo != "T-1" || ev.ProviderOrderID != "1763800000000001" {
				t.Fatalf("event %+v", ev)
			}
			assertDec(t, "Requested", ev.Requested, w.requested)
			assertDec(t, "Paid", ev.Paid, w.paid)
			assertDec(t, "Credited", ev.Credited, w.credited)
			assertDec(t, "Fee", ev.Fee, w.fee)
			if w.quoteAmount == "" {
				if ev.Quote != nil {
					t.Fatalf("quote %+v", ev.Quote)
				}
			} else if ev.Quote == nil || ev.Quote.Currency != "CNY" || !ev.Quote.Amount.Equal(dec(w.quoteAmount)) || !ev.Quote.Rate.Equal(dec(w.quoteRate)) {
				t.Fatalf("quote %+v", ev.Quote)
			}
			if _, ok := m["merchantUserId"].(string); ok && ev.UserID != "55" {
				t.Fatalf("user id %q", ev.UserID)
			}
		})
	}
}

func TestParseCallbackRefusals(t *testing.T) {
	good := fieldsOf(t, docCallback)
	good["key"] = testKey
	a := newAdapter(t, "https://x.test", testKey, testSecret, nil, nil)
	signedWith := func(mutate func(m map[string]any)) []byte {
		m := fieldsOf(t, docCallback)
		m["key"] = testKey
		mutate(m)
		return resign(t, m, testSecret)
	}
	valid := resign(t, good, testSecret)
	cases := []struct {
		name string
		cb   *providers.Callback
		kind error
	}{
		{"nil", nil, providers.ErrInvalidRequest},
		{"empty", post(nil), providers.ErrInvalidRequest},
		{"GET", &providers.Callback{Method: http.MethodGet, Body: valid}, providers.ErrInvalidRequest},
		{"not json", post([]byte(`amount=1&sign=x`)), providers.ErrInvalidRequest},
		{"array", post([]byte(`[1,2]`)), providers.ErrInvalidRequest},
		{"trailing data", post(append(append([]byte(nil), valid...), []byte(` {}`)...)), providers.ErrInvalidRequest},
		{"duplicate name", post(bytes.Replace(valid, []byte(`"amount":1,`), []byte(`"amount":1,"amount":2,`), 1)), providers.ErrInvalidRequest},
		{"too large", post(bytes.Repeat([]byte(" "), MaxCallbackBytes+1)), providers.ErrInvalidRequest},
		{"unsigned", post(bytes.Replace(valid, []byte(`"sign":`), []byte(`"sig":`), 1)), providers.ErrBadSignature},
		{"wrong secret", post(resign(t, fieldsOf(t, string(valid)), "other")), providers.ErrBadSignature},
		{"tampered userAmount", post(bytes.Replace(valid, []byte(`"userAmount":1`), []byte(`"userAmount":2`), 1)), providers.ErrBadSignature},
		{"tampered extra.quotePrice", post(bytes.Replace(valid, []byte(`"quotePrice":10`), []byte(`"quotePrice":11`), 1)), providers.ErrBadSignature},
		{"tampered status", post(bytes.Replace(valid, []byte(`"SUCCESS"`), []byte(`"success"`), 1)), providers.ErrBadSignature},
		{"field added", post(bytes.Replace(valid, []byte(`{`), []byte(`{"reverse":true,`), 1)), providers.ErrBadSignature},
		{"number turned string", post(bytes.Replace(valid, []byte(`"merchantPaidAmount":7.33`), []byte(`"merchantPaidAmount":"7.330"`), 1)), providers.ErrBadSignature},
		{"other merchant key", post(signedWith(func(m map[string]any) { m["key"] = "someone-else" })), providers.ErrInvalidRequest},
		{"no orderId", post(signedWith(func(m map[string]any) { delete(m, "orderId") })), providers.ErrInvalidRequest},
		{"malformed amount", post(signedWith(func(m map[string]any) { m["userAmount"] = "1,5" })), providers.ErrInvalidRequest},
		{"negative amount", post(signedWith(func(m map[string]any) { m["userAmount"] = json.Number("-1") })), providers.ErrInvalidRequest},
		// The document writes every amount plainly; one with an exponent is
		// refused even though it signs as its plain value.
		{"amount with an exponent", post(signedWith(func(m map[string]any) { m["amount"] = json.Number("1E+0") })), providers.ErrInvalidRequest},
		{"userAmount with an exponent", post(signedWith(func(m map[string]any) { m["userAmount"] = json.Number("1e0") })), providers.ErrInvalidRequest},
		{"merchantPaidAmount with an exponent", post(signedWith(func(m map[string]any) { m["merchantPaidAmount"] = json.Number("7.33e0") })), providers.ErrInvalidRequest},
		{"quotePrice with an exponent", post(signedWith(func(m map[string]any) { m["extra"].(map[string]any)["quotePrice"] = json.Number("1E+1") })), providers.ErrInvalidRequest},
		{"amount string with an exponent", post(signedWith(func(m map[string]any) { m["amount"] = "1e0" })), providers.ErrInvalidRequest},
		{"amount not a number", post(signedWith(func(m map[string]any) { m["amount"] = true })), providers.ErrInvalidRequest},
		{"extra without price", post(signedWith(func(m map[string]any) { delete(m["extra"].(map[string]any), "quotePrice") })), providers.ErrInvalidRequest},
		{"extra not an object", post(signedWith(func(m map[string]any) { m["extra"] = "CNY" })), providers.ErrInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := a.ParseCallback(c.cb)
			if !errors.Is(err, c.kind) || providers.KindOf(err) != c.kind || ev != nil {
				t.Fatalf("= %+v, %v; want %v", ev, err, c.kind)
			}
		})
	}
	if _, err := a.ParseCallback(post(valid)); err != nil {
		t.Fatalf("valid callback refused: %v", err)
	}
	// merchant_id option: the callback's merchantId must match.
	strict := newAdapter(t, "https://x.test", testKey, testSecret, nil, map[string]string{"merchant_id": "999"})
	if _, err := strict.ParseCallback(post(valid)); !errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("merchantId mismatch = %v", err)
	}
}

func TestReply(t *testing.T) {
	a := newAdapter(t, "https://x.test", testKey, testSecret, nil, nil)
	cases := []struct {
		err    error
		status int
		body   string
	}{
		{nil, 200, "success"},
		{providers.Errorf(providers.ErrBadSignature, "vpay", "callback", "x"), 400, "fail"},
		{providers.Invalid("vpay", "callback", "x"), 400, "fail"},
		{errors.New("database down"), 500, "fail"},
		{providers.Errorf(providers.ErrTransient, "tally", "store", "x"), 500, "fail"},
	}
	for _, c := range cases {
		r := a.Reply(c.err)
		if r.Status != c.status || string(r.Body) != c.body || !strings.HasPrefix(r.ContentType, "text/plain") {
			t.Errorf("Reply(%v) = %d %q %q", c.err, r.Status, r.Body, r.ContentType)
		}
	}
}
