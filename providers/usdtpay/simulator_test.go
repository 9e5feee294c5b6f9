package usdtpay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// scale runs UsdtPay's one-minute retry in 100 ms.
const scale = 600

// otherCrmNo is a second merchant: the vectors' key and no USDT rate.
const otherCrmNo = "TW001375"

// receiver is a merchant's callback endpoint built on the adapter's own
// ParseCallback and Reply, as tally's callback ingress is.
type receiver struct {
	a *Adapter

	mu        sync.Mutex
	failFirst int // answer a storage failure to the first n verified callbacks
	calls     int
	events    []*providers.Event
	errs      []error
	raw       []rawCallback
}

type rawCallback struct {
	Method, ContentType, Path, RawQuery, Body string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxCallbackBytes+1))
	cb := &providers.Callback{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Body: body, RemoteAddr: r.RemoteAddr}
	ev, err := rc.a.ParseCallback(cb)
	rc.mu.Lock()
	rc.calls++
	rc.raw = append(rc.raw, rawCallback{r.Method, r.Header.Get("Content-Type"), r.URL.Path, r.URL.RawQuery, string(body)})
	if err == nil && rc.calls <= rc.failFirst {
		err = errors.New("inbox unavailable")
	}
	if err == nil {
		rc.events = append(rc.events, ev)
	} else {
		rc.errs = append(rc.errs, err)
	}
	rc.mu.Unlock()
	rc.a.Reply(err).Write(w)
}

func (rc *receiver) snapshot() ([]*providers.Event, []error, []rawCallback) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*providers.Event(nil), rc.events...), append([]error(nil), rc.errs...), append([]rawCallback(nil), rc.raw...)
}

type harness struct {
	t       *testing.T
	sim     *Simulator
	base    string // the simulator's mount point, as in the sandbox: <server>/usdtpay
	adapter *Adapter
	other   *Adapter // merchant otherCrmNo
	rc      *receiver
	ctl     string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base := srv.URL + "/usdtpay"
	s := NewSimulator(sim.Config{
		BaseURL: base,
		Merchants: []sim.Merchant{
			{ID: testCrmNo, Secret: testKey, DepositFeeRate: dec("0.01"), Options: map[string]string{"rate:CNY": "7.20"}},
			{ID: otherCrmNo, Secret: vectorKey, Options: map[string]string{"rate:CNY": "none"}},
		},
		Scale:  scale,
		Seed:   1,
		Logger: quietLogger(),
	})
	t.Cleanup(s.Close)
	mux.Handle("/usdtpay/", http.StripPrefix("/usdtpay", s.Handler()))
	mux.Handle("/control/usdtpay/", http.StripPrefix("/control/usdtpay", s.Engine().ControlHandler()))

	h := &harness{t: t, sim: s, base: base, ctl: srv.URL + "/control/usdtpay"}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.rc.ServeHTTP(w, r) }))
	t.Cleanup(cb.Close)
	h.adapter = h.newAdapter(testCrmNo, testKey, cb.URL+"/callbacks/usdtpay-main", nil)
	h.other = h.newAdapter(otherCrmNo, vectorKey, cb.URL+"/callbacks/usdtpay-other", nil)
	h.rc = &receiver{a: h.adapter}
	return h
}

func (h *harness) newAdapter(crmNo, key, notify string, client *http.Client) *Adapter {
	h.t.Helper()
	if client == nil {
		client = testClient
	}
	a, err := New(providers.Config{Account: "usdtpay-" + crmNo, BaseURL: h.base, MerchantID: crmNo, Secret: providers.Secret(key),
		NotifyURL: notify, HTTPClient: client, Logger: quietLogger()})
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// deposit builds the pay form with the adapter and submits it as the payer's
// browser does; it returns the pay page.
func (h *harness) deposit(a *Adapter, orderNo, amount string) (string, error) {
	h.t.Helper()
	req := validDeposit()
	req.OrderNo, req.Amount = orderNo, dec(amount)
	res, err := a.CreateDeposit(context.Background(), req)
	if err != nil {
		h.t.Fatal(err)
	}
	page, err := a.SubmitPayForm(context.Background(), res.PayForm)
	return string(page), err
}

func (h *harness) mustDeposit(orderNo, amount string) payPageData {
	h.t.Helper()
	page, err := h.deposit(h.adapter, orderNo, amount)
	if err != nil {
		h.t.Fatalf("deposit %s: %v", orderNo, err)
	}
	return parsePayPage(h.t, page)
}

// control calls the simulator's control API.
func (h *harness) control(method, path, body string) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.ctl+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("control %s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

func (h *harness) order(ref string) *sim.Order {
	h.t.Helper()
	o, err := h.sim.Engine().FindOrder("", ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

func (h *harness) deliveries(orderNo string) []sim.Delivery {
	var out []sim.Delivery
	for _, d := range h.sim.Engine().Deliveries() {
		if d.OrderNo == orderNo {
			out = append(out, d)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var pageAttrRE = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)

// parsePayPage reads the simulator's pay page (<dl id="order" data-...>).
func parsePayPage(t *testing.T, page string) payPageData {
	t.Helper()
	i := strings.Index(page, `<dl id="order"`)
	if i < 0 {
		t.Fatalf("not a pay page:\n%s", page)
	}
	tag := page[i : i+strings.Index(page[i:], ">")]
	attrs := map[string]string{}
	for _, m := range pageAttrRE.FindAllStringSubmatch(tag, -1) {
		attrs[m[1]] = m[2]
	}
	return payPageData{TransactionID: attrs["transaction-id"], OrderNo: attrs["order-no"], Amount: attrs["amount"],
		Currency: attrs["currency"], USDT: attrs["usdt"], Rate: attrs["rate"]}
}

func TestRoundTripPayExact(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const no = "251122093000TW001478000000000001"
	page := h.mustDeposit(no, "100")
	if page.OrderNo != no || page.Amount != "100.00" || page.Currency != "CNY" || page.USDT != "13.88" || page.Rate != "7.2" || page.TransactionID == "" {
		t.Fatalf("pay page = %+v; want order %s, 100.00 CNY, 13.88 USDT at 7.20", page, no)
	}
	o := h.order(no)
	if o.Status != providers.StatusPending || o.MerchantID != testCrmNo || !o.Amount.Equal(dec("100")) || o.UserID != "83430099" ||
		o.ID != page.TransactionID || !strings.HasSuffix(o.NotifyURL, "/callbacks/usdtpay-main") || o.ReturnURL != "https://crm.example.com/deposit/done" {
		t.Fatalf("order at the simulator = %+v", o)
	}
	if d := h.deliveries(no); len(d) != 0 {
		t.Fatalf("a pending order was notified: %+v", d)
	}

	h.control("POST", "/orders/"+no+"/pay", "")
	waitFor(t, "callback", func() bool { ev, _, _ := h.rc.snapshot(); return len(ev) == 1 })
	evs, errs, raw := h.rc.snapshot()
	ev := evs[0]
	if len(errs) != 0 {
		t.Fatalf("callback errors: %v", errs)
	}
	if ev.OrderNo != no || ev.ProviderOrderID != page.TransactionID || ev.Status != providers.StatusSucceeded || ev.ProviderStatus != "success" ||
		!ev.Verified || ev.Kind != providers.KindDeposit || ev.Currency != "CNY" || !ev.Paid.Valid || !ev.Paid.Decimal.Equal(dec("100")) ||
		ev.Requested.Valid || ev.Credited.Valid || ev.Fee.Valid {
		t.Fatalf("event = %+v", ev)
	}
	// The documented shape (providers.Event.Quote): the event is in the signed
	// order currency, the Quote is the unsigned USDT side with no rate stated.
	if ev.Quote == nil || ev.Quote.Currency != "USDT" || !ev.Quote.Amount.Equal(dec("13.88")) || !ev.Quote.Rate.IsZero() || ev.Quote.Currency == ev.Currency {
		t.Fatalf("quote = %+v, want 13.88 USDT with no rate", ev.Quote)
	}
	// The wire shape: a form POST to receiveUrl?amount=..., fields in the document's order.
	want := CallbackFields{SignType: "MD5", OrderNo: no, OrderAmount: "100.00", OrderCurrency: "CNY", TransactionID: page.TransactionID, Status: "success"}
	want.Sign = want.ComputeSign(testKey)
	r := raw[0]
	if r.Method != "POST" || r.ContentType != "application/x-www-form-urlencoded" || r.Path != "/callbacks/usdtpay-main" ||
		r.RawQuery != "amount=13.88" || r.Body != formBody(want) {
		t.Fatalf("raw callback = %+v\nwant body %s", r, formBody(want))
	}
	waitFor(t, "ack", func() bool { d := h.deliveries(no); return len(d) == 1 && d[0].Acked })
	b, err := h.sim.Engine().Balances(testCrmNo)
	if err != nil || !b["CNY"].Available.Equal(dec("99")) {
		t.Fatalf("balance = %+v %v, want 99.00 CNY (1%% fee)", b, err)
	}
	if o := h.order(no); !o.Fee.Equal(dec("1")) || !o.Credited.Equal(dec("99")) || o.Status != providers.StatusSucceeded {
		t.Fatalf("order = %+v", o)
	}
}

func TestRoundTripPayDifferentAmount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const no = "251122093000TW001478000000000002"
	h.mustDeposit(no, "100")
	h.control("POST", "/orders/"+no+"/pay", `{"amount":"95.5"}`)
	waitFor(t, "callback", func() bool { ev, _, _ := h.rc.snapshot(); return len(ev) == 1 })
	evs, _, raw := h.rc.snapshot()
	if ev := evs[0]; !ev.Paid.Decimal.Equal(dec("95.5")) || ev.Currency != "CNY" || ev.Quote == nil || !ev.Quote.Amount.Equal(dec("13.26")) {
		t.Fatalf("event paid %v quote %+v; want 95.50 CNY, 13.26 USDT", ev.Paid, ev.Quote)
	}
	if !strings.Contains(raw[0].Body, "orderAmount=95.50&") || raw[0].RawQuery != "amount=13.26" {
		t.Fatalf("raw callback = %+v", raw[0])
	}
	in := h.sim.Engine().Injected()
	if len(in) != 1 || in[0].Kind != sim.FaultAmountMismatch || in[0].OrderNo != no {
		t.Fatalf("injected = %+v", in)
	}
	if b, _ := h.sim.Engine().Balances(testCrmNo); !b["CNY"].Available.Equal(dec("94.55")) {
		t.Fatalf("balance = %s, want 94.55 (95.50 - 0.95 fee)", b["CNY"].Available)
	}
}

func TestFailExpireAndReversalSendNoCallback(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	nos := []string{"251122093000TW001478000000000003", "251122093000TW001478000000000004", "251122093000TW001478000000000005"}
	for _, no := range nos {
		h.mustDeposit(no, "10")
	}
	h.control("POST", "/orders/"+nos[0]+"/fail", `{"reason":"payer gave up"}`)
	h.control("POST", "/orders/"+nos[1]+"/expire", "")
	h.control("POST", "/orders/"+nos[2]+"/pay", "")
	waitFor(t, "success callback", func() bool { ev, _, _ := h.rc.snapshot(); return len(ev) == 1 })
	h.control("POST", "/orders/"+nos[2]+"/reverse", "")
	time.Sleep(300 * time.Millisecond) // three scaled minutes: nothing else may come
	evs, errs, _ := h.rc.snapshot()
	if len(evs) != 1 || len(errs) != 0 || evs[0].OrderNo != nos[2] || evs[0].Status != providers.StatusSucceeded {
		t.Fatalf("callbacks = %+v, errors %v; want only the success of %s", evs, errs, nos[2])
	}
	for i, want := range []providers.Status{providers.StatusFailed, providers.StatusExpired, providers.StatusReversed} {
		if got := h.order(nos[i]).Status; got != want {
			t.Errorf("order %s = %s, want %s", nos[i], got, want)
		}
	}
	if b, _ := h.sim.Engine().Balances(testCrmNo); !b["CNY"].Available.IsZero() {
		t.Fatalf("balance after the reversal = %s, want 0", b["CNY"].Available)
	}
	// A manual resend of a reversed order sends nothing either.
	h.control("POST", "/orders/"+nos[2]+"/notify", "")
	if d := h.deliveries(nos[2]); len(d) != 1 {
		t.Fatalf("deliveries = %+v, want the one success", d)
	}
}

func TestRetriesEveryMinuteUntilSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.rc.failFirst = 3
	const no = "251122093000TW001478000000000006"
	h.mustDeposit(no, "10")
	h.control("POST", "/orders/"+no+"/pay", "")
	waitFor(t, "ack", func() bool { d := h.deliveries(no); return len(d) == 4 && d[3].Acked })
	time.Sleep(250 * time.Millisecond)
	d := h.deliveries(no)
	if len(d) != 4 {
		t.Fatalf("deliveries = %d, want 4 (three failures, then success, then nothing)", len(d))
	}
	for i, x := range d {
		if x.Attempt != i+1 || x.Acked != (i == 3) {
			t.Fatalf("delivery %d = %+v", i, x)
		}
		if i < 3 && x.Status != http.StatusInternalServerError {
			t.Fatalf("delivery %d status = %d, want 500 from Reply", i, x.Status)
		}
		if i > 0 {
			gap := x.At.Sub(d[i-1].At)
			if gap < 90*time.Millisecond || gap > 400*time.Millisecond {
				t.Fatalf("gap before attempt %d = %s, want one scaled minute (100ms)", i+1, gap)
			}
		}
	}
	evs, errs, raw := h.rc.snapshot()
	if len(evs) != 1 || len(errs) != 3 || !evs[0].Paid.Decimal.Equal(dec("10")) {
		t.Fatalf("events %+v, errors %v; want three storage failures, then the stored callback", evs, errs)
	}
	for _, r := range raw {
		if r != raw[0] {
			t.Fatalf("retried callback differs: %+v vs %+v", r, raw[0])
		}
	}
}

func TestRetriesStopAfterTenTries(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.rc.failFirst = 1000
	const no = "251122093000TW001478000000000007"
	h.mustDeposit(no, "10")
	start := time.Now()
	h.control("POST", "/orders/"+no+"/pay", "")
	waitFor(t, "ten tries", func() bool { return len(h.deliveries(no)) == 10 })
	if el := time.Since(start); el < 850*time.Millisecond {
		t.Fatalf("ten tries took %s, want nine scaled minutes (900ms)", el)
	}
	time.Sleep(300 * time.Millisecond)
	if d := h.deliveries(no); len(d) != 10 || d[9].Acked {
		t.Fatalf("deliveries = %d, want exactly ten unacknowledged", len(d))
	}
}

func TestScriptedCallbackFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		check  func(t *testing.T, h *harness, no string, start time.Time)
	}{
		{"drop", `{"outcome":"succeed","callbacks":{"drop":true}}`, func(t *testing.T, h *harness, no string, _ time.Time) {
			waitFor(t, "paid", func() bool { return h.order(no).Status == providers.StatusSucceeded })
			time.Sleep(200 * time.Millisecond)
			if _, _, raw := h.rc.snapshot(); len(raw) != 0 {
				t.Fatalf("dropped callback arrived: %+v", raw)
			}
			assertInjected(t, h, sim.FaultDropCallback)
		}},
		{"duplicate", `{"outcome":"succeed","callbacks":{"duplicate":2}}`, func(t *testing.T, h *harness, no string, _ time.Time) {
			waitFor(t, "three copies", func() bool { ev, _, _ := h.rc.snapshot(); return len(ev) == 3 })
			evs, _, _ := h.rc.snapshot()
			for _, ev := range evs {
				if ev.ProviderOrderID != evs[0].ProviderOrderID || ev.OrderNo != no || !ev.Paid.Decimal.Equal(dec("50")) {
					t.Fatalf("copies differ: %+v", evs)
				}
			}
			waitFor(t, "acks", func() bool {
				d := h.deliveries(no)
				return len(d) == 3 && d[0].Acked && d[1].Acked && d[2].Acked
			})
			assertInjected(t, h, sim.FaultDuplicateCallback)
		}},
		{"delay", `{"outcome":"succeed","callbacks":{"delay":"3m"}}`, func(t *testing.T, h *harness, no string, start time.Time) {
			waitFor(t, "delayed callback", func() bool { ev, _, _ := h.rc.snapshot(); return len(ev) == 1 })
			if el := time.Since(start); el < 280*time.Millisecond {
				t.Fatalf("callback came after %s, want three scaled minutes (300ms)", el)
			}
			assertInjected(t, h, sim.FaultDelayCallback)
		}},
		{"bad signature", `{"outcome":"succeed","callbacks":{"bad_signature":true}}`, func(t *testing.T, h *harness, no string, _ time.Time) {
			waitFor(t, "forged and genuine", func() bool { ev, errs, _ := h.rc.snapshot(); return len(ev) == 1 && len(errs) == 1 })
			evs, errs, raw := h.rc.snapshot()
			if !errors.Is(errs[0], providers.ErrBadSignature) || !evs[0].Paid.Decimal.Equal(dec("50")) {
				t.Fatalf("errors %v, event paid %v; want one bad signature and the genuine 50.00", errs, evs[0].Paid)
			}
			forged := false
			for _, r := range raw {
				forged = forged || (strings.Contains(r.Body, "orderAmount=500.00&") && r.RawQuery == "amount=69.40")
			}
			if !forged {
				t.Fatalf("no forged copy with ten times the amount among %+v", raw)
			}
			waitFor(t, "deliveries", func() bool { return len(h.deliveries(no)) == 2 })
			for _, d := range h.deliveries(no) {
				if d.Forged && (d.Acked || d.Status != http.StatusBadRequest) || !d.Forged && !d.Acked {
					t.Fatalf("delivery = %+v; the forged copy must get 400, the genuine one the ack", d)
				}
			}
			assertInjected(t, h, sim.FaultBadSignature)
		}},
		{"reorder", `{"outcome":"succeed","reverse_after":"1m","callbacks":{"reorder":true}}`, func(t *testing.T, h *harness, no string, start time.Time) {
			// The reversal sends nothing, so no later event overtakes the held
			// success: it goes out when the reorder window (5 min) closes.
			waitFor(t, "held callback", func() bool { ev, _, _ := h.rc.snapshot(); return len(ev) == 1 })
			if el := time.Since(start); el < 450*time.Millisecond {
				t.Fatalf("held callback came after %s, want the scaled reorder window (500ms)", el)
			}
			evs, _, _ := h.rc.snapshot()
			if evs[0].Status != providers.StatusSucceeded || h.order(no).Status != providers.StatusReversed {
				t.Fatalf("event %s, order %s; want a success callback for a reversed order", evs[0].Status, h.order(no).Status)
			}
			assertInjected(t, h, sim.FaultReversal)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			no := "251122093000TW001478" + fmt.Sprintf("%012d", len(tc.name))
			h.control("PUT", "/scripts/"+no, tc.script)
			start := time.Now()
			h.mustDeposit(no, "50")
			tc.check(t, h, no, start)
		})
	}
}

func assertInjected(t *testing.T, h *harness, kind sim.FaultKind) {
	t.Helper()
	for _, in := range h.sim.Engine().Injected() {
		if in.Kind == kind {
			return
		}
	}
	t.Fatalf("injected = %+v, want %s", h.sim.Engine().Injected(), kind)
}

func TestEndpointFaultsSeenFromTheAdapter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := h.sim.Engine()

	// 5xx: UsdtPay did not act; the form post is ambiguous (a create), and
	// submitting it again succeeds.
	const no5 = "251122093000TW001478000000000010"
	if err := e.AddEndpointFault(sim.EndpointFault{Path: PathPay, Mode: sim.ModeError5xx, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.deposit(h.adapter, no5, "10"); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("5xx: err = %v, want ErrAmbiguous", err)
	}
	if _, err := e.FindOrder("", no5); !errors.Is(err, sim.ErrOrderNotFound) {
		t.Fatalf("5xx created the order: %v", err)
	}
	if _, err := h.deposit(h.adapter, no5, "10"); err != nil {
		t.Fatalf("after the 5xx: %v", err)
	}

	// Timeout: UsdtPay created the order but never answered. UsdtPay has no
	// query API, so the order is found through the control API, and posting the
	// form again is refused as a duplicate.
	const noT = "251122093000TW001478000000000011"
	slow := h.newAdapter(testCrmNo, testKey, "https://tally.example.com/callbacks/usdtpay-main", &http.Client{Timeout: 150 * time.Millisecond})
	if err := e.AddEndpointFault(sim.EndpointFault{Path: PathPay, Mode: sim.ModeTimeout, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.deposit(slow, noT, "10"); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("timeout: err = %v, want ErrAmbiguous", err)
	}
	if _, err := slow.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: noT}); !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("query: %v, want ErrUnsupported", err)
	}
	if o := h.order(noT); o.Status != providers.StatusPending || !o.Amount.Equal(dec("10")) {
		t.Fatalf("order after the timeout = %+v, want pending 10", o)
	}
	_, err := h.deposit(slow, noT, "10")
	var pe *providers.Error
	if !errors.Is(err, providers.ErrRejected) || !errors.As(err, &pe) || pe.Code != CodeOrderExists {
		t.Fatalf("resubmit after timeout: err = %v, want ErrRejected %s", err, CodeOrderExists)
	}

	// Hang: UsdtPay neither acts nor answers.
	const noH = "251122093000TW001478000000000012"
	if err := e.AddEndpointFault(sim.EndpointFault{Path: PathPay, Mode: sim.ModeHang, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.deposit(slow, noH, "10"); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("hang: err = %v, want ErrAmbiguous", err)
	}
	if _, err := e.FindOrder("", noH); !errors.Is(err, sim.ErrOrderNotFound) {
		t.Fatalf("hang created the order: %v", err)
	}

	// Connection refused never reached UsdtPay: transient.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	a, err := New(providers.Config{BaseURL: deadURL, MerchantID: testCrmNo, Secret: testKey, NotifyURL: "https://t.example.com/cb", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.CreateDeposit(context.Background(), validDeposit())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SubmitPayForm(context.Background(), res.PayForm); !errors.Is(err, providers.ErrTransient) {
		t.Fatalf("connection refused: err = %v, want ErrTransient", err)
	}
}

// postForm posts a pay form built by hand, as a browser would.
func postForm(t *testing.T, base string, p PayRequest) (int, string) {
	t.Helper()
	v := url.Values{}
	for _, f := range p.Fields() {
		v.Set(f.Name, f.Value)
	}
	resp, err := http.PostForm(base+PathPay, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func errorCode(page string) string {
	code, _, ok := errorPage([]byte(page))
	if !ok {
		return ""
	}
	return code
}

func TestSimulatorRefusesWhatUsdtPayRefuses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	good := func() PayRequest {
		return PayRequest{PickupURL: "https://crm.example.com/done", ReceiveURL: "https://crm.example.com/cb", SignType: "MD5",
			OrderNo: "251122093000TW001478000000000020", OrderAmount: "100.00", OrderCurrency: "CNY", CustomerID: "83430099", CrmNo: testCrmNo}
	}
	signedReq := func(change func(*PayRequest)) PayRequest {
		p := good()
		change(&p)
		p.Sign = p.ComputeSign(testKey)
		return p
	}
	tests := []struct {
		name     string
		req      PayRequest
		wantCode string
	}{
		{"wrong key", func() PayRequest { p := good(); p.Sign = p.ComputeSign("wrong"); return p }(), CodeSignError},
		{"tampered amount", func() PayRequest { p := good(); p.Sign = p.ComputeSign(testKey); p.OrderAmount = "1.00"; return p }(), CodeSignError},
		{"no sign", good(), CodeSignError},
		{"unknown crmNo", signedReq(func(p *PayRequest) { p.CrmNo = "XX000000" }), CodeUnknownMerchant},
		{"no crmNo, order no of another shape", signedReq(func(p *PayRequest) { p.CrmNo = ""; p.OrderNo = "ORDER-1" }), CodeUnknownMerchant},
		{"currency EUR", signedReq(func(p *PayRequest) { p.OrderCurrency = "EUR" }), CodeParamError},
		{"three decimals", signedReq(func(p *PayRequest) { p.OrderAmount = "1.005" }), CodeParamError},
		{"zero amount", signedReq(func(p *PayRequest) { p.OrderAmount = "0" }), CodeParamError},
		{"11-character amount", signedReq(func(p *PayRequest) { p.OrderAmount = "10000000.00" }), CodeParamError},
		{"33-character order no", signedReq(func(p *PayRequest) { p.OrderNo = "180606174026TW0014780000081000012" }), CodeParamError},
		{"no customer", signedReq(func(p *PayRequest) { p.CustomerID = "" }), CodeParamError},
		{"no pickupUrl", signedReq(func(p *PayRequest) { p.PickupURL = "" }), CodeParamError},
		{"relative receiveUrl", signedReq(func(p *PayRequest) { p.ReceiveURL = "/cb" }), CodeParamError},
		{"sign type SHA", signedReq(func(p *PayRequest) { p.SignType = "SHA" }), CodeParamError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, page := postForm(t, h.base, tc.req)
			if status != http.StatusBadRequest || errorCode(page) != tc.wantCode || strings.Contains(page, `id="order"`) {
				t.Fatalf("status %d code %q, want 400 %s:\n%s", status, errorCode(page), tc.wantCode, page)
			}
		})
	}
	if n := len(h.sim.Engine().Orders()); n != 0 {
		t.Fatalf("refused forms created %d orders", n)
	}

	// The adapter sees the same refusals as ErrRejected with the page's code.
	bad := h.newAdapter(testCrmNo, "not-the-key", "https://crm.example.com/cb", nil)
	_, err := h.deposit(bad, "251122093000TW001478000000000021", "10")
	var pe *providers.Error
	if !errors.Is(err, providers.ErrRejected) || !errors.As(err, &pe) || pe.Code != CodeSignError || !strings.Contains(pe.Message, "signature") {
		t.Fatalf("adapter with the wrong key: %v", err)
	}
	unknown := h.newAdapter("XX000000", testKey, "https://crm.example.com/cb", nil)
	if _, err := h.deposit(unknown, "251122093000TW001478000000000022", "10"); !errors.As(err, &pe) || pe.Code != CodeUnknownMerchant {
		t.Fatalf("unknown merchant: %v", err)
	}

	// A duplicate order number for the same merchant is an error page; the same
	// number at another merchant is another order.
	if status, page := postForm(t, h.base, signedReq(func(*PayRequest) {})); status != 200 || parsePayPage(t, page).OrderNo != good().OrderNo {
		t.Fatalf("first post: %d", status)
	}
	if status, page := postForm(t, h.base, signedReq(func(*PayRequest) {})); status != 400 || errorCode(page) != CodeOrderExists {
		t.Fatalf("duplicate: %d %q", status, errorCode(page))
	}
	other := good()
	other.CrmNo = otherCrmNo
	other.Sign = other.ComputeSign(vectorKey)
	if status, _ := postForm(t, h.base, other); status != 200 {
		t.Fatalf("same order no at another merchant: %d", status)
	}

	// Nothing but POST /pay/toConfirmIn is served.
	for _, c := range []struct{ method, path, code string }{
		{"GET", PathPay, CodeMethodNotAllowed}, {"GET", "/pay/queryOrder", "not_found"}, {"POST", "/pay/queryOrder", "not_found"}, {"GET", "/", "not_found"},
	} {
		req, _ := http.NewRequest(c.method, h.base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || errorCode(string(b)) != c.code {
			t.Errorf("%s %s: %d %q, want %s", c.method, c.path, resp.StatusCode, errorCode(string(b)), c.code)
		}
	}
}

// TestMerchantFromOrderNumberAndEchoedAmount replays the real vector's order:
// no crmNo (identified from the order number), amount "1" echoed in the
// callback, no USDT rate configured (no amount in the URL).
func TestMerchantFromOrderNumberAndEchoedAmount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var mu sync.Mutex
	var got *providers.Event
	var rawQuery string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := h.other.ParseCallback(&providers.Callback{Method: r.Method, Query: r.URL.Query(), Header: r.Header, Body: body})
		mu.Lock()
		got, rawQuery = ev, r.URL.RawQuery
		mu.Unlock()
		h.other.Reply(err).Write(w)
	}))
	defer cb.Close()
	p := PayRequest{PickupURL: "https://crm.example.com/done", ReceiveURL: cb.URL + "/cb", SignType: "MD5",
		OrderNo: "180322000449TW001375000001140802", OrderAmount: "1", OrderCurrency: "CNY", CustomerID: "83430099"}
	p.Sign = p.ComputeSign(vectorKey)
	status, page := postForm(t, h.base, p)
	if status != 200 {
		t.Fatalf("status %d:\n%s", status, page)
	}
	pp := parsePayPage(t, page)
	if pp.USDT != "" || strings.Contains(page, "USDT to pay") {
		t.Fatalf("pay page shows a USDT amount without a rate: %+v", pp)
	}
	o := h.order(p.OrderNo)
	if o.MerchantID != otherCrmNo {
		t.Fatalf("merchant = %q, want %s read from the order number", o.MerchantID, otherCrmNo)
	}
	h.control("POST", "/orders/"+p.OrderNo+"/pay", "")
	waitFor(t, "callback", func() bool { mu.Lock(); defer mu.Unlock(); return got != nil })
	mu.Lock()
	defer mu.Unlock()
	if got.OrderNo != p.OrderNo || !got.Paid.Decimal.Equal(decimal.NewFromInt(1)) || got.Paid.Decimal.String() != "1" || got.Quote != nil || rawQuery != "" {
		t.Fatalf("event = %+v, query %q; want amount \"1\" echoed, no USDT", got, rawQuery)
	}
	waitFor(t, "ack", func() bool { d := h.deliveries(p.OrderNo); return len(d) == 1 && d[0].Acked })
}

func TestCrmNoFromOrderNo(t *testing.T) {
	tests := map[string]string{
		"180606174026TW0014780000081000012": "TW001478",
		"180322000449TW001375000001140802":  "TW001375",
		"180322000449TW001375":              "TW001375",
		"180322000449TW00137":               "",
		"18032200044XTW001375000001140802":  "",
		"":                                  "",
	}
	for in, want := range tests {
		if got := CrmNoFromOrderNo(in); got != want {
			t.Errorf("CrmNoFromOrderNo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProtocolSchedule(t *testing.T) {
	s := protocol{}.Schedule()
	if len(s) != 9 {
		t.Fatalf("schedule = %v, want nine waits (ten tries)", s)
	}
	for _, d := range s {
		if d != time.Minute {
			t.Fatalf("schedule = %v, want one minute each", s)
		}
	}
	if (protocol{}).Ack() != "success" {
		t.Fatal("ack")
	}
}

// TestSimulatorFieldRules walks the pay form's table field by field: every
// field but crmNo "不为空" (refused when empty), each at most its length
// column in characters (accepted at the limit, refused one beyond).
func TestSimulatorFieldRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	n := 0
	good := func() PayRequest {
		n++
		return PayRequest{PickupURL: "https://crm.example.com/done", ReceiveURL: "https://crm.example.com/cb", SignType: "MD5",
			OrderNo: fmt.Sprintf("251122093000TW0014780000%08d", n), OrderAmount: "100.00", OrderCurrency: "CNY", CustomerID: "83430099", CrmNo: testCrmNo}
	}
	// padURL pads an http URL to exactly n characters.
	padURL := func(n int) string {
		const prefix = "https://crm.example.com/"
		return prefix + strings.Repeat("a", n-len(prefix))
	}
	tests := []struct {
		name   string
		change func(*PayRequest)
		want   string // "" accepted, else the error page's code
	}{
		{"no pickupUrl", func(p *PayRequest) { p.PickupURL = "" }, CodeParamError},
		{"no receiveUrl", func(p *PayRequest) { p.ReceiveURL = "" }, CodeParamError},
		{"no signType", func(p *PayRequest) { p.SignType = "" }, CodeParamError},
		{"no orderNo", func(p *PayRequest) { p.OrderNo = "" }, CodeParamError},
		{"no orderAmount", func(p *PayRequest) { p.OrderAmount = "" }, CodeParamError},
		{"no orderCurrency", func(p *PayRequest) { p.OrderCurrency = "" }, CodeParamError},
		{"no customerId", func(p *PayRequest) { p.CustomerID = "" }, CodeParamError},
		{"no crmNo (read from the order number)", func(p *PayRequest) { p.CrmNo = "" }, ""},
		{"pickupUrl 100", func(p *PayRequest) { p.PickupURL = padURL(100) }, ""},
		{"pickupUrl 101", func(p *PayRequest) { p.PickupURL = padURL(101) }, CodeParamError},
		{"receiveUrl 100", func(p *PayRequest) { p.ReceiveURL = padURL(100) }, ""},
		{"receiveUrl 101", func(p *PayRequest) { p.ReceiveURL = padURL(101) }, CodeParamError},
		{"signType 6", func(p *PayRequest) { p.SignType = "MD5MD5" }, CodeParamError},
		{"orderNo 32", func(p *PayRequest) { p.OrderNo += "" }, ""},
		{"orderNo 33", func(p *PayRequest) { p.OrderNo += "9" }, CodeParamError},
		{"orderAmount 10", func(p *PayRequest) { p.OrderAmount = "9999999.99" }, ""},
		{"orderAmount 11", func(p *PayRequest) { p.OrderAmount = "10000000.00" }, CodeParamError},
		{"orderAmount whole", func(p *PayRequest) { p.OrderAmount = "1" }, ""},
		{"orderAmount one decimal", func(p *PayRequest) { p.OrderAmount = "1.5" }, ""},
		{"orderCurrency USD", func(p *PayRequest) { p.OrderCurrency = "USD" }, ""},
		{"orderCurrency MYR", func(p *PayRequest) { p.OrderCurrency = "MYR" }, ""},
		{"orderCurrency 4", func(p *PayRequest) { p.OrderCurrency = "CNYX" }, CodeParamError},
		{"customerId 32", func(p *PayRequest) { p.CustomerID = strings.Repeat("8", 32) }, ""},
		{"customerId 32 Chinese characters", func(p *PayRequest) { p.CustomerID = strings.Repeat("客", 32) }, ""},
		{"customerId 33", func(p *PayRequest) { p.CustomerID = strings.Repeat("8", 33) }, CodeParamError},
		{"crmNo 9 (no such merchant)", func(p *PayRequest) { p.CrmNo = testCrmNo + "0" }, CodeUnknownMerchant},
	}
	for _, tc := range tests {
		p := good()
		tc.change(&p)
		p.Sign = p.ComputeSign(testKey)
		t.Run(tc.name, func(t *testing.T) {
			status, page := postForm(t, h.base, p)
			if tc.want == "" {
				if status != http.StatusOK || parsePayPage(t, page).OrderNo != p.OrderNo {
					t.Fatalf("status %d, want the pay page:\n%s", status, page)
				}
				return
			}
			if status != http.StatusBadRequest || errorCode(page) != tc.want {
				t.Fatalf("status %d code %q, want 400 %s:\n%s", status, errorCode(page), tc.want, page)
			}
		})
	}
}
