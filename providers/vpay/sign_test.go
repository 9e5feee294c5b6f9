package vpay

import (
	"encoding/json"
	"strings"
	"testing"
)

// The request vector of shared/vectors/README.md (MinPay's merchant SDK).
const (
	vectorKey    = "9yUreYgTRtit39Dy"
	vectorSecret = "D2PQPllGEBOV4mcMxoKTM7foVpzqrjIx"
	vectorString = "isBlockchain=true&key=9yUreYgTRtit39Dy&localOrderId=1700000000&localUserId=55&notifyUrl=http://conan.test/notify&quoteAmount=100&quoteCurrency=CNY&userCurrency=USDT&secret=D2PQPllGEBOV4mcMxoKTM7foVpzqrjIx"
	vectorSign   = "4d0787042a281986bb51ceb1995de482"
)

func TestRequestVector(t *testing.T) {
	bodies := map[string]string{
		"quoteAmount 100":           `{"key":"9yUreYgTRtit39Dy","localOrderId":"1700000000","localUserId":"55","notifyUrl":"http://conan.test/notify","isBlockchain":true,"userCurrency":"USDT","quoteCurrency":"CNY","quoteAmount":100}`,
		"quoteAmount 100.00":        `{"quoteAmount":100.00,"quoteCurrency":"CNY","userCurrency":"USDT","isBlockchain":true,"notifyUrl":"http://conan.test/notify","localUserId":"55","localOrderId":"1700000000","key":"9yUreYgTRtit39Dy"}`,
		"numeric ids, sign present": `{"key":"9yUreYgTRtit39Dy","localOrderId":1700000000,"localUserId":55,"notifyUrl":"http://conan.test/notify","isBlockchain":true,"userCurrency":"USDT","quoteCurrency":"CNY","quoteAmount":100.0,"sign":"whatever","successRedirectUrl":null,"tags":[]}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			s, err := StringToSign([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if got := s + "&secret=" + vectorSecret; got != vectorString {
				t.Fatalf("string to sign\n got %s\nwant %s", got, vectorString)
			}
			sig, err := Sign([]byte(body), vectorSecret)
			if err != nil {
				t.Fatal(err)
			}
			if sig != vectorSign {
				t.Fatalf("sign %s, want %s", sig, vectorSign)
			}
		})
	}
}

func TestStringToSignRules(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"sorted, sign dropped", `{"b":"2","a":"1","sign":"x"}`, "a=1&b=2"},
		{"byte order", `{"b":1,"B":2,"a_b":3,"aB":4}`, "B=2&aB=4&a_b=3&b=1"},
		{"null skipped, empty string kept", `{"a":null,"b":"","c":"x"}`, "b=&c=x"},
		{"empty list skipped", `{"a":[],"b":[1,2]}`, "b=[1,2]"},
		{"list of strings and objects", `{"l":["x",{"b":1,"a":2},[3],null]}`, "l=[x,{a=2&b=1},[3],null]"},
		{"booleans", `{"t":true,"f":false}`, "f=false&t=true"},
		{"trailing zeros", `{"a":100.00,"b":7.20,"c":0.000,"d":-1.50,"e":10}`, "a=100&b=7.2&c=0&d=-1.5&e=10"},
		{"exponent written plainly", `{"a":1E+2,"b":1.5e-3}`, "a=100&b=0.0015"},
		{"big ids exact", `{"merchantId":303122065665,"orderId":273719658252612123456789}`, "merchantId=303122065665&orderId=273719658252612123456789"},
		{"strings verbatim", `{"a":"100.00","b":" x "}`, "a=100.00&b= x "},
		{"nested sorted, nulls skipped, nested sign kept", `{"extra":{"quotePrice":7.10,"quoteCurrency":"CNY","quoteAmount":100.00,"n":null,"sign":"s"},"key":"k"}`, "extra={quoteAmount=100&quoteCurrency=CNY&quotePrice=7.1&sign=s}&key=k"},
		{"empty object kept", `{"e":{},"k":"v"}`, "e={}&k=v"},
		{"nothing to sign", `{"sign":"x"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := StringToSign([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			sig, err := Sign([]byte(c.body), "k3y")
			if err != nil || sig != signString(c.want, "k3y") || len(sig) != 32 {
				t.Fatalf("Sign = %q, %v", sig, err)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":1}{}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":1}}`, `{"a":1e999}`, `{"a":1e-65}`, `{"a":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`, `{"a":tru}`} {
		if s, err := StringToSign([]byte(bad)); err == nil {
			t.Errorf("StringToSign(%q) = %q, want an error", bad, s)
		}
	}
}

func TestVerifyConstantTimeAndCase(t *testing.T) {
	body := []byte(`{"key":"9yUreYgTRtit39Dy","localOrderId":"1700000000","localUserId":"55","notifyUrl":"http://conan.test/notify","isBlockchain":true,"userCurrency":"USDT","quoteCurrency":"CNY","quoteAmount":100,"sign":"4D0787042A281986BB51CEB1995DE482"}`)
	n, err := parseJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if !verifyObject(n, vectorSecret) {
		t.Fatal("upper-case hex signature refused")
	}
	if verifyObject(n, vectorSecret+"x") {
		t.Fatal("wrong secret accepted")
	}
	n.obj["sign"] = &node{kind: kindNumber, text: "1"}
	if verifyObject(n, vectorSecret) {
		t.Fatal("non-string sign accepted")
	}
}

func TestSignedJSONIsWhatIsSigned(t *testing.T) {
	b, err := signedJSON(map[string]any{"key": vectorKey, "localOrderId": "1700000000", "localUserId": "55", "notifyUrl": "http://conan.test/notify",
		"isBlockchain": true, "userCurrency": "USDT", "quoteCurrency": "CNY", "quoteAmount": json.Number("100.00"), "sign": "stale"}, vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"isBlockchain":true,"key":"9yUreYgTRtit39Dy","localOrderId":"1700000000","localUserId":"55","notifyUrl":"http://conan.test/notify","quoteAmount":100.00,"quoteCurrency":"CNY","sign":"` + vectorSign + `","userCurrency":"USDT"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
