package vpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestMapStatus(t *testing.T) {
	cases := []struct {
		in    string
		want  providers.Status
		known bool
	}{
		{"PENDING", providers.StatusPending, true},
		{"WAITING", providers.StatusPending, true},
		{"INIT", providers.StatusPending, true},
		{"PROCESSING", providers.StatusProcessing, true},
		{"CONFIRMING", providers.StatusProcessing, true},
		{"SUCCESS", providers.StatusSucceeded, true},
		{"success", providers.StatusSucceeded, true},
		{" Success ", providers.StatusSucceeded, true},
		{"PAID", providers.StatusSucceeded, true},
		{"FAIL", providers.StatusFailed, true},
		{"FAILED", providers.StatusFailed, true},
		{"CANCELLED", providers.StatusFailed, true},
		{"EXPIRED", providers.StatusExpired, true},
		{"TIMEOUT", providers.StatusExpired, true},
		{"CLOSED", providers.StatusExpired, true},
		{"REVERSED", providers.StatusReversed, true},
		{"REFUND", providers.StatusReversed, true},
		{"", providers.StatusProcessing, false},
		{"FROZEN", providers.StatusProcessing, false},
		{"1", providers.StatusProcessing, false},
	}
	for _, c := range cases {
		got, known := MapStatus(c.in)
		if got != c.want || known != c.known {
			t.Errorf("MapStatus(%q) = %s %v, want %s %v", c.in, got, known, c.want, c.known)
		}
	}
}

// TestWireStatusRoundTrip: what the simulator sends maps back to the state it
// rendered.
func TestWireStatusRoundTrip(t *testing.T) {
	for _, s := range []providers.Status{providers.StatusPending, providers.StatusProcessing, providers.StatusSucceeded,
		providers.StatusFailed, providers.StatusExpired, providers.StatusReversed} {
		got, known := MapStatus(wireStatus(s))
		if got != s || !known {
			t.Errorf("%s -> %s -> %s (%v)", s, wireStatus(s), got, known)
		}
	}
}

func TestKindOf(t *testing.T) {
	cases := []struct {
		biz, typ string
		want     providers.OrderKind
	}{
		{"PAYMENT_FIXED_DIGITAL_SCAN", "WITHDRAW", providers.KindDeposit}, // the document's example
		{"PAYMENT_FIXED_DIGITAL_SCAN", "PAYMENT", providers.KindDeposit},
		{"PAYMENT_WALLET_SCAN", "", providers.KindDeposit},
		{"PAYMENT_TRANSFER", "", providers.KindDeposit},
		{"PAYMENT_ANY_DIGITAL_SCAN", "", providers.KindDeposit},
		{"WITHDRAW_WALLET", "PAYMENT", providers.KindPayout},
		{"WITHDRAW_ANY_DIGITAL_WALLET", "", providers.KindPayout},
		{"BATCH_PAY", "", providers.KindPayout},
		{"", "PAYMENT", providers.KindDeposit},
		{"", "withdraw", providers.KindPayout},
		{"SOMETHING_NEW", "PAYMENT", providers.KindDeposit},
		{"", "", ""},
		{"SOMETHING_NEW", "OTHER", ""},
	}
	for _, c := range cases {
		if got := KindOf(c.biz, c.typ); got != c.want {
			t.Errorf("KindOf(%q, %q) = %q, want %q", c.biz, c.typ, got, c.want)
		}
	}
}
