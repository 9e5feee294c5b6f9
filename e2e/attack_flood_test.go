package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// attack sends one request to tally and reads its answer whole.
func attack(t *testing.T, client *http.Client, method, url, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Error(err)
		return 0, nil, ""
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var signRE = regexp.MustCompile(`"sign"\s*:\s*"[^"]*"`)

func randomToken(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomInt(n int64) int64 {
	v, _ := rand.Int(rand.Reader, big.NewInt(n))
	return v.Int64()
}

// inboxGrowth is what the callback ingress stored for one account.
type inboxGrowth struct {
	rejected, stored int // rejected rows; every row
	windows          int // hours with rejected deliveries counted
	counted, sampled int64
	discrepancies    int // rejected_callback discrepancies
}

func growthOf(t *testing.T, e *tallytest.Env, provider string) inboxGrowth {
	t.Helper()
	ctx := context.Background()
	acct, err := e.Merchants.ProviderAccount(ctx, e.Merchant.ID, e.Accounts[provider])
	if err != nil {
		t.Fatal(err)
	}
	var g inboxGrowth
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE verdict = 'rejected'), count(*) FROM callback_inbox WHERE provider_account_id = $1`,
		acct.ID).Scan(&g.rejected, &g.stored); err != nil {
		t.Fatal(err)
	}
	if err := e.Pool.QueryRow(ctx, `SELECT count(*), COALESCE(sum(deliveries), 0)::bigint, COALESCE(sum(sampled), 0)::bigint
		FROM callback_rejections WHERE provider_account_id = $1`, acct.ID).Scan(&g.windows, &g.counted, &g.sampled); err != nil {
		t.Fatal(err)
	}
	for _, d := range e.Discrepancies(discrepancies.RejectedCallback) {
		if d.ProviderAccountID == acct.ID {
			g.discrepancies++
		}
	}
	return g
}

// TestJunkFloodBoundedAndVerifiedPosted: 10,000 junk deliveries (bad
// signatures with random query strings and bodies, unknown and malformed
// keys, the old name route, GETs to POST-only accounts, oversized bodies)
// from one source, with genuine signed callbacks sent among them. The
// database grows by a bounded amount (per account at most the hour's samples
// of rejected rows and one rejected_callback discrepancy per hour; nothing
// for a method or key refused), every refusal by a rate limit is 503 with
// Retry-After, and every genuine callback is acknowledged at its first try
// and settles its deposit exactly once.
func TestJunkFloodBoundedAndVerifiedPosted(t *testing.T) {
	t.Parallel()
	const junk = 10_000
	started := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	ic := e.InterceptCallbacks()
	type genuine struct {
		order    orders.Order
		account  string
		amount   string
		callback tallytest.CapturedCallback
	}
	var real []*genuine
	for i := range 20 {
		o := brlDeposit(e, fmt.Sprintf("fl-cx-%d", i), fmt.Sprintf("%d.00", 10+i))
		e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
		real = append(real, &genuine{order: o, account: fmt.Sprintf("liabilities:customer:fl-cx-%d:BRL", i), amount: fmt.Sprint(10 + i)})
	}
	for i := range 10 {
		o := e.CreateOrder("deposit", map[string]any{"provider_account": "cpay-main", "customer_id": fmt.Sprintf("fl-cp-%d", i),
			"amount": fmt.Sprint(20 + i), "currency": "USDT"})
		e.Control("cpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
		real = append(real, &genuine{order: o, account: fmt.Sprintf("liabilities:customer:fl-cp-%d:USDT", i), amount: fmt.Sprint(20 + i)})
	}
	for _, g := range real {
		g.callback = ic.WaitFor(g.order.ProviderOrderNo)
	}
	ic.Release()
	before := map[string]inboxGrowth{}
	for _, p := range []string{"cxpay", "cpay", "vpay", "usdtcnpay", "usdtpay"} {
		before[p] = growthOf(t, e, p)
	}
	// A genuine body with its signature replaced: a forgery of a real order.
	forged := signRE.ReplaceAllString(string(real[0].callback.Body), `"sign":"0123456789abcdef0123456789abcdef"`)
	if forged == string(real[0].callback.Body) {
		t.Fatalf("no sign field to forge in %s", real[0].callback.Body)
	}
	big := `{"orderId":"` + strings.Repeat("x", 65<<10) + `"}`

	// The junk, by class; each item is one request.
	type request struct {
		method, url, body string
		genuine           *genuine
	}
	jobs := make(chan request, 64)
	var classCount [7]atomic.Int64
	go func() {
		defer close(jobs)
		next := 0
		for i := range junk {
			var r request
			switch c := i % 7; c {
			case 0: // a forged CXPay callback, with a random query string
				r = request{"POST", e.CallbackURL("cxpay") + "?r=" + randomToken(t, 6), forged, nil}
			case 1: // random JSON to C-Pay's key
				r = request{"POST", e.CallbackURL("cpay") + "?n=" + strconv.Itoa(i), fmt.Sprintf(`{"merchantTradeNo":"J%d","status":"14"}`, i), nil}
			case 2: // a well-formed key no account has
				r = request{"POST", e.URL + "/callbacks/" + randomToken(t, 18), forged, nil}
			case 3: // the old name route, and paths that cannot be keys
				r = request{"POST", e.URL + []string{"/callbacks/cxpay-main", "/callbacks/x", "/callbacks/..%2f" + randomToken(t, 3)}[i%3], forged, nil}
			case 4: // GET to a POST-only provider's account
				r = request{"GET", e.CallbackURL("vpay") + "?orderNo=" + strconv.Itoa(i) + "&sign=" + randomToken(t, 8), "", nil}
			case 5: // USDTCNPAY's URLs with a forged sig, as GET and POST
				r = request{[]string{"GET", "POST"}[i%2], e.CallbackURL("usdtcnpay") + "?result=success&kind=deposit&orderNo=D" + strconv.Itoa(i) +
					"&sig=" + randomToken(t, 32), "", nil}
			case 6: // an oversized body now and then, else junk to UsdtPay
				if i%70 == 6 {
					r = request{"POST", e.CallbackURL("cxpay"), big, nil}
				} else {
					r = request{"POST", e.CallbackURL("usdtpay"), "orderNo=" + strconv.Itoa(i) + "&sign=bad", nil}
				}
			}
			classCount[i%7].Add(1)
			jobs <- r
			// Genuine callbacks go out among the junk, each twice (as a
			// provider that did not hear the first answer).
			if i%(junk/(2*len(real))) == 0 && next < 2*len(real) {
				g := real[next%len(real)]
				u := e.URL + g.callback.Path
				if g.callback.RawQuery != "" {
					u += "?" + g.callback.RawQuery
				}
				jobs <- request{g.callback.Method, u, string(g.callback.Body), g}
				next++
			}
		}
		for ; next < 2*len(real); next++ {
			g := real[next%len(real)]
			jobs <- request{g.callback.Method, e.URL + g.callback.Path, string(g.callback.Body), g}
		}
	}()

	var mu sync.Mutex
	statuses := map[int]int{}
	var genuineAcks, genuineRefused atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				status, hdr, body := attack(t, client, r.method, r.url, r.body)
				if r.genuine != nil {
					if status == http.StatusOK && body == "success" || status == http.StatusOK && body == "OK" {
						genuineAcks.Add(1)
					} else {
						genuineRefused.Add(1)
						t.Errorf("genuine callback of order %s: %d %s", r.genuine.order.ProviderOrderNo, status, body)
					}
					continue
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
				switch status {
				case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
				case http.StatusServiceUnavailable:
					if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 {
						t.Errorf("503 without a Retry-After: %q", hdr.Get("Retry-After"))
					}
				default:
					t.Errorf("junk %s %s answered %d %q", r.method, r.url, status, body)
				}
			}
		}()
	}
	wg.Wait()
	flood := time.Since(started)
	total := 0
	for _, n := range statuses {
		total += n
	}
	if total != junk || genuineAcks.Load() != int64(2*len(real)) {
		t.Fatalf("%d junk answered (%v), %d genuine acknowledged", total, statuses, genuineAcks.Load())
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Fatalf("the failure limits never engaged: %v", statuses)
	}

	// Every genuine deposit settles exactly once.
	for _, g := range real {
		e.WaitStatus(g.order.ID, orders.StatusSucceeded)
	}
	e.WaitIdle()
	for _, g := range real {
		if got := e.Balance(g.account); !got.Equal(dec(g.amount)) {
			t.Errorf("%s = %s, want %s", g.account, got, g.amount)
		}
		var rows, deliveries int
		if err := e.Pool.QueryRow(context.Background(), `SELECT count(*), COALESCE(sum(deliveries), 0)::int FROM callback_inbox
			WHERE order_id = $1 AND verdict = 'accepted'`, g.order.ID).Scan(&rows, &deliveries); err != nil {
			t.Fatal(err)
		}
		if rows != 1 || deliveries < 2 {
			t.Errorf("order %s: %d accepted rows with %d deliveries, want 1 row", g.order.ProviderOrderNo, rows, deliveries)
		}
	}
	e.CheckLedger()

	// The database grew by a bounded amount.
	samples := callbacks.DefaultRejectedSamplesPerHour
	for p, genuineRows := range map[string]int{"cxpay": 20, "cpay": 10, "vpay": 0, "usdtcnpay": 0, "usdtpay": 0} {
		g, b := growthOf(t, e, p), before[p]
		windows := g.windows - b.windows
		if g.rejected-b.rejected > samples*max(windows, 1) || g.discrepancies-b.discrepancies > max(windows, 1) ||
			g.stored-b.stored != genuineRows+(g.rejected-b.rejected) || g.sampled-b.sampled != int64(g.rejected-b.rejected) {
			t.Errorf("%s grew: %d rejected rows, %d rows in all (%d genuine), %d rejected_callback discrepancies, %d hours; counted %d, sampled %d",
				p, g.rejected-b.rejected, g.stored-b.stored, genuineRows, g.discrepancies-b.discrepancies, windows, g.counted-b.counted, g.sampled-b.sampled)
		}
		if p == "vpay" && (g.stored != b.stored || g.counted != b.counted) {
			t.Errorf("GETs to VPay's account were stored or counted: %+v", g)
		}
		if p != "vpay" && g.counted-b.counted < 1 {
			t.Errorf("%s: no rejected delivery counted", p)
		}
	}
	var rejectedRows int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM callback_inbox WHERE verdict = 'rejected'`).Scan(&rejectedRows); err != nil {
		t.Fatal(err)
	}
	if rejectedRows > 4*samples*2 { // four accounts took junk; at most two hours
		t.Errorf("%d rejected rows stored", rejectedRows)
	}
	t.Logf("%d junk deliveries and %d genuine in %s (%s since the test started): %v", junk, 2*len(real), flood.Round(time.Millisecond),
		time.Since(started).Round(time.Millisecond), statuses)
}
