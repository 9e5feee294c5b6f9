package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// sameEventVariants returns copies of a callback body that differ in bytes but
// say the same thing: a form's fields in other orders; a JSON object's members
// in other orders and with other whitespace, each member's value kept byte for
// byte (what the providers sign). The original comes first; no two are equal.
func sameEventVariants(t *testing.T, c tallytest.CapturedCallback) [][]byte {
	t.Helper()
	out := [][]byte{c.Body}
	add := func(b []byte) {
		if !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, b) }) {
			out = append(out, b)
		}
	}
	if strings.HasPrefix(c.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		pairs := strings.Split(string(c.Body), "&")
		slices.Reverse(pairs)
		add([]byte(strings.Join(pairs, "&")))
		vals, err := url.ParseQuery(string(c.Body))
		if err != nil {
			t.Fatal(err)
		}
		add([]byte(vals.Encode()))
		return out
	}
	type member struct {
		key   string
		value json.RawMessage
	}
	var members []member
	dec := json.NewDecoder(bytes.NewReader(c.Body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("callback body is not a JSON object: %s", c.Body)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		members = append(members, member{tok.(string), v})
	}
	write := func(ms []member, colon, comma, open, close string) []byte {
		var b bytes.Buffer
		b.WriteString(open)
		for i, m := range ms {
			if i > 0 {
				b.WriteString(comma)
			}
			k, _ := json.Marshal(m.key)
			b.Write(k)
			b.WriteString(colon)
			b.Write(m.value)
		}
		b.WriteString(close)
		return b.Bytes()
	}
	reversed := slices.Clone(members)
	slices.Reverse(reversed)
	add(write(reversed, ":", ",", "{", "}"))
	add(write(members, ": ", ",\n  ", "{\n  ", "\n}\n"))
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b member) int { return strings.Compare(a.key, b.key) })
	add(write(sorted, " : ", " , ", " { ", " } "))
	return out
}

// TestSameEventStorm: each provider callback arrives as several copies that
// differ in bytes but mean the same event (fields reordered, whitespace, a
// changed irrelevant header), each copy several times, all at once, across four
// providers. Byte-different copies are separate inbox rows, so their
// process_callback jobs run concurrently on the same orders; each order still
// posts exactly once.
func TestSameEventStorm(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{CallbackWorkers: 16}})
	ic := e.InterceptCallbacks()
	type placed struct {
		order    orders.Order
		customer string
		account  string // ledger account credited
		want     string
	}
	var all []placed
	for i := 0; i < 3; i++ {
		c := fmt.Sprintf("x%d", i)
		o := brlDeposit(e, "cx-"+c, fmt.Sprintf("%d.00", 10+i))
		e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
		all = append(all, placed{o, "cx-" + c, "liabilities:customer:cx-" + c + ":BRL", fmt.Sprint(10 + i)})

		o = e.CreateOrder("deposit", map[string]any{"provider_account": "cpay-main", "customer_id": "cp-" + c, "amount": fmt.Sprint(20 + i), "currency": "USDT"})
		e.Control("cpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
		all = append(all, placed{o, "cp-" + c, "liabilities:customer:cp-" + c + ":USDT", fmt.Sprint(20 + i)})

		o = e.CreateOrder("deposit", map[string]any{"provider_account": "vpay-main", "customer_id": "vp-" + c, "amount": "100.00", "currency": "CNY", "pay_currency": "USDT"})
		e.Control("vpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
		all = append(all, placed{o, "vp-" + c, "liabilities:customer:vp-" + c + ":CNY", "100"})

		o = e.CreateOrder("deposit", map[string]any{"provider_account": "usdtpay-main", "customer_id": "up-" + c, "amount": "100.00", "currency": "CNY", "return_url": "http://merchant.example/paid"})
		payerPays(t, e, "usdtpay", o)
		all = append(all, placed{o, "up-" + c, "liabilities:customer:up-" + c + ":CNY", "100"})
	}
	type delivery struct {
		cb   tallytest.CapturedCallback
		body []byte
		hdr  http.Header
	}
	var storm []delivery
	distinct := map[int64]int{}
	for _, p := range all {
		cb := ic.WaitFor(p.order.ProviderOrderNo)
		vs := sameEventVariants(t, cb)
		if len(vs) < 3 {
			t.Fatalf("%s callback: only %d distinct variants of %s", p.order.Provider, len(vs), cb.Body)
		}
		distinct[p.order.ID] = len(vs)
		for i, v := range vs {
			for copyNo := 0; copyNo <= i%3; copyNo++ {
				// A copy with a changed header is the same request to tally.
				storm = append(storm, delivery{cb, v, http.Header{"X-Delivery-Attempt": {fmt.Sprint(copyNo)}, "User-Agent": {fmt.Sprintf("storm/%d", copyNo)}}})
			}
		}
	}
	ic.Release()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, d := range storm {
		wg.Add(1)
		go func(d delivery) {
			defer wg.Done()
			<-start
			if status, body := e.Deliver(d.cb, d.body, d.hdr); status != http.StatusOK {
				t.Errorf("delivery to %s: %d %s", d.cb.Path, status, body)
			}
		}(d)
	}
	close(start)
	wg.Wait()
	for _, p := range all {
		e.WaitStatus(p.order.ID, orders.StatusSucceeded)
	}
	e.WaitIdle()
	for _, p := range all {
		if got := e.Balance(p.account); !got.Equal(dec(p.want)) {
			t.Errorf("%s (%s) = %s, want %s: a copy posted twice or none posted", p.account, p.order.Provider, got, p.want)
		}
		// One inbox row per distinct body, every one processed, one applied.
		var rows, processed, applied int
		if err := e.Pool.QueryRow(context.Background(), `SELECT count(*), count(processed_at), count(*) FILTER (WHERE outcome = 'applied')
			FROM callback_inbox WHERE order_id = $1`, p.order.ID).Scan(&rows, &processed, &applied); err != nil {
			t.Fatal(err)
		}
		if rows != distinct[p.order.ID] || processed != rows || applied != 1 {
			t.Errorf("%s order %d: %d inbox rows (%d processed, %d applied), want %d, all processed, 1 applied",
				p.order.Provider, p.order.ID, rows, processed, applied, distinct[p.order.ID])
		}
	}
	if ds := e.Discrepancies(""); len(ds) != 0 {
		t.Fatalf("copies of one event opened discrepancies: %+v", ds)
	}
	e.CheckLedger()
}
