package providers_test

import (
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestEqualSignature(t *testing.T) {
	const sig = "ec7d2b22c60056edbb4576ef5ecdbce4"
	tests := []struct {
		name      string
		got, want string
		equal     bool
	}{
		{"same", sig, sig, true},
		{"upper hex received", "EC7D2B22C60056EDBB4576EF5ECDBCE4", sig, true},
		{"upper hex expected", sig, "EC7D2B22C60056EDBB4576EF5ECDBCE4", true},
		{"mixed case", "Ec7D2b22c60056EDBB4576ef5ecdbce4", sig, true},
		{"empty received", "", sig, false},
		{"empty expected", sig, "", false},
		{"both empty", "", "", false},
		{"one digit off", "ec7d2b22c60056edbb4576ef5ecdbce5", sig, false},
		{"first digit off", "fc7d2b22c60056edbb4576ef5ecdbce4", sig, false},
		{"prefix", sig[:31], sig, false},
		{"longer", sig + "0", sig, false},
		{"padded", " " + sig, sig, false},
		{"trailing newline", sig + "\n", sig, false},
	}
	for _, tc := range tests {
		if got := providers.EqualSignature(tc.got, tc.want); got != tc.equal {
			t.Errorf("%s: EqualSignature(%q, %q) = %v, want %v", tc.name, tc.got, tc.want, got, tc.equal)
		}
	}
}

// EqualSignature is constant-time by construction (crypto/subtle after
// lowering both sides); a timing measurement would be flaky, so this checks
// only that a difference at any position, first byte or last, is seen.
func TestEqualSignatureEveryByteCounts(t *testing.T) {
	want := "00000000000000000000000000000000"
	for i := 0; i < len(want); i++ {
		b := []byte(want)
		b[i] = '1'
		if providers.EqualSignature(string(b), want) {
			t.Fatalf("difference at byte %d not seen", i)
		}
	}
}

func TestHashes(t *testing.T) {
	for in, want := range map[string]string{
		"":    "d41d8cd98f00b204e9800998ecf8427e",
		"abc": "900150983cd24fb0d6963f7d28e17f72",
	} {
		if got := providers.MD5Hex(in); got != want {
			t.Errorf("MD5Hex(%q) = %s, want %s", in, got, want)
		}
	}
	// RFC 4231, test case 2.
	if got, want := providers.HMACSHA256Hex("Jefe", "what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("HMACSHA256Hex = %s, want %s", got, want)
	}
}

func TestSortedPairs(t *testing.T) {
	p := map[string]string{"b": "2", "a": "1", "B": "up", "empty": "", "sign": "xyz", "c": "x&y=z"}
	tests := []struct {
		name      string
		dropEmpty bool
		skip      []string
		want      string
	}{
		// Byte order: upper case before lower case; values are not escaped.
		{"all", false, nil, "B=up&a=1&b=2&c=x&y=z&empty=&sign=xyz"},
		{"drop empty", true, nil, "B=up&a=1&b=2&c=x&y=z&sign=xyz"},
		{"skip sign", true, []string{"sign"}, "B=up&a=1&b=2&c=x&y=z"},
		{"skip several", false, []string{"sign", "B", "absent"}, "a=1&b=2&c=x&y=z&empty="},
	}
	for _, tc := range tests {
		if got := providers.SortedPairs(p, tc.dropEmpty, tc.skip...); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := providers.SortedPairs(map[string]string{"x": ""}, true); got != "" {
		t.Errorf("nothing to sign: %q", got)
	}
}
