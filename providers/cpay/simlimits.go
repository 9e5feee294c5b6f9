package cpay

import (
	"net"
	"sort"
	"strings"
	"unicode/utf8"
)

// urlLimits are the String(256) URL parameters of the order endpoints with
// return pages (withdraw has only the callback URL). The callback URL is read
// under both of the document's spellings (callbackURL, callBackURL), so both
// are bounded.
var urlLimits = map[string]int{"callbackURL": 256, "callBackURL": 256, "successURL": 256, "failURL": 256}

// fieldLimits are the lengths, String(N) in the document's tables, of each
// endpoint's parameters, counted in characters. The simulator refuses a longer
// value with "invalid param <name>". Left out on purpose, because the
// document contradicts them itself:
//
//   - sign: String(32) on most endpoints, but an HMAC-SHA256 is 64 hex
//     characters (the vectors' own signs);
//   - createFiatPayoutOrder's toAccount: "String (12)", shorter than the
//     email, +55 mobile ("+55000000000000", 15 characters) and random key its
//     own accountType values name;
//   - products (createOrderByCreditCard, pwpp): String(16), shorter than the
//     document's own one-product example.
//
// merchantId needs no limit: an over-long one names no merchant.
var fieldLimits = map[string]map[string]int{
	PathGetWalletAddress: {"userId": 64},
	PathWithdraw: {
		"userId": 64, "merchantTradeNo": 64, "cryptoCurrency": 16, "network": 16,
		"totalAmount": 128, "receivedAmount": 128, "toAddress": 128, "callbackURL": 256, "callBackURL": 256,
	},
	PathCreateFiatPayoutOrder: withURLs(map[string]int{
		"userId": 64, "merchantTradeNo": 64, "payoutChannel": 1, "amount": 12, "currency": 12,
		"accountType": 1, "country": 12, "remark": 256, "extInfo": 256,
	}),
	PathGetExchangeRate:              {"sourceCurrency": 16, "targetCurrency": 16, "amount": 128},
	PathGetExchangeRateForCreditCard: {"sourceCurrency": 16, "targetCurrency": 16, "amount": 128},
	PathGetOrderDetail:               {"merchantTradeNo": 64, "cpayOrderId": 64, "hash": 128},
	PathExchange: {
		"userId": 64, "merchantTradeNo": 64, "sourceCurrency": 16, "sourceAmount": 128, "targetCurrency": 16,
	},
	PathCreateOrder: withURLs(map[string]int{
		"merchantTradeNo": 64, "userId": 64, "amount": 128, "cryptoCurrency": 16,
	}),
	PathCreateOrderByCreditCard: withURLs(map[string]int{"merchantTradeNo": 64, "currency": 64, "amount": 128}),
	PathPWPP: withURLs(map[string]int{
		"merchantTradeNo": 64, "currency": 64, "amount": 128, "payChannel": 16,
		"clientHTTPAccept": 256, "clientHTTPUserAgent": 256,
	}),
}

func init() {
	fieldLimits[PathCreateFiatPayoutOrderAsDocumented] = fieldLimits[PathCreateFiatPayoutOrder]
}

func withURLs(m map[string]int) map[string]int {
	for k, v := range urlLimits {
		m[k] = v
	}
	return m
}

// overLong returns the first parameter (by name) longer than the document
// allows on path, or "".
func overLong(path string, p params) string {
	limits := fieldLimits[path]
	names := make([]string, 0, len(limits))
	for n := range limits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if utf8.RuneCountInString(p[n]) > limits[n] {
			return n
		}
	}
	return ""
}

// cardLanguages are createOrderByCreditCard's "Available values" of lanuage.
var cardLanguages = []string{"en-US", "ru-RU"}

// isIP reports whether s is an IPv4 or IPv6 address ("IPV4/V6").
func isIP(s string) bool { return net.ParseIP(s) != nil }

// isISO3166 reports whether s has the shape of an ISO 3166-1 country code:
// alpha-2 ("BR"), alpha-3 ("BRA") or numeric ("076").
func isISO3166(s string) bool {
	switch len(s) {
	case 2:
		return isUpper(s)
	case 3:
		return isUpper(s) || strings.Trim(s, "0123456789") == ""
	}
	return false
}

// isISO4217 reports whether s has the shape of an ISO 4217 currency code.
func isISO4217(s string) bool { return len(s) == 3 && isUpper(s) }

func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

// isPixMobile reports whether s is a Pix mobile key in the document's format,
// "+55+AreaCode+Number" ("+55000000000000"): +55 and the digits after it.
func isPixMobile(s string) bool {
	rest, ok := strings.CutPrefix(s, "+55")
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}
