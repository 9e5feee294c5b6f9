package usdtpay

import "github.com/tallyhq/tally/providers"

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

// StringToSign is pickupUrl + receiveUrl + signType + orderNo + orderAmount +
// orderCurrency + customerId + key, without separators. crmNo is not signed.
func (p PayRequest) StringToSign(key string) string {
	return p.PickupURL + p.ReceiveURL + p.SignType + p.OrderNo + p.OrderAmount + p.OrderCurrency + p.CustomerID + key
}

// ComputeSign is the lowercase hex MD5 of StringToSign.
func (p PayRequest) ComputeSign(key string) string {
	return providers.MD5Hex(p.StringToSign(key))
}

// Verify reports, in constant time, whether p.Sign is the signature of p under key.
func (p PayRequest) Verify(key string) bool {
	return providers.EqualSignature(p.Sign, p.ComputeSign(key))
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

// StringToSign is signType + orderNo + orderAmount + orderCurrency +
// transactionId + status + key, without separators.
func (c CallbackFields) StringToSign(key string) string {
	return c.SignType + c.OrderNo + c.OrderAmount + c.OrderCurrency + c.TransactionID + c.Status + key
}

// ComputeSign is the lowercase hex MD5 of StringToSign.
func (c CallbackFields) ComputeSign(key string) string {
	return providers.MD5Hex(c.StringToSign(key))
}

// Verify reports, in constant time, whether c.Sign is the signature of c under key.
func (c CallbackFields) Verify(key string) bool {
	return providers.EqualSignature(c.Sign, c.ComputeSign(key))
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
