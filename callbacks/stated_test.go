package callbacks_test

import (
	"strings"
	"testing"

	"github.com/tallyhq/tally/callbacks"
)

// A callback's body is shown without any credential or signature field, in
// every shape providers send, and keeps the figures.
func TestRedactBody(t *testing.T) {
	cases := []struct {
		name, body string
		keep       []string
	}{
		{"json", `{"orderNo":"T1","amount":"45.00","sign":"abc123SECRET","data":{"accessToken":"tokSECRET","fee":0.45},"apiKey":"kSECRET"}`,
			[]string{`"orderNo": "T1"`, `"amount": "45.00"`, `"fee": 0.45`}},
		{"json array", `[{"secretKey":"SECRET1","paid":"10"}]`, []string{`"paid": "10"`}},
		{"form", `orderNo=T1&amount=45.00&signature=SECRETsig&password=SECRETpw`, []string{"orderNo=T1", "amount=45.00"}},
		{"xml", `<xml><amount>45</amount><sign>SECRETx</sign></xml>`, []string{"<amount>45</amount>"}},
	}
	for _, c := range cases {
		got := callbacks.RedactBody([]byte(c.body))
		if strings.Contains(got, "SECRET") {
			t.Errorf("%s: a credential is shown: %s", c.name, got)
		}
		for _, k := range c.keep {
			if !strings.Contains(got, k) {
				t.Errorf("%s: %q lost in %s", c.name, k, got)
			}
		}
		if c.name != "xml" && (strings.Contains(strings.ToLower(got), "sign") || strings.Contains(strings.ToLower(got), "token")) {
			t.Errorf("%s: a credential field is named: %s", c.name, got)
		}
	}
}
