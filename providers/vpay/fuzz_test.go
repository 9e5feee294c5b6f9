package vpay

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
)

// FuzzParseCallback: ParseCallback never panics, accepts only bodies whose
// signature verifies, returns only typed errors, and refuses any valid
// callback in which one signed field (top level or inside extra) was changed,
// added or removed with ErrBadSignature.
func FuzzParseCallback(f *testing.F) {
	a := newAdapter(f, "https://x.test", testKey, testSecret, nil, nil)
	doc := fieldsOf(f, docCallback)
	doc["key"] = testKey
	simShape := fieldsOf(f, `{"amount":14.084508,"bizType":"PAYMENT_FIXED_DIGITAL_SCAN","currency":"USDT",
		"extra":{"quoteAmount":100,"quoteCurrency":"CNY","quotePrice":7.1},"key":"`+testKey+`","localOrderId":"T-1",
		"merchantActualAmount":13.943663,"merchantCurrency":"USDT","merchantId":303122065665,"merchantPaidAmount":14.084508,
		"merchantUserId":"55","notifyTime":1736744168370,"orderCreateTime":1731572133082,"orderId":"1763800000000001",
		"status":"SUCCESS","type":"PAYMENT","userAmount":14.084508,"userCurrency":"USDT"}`)
	strs := fieldsOf(f, `{"amount":"1.00","bizType":"PAYMENT_FIXED_DIGITAL_SCAN","currency":"USDT","extra":{"quoteAmount":"10.00","quoteCurrency":"CNY","quotePrice":"10"},
		"key":"`+testKey+`","localOrderId":"2820","merchantActualAmount":"0.99","merchantCurrency":"USDT","merchantId":"303122065665","merchantPaidAmount":"1",
		"notifyTime":"1736744168370","orderCreateTime":1731572133082,"orderId":"273124814912907","status":"FAIL","type":"WITHDRAW","userAmount":"0","userCurrency":"USDT"}`)
	for _, m := range []map[string]any{doc, simShape, strs} {
		body := resign(f, m, testSecret)
		f.Add(body, "userAmount", "2")
		f.Add(body, "extra.quotePrice", "7.2")
		f.Add(body, "status", `"FAIL"`)
		f.Add(body, "merchantActualAmount", "")
		f.Add(body, "reverse", "true")
		f.Add(body, "sign", `"00000000000000000000000000000000"`)
		f.Add(body, "amount", "1.000")
		f.Add(body, "userAmount", "1E+0")
	}
	f.Add([]byte(docCallback), "amount", "1")
	f.Add([]byte(`{"sign":"x"}`), "", "")
	f.Add([]byte(`{"a":`+strings.Repeat("[", 100)), "a", "1e99999")

	f.Fuzz(func(t *testing.T, body []byte, field, value string) {
		ev, err := a.ParseCallback(post(body))
		if err != nil {
			if providers.KindOf(err) == nil {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		root, perr := parseJSON(body)
		if perr != nil || !verifyObject(root, testSecret) {
			t.Fatalf("accepted a body that does not verify: %s", body)
		}
		if !ev.Verified || !ev.Status.Valid() || ev.Provider != Name || ev.OrderNo == "" || ev.ProviderOrderID == "" {
			t.Fatalf("accepted event %+v", ev)
		}
		for _, d := range []struct {
			name string
			v    bool
			neg  bool
		}{{"Requested", ev.Requested.Valid, ev.Requested.Decimal.IsNegative()}, {"Paid", ev.Paid.Valid, ev.Paid.Decimal.IsNegative()},
			{"Credited", ev.Credited.Valid, ev.Credited.Decimal.IsNegative()}, {"Fee", ev.Fee.Valid, ev.Fee.Decimal.IsNegative()}} {
			if d.v && d.neg {
				t.Fatalf("%s negative in accepted event", d.name)
			}
		}

		// Tamper with one field of this valid callback and keep its sign.
		if field == "" {
			return
		}
		d := json.NewDecoder(strings.NewReader(string(body)))
		d.UseNumber()
		var m map[string]any
		if d.Decode(&m) != nil {
			return
		}
		var v any = value
		if json.Valid([]byte(value)) {
			vd := json.NewDecoder(strings.NewReader(value))
			vd.UseNumber()
			_ = vd.Decode(&v)
		}
		target, name := m, field
		if rest, ok := strings.CutPrefix(field, "extra."); ok {
			extra, ok := m["extra"].(map[string]any)
			if !ok {
				return
			}
			target, name = extra, rest
		}
		if value == "" {
			delete(target, name)
		} else {
			target[name] = v
		}
		tampered, merr := json.Marshal(m)
		if merr != nil {
			return
		}
		_, terr := a.ParseCallback(post(tampered))
		before, _ := StringToSign(body)
		after, aerr := StringToSign(tampered)
		switch {
		case field == "sign":
			newSig, _ := m["sign"].(string)
			if terr == nil && !providers.EqualSignature(newSig, root.obj["sign"].text) {
				t.Fatalf("accepted a replaced sign %q", value)
			}
		case aerr != nil:
			if terr == nil {
				t.Fatalf("accepted an unparsable tampered body %s", tampered)
			}
		case after != before:
			if !errors.Is(terr, providers.ErrBadSignature) {
				t.Fatalf("tampered %s=%q: %v, want ErrBadSignature\nbefore %s\nafter  %s", field, value, terr, before, after)
			}
		case strings.ContainsAny(value, "eE") && errors.Is(terr, providers.ErrInvalidRequest):
			// A number with an exponent signs as its plain value, but an
			// amount written so is refused (amounts are posted as written).
		default:
			// The change did not alter what is signed (1.000 for 1, a string
			// id for a numeric one): the verdict is the same as before.
			if terr != nil {
				t.Fatalf("equivalent body refused: %v", terr)
			}
		}
	})
}
