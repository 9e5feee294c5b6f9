package vpay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// 100.00 CNY at 7.1 CNY/USDT: the payer owes 14.084508 USDT; the 1% fee,
// truncated to 6 decimals, is 0.140845; the merchant is credited 13.943663.
const (
	owed     = "14.084508"
	fee      = "0.140845"
	credited = "13.943663"
)

func deliveriesOf(e *env, orderNo string) []sim.Delivery {
	var out []sim.Delivery
	for _, d := range e.sim.Engine().Deliveries() {
		if d.OrderNo == orderNo {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func balance(t *testing.T, e *env, currency string) string {
	t.Helper()
	b, err := e.sim.Engine().Balances(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return b[currency].Available.String()
}

func TestPayExact(t *testing.T) {
	e := newEnv(t, envOpts{})
	rc := newReceiver(t, e.ad, 0)
	res := e.deposit(t, "P-1", rc)
	e.ctl(t, "POST", "/orders/P-1/pay", "")
	ev := rc.waitEvents(t, 1)[0]
	if ev.Status != providers.StatusSucceeded || ev.Kind != providers.KindDeposit || ev.OrderNo != "P-1" || ev.ProviderOrderID != res.ProviderOrderID ||
		ev.Currency != "USDT" || ev.UserID != "55" || !ev.Verified || ev.Reversed || ev.ProviderStatus != "SUCCESS" {
		t.Fatalf("event %+v", ev)
	}
	assertDec(t, "Requested", ev.Requested, owed)
	assertDec(t, "Paid", ev.Paid, owed)
	assertDec(t, "Credited", ev.Credited, credited)
	assertDec(t, "Fee", ev.Fee, fee)
	if ev.Quote == nil || ev.Quote.Currency != "CNY" || !ev.Quote.Amount.Equal(dec("100")) || !ev.Quote.Rate.Equal(dec("7.1")) {
		t.Fatalf("quote %+v", ev.Quote)
	}
	// The wire shape: every documented field, extra nested, numbers as numbers.
	m := fieldsOf(t, string(ev.Raw))
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	want := []string{"amount", "bizType", "currency", "extra", "key", "localOrderId", "merchantActualAmount", "merchantCurrency", "merchantId",
		"merchantPaidAmount", "merchantUserId", "notifyTime", "orderCreateTime", "orderId", "sign", "status", "type", "userAmount", "userCurrency"}
	if !slices.Equal(names, want) {
		t.Fatalf("callback fields %v", names)
	}
	if m["merchantId"] != json.Number("303122065665") || m["orderId"] != res.ProviderOrderID || m["type"] != "PAYMENT" ||
		m["bizType"] != "PAYMENT_FIXED_DIGITAL_SCAN" || m["userAmount"] != json.Number(owed) || m["merchantCurrency"] != "USDT" {
		t.Fatalf("callback %s", ev.Raw)
	}
	if got := balance(t, e, "USDT"); got != credited {
		t.Fatalf("merchant balance %s, want %s", got, credited)
	}
	waitFor(t, "the delivery log", func() bool { return len(deliveriesOf(e, "P-1")) == 1 })
	ds := deliveriesOf(e, "P-1")
	if len(ds) != 1 || !ds[0].Acked || ds[0].Status != 200 || ds[0].Attempt != 1 {
		t.Fatalf("deliveries %+v", ds)
	}
	// The pay page follows the order.
	resp, err := http.Get(res.CashierURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `<strong id="status">SUCCESS</strong>`) {
		t.Fatalf("pay page %s", page)
	}
}

func TestPayDifferentAmount(t *testing.T) {
	e := newEnv(t, envOpts{})
	rc := newReceiver(t, e.ad, 0)
	e.deposit(t, "P-2", rc)
	e.ctl(t, "POST", "/orders/P-2/pay", `{"amount":"14"}`)
	ev := rc.waitEvents(t, 1)[0]
	assertDec(t, "Requested", ev.Requested, owed)
	assertDec(t, "Paid", ev.Paid, "14")
	assertDec(t, "Credited", ev.Credited, "13.86")
	assertDec(t, "Fee", ev.Fee, "0.14")
	if ev.Status != providers.StatusSucceeded || ev.Quote == nil || !ev.Quote.Amount.Equal(dec("100")) {
		t.Fatalf("event %+v", ev)
	}
	if got := balance(t, e, "USDT"); got != "13.86" {
		t.Fatalf("balance %s", got)
	}
	inj := e.sim.Engine().Injected()
	if len(inj) != 1 || inj[0].Kind != sim.FaultAmountMismatch || inj[0].OrderNo != "P-2" {
		t.Fatalf("injected %+v", inj)
	}
}

func TestFailExpireProcessReverse(t *testing.T) {
	e := newEnv(t, envOpts{})
	rc := newReceiver(t, e.ad, 0)
	e.deposit(t, "P-F", rc)
	e.deposit(t, "P-E", rc)
	e.deposit(t, "P-R", rc)

	e.ctl(t, "POST", "/orders/P-F/fail", `{"reason":"chain rejected"}`)
	e.ctl(t, "POST", "/orders/P-E/expire", "")
	e.ctl(t, "POST", "/orders/P-R/process", "")
	rc.waitEvents(t, 3)
	e.ctl(t, "POST", "/orders/P-R/pay", "")
	rc.waitEvents(t, 4)
	if got := balance(t, e, "USDT"); got != credited {
		t.Fatalf("balance after pay %s", got)
	}
	e.ctl(t, "POST", "/orders/P-R/reverse", "")
	evs := rc.waitEvents(t, 5)
	byOrder := map[string][]*providers.Event{}
	for _, ev := range evs {
		byOrder[ev.OrderNo] = append(byOrder[ev.OrderNo], ev)
	}
	check := func(ev *providers.Event, status providers.Status, wire, paid, cred, fee string) {
		t.Helper()
		if ev.Status != status || ev.ProviderStatus != wire || ev.Reversed != (status == providers.StatusReversed) {
			t.Fatalf("event %+v, want %s", ev, wire)
		}
		assertDec(t, "Requested", ev.Requested, owed)
		assertDec(t, "Paid", ev.Paid, paid)
		assertDec(t, "Credited", ev.Credited, cred)
		assertDec(t, "Fee", ev.Fee, fee)
	}
	if len(byOrder["P-F"]) != 1 || len(byOrder["P-E"]) != 1 || len(byOrder["P-R"]) != 3 {
		t.Fatalf("events by order: %d %d %d", len(byOrder["P-F"]), len(byOrder["P-E"]), len(byOrder["P-R"]))
	}
	check(byOrder["P-F"][0], providers.StatusFailed, "FAIL", "0", "0", "0")
	check(byOrder["P-E"][0], providers.StatusExpired, "EXPIRED", "0", "0", "0")
	check(byOrder["P-R"][0], providers.StatusProcessing, "PROCESSING", "0", "0", "0")
	check(byOrder["P-R"][1], providers.StatusSucceeded, "SUCCESS", owed, credited, fee)
	check(byOrder["P-R"][2], providers.StatusReversed, "REVERSED", owed, credited, fee)
	if got := balance(t, e, "USDT"); got != "0" {
		t.Fatalf("balance after reversal %s", got)
	}
}

// TestScriptedPayer: a script set before the order exists makes the payer pay
// another amount on its own; the adapter sees it in Paid.
func TestScriptedPayer(t *testing.T) {
	e := newEnv(t, envOpts{})
	rc := newReceiver(t, e.ad, 0)
	e.ctl(t, "PUT", "/scripts/P-S", `{"outcome":"succeed","amount":"15","after":"30s"}`)
	e.deposit(t, "P-S", rc)
	ev := rc.waitEvents(t, 1)[0]
	assertDec(t, "Paid", ev.Paid, "15")
	assertDec(t, "Credited", ev.Credited, "14.85")
	assertDec(t, "Fee", ev.Fee, "0.15")
	assertDec(t, "Requested", ev.Requested, owed)
}

func TestCallbackFaults(t *testing.T) {
	t.Run("dropped", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		rc := newReceiver(t, e.ad, 0)
		e.ctl(t, "PUT", "/scripts/D-1", `{"outcome":"none","callbacks":{"drop":true}}`)
		e.deposit(t, "D-1", rc)
		e.ctl(t, "POST", "/orders/D-1/pay", "")
		time.Sleep(200 * time.Millisecond) // 200 s of MinPay time: past the first two retries
		if _, _, calls := rc.snapshot(); calls != 0 {
			t.Fatalf("dropped callback arrived %d times", calls)
		}
		if o, _ := e.sim.Engine().FindOrder(testKey, "D-1"); o.Status != providers.StatusSucceeded {
			t.Fatalf("order %+v", o)
		}
		if inj := e.sim.Engine().Injected(); len(inj) != 1 || inj[0].Kind != sim.FaultDropCallback {
			t.Fatalf("injected %+v", inj)
		}
	})
	t.Run("duplicated", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		rc := newReceiver(t, e.ad, 0)
		e.ctl(t, "PUT", "/scripts/D-2", `{"outcome":"none","callbacks":{"duplicate":2}}`)
		e.deposit(t, "D-2", rc)
		e.ctl(t, "POST", "/orders/D-2/pay", "")
		evs := rc.waitEvents(t, 3)
		time.Sleep(50 * time.Millisecond)
		if evs, _, _ = rc.snapshot(); len(evs) != 3 {
			t.Fatalf("%d events, want 3", len(evs))
		}
		for _, ev := range evs[1:] {
			if string(ev.Raw) != string(evs[0].Raw) {
				t.Fatal("duplicates differ")
			}
		}
		for _, d := range deliveriesOf(e, "D-2") {
			if !d.Acked {
				t.Fatalf("delivery %+v", d)
			}
		}
	})
	t.Run("reordered", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		rc := newReceiver(t, e.ad, 0)
		e.ctl(t, "PUT", "/scripts/D-3", `{"outcome":"none","callbacks":{"reorder":true}}`)
		e.deposit(t, "D-3", rc)
		e.ctl(t, "POST", "/orders/D-3/process", "")
		e.ctl(t, "POST", "/orders/D-3/pay", "")
		evs := rc.waitEvents(t, 2)
		if evs[0].Status != providers.StatusSucceeded || evs[1].Status != providers.StatusProcessing {
			t.Fatalf("order of arrival: %s, %s", evs[0].Status, evs[1].Status)
		}
	})
	t.Run("delayed", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		rc := newReceiver(t, e.ad, 0)
		e.ctl(t, "PUT", "/scripts/D-4", `{"outcome":"none","callbacks":{"delay":"120s"}}`)
		e.deposit(t, "D-4", rc)
		start := time.Now()
		e.ctl(t, "POST", "/orders/D-4/pay", "")
		rc.waitEvents(t, 1)
		rc.mu.Lock()
		got := rc.at[0].Sub(start)
		rc.mu.Unlock()
		if got < 120*time.Millisecond { // 120 s at scale 1000
			t.Fatalf("delayed callback arrived after %s", got)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		rc := newReceiver(t, e.ad, 0)
		e.ctl(t, "PUT", "/scripts/D-5", `{"outcome":"none","callbacks":{"bad_signature":true}}`)
		e.deposit(t, "D-5", rc)
		e.ctl(t, "POST", "/orders/D-5/pay", "")
		evs := rc.waitEvents(t, 1)
		waitFor(t, "the forged callback", func() bool { _, errs, _ := rc.snapshot(); return len(errs) == 1 })
		_, errs, _ := rc.snapshot()
		if !errors.Is(errs[0], providers.ErrBadSignature) {
			t.Fatalf("forged callback: %v", errs[0])
		}
		assertDec(t, "Paid", evs[0].Paid, owed) // the genuine one, not the forged +1
		var forged, genuine int
		waitFor(t, "both deliveries logged", func() bool { return len(deliveriesOf(e, "D-5")) == 2 })
		for _, d := range deliveriesOf(e, "D-5") {
			if d.Forged {
				forged++
				if d.Acked || d.Status != 400 {
					t.Fatalf("forged delivery %+v", d)
				}
			} else if d.Acked {
				genuine++
			}
		}
		if forged != 1 || genuine != 1 {
			t.Fatalf("deliveries: %d forged, %d genuine acked", forged, genuine)
		}
	})
}

// TestRetryUntilAcked: the receiver's storage is down for three attempts;
// MinPay retries after 15 s, 15 s and 30 s (scaled 1000x) and stops at the ack.
func TestRetryUntilAcked(t *testing.T) {
	e := newEnv(t, envOpts{})
	rc := newReceiver(t, e.ad, 3)
	e.deposit(t, "R-1", rc)
	e.ctl(t, "POST", "/orders/R-1/pay", "")
	rc.waitEvents(t, 1)
	time.Sleep(100 * time.Millisecond)
	ds := deliveriesOf(e, "R-1")
	if len(ds) != 4 {
		t.Fatalf("%d deliveries, want 4: %+v", len(ds), ds)
	}
	want := []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second}
	for i, d := range ds {
		if d.Attempt != i+1 || d.Acked != (i == 3) || (i < 3 && d.Status != 500) {
			t.Fatalf("delivery %d: %+v", i, d)
		}
		if i > 0 {
			gap, min := d.At.Sub(ds[i-1].At), want[i-1]/1000
			if gap < min || gap > min+time.Second {
				t.Fatalf("gap before attempt %d: %s, want about %s", i+1, gap, min)
			}
		}
	}
}

// TestFullRetrySchedule: a receiver that never acknowledges gets the first
// attempt and the seven documented retries, then nothing more.
func TestFullRetrySchedule(t *testing.T) {
	const scale = 2000
	e := newEnv(t, envOpts{scale: scale})
	rc := newReceiver(t, e.ad, 1000)
	e.deposit(t, "R-2", rc)
	e.ctl(t, "POST", "/orders/R-2/pay", "")
	schedule := protocol{}.Schedule()
	var total time.Duration
	for _, d := range schedule {
		total += d
	}
	waitFor(t, "eight attempts", func() bool { return len(deliveriesOf(e, "R-2")) >= 8 })
	time.Sleep(total / scale / 4)
	ds := deliveriesOf(e, "R-2")
	if len(ds) != 8 {
		t.Fatalf("%d deliveries, want 8", len(ds))
	}
	for i, d := range ds {
		if d.Acked || d.Attempt != i+1 || d.Status != 500 {
			t.Fatalf("delivery %d: %+v", i, d)
		}
		if i > 0 {
			gap, min := d.At.Sub(ds[i-1].At), schedule[i-1]/scale
			if gap < min || gap > min+time.Second {
				t.Fatalf("gap before attempt %d: %s, want about %s", i+1, gap, min)
			}
		}
	}
	if want := []time.Duration{15, 15, 30, 180, 600, 1200, 1800}; len(schedule) != len(want) {
		t.Fatalf("schedule %v", schedule)
	} else {
		for i := range want {
			if schedule[i] != want[i]*time.Second {
				t.Fatalf("schedule %v", schedule)
			}
		}
	}
	if (protocol{}).Ack() != "success" {
		t.Fatal("ack")
	}
}

// TestControlAPIOrdersView: the control API shows the quoted order as stored.
func TestControlAPIOrdersView(t *testing.T) {
	e := newEnv(t, envOpts{})
	if e.sim.Provider() != "vpay" || e.sim.Engine().Provider() != "vpay" {
		t.Fatal("provider name")
	}
	e.deposit(t, "C-1", nil)
	resp, err := http.Get(e.control.URL + "/orders/C-1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o sim.Order
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	if !o.Amount.Equal(dec(owed)) || o.Currency != "USDT" || o.SettleCurrency != "USDT" || o.QuoteCurrency != "CNY" ||
		!o.QuoteAmount.Equal(dec("100")) || !o.Rate.Equal(dec("7.1")) || o.Status != providers.StatusPending {
		t.Fatalf("order %+v", o)
	}
}

func TestPayAmount(t *testing.T) {
	cases := []struct{ quote, rate, want string }{
		{"100", "7.1", "14.084508"},
		{"72", "7.2", "10"},
		{"0.01", "7.3", "0.00137"}, // 0.0013698... up
		{"1", "3", "0.333334"},     // 0.3333333... up
		{"99999999.99", "0.5", "199999999.98"},
		{"5", "7.1", "0.704226"},
	}
	for _, c := range cases {
		if got := PayAmount(dec(c.quote), dec(c.rate)); !got.Equal(dec(c.want)) {
			t.Errorf("PayAmount(%s, %s) = %s, want %s", c.quote, c.rate, got, c.want)
		}
	}
}

func TestProtocolCallbackRendering(t *testing.T) {
	m := &sim.Merchant{ID: testKey, Secret: testSecret, Options: map[string]string{}}
	o := &sim.Order{ID: "1763800000000001", MerchantID: testKey, OrderNo: "X-1", Kind: providers.KindDeposit,
		Amount: dec(owed), Currency: "USDT", SettleCurrency: "USDT", QuoteCurrency: "CNY", QuoteAmount: dec("100.00"), Rate: dec("7.10"),
		Paid: dec(owed), Fee: dec(fee), Credited: dec(credited), Status: providers.StatusPending, NotifyURL: "http://tally.test/cb",
		CreatedAt: time.UnixMilli(1731572133082)}
	p := protocol{now: func() time.Time { return time.UnixMilli(1736744168370) }}
	if out, err := p.Callback(m, o, false); out != nil || err != nil {
		t.Fatalf("pending order rendered a callback: %v %v", out, err)
	}
	o.Status = providers.StatusSucceeded
	out, err := p.Callback(m, o, false)
	if err != nil || out.Method != "POST" || out.ContentType != "application/json" || out.URL != "http://tally.test/cb" {
		t.Fatalf("%+v %v", out, err)
	}
	merchantID := merchantNumber(m)
	want := `{"amount":14.084508,"bizType":"PAYMENT_FIXED_DIGITAL_SCAN","currency":"USDT","extra":{"quoteAmount":100,"quoteCurrency":"CNY","quotePrice":7.1},` +
		`"key":"` + testKey + `","localOrderId":"X-1","merchantActualAmount":13.943663,"merchantCurrency":"USDT","merchantId":` + merchantID +
		`,"merchantPaidAmount":14.084508,"notifyTime":1736744168370,"orderCreateTime":1731572133082,"orderId":"1763800000000001",` +
		`"sign":"%s","status":"SUCCESS","type":"PAYMENT","userAmount":14.084508,"userCurrency":"USDT"}`
	sig, _ := Sign(out.Body, testSecret)
	if got := string(out.Body); got != strings.Replace(want, "%s", sig, 1) {
		t.Fatalf("callback\n got %s\nwant %s", got, want)
	}
	if len(merchantID) != 12 || merchantID != merchantNumber(m) {
		t.Fatalf("derived merchant id %q", merchantID)
	}
	forged, err := p.Callback(m, o, true)
	if err != nil {
		t.Fatal(err)
	}
	fm, gm := fieldsOf(t, string(forged.Body)), fieldsOf(t, string(out.Body))
	if fm["userAmount"] != json.Number("15.084508") || fm["sign"] != gm["sign"] {
		t.Fatalf("forged %s", forged.Body)
	}
	a := newAdapter(t, "https://x.test", testKey, testSecret, nil, nil)
	if _, err := a.ParseCallback(post(forged.Body)); !errors.Is(err, providers.ErrBadSignature) {
		t.Fatalf("forged callback = %v", err)
	}
	o.NotifyURL = ""
	if out, _ := p.Callback(m, o, false); out != nil {
		t.Fatal("callback rendered without a notify URL")
	}
	if idValue("abc") != "abc" || idValue("12") != json.Number("12") || idValue("1.5") != "1.5" {
		t.Fatal("idValue")
	}
}
