package cxpay

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
)

func callback(body []byte) *providers.Callback {
	return &providers.Callback{Method: http.MethodPost, Path: "/callbacks/cxpay", Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

// docShape is the document's callback example, signed with testKey.
func docShape(t testing.TB, status, reverse, amount, fee, remark string) []byte {
	return signedJSON(t, testKey,
		"platOrderId", `"236130395249311744"`, "orderId", `"e8a581fa692342ccbaf9cbd6f2598e48"`,
		"amount", amount, "status", status, "reverse", reverse, "remark", remark, "fee", fee)
}

func TestParseCallbackShapes(t *testing.T) {
	a := mustAdapter(t, nil)
	tests := []struct {
		name     string
		body     []byte
		status   providers.Status
		pstatus  string
		paid     string // "" = invalid
		fee      string
		reversed bool
		remark   string
		txHash   string
	}{
		{"document example (failed)", docShape(t, "2", "false", "1000", "0", `"no"`), providers.StatusFailed, "2", "", "0", false, "no", ""},
		{"paid exactly", docShape(t, "1", "false", "1000", "10", `""`), providers.StatusSucceeded, "1", "1000", "10", false, "", ""},
		{"paid with decimals as sent", docShape(t, "1", "false", "100.50", "1.005", `""`), providers.StatusSucceeded, "1", "100.5", "1.005", false, "", ""},
		{"payer-modified amount", docShape(t, "1", "false", "90.5", "0.9", `""`), providers.StatusSucceeded, "1", "90.5", "0.9", false, "", ""},
		{"reversed", docShape(t, "1", "true", "1000", "10", `"order reversed"`), providers.StatusReversed, "1", "1000", "10", true, "order reversed", ""},
		{"failed flagged reverse", docShape(t, "2", "true", "1000", "0", `"bank returned"`), providers.StatusFailed, "2", "", "0", true, "bank returned", ""},
		{"submitted", docShape(t, "0", "false", "1000", "0", `""`), providers.StatusPending, "0", "", "0", false, "", ""},
		{"unknown status", docShape(t, "7", "false", "1000", "0", `""`), providers.StatusProcessing, "7", "", "0", false, "", ""},
		{"status and amount as strings", docShape(t, `"1"`, `false`, `"1000.00"`, `"0.00"`, `null`), providers.StatusSucceeded, "1", "1000", "0", false, "", ""},
		{"no fee, no reverse", signedJSON(t, testKey, "platOrderId", `"9"`, "orderId", `"e8a581fa692342ccbaf9cbd6f2598e48"`, "amount", "5", "status", "1"),
			providers.StatusSucceeded, "1", "5", "", false, "", ""},
		{"extra signed field utr", signedJSON(t, testKey, "platOrderId", `"236130395249311744"`, "orderId", `"e8a581fa692342ccbaf9cbd6f2598e48"`,
			"amount", "1000", "status", "1", "reverse", "false", "remark", `""`, "fee", "0", "utr", `"310310600223"`),
			providers.StatusSucceeded, "1", "1000", "0", false, "", "310310600223"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := a.ParseCallback(callback(tc.body))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			if ev.Provider != "cxpay" || ev.Kind != "" || ev.OrderNo != "e8a581fa692342ccbaf9cbd6f2598e48" || ev.Status != tc.status ||
				ev.ProviderStatus != tc.pstatus || ev.Reversed != tc.reversed || ev.Remark != tc.remark || ev.TxHash != tc.txHash ||
				ev.Currency != "BRL" || !ev.Verified || string(ev.Raw) != string(tc.body) || ev.Quote != nil || len(ev.Parts) != 0 {
				t.Fatalf("event = %+v", ev)
			}
			wantAmount(t, "Paid", ev.Paid, tc.paid)
			wantAmount(t, "Fee", ev.Fee, tc.fee)
			wantAmount(t, "Requested", ev.Requested, "")
			wantAmount(t, "Credited", ev.Credited, "")
		})
	}
}

func TestParseCallbackRefusals(t *testing.T) {
	a := mustAdapter(t, nil)
	good := docShape(t, "1", "false", "1000", "10", `""`)
	tampered := func(old, new string) []byte {
		if !strings.Contains(string(good), old) {
			t.Fatalf("%s not in %s", old, good)
		}
		return []byte(strings.Replace(string(good), old, new, 1))
	}
	tests := []struct {
		name string
		body []byte
		kind error
	}{
		{"amount raised", tampered(`"amount":1000`, `"amount":1001`), providers.ErrBadSignature},
		{"amount same value, other text", tampered(`"amount":1000`, `"amount":1000.00`), providers.ErrBadSignature},
		{"status changed", tampered(`"status":1`, `"status":2`), providers.ErrBadSignature},
		{"reverse flipped", tampered(`"reverse":false`, `"reverse":true`), providers.ErrBadSignature},
		{"fee removed", tampered(`,"fee":10`, ``), providers.ErrBadSignature},
		{"field added", tampered(`"remark":""`, `"remark":"","utr":"1"`), providers.ErrBadSignature},
		{"order changed", tampered(`e8a581fa`, `e8a581fb`), providers.ErrBadSignature},
		{"sign missing", signedJSONWithoutSign(t), providers.ErrBadSignature},
		{"signed with another key", signedJSON(t, "other-key", "orderId", `"X"`, "amount", "1", "status", "1"), providers.ErrBadSignature},
		{"empty", nil, providers.ErrInvalidRequest},
		{"not json", []byte(`amount=1000&sign=x`), providers.ErrInvalidRequest},
		{"array", []byte(`[1,2]`), providers.ErrInvalidRequest},
		{"nested", []byte(`{"orderId":"X","extra":{"a":1},"sign":"x"}`), providers.ErrInvalidRequest},
		{"trailing", append(append([]byte{}, good...), []byte(`{}`)...), providers.ErrInvalidRequest},
		{"too large", []byte(`{"remark":"` + strings.Repeat("a", MaxCallbackBytes) + `"}`), providers.ErrInvalidRequest},
		{"signed without orderId", signedJSON(t, testKey, "amount", "1", "status", "1"), providers.ErrInvalidRequest},
		{"signed without status", signedJSON(t, testKey, "orderId", `"X"`, "amount", "1"), providers.ErrInvalidRequest},
		{"signed without amount", signedJSON(t, testKey, "orderId", `"X"`, "status", "1"), providers.ErrInvalidRequest},
		{"signed negative amount", signedJSON(t, testKey, "orderId", `"X"`, "amount", "-1", "status", "1"), providers.ErrInvalidRequest},
		{"signed exponent amount", signedJSON(t, testKey, "orderId", `"X"`, "amount", "1e3", "status", "1"), providers.ErrInvalidRequest},
		{"signed bad reverse", signedJSON(t, testKey, "orderId", `"X"`, "amount", "1", "status", "1", "reverse", `"yes"`), providers.ErrInvalidRequest},
		{"signed bad fee", signedJSON(t, testKey, "orderId", `"X"`, "amount", "1", "status", "1", "fee", `"-0.5"`), providers.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := a.ParseCallback(callback(tc.body))
			if ev != nil {
				t.Fatalf("event returned with error %v", err)
			}
			wantKind(t, err, tc.kind)
			if r := a.Reply(err); r.Status != http.StatusBadRequest || string(r.Body) == Ack {
				t.Fatalf("Reply = %d %q, want 400 and no ack", r.Status, r.Body)
			}
		})
	}
	if _, err := a.ParseCallback(nil); !errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("nil callback: %v", err)
	}
}

func signedJSONWithoutSign(t *testing.T) []byte {
	b := docShape(t, "1", "false", "1000", "10", `""`)
	i := strings.Index(string(b), `,"sign"`)
	return append(b[:i:i], '}')
}

func TestReply(t *testing.T) {
	a := mustAdapter(t, nil)
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{nil, 200, "success"},
		{providers.Errorf(providers.ErrBadSignature, Name, "callback", "x"), 400, "fail"},
		{providers.Invalid(Name, "callback", "x"), 400, "fail"},
		{errors.New("database down"), 500, "fail"},
		{fmt.Errorf("store: %w", providers.ErrTransient), 500, "fail"},
	}
	for _, tc := range tests {
		r := a.Reply(tc.err)
		if r.Status != tc.status || string(r.Body) != tc.body || !strings.HasPrefix(r.ContentType, "text/plain") {
			t.Errorf("Reply(%v) = %d %q %q, want %d %q", tc.err, r.Status, r.Body, r.ContentType, tc.status, tc.body)
		}
	}
}

// FuzzParseCallback: ParseCallback never panics; whatever it accepts verifies
// under an independent implementation of the rule; and changing any one signed
// field of an accepted callback makes it ErrBadSignature.
func FuzzParseCallback(f *testing.F) {
	for _, b := range [][]byte{
		docShape(f, "2", "false", "1000", "0", `"no"`),
		docShape(f, "1", "false", "1000", "10", `""`),
		docShape(f, "1", "true", "1000", "10", `"order reversed"`),
		docShape(f, "1", "false", "90.5", "0.9", `""`),
		docShape(f, `"1"`, "false", `"100.00"`, `"1.00"`, `null`),
		docShape(f, "0", "false", "1000", "0", `""`),
		[]byte(`{"platOrderId":"1","orderId":"2","amount":1,"status":1,"reverse":false,"remark":"","fee":0,"sign":"00000000000000000000000000000000"}`),
		[]byte(`{}`), []byte(`null`), []byte(`{"sign":""}`),
	} {
		f.Add(b, uint8(0), "1001")
		f.Add(b, uint8(3), "true")
	}
	a, err := New(providers.Config{BaseURL: "http://127.0.0.1:1", MerchantID: testMerchant, Secret: testKey, Options: map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"}, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, field uint8, val string) {
		ev, err := a.ParseCallback(callback(body))
		if err != nil {
			if ev != nil {
				t.Fatal("event with an error")
			}
			if providers.KindOf(err) != providers.ErrBadSignature && providers.KindOf(err) != providers.ErrInvalidRequest {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !ev.Verified || !ev.Status.Valid() || ev.OrderNo == "" {
			t.Fatalf("accepted event %+v", ev)
		}
		// Independent check: decode with UseNumber semantics and sign by hand.
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(string(body)))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %v", err)
		}
		if !referenceVerify(m, testKey) {
			t.Fatalf("accepted a callback the reference implementation refuses: %s", body)
		}
		// Tamper with one signed field.
		var names []string
		for k := range m {
			if k != SignField {
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			return
		}
		sort.Strings(names)
		name := names[int(field)%len(names)]
		old := referenceText(m[name])
		m[name] = val
		if referenceText(m[name]) == old {
			return // not a change of what is signed
		}
		tb, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.ParseCallback(callback(tb)); !errors.Is(err, providers.ErrBadSignature) {
			t.Fatalf("tampered %s %q -> %q accepted or misclassified: %v\n%s", name, old, val, err, tb)
		}
	})
}

// referenceVerify is the signing rule written independently of sign.go.
func referenceVerify(m map[string]any, key string) bool {
	var names []string
	for k, v := range m {
		if k == SignField || v == nil || referenceText(v) == "" {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, k+"="+referenceText(m[k]))
	}
	sign, _ := m[SignField].(string)
	return strings.EqualFold(sign, providers.MD5Hex(strings.Join(parts, "&")+"&key="+key))
}

func referenceText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	}
	return fmt.Sprintf("unsupported %T", v)
}
