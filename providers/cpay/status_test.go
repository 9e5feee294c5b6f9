package cpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestMapStatus(t *testing.T) {
	for _, tc := range []struct {
		code string
		want providers.Status
	}{
		{"0", providers.StatusPending},
		{"11", providers.StatusProcessing},
		{"14", providers.StatusSucceeded},
		{"15", providers.StatusFailed},
	} {
		got, err := MapStatus(tc.code)
		if err != nil || got != tc.want {
			t.Errorf("MapStatus(%q) = %q, %v; want %q", tc.code, got, err, tc.want)
		}
	}
	for _, code := range []string{"", "1", "12", "13", "16", "PENDING", " 14", "014"} {
		if got, err := MapStatus(code); err == nil {
			t.Errorf("MapStatus(%q) = %q, want an error", code, got)
		}
	}
}

func TestStatusCode(t *testing.T) {
	for _, tc := range []struct {
		st   providers.Status
		want string
	}{
		{providers.StatusPending, "0"},
		{providers.StatusProcessing, "11"},
		{providers.StatusSucceeded, "14"},
		{providers.StatusFailed, "15"},
		{providers.StatusExpired, "15"},
		{providers.StatusReversed, "15"},
	} {
		if got := StatusCode(tc.st); got != tc.want {
			t.Errorf("StatusCode(%s) = %q, want %q", tc.st, got, tc.want)
		}
		// What the simulator reports maps back to a status of the same finality.
		back, err := MapStatus(StatusCode(tc.st))
		if err != nil || back.Final() != tc.st.Final() {
			t.Errorf("round trip of %s = %s, %v", tc.st, back, err)
		}
	}
}
