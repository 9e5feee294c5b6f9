package usdtcnpay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
)

func TestNewRequiresConfig(t *testing.T) {
	base := providers.Config{BaseURL: "https://user.usdtcnpay.com", MerchantID: "ak", Secret: "sk"}
	if _, err := New(base); err != nil {
		t.Fatalf("minimal config refused: %v", err)
	}
	cases := map[string]func(*providers.Config){
		"no base URL":        func(c *providers.Config) { c.BaseURL = "" },
		"relative base URL":  func(c *providers.Config) { c.BaseURL = "/usdtcnpay" },
		"no accessKey":       func(c *providers.Config) { c.MerchantID = "" },
		"accessKey too long": func(c *providers.Config) { c.MerchantID = strings.Repeat("a", 31) },
		"no secretKey":       func(c *providers.Config) { c.Secret = "" },
		"secretKey too long": func(c *providers.Config) { c.Secret = providers.Secret(strings.Repeat("s", 31)) },
		"bad notify URL":     func(c *providers.Config) { c.NotifyURL = "callbacks/x" },
		"bad timestamp unit": func(c *providers.Config) { c.Options = map[string]string{OptionTimestampUnit: "us"} },
		"bad padding":        func(c *providers.Config) { c.Options = map[string]string{OptionRSAPadding: "none"} },
		"empty callback key": func(c *providers.Config) { c.Options = map[string]string{OptionCallbackKey: ""} },
	}
	for name, mutate := range cases {
		c := base
		mutate(&c)
		if _, err := New(c); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("%s: New = %v, want ErrInvalidRequest", name, err)
		}
	}
	long := base
	long.MerchantID, long.Secret = strings.Repeat("a", 30), providers.Secret(strings.Repeat("密", 30))
	if _, err := New(long); err != nil {
		t.Errorf("30-character keys refused: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	e := newEnv(t)
	c := e.ad.Capabilities()
	if !c.Deposit || !c.Payout || !c.QueryOrder || c.QueryBalance || c.SignedCallbacks || !c.PayPage || c.WalletAddress || c.QuotedDeposits {
		t.Errorf("capability flags %+v", c)
	}
	if strings.Join(c.DepositCurrencies, ",") != "CNY" || strings.Join(c.PayoutCurrencies, ",") != "CNY" || c.AmountDecimals != 0 || !c.AmountMultiple.Equal(dec("100")) {
		t.Errorf("currencies/amounts %+v", c)
	}
	if e.ad.Provider() != "usdtcnpay" {
		t.Errorf("Provider() = %q", e.ad.Provider())
	}
	if _, err := e.ad.QueryBalances(context.Background()); !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("QueryBalances = %v, want ErrUnsupported", err)
	}
}

// Every refusal happens before any call: the simulator sees no token request
// and no order.
func TestValidationRefusals(t *testing.T) {
	e := newEnv(t)
	noNotify, err := New(providers.Config{BaseURL: e.api.URL, MerchantID: testAccessKey, Secret: testSecretKey, HTTPClient: testClient})
	if err != nil {
		t.Fatal(err)
	}
	dep := func(mut func(*providers.DepositRequest)) providers.DepositRequest {
		r := providers.DepositRequest{OrderNo: "D1", Amount: dec("800"), Currency: "CNY"}
		mut(&r)
		return r
	}
	pay := func(mut func(*providers.PayoutRequest)) providers.PayoutRequest {
		r := bankPayout("W1", "800")
		mut(&r)
		return r
	}
	deposits := []struct {
		name string
		ad   *Adapter
		req  providers.DepositRequest
		msg  string
	}{
		{"USD", e.ad, dep(func(r *providers.DepositRequest) { r.Currency = "USD" }), `currency "USD"`},
		{"no currency", e.ad, dep(func(r *providers.DepositRequest) { r.Currency = "" }), `currency ""`},
		{"zero", e.ad, dep(func(r *providers.DepositRequest) { r.Amount = dec("0") }), "whole multiples of 100"},
		{"negative", e.ad, dep(func(r *providers.DepositRequest) { r.Amount = dec("-100") }), "whole multiples of 100"},
		{"150", e.ad, dep(func(r *providers.DepositRequest) { r.Amount = dec("150") }), "amount 150 CNY refused"},
		{"99", e.ad, dep(func(r *providers.DepositRequest) { r.Amount = dec("99") }), "amount 99 CNY refused"},
		{"100.5", e.ad, dep(func(r *providers.DepositRequest) { r.Amount = dec("100.5") }), "amount 100.5 CNY refused"},
		{"800.01", e.ad, dep(func(r *providers.DepositRequest) { r.Amount = dec("800.01") }), "amount 800.01 CNY refused"},
		{"no order no", e.ad, dep(func(r *providers.DepositRequest) { r.OrderNo = " " }), "orderNo"},
		{"method", e.ad, dep(func(r *providers.DepositRequest) { r.Method = "alipay" }), "unknown deposit method"},
		{"pay currency", e.ad, dep(func(r *providers.DepositRequest) { r.PayCurrency = "USDT" }), "pay currency"},
		{"no notify URL", noNotify, dep(func(r *providers.DepositRequest) {}), "notify URL is required"},
		{"relative notify URL", e.ad, dep(func(r *providers.DepositRequest) { r.NotifyURL = "/callbacks/x" }), "notify URL"},
	}
	for _, c := range deposits {
		err := c.ad.ValidateDeposit(c.req)
		if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("deposit %s: ValidateDeposit = %v, want ErrInvalidRequest mentioning %q", c.name, err, c.msg)
		}
		if _, err := c.ad.CreateDeposit(context.Background(), c.req); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("deposit %s: CreateDeposit = %v, want ErrInvalidRequest", c.name, err)
		}
	}
	payouts := []struct {
		name string
		req  providers.PayoutRequest
		msg  string
	}{
		{"USD", pay(func(r *providers.PayoutRequest) { r.Currency = "USD" }), `currency "USD"`},
		{"250", pay(func(r *providers.PayoutRequest) { r.Amount = dec("250") }), "amount 250 CNY refused"},
		{"no name", pay(func(r *providers.PayoutRequest) { r.Beneficiary.Name = "" }), "name"},
		{"no account", pay(func(r *providers.PayoutRequest) { r.Beneficiary.Account = "" }), "account"},
		{"no order no", pay(func(r *providers.PayoutRequest) { r.OrderNo = "" }), "orderNo"},
		{"bank without channel", pay(func(r *providers.PayoutRequest) { r.Beneficiary.BankCode = "" }), "bankChannel"},
		{"bank channel not numeric", pay(func(r *providers.PayoutRequest) { r.Beneficiary.BankCode = "ICBC" }), "bankChannel"},
		{"category 2", pay(func(r *providers.PayoutRequest) { r.Beneficiary.Category = "2" }), "unknown category"},
		{"method wire", pay(func(r *providers.PayoutRequest) { r.Method = "wire" }), "unknown payout method"},
		{"method and category disagree", pay(func(r *providers.PayoutRequest) { r.Method = MethodAlipay; r.Beneficiary.Category = "0" }), "disagree"},
	}
	for _, c := range payouts {
		err := e.ad.ValidatePayout(c.req)
		if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("payout %s: ValidatePayout = %v, want ErrInvalidRequest mentioning %q", c.name, err, c.msg)
		}
		if _, err := e.ad.CreatePayout(context.Background(), c.req); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("payout %s: CreatePayout = %v, want ErrInvalidRequest", c.name, err)
		}
	}
	queries := []providers.OrderQuery{{OrderNo: "D1"}, {Kind: providers.KindDeposit}, {Kind: providers.KindPayout, ProviderOrderID: "123"}}
	for _, q := range queries {
		if _, err := e.ad.QueryOrder(context.Background(), q); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("QueryOrder(%+v) = %v, want ErrInvalidRequest", q, err)
		}
	}
	if n := e.sim.TokensIssued(); n != 0 {
		t.Errorf("%d tokens fetched for refused requests, want 0", n)
	}
	if n := len(e.sim.Engine().Orders()); n != 0 {
		t.Errorf("%d orders created for refused requests, want 0", n)
	}
	// Valid edges: 100, and 800.00 written with decimals.
	for _, a := range []string{"100", "800.00", "1000000"} {
		if err := e.ad.ValidateDeposit(dep(func(r *providers.DepositRequest) { r.Amount = dec(a) })); err != nil {
			t.Errorf("amount %s refused: %v", a, err)
		}
	}
	alipay := pay(func(r *providers.PayoutRequest) { r.Method = MethodAlipay; r.Beneficiary.BankCode = "" })
	if err := e.ad.ValidatePayout(alipay); err != nil {
		t.Errorf("Alipay payout without bankChannel refused: %v", err)
	}
}

// wireLog records what the adapter puts on the wire for the API paths.
type wireLog struct {
	mu   sync.Mutex
	reqs []wireReq
}

type wireReq struct {
	path   string
	header http.Header
	body   []byte
}

func (l *wireLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.reqs = append(l.reqs, wireReq{path: r.URL.Path, header: r.Header.Clone(), body: body})
		l.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		next.ServeHTTP(w, r)
	})
}

func (l *wireLog) byPath(p string) []wireReq {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []wireReq
	for _, r := range l.reqs {
		if r.path == p {
			out = append(out, r)
		}
	}
	return out
}

func TestDepositRoundTrip(t *testing.T) {
	log := &wireLog{}
	e := newEnv(t, withWrap(log.wrap))
	before := time.Now()
	res := e.deposit("D-1001", "800")

	o, err := e.sim.Engine().FindOrder(testAccessKey, "D-1001")
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderOrderID != o.ID || res.Status != providers.StatusPending || res.CashierURL != e.api.URL+"/pay/"+o.ID {
		t.Errorf("create result %+v, order id %s", res, o.ID)
	}
	if !res.Amount.Valid || !res.Amount.Decimal.Equal(dec("800")) || !strings.Contains(string(res.Raw), "待提交") {
		t.Errorf("create result amount %v raw %s", res.Amount, res.Raw)
	}
	if !o.Amount.Equal(dec("800")) || o.Currency != "CNY" || o.Kind != providers.KindDeposit {
		t.Errorf("simulator order %+v", o)
	}
	wantSuccess, wantFail, _ := e.ad.CallbackURLs(e.rsrv.URL+"/callbacks/"+testAccount, providers.KindDeposit, "D-1001")
	if o.Fields["successUrl"] != wantSuccess || o.Fields["failUrl"] != wantFail {
		t.Errorf("callback URLs %q %q, want %q %q", o.Fields["successUrl"], o.Fields["failUrl"], wantSuccess, wantFail)
	}

	// On the wire: plain credentials for the token, then an encrypted body with
	// the three headers.
	tokReqs := log.byPath(PathToken)
	if len(tokReqs) != 1 || !strings.Contains(string(tokReqs[0].body), `"accessKey":"mch-test-01"`) {
		t.Fatalf("token requests %+v", tokReqs)
	}
	charge := log.byPath(PathCharge)
	if len(charge) != 1 {
		t.Fatalf("%d invokecharge requests", len(charge))
	}
	var eb EncryptedBody
	if err := json.Unmarshal(charge[0].body, &eb); err != nil || eb.Data == "" || strings.Contains(string(charge[0].body), "D-1001") {
		t.Fatalf("invokecharge body %s is not {\"data\": ciphertext}", charge[0].body)
	}
	if charge[0].header.Get("Content-Type") != "application/json" || charge[0].header.Get("AccessKey") != testAccessKey || charge[0].header.Get("AccessToken") == "" {
		t.Errorf("invokecharge headers %v", charge[0].header)
	}
	ts, err := strconv.ParseInt(charge[0].header.Get("Timestamp"), 10, 64)
	if err != nil || time.UnixMilli(ts).Before(before.Add(-time.Second)) || time.UnixMilli(ts).After(time.Now().Add(time.Second)) {
		t.Errorf("Timestamp %q is not the current Unix time in ms", charge[0].header.Get("Timestamp"))
	}
	e.sim.mu.Lock()
	plain, err := DecryptJSON(e.sim.key, PaddingPKCS1, eb.Data)
	e.sim.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	dj := json.NewDecoder(strings.NewReader(string(plain)))
	dj.UseNumber()
	if err := dj.Decode(&sent); err != nil {
		t.Fatal(err)
	}
	if sent["orderNo"] != "D-1001" || sent["amount"] != json.Number("800") || sent["successUrl"] != wantSuccess || sent["failUrl"] != wantFail || len(sent) != 4 {
		t.Errorf("decrypted invokecharge %s", plain)
	}

	ev := e.query(providers.KindDeposit, "D-1001")
	if ev.Status != providers.StatusPending || ev.ProviderStatus != "待提交" || ev.ProviderOrderID != o.ID || ev.OrderNo != "D-1001" ||
		ev.Kind != providers.KindDeposit || ev.Currency != "CNY" || !ev.Verified || ev.Provider != "usdtcnpay" {
		t.Errorf("pending query %+v", ev)
	}
	if !ev.Requested.Valid || !ev.Requested.Decimal.Equal(dec("800")) || ev.Paid.Valid || ev.Fee.Valid || ev.Credited.Valid {
		t.Errorf("pending amounts requested=%v paid=%v fee=%v credited=%v", ev.Requested, ev.Paid, ev.Fee, ev.Credited)
	}

	// The payer opens the page and uploads the screenshot: 待确认.
	page := httpGet(t, res.CashierURL)
	if !strings.Contains(page, "800") || !strings.Contains(page, "上传转账截图") || !strings.Contains(page, "待提交") {
		t.Errorf("pay page:\n%s", page)
	}
	resp, err := http.Post(res.CashierURL+"/upload", "multipart/form-data; boundary=x", strings.NewReader("--x--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	upload, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(upload), "待确认") {
		t.Errorf("upload answer %d %s", resp.StatusCode, upload)
	}
	ev = e.query(providers.KindDeposit, "D-1001")
	if ev.Status != providers.StatusProcessing || ev.ProviderStatus != "待确认" {
		t.Errorf("after upload %s %s", ev.Status, ev.ProviderStatus)
	}

	// Review passes: 已确认, one success callback, merchant credited 800 - 1%.
	e.mustControl("POST", "/orders/D-1001/pay", "")
	ev = e.query(providers.KindDeposit, "D-1001")
	if ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "已确认" || !ev.Paid.Valid || !ev.Paid.Decimal.Equal(dec("800")) {
		t.Errorf("after pay %+v", ev)
	}
	waitFor(t, "success callback", func() bool { return len(e.rcv.acked()) == 1 })
	cb := e.rcv.acked()[0]
	if cb.Status != providers.StatusSucceeded || cb.Kind != providers.KindDeposit || cb.OrderNo != "D-1001" || cb.Verified || cb.Paid.Valid || cb.Requested.Valid {
		t.Errorf("callback event %+v", cb)
	}
	if got := e.balance().Available; !got.Equal(dec("10792")) {
		t.Errorf("merchant CNY available %s, want 10792 (10000 + 800 - 8 fee)", got)
	}
	if n := e.sim.TokensIssued(); n != 1 {
		t.Errorf("%d tokens fetched, want 1 (cached)", n)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

func TestPayPageUnknownOrder(t *testing.T) {
	e := newEnv(t)
	e.payout("W-PAGE", "500")
	for _, p := range []string{"/pay/999", "/pay/W-PAGE"} {
		resp, err := http.Get(e.api.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestPayoutRoundTrip(t *testing.T) {
	log := &wireLog{}
	e := newEnv(t, withWrap(log.wrap))
	bank := e.payout("W-2001", "800")
	alipayReq := providers.PayoutRequest{OrderNo: "W-2002", Amount: dec("300"), Currency: "CNY", Method: MethodAlipay,
		Beneficiary: providers.Party{Name: "李四", Account: "lisi@example.com"}}
	alipay, err := e.ad.CreatePayout(context.Background(), alipayReq)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*providers.CreateResult{bank, alipay} {
		if r.Status != providers.StatusPending || r.ProviderOrderID == "" || r.CashierURL != "" {
			t.Errorf("create result %+v", r)
		}
	}
	ob, _ := e.sim.Engine().FindOrder(testAccessKey, "W-2001")
	oa, _ := e.sim.Engine().FindOrder(testAccessKey, "W-2002")
	if ob.Fields["category"] != "0" || ob.Fields["bankChannel"] != "102" || ob.Fields["name"] != "张三" || ob.Fields["account"] != "6222020200112233445" {
		t.Errorf("bank withdrawal fields %v", ob.Fields)
	}
	if oa.Fields["category"] != "1" || oa.Fields["bankChannel"] != "" || oa.Fields["name"] != "李四" || oa.Fields["account"] != "lisi@example.com" {
		t.Errorf("Alipay withdrawal fields %v", oa.Fields)
	}
	// The Alipay body carries no bankChannel at all.
	wd := log.byPath(PathWithdraw)
	var eb EncryptedBody
	_ = json.Unmarshal(wd[1].body, &eb)
	e.sim.mu.Lock()
	plain, _ := DecryptJSON(e.sim.key, PaddingPKCS1, eb.Data)
	e.sim.mu.Unlock()
	if strings.Contains(string(plain), "bankChannel") || !strings.Contains(string(plain), `"category":1`) || !strings.Contains(string(plain), `"amount":300`) {
		t.Errorf("Alipay submitwithdraw body %s", plain)
	}
	// 800 + 0.5% + 2 = 806 and 300 + 0.5% + 2 = 303.5 are frozen.
	if b := e.balance(); !b.Available.Equal(dec("8890.5")) || !b.Frozen.Equal(dec("1109.5")) {
		t.Errorf("balance after two withdrawals %+v, want available 8890.5 frozen 1109.5", b)
	}
	ev := e.query(providers.KindPayout, "W-2001")
	if ev.Status != providers.StatusPending || ev.ProviderStatus != "审核中" || ev.ProviderOrderID != bank.ProviderOrderID || !ev.Requested.Decimal.Equal(dec("800")) || ev.Paid.Valid || len(ev.Parts) != 0 {
		t.Errorf("pending withdrawal %+v", ev)
	}
	e.mustControl("POST", "/orders/W-2001/process", "")
	if ev := e.query(providers.KindPayout, "W-2001"); ev.Status != providers.StatusProcessing || ev.ProviderStatus != "进行中" {
		t.Errorf("processing withdrawal %s %s", ev.Status, ev.ProviderStatus)
	}
	e.mustControl("POST", "/orders/W-2001/settle", "")
	ev = e.query(providers.KindPayout, "W-2001")
	if ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "已完成" || !ev.Paid.Decimal.Equal(dec("800")) {
		t.Errorf("completed withdrawal %+v", ev)
	}
	e.mustControl("POST", "/orders/W-2002/fail", `{"reason":"收款账户异常"}`)
	ev = e.query(providers.KindPayout, "W-2002")
	if ev.Status != providers.StatusFailed || ev.ProviderStatus != "已驳回" || ev.Remark != "收款账户异常" || ev.Paid.Valid {
		t.Errorf("rejected withdrawal %+v", ev)
	}
	if b := e.balance(); !b.Available.Equal(dec("9194")) || !b.Frozen.IsZero() {
		t.Errorf("balance after settle and reject %+v, want available 9194 frozen 0", b)
	}
	waitFor(t, "two callbacks", func() bool { return len(e.rcv.acked()) == 2 })
	got := map[string]providers.Status{}
	for _, ev := range e.rcv.acked() {
		got[ev.OrderNo] = ev.Status
		if ev.Kind != providers.KindPayout || ev.Verified {
			t.Errorf("payout callback %+v", ev)
		}
	}
	if got["W-2001"] != providers.StatusSucceeded || got["W-2002"] != providers.StatusFailed {
		t.Errorf("payout callbacks %v", got)
	}
	// A charge query does not find a withdrawal and vice versa.
	if _, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "W-2001"}); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("getcharge of a withdrawal: %v, want ErrNotFound", err)
	}
}

func TestPayoutSettledInParts(t *testing.T) {
	e := newEnv(t)
	e.payout("W-3001", "800")
	e.mustControl("POST", "/orders/W-3001/settle-part", `{"amount":"300"}`)
	ev := e.query(providers.KindPayout, "W-3001")
	if ev.Status != providers.StatusProcessing || ev.ProviderStatus != "进行中" || !ev.Paid.Decimal.Equal(dec("300")) || !ev.Requested.Decimal.Equal(dec("800")) {
		t.Fatalf("after first part %+v", ev)
	}
	if len(ev.Parts) != 1 || !ev.Parts[0].Amount.Equal(dec("300")) || ev.Parts[0].Status != providers.StatusSucceeded || ev.Parts[0].ID == "" || ev.Parts[0].OccurredAt.IsZero() {
		t.Fatalf("parts after first part %+v", ev.Parts)
	}
	// Too much for what is left.
	if st, _ := e.control("POST", "/orders/W-3001/settle-part", `{"amount":"600"}`); st != http.StatusConflict {
		t.Errorf("settle-part beyond the amount: %d, want 409", st)
	}
	e.mustControl("POST", "/orders/W-3001/settle-part", `{"amount":"500"}`)
	ev = e.query(providers.KindPayout, "W-3001")
	if ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "已完成" || !ev.Paid.Decimal.Equal(dec("800")) || len(ev.Parts) != 2 || !ev.Parts[1].Amount.Equal(dec("500")) {
		t.Fatalf("after last part %+v", ev)
	}
	// One callback, for the completion only; none per part.
	waitFor(t, "completion callback", func() bool { return len(e.rcv.acked()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if d := e.deliveriesOf("W-3001"); len(d) != 1 || !d[0].Acked {
		t.Errorf("deliveries %+v, want one acked", d)
	}
	if ev := e.rcv.acked()[0]; ev.Status != providers.StatusSucceeded || ev.Parts != nil {
		t.Errorf("callback %+v", ev)
	}
	if b := e.balance(); !b.Available.Equal(dec("9194")) || !b.Frozen.IsZero() {
		t.Errorf("balance %+v", b)
	}
}

// A scripted withdrawal paid in three parts one (scaled) minute apart: the
// adapter sees 进行中 with the parts so far, then 已完成.
func TestPayoutPartsByScript(t *testing.T) {
	e := newEnv(t, withScale(200)) // a minute between parts is 300 ms
	e.mustControl("PUT", "/scripts/W-3002", `{"outcome":"succeed","parts":["200","300","500"]}`)
	e.payout("W-3002", "1000")
	var mid *providers.Event
	waitFor(t, "a partly paid withdrawal", func() bool {
		ev := e.query(providers.KindPayout, "W-3002")
		if ev.Status == providers.StatusProcessing && len(ev.Parts) >= 1 {
			mid = ev
		}
		return mid != nil || ev.Status.Final()
	})
	if mid == nil {
		t.Fatal("never observed the withdrawal in progress")
	}
	if mid.ProviderStatus != "进行中" || !mid.Parts[0].Amount.Equal(dec("200")) || !mid.Paid.Decimal.LessThan(dec("1000")) {
		t.Errorf("in progress %+v", mid)
	}
	ev := e.waitStatus(providers.KindPayout, "W-3002", providers.StatusSucceeded)
	if len(ev.Parts) != 3 || !ev.Paid.Decimal.Equal(dec("1000")) {
		t.Errorf("completed %+v", ev)
	}
	var sum = dec("0")
	for _, p := range ev.Parts {
		sum = sum.Add(p.Amount)
	}
	if !sum.Equal(dec("1000")) {
		t.Errorf("parts add up to %s", sum)
	}
}

func TestDepositOutcomes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		orderNo, control, body string
		status                 providers.Status
		zt                     string
		paid                   string // "" means not stated
		callbacks              []providers.Status
	}{
		{"D-F", "fail", `{"reason":"截图造假"}`, providers.StatusFailed, "已取消", "", []providers.Status{providers.StatusFailed}},
		{"D-E", "expire", "", providers.StatusFailed, "已取消", "", []providers.Status{providers.StatusFailed}},
		{"D-P", "pay", `{"amount":"700"}`, providers.StatusSucceeded, "已确认", "700", []providers.Status{providers.StatusSucceeded}},
	}
	for _, c := range cases {
		e.deposit(c.orderNo, "800")
		e.mustControl("POST", "/orders/"+c.orderNo+"/"+c.control, c.body)
		ev := e.query(providers.KindDeposit, c.orderNo)
		if ev.Status != c.status || ev.ProviderStatus != c.zt || !ev.Requested.Decimal.Equal(dec("800")) {
			t.Errorf("%s: %s %s requested %v", c.orderNo, ev.Status, ev.ProviderStatus, ev.Requested)
		}
		if (c.paid == "") == ev.Paid.Valid || (c.paid != "" && !ev.Paid.Decimal.Equal(dec(c.paid))) {
			t.Errorf("%s: paid %v, want %q", c.orderNo, ev.Paid, c.paid)
		}
	}
	// Reverse after success: the platform has no reversed value; the charge
	// shows 已取消 again (failed) while still stating what was received.
	e.deposit("D-R", "800")
	e.mustControl("POST", "/orders/D-R/pay", "")
	// Each callback is delivered by its own goroutine: on a loaded machine a
	// reversal sent at once can overtake the success. Reverse once the
	// success has been acknowledged, so that the order of arrival is fixed.
	waitFor(t, "the success callback", func() bool {
		for _, ev := range e.rcv.acked() {
			if ev.OrderNo == "D-R" {
				return true
			}
		}
		return false
	})
	e.mustControl("POST", "/orders/D-R/reverse", "")
	ev := e.query(providers.KindDeposit, "D-R")
	if ev.Status != providers.StatusFailed || ev.ProviderStatus != "已取消" || !ev.Paid.Decimal.Equal(dec("800")) || ev.Reversed {
		t.Errorf("reversed charge %+v", ev)
	}
	waitFor(t, "five callbacks", func() bool { return len(e.rcv.acked()) == 5 })
	byOrder := map[string][]providers.Status{}
	for _, ev := range e.rcv.acked() {
		byOrder[ev.OrderNo] = append(byOrder[ev.OrderNo], ev.Status)
	}
	for _, c := range cases {
		if len(byOrder[c.orderNo]) != 1 || byOrder[c.orderNo][0] != c.callbacks[0] {
			t.Errorf("%s callbacks %v", c.orderNo, byOrder[c.orderNo])
		}
	}
	if r := byOrder["D-R"]; len(r) != 2 || r[0] != providers.StatusSucceeded || r[1] != providers.StatusFailed {
		t.Errorf("reversed order callbacks %v, want succeeded then failed", r)
	}
	// 10000 + 700 - 7 (D-P); D-R credited 792 then taken back.
	if b := e.balance(); !b.Available.Equal(dec("10693")) {
		t.Errorf("balance %+v, want 10693", b)
	}
}

func TestPayoutExpireAndReverse(t *testing.T) {
	e := newEnv(t)
	e.payout("W-E", "500")
	e.mustControl("POST", "/orders/W-E/expire", "")
	if ev := e.query(providers.KindPayout, "W-E"); ev.Status != providers.StatusFailed || ev.ProviderStatus != "已驳回" {
		t.Errorf("expired withdrawal %s %s", ev.Status, ev.ProviderStatus)
	}
	e.payout("W-R", "500")
	e.mustControl("POST", "/orders/W-R/settle", "")
	e.mustControl("POST", "/orders/W-R/reverse", "")
	if ev := e.query(providers.KindPayout, "W-R"); ev.Status != providers.StatusFailed || ev.ProviderStatus != "已驳回" {
		t.Errorf("reversed withdrawal %s %s", ev.Status, ev.ProviderStatus)
	}
	if b := e.balance(); !b.Available.Equal(dec("10000")) || !b.Frozen.IsZero() {
		t.Errorf("balance %+v, want everything back", b)
	}
}

func TestBusinessRefusals(t *testing.T) {
	e := newEnv(t)
	e.deposit("D-DUP", "800")
	_, err := e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-DUP", Amount: dec("100"), Currency: "CNY"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrRejected) || pe.Code != "2002" || pe.Message != "商家订单号已存在" {
		t.Errorf("duplicate orderNo: %v", err)
	}
	_, err = e.ad.CreatePayout(context.Background(), bankPayout("W-BIG", "10000"))
	if pe := providerError(t, err); !errors.Is(err, providers.ErrRejected) || pe.Code != "2003" || pe.Message != "商家余额不足" {
		t.Errorf("insufficient balance: %v", err)
	}
	for _, kind := range []providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
		_, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: kind, OrderNo: "NOPE"})
		if pe := providerError(t, err); !errors.Is(err, providers.ErrNotFound) || pe.Code != "2004" {
			t.Errorf("unknown %s: %v", kind, err)
		}
	}
	// The platform id is not an order number.
	o, _ := e.sim.Engine().FindOrder(testAccessKey, "D-DUP")
	if _, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: o.ID}); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("query by chargeNo as orderNo: %v, want ErrNotFound", err)
	}
}

func TestWrongSecretIsRejected(t *testing.T) {
	e := newEnv(t)
	ad, err := New(providers.Config{BaseURL: e.api.URL, MerchantID: testAccessKey, Secret: "wrong-secret", NotifyURL: "http://127.0.0.1:1/cb", HTTPClient: testClient})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-X", Amount: dec("100"), Currency: "CNY"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrRejected) || pe.Code != "403" || pe.Op != "getAccessToken" {
		t.Errorf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error leaks the secret: %v", err)
	}
	if len(e.sim.Engine().Orders()) != 0 {
		t.Error("an order was created without a token")
	}
}
