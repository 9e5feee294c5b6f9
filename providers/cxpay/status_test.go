package cxpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestMapStatus(t *testing.T) {
	tests := []struct {
		status  string
		reverse bool
		kind    providers.OrderKind
		want    providers.Status
		known   bool
	}{
		{"0", false, "", providers.StatusPending, true},
		{"0", false, providers.KindDeposit, providers.StatusPending, true},
		{"0", false, providers.KindPayout, providers.StatusProcessing, true},
		{"1", false, "", providers.StatusSucceeded, true},
		{"1", false, providers.KindPayout, providers.StatusSucceeded, true},
		{"1", true, "", providers.StatusReversed, true},
		{"1", true, providers.KindDeposit, providers.StatusReversed, true},
		{"2", false, "", providers.StatusFailed, true},
		{"2", true, "", providers.StatusFailed, true}, // only status 1 + reverse is a reversal; Event.Reversed keeps the flag
		{"3", false, "", providers.StatusProcessing, false},
		{"", false, "", providers.StatusProcessing, false},
		{"01", false, "", providers.StatusProcessing, false},
	}
	for _, tc := range tests {
		got, known := MapStatus(tc.status, tc.reverse, tc.kind)
		if got != tc.want || known != tc.known {
			t.Errorf("MapStatus(%q, %v, %q) = %s, %v; want %s, %v", tc.status, tc.reverse, tc.kind, got, known, tc.want, tc.known)
		}
	}
}

func TestWireStatus(t *testing.T) {
	tests := map[providers.Status]string{
		providers.StatusPending:    "0",
		providers.StatusProcessing: "0",
		providers.StatusSucceeded:  "1",
		providers.StatusReversed:   "1",
		providers.StatusFailed:     "2",
		providers.StatusExpired:    "2",
	}
	for s, want := range tests {
		if got := wireStatus(s); got != want {
			t.Errorf("wireStatus(%s) = %s, want %s", s, got, want)
		}
	}
}
