package usdtpay

import (
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
)

// vectorKey is the MD5 key of the real callbacks in ../../shared/vectors/README.md.
const vectorKey = "762549114209675"

// realCallbacks are the two callbacks UsdtPay really sent (vectors README).
var realCallbacks = []struct {
	fields CallbackFields
	str    string
}{
	{
		CallbackFields{SignType: "MD5", OrderNo: "180322000449TW001375000001140802", OrderAmount: "1", OrderCurrency: "CNY",
			TransactionID: "20180813175128144000", Status: "success", Sign: "a9b7981d28d1d8d61b6ac69ea5939fbe"},
		"MD5180322000449TW0013750000011408021CNY20180813175128144000success762549114209675",
	},
	{
		CallbackFields{SignType: "MD5", OrderNo: "180322000449TW001375000001140941", OrderAmount: "1.00", OrderCurrency: "CNY",
			TransactionID: "5bdd59a4172c4433844396ca33096154", Status: "success", Sign: "aeefa1c6ae33e2609826f84925687704"},
		"MD5180322000449TW0013750000011409411.00CNY5bdd59a4172c4433844396ca33096154success762549114209675",
	},
}

func TestCallbackVectors(t *testing.T) {
	for _, v := range realCallbacks {
		t.Run(v.fields.OrderNo, func(t *testing.T) {
			if got := v.fields.StringToSign(vectorKey); got != v.str {
				t.Fatalf("string to sign = %q, want %q", got, v.str)
			}
			if got := v.fields.ComputeSign(vectorKey); got != v.fields.Sign {
				t.Fatalf("sign = %s, want %s", got, v.fields.Sign)
			}
			if !v.fields.Verify(vectorKey) {
				t.Fatal("vector does not verify")
			}
			upper := v.fields
			upper.Sign = strings.ToUpper(upper.Sign)
			if !upper.Verify(vectorKey) {
				t.Fatal("uppercase hex signature does not verify")
			}
			if v.fields.Verify("wrong-key") {
				t.Fatal("vector verifies under another key")
			}
		})
	}
	// "1" and "1.00" sign differently: the amount is signed exactly as received.
	a := realCallbacks[0].fields
	a.OrderAmount = "1.00"
	if a.Verify(vectorKey) {
		t.Fatal(`amount "1.00" verifies under the signature of "1"`)
	}
}

// TestPayRequestVector pins the pay-form rule on a fixed input. No published
// pay-form vector exists; the expected values were computed independently:
// printf %s "$STRING" | md5sum, and Python hashlib.md5.
func TestPayRequestVector(t *testing.T) {
	p := PayRequest{
		PickupURL:     "https://crm.example.com/deposit/done",
		ReceiveURL:    "https://tally.example.com/callbacks/usdtpay-main",
		SignType:      "MD5",
		OrderNo:       "180606174026TW001478000008",
		OrderAmount:   "100.00",
		OrderCurrency: "CNY",
		CustomerID:    "83430099",
		CrmNo:         "TW001478",
	}
	const wantStr = "https://crm.example.com/deposit/donehttps://tally.example.com/callbacks/usdtpay-mainMD5180606174026TW001478000008100.00CNY83430099123232"
	if got := p.StringToSign("123232"); got != wantStr {
		t.Fatalf("string to sign = %q, want %q", got, wantStr)
	}
	const wantSign = "38e18d8a775e8e0d11a75f04e6a4cd1d"
	if got := p.ComputeSign("123232"); got != wantSign {
		t.Fatalf("sign = %s, want %s", got, wantSign)
	}
	p.Sign = wantSign
	if !p.Verify("123232") {
		t.Fatal("pay request does not verify")
	}
	p.CrmNo = "OTHER001" // crmNo is not signed
	if !p.Verify("123232") {
		t.Fatal("crmNo must not be part of the signature")
	}
	p.OrderAmount = "100"
	if p.Verify("123232") {
		t.Fatal(`"100" verifies under the signature of "100.00"`)
	}
}

func TestPayRequestFieldsInDocumentOrder(t *testing.T) {
	p := PayRequest{PickupURL: "a", ReceiveURL: "b", SignType: "c", OrderNo: "d", OrderAmount: "e", OrderCurrency: "f", CustomerID: "g", Sign: "h", CrmNo: "i"}
	want := []providers.FormField{{Name: "pickupUrl", Value: "a"}, {Name: "receiveUrl", Value: "b"}, {Name: "signType", Value: "c"}, {Name: "orderNo", Value: "d"}, {Name: "orderAmount", Value: "e"},
		{Name: "orderCurrency", Value: "f"}, {Name: "customerId", Value: "g"}, {Name: "sign", Value: "h"}, {Name: "crmNo", Value: "i"}}
	got := p.Fields()
	if len(got) != len(want) {
		t.Fatalf("fields = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestConcatenationHasNoSeparators pins the protocol's known weakness (see the
// package doc): moving characters across a field boundary keeps the signature,
// which is why order numbers must have a fixed length and callback amounts are
// always compared with the order's.
func TestConcatenationHasNoSeparators(t *testing.T) {
	a := CallbackFields{SignType: "MD5", OrderNo: "AB1", OrderAmount: "0.50", OrderCurrency: "CNY", TransactionID: "9", Status: "success"}
	b := CallbackFields{SignType: "MD5", OrderNo: "AB", OrderAmount: "10.50", OrderCurrency: "CNY", TransactionID: "9", Status: "success"}
	if a.ComputeSign(vectorKey) != b.ComputeSign(vectorKey) {
		t.Fatal("the rule changed: shifted fields no longer sign alike; update the package doc")
	}
}
