package cxpay

import "strings"

// Provider is this package's provider name.
const Provider = "cxpay"

// Hosts are the API hosts cxpay.txt names: none (its only URL is
// http://localhost:8888/pay/xxx in an example answer). A merchant may set a
// CXPay base URL through the API only on a host the operator allows (tally
// serve --provider-host-allow); the operator's own tooling (tally account
// add) takes any host the egress policy allows.
var Hosts []string

// Documented API paths, relative to the base URL.
const (
	PathCollectCreate = "/collect/create"
	PathPayCreate     = "/pay/create"
	PathOrderQuery    = "/order/query"
	PathOrderBalance  = "/order/balance"
)

// Ack is the body a merchant answers a callback with: the lowercase string
// "success". Anything else makes CXPay push the notification again.
const Ack = "success"

// DefaultCurrency was the account currency when Options "currency" was not
// set (Brazil, the market the document details most). The option is now
// required; migration 00022 wrote this value into accounts stored without it,
// and the simulator still defaults its merchants to it.
const DefaultCurrency = "BRL"

// MaxOrderIDLen is the longest merchant order number CXPay accepts.
const MaxOrderIDLen = 32

// DefaultAmountDecimals is how many decimals amounts may carry unless an
// account says otherwise: the document's "supports 2 decimal places" (on
// /collect/create and /pay/create alike).
const DefaultAmountDecimals = 2

// payoutDecimals is how many decimals a payout amount may carry in currency,
// for an account whose amounts take decimals: /pay/create adds "Indonesia
// does not allow decimal points", so IDR payouts take none. Collections
// (/collect/create) have no such rule: an IDR collection takes decimals.
func payoutDecimals(currency string, decimals int32) int32 {
	if strings.EqualFold(currency, "IDR") {
		return 0
	}
	return decimals
}

// depositRequired lists the collection fields required beyond the always
// required ones, per account currency: the document marks remark (CPF/CNPJ),
// customName, number and email "Brazil required".
func depositRequired(currency string) []string {
	if strings.EqualFold(currency, "BRL") {
		return []string{"remark", "customName", "number", "email"}
	}
	return nil
}

// payoutRequired lists the payout fields required beyond the always required
// ones (bankAccount, customName), per account currency: Brazil needs the
// account type in remark and an email ("Brazil is required"), India the IFSC
// code in remark, Indonesia and Nigeria the bank code in remark. number stays
// optional everywhere: the document marks it "no" and only says what Brazil
// and India "fill in" (a mobile phone number) when it is sent.
func payoutRequired(currency string) []string {
	switch strings.ToUpper(currency) {
	case "BRL":
		return []string{"remark", "email"}
	case "INR", "IDR", "NGN":
		return []string{"remark"}
	}
	return nil
}

// Always-required request fields, in the document's order.
var (
	depositAlways = []string{"merchant", "payCode", "amount", "orderId", "notifyUrl"}
	payoutAlways  = []string{"merchant", "payCode", "amount", "orderId", "notifyUrl", "bankAccount", "customName"}
)
