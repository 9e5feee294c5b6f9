package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
)

func TestVerifyAcceptsAnySignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":1}`)
	both := SignAll([]string{"whsec_new", "whsec_old"}, now, body)
	if n := strings.Count(both, "v1="); n != 2 || !strings.HasPrefix(both, "t=1800000000,v1=") {
		t.Fatalf("header %q: want t= and two v1=", both)
	}
	for _, secret := range []string{"whsec_new", "whsec_old"} {
		if err := Verify(secret, both, body, now, time.Minute); err != nil {
			t.Errorf("Verify under %s: %v", secret, err)
		}
	}
	if err := Verify("whsec_wrong", both, body, now, time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("Verify under a wrong secret: %v, want ErrSignatureMismatch", err)
	}
	if err := Verify("whsec_new", both, []byte(`{"id":2}`), now, time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("Verify of another body: %v, want ErrSignatureMismatch", err)
	}
	if err := Verify("whsec_new", both, body, now.Add(2*time.Minute), time.Minute); !errors.Is(err, ErrSignatureTooOld) {
		t.Errorf("Verify of an old header: %v, want ErrSignatureTooOld", err)
	}
	if err := Verify("whsec_new", "t=1800000000", body, now, time.Minute); !errors.Is(err, ErrMalformedSignature) {
		t.Errorf("Verify of a header without v1: %v, want ErrMalformedSignature", err)
	}
	// One secret: the header of old.
	if got, want := Sign("whsec_new", now, body), SignAll([]string{"whsec_new"}, now, body); got != want || strings.Count(got, "v1=") != 1 {
		t.Errorf("Sign = %q, want %q with one v1=", got, want)
	}
}

// clock is a settable clock for the rotation's overlap window.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestRotationSignsUnderBothSecretsInsideTheWindow rotates a merchant's
// webhook secret with a 24 h overlap: a delivery inside the window carries
// two signatures, one under each secret, and an endpoint holding either
// verifies it; after the window one signature, under the new secret only.
// Neither secret ever reaches the log.
func TestRotationSignsUnderBothSecretsInsideTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	box, err := secrets.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy := egress.New(egress.MustAllowList("127.0.0.0/8"))

	type got struct {
		header string
		body   []byte
	}
	deliveries := make(chan got, 4)
	var answer atomic.Int32
	answer.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		deliveries <- got{r.Header.Get(SignatureHeader), b}
		w.WriteHeader(int(answer.Load()))
	}))
	t.Cleanup(srv.Close)

	ms := merchants.New(pool, box, merchants.Options{Egress: policy, Now: clk.Now})
	m, oldSecret, err := ms.CreateMerchant(ctx, "acme", "Acme", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, newSecret, err := ms.RotateWebhookSecret(ctx, "acme", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == oldSecret || !strings.HasPrefix(newSecret, "whsec_") {
		t.Fatalf("rotation gave %q after %q", newSecret, oldSecret)
	}
	s := New(pool, nil, ms, Options{Egress: policy, Logger: logger, Now: clk.Now})

	deliver := func() got {
		t.Helper()
		s.mu.Lock()
		clear(s.hooks) // the test reads the target again, as a process does after merchants.AccountTTL
		s.mu.Unlock()
		hook, err := s.target(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		err = s.post(ctx, hook, 0, 42, 1, []byte(`{"id":42}`))
		if answer.Load() == http.StatusOK && err != nil {
			t.Fatal(err)
		}
		return <-deliveries
	}

	// Inside the window: two v1=, the new secret's first; either verifies.
	clk.Add(23 * time.Hour)
	d := deliver()
	if n := strings.Count(d.header, "v1="); n != 2 {
		t.Fatalf("inside the window: %q has %d signatures, want 2", d.header, n)
	}
	if d.header != SignAll([]string{newSecret, oldSecret}, clk.Now(), d.body) {
		t.Fatalf("inside the window: %q is not the new then the old secret's", d.header)
	}
	for name, secret := range map[string]string{"new": newSecret, "old": oldSecret} {
		if err := Verify(secret, d.header, d.body, clk.Now(), 5*time.Minute); err != nil {
			t.Errorf("inside the window, the %s secret: %v", name, err)
		}
	}
	if err := Verify("whsec_someoneelse", d.header, d.body, clk.Now(), 5*time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("inside the window, a wrong secret: %v", err)
	}

	// A failed attempt logs, and still names no secret.
	answer.Store(http.StatusInternalServerError)
	deliver()
	answer.Store(http.StatusOK)

	// After the window: one v1=, the new secret's; the old one is refused.
	clk.Add(2 * time.Hour)
	d = deliver()
	if d.header != Sign(newSecret, clk.Now(), d.body) {
		t.Fatalf("after the window: %q, want the new secret's signature alone", d.header)
	}
	if err := Verify(oldSecret, d.header, d.body, clk.Now(), 5*time.Minute); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("after the window, the old secret: %v, want ErrSignatureMismatch", err)
	}
	if err := Verify(newSecret, d.header, d.body, clk.Now(), 5*time.Minute); err != nil {
		t.Errorf("after the window, the new secret: %v", err)
	}

	// A rotation without overlap: the previous secret stops at once.
	_, third, err := ms.RotateWebhookSecret(ctx, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	d = deliver()
	if d.header != Sign(third, clk.Now(), d.body) {
		t.Fatalf("after a rotation without overlap: %q, want the newest secret's alone", d.header)
	}
	if _, _, err := ms.RotateWebhookSecret(ctx, "acme", -time.Hour); !errors.Is(err, merchants.ErrInvalid) {
		t.Errorf("negative overlap: %v, want ErrInvalid", err)
	}

	// The secrets at rest are sealed, and no log line holds one.
	var sealedCur, sealedPrev []byte
	if err := pool.QueryRow(ctx, `SELECT webhook_secret_sealed, webhook_secret_prev_sealed FROM merchants WHERE id = $1`, m.ID).Scan(&sealedCur, &sealedPrev); err != nil {
		t.Fatal(err)
	}
	logger.Info("webhook secrets", "secrets", merchants.WebhookSecrets{Current: third, Previous: newSecret, PreviousUntil: clk.Now()})
	logMu.Lock()
	defer logMu.Unlock()
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the check below would prove nothing")
	}
	for _, secret := range []string{oldSecret, newSecret, third} {
		if bytes.Contains(sealedCur, []byte(secret)) || bytes.Contains(sealedPrev, []byte(secret)) {
			t.Errorf("a secret is stored in the clear")
		}
		if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("the log holds a webhook secret:\n%s", logs.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
