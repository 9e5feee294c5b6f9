package cpay

import (
	"encoding/json"
	"testing"
)

// vectorParams are the parameters of C-Pay's published signature example.
func vectorParams() map[string]string {
	return map[string]string{
		"amount": "100", "merchantTradeNo": "test0001", "merchantId": "20000387",
		"createTime": "1658387195", "fiatCurrency": "USD", "userId": "83453",
		"cryptoCurrency": "USDT", "purchaseType": "1",
	}
}

func TestSignVectors(t *testing.T) {
	const wantString = "amount=100&createTime=1658387195&cryptoCurrency=USDT&fiatCurrency=USD&merchantId=20000387&merchantTradeNo=test0001&purchaseType=1&userId=83453&key="
	for _, tc := range []struct{ secret, sign string }{
		{"xxx112233", "e20a671567201e793c794efedd7794be770aedef4291383f46d1974165445bf0"},
		{"z6h3cuw9grtbun9sgg5u1j35u72hycq0", "04f41e122c4dbf81d5ba613b56c19607be926034a8da703d3a1ea716072af803"},
	} {
		p := vectorParams()
		if got := StringToSign(p, tc.secret); got != wantString+tc.secret {
			t.Errorf("string to sign = %q, want %q", got, wantString+tc.secret)
		}
		if got := Sign(p, tc.secret); got != tc.sign {
			t.Errorf("sign(secret %s) = %s, want %s", tc.secret, got, tc.sign)
		}
		if !Verify(p, tc.secret, tc.sign) {
			t.Errorf("Verify refuses the published sign for secret %s", tc.secret)
		}
		// The sign parameter itself and empty parameters are not signed.
		p[SignField] = tc.sign
		p["remark"] = ""
		if got := Sign(p, tc.secret); got != tc.sign {
			t.Errorf("sign with sign and an empty parameter present = %s, want %s", got, tc.sign)
		}
		p["amount"] = "100.0" // signed exactly as sent
		if Verify(p, tc.secret, tc.sign) {
			t.Errorf("amount 100.0 verifies with the signature of amount 100")
		}
	}
	if Verify(vectorParams(), "xxx112233", "") {
		t.Error("an empty signature verifies")
	}
	if !Verify(vectorParams(), "xxx112233", "E20A671567201E793C794EFEDD7794BE770AEDEF4291383F46D1974165445BF0") {
		t.Error("an upper-case signature does not verify")
	}
}

// The same vector arriving as JSON, with numbers where the order detail
// example has them, signs the same: numbers sign as their JSON text.
func TestJSONParamsSignNumbersAsWritten(t *testing.T) {
	body := `{"amount":100,"merchantTradeNo":"test0001","merchantId":20000387,"createTime":1658387195,
	"fiatCurrency":"USD","userId":"83453","cryptoCurrency":"USDT","purchaseType":1,"remark":"","extInfo":null}`
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatal(err)
	}
	ps, err := JSONParams(obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(ps, "xxx112233"); got != "e20a671567201e793c794efedd7794be770aedef4291383f46d1974165445bf0" {
		t.Fatalf("JSON vector sign = %s", got)
	}
	for raw, want := range map[string]string{
		`"10.0"`: "10.0", `10.0`: "10.0", `1663155010000`: "1663155010000", `1e3`: "1e3",
		`true`: "true", `null`: "", `{"b": 1, "a": [1, 2]}`: `{"b":1,"a":[1,2]}`, `"caf\u00e9"`: "café",
	} {
		got, err := jsonText(json.RawMessage(raw))
		if err != nil || got != want {
			t.Errorf("jsonText(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{``, `nul`, `tru`, `"x`, `1.2.3`} {
		if _, err := jsonText(json.RawMessage(raw)); err == nil {
			t.Errorf("jsonText(%q) accepted", raw)
		}
	}
}
