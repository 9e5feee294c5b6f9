package cxpay

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// post sends a raw request to the simulator and decodes CXPay's envelope.
func post(t *testing.T, e *testEnv, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+"/cxpay"+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: HTTP %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var env map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("%s: not an envelope: %s", path, b)
	}
	for _, k := range []string{"code", "success", "msg", "desc", "data"} {
		if _, ok := env[k]; !ok {
			t.Fatalf("%s: envelope without %s: %s", path, k, b)
		}
	}
	return int(mustInt(t, env["code"])), env
}

func mustInt(t *testing.T, v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%#v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func signedForm(params map[string]string, key string) string {
	v := url.Values{}
	for k, s := range params {
		v.Set(k, s)
	}
	v.Set(SignField, Sign(params, key))
	return v.Encode()
}

func TestSimulatorAcceptsFormAndJSON(t *testing.T) {
	e := newEnv(t)
	deposit := map[string]string{
		"merchant": testMerchant, "payCode": "PIX", "amount": "12.34", "orderId": "FORM1", "notifyUrl": "http://127.0.0.1:1/cb",
		"remark": "12345678909", "customName": "Joao", "number": "5511", "email": "j@example.com",
	}
	code, env := post(t, e, PathCollectCreate, "application/x-www-form-urlencoded", signedForm(deposit, testKey))
	if code != 200 || env["success"] != true || env["msg"] != "success" {
		t.Fatalf("form collect: %v", env)
	}
	data := env["data"].(map[string]any)
	if data["url"] != e.srv.URL+"/cxpay/pay/"+e.order("FORM1").ID {
		t.Fatalf("url = %v", data["url"])
	}
	// A form without a Content-Type is read as a form too.
	q := signedForm(map[string]string{"merchant": testMerchant, "orderId": "FORM1"}, testKey)
	if code, env = post(t, e, PathOrderQuery, "", q); code != 200 {
		t.Fatalf("form query: %v", env)
	}
	d := env["data"].(map[string]any)
	if d["orderId"] != "FORM1" || d["amount"] != json.Number("12.34") || d["status"] != json.Number("0") || d["fee"] != json.Number("0") || d["utr"] != "" {
		t.Fatalf("query data = %v", d)
	}

	// JSON whose amount is a number: signed as its JSON text "20.00".
	params := map[string]string{"merchant": testMerchant, "payCode": "PIX", "amount": "20.00", "orderId": "JSON1", "notifyUrl": "http://127.0.0.1:1/cb",
		"remark": "1", "customName": "J", "number": "1", "email": "j@x"}
	body := `{"merchant":"` + testMerchant + `","payCode":"PIX","amount":20.00,"orderId":"JSON1","notifyUrl":"http://127.0.0.1:1/cb","remark":"1","customName":"J","number":"1","email":"j@x","callbackUrl":null,"sign":"` + Sign(params, testKey) + `"}`
	if code, env = post(t, e, PathCollectCreate, "application/json", body); code != 200 {
		t.Fatalf("JSON with a number amount: %v", env)
	}
	if !e.order("JSON1").Amount.Equal(dec("20")) {
		t.Fatalf("amount = %s", e.order("JSON1").Amount)
	}
	// The same body signed over "20" does not verify.
	params["amount"] = "20"
	bad := strings.Replace(body, Sign(map[string]string{"merchant": testMerchant, "payCode": "PIX", "amount": "20.00", "orderId": "JSON1", "notifyUrl": "http://127.0.0.1:1/cb",
		"remark": "1", "customName": "J", "number": "1", "email": "j@x"}, testKey), Sign(params, testKey), 1)
	bad = strings.Replace(bad, "JSON1", "JSON2", 1)
	if code, env = post(t, e, PathCollectCreate, "application/json", bad); code != 400 || env["desc"] != DescSignError || env["success"] != false {
		t.Fatalf("re-signed text: %v", env)
	}

	// Balance answers numbers.
	if code, env = post(t, e, PathOrderBalance, "application/json", `{"merchant":"`+testMerchant+`","sign":"`+Sign(map[string]string{"merchant": testMerchant}, testKey)+`"}`); code != 200 {
		t.Fatalf("balance: %v", env)
	}
	if b := env["data"].(map[string]any); b["balanceAll"] != json.Number("1000") || b["balanceUsable"] != json.Number("1000") {
		t.Fatalf("balance data = %v", b)
	}
}

func TestSimulatorRefusals(t *testing.T) {
	e := newEnv(t)
	good := map[string]string{
		"merchant": testMerchant, "payCode": "PIX", "amount": "10.00", "orderId": "R1", "notifyUrl": "http://127.0.0.1:1/cb",
		"remark": "1", "customName": "J", "number": "1", "email": "j@x",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name, path, body, desc string
	}{
		{"unparsable JSON", PathCollectCreate, `{"merchant":`, DescUnparsableRequest},
		{"no merchant", PathCollectCreate, signedForm(with("merchant", ""), testKey), "merchant is required"},
		{"unknown merchant", PathCollectCreate, signedForm(with("merchant", "M0"), testKey), DescMerchantNotExist},
		{"bad sign", PathCollectCreate, signedForm(good, "wrong"), DescSignError},
		{"no sign", PathCollectCreate, strings.Replace(signedForm(good, testKey), "sign=", "x=", 1), DescSignError},
		{"no amount", PathCollectCreate, signedForm(with("amount", ""), testKey), "amount is required"},
		{"brazil no CPF", PathCollectCreate, signedForm(with("remark", ""), testKey), "remark is required"},
		{"three decimals", PathCollectCreate, signedForm(with("amount", "1.001"), testKey), DescAmountFormat},
		{"zero", PathCollectCreate, signedForm(with("amount", "0.00"), testKey), DescAmountFormat},
		{"words", PathCollectCreate, signedForm(with("amount", "ten"), testKey), DescAmountFormat},
		{"long order no", PathCollectCreate, signedForm(with("orderId", strings.Repeat("9", 33)), testKey), DescOrderIDTooLong},
		{"pay code", PathCollectCreate, signedForm(with("payCode", "OTHER"), testKey), DescPayCodeNotEnabled},
		{"payout no account", PathPayCreate, signedForm(with("customName", "J"), testKey), "bankAccount is required"},
		{"query no order", PathOrderQuery, signedForm(map[string]string{"merchant": testMerchant}, testKey), "orderId is required"},
		{"query unknown", PathOrderQuery, signedForm(map[string]string{"merchant": testMerchant, "orderId": "NONE"}, testKey), DescOrderNotExist},
		{"balance bad sign", PathOrderBalance, signedForm(map[string]string{"merchant": testMerchant}, "wrong"), DescSignError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/x-www-form-urlencoded"
			if strings.HasPrefix(tc.body, "{") {
				ct = "application/json"
			}
			code, env := post(t, e, tc.path, ct, tc.body)
			if code != 400 || env["success"] != false || env["desc"] != tc.desc || env["data"] != nil {
				t.Fatalf("answer = %v, want code 400 desc %q", env, tc.desc)
			}
		})
	}
	if n := len(e.sim.Engine().Orders()); n != 0 {
		t.Fatalf("%d orders created by refused requests", n)
	}
	// Only POST is served.
	resp, err := http.Get(e.srv.URL + "/cxpay" + PathOrderBalance)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET balance = %d", resp.StatusCode)
	}
	resp, err = http.Post(e.srv.URL+"/cxpay"+PathOrderBalance, "text/xml", strings.NewReader("<x/>"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), DescUnparsableRequest) {
		t.Fatalf("xml body answered %s", b)
	}
}

// TestProtocolRendersCallbacks checks the exact bytes CXPay posts for each
// state it notifies, and that it posts nothing for the others.
func TestProtocolRendersCallbacks(t *testing.T) {
	m := &sim.Merchant{ID: testMerchant, Secret: testKey}
	base := sim.Order{ID: "236130395249311744", MerchantID: testMerchant, OrderNo: "e8a581fa692342ccbaf9cbd6f2598e48", Kind: providers.KindDeposit,
		Amount: dec("1000.00"), Currency: "BRL", NotifyURL: "https://tally.example/callbacks/cxpay"}
	tests := []struct {
		name   string
		mutate func(*sim.Order)
		want   string // body without sign
	}{
		{"paid", func(o *sim.Order) { o.Status, o.Paid, o.Fee = providers.StatusSucceeded, dec("1000.00"), dec("10.00") },
			`{"platOrderId":"236130395249311744","orderId":"e8a581fa692342ccbaf9cbd6f2598e48","amount":1000,"status":1,"reverse":false,"remark":"","fee":10`},
		{"paid different", func(o *sim.Order) { o.Status, o.Paid, o.Fee = providers.StatusSucceeded, dec("990.50"), dec("9.90") },
			`{"platOrderId":"236130395249311744","orderId":"e8a581fa692342ccbaf9cbd6f2598e48","amount":990.5,"status":1,"reverse":false,"remark":"","fee":9.9`},
		{"failed", func(o *sim.Order) { o.Status, o.Remark = providers.StatusFailed, "no" },
			`{"platOrderId":"236130395249311744","orderId":"e8a581fa692342ccbaf9cbd6f2598e48","amount":1000,"status":2,"reverse":false,"remark":"no","fee":0`},
		{"expired", func(o *sim.Order) { o.Status = providers.StatusExpired },
			`{"platOrderId":"236130395249311744","orderId":"e8a581fa692342ccbaf9cbd6f2598e48","amount":1000,"status":2,"reverse":false,"remark":"order expired","fee":0`},
		{"reversed", func(o *sim.Order) {
			o.Status, o.Paid, o.Fee, o.Reversed = providers.StatusReversed, dec("1000"), dec("10"), true
		}, `{"platOrderId":"236130395249311744","orderId":"e8a581fa692342ccbaf9cbd6f2598e48","amount":1000,"status":1,"reverse":true,"remark":"order reversed","fee":10`},
	}
	a := mustAdapter(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mutate(&o)
			out, err := protocol{}.Callback(m, &o, false)
			if err != nil || out == nil {
				t.Fatalf("Callback = %v, %v", out, err)
			}
			if out.Method != http.MethodPost || out.ContentType != "application/json" || out.URL != base.NotifyURL {
				t.Fatalf("outbound %s %s %s", out.Method, out.ContentType, out.URL)
			}
			if !strings.HasPrefix(string(out.Body), tc.want+`,"sign":"`) || !strings.HasSuffix(string(out.Body), `"}`) {
				t.Fatalf("body\n got %s\nwant %s,\"sign\":...}", out.Body, tc.want)
			}
			p, err := ParseJSONParams(out.Body)
			if err != nil || !Verify(p, testKey) || len(p[SignField]) != 32 {
				t.Fatalf("rendered callback does not verify: %v", err)
			}
			if _, err := a.ParseCallback(callback(out.Body)); err != nil {
				t.Fatalf("adapter refuses the rendered callback: %v", err)
			}
			forged, err := protocol{}.Callback(m, &o, true)
			if err != nil || string(forged.Body) == string(out.Body) {
				t.Fatalf("forged = %s, %v", forged.Body, err)
			}
			fp, _ := ParseJSONParams(forged.Body)
			if fp[SignField] != p[SignField] || fp["amount"] == p["amount"] {
				t.Fatalf("forged copy must alter the amount under the genuine sign: %s", forged.Body)
			}
			if _, err := a.ParseCallback(callback(forged.Body)); providers.KindOf(err) != providers.ErrBadSignature {
				t.Fatalf("forged callback: %v", err)
			}
		})
	}
	for _, s := range []providers.Status{providers.StatusPending, providers.StatusProcessing} {
		o := base
		o.Status = s
		if out, err := (protocol{}).Callback(m, &o, false); out != nil || err != nil {
			t.Fatalf("%s rendered %v, %v", s, out, err)
		}
	}
	o := base
	o.Status, o.NotifyURL = providers.StatusFailed, ""
	if out, _ := (protocol{}).Callback(m, &o, false); out != nil {
		t.Fatal("a callback without notify URL")
	}
	if (protocol{}).Ack() != "success" || len((protocol{}).Schedule()) != 7 {
		t.Fatal("ack or schedule")
	}
}

func TestUTR(t *testing.T) {
	for id, want := range map[string]string{"236130395249311744": "395249311744", "42": "000000000042", "ab-123456789012345": "456789012345"} {
		if got := utrFor(id); got != want {
			t.Errorf("utrFor(%s) = %s, want %s", id, got, want)
		}
	}
}

func TestSimulatorIdentity(t *testing.T) {
	s := NewSimulator(sim.Config{BaseURL: "http://127.0.0.1:9000/cxpay/", Logger: quiet})
	defer s.Close()
	if s.Provider() != "cxpay" || s.Engine().Provider() != "cxpay" || s.Handler() == nil || s.base != "http://127.0.0.1:9000/cxpay" {
		t.Fatal("identity")
	}
}

// TestSimulatorRequiredFieldsPerCountry walks the create endpoints' fields as
// the document lists them: for each account currency, leaving out a field the
// document requires (always, or for that country) is refused with "<field> is
// required", and leaving out one it marks optional is accepted. The lists are
// written from the document, not from wire.go, so that they check it.
func TestSimulatorRequiredFieldsPerCountry(t *testing.T) {
	currencies := []string{"BRL", "INR", "IDR", "NGN", "MXN"}
	var merchants []sim.Merchant
	for _, c := range currencies {
		merchants = append(merchants, sim.Merchant{
			ID: "M-" + c, Secret: testKey, Options: map[string]string{SimOptionCurrency: c},
			Balances: map[string]*sim.Balance{c: {Available: dec("1000000")}},
		})
	}
	s := NewSimulator(sim.Config{BaseURL: "http://sim.test", Merchants: merchants, Scale: testScale, Seed: 1, Logger: quiet})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	// Every field but merchant and sign, per endpoint.
	collectFields := map[string]string{
		"payCode": "P1", "amount": "100", "notifyUrl": "http://127.0.0.1:1/cb", "callbackUrl": "http://127.0.0.1:1/ret",
		"remark": "12345678909", "customName": "Joao", "number": "5511987654321", "email": "j@example.com",
	}
	payFields := map[string]string{
		"payCode": "P1", "amount": "100", "notifyUrl": "http://127.0.0.1:1/cb", "bankAccount": "12345678",
		"customName": "Maria", "remark": "CODE1", "number": "919876543210", "email": "m@example.com",
	}
	// Required beyond merchant and sign, from the document: /collect/create
	// "Brazil required" remark, customName, number, email; /pay/create
	// remark for Brazil (account type), India (IFSC), Indonesia and Nigeria
	// (bank code), email "Brazil is required"; number never ("no").
	collectRequired := map[string][]string{"BRL": {"remark", "customName", "number", "email"}}
	payRequired := map[string][]string{
		"BRL": {"remark", "email"}, "INR": {"remark"}, "IDR": {"remark"}, "NGN": {"remark"},
	}
	always := map[string][]string{
		PathCollectCreate: {"payCode", "amount", "orderId", "notifyUrl"},
		PathPayCreate:     {"payCode", "amount", "orderId", "notifyUrl", "bankAccount", "customName"},
	}
	n := 0
	for _, cur := range currencies {
		for _, path := range []string{PathCollectCreate, PathPayCreate} {
			fields, extra := collectFields, collectRequired[cur]
			if path == PathPayCreate {
				fields, extra = payFields, payRequired[cur]
			}
			required := append(slices.Clone(always[path]), extra...)
			for _, omit := range append(slices.Sorted(maps.Keys(fields)), "orderId") {
				t.Run(cur+path+"/without_"+omit, func(t *testing.T) {
					n++
					p := map[string]string{"merchant": "M-" + cur, "orderId": fmt.Sprintf("RQ%d", n)}
					maps.Copy(p, fields)
					delete(p, omit)
					resp, err := http.Post(srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(signedForm(p, testKey)))
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					var env struct {
						Code int
						Desc string
					}
					if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
						t.Fatal(err)
					}
					if slices.Contains(required, omit) {
						if env.Code != 400 || env.Desc != omit+" is required" {
							t.Fatalf("without required %s: code %d desc %q, want 400 %q", omit, env.Code, env.Desc, omit+" is required")
						}
						return
					}
					if env.Code != 200 {
						t.Fatalf("without optional %s: code %d desc %q, want 200", omit, env.Code, env.Desc)
					}
				})
			}
		}
	}
}
