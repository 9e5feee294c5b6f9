package usdtcnpay

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// simClient speaks to the simulator by hand, to check its own answers.
type simClient struct {
	t     *testing.T
	e     *env
	token string
}

func newSimClient(t *testing.T, e *env) *simClient {
	t.Helper()
	body, _ := json.Marshal(TokenRequest{AccessKey: testAccessKey, SecretKey: testSecretKey})
	status, env := rawCall(t, e.api.URL+PathToken, http.Header{"Content-Type": {"application/json"}}, body)
	if status != http.StatusOK || codeOf(t, env) != "0" || env.Msg != "操作成功" {
		t.Fatalf("token: %d %+v", status, env)
	}
	var d TokenData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatal(err)
	}
	if string(d.ExpireTime) != "600" || d.AccessToken == "" || d.PublicKey != e.sim.PublicKey() {
		t.Fatalf("token data %+v", d)
	}
	return &simClient{t: t, e: e, token: d.AccessToken}
}

func (c *simClient) headers() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderAccessKey, testAccessKey)
	h.Set(HeaderAccessToken, c.token)
	h.Set(HeaderTimestamp, strconv.FormatInt(time.Now().UnixMilli(), 10))
	return h
}

// encrypted wraps plain JSON the way a client must.
func (c *simClient) encrypted(plain string) []byte {
	c.t.Helper()
	pub, err := ParsePublicKey(c.e.sim.PublicKey())
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := EncryptBody(pub, PaddingPKCS1, []byte(plain))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *simClient) post(path string, h http.Header, body []byte) (int, Envelope) {
	c.t.Helper()
	return rawCall(c.t, c.e.api.URL+path, h, body)
}

// The simulator's own answers to what it receives, one check at a time.
func TestSimulatorRefusals(t *testing.T) {
	e := newEnv(t)
	c := newSimClient(t, e)
	const cb = `"successUrl":"http://127.0.0.1:1/cb?result=success","failUrl":"http://127.0.0.1:1/cb?result=fail"`
	charge := func(fields string) []byte { return c.encrypted(`{` + fields + `,` + cb + `}`) }
	with := func(mut func(http.Header)) http.Header {
		h := c.headers()
		mut(h)
		return h
	}
	cases := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		code   string
		msg    string
	}{
		{"token: wrong secret", PathToken, http.Header{}, []byte(`{"accessKey":"mch-test-01","secretKey":"nope"}`), "403", "accessKey或secretKey错误"},
		{"token: unknown accessKey", PathToken, http.Header{}, []byte(`{"accessKey":"who","secretKey":"sk-test-0123456789"}`), "403", "accessKey或secretKey错误"},
		{"token: not JSON", PathToken, http.Header{}, []byte(`accessKey=mch-test-01`), "400", ""},
		{"token: key too long", PathToken, http.Header{}, []byte(`{"accessKey":"` + strings.Repeat("a", 31) + `","secretKey":"x"}`), "400", ""},
		{"no token", PathCharge, with(func(h http.Header) { h.Del(HeaderAccessToken) }), charge(`"orderNo":"R1","amount":800`), "401", "Token无效或已过期"},
		{"unknown token", PathCharge, with(func(h http.Header) { h.Set(HeaderAccessToken, "forged") }), charge(`"orderNo":"R1","amount":800`), "401", ""},
		{"token of another accessKey", PathCharge, with(func(h http.Header) { h.Set(HeaderAccessKey, "mch-other") }), charge(`"orderNo":"R1","amount":800`), "401", ""},
		{"no timestamp", PathCharge, with(func(h http.Header) { h.Del(HeaderTimestamp) }), charge(`"orderNo":"R1","amount":800`), "1002", "请求时间戳无效"},
		{"stale timestamp", PathCharge, with(func(h http.Header) {
			h.Set(HeaderTimestamp, strconv.FormatInt(time.Now().Add(-6*time.Minute).UnixMilli(), 10))
		}), charge(`"orderNo":"R1","amount":800`), "1002", ""},
		{"plain JSON body", PathCharge, c.headers(), []byte(`{"orderNo":"R1","amount":800,` + cb + `}`), "1001", "数据解密失败"},
		{"garbage ciphertext", PathCharge, c.headers(), []byte(`{"data":"AAAA"}`), "1001", ""},
		{"decrypts to non-JSON", PathCharge, c.headers(), c.encrypted(`orderNo=R1`), "400", ""},
		{"amount 150", PathCharge, c.headers(), charge(`"orderNo":"R1","amount":150`), "2001", "金额必须为100的整数倍"},
		{"amount 100.5", PathCharge, c.headers(), charge(`"orderNo":"R1","amount":100.5`), "2001", ""},
		{"amount 0", PathCharge, c.headers(), charge(`"orderNo":"R1","amount":0`), "2001", ""},
		{"amount missing", PathCharge, c.headers(), charge(`"orderNo":"R1"`), "400", ""},
		{"orderNo missing", PathCharge, c.headers(), charge(`"amount":800`), "400", ""},
		{"no failUrl", PathCharge, c.headers(), c.encrypted(`{"orderNo":"R1","amount":800,"successUrl":"http://127.0.0.1:1/cb"}`), "400", ""},
		{"withdraw category 2", PathWithdraw, c.headers(), charge(`"orderNo":"R2","amount":800,"category":2,"name":"n","account":"a"`), "400", ""},
		{"withdraw bank without channel", PathWithdraw, c.headers(), charge(`"orderNo":"R2","amount":800,"category":0,"name":"n","account":"a"`), "400", ""},
		{"withdraw without name", PathWithdraw, c.headers(), charge(`"orderNo":"R2","amount":800,"category":1,"account":"a"`), "400", ""},
		{"query without orderNo", PathGetCharge, c.headers(), c.encrypted(`{}`), "400", ""},
		{"query unknown", PathGetWithdraw, c.headers(), c.encrypted(`{"orderNo":"R9"}`), "2004", "订单不存在"},
	}
	for _, tc := range cases {
		status, env := c.post(tc.path, tc.header, tc.body)
		if status != http.StatusOK || codeOf(t, env) != tc.code || (tc.msg != "" && env.Msg != tc.msg) || !isNull(env.Data) {
			t.Errorf("%s: HTTP %d code %s msg %q data %s; want code %s", tc.name, status, env.Code, env.Msg, env.Data, tc.code)
		}
	}
	if n := len(e.sim.Engine().Orders()); n != 0 {
		t.Errorf("%d orders created by refused requests", n)
	}
	// GET is not served.
	resp, err := http.Get(e.api.URL + PathToken)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(b), `"code":405`) {
		t.Errorf("GET token: %d %s", resp.StatusCode, b)
	}
}

// What a lenient Java platform accepts: the document's example shape (amount
// as a string, failUr spelled as in the field table) and category as a string.
func TestSimulatorLenientFields(t *testing.T) {
	e := newEnv(t)
	c := newSimClient(t, e)
	status, env := c.post(PathCharge, c.headers(), c.encrypted(`{"orderNo":"L1","amount":"800","successUrl":"http://127.0.0.1:1/s","failUr":"http://127.0.0.1:1/f"}`))
	if status != http.StatusOK || codeOf(t, env) != "0" {
		t.Fatalf("document-shaped charge: %+v", env)
	}
	var d OrderData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.OrderNo != "L1" || d.ZT != "待提交" || d.ChargeNo == "" || string(d.Amount) != "800" || !strings.HasSuffix(d.PayURL, "/pay/"+string(d.ChargeNo)) {
		t.Errorf("charge data %s", env.Data)
	}
	if _, err := ParseTime(string(d.CreateTime)); err != nil || len(d.CreateTime) != len(TimeLayout) {
		t.Errorf("createTime %q", d.CreateTime)
	}
	o, _ := e.sim.Engine().FindOrder(testAccessKey, "L1")
	if o.Fields["failUrl"] != "http://127.0.0.1:1/f" {
		t.Errorf("failUr not taken: %v", o.Fields)
	}
	status, env = c.post(PathWithdraw, c.headers(), c.encrypted(`{"orderNo":"L2","amount":"300","category":"0","bankChannel":"102","name":"王五","account":"6222","successUrl":"http://127.0.0.1:1/s","failUrl":"http://127.0.0.1:1/f"}`))
	if status != http.StatusOK || codeOf(t, env) != "0" {
		t.Fatalf("withdraw with strings: %+v", env)
	}
	var wd OrderData
	_ = json.Unmarshal(env.Data, &wd)
	if wd.ZT != "审核中" || wd.PayURL != "" || string(wd.Amount) != "300" {
		t.Errorf("withdraw data %s", env.Data)
	}
	// The envelope's field order is the document's: msg, code, data.
	req, _ := http.NewRequest(http.MethodPost, e.api.URL+PathGetCharge, strings.NewReader(string(c.encrypted(`{"orderNo":"L1"}`))))
	req.Header = c.headers()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), `{"msg":"操作成功","code":0,"data":{"orderNo":"L1","chargeNo":"`) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("getcharge answer %s (%s)", b, resp.Header.Get("Content-Type"))
	}
}

// Tokens expire on the platform's clock, after the lifetime it announced.
func TestSimulatorTokenExpiry(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, withClock(clk))
	c := newSimClient(t, e)
	h := func() http.Header {
		h := c.headers()
		h.Set(HeaderTimestamp, strconv.FormatInt(clk.Now().UnixMilli(), 10))
		return h
	}
	if _, env := c.post(PathGetCharge, h(), c.encrypted(`{"orderNo":"X"}`)); codeOf(t, env) != "2004" {
		t.Fatalf("fresh token: %+v", env)
	}
	clk.Advance(599 * time.Second)
	if _, env := c.post(PathGetCharge, h(), c.encrypted(`{"orderNo":"X"}`)); codeOf(t, env) != "2004" {
		t.Fatalf("token at 599 s: %+v", env)
	}
	clk.Advance(time.Second)
	if _, env := c.post(PathGetCharge, h(), c.encrypted(`{"orderNo":"X"}`)); codeOf(t, env) != "401" {
		t.Fatalf("token at 600 s: %+v, want 401", env)
	}
}

// NewSimulator generates its own key and serves under any mount.
func TestNewSimulator(t *testing.T) {
	s := NewSimulator(sim.Config{BaseURL: "http://127.0.0.1:9000/usdtcnpay", Merchants: []sim.Merchant{{ID: "a", Secret: "b"}}, Logger: quietLogger})
	defer s.Close()
	if s.Provider() != "usdtcnpay" || s.Engine() == nil || s.Handler() == nil {
		t.Fatal("simulator accessors")
	}
	pub, err := ParsePublicKey(s.PublicKey())
	if err != nil || pub.N.BitLen() != 2048 {
		t.Fatalf("platform key: %v", err)
	}
	var p sim.Protocol = protocol{}
	if p.Ack() != "success" || len(p.Schedule()) != 6 {
		t.Fatalf("protocol ack %q schedule %v", p.Ack(), p.Schedule())
	}
}

// TestSimulatorOrderFields walks invokecharge's and submitwithdraw's field
// tables: every listed field is required (400 without it), except bankChannel
// for Alipay (category 1, "不适用"), where it may be left out.
func TestSimulatorOrderFields(t *testing.T) {
	e := newEnv(t)
	c := newSimClient(t, e)
	charge := map[string]string{
		"orderNo": `"C%d"`, "amount": `800`, "successUrl": `"http://127.0.0.1:1/s"`, "failUrl": `"http://127.0.0.1:1/f"`,
	}
	bank := map[string]string{
		"orderNo": `"W%d"`, "amount": `300`, "category": `0`, "bankChannel": `102`, "name": `"王五"`, "account": `"6222"`,
		"successUrl": `"http://127.0.0.1:1/s"`, "failUrl": `"http://127.0.0.1:1/f"`,
	}
	alipay := map[string]string{
		"orderNo": `"A%d"`, "amount": `300`, "category": `1`, "name": `"王五"`, "account": `"wang@example.com"`,
		"successUrl": `"http://127.0.0.1:1/s"`, "failUrl": `"http://127.0.0.1:1/f"`,
	}
	cases := []struct {
		name     string
		path     string
		fields   map[string]string
		optional []string // fields that may be left out
	}{
		{"invokecharge", PathCharge, charge, nil},
		{"submitwithdraw bank", PathWithdraw, bank, nil},
		{"submitwithdraw alipay", PathWithdraw, alipay, nil},
	}
	n := 0
	body := func(fields map[string]string, omit string) []byte {
		n++
		var parts []string
		for k, v := range fields {
			if k == omit {
				continue
			}
			if k == "orderNo" {
				v = fmt.Sprintf(v, n)
			}
			parts = append(parts, `"`+k+`":`+v)
		}
		return c.encrypted("{" + strings.Join(parts, ",") + "}")
	}
	for _, tc := range cases {
		if _, env := c.post(tc.path, c.headers(), body(tc.fields, "")); codeOf(t, env) != "0" {
			t.Fatalf("%s with every field: %+v", tc.name, env)
		}
		for name := range tc.fields {
			_, env := c.post(tc.path, c.headers(), body(tc.fields, name))
			if got := codeOf(t, env); got != "400" {
				t.Errorf("%s without %s: code %s %q, want 400", tc.name, name, got, env.Msg)
			}
		}
	}
	// bankChannel does not apply to Alipay: sent anyway, it is ignored.
	withChannel := maps.Clone(alipay)
	withChannel["bankChannel"] = `102`
	if _, env := c.post(PathWithdraw, c.headers(), body(withChannel, "")); codeOf(t, env) != "0" {
		t.Errorf("alipay with a bankChannel: %+v", env)
	}
	// orderNo has no documented length; a String may come as a number.
	long := maps.Clone(charge)
	long["orderNo"] = `"` + strings.Repeat("9", 64) + `%d"`
	if _, env := c.post(PathCharge, c.headers(), body(long, "")); codeOf(t, env) != "0" {
		t.Errorf("long orderNo: %+v", env)
	}
	numeric := maps.Clone(charge)
	numeric["orderNo"] = `77%d`
	if _, env := c.post(PathCharge, c.headers(), body(numeric, "")); codeOf(t, env) != "0" {
		t.Errorf("numeric orderNo: %+v", env)
	}
}

// TestSimulatorTimestampUnit: the document calls Timestamp only a Number; a
// merchant set up for seconds is read in seconds, the default in milliseconds.
func TestSimulatorTimestampUnit(t *testing.T) {
	now := time.Now()
	cases := []struct {
		unit, ts, code string
	}{
		{"", strconv.FormatInt(now.UnixMilli(), 10), "2004"},
		{"", strconv.FormatInt(now.Unix(), 10), "1002"},
		{"ms", strconv.FormatInt(now.UnixMilli(), 10), "2004"},
		{"s", strconv.FormatInt(now.Unix(), 10), "2004"},
		{"s", strconv.FormatInt(now.UnixMilli(), 10), "1002"},
		{"s", strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), "1002"},
		{"s", "", "1002"},
		// Millennia away: compared as instants, not through a saturating Duration.
		{"", "99999999999999999", "1002"},
		{"s", "99999999999999999", "1002"},
	}
	for _, tc := range cases {
		t.Run("unit="+tc.unit+"/ts="+tc.ts, func(t *testing.T) {
			var opts []envOpt
			if tc.unit != "" {
				opts = append(opts, withMerchantOption(SimOptionTimestampUnit, tc.unit))
			}
			e := newEnv(t, opts...)
			c := newSimClient(t, e)
			h := c.headers()
			h.Set(HeaderTimestamp, tc.ts)
			if _, env := c.post(PathGetCharge, h, c.encrypted(`{"orderNo":"X"}`)); codeOf(t, env) != tc.code {
				t.Fatalf("code %s %q, want %s", codeOf(t, env), env.Msg, tc.code)
			}
		})
	}
	// The adapter with timestamp_unit=s works against a merchant set up so.
	e := newEnv(t, withMerchantOption(SimOptionTimestampUnit, "s"), withAdapterOption(OptionTimestampUnit, "s"))
	e.deposit("TS-1", "800")
	if ev := e.query(providers.KindDeposit, "TS-1"); ev.OrderNo != "TS-1" {
		t.Fatalf("query = %+v", ev)
	}
}
