package console

import (
	"maps"
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 5 * time.Second: "5s", time.Hour: "1h", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m",
		time.Hour + 5*time.Second: "1h0m5s", 1500 * time.Millisecond: "1.5s", 2 * time.Minute: "2m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(shortDuration(d)); err != nil || back != d {
			t.Errorf("%q parses back as %v, %v", shortDuration(d), back, err)
		}
	}
}

func TestParsePairs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]string
		bad  bool
	}{
		{in: "", want: map[string]string{}},
		{in: "pay_code=PIX\r\n\n currency = BRL \n", want: map[string]string{"pay_code": "PIX", "currency": "BRL"}},
		{in: "a=b=c", want: map[string]string{"a": "b=c"}},
		{in: "novalue", bad: true},
		{in: "=x", bad: true},
		{in: "a=1\na=2", bad: true},
	} {
		got, err := parsePairs(c.in)
		if (err != nil) != c.bad || (!c.bad && !maps.Equal(got, c.want)) {
			t.Errorf("parsePairs(%q) = %v, %v", c.in, got, err)
		}
		if !c.bad {
			again, err := parsePairs(formatPairs(got))
			if err != nil || !maps.Equal(again, got) {
				t.Errorf("formatPairs of %v does not parse back: %v %v", got, again, err)
			}
		}
	}
}
