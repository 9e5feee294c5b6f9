package vpay

import (
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
