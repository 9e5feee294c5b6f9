package providers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/providers"
)

// TestDefaultClientRefusesLoopback: an adapter built without a client calls
// under the default egress policy; a refusal never reached anything, so even
// a create is transient (not ambiguous), and a merchant is told egress_refused.
func TestDefaultClientRefusesLoopback(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	tr := providers.NewTransport("cpay", providers.Config{BaseURL: srv.URL, Logger: quiet})
	_, err := tr.Do(context.Background(), providers.Call{Op: "createOrder", Method: http.MethodPost, Path: "/x", Body: []byte("{}"), Creates: true})
	wantKind(t, "refused create", err, providers.ErrTransient)
	if !errors.Is(err, egress.ErrRefused) || hits.Load() != 0 {
		t.Fatalf("err %v (hits %d), want an egress refusal before any connection", err, hits.Load())
	}
	if p := providers.Describe(err); p.Code != providers.CodeEgressRefused || strings.Contains(p.Message, "127.0.0.1") {
		t.Fatalf("Describe = %+v", p)
	}
}

func TestDescribe(t *testing.T) {
	const marker = "INTERNAL-SECRET-MARKER"
	for _, tc := range []struct {
		err  error
		code string
	}{
		{nil, ""},
		{&providers.Error{Kind: providers.ErrRejected, Provider: "cpay", Op: "withdraw", Code: "1001", Message: marker}, providers.CodeRejected},
		{&providers.Error{Kind: providers.ErrTransient, Provider: "cpay", Op: "x", Code: "503", Message: marker}, providers.CodeUnavailable},
		{&providers.Error{Kind: providers.ErrAmbiguous, Provider: "cpay", Op: "x", Code: "HTTP 502", Message: marker}, providers.CodeUnavailable},
		{&providers.Error{Kind: providers.ErrAmbiguous, Provider: "cxpay", Op: "x", Message: "unreadable answer: " + marker}, providers.CodeUnreadable},
		{&providers.Error{Kind: providers.ErrTransient, Provider: "cxpay", Op: "x", Err: context.DeadlineExceeded}, providers.CodeUnreachable},
		{&providers.Error{Kind: providers.ErrBadSignature, Provider: "cpay", Op: "x", Message: marker}, providers.CodeBadSignature},
		{&providers.Error{Kind: providers.ErrInvalidRequest, Provider: "cpay", Op: "x", Message: marker}, providers.CodeInvalidRequest},
		{providers.Unsupported("vpay", "queryOrder"), providers.CodeUnsupported},
		{fmt.Errorf("query: %w", &providers.Error{Kind: providers.ErrNotFound, Provider: "cpay", Op: "x", Message: marker}), providers.CodeNotFound},
		{fmt.Errorf("dial: %w", &egress.RefusedError{Class: egress.Loopback}), providers.CodeEgressRefused},
		{errors.New(marker), providers.CodeError},
	} {
		p := providers.Describe(tc.err)
		if p.Code != tc.code || strings.Contains(p.Message, marker) || (tc.code != "" && p.Message == "") {
			t.Errorf("Describe(%v) = %+v, want code %q and a message of tally's own", tc.err, p, tc.code)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, keep, drop string }{
		{`{"code":400,"msg":"sign error","sign":"0123abcd","data":{"accessToken":"tok-1"}}`, `"msg":"sign error"`, "0123abcd tok-1"},
		{`{"secretKey" : "s\"ec", "amount":"1.00"}`, `"amount":"1.00"`, `s\"ec`},
		{`{"apiKey": 123456789}`, `"apiKey": "REDACTED"`, "123456789"},
		{`merchantId=1&sign=deadbeef&accessKey=AK1&amount=5`, "merchantId=1", "deadbeef AK1"},
		{`<xml><sign>abc123</sign><status>ok</status></xml>`, "<status>ok</status>", "abc123"},
		{"HTTP/1.1 401\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y\nX-Other: 1", "X-Other: 1", "eyJhbGciOiJIUzI1NiJ9"},
		{`error: token expired for bearer abcdefgh12345678`, "token expired", "abcdefgh12345678"},
		{`{"password":"hunter2","Signature":"S1","TOKEN":"T1"}`, `"password":"REDACTED"`, "hunter2 S1 T1"},
		{`{"sign":"cut-off-in-the-mid`, `"sign":"REDACTED"`, "cut-off"},
	} {
		got := providers.Redact(tc.in)
		if !strings.Contains(got, tc.keep) {
			t.Errorf("Redact(%s) = %s, lost %q", tc.in, got, tc.keep)
		}
		for _, d := range strings.Fields(tc.drop) {
			if strings.Contains(got, d) {
				t.Errorf("Redact(%s) = %s, kept %q", tc.in, got, d)
			}
		}
	}
	long := `{"error":"` + strings.Repeat("é", 150) + `","sign":"deadbeef"}`
	s := providers.Snippet([]byte(long))
	if strings.Contains(s, "deadbeef") || !strings.HasSuffix(s, "...") || !strings.HasPrefix(s, `{"error":"é`) || strings.ContainsRune(s, '\uFFFD') {
		t.Errorf("Snippet = %q", s)
	}
	if s := providers.Snippet([]byte(`{"sign":"` + strings.Repeat("a", 300) + `"}`)); strings.Contains(s, "aaaa") {
		t.Errorf("Snippet kept a long signature: %q", s)
	}
}

func TestPublic(t *testing.T) {
	const marker = "PROVIDER-WORDS"
	inner := &providers.Error{Kind: providers.ErrAmbiguous, Provider: "cxpay", Op: "collect/create", Code: "503", Message: marker}
	err := providers.Public(fmt.Errorf("order 7: %w", inner))
	var pe *providers.Error
	if strings.Contains(err.Error(), marker) || !errors.Is(err, providers.ErrAmbiguous) || !errors.As(err, &pe) ||
		err.Error() != "cxpay collect/create: provider_unavailable: the provider answered with an error status" {
		t.Fatalf("Public = %q", err)
	}
	if again := providers.Public(err); again != err {
		t.Fatalf("Public twice wraps twice: %q", again)
	}
	plain := errors.New("database down")
	if providers.Public(plain) != plain || providers.Public(nil) != nil {
		t.Fatal("Public changed an error that is not a provider's")
	}
}
