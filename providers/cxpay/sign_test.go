package cxpay

import (
	"testing"
)

// CXPay publishes no signature with its key (the document truncates the key to
// "34797ffe c7814a..."), and the vectors README gives the rule only. These
// vectors apply the rule to the document's own examples with that key as
// printed, "34797ffec7814a"; the MD5s were computed independently with
// `printf '%s' "$string" | md5sum`.
func TestSignVectors(t *testing.T) {
	const key = "34797ffec7814a"
	tests := []struct {
		name   string
		params map[string]string
		str    string
		sign   string
	}{
		{
			// The document's stringSignTemp example, parameter names as values.
			name: "document example",
			params: map[string]string{
				"userName": "userName", "passageId": "passageId", "otherData": "otherData", "orderNo": "orderNo",
				"notifyUrl": "notifyUrl", "mchId": "mchId", "amount": "amount", "account": "account", "sign": "ignored",
			},
			str:  "account=account&amount=amount&mchId=mchId&notifyUrl=notifyUrl&orderNo=orderNo&otherData=otherData&passageId=passageId&userName=userName&key=34797ffec7814a",
			sign: "fa63c52611c106336a20d954db8ad36c",
		},
		{
			// The document's callback example: numbers and the boolean signed
			// as their JSON text.
			name: "callback example",
			params: map[string]string{
				"platOrderId": "236130395249311744", "orderId": "e8a581fa692342ccbaf9cbd6f2598e48", "amount": "1000",
				"status": "2", "reverse": "false", "remark": "no", "fee": "0", "sign": "ec7d2b22c60056edbb4576ef5ecdbce4",
			},
			str:  "amount=1000&fee=0&orderId=e8a581fa692342ccbaf9cbd6f2598e48&platOrderId=236130395249311744&remark=no&reverse=false&status=2&key=34797ffec7814a",
			sign: "e2436f09d975a316827a18e3d2cce91b",
		},
		{
			// A Brazil collection: amount as the string "100.00", empty values
			// (callbackUrl "" would be dropped) left out.
			name: "collect/create request",
			params: map[string]string{
				"merchant": "M10001", "payCode": "PIX", "amount": "100.00", "orderId": "T20261122000001",
				"notifyUrl": "https://tally.example/callbacks/cxpay-main", "callbackUrl": "https://shop.example/return",
				"remark": "12345678909", "customName": "Joao Silva", "number": "5511987654321", "email": "joao@example.com",
				"otherEmpty": "",
			},
			str:  "amount=100.00&callbackUrl=https://shop.example/return&customName=Joao Silva&email=joao@example.com&merchant=M10001&notifyUrl=https://tally.example/callbacks/cxpay-main&number=5511987654321&orderId=T20261122000001&payCode=PIX&remark=12345678909&key=34797ffec7814a",
			sign: "45e5b727d9f90c2e6c71dc6e111312cd",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StringToSign(tc.params, key); got != tc.str {
				t.Fatalf("string to sign\n got %s\nwant %s", got, tc.str)
			}
			if got := Sign(tc.params, key); got != tc.sign {
				t.Fatalf("sign = %s, want %s", got, tc.sign)
			}
			withSign := map[string]string{}
			for k, v := range tc.params {
				withSign[k] = v
			}
			withSign[SignField] = tc.sign
			if !Verify(withSign, key) {
				t.Fatal("Verify refused the vector")
			}
			withSign[SignField] = "E2436F09D975A316827A18E3D2CCE91B"
			if tc.sign == "e2436f09d975a316827a18e3d2cce91b" && !Verify(withSign, key) {
				t.Fatal("Verify must ignore hex case")
			}
			withSign[SignField] = tc.sign[:31] + "0"
			if tc.sign[31] != '0' && Verify(withSign, key) {
				t.Fatal("Verify accepted a wrong signature")
			}
			delete(withSign, SignField)
			if Verify(withSign, key) {
				t.Fatal("Verify accepted a missing signature")
			}
		})
	}
}

// The callback vector read from the document's JSON example: ParseJSONParams
// must produce the texts the signature covers, never a float rendering.
func TestParseJSONParamsSignsJSONText(t *testing.T) {
	body := []byte(`{
"platOrderId": "236130395249311744",
"orderId": "e8a581fa692342ccbaf9cbd6f2598e48",
"amount": 1000,
"status": 2,
"reverse": false,
"remark": "no",
"fee": 0,
"sign": "ec7d2b22c60056edbb4576ef5ecdbce4"
}`)
	p, err := ParseJSONParams(body)
	if err != nil {
		t.Fatal(err)
	}
	want := "amount=1000&fee=0&orderId=e8a581fa692342ccbaf9cbd6f2598e48&platOrderId=236130395249311744&remark=no&reverse=false&status=2&key=34797ffec7814a"
	if got := StringToSign(p, "34797ffec7814a"); got != want {
		t.Fatalf("string to sign\n got %s\nwant %s", got, want)
	}
	if got := Sign(p, "34797ffec7814a"); got != "e2436f09d975a316827a18e3d2cce91b" {
		t.Fatalf("sign = %s", got)
	}

	// Numbers keep their exact text; null is dropped like an empty value.
	p, err = ParseJSONParams([]byte(`{"amount":100.50,"fee":1e2,"big":12345678901234567890.123456789,"remark":null,"reverse":true,"s":"a\u00e7"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p["amount"] != "100.50" || p["fee"] != "1e2" || p["big"] != "12345678901234567890.123456789" || p["reverse"] != "true" || p["s"] != "aç" {
		t.Fatalf("params = %v", p)
	}
	if _, ok := p["remark"]; ok {
		t.Fatal("null remark must be dropped")
	}
	for _, bad := range []string{``, `[]`, `null`, `"x"`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"a":1}{"b":2}`, `{"a":1`, `{"a":01}`} {
		if _, err := ParseJSONParams([]byte(bad)); err == nil {
			t.Errorf("ParseJSONParams(%q) accepted", bad)
		}
	}
}

func TestParseFormParams(t *testing.T) {
	p, err := ParseFormParams([]byte("amount=100.00&customName=Jo%C3%A3o+Silva&sign=abc"))
	if err != nil || p["amount"] != "100.00" || p["customName"] != "João Silva" || p["sign"] != "abc" {
		t.Fatalf("ParseFormParams = %v, %v", p, err)
	}
	if _, err := ParseFormParams([]byte("amount=1&amount=2")); err == nil {
		t.Fatal("a repeated field must be refused")
	}
	if _, err := ParseFormParams([]byte("a=%zz")); err == nil {
		t.Fatal("a malformed escape must be refused")
	}
}
