package usdtcnpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Concurrent callers on a cold cache share one token fetch.
func TestTokenSharedByConcurrentCallers(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: fmt.Sprintf("D-C%02d", i), Amount: dec("100"), Currency: "CNY"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.TokensIssued(); n != 1 {
		t.Errorf("%d token fetches for 32 concurrent calls, want 1", n)
	}
	if n := len(e.sim.Engine().Orders()); n != 32 {
		t.Errorf("%d orders, want 32", n)
	}
}

// The token is replaced 60 s before its 600 s are up, not before, and not after.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, withClock(clk))
	e.deposit("D-T1", "100")
	clk.Advance(539 * time.Second)
	e.query(providers.KindDeposit, "D-T1")
	if n := e.sim.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens at 539 s, want 1", n)
	}
	clk.Advance(2 * time.Second) // 541 s: inside the last minute
	e.query(providers.KindDeposit, "D-T1")
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens at 541 s, want 2 (refreshed a minute early)", n)
	}
	clk.Advance(539 * time.Second)
	e.query(providers.KindDeposit, "D-T1")
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens 539 s after the refresh, want 2", n)
	}
}

// A short lifetime is refreshed at 80 % of its life.
func TestTokenShortLifetime(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, withClock(clk), withMerchantOption(SimOptionTokenTTL, "10"))
	e.deposit("D-T2", "100")
	clk.Advance(7900 * time.Millisecond)
	e.query(providers.KindDeposit, "D-T2")
	if n := e.sim.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens at 7.9 s of 10 s, want 1", n)
	}
	clk.Advance(200 * time.Millisecond)
	e.query(providers.KindDeposit, "D-T2")
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens at 8.1 s of 10 s, want 2", n)
	}
}

// A failed refresh falls back on the token that is still valid.
func TestTokenRefreshFailureKeepsValidToken(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, withClock(clk))
	e.deposit("D-T3", "100")
	clk.Advance(550 * time.Second)
	if err := e.sim.Engine().AddEndpointFault(sim.EndpointFault{Path: PathToken, Mode: sim.ModeError5xx, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if ev := e.query(providers.KindDeposit, "D-T3"); ev.Status != providers.StatusPending {
		t.Fatalf("query with the old token: %+v", ev)
	}
	if n := e.sim.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens, want 1", n)
	}
	clk.Advance(5 * time.Second)
	e.query(providers.KindDeposit, "D-T3")
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens after the fault cleared, want 2", n)
	}
	// Once the old token has expired, a failing fetch is the caller's error.
	clk.Advance(700 * time.Second)
	if err := e.sim.Engine().AddEndpointFault(sim.EndpointFault{Path: PathToken, Mode: sim.ModeError5xx, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D-T4", Amount: dec("100"), Currency: "CNY"})
	if !errors.Is(err, providers.ErrTransient) || errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("create with the token endpoint down: %v, want ErrTransient (nothing was sent)", err)
	}
	if _, err := e.sim.Engine().FindOrder(testAccessKey, "D-T4"); err == nil {
		t.Fatal("order created although the token fetch failed")
	}
	e.deposit("D-T4", "100")
}

// A token the platform no longer accepts is replaced and the call sent again,
// once; concurrent callers refused with the same token share one new fetch.
func TestTokenRefetchedOnAuthError(t *testing.T) {
	e := newEnv(t)
	e.deposit("D-A1", "100")
	e.sim.RevokeTokens()
	e.deposit("D-A2", "100") // a create, refused with 401 then sent again
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens after one revocation, want 2", n)
	}
	if n := len(e.sim.Engine().Orders()); n != 2 {
		t.Fatalf("%d orders, want 2 (the refused create was not acted on)", n)
	}
	e.sim.RevokeTokens()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-A1"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := e.sim.TokensIssued(); n != 3 {
		t.Fatalf("%d tokens after 16 concurrent refusals, want 3", n)
	}
}

// The platform's token dies earlier than the adapter was told: the 401 makes
// the adapter fetch anew.
func TestTokenExpiredAtPlatform(t *testing.T) {
	clk := newFakeClock()
	lie := rewriter(PathToken, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		status, body := recordAnswer(next, r)
		var env struct {
			Msg  string         `json:"msg"`
			Code int            `json:"code"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &env)
		env.Data["expireTime"] = 3600
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(env)
		return true
	})
	e := newEnv(t, withClock(clk), withWrap(lie))
	e.deposit("D-X1", "100")
	clk.Advance(700 * time.Second) // past the platform's 600 s, within the claimed 3600 s
	e.query(providers.KindDeposit, "D-X1")
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
}

// A platform that refuses every token: one new fetch, then the refusal is final.
func TestTokenRefusedTwiceIsRejected(t *testing.T) {
	var calls int
	var mu sync.Mutex
	always401 := rewriter(PathGetCharge, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		mu.Lock()
		calls++
		mu.Unlock()
		writeEnvelope(w, http.StatusOK, CodeAuth, "Token无效或已过期", nil)
		return true
	})
	e := newEnv(t, withWrap(always401))
	_, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-1"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrRejected) || pe.Code != "401" {
		t.Fatalf("QueryOrder = %v, want ErrRejected code 401", err)
	}
	if n := e.sim.TokensIssued(); n != 2 || calls != 2 {
		t.Fatalf("%d tokens and %d getcharge calls, want 2 and 2", n, calls)
	}
}

// HTTP 401 without an envelope is a token refusal too.
func TestBareHTTP401IsATokenRefusal(t *testing.T) {
	var once sync.Once
	first401 := rewriter(PathGetCharge, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		hit := false
		once.Do(func() { hit = true })
		if hit {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		}
		return hit
	})
	e := newEnv(t, withWrap(first401))
	e.deposit("D-B1", "100")
	if ev := e.query(providers.KindDeposit, "D-B1"); ev.Status != providers.StatusPending {
		t.Fatalf("query %+v", ev)
	}
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
}

// A rotated platform key: the body no longer decrypts (1001); the adapter
// fetches a token, which brings the new key, and sends again.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	e.deposit("D-K1", "100")
	old := e.sim.PublicKey()
	if err := e.sim.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if e.sim.PublicKey() == old {
		t.Fatal("key did not change")
	}
	e.deposit("D-K2", "100")
	if n := e.sim.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
}

func TestOAEPPaddingOption(t *testing.T) {
	e := newEnv(t, withMerchantOption(OptionRSAPadding, PaddingOAEP), withAdapterOption(OptionRSAPadding, PaddingOAEP))
	e.deposit("D-O1", "100")
	if ev := e.query(providers.KindDeposit, "D-O1"); ev.Status != providers.StatusPending {
		t.Fatalf("query %+v", ev)
	}
	// A PKCS#1 client against an OAEP platform: decryption fails, a new token
	// does not help, the refusal is final.
	pk, err := New(providers.Config{BaseURL: e.api.URL, MerchantID: testAccessKey, Secret: testSecretKey, NotifyURL: "http://127.0.0.1:1/cb", HTTPClient: testClient, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pk.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-O1"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrInvalidRequest) || pe.Code != "1001" {
		t.Fatalf("PKCS#1 against OAEP: %v, want ErrInvalidRequest 1001", err)
	}
}

// A Timestamp in seconds is refused by the simulator, which reads
// milliseconds: the option exists for a real platform that wants seconds.
func TestTimestampUnit(t *testing.T) {
	e := newEnv(t, withAdapterOption(OptionTimestampUnit, "s"))
	_, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-1"})
	if pe := providerError(t, err); !errors.Is(err, providers.ErrInvalidRequest) || pe.Code != "1002" {
		t.Fatalf("seconds timestamp: %v, want ErrInvalidRequest 1002", err)
	}
}

func TestTokenLifetime(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	cases := []struct {
		raw  string
		want time.Duration
		ok   bool
	}{
		{"600", 600 * time.Second, true},
		{`"600"`, 600 * time.Second, true},
		{"", defaultTokenLifetime, true},
		{"null", defaultTokenLifetime, true},
		{"1700000900", 900 * time.Second, true},    // absolute seconds
		{"1700000900000", 900 * time.Second, true}, // absolute milliseconds
		{"0", 0, false},
		{"-5", 0, false},
		{"1699999999", 0, false}, // already past
		{"600.5", 0, false},
		{`"soon"`, 0, false},
	}
	for _, c := range cases {
		got, err := tokenLifetime(json.RawMessage(c.raw), start)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("tokenLifetime(%s) = %v, %v; want %v ok=%v", c.raw, got, err, c.want, c.ok)
		}
	}
	if m := refreshMargin(600 * time.Second); m != time.Minute {
		t.Errorf("margin for 600 s = %v", m)
	}
	if m := refreshMargin(10 * time.Second); m != 2*time.Second {
		t.Errorf("margin for 10 s = %v", m)
	}
}

// One caller giving up does not fail the others waiting on the same fetch.
func TestTokenFetchSurvivesCancelledCaller(t *testing.T) {
	release := make(chan struct{})
	slow := rewriter(PathToken, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		<-release
		return false
	})
	e := newEnv(t, withWrap(slow))
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-1"})
		first <- err
	}()
	second := make(chan error, 1)
	time.Sleep(50 * time.Millisecond)
	go func() {
		_, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D-1"})
		second <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-first; !errors.Is(err, providers.ErrTransient) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	if err := <-second; !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("other caller: %v, want ErrNotFound (the call went through)", err)
	}
	if n := e.sim.TokensIssued(); n != 1 {
		t.Fatalf("%d tokens, want 1", n)
	}
}
