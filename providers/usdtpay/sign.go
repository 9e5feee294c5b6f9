package usdtpay

import (
	"github.com/tallyhq/tally/providers"
)

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
