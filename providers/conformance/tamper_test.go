package conformance

import (
	"net/url"
	"slices"
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestAlterString(t *testing.T) {
	for in, want := range map[string]string{
		"": "x", "100.00": "100.01", "9": "0", "success": "succest", "MD5": "MD6", "z": "a", "Z": "A", "张三": "张三x", "a-": "a-x",
	} {
		if got := alterString(in); got != want {
			t.Errorf("alterString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAlterValue(t *testing.T) {
	for in, want := range map[string]string{
		`"abc"`: `"abd"`, `""`: `"x"`, `100.50`: `100.51`, `0`: `1`, `1e9`: `1e0`, `true`: `false`, `false`: `true`,
		`null`: `"x"`, `[1,2]`: `[]`, `[ ]`: `["x"]`,
	} {
		if got := string(alterValue([]byte(in))); got != want {
			t.Errorf("alterValue(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestJSONBody(t *testing.T) {
	cb := &providers.Callback{Body: []byte(`{"b":"x1","a":10,"extra":{"q":1.5,"c":"CNY"},"sign":"ab"}`)}
	fs, err := JSONBody("sign")(cb)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, f := range fs {
		got[f.What] = string(f.Callback.Body)
		order = append(order, f.What)
	}
	want := map[string]string{
		"b altered":       `{"b":"x2","a":10,"extra":{"q":1.5,"c":"CNY"},"sign":"ab"}`,
		"a altered":       `{"b":"x1","a":11,"extra":{"q":1.5,"c":"CNY"},"sign":"ab"}`,
		"extra.q altered": `{"b":"x1","a":10,"extra":{"q":1.6,"c":"CNY"},"sign":"ab"}`,
		"extra.c altered": `{"b":"x1","a":10,"extra":{"q":1.5,"c":"CNZ"},"sign":"ab"}`,
		"sign altered":    `{"b":"x1","a":10,"extra":{"q":1.5,"c":"CNY"},"sign":"ac"}`,
		"sign removed":    `{"b":"x1","a":10,"extra":{"q":1.5,"c":"CNY"}}`,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
	if wantOrder := []string{"b altered", "a altered", "extra.q altered", "extra.c altered", "sign altered", "sign removed"}; !slices.Equal(order, wantOrder) {
		t.Errorf("forgeries %v, want %v", order, wantOrder)
	}
	if string(cb.Body) != `{"b":"x1","a":10,"extra":{"q":1.5,"c":"CNY"},"sign":"ab"}` {
		t.Errorf("the genuine body changed: %s", cb.Body)
	}
	if _, err := JSONBody("sig")(cb); err == nil {
		t.Errorf("a body without the signature member: no error")
	}
}

func TestFormBody(t *testing.T) {
	cb := &providers.Callback{Body: []byte("orderNo=A1&orderAmount=1.00&sign=ff"), Query: url.Values{"amount": {"7"}}}
	fs, err := FormBody("sign")(cb)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.What+" "+string(f.Callback.Body)+" "+f.Callback.Query.Encode())
	}
	want := []string{
		"orderNo altered orderNo=A2&orderAmount=1.00&sign=ff amount=7",
		"orderAmount altered orderNo=A1&orderAmount=1.01&sign=ff amount=7",
		"sign altered orderNo=A1&orderAmount=1.00&sign=fg amount=7",
		"sign removed orderNo=A1&orderAmount=1.00 amount=7",
	}
	if !slices.Equal(got, want) {
		t.Errorf("forgeries\n%q\nwant\n%q", got, want)
	}
}

func TestQueryParams(t *testing.T) {
	cb := &providers.Callback{Query: url.Values{"result": {"success"}, "orderNo": {"A1"}, "sig": {"ab"}, "other": {"1"}}}
	fs, err := QueryParams("sig", "result", "orderNo")(cb)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.What+" "+f.Callback.Query.Encode())
	}
	want := []string{
		"result altered orderNo=A1&other=1&result=succest&sig=ab",
		"orderNo altered orderNo=A2&other=1&result=success&sig=ab",
		"sig altered orderNo=A1&other=1&result=success&sig=ac",
		"sig removed orderNo=A1&other=1&result=success",
	}
	if !slices.Equal(got, want) {
		t.Errorf("forgeries\n%q\nwant\n%q", got, want)
	}
}
