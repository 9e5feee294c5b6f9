package usdtcnpay

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
)

func callbackAdapter(t testing.TB, opts map[string]string) *Adapter {
	t.Helper()
	ad, err := New(providers.Config{Account: testAccount, BaseURL: "https://user.usdtcnpay.com", MerchantID: testAccessKey,
		Secret: testSecretKey, NotifyURL: "https://tally.example/callbacks/usdtcnpay-main", Options: opts, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	return ad
}

// callbackFromURL is what tally's ingress hands ParseCallback for a call of u.
func callbackFromURL(t testing.TB, method, u string, body []byte) *providers.Callback {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return &providers.Callback{Method: method, Path: p.Path, Query: p.Query(), Header: http.Header{}, Body: body}
}

// Every shape the platform can send: either URL, either kind, GET or POST,
// with or without a body, and a notify URL that already has a query.
func TestParseCallbackShapes(t *testing.T) {
	ad := callbackAdapter(t, nil)
	for _, notify := range []string{"https://tally.example/callbacks/usdtcnpay-main", "https://tally.example/cb?account=usdtcnpay-main"} {
		for _, kind := range []providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
			success, fail, err := ad.CallbackURLs(notify, kind, "T-0001/中文&x=1")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(success, strings.SplitN(notify, "?", 2)[0]+"?") || (strings.Contains(notify, "account=") && !strings.Contains(success, "account=usdtcnpay-main")) {
				t.Errorf("success URL %s does not extend %s", success, notify)
			}
			for _, c := range []struct {
				u      string
				status providers.Status
				result string
			}{{success, providers.StatusSucceeded, "success"}, {fail, providers.StatusFailed, "fail"}} {
				for _, method := range []string{http.MethodPost, http.MethodGet} {
					for _, body := range [][]byte{nil, []byte(`{"zt":"已确认","amount":"999999"}`)} {
						ev, err := ad.ParseCallback(callbackFromURL(t, method, c.u, body))
						if err != nil {
							t.Fatalf("%s %s: %v", method, c.u, err)
						}
						if ev.Status != c.status || ev.Kind != kind || ev.OrderNo != "T-0001/中文&x=1" || ev.ProviderStatus != c.result ||
							ev.Verified || ev.Provider != "usdtcnpay" || ev.Currency != "CNY" || len(ev.Raw) == 0 {
							t.Errorf("%s %s: event %+v", method, c.u, ev)
						}
						if ev.Requested.Valid || ev.Paid.Valid || ev.Credited.Valid || ev.Fee.Valid || ev.ProviderOrderID != "" {
							t.Errorf("callback states amounts it does not carry: %+v", ev)
						}
					}
				}
			}
		}
	}
	// An ingress that passes the query only inside Path.
	success, _, _ := ad.CallbackURLs("https://tally.example/cb", providers.KindDeposit, "T-2")
	p, _ := url.Parse(success)
	ev, err := ad.ParseCallback(&providers.Callback{Method: "POST", Path: p.Path + "?" + p.RawQuery})
	if err != nil || ev.OrderNo != "T-2" || ev.Status != providers.StatusSucceeded {
		t.Errorf("query in Path: %+v, %v", ev, err)
	}
}

func TestParseCallbackRefusals(t *testing.T) {
	ad := callbackAdapter(t, nil)
	success, fail, _ := ad.CallbackURLs("https://tally.example/cb", providers.KindDeposit, "T-1")
	q := func(u string) url.Values { p, _ := url.Parse(u); return p.Query() }
	set := func(base url.Values, k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range base {
			c[kk] = append([]string(nil), vv...)
		}
		if v == "\x00delete" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	add := func(base url.Values, k, v string) url.Values {
		c := set(base, "", "\x00delete")
		c.Add(k, v)
		return c
	}
	other := callbackAdapter(t, map[string]string{OptionCallbackKey: "another-key"})
	otherSuccess, _, _ := other.CallbackURLs("https://tally.example/cb", providers.KindDeposit, "T-1")
	cases := []struct {
		name  string
		cb    *providers.Callback
		want  error
		reply int
	}{
		{"result flipped", &providers.Callback{Method: "POST", Query: set(q(fail), ParamResult, ResultSuccess)}, providers.ErrBadSignature, 400},
		{"kind flipped", &providers.Callback{Method: "POST", Query: set(q(success), ParamKind, "payout")}, providers.ErrBadSignature, 400},
		{"order changed", &providers.Callback{Method: "POST", Query: set(q(success), ParamOrderNo, "T-2")}, providers.ErrBadSignature, 400},
		{"sig changed", &providers.Callback{Method: "POST", Query: set(q(success), ParamSig, strings.Repeat("0", 64))}, providers.ErrBadSignature, 400},
		{"sig missing", &providers.Callback{Method: "POST", Query: set(q(success), ParamSig, "\x00delete")}, providers.ErrBadSignature, 400},
		{"sig empty", &providers.Callback{Method: "POST", Query: set(q(success), ParamSig, "")}, providers.ErrBadSignature, 400},
		{"another key", &providers.Callback{Method: "POST", Query: q(otherSuccess)}, providers.ErrBadSignature, 400},
		{"unsigned URL", &providers.Callback{Method: "POST", Query: url.Values{"result": {"success"}, "kind": {"deposit"}, "orderNo": {"T-1"}}}, providers.ErrBadSignature, 400},
		{"result twice", &providers.Callback{Method: "POST", Query: add(q(fail), ParamResult, ResultSuccess)}, providers.ErrInvalidRequest, 400},
		{"orderNo missing", &providers.Callback{Method: "POST", Query: set(q(success), ParamOrderNo, "\x00delete")}, providers.ErrInvalidRequest, 400},
		{"no query", &providers.Callback{Method: "POST", Body: []byte(`result=success&kind=deposit&orderNo=T-1`)}, providers.ErrInvalidRequest, 400},
		{"PUT", &providers.Callback{Method: "PUT", Query: q(success)}, providers.ErrInvalidRequest, 400},
		{"nil", nil, providers.ErrInvalidRequest, 400},
	}
	for _, c := range cases {
		ev, err := ad.ParseCallback(c.cb)
		if !errors.Is(err, c.want) || ev != nil {
			t.Errorf("%s: %+v, %v; want %v", c.name, ev, err, c.want)
		}
		if r := ad.Reply(err); r.Status != c.reply || string(r.Body) == Ack {
			t.Errorf("%s: reply %d %q", c.name, r.Status, r.Body)
		}
	}
	// A validly signed URL with values outside the protocol is still refused.
	for _, bad := range [][3]string{{"ok", "deposit", "T-1"}, {"success", "refund", "T-1"}, {"success", "deposit", " "}} {
		vals := url.Values{ParamResult: {bad[0]}, ParamKind: {bad[1]}, ParamOrderNo: {bad[2]},
			ParamSig: {CallbackSignature(testSecretKey, bad[0], bad[1], bad[2])}}
		if _, err := ad.ParseCallback(&providers.Callback{Method: "GET", Query: vals}); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("signed %v: %v, want ErrInvalidRequest", bad, err)
		}
	}
	// callback_key lets URLs issued under an old secretKey verify.
	rotated := callbackAdapter(t, map[string]string{OptionCallbackKey: "another-key"})
	if _, err := rotated.ParseCallback(&providers.Callback{Method: "POST", Query: q(otherSuccess)}); err != nil {
		t.Errorf("callback_key: %v", err)
	}
}

func TestReply(t *testing.T) {
	ad := callbackAdapter(t, nil)
	cases := []struct {
		err    error
		status int
		body   string
	}{
		{nil, 200, "success"},
		{&providers.Error{Kind: providers.ErrBadSignature}, 400, "fail"},
		{&providers.Error{Kind: providers.ErrInvalidRequest}, 400, "fail"},
		{&providers.Error{Kind: providers.ErrTransient}, 500, "fail"},
		{errors.New("database down"), 500, "fail"},
	}
	for _, c := range cases {
		r := ad.Reply(c.err)
		if r.Status != c.status || string(r.Body) != c.body || !strings.HasPrefix(r.ContentType, "text/plain") {
			t.Errorf("Reply(%v) = %d %q %q", c.err, r.Status, r.Body, r.ContentType)
		}
	}
}

// The simulator's callback as the receiver sees it: POST, empty body, the URL
// the adapter built.
func TestSimulatorCallbackShape(t *testing.T) {
	e := newEnv(t)
	e.deposit("D-CB", "800")
	e.mustControl("POST", "/orders/D-CB/pay", "")
	waitFor(t, "callback", func() bool { return len(e.rcv.snapshot()) == 1 })
	got := e.rcv.snapshot()[0]
	if got.method != http.MethodPost || len(got.body) != 0 || got.path != "/callbacks/"+testAccount || got.status != 200 || got.err != nil {
		t.Errorf("callback %s %s body %q status %d err %v", got.method, got.path, got.body, got.status, got.err)
	}
	// The hint is confirmed by a query before anything is posted.
	if ev := e.query(got.ev.Kind, got.ev.OrderNo); ev.Status != got.ev.Status || !ev.Verified {
		t.Errorf("query after hint %+v", ev)
	}
	// The control API's resend calls the same URL again.
	e.mustControl("POST", "/orders/D-CB/notify", "")
	waitFor(t, "resent callback", func() bool { return len(e.rcv.snapshot()) == 2 })
	again := e.rcv.snapshot()[1]
	if again.status != 200 || again.ev.Status != providers.StatusSucceeded || again.ev.OrderNo != "D-CB" || string(again.ev.Raw) != string(got.ev.Raw) {
		t.Errorf("resent callback %+v", again)
	}
	// Pending and in-progress states call nothing.
	e.deposit("D-CB2", "100")
	e.mustControl("POST", "/orders/D-CB2/process", "")
	e.mustControl("POST", "/orders/D-CB2/notify", "")
	time.Sleep(50 * time.Millisecond)
	if d := e.deliveriesOf("D-CB2"); len(d) != 0 {
		t.Errorf("callbacks for a charge under review: %+v", d)
	}
}

// A receiver that fails to store the callback is called again on the
// schedule (1, 2, 5 ... minutes, scaled) until it acknowledges.
func TestCallbackRetriedUntilAck(t *testing.T) {
	const scale = 600 // 1 min = 100 ms
	e := newEnv(t, withScale(scale), withReceiverFailFirst(3))
	e.deposit("D-RT", "800")
	e.mustControl("POST", "/orders/D-RT/pay", "")
	waitFor(t, "an acknowledged delivery", func() bool {
		d := e.deliveriesOf("D-RT")
		return len(d) > 0 && d[len(d)-1].Acked
	})
	d := e.deliveriesOf("D-RT")
	if len(d) != 4 {
		t.Fatalf("%d attempts, want 4: %+v", len(d), d)
	}
	schedule := protocol{}.Schedule()
	for i, a := range d {
		if a.Attempt != i+1 || a.Acked != (i == 3) || (i < 3 && a.Status != 500) || (i == 3 && a.Status != 200) {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
		if i > 0 {
			gap := a.At.Sub(d[i-1].At)
			want := schedule[i-1] / scale
			if gap < want-10*time.Millisecond || gap > want+400*time.Millisecond {
				t.Errorf("gap before attempt %d = %v, want about %v", i+1, gap, want)
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.deliveriesOf("D-RT")); n != 4 {
		t.Errorf("%d attempts after the ack, want 4", n)
	}
}

// A receiver that never acknowledges gets the whole schedule: 7 calls, then none.
func TestCallbackScheduleExhausted(t *testing.T) {
	const scale = 12000 // 1 h 48 min in about 0.55 s
	e := newEnv(t, withScale(scale), withReceiverAlwaysFailing())
	e.payout("W-NA", "100")
	e.mustControl("POST", "/orders/W-NA/fail", "")
	total := time.Duration(0)
	for _, s := range (protocol{}).Schedule() {
		total += s
	}
	time.Sleep(total/scale + 500*time.Millisecond)
	d := e.deliveriesOf("W-NA")
	if len(d) != 7 {
		t.Fatalf("%d attempts, want 7", len(d))
	}
	for _, a := range d {
		if a.Acked || a.Status != 500 {
			t.Errorf("attempt %+v", a)
		}
	}
}

// Callback faults of the control API, seen by the receiver.
func TestCallbackFaults(t *testing.T) {
	e := newEnv(t)
	script := func(orderNo, s string) { e.mustControl("PUT", "/scripts/"+orderNo, s) }

	// Dropped: nothing arrives, the query still tells the truth.
	script("D-DROP", `{"outcome":"succeed","callbacks":{"drop":true}}`)
	e.deposit("D-DROP", "100")
	e.waitStatus(providers.KindDeposit, "D-DROP", providers.StatusSucceeded)

	// Duplicated: three identical hints, all acknowledged.
	script("D-DUPE", `{"outcome":"succeed","callbacks":{"duplicate":2}}`)
	e.deposit("D-DUPE", "100")

	// Delayed: the first call comes 10 scaled minutes (100 ms) late.
	script("D-LATE", `{"outcome":"succeed","callbacks":{"delay":"10m"}}`)
	e.deposit("D-LATE", "100")

	// Reordered: success then reversal, delivered fail first.
	script("D-REORD", `{"outcome":"succeed","reverse_after":"1m","callbacks":{"reorder":true}}`)
	e.deposit("D-REORD", "100")

	// Forged: a copy with the result flipped and an altered amount comes
	// first; the receiver refuses it, the genuine call follows.
	script("W-FORGE", `{"outcome":"succeed","callbacks":{"bad_signature":true}}`)
	e.payout("W-FORGE", "100")

	waitFor(t, "all callbacks", func() bool {
		return len(e.deliveriesOf("D-DUPE")) >= 3 && len(e.deliveriesOf("D-LATE")) >= 1 &&
			len(e.deliveriesOf("D-REORD")) >= 2 && len(e.deliveriesOf("W-FORGE")) >= 2
	})
	time.Sleep(100 * time.Millisecond)

	if d := e.deliveriesOf("D-DROP"); len(d) != 0 {
		t.Errorf("dropped callback delivered: %+v", d)
	}
	byOrder := map[string][]received{}
	for _, r := range e.rcv.snapshot() {
		no := ""
		if r.ev != nil {
			no = r.ev.OrderNo
		} else if r.err != nil {
			no = "refused"
		}
		byOrder[no] = append(byOrder[no], r)
	}
	if got := byOrder["D-DUPE"]; len(got) != 3 {
		t.Errorf("duplicated: %d calls, want 3", len(got))
	} else {
		for _, r := range got {
			if r.status != 200 || r.ev.Status != providers.StatusSucceeded {
				t.Errorf("duplicate %+v", r)
			}
		}
	}
	late, _ := e.sim.Engine().FindOrder(testAccessKey, "D-LATE")
	if d := e.deliveriesOf("D-LATE"); len(d) != 1 || d[0].At.Sub(late.UpdatedAt) < 95*time.Millisecond {
		t.Errorf("delayed delivery %+v (paid at %v)", d, late.UpdatedAt)
	}
	if got := byOrder["D-REORD"]; len(got) != 2 || got[0].ev.Status != providers.StatusFailed || got[1].ev.Status != providers.StatusSucceeded {
		t.Errorf("reordered callbacks %+v, want failed before succeeded", got)
	} else if ev := e.query(providers.KindDeposit, "D-REORD"); ev.Status != providers.StatusFailed {
		// The last hint to arrive says success; the query says what is true.
		t.Errorf("reordered order queried %s, want failed", ev.Status)
	}
	refused := byOrder["refused"]
	if len(refused) != 1 || !errors.Is(refused[0].err, providers.ErrBadSignature) || refused[0].status != 400 {
		t.Errorf("forged callback %+v", refused)
	}
	if got := byOrder["W-FORGE"]; len(got) != 1 || got[0].ev.Status != providers.StatusSucceeded || got[0].status != 200 {
		t.Errorf("genuine callback after the forged one %+v", got)
	}
	d := e.deliveriesOf("W-FORGE")
	forged, genuine := 0, 0
	for _, x := range d {
		if x.Forged && !x.Acked && x.Status == 400 {
			forged++
		}
		if !x.Forged && x.Acked {
			genuine++
		}
	}
	if forged != 1 || genuine != 1 {
		t.Errorf("W-FORGE deliveries %+v", d)
	}
	kinds := map[string]int{}
	for _, in := range e.sim.Engine().Injected() {
		kinds[string(in.Kind)]++
	}
	for _, k := range []string{"drop_callback", "duplicate_callback", "delay_callback", "reorder_callbacks", "bad_signature", "reversal"} {
		if kinds[k] != 1 {
			t.Errorf("injected %s %d times, want 1 (%v)", k, kinds[k], kinds)
		}
	}
}

// FuzzParseCallback: no input panics; whatever is accepted carries a sig that
// matches its result, kind and orderNo, is a hint (not Verified) without
// amounts, and stops verifying when any one of those three is altered.
func FuzzParseCallback(f *testing.F) {
	ad := callbackAdapter(f, nil)
	for _, kind := range []providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
		for _, no := range []string{"T20240202-0001", "订单&no=1", ""} {
			s, fl, _ := ad.CallbackURLs("https://tally.example/callbacks/usdtcnpay-main?acct=1", kind, no)
			for _, u := range []string{s, fl} {
				p, _ := url.Parse(u)
				f.Add("POST", p.RawQuery, []byte(nil))
				f.Add("GET", p.RawQuery, []byte(`{"zt":"已确认"}`))
				f.Add("POST", p.RawQuery+"&result=success", []byte(nil))
			}
		}
	}
	f.Add("POST", "result=success&kind=deposit&orderNo=T1&sig=00", []byte(nil))
	f.Add("", "%zz&&=;", []byte{0xff})
	f.Fuzz(func(t *testing.T, method, rawQuery string, body []byte) {
		q, _ := url.ParseQuery(rawQuery)
		ev, err := ad.ParseCallback(&providers.Callback{Method: method, Path: "/callbacks/usdtcnpay-main", Query: q, Body: body})
		if err != nil {
			if ev != nil {
				t.Fatalf("event %+v with error %v", ev, err)
			}
			if providers.KindOf(err) == nil {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		result, kind, orderNo := q.Get(ParamResult), q.Get(ParamKind), q.Get(ParamOrderNo)
		if !VerifyCallbackSignature(testSecretKey, result, kind, orderNo, q.Get(ParamSig)) {
			t.Fatalf("accepted a callback whose sig does not verify: %q", rawQuery)
		}
		if ev.Verified || ev.Requested.Valid || ev.Paid.Valid || ev.Credited.Valid || ev.Fee.Valid {
			t.Fatalf("callback event claims more than a hint: %+v", ev)
		}
		want := map[string]providers.Status{ResultSuccess: providers.StatusSucceeded, ResultFail: providers.StatusFailed}[result]
		if ev.Status != want || string(ev.Kind) != kind || ev.OrderNo != orderNo {
			t.Fatalf("event %+v does not match %q", ev, rawQuery)
		}
		for _, name := range []string{ParamResult, ParamKind, ParamOrderNo} {
			m := url.Values{}
			for k, v := range q {
				m[k] = append([]string(nil), v...)
			}
			m.Set(name, mutate(m.Get(name)))
			if _, err := ad.ParseCallback(&providers.Callback{Method: method, Query: m, Body: body}); !errors.Is(err, providers.ErrBadSignature) {
				t.Fatalf("tampered %s (%q -> %q) accepted or misclassified: %v", name, q.Get(name), m.Get(name), err)
			}
		}
	})
}

// mutate changes a signed value into another plausible one.
func mutate(v string) string {
	switch v {
	case ResultSuccess:
		return ResultFail
	case ResultFail:
		return ResultSuccess
	case string(providers.KindDeposit):
		return string(providers.KindPayout)
	case string(providers.KindPayout):
		return string(providers.KindDeposit)
	}
	return v + "1"
}
