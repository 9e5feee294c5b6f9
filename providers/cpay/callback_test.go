package cpay

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

const (
	testMerchant = "20003092"
	testSecret   = "z6h3cuw9grtbun9sgg5u1j35u72hycq0"
)

func testAdapter(t testing.TB, baseURL string) *Adapter {
	t.Helper()
	a, err := New(providers.Config{Account: "cpay-test", BaseURL: baseURL, MerchantID: testMerchant, Secret: testSecret, HTTPClient: testClient})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// signedBody marshals fields (strings, json.Number, bool, nil) with their sign.
func signedBody(t testing.TB, secret string, fields map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	ps, err := JSONParams(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		out[k] = v
	}
	out[SignField] = Sign(ps, secret)
	b, err = json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Webhook shapes as the document describes them.
func depositCompleted() map[string]any {
	return map[string]any{
		"merchantId": testMerchant, "merchantTradeNo": "test114", "merchantUserId": "test002",
		"orderId": "221116112637772768014", "orderStatus": "14",
		"hash":         "c4dbbf5737c52072817dc92fa09c41386f8024fee883270b92bfc1943616f957",
		"actualAmount": "10", "receivedAmount": "9.9", "fee": "0.1", "cryptoCurrency": "USDT",
		"network": "TRON(TRC-20)", "remark": "", "extInfo": "", "createTime": "1663155010000",
	}
}

func walletDeposit() map[string]any {
	return map[string]any{
		"merchantId": testMerchant, "merchantTradeNo": "", "merchantUserId": "83430099",
		"orderId": "2209141130105863014", "orderStatus": "14",
		"hash":         "0x9f2a4b1c7d5e3f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd",
		"actualAmount": "25.12345678", "receivedAmount": "25.12345678", "fee": "0",
		"cryptoCurrency": "USDT", "network": "BSC(BEP-20)", "remark": "充值单补单", "createTime": "1663155010000",
	}
}

func payoutProcessing() map[string]any {
	return map[string]any{
		"merchantId": testMerchant, "merchantTradeNo": "test07", "merchantUserId": "1001",
		"orderId": "23031008544224390001", "orderStatus": "11", "hash": "",
		"actualAmount": "0", "receivedAmount": "5.5", "fee": "0.5", "cryptoCurrency": "BRL",
		"network": "", "remark": "remark", "extInfo": "", "createTime": "1678438482000",
	}
}

func orderClosed() map[string]any {
	return map[string]any{
		"merchantId": testMerchant, "merchantTradeNo": "test901", "orderId": "221108101212238310014",
		"orderStatus": "15", "actualAmount": "0", "receivedAmount": "0", "fee": "0",
		"cryptoCurrency": "USD", "remark": "Transaction cannot be completed",
		"extInfo": `{"reason":"Transaction cannot be completed","sceneTag":"EcAcquiring"}`, "createTime": "1667873532000",
	}
}

// numbersWebhook has numbers where getOrderDetail's example has them.
func numbersWebhook() map[string]any {
	return map[string]any{
		"merchantId": json.Number(testMerchant), "merchantTradeNo": "7b785240e426694635bb09fb101ae241",
		"merchantUserId": "test002", "orderId": "2209141130105863014", "orderStatus": json.Number("14"),
		"actualAmount": json.Number("10.0"), "receivedAmount": json.Number("10"), "fee": json.Number("0"),
		"cryptoCurrency": "USDT", "network": "TRON", "createTime": json.Number("1663155010000"), "pledgeAmount": nil,
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func nd(s string) decimal.NullDecimal { return providers.Nullable(dec(s)) }

func sameNull(a, b decimal.NullDecimal) bool {
	return a.Valid == b.Valid && (!a.Valid || a.Decimal.Equal(b.Decimal))
}

func TestParseCallbackShapes(t *testing.T) {
	a := testAdapter(t, "http://cpay.invalid")
	occurred := time.UnixMilli(1663155010000).UTC()
	for _, tc := range []struct {
		name   string
		fields map[string]any
		want   providers.Event
	}{
		{"deposit completed", depositCompleted(), providers.Event{
			ProviderOrderID: "221116112637772768014", OrderNo: "test114", Status: providers.StatusSucceeded, ProviderStatus: "14",
			Paid: nd("10"), Credited: nd("9.9"), Fee: nd("0.1"), Currency: "USDT", UserID: "test002", Network: "TRON(TRC-20)",
			TxHash: "c4dbbf5737c52072817dc92fa09c41386f8024fee883270b92bfc1943616f957", OccurredAt: occurred}},
		{"wallet deposit without an order", walletDeposit(), providers.Event{
			Kind: providers.KindDeposit, ProviderOrderID: "2209141130105863014", Status: providers.StatusSucceeded, ProviderStatus: "14",
			Paid: nd("25.12345678"), Credited: nd("25.12345678"), Fee: nd("0"), Currency: "USDT", UserID: "83430099",
			Network: "BSC(BEP-20)", TxHash: "0x9f2a4b1c7d5e3f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd",
			Remark: "充值单补单", OccurredAt: occurred}},
		{"payout processing", payoutProcessing(), providers.Event{
			ProviderOrderID: "23031008544224390001", OrderNo: "test07", Status: providers.StatusProcessing, ProviderStatus: "11",
			Paid: nd("0"), Credited: nd("5.5"), Fee: nd("0.5"), Currency: "BRL", UserID: "1001", Remark: "remark",
			OccurredAt: time.UnixMilli(1678438482000).UTC()}},
		{"order closed", orderClosed(), providers.Event{
			ProviderOrderID: "221108101212238310014", OrderNo: "test901", Status: providers.StatusFailed, ProviderStatus: "15",
			Paid: nd("0"), Credited: nd("0"), Fee: nd("0"), Currency: "USD", Remark: "Transaction cannot be completed",
			OccurredAt: time.UnixMilli(1667873532000).UTC()}},
		{"numbers instead of strings", numbersWebhook(), providers.Event{
			ProviderOrderID: "2209141130105863014", OrderNo: "7b785240e426694635bb09fb101ae241", Status: providers.StatusSucceeded,
			ProviderStatus: "14", Paid: nd("10.0"), Credited: nd("10"), Fee: nd("0"), Currency: "USDT", UserID: "test002",
			Network: "TRON", OccurredAt: occurred}},
		{"amounts left out", map[string]any{"merchantId": testMerchant, "orderId": "1", "merchantTradeNo": "N1", "orderStatus": "0", "actualAmount": ""},
			providers.Event{ProviderOrderID: "1", OrderNo: "N1", Status: providers.StatusPending, ProviderStatus: "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := signedBody(t, testSecret, tc.fields)
			ev, err := a.ParseCallback(&providers.Callback{Method: http.MethodPost, Body: body, Header: http.Header{"Content-Type": {"application/json"}}})
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if ev.Provider != Name || ev.Kind != w.Kind || ev.ProviderOrderID != w.ProviderOrderID || ev.OrderNo != w.OrderNo ||
				ev.Status != w.Status || ev.ProviderStatus != w.ProviderStatus || ev.Currency != w.Currency || ev.UserID != w.UserID ||
				ev.Network != w.Network || ev.TxHash != w.TxHash || ev.Remark != w.Remark || !ev.OccurredAt.Equal(w.OccurredAt) {
				t.Errorf("event = %+v\nwant    %+v", ev, w)
			}
			if !sameNull(ev.Paid, w.Paid) || !sameNull(ev.Credited, w.Credited) || !sameNull(ev.Fee, w.Fee) || ev.Requested.Valid {
				t.Errorf("amounts paid %v credited %v fee %v requested %v; want %v %v %v and no requested", ev.Paid, ev.Credited, ev.Fee, ev.Requested, w.Paid, w.Credited, w.Fee)
			}
			if !ev.Verified || ev.Reversed || string(ev.Raw) != string(body) {
				t.Errorf("verified %v reversed %v raw kept %v", ev.Verified, ev.Reversed, string(ev.Raw) == string(body))
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCallbackRefusals(t *testing.T) {
	a := testAdapter(t, "http://cpay.invalid")
	good := depositCompleted()
	tampered := func(k, v string) []byte {
		var m map[string]any
		_ = json.Unmarshal(signedBody(t, testSecret, good), &m)
		m[k] = v
		return mustJSON(t, m)
	}
	noSign := mustJSON(t, good)
	other := depositCompleted()
	other["merchantId"] = "20000387"
	badStatus := depositCompleted()
	badStatus["orderStatus"] = "99"
	badAmount := depositCompleted()
	badAmount["actualAmount"] = "1,000"
	for _, tc := range []struct {
		name string
		body []byte
		kind error
	}{
		{"amount raised", tampered("actualAmount", "1000"), providers.ErrBadSignature},
		{"credit raised", tampered("receivedAmount", "99"), providers.ErrBadSignature},
		{"status changed", tampered("orderStatus", "15"), providers.ErrBadSignature},
		{"empty field filled", tampered("remark", "x"), providers.ErrBadSignature},
		{"field added", tampered("pledgeAmount", "1"), providers.ErrBadSignature},
		{"signed with another secret", signedBody(t, "xxx112233", good), providers.ErrBadSignature},
		{"no sign", noSign, providers.ErrBadSignature},
		{"empty sign", tampered("sign", ""), providers.ErrBadSignature},
		{"another merchant", signedBody(t, testSecret, other), providers.ErrInvalidRequest},
		{"unknown status", signedBody(t, testSecret, badStatus), providers.ErrInvalidRequest},
		{"malformed amount", signedBody(t, testSecret, badAmount), providers.ErrInvalidRequest},
		{"not JSON", []byte("merchantId=1&sign=2"), providers.ErrInvalidRequest},
		{"array", []byte(`[1,2]`), providers.ErrInvalidRequest},
		{"empty", nil, providers.ErrInvalidRequest},
		{"null", []byte("null"), providers.ErrInvalidRequest},
		{"too large", []byte(`{"x":"` + strings.Repeat("a", MaxCallbackBytes) + `"}`), providers.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := a.ParseCallback(&providers.Callback{Method: http.MethodPost, Body: tc.body})
			if !errors.Is(err, tc.kind) || ev != nil {
				t.Fatalf("ParseCallback = %+v, %v; want %v", ev, err, tc.kind)
			}
			if k := providers.KindOf(err); k != tc.kind {
				t.Fatalf("kind = %v, want exactly %v", k, tc.kind)
			}
		})
	}
	if _, err := a.ParseCallback(nil); !errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("nil callback: %v", err)
	}
}

func TestReply(t *testing.T) {
	a := testAdapter(t, "http://cpay.invalid")
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{nil, http.StatusOK, "OK"},
		{providers.Errorf(providers.ErrBadSignature, Name, "webhook", "x"), http.StatusBadRequest, "FAIL"},
		{providers.Invalid(Name, "webhook", "x"), http.StatusBadRequest, "FAIL"},
		{errors.New("database down"), http.StatusInternalServerError, "FAIL"},
	} {
		r := a.Reply(tc.err)
		if r.Status != tc.status || string(r.Body) != tc.body || !strings.HasPrefix(r.ContentType, "text/plain") {
			t.Errorf("Reply(%v) = %d %q %q", tc.err, r.Status, r.Body, r.ContentType)
		}
	}
}

// FuzzParseCallback: no input panics, and changing the signed text of any
// member of a valid webhook is a bad signature.
func FuzzParseCallback(f *testing.F) {
	for _, fields := range []map[string]any{depositCompleted(), walletDeposit(), payoutProcessing(), orderClosed(), numbersWebhook()} {
		body := signedBody(f, testSecret, fields)
		f.Add(body, "actualAmount", "10.00")
		f.Add(body, "orderStatus", "15")
		f.Add(body, "merchantTradeNo", "")
		f.Add(body, "hash", "x")
	}
	f.Add([]byte(`{"sign":"00","orderStatus":"14"}`), "fee", "1")
	f.Add([]byte(`{`), "", "")
	a := testAdapter(f, "http://cpay.invalid")
	f.Fuzz(func(t *testing.T, body []byte, field, value string) {
		ev, err := a.ParseCallback(&providers.Callback{Method: http.MethodPost, Body: body})
		if err != nil {
			if ev != nil || providers.KindOf(err) == nil {
				t.Fatalf("error %v with event %v or without a kind", err, ev)
			}
			return
		}
		if !ev.Verified || !ev.Status.Valid() {
			t.Fatalf("accepted event %+v", ev)
		}
		// A valid webhook: change one member's signed text.
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil || field == SignField {
			return
		}
		old := ""
		if raw, ok := obj[field]; ok {
			if old, err = jsonText(raw); err != nil {
				return
			}
		}
		nv, _ := json.Marshal(value)
		if now, _ := jsonText(nv); now == old {
			return
		}
		obj[field] = nv
		mutated, _ := json.Marshal(obj)
		if ev, err := a.ParseCallback(&providers.Callback{Method: http.MethodPost, Body: mutated}); !errors.Is(err, providers.ErrBadSignature) {
			t.Fatalf("member %q changed from %q to %q: event %+v, err %v; want a bad signature", field, old, value, ev, err)
		}
	})
}
