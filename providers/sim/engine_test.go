package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// testProto renders a callback as JSON {"id","status","paid","forged"}.
type testProto struct{ schedule []time.Duration }

func (p testProto) Callback(_ *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	if o.Status == providers.StatusPending {
		return nil, nil
	}
	body, _ := json.Marshal(map[string]any{"id": o.ID, "event": o.Events, "status": o.Status, "paid": o.Paid.String(), "forged": forged})
	return &sim.Outbound{Method: http.MethodPost, URL: o.NotifyURL, ContentType: "application/json", Body: body}, nil
}
func (p testProto) Schedule() []time.Duration { return p.schedule }
func (p testProto) Ack() string               { return "ok" }

// receiver records callbacks and acknowledges after failFirst failures.
type receiver struct {
	mu        sync.Mutex
	got       []map[string]any
	failFirst int
	calls     int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	rc.mu.Lock()
	rc.calls++
	n := rc.calls
	rc.got = append(rc.got, m)
	rc.mu.Unlock()
	if n <= rc.failFirst {
		http.Error(w, "nope", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (rc *receiver) snapshot() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.got...)
}

func newEngine(t *testing.T, schedule ...time.Duration) *sim.Engine {
	t.Helper()
	e := sim.New(sim.Options{Provider: "test", Protocol: testProto{schedule: schedule}, Scale: 1000, Seed: 7})
	t.Cleanup(e.Close)
	e.AddMerchant(sim.Merchant{
		ID: "m1", Secret: "s",
		DepositFeeRate: decimal.RequireFromString("0.01"),
		PayoutFeeRate:  decimal.RequireFromString("0.02"), PayoutFixedFee: decimal.RequireFromString("1"),
		Balances: map[string]*sim.Balance{"USD": {Available: decimal.RequireFromString("1000")}},
	})
	return e
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

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestDepositPaidDifferentAmountCreditsNetOfFee(t *testing.T) {
	e := newEngine(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	o, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "A1", Kind: providers.KindDeposit, Amount: dec("100"), Currency: "USD", NotifyURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	paid := dec("90.50")
	o, err = e.Pay(o.OrderNo, &paid)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Paid.Equal(dec("90.5")) || !o.Fee.Equal(dec("0.9")) || !o.Credited.Equal(dec("89.6")) || o.Status != providers.StatusSucceeded {
		t.Fatalf("order after pay = paid %s fee %s credited %s status %s", o.Paid, o.Fee, o.Credited, o.Status)
	}
	b, _ := e.Balances("m1")
	if !b["USD"].Available.Equal(dec("1089.6")) {
		t.Fatalf("available = %s, want 1089.6", b["USD"].Available)
	}
	waitFor(t, "callback", func() bool { return len(rc.snapshot()) == 1 })
	in := e.Injected()
	if len(in) != 1 || in[0].Kind != sim.FaultAmountMismatch || in[0].OrderNo != "A1" {
		t.Fatalf("injected = %+v, want one amount_mismatch for A1", in)
	}
	if _, err := e.Pay("A1", nil); !errors.Is(err, sim.ErrBadTransition) {
		t.Fatalf("second pay: err = %v, want ErrBadTransition", err)
	}
}

func TestPayoutFreezesSettlesInPartsAndRefundsOnFailure(t *testing.T) {
	e := newEngine(t)
	// 100 + 2% + 1 = 103 frozen.
	o, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "P1", Kind: providers.KindPayout, Amount: dec("100"), Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Fee.Equal(dec("3")) {
		t.Fatalf("fee = %s, want 3", o.Fee)
	}
	b, _ := e.Balances("m1")
	if !b["USD"].Available.Equal(dec("897")) || !b["USD"].Frozen.Equal(dec("103")) {
		t.Fatalf("after create: %+v", b["USD"])
	}
	if o, err = e.SettlePart("P1", dec("40")); err != nil || o.Status != providers.StatusProcessing {
		t.Fatalf("part 1: %v %v", o, err)
	}
	if _, err = e.SettlePart("P1", dec("61")); !errors.Is(err, sim.ErrBadTransition) {
		t.Fatalf("overshooting part: err = %v", err)
	}
	if o, err = e.SettlePart("P1", dec("60")); err != nil || o.Status != providers.StatusSucceeded || len(o.Parts) != 2 {
		t.Fatalf("part 2: %+v %v", o, err)
	}
	b, _ = e.Balances("m1")
	if !b["USD"].Available.Equal(dec("897")) || !b["USD"].Frozen.IsZero() {
		t.Fatalf("after settle: %+v", b["USD"])
	}

	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "P2", Kind: providers.KindPayout, Amount: dec("10"), Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Fail("P2", "bank refused"); err != nil {
		t.Fatal(err)
	}
	b, _ = e.Balances("m1")
	if !b["USD"].Available.Equal(dec("897")) || !b["USD"].Frozen.IsZero() {
		t.Fatalf("after failed payout: %+v", b["USD"])
	}
	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "P3", Kind: providers.KindPayout, Amount: dec("1000"), Currency: "USD"}); !errors.Is(err, sim.ErrInsufficientBalance) {
		t.Fatalf("payout over balance: err = %v", err)
	}
	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "P2", Kind: providers.KindPayout, Amount: dec("1"), Currency: "USD"}); !errors.Is(err, sim.ErrDuplicateOrder) {
		t.Fatalf("duplicate order no: err = %v", err)
	}
}

func TestCallbackRetriedOnScheduleUntilAcked(t *testing.T) {
	// 60 s retries at scale 1000 = 60 ms each.
	e := newEngine(t, time.Minute, time.Minute, time.Minute)
	rc := &receiver{failFirst: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "R1", Kind: providers.KindDeposit, Amount: dec("5"), Currency: "USD", NotifyURL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := e.Pay("R1", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three attempts", func() bool { return len(rc.snapshot()) == 3 })
	if el := time.Since(start); el < 110*time.Millisecond {
		t.Fatalf("three attempts took %s, want >= two scaled minutes (120ms)", el)
	}
	time.Sleep(150 * time.Millisecond)
	d := e.Deliveries()
	if len(d) != 3 || d[0].Acked || d[1].Acked || !d[2].Acked {
		t.Fatalf("deliveries = %+v, want two failures then an ack, nothing after", d)
	}
}

func TestCallbackGivesUpAfterSchedule(t *testing.T) {
	e := newEngine(t, time.Minute, time.Minute)
	rc := &receiver{failFirst: 100}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "G1", Kind: providers.KindDeposit, Amount: dec("5"), Currency: "USD", NotifyURL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pay("G1", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three attempts", func() bool { return len(rc.snapshot()) == 3 })
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.snapshot()); n != 3 {
		t.Fatalf("attempts = %d, want 1 + len(schedule) = 3", n)
	}
}

func TestScriptedCallbackFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults sim.CallbackFaults
		check  func(t *testing.T, got []map[string]any, e *sim.Engine)
	}{
		{"drop", sim.CallbackFaults{Drop: true}, func(t *testing.T, got []map[string]any, e *sim.Engine) {
			time.Sleep(100 * time.Millisecond)
			if len(got) != 0 {
				t.Fatalf("dropped callback arrived: %v", got)
			}
		}},
		{"duplicate", sim.CallbackFaults{Duplicate: 3}, func(t *testing.T, got []map[string]any, e *sim.Engine) {
			if len(got) != 4 {
				t.Fatalf("got %d copies, want 4", len(got))
			}
		}},
		{"bad signature", sim.CallbackFaults{BadSignature: true}, func(t *testing.T, got []map[string]any, e *sim.Engine) {
			forged := 0
			for _, g := range got {
				if g["forged"] == true {
					forged++
				}
			}
			if len(got) != 2 || forged != 1 {
				t.Fatalf("got %v, want one forged and one genuine", got)
			}
		}},
		{"delay", sim.CallbackFaults{Delay: sim.Duration{Duration: 100 * time.Second}}, func(t *testing.T, got []map[string]any, e *sim.Engine) {
			if len(got) != 1 {
				t.Fatalf("got %d, want 1", len(got))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			rc := &receiver{}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			if err := e.SetScript("S1", sim.Script{Outcome: sim.OutcomeSucceed, Callbacks: tc.faults}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "S1", Kind: providers.KindDeposit, Amount: dec("5"), Currency: "USD", NotifyURL: srv.URL}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "succeeded", func() bool { o, _ := e.FindOrder("", "S1"); return o.Status == providers.StatusSucceeded })
			if tc.name != "drop" {
				want := 1
				switch tc.name {
				case "duplicate":
					want = 4
				case "bad signature":
					want = 2
				}
				waitFor(t, "callbacks", func() bool { return len(rc.snapshot()) >= want })
			}
			if tc.name == "delay" && time.Since(start) < 90*time.Millisecond {
				t.Fatalf("delayed callback came after %s, want >= 100ms", time.Since(start))
			}
			time.Sleep(30 * time.Millisecond)
			tc.check(t, rc.snapshot(), e)
			kinds := map[sim.FaultKind]int{}
			for _, in := range e.Injected() {
				kinds[in.Kind]++
			}
			if len(kinds) != 1 {
				t.Fatalf("injected kinds = %v, want exactly the one fault", kinds)
			}
		})
	}
}

func TestReorderSendsLaterEventFirst(t *testing.T) {
	e := newEngine(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	err := e.SetScript("RO", sim.Script{Outcome: sim.OutcomeSucceed, ReverseAfter: sim.Duration{Duration: 10 * time.Second}, Callbacks: sim.CallbackFaults{Reorder: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "RO", Kind: providers.KindDeposit, Amount: dec("5"), Currency: "USD", NotifyURL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two callbacks", func() bool { return len(rc.snapshot()) == 2 })
	got := rc.snapshot()
	if got[0]["status"] != "reversed" || got[1]["status"] != "succeeded" {
		t.Fatalf("order of callbacks = %v, %v; want reversed first", got[0]["status"], got[1]["status"])
	}
}

func TestEndpointFaults(t *testing.T) {
	e := newEngine(t)
	var actedN atomic.Int32
	h := e.Endpoint("/create", func(w http.ResponseWriter, r *http.Request) {
		actedN.Add(1)
		_, _ = io.WriteString(w, "created")
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	if err := e.AddEndpointFault(sim.EndpointFault{Path: "/create", Mode: sim.ModeError5xx, Count: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL)
	if err != nil || resp.StatusCode != 500 || actedN.Load() != 0 {
		t.Fatalf("5xx fault: status %v err %v acted %d", resp.StatusCode, err, actedN.Load())
	}
	resp, err = http.Get(srv.URL)
	if err != nil || resp.StatusCode != 200 || actedN.Load() != 1 {
		t.Fatalf("after count exhausted: status %v err %v acted %d", resp.StatusCode, err, actedN.Load())
	}
	if err := e.AddEndpointFault(sim.EndpointFault{Path: "/create", Mode: sim.ModeTimeout, Count: 1}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := client.Get(srv.URL); err == nil {
		t.Fatal("timeout fault: want a client timeout")
	}
	if actedN.Load() != 2 {
		t.Fatalf("timeout fault must act before withholding the answer: acted = %d", actedN.Load())
	}
	if err := e.AddEndpointFault(sim.EndpointFault{Mode: "explode"}); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestControlAPI(t *testing.T) {
	e := newEngine(t)
	rc := &receiver{}
	cb := httptest.NewServer(rc)
	defer cb.Close()
	ctl := httptest.NewServer(e.ControlHandler())
	defer ctl.Close()
	if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "C1", Kind: providers.KindDeposit, Amount: dec("20"), Currency: "USD", NotifyURL: cb.URL}); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, ctl.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("POST", "/orders/C1/pay", `{"amount":"19.5"}`); code != 200 || !strings.Contains(body, `"paid":"19.5"`) {
		t.Fatalf("pay: %d %s", code, body)
	}
	if code, _ := do("POST", "/orders/C1/pay", ``); code != 409 {
		t.Fatalf("second pay: %d, want 409", code)
	}
	if code, _ := do("POST", "/orders/NOPE/expire", ``); code != 404 {
		t.Fatalf("unknown order: %d, want 404", code)
	}
	if code, _ := do("PUT", "/scripts/later", `{"outcome":"explode"}`); code != 400 {
		t.Fatalf("bad script: %d, want 400", code)
	}
	if code, body := do("POST", "/merchants/m1/adjust", `{"currency":"USD","amount":"-3"}`); code != 200 || !strings.Contains(body, `"available":"1016.31"`) {
		// 1000 + 19.5 - 0.19 fee (0.195 truncated) - 3
		t.Fatalf("adjust: %d %s", code, body)
	}
	if code, body := do("GET", "/merchants", ``); code != 200 || strings.Contains(body, `"secret":"s"`) {
		t.Fatalf("merchants leak the secret or fail: %d %s", code, body)
	}
	if code, body := do("GET", "/injected", ``); code != 200 || !strings.Contains(body, "amount_mismatch") || !strings.Contains(body, "balance_drift") {
		t.Fatalf("injected: %d %s", code, body)
	}
	if code, _ := do("POST", "/faults", `{"path":"/x","mode":"timeout","count":1}`); code != 201 {
		t.Fatalf("add fault: %d", code)
	}
	if code, _ := do("POST", "/deposits", `{"merchant_id":"m1","user_id":"u1","currency":"USD","amount":"7","notify_url":"`+cb.URL+`"}`); code != 200 {
		t.Fatalf("orderless deposit: %d", code)
	}
	waitFor(t, "orderless deposit callback", func() bool { return len(rc.snapshot()) == 2 })
}

func TestAutopilotDrawsFromWeights(t *testing.T) {
	e := newEngine(t)
	e.SetAuto(sim.Auto{Enabled: true, Fail: 1})
	for i := 0; i < 5; i++ {
		if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: fmt.Sprint("AU", i), Kind: providers.KindDeposit, Amount: dec("1"), Currency: "USD"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all failed", func() bool {
		for _, o := range e.Orders() {
			if o.Status != providers.StatusFailed {
				return false
			}
		}
		return true
	})
}

// The acknowledgement must be exactly the protocol's string: a body with a
// newline, spaces or another case is not one, and the engine keeps trying.
func TestAckMustBeExact(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		acked  bool
	}{
		{http.StatusOK, "ok", true},
		{http.StatusOK, "ok\n", false},
		{http.StatusOK, " ok", false},
		{http.StatusOK, "ok\r\n", false},
		{http.StatusOK, "OK", false},
		{http.StatusOK, `"ok"`, false},
		{http.StatusOK, "", false},
		{http.StatusCreated, "ok", false},
		{http.StatusInternalServerError, "ok", false},
	} {
		e := newEngine(t, time.Minute)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		}))
		if _, err := e.CreateOrder(sim.Order{MerchantID: "m1", OrderNo: "A1", Kind: providers.KindDeposit, Amount: dec("5"), Currency: "USD", NotifyURL: srv.URL}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Pay("A1", nil); err != nil {
			t.Fatal(err)
		}
		want := 1 // acked: no retry
		if !tc.acked {
			want = 2 // the one retry of the schedule
		}
		waitFor(t, fmt.Sprintf("%d deliveries for %d %q", want, tc.status, tc.body), func() bool { return len(e.Deliveries()) == want })
		time.Sleep(100 * time.Millisecond) // a scaled minute: no further attempt
		d := e.Deliveries()
		if len(d) != want || d[0].Acked != tc.acked {
			t.Fatalf("%d %q: deliveries %+v, want %d with acked %v", tc.status, tc.body, d, want, tc.acked)
		}
		if e.Ack() != "ok" {
			t.Fatalf("Engine.Ack() = %q", e.Ack())
		}
		srv.Close()
		e.Close()
	}
}
