package cxpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Documented API paths, relative to the base URL.
const (
	PathCollectCreate = "/collect/create"
	PathPayCreate     = "/pay/create"
	PathOrderQuery    = "/order/query"
	PathOrderBalance  = "/order/balance"
)

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

// envelope is CXPay's answer: {code, success, msg, desc, data}.
type envelope struct {
	code int
	Msg  *string         `json:"msg"`
	Desc *string         `json:"desc"`
	Data json.RawMessage `json:"data"`
}

// message is desc (the error message) or else msg.
func (e envelope) message() string {
	if e.Desc != nil && strings.TrimSpace(*e.Desc) != "" {
		return strings.TrimSpace(*e.Desc)
	}
	if e.Msg != nil {
		return strings.TrimSpace(*e.Msg)
	}
	return ""
}

// parseEnvelope reads an answer; the code may come as a number or a string.
func parseEnvelope(b []byte) (envelope, error) {
	var raw struct {
		Code json.RawMessage `json:"code"`
		envelope
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return envelope{}, err
	}
	text, ok, err := jsonValueText(raw.Code)
	if err != nil || !ok {
		return envelope{}, fmt.Errorf("answer without a code")
	}
	code, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil {
		return envelope{}, fmt.Errorf("code %q is not a number", text)
	}
	env := raw.envelope
	env.code = code
	return env, nil
}

// callbackBody is CXPay's notification in its documented field order. amount
// and fee are JSON numbers, status an integer and reverse a boolean.
type callbackBody struct {
	PlatOrderID string      `json:"platOrderId"`
	OrderID     string      `json:"orderId"`
	Amount      json.Number `json:"amount"`
	Status      int         `json:"status"`
	Reverse     bool        `json:"reverse"`
	Remark      string      `json:"remark"`
	Fee         json.Number `json:"fee"`
	Sign        string      `json:"sign"`
}

// Error descriptions the simulator answers with (code 400, in desc).
const (
	DescSignError         = "sign error"
	DescMerchantNotExist  = "merchant does not exist"
	DescOrderNotExist     = "order does not exist"
	DescOrderExists       = "orderId already exists"
	DescInsufficient      = "insufficient balance"
	DescPayCodeNotEnabled = "payCode is not enabled for this merchant"
	DescAmountFormat      = "amount format error"
	DescOrderIDTooLong    = "orderId length must not exceed 32"
	DescUnparsableRequest = "request parameters could not be parsed"
	descRequiredSuffix    = " is required"
)

// queryData is /order/query's data in the document's field order.
type queryData struct {
	Amount      json.Number `json:"amount"`
	OrderID     string      `json:"orderId"`
	PlatOrderID string      `json:"platOrderId"`
	Status      int         `json:"status"`
	UTR         string      `json:"utr"`
	Fee         json.Number `json:"fee"`
}
