package cpay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// newTamperingServer is a simulator behind a man in the middle that raises the
// card order's amount in its answer.
func newTamperingServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := NewSimulator(sim.Config{Merchants: []sim.Merchant{{ID: testMerchant, Secret: testSecret}}})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		body := strings.Replace(rec.Body.String(), `"orderAmount":"10"`, `"orderAmount":"11"`, 1)
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFaultPayDifferentAmount(t *testing.T) {
	h := newHarness(t)
	paid := dec("95.5")
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeSucceed, Amount: &paid})
	h.deposit("D1", "100")
	ev := h.waitEvents(1)[0]
	if ev.Status != providers.StatusSucceeded || ev.OrderNo != "D1" {
		t.Fatalf("callback = %+v", ev)
	}
	checkAmounts(t, "short payment", ev, "95.5", "94.545", "0.955")
	q, err := h.a.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "D1"})
	if err != nil {
		t.Fatal(err)
	}
	checkAmounts(t, "short payment query", q, "95.5", "94.545", "0.955")
	if in := h.sim.Engine().Injected(); len(in) != 1 || in[0].Kind != sim.FaultAmountMismatch {
		t.Fatalf("injected = %+v", in)
	}
}

func TestFaultFailExpireReverse(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeFail, Reason: "payment timeout"})
	h.deposit("D1", "10")
	ev := h.waitEvents(1)[0]
	if ev.OrderNo != "D1" || ev.Status != providers.StatusFailed || ev.ProviderStatus != "15" || ev.Remark != "payment timeout" {
		t.Fatalf("failed callback = %+v", ev)
	}
	checkAmounts(t, "failed", ev, "0", "0", "0")

	h.deposit("D2", "10")
	h.control(http.MethodPost, "/orders/D2/expire", nil, nil)
	ev = h.waitEvents(2)[1]
	if ev.OrderNo != "D2" || ev.Status != providers.StatusFailed || ev.Remark != "order expired" {
		t.Fatalf("expired callback = %+v", ev)
	}

	h.setScript("D3", sim.Script{Outcome: sim.OutcomeSucceed, ReverseAfter: sim.Duration{Duration: time.Minute}})
	h.deposit("D3", "10")
	// The success and the reversal are two callbacks the simulator may
	// deliver in either order (as a provider may): tell them by status.
	evs := h.waitEvents(4)
	succeeded, reversed := evs[2], evs[3]
	if succeeded.Status == providers.StatusFailed {
		succeeded, reversed = reversed, succeeded
	}
	if succeeded.Status != providers.StatusSucceeded || succeeded.OrderNo != "D3" ||
		reversed.Status != providers.StatusFailed || reversed.OrderNo != "D3" || reversed.Remark != "order reversed" {
		t.Fatalf("reversal callbacks = %+v / %+v", evs[2], evs[3])
	}
	// The reversal carries the amounts it takes back.
	checkAmounts(t, "reversal", reversed, "10", "9.9", "0.1")
	checkBalance(t, h.balance("USDT"), "1000", "0")
	q, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D3"})
	if err != nil || q.ProviderStatus != "15" {
		t.Fatalf("reversed order = %+v, %v", q, err)
	}
}

func TestFaultCallbacksDroppedDuplicatedDelayed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	// Dropped: no callback ever; the query says COMPLETED.
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeSucceed, Callbacks: sim.CallbackFaults{Drop: true}})
	h.deposit("D1", "10")
	waitFor(t, "payment", func() bool {
		q, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"})
		return err == nil && q.Status == providers.StatusSucceeded
	})

	// Duplicated: three identical callbacks, each acknowledged.
	h.setScript("D2", sim.Script{Outcome: sim.OutcomeSucceed, Callbacks: sim.CallbackFaults{Duplicate: 2}})
	h.deposit("D2", "20")
	evs := h.waitEvents(3)
	for _, ev := range evs {
		if ev.OrderNo != "D2" || string(ev.Raw) != string(evs[0].Raw) {
			t.Fatalf("duplicates differ: %s vs %s", ev.Raw, evs[0].Raw)
		}
	}
	waitFor(t, "three acks", func() bool { return countAcked(h, "D2") == 3 })

	// Delayed by 10 minutes: 30 ms at the test scale.
	h.setScript("D3", sim.Script{Outcome: sim.OutcomeSucceed, Callbacks: sim.CallbackFaults{Delay: sim.Duration{Duration: 10 * time.Minute}}})
	start := time.Now()
	h.deposit("D3", "30")
	evs = h.waitEvents(4)
	h.recv.mu.Lock()
	arrived := h.recv.at[3]
	h.recv.mu.Unlock()
	if evs[3].OrderNo != "D3" || arrived.Sub(start) < 30*time.Millisecond {
		t.Fatalf("delayed callback %s after %s", evs[3].OrderNo, arrived.Sub(start))
	}
	for _, d := range h.sim.Engine().Deliveries() {
		if d.OrderNo == "D1" {
			t.Fatalf("dropped callback delivered: %+v", d)
		}
	}
}

func TestFaultCallbacksReordered(t *testing.T) {
	h := newHarness(t)
	// COMPLETED then CLOSED (reversal) a minute later; the reversal arrives first.
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeSucceed, ReverseAfter: sim.Duration{Duration: time.Minute}, Callbacks: sim.CallbackFaults{Reorder: true}})
	h.deposit("D1", "10")
	evs := h.waitEvents(2)
	if evs[0].ProviderStatus != "15" || evs[1].ProviderStatus != "14" {
		t.Fatalf("order of arrival = %s, %s; want 15 then 14", evs[0].ProviderStatus, evs[1].ProviderStatus)
	}
}

func TestFaultBadSignatureCallback(t *testing.T) {
	h := newHarness(t)
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeSucceed, Callbacks: sim.CallbackFaults{BadSignature: true}})
	h.deposit("D1", "10")
	ev := h.waitEvents(1)[0]
	checkAmounts(t, "genuine callback", ev, "10", "9.9", "0.1")
	waitFor(t, "forged delivery", func() bool {
		for _, d := range h.sim.Engine().Deliveries() {
			if d.Forged {
				return true
			}
		}
		return false
	})
	_, errs := h.recv.snapshot()
	if len(errs) != 1 || !errors.Is(errs[0], providers.ErrBadSignature) {
		t.Fatalf("receiver errors = %v, want one bad signature", errs)
	}
	for _, d := range h.sim.Engine().Deliveries() {
		if d.Forged && (d.Acked || d.Status != http.StatusBadRequest) {
			t.Fatalf("forged delivery = %+v, want 400 and no ack", d)
		}
	}
}

func TestCallbackRetriedOnScheduleUntilOK(t *testing.T) {
	h := newHarness(t)
	h.recv.failFirst = 3 // tally cannot store the first three: 500 FAIL
	start := time.Now()
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeSucceed})
	h.deposit("D1", "10")
	h.waitEvents(1)
	waitFor(t, "ack", func() bool { return countAcked(h, "D1") == 1 })
	ds := deliveriesOf(h, "D1")
	if len(ds) != 4 {
		t.Fatalf("deliveries = %+v, want 4", ds)
	}
	for i, d := range ds {
		if d.Attempt != i+1 || d.Acked != (i == 3) || (i < 3 && d.Status != http.StatusInternalServerError) {
			t.Fatalf("delivery %d = %+v", i, d)
		}
		if i > 0 {
			want := time.Duration(float64(RetrySchedule[i-1]) / testScale)
			if gap := d.At.Sub(ds[i-1].At); gap < want {
				t.Fatalf("retry %d after %s, want >= %s", i, gap, want)
			}
		}
	}
	if el := time.Since(start); el < time.Duration(float64(RetrySchedule[0]+RetrySchedule[1]+RetrySchedule[2])/testScale) {
		t.Fatalf("four tries took only %s", el)
	}
}

func TestCallbackGivesUpAfterTenTries(t *testing.T) {
	h := newHarness(t)
	h.recv.failFirst = 1000
	h.setScript("D1", sim.Script{Outcome: sim.OutcomeSucceed})
	h.deposit("D1", "10")
	waitFor(t, "ten tries", func() bool { return len(deliveriesOf(h, "D1")) == 10 })
	time.Sleep(time.Duration(float64(RetrySchedule[len(RetrySchedule)-1])/testScale) + 100*time.Millisecond)
	ds := deliveriesOf(h, "D1")
	if len(ds) != 10 || ds[9].Attempt != 10 || ds[9].Acked {
		t.Fatalf("deliveries = %d, last %+v; want ten unacknowledged tries", len(ds), ds[len(ds)-1])
	}
	if protocol.Ack(protocol{}) != "OK" || len(protocol{}.Schedule()) != 9 {
		t.Fatal("protocol ack or schedule")
	}
}

func TestEndpointFaults(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	addFault := func(path string, mode sim.FaultMode) {
		h.control(http.MethodPost, "/faults", sim.EndpointFault{Path: path, Mode: mode, Count: 1}, nil)
	}

	// 5xx on a create is ambiguous, on a query transient.
	addFault(PathCreateOrder, sim.ModeError5xx)
	if _, err := h.a.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "D1", Amount: dec("1"), Currency: "USDT", CustomerID: "u1"}); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("create on 5xx: %v", err)
	}
	if _, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("a 5xx create made an order: %v", err)
	}
	for _, f := range []struct {
		path string
		call func() error
	}{
		{PathGetOrderDetail, func() error { _, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"}); return err }},
		{PathGetMerchantBalance, func() error { _, err := h.a.QueryBalances(ctx); return err }},
		{PathGetWalletAddress, func() error { _, err := h.a.WalletAddresses(ctx, "u1"); return err }},
		{PathGetExchangeRate, func() error {
			_, err := h.a.ExchangeRate(ctx, RateQuery{Source: "USDT", Target: "BTC", Amount: dec("1")})
			return err
		}},
	} {
		addFault(f.path, sim.ModeError5xx)
		if err := f.call(); !errors.Is(err, providers.ErrTransient) {
			t.Fatalf("%s on 5xx: %v", f.path, err)
		}
	}
	for _, f := range []struct {
		path string
		call func() error
	}{
		{PathWithdraw, func() error {
			_, err := h.a.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "W0", Amount: dec("1"), Currency: "USDT", CustomerID: "u1",
				Beneficiary: providers.Party{Network: NetworkTRON, Account: "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}})
			return err
		}},
		{PathExchange, func() error {
			_, err := h.a.Exchange(ctx, ExchangeRequest{OrderNo: "X0", UserID: "u1", Source: "USDT", SourceAmount: dec("4"), Target: "BTC"})
			return err
		}},
	} {
		addFault(f.path, sim.ModeError5xx)
		if err := f.call(); !errors.Is(err, providers.ErrAmbiguous) {
			t.Fatalf("%s on 5xx: %v", f.path, err)
		}
	}

	// A create that times out was made: ambiguous, then the query finds it.
	impatient := h.adapterWith(testMerchant, testSecret, &http.Client{Timeout: 300 * time.Millisecond})
	addFault(PathWithdraw, sim.ModeTimeout)
	_, err := impatient.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "W1", Amount: dec("10"), Currency: "USDT", CustomerID: "u1",
		Beneficiary: providers.Party{Network: NetworkTRON, Account: "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}})
	if !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("create on timeout: %v", err)
	}
	q, err := impatient.QueryOrder(ctx, providers.OrderQuery{OrderNo: "W1"})
	if err != nil || q.Status != providers.StatusProcessing || q.OrderNo != "W1" {
		t.Fatalf("query after a timed-out create = %+v, %v", q, err)
	}
	addFault(PathCreateFiatPayoutOrder, sim.ModeTimeout)
	if _, err := impatient.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "F1", Amount: dec("5"), Currency: "BRL", CustomerID: "u1",
		Beneficiary: providers.Party{AccountType: "2", Account: "a@example.com"}}); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("fiat create on timeout: %v", err)
	}
	if q, err := impatient.QueryOrder(ctx, providers.OrderQuery{OrderNo: "F1"}); err != nil || q.Status != providers.StatusProcessing {
		t.Fatalf("fiat payout after timeout = %+v, %v", q, err)
	}

	// A query that hangs is transient.
	addFault(PathGetOrderDetail, sim.ModeHang)
	if _, err := impatient.QueryOrder(ctx, providers.OrderQuery{OrderNo: "W1"}); !errors.Is(err, providers.ErrTransient) {
		t.Fatalf("query on hang: %v", err)
	}
	// Nothing reachable at all: transient even for a create.
	down := h.adapterWith(testMerchant, testSecret, nil)
	down.tr.BaseURL = "http://127.0.0.1:1"
	if _, err := down.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "D9", Amount: dec("1"), Currency: "USDT", CustomerID: "u1"}); !errors.Is(err, providers.ErrTransient) {
		t.Fatalf("create with connection refused: %v", err)
	}
}

func TestSimulatorRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	codeOf := func(err error) (string, string, error) {
		var pe *providers.Error
		if !errors.As(err, &pe) {
			t.Fatalf("not a providers.Error: %v", err)
		}
		return pe.Code, pe.Message, pe.Kind
	}
	req := providers.DepositRequest{OrderNo: "D1", Amount: dec("1"), Currency: "USDT", CustomerID: "u1"}

	// A request signed with the wrong secret gets C-Pay's error, and no order.
	code, msg, kind := codeOf(func() error { _, err := h.adapterWith(testMerchant, "wrong", nil).CreateDeposit(ctx, req); return err }())
	if code != "1" || msg != msgBadSign || kind != providers.ErrRejected {
		t.Fatalf("bad signature: %s %q %v", code, msg, kind)
	}
	if _, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("badly signed create made an order: %v", err)
	}
	code, msg, _ = codeOf(func() error { _, err := h.adapterWith("20000387", testSecret, nil).QueryBalances(ctx); return err }())
	if code != "1" || msg != msgNoMerchant {
		t.Fatalf("unknown merchant: %s %q", code, msg)
	}
	h.deposit("D1", "1")
	code, msg, kind = codeOf(func() error { _, err := h.a.CreateDeposit(ctx, req); return err }())
	if code != "1" || msg != msgDuplicate || kind != providers.ErrRejected {
		t.Fatalf("duplicate: %s %q %v", code, msg, kind)
	}
	code, msg, _ = codeOf(func() error {
		_, err := h.a.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "W1", Amount: dec("999.5"), Currency: "USDT", CustomerID: "u1",
			Beneficiary: providers.Party{Network: NetworkTRON, Account: "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}})
		return err
	}())
	if code != "1" || msg != msgInsufficient {
		t.Fatalf("insufficient balance: %s %q", code, msg)
	}
	checkBalance(t, h.balance("USDT"), "1000", "0")

	// Hand-made requests: the checks before any business rule.
	p := func() map[string]string {
		return map[string]string{"merchantId": testMerchant, "merchantTradeNo": "R1", "createTime": "1663674686509", "userId": "u1", "amount": "1", "cryptoCurrency": "USDT"}
	}
	for _, tc := range []struct {
		name, method string
		params       map[string]string
		secret       string
		status       int
		msg          string
	}{
		{"no sign", http.MethodPost, p(), "", 200, "invalid param sign"},
		{"no merchantId", http.MethodPost, func() map[string]string { m := p(); delete(m, "merchantId"); return m }(), testSecret, 200, "invalid param merchantId"},
		{"tampered", http.MethodPost, func() map[string]string { m := p(); m[SignField] = Sign(m, testSecret); m["amount"] = "100"; return m }(), "", 200, msgBadSign},
		{"missing amount", http.MethodPost, func() map[string]string { m := p(); delete(m, "amount"); return m }(), testSecret, 200, "invalid param amount"},
		{"nine decimals", http.MethodPost, func() map[string]string { m := p(); m["amount"] = "1.123456789"; return m }(), testSecret, 200, "invalid param amount"},
		{"unknown currency", http.MethodPost, func() map[string]string { m := p(); m["cryptoCurrency"] = "DOGE"; return m }(), testSecret, 200, "invalid param cryptoCurrency"},
		{"wrong method", http.MethodGet, p(), testSecret, 405, "Request method 'GET' not supported"},
	} {
		status, env := h.raw(tc.method, PathCreateOrder, tc.params, tc.secret)
		if status != tc.status || env["code"].(interface{ String() string }).String() != "1" || env["msg"] != tc.msg || env["data"] != nil || env["traceid"] == "" {
			t.Errorf("%s: %d %v", tc.name, status, env)
		}
	}
	// POST parameters in the query string, as the document's curl examples send them.
	m := p()
	m[SignField] = Sign(m, testSecret)
	q := make([]string, 0, len(m))
	for k, v := range m {
		q = append(q, k+"="+v)
	}
	resp, err := http.Post(h.base+PathCreateOrder+"?"+strings.Join(q, "&"), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if o, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "R1"}); err != nil || o.Status != providers.StatusPending {
		t.Fatalf("order from query-string POST: %+v %v", o, err)
	}
	// Unknown path.
	resp, err = http.Get(h.base + "/openapi/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}

func deliveriesOf(h *harness, orderNo string) []sim.Delivery {
	var out []sim.Delivery
	for _, d := range h.sim.Engine().Deliveries() {
		if d.OrderNo == orderNo {
			out = append(out, d)
		}
	}
	return out
}

func countAcked(h *harness, orderNo string) int {
	n := 0
	for _, d := range deliveriesOf(h, orderNo) {
		if d.Acked {
			n++
		}
	}
	return n
}
