package usdtcnpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestMapStatus(t *testing.T) {
	cases := []struct {
		kind providers.OrderKind
		zt   string
		want providers.Status
	}{
		{providers.KindDeposit, "待提交", providers.StatusPending},
		{providers.KindDeposit, "待确认", providers.StatusProcessing},
		{providers.KindDeposit, "已确认", providers.StatusSucceeded},
		{providers.KindDeposit, "已取消", providers.StatusFailed},
		{providers.KindDeposit, " 已确认 ", providers.StatusSucceeded},
		{providers.KindPayout, "审核中", providers.StatusPending},
		{providers.KindPayout, "进行中", providers.StatusProcessing},
		{providers.KindPayout, "已驳回", providers.StatusFailed},
		{providers.KindPayout, "已完成", providers.StatusSucceeded},
	}
	for _, c := range cases {
		got, err := MapStatus(c.kind, c.zt)
		if err != nil || got != c.want {
			t.Errorf("MapStatus(%s, %q) = %q, %v; want %q", c.kind, c.zt, got, err, c.want)
		}
	}
}

func TestMapStatusRefusesUnknownValues(t *testing.T) {
	cases := []struct {
		kind providers.OrderKind
		zt   string
	}{
		{providers.KindDeposit, "已完成"}, // a withdraw value on a charge
		{providers.KindDeposit, "审核中"},
		{providers.KindPayout, "已确认"}, // a charge value on a withdrawal
		{providers.KindPayout, "待提交"},
		{providers.KindDeposit, ""},
		{providers.KindDeposit, "success"},
		{providers.KindPayout, "已 完成"},
		{"", "已确认"},
	}
	for _, c := range cases {
		if got, err := MapStatus(c.kind, c.zt); err == nil {
			t.Errorf("MapStatus(%s, %q) = %q, want an error", c.kind, c.zt, got)
		}
	}
}

// The simulator's zt for each engine status must map back to the status the
// adapter reports, and expired/reversed fold into the failure value.
func TestZTForRoundTrip(t *testing.T) {
	cases := []struct {
		kind providers.OrderKind
		in   providers.Status
		zt   string
		back providers.Status
	}{
		{providers.KindDeposit, providers.StatusPending, "待提交", providers.StatusPending},
		{providers.KindDeposit, providers.StatusProcessing, "待确认", providers.StatusProcessing},
		{providers.KindDeposit, providers.StatusSucceeded, "已确认", providers.StatusSucceeded},
		{providers.KindDeposit, providers.StatusFailed, "已取消", providers.StatusFailed},
		{providers.KindDeposit, providers.StatusExpired, "已取消", providers.StatusFailed},
		{providers.KindDeposit, providers.StatusReversed, "已取消", providers.StatusFailed},
		{providers.KindPayout, providers.StatusPending, "审核中", providers.StatusPending},
		{providers.KindPayout, providers.StatusProcessing, "进行中", providers.StatusProcessing},
		{providers.KindPayout, providers.StatusSucceeded, "已完成", providers.StatusSucceeded},
		{providers.KindPayout, providers.StatusFailed, "已驳回", providers.StatusFailed},
		{providers.KindPayout, providers.StatusExpired, "已驳回", providers.StatusFailed},
		{providers.KindPayout, providers.StatusReversed, "已驳回", providers.StatusFailed},
	}
	for _, c := range cases {
		zt := ztFor(c.kind, c.in)
		if zt != c.zt {
			t.Errorf("ztFor(%s, %s) = %q, want %q", c.kind, c.in, zt, c.zt)
		}
		back, err := MapStatus(c.kind, zt)
		if err != nil || back != c.back {
			t.Errorf("MapStatus(%s, %q) = %q, %v; want %q", c.kind, zt, back, err, c.back)
		}
	}
}
