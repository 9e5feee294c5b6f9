package usdtpay

import (
	"github.com/tallyhq/tally/providers"
)

// PathPay is the payment URL's path: the pay form is posted there.
const PathPay = "/pay/toConfirmIn"

// SignTypeMD5 is the only signType UsdtPay documents (its default).
const SignTypeMD5 = "MD5"

// PayRequest is the field set of a pay request, the form the payer's browser
// posts to /pay/toConfirmIn. Values are strings exactly as they go on the wire:
// the signature covers them byte for byte ("1" and "1.00" sign differently).
type PayRequest struct {
	PickupURL     string // pickupUrl: the page the payer returns to after paying
	ReceiveURL    string // receiveUrl: where UsdtPay posts the callback
	SignType      string // signType: "MD5"
	OrderNo       string // orderNo: the merchant order number, at most 32 characters
	OrderAmount   string // orderAmount: two decimals, e.g. "100.00"
	OrderCurrency string // orderCurrency: CNY, USD or MYR
	CustomerID    string // customerId: the payer's account in the merchant's system
	Sign          string // sign: see StringToSign
	CrmNo         string // crmNo: the merchant number; not signed
}

// Fields lists the form fields in the document's order.
func (p PayRequest) Fields() []providers.FormField {
	return []providers.FormField{
		{Name: "pickupUrl", Value: p.PickupURL},
		{Name: "receiveUrl", Value: p.ReceiveURL},
		{Name: "signType", Value: p.SignType},
		{Name: "orderNo", Value: p.OrderNo},
		{Name: "orderAmount", Value: p.OrderAmount},
		{Name: "orderCurrency", Value: p.OrderCurrency},
		{Name: "customerId", Value: p.CustomerID},
		{Name: "sign", Value: p.Sign},
		{Name: "crmNo", Value: p.CrmNo},
	}
}

// CallbackFields are the signed form fields of a callback, as received.
type CallbackFields struct {
	SignType      string // signType: "MD5"
	OrderNo       string // orderNo: the merchant order number
	OrderAmount   string // orderAmount: the amount UsdtPay settled the order for
	OrderCurrency string // orderCurrency: CNY, USD or MYR
	TransactionID string // transactionId: UsdtPay's serial number
	Status        string // status: "success"
	Sign          string // sign: see StringToSign
}

// pairs lists the callback's form fields in the document's order.
func (c CallbackFields) pairs() [][2]string {
	return [][2]string{
		{"signType", c.SignType},
		{"orderNo", c.OrderNo},
		{"orderAmount", c.OrderAmount},
		{"orderCurrency", c.OrderCurrency},
		{"transactionId", c.TransactionID},
		{"status", c.Status},
		{"sign", c.Sign},
	}
}

// Error codes of the simulator's error pages (<p id="error" data-code="...">).
const (
	CodeMethodNotAllowed = "method_not_allowed"
	CodeBadRequest       = "bad_request"
	CodeUnknownMerchant  = "merchant_unknown"
	CodeSignError        = "sign_error"
	CodeParamError       = "param_error"
	CodeOrderExists      = "order_exists"
	CodeSystemError      = "system_error"
)
