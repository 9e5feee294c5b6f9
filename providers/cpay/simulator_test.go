package cpay

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// simCall posts (or gets) signed params and returns C-Pay's code and msg.
func simCall(h *harness, method, path string, p map[string]string) (code, msg string) {
	h.t.Helper()
	q := map[string]string{"merchantId": testMerchant}
	for k, v := range p {
		q[k] = v
	}
	_, env := h.raw(method, path, q, testSecret)
	return fmt.Sprint(env["code"]), fmt.Sprint(env["msg"])
}

// TestSimulatorFieldLengths walks the document's String(N) columns endpoint by
// endpoint: a value one character longer than N is refused as "invalid param
// <name>", one of exactly N characters (counted in characters, not bytes)
// passes the length check. The columns the document contradicts (sign,
// toAccount, products) are not enforced: see fieldLimits.
func TestSimulatorFieldLengths(t *testing.T) {
	h := newHarness(t)
	if _, err := h.a.SubmitKYC(context.Background(), []KYCRecord{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	no := func() string { n++; return fmt.Sprintf("L%d", n) }
	const ct = "1663674686509"
	bases := map[string]func() map[string]string{
		PathGetWalletAddress: func() map[string]string { return map[string]string{"userId": "u1"} },
		PathWithdraw: func() map[string]string {
			return map[string]string{"userId": "u1", "merchantTradeNo": no(), "createTime": ct, "cryptoCurrency": "USDT",
				"network": NetworkTRON, "totalAmount": "1", "receivedAmount": "1", "toAddress": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}
		},
		PathCreateFiatPayoutOrder: func() map[string]string {
			return map[string]string{"userId": "u1", "merchantTradeNo": no(), "payoutChannel": "2", "amount": "5", "currency": "BRL",
				"accountType": "1", "toAccount": "0001-123456", "country": "BRA", "createTime": ct}
		},
		PathGetExchangeRate: func() map[string]string {
			return map[string]string{"sourceCurrency": "USDT", "targetCurrency": "BTC", "purchaseType": "0", "amount": "1"}
		},
		PathGetExchangeRateForCreditCard: func() map[string]string {
			return map[string]string{"sourceCurrency": "USD", "targetCurrency": "ETH", "purchaseType": "0", "amount": "1"}
		},
		PathGetOrderDetail: func() map[string]string { return map[string]string{"merchantTradeNo": "none"} },
		PathExchange: func() map[string]string {
			return map[string]string{"userId": "u1", "merchantTradeNo": no(), "createTime": ct, "sourceCurrency": "USDT",
				"sourceAmount": "1", "targetCurrency": "BTC"}
		},
		PathCreateOrder: func() map[string]string {
			return map[string]string{"merchantTradeNo": no(), "createTime": ct, "userId": "u1", "amount": "1", "cryptoCurrency": "USDT"}
		},
		PathCreateOrderByCreditCard: func() map[string]string {
			return map[string]string{"merchantTradeNo": no(), "userId": "u1", "currency": "USD", "amount": "10",
				"products": `[{"name":"x","price":"10.00","num":"1","currency":"USD"}]`, "country": "US", "email": "a@example.com",
				"ip": "203.0.113.5", "createTime": ct}
		},
		PathPWPP: func() map[string]string {
			p, err := h.a.pwppParams(cardPayment(no(), "u1"))
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
	methods := map[string]string{
		PathGetWalletAddress: http.MethodGet, PathGetExchangeRate: http.MethodGet,
		PathGetExchangeRateForCreditCard: http.MethodGet, PathGetOrderDetail: http.MethodGet,
	}
	// fill is a value of n characters for field; content-checked fields
	// (currencies, networks, amounts, codes) are only tested one beyond.
	fill := func(field string, n int) string {
		switch {
		case strings.HasSuffix(field, "URL"):
			return "https://shop.example.com/" + strings.Repeat("a", n-len("https://shop.example.com/"))
		case field == "userId":
			return strings.Repeat("用", n) // characters, not bytes
		}
		return strings.Repeat("1", n)
	}
	contentChecked := map[string]bool{
		"cryptoCurrency": true, "network": true, "totalAmount": true, "receivedAmount": true, "payoutChannel": true,
		"amount": true, "currency": true, "accountType": true, "sourceCurrency": true, "targetCurrency": true,
		"sourceAmount": true,
	}
	for _, path := range []string{PathGetWalletAddress, PathWithdraw, PathCreateFiatPayoutOrder, PathGetExchangeRate,
		PathGetExchangeRateForCreditCard, PathGetOrderDetail, PathExchange, PathCreateOrder, PathCreateOrderByCreditCard, PathPWPP} {
		method := methods[path]
		if method == "" {
			method = http.MethodPost
		}
		for field, limit := range fieldLimits[path] {
			t.Run(path+"/"+field, func(t *testing.T) {
				p := bases[path]()
				p[field] = fill(field, limit+1)
				if code, msg := simCall(h, method, path, p); code != "1" || msg != "invalid param "+field {
					t.Fatalf("%d characters: code %s %q, want invalid param %s", limit+1, code, msg, field)
				}
				if contentChecked[field] {
					return
				}
				p = bases[path]()
				p[field] = fill(field, limit)
				if _, msg := simCall(h, method, path, p); msg == "invalid param "+field {
					t.Fatalf("%d characters refused: %q", limit, msg)
				}
			})
		}
	}
	// The document's contradicted lengths are not enforced: a 36-character
	// Pix random key (toAccount "String (12)"), a two-product list (products
	// "String(16)").
	p := bases[PathCreateFiatPayoutOrder]()
	p["payoutChannel"], p["accountType"], p["toAccount"] = "1", "4", "123e4567-e89b-12d3-a456-426614174000"
	if code, msg := simCall(h, http.MethodPost, PathCreateFiatPayoutOrder, p); code != "0" {
		t.Fatalf("random key: %s %q", code, msg)
	}
	p = bases[PathCreateOrderByCreditCard]()
	p["products"] = `[{"name":"iphone 11","price":"5.00","num":"1","currency":"USD"},{"name":"macBook","price":"5.00","num":"1","currency":"USD"}]`
	if code, msg := simCall(h, http.MethodPost, PathCreateOrderByCreditCard, p); code != "0" {
		t.Fatalf("two products: %s %q", code, msg)
	}
}

// TestSimulatorValueRules checks the values the document prescribes beyond
// presence and length: the card order's country ("ISO3166-1"), ip
// ("IPV4/V6") and lanuage ("Available values": en-US, ru-RU); the fiat
// payout's bank card currency ("ISO"), Pix mobile key ("+55+AreaCode+Number")
// and extInfo ("in json format").
func TestSimulatorValueRules(t *testing.T) {
	h := newHarness(t)
	n := 0
	card := func(k, v string) map[string]string {
		n++
		p := map[string]string{"merchantTradeNo": fmt.Sprintf("V%d", n), "userId": "u1", "currency": "USD", "amount": "10",
			"products": `[{"name":"x","price":"10.00","num":"1","currency":"USD"}]`, "country": "US", "email": "a@example.com",
			"ip": "203.0.113.5", "createTime": "1663674686509"}
		p[k] = v
		return p
	}
	fiat := func(kv ...string) map[string]string {
		n++
		p := map[string]string{"userId": "u1", "merchantTradeNo": fmt.Sprintf("V%d", n), "payoutChannel": "1", "amount": "5",
			"currency": "BRL", "accountType": "1", "toAccount": "48643300000", "country": "BRA", "createTime": "1663674686509"}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	for _, tc := range []struct {
		name string
		path string
		p    map[string]string
		want string // "" accepted (code 0), else the refusal's msg
	}{
		{"card country alpha-2", PathCreateOrderByCreditCard, card("country", "BR"), ""},
		{"card country alpha-3", PathCreateOrderByCreditCard, card("country", "BRA"), ""},
		{"card country numeric", PathCreateOrderByCreditCard, card("country", "076"), ""},
		{"card country name", PathCreateOrderByCreditCard, card("country", "Brazil"), "invalid param country"},
		{"card country lower case", PathCreateOrderByCreditCard, card("country", "br"), "invalid param country"},
		{"card ip v4", PathCreateOrderByCreditCard, card("ip", "198.51.100.1"), ""},
		{"card ip v6", PathCreateOrderByCreditCard, card("ip", "2001:db8::1"), ""},
		{"card ip host name", PathCreateOrderByCreditCard, card("ip", "localhost"), "invalid param ip"},
		{"card ip short", PathCreateOrderByCreditCard, card("ip", "1.2.3"), "invalid param ip"},
		{"card lanuage en-US", PathCreateOrderByCreditCard, card("lanuage", "en-US"), ""},
		{"card lanuage ru-RU", PathCreateOrderByCreditCard, card("lanuage", "ru-RU"), ""},
		{"card lanuage fr-FR", PathCreateOrderByCreditCard, card("lanuage", "fr-FR"), "invalid param lanuage"},
		{"pix mobile", PathCreateFiatPayoutOrder, fiat("accountType", "3", "toAccount", "+5511999999999"), ""},
		{"pix mobile without +55", PathCreateFiatPayoutOrder, fiat("accountType", "3", "toAccount", "11999999999"), "invalid param toAccount"},
		{"pix mobile +55 only", PathCreateFiatPayoutOrder, fiat("accountType", "3", "toAccount", "+55"), "invalid param toAccount"},
		{"pix email", PathCreateFiatPayoutOrder, fiat("accountType", "2", "toAccount", "maria.souza@example.com"), ""},
		{"extInfo JSON", PathCreateFiatPayoutOrder, fiat("extInfo", `{"reason":"salary"}`), ""},
		{"extInfo not JSON", PathCreateFiatPayoutOrder, fiat("extInfo", "salary"), "invalid param extInfo"},
		// Bank card: any ISO 4217 currency; without a balance in it, C-Pay's
		// refusal is the balance, not the currency.
		{"bank card MXN", PathCreateFiatPayoutOrder, fiat("payoutChannel", "2", "currency", "MXN", "country", "MEX"), msgInsufficient},
		{"bank card BRL", PathCreateFiatPayoutOrder, fiat("payoutChannel", "2", "country", "BRA"), ""},
		{"bank card lower case", PathCreateFiatPayoutOrder, fiat("payoutChannel", "2", "currency", "mxn"), "invalid param currency"},
		{"bank card four letters", PathCreateFiatPayoutOrder, fiat("payoutChannel", "2", "currency", "MXNN"), "invalid param currency"},
		{"pix in EUR", PathCreateFiatPayoutOrder, fiat("currency", "EUR"), "invalid param currency: Pix payouts are in BRL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := simCall(h, http.MethodPost, tc.path, tc.p)
			if tc.want == "" {
				if code != "0" {
					t.Fatalf("refused: %s %q", code, msg)
				}
				return
			}
			if code != "1" || msg != tc.want {
				t.Fatalf("code %s %q, want %q", code, msg, tc.want)
			}
		})
	}
}
