package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/secrets"
)

// tally currency list and add need no secret key; add refuses to change the
// scale of a currency, and what it adds is listed.
func TestCurrencyListAndAdd(t *testing.T) {
	t.Setenv(secrets.EnvKey, "")
	_, dbURL := testdb.NewWithURL(t)
	row := func(out, code, scale, kind string) bool {
		return regexp.MustCompile(`(?m)^` + code + ` +` + scale + ` +` + kind + `$`).MatchString(out)
	}
	out := mustRun(t, dbURL, "currency", "list")
	if !strings.HasPrefix(out, "CODE") {
		t.Fatalf("list has no header:\n%s", out)
	}
	for _, want := range [][3]string{{"INR", "2", "fiat"}, {"IDR", "2", "fiat"}, {"NGN", "2", "fiat"}, {"JPY", "0", "fiat"},
		{"USDT", "8", "crypto"}, {"TRX", "8", "crypto"}, {"BTC", "8", "crypto"}} {
		if !row(out, want[0], want[1], want[2]) {
			t.Errorf("list lacks %v", want)
		}
	}
	if row(out, "DOGE", "8", "crypto") {
		t.Fatal("DOGE listed before it was added")
	}

	if out := mustRun(t, dbURL, "currency", "add", "--code", "DOGE", "--scale", "8", "--kind", "crypto"); !strings.Contains(out, "DOGE: scale 8, crypto") {
		t.Errorf("add printed %q", out)
	}
	mustRun(t, dbURL, "currency", "add", "--code", "DOGE", "--scale", "8") // the same again: nothing changes
	mustRun(t, dbURL, "currency", "add", "--code", "USDT", "--scale", "8")
	if out := mustRun(t, dbURL, "currency", "list"); !row(out, "DOGE", "8", "crypto") {
		t.Errorf("list lacks DOGE after add:\n%s", out)
	}
	for _, bad := range [][]string{
		{"currency", "add", "--code", "DOGE", "--scale", "6"},
		{"currency", "add", "--code", "USDT", "--scale", "6"},
		{"currency", "add", "--code", "doge", "--scale", "8"},
		{"currency", "add", "--code", "XY", "--scale", "2"},
		{"currency", "add", "--code", "XYZ", "--scale", "19"},
		{"currency", "add", "--code", "XYZ", "--scale", "2", "--kind", "metal"},
		{"currency", "add", "--code", "XYZ"},
	} {
		if out, err := run(t, dbURL, bad...); err == nil {
			t.Errorf("tally %s: no error\n%s", strings.Join(bad, " "), out)
		}
	}
	if out := mustRun(t, dbURL, "currency", "list"); !row(out, "USDT", "8", "crypto") || strings.Contains(out, "XYZ") {
		t.Errorf("a refused add changed the list:\n%s", out)
	}
}

// tally account add refuses an account in a currency the ledger cannot book,
// saying so, and takes it once tally currency add has added the currency.
func TestAccountAddNeedsABookableCurrency(t *testing.T) {
	t.Setenv(secrets.EnvKey, secrets.GenerateKey())
	t.Setenv("CX_SECRET", "cx-secret-778899")
	_, dbURL := testdb.NewWithURL(t)
	mustRun(t, dbURL, "merchant", "create", "--code", "acme")
	add := func(name, cur string) (string, error) {
		return run(t, dbURL, "account", "add", "--merchant", "acme", "--provider", "cxpay", "--name", name,
			"--base-url", "http://127.0.0.1:9000/cxpay", "--egress-allow", "127.0.0.1:9000", "--merchant-id", "M1", "--secret-env", "CX_SECRET",
			"--option", "pay_code=UPI", "--option", "currency="+cur)
	}
	if out, err := add("cx-in", "INR"); err != nil {
		t.Fatalf("CXPay account in INR: %v\n%s", err, out)
	}
	out, err := add("cx-xyz", "XYZ")
	if err == nil || !strings.Contains(err.Error(), `currency "XYZ": the ledger cannot book it`) {
		t.Fatalf("CXPay account in XYZ: %v\n%s", err, out)
	}
	mustRun(t, dbURL, "currency", "add", "--code", "XYZ", "--scale", "2")
	if out, err := add("cx-xyz", "XYZ"); err != nil {
		t.Fatalf("CXPay account in XYZ after currency add: %v\n%s", err, out)
	}
}
