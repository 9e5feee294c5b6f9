package usdtpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestMapStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    providers.Status
		wantErr bool
	}{
		{"success", providers.StatusSucceeded, false},
		{"SUCCESS", "", true}, // signed exactly; only the documented value counts
		{"Success", "", true},
		{" success", "", true},
		{"", "", true},
		{"fail", "", true},
		{"1", "", true},
	}
	for _, tc := range tests {
		got, err := MapStatus(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("MapStatus(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCallbackStatus(t *testing.T) {
	tests := []struct {
		in     providers.Status
		want   string
		notify bool
	}{
		{providers.StatusSucceeded, "success", true},
		{providers.StatusPending, "", false},
		{providers.StatusProcessing, "", false},
		{providers.StatusFailed, "", false},
		{providers.StatusExpired, "", false},
		{providers.StatusReversed, "", false},
	}
	for _, tc := range tests {
		got, ok := callbackStatus(tc.in)
		if got != tc.want || ok != tc.notify {
			t.Errorf("callbackStatus(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.notify)
		}
		if ok {
			back, err := MapStatus(got)
			if err != nil || back != tc.in {
				t.Errorf("round trip of %s = %s, %v", tc.in, back, err)
			}
		}
	}
}
