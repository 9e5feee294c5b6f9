package providers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/providers"
)

var quiet = slog.New(slog.DiscardHandler)

// loopback is a client the egress policy lets reach the test servers (on
// 127.0.0.1); an adapter without a client may not.
var loopback = egress.New(egress.MustAllowList("127.0.0.0/8")).Client(30 * time.Second)

// transport is a Transport to baseURL through client, or loopback when nil.
func transport(baseURL string, client *http.Client) *providers.Transport {
	if client == nil {
		client = loopback
	}
	return providers.NewTransport("prov", providers.Config{BaseURL: baseURL, HTTPClient: client, Logger: quiet})
}

// wantKind fails unless err is a *providers.Error of kind.
func wantKind(t *testing.T, what string, err, kind error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, kind) || providers.KindOf(err) != kind {
		t.Fatalf("%s: err = %v (kind %v), want %v", what, err, providers.KindOf(err), kind)
	}
	return pe
}

func TestTransportRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("X-Answer", "yes")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	tr := transport(srv.URL+"/prefix/", nil)
	resp, err := tr.Do(context.Background(), providers.Call{
		Op: "op", Method: http.MethodPost, Path: "/api/do", Query: url.Values{"a": {"1 2"}, "b": {"&"}},
		Header: http.Header{"X-Token": {"t1", "t2"}}, ContentType: "application/json", Body: []byte(`{"x":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/prefix/api/do" || got.URL.RawQuery != "a=1+2&b=%26" ||
		got.Header.Get("Content-Type") != "application/json" || len(got.Header.Values("X-Token")) != 2 || string(body) != `{"x":1}` {
		t.Fatalf("request %s %s ? %s headers %v body %s", got.Method, got.URL.Path, got.URL.RawQuery, got.Header, body)
	}
	if resp.Status != http.StatusOK || string(resp.Body) != `{"ok":true}` || resp.Header.Get("X-Answer") != "yes" {
		t.Fatalf("response %+v", resp)
	}
}

func TestTransportStatusClassification(t *testing.T) {
	tests := []struct {
		status       int
		query, creat error // nil: the response is returned for the adapter
	}{
		{200, nil, nil},
		{201, nil, nil},
		{400, nil, nil},
		{401, nil, nil},
		{404, nil, nil},
		{429, providers.ErrTransient, providers.ErrTransient},
		{500, providers.ErrTransient, providers.ErrAmbiguous},
		{502, providers.ErrTransient, providers.ErrAmbiguous},
		{503, providers.ErrTransient, providers.ErrAmbiguous},
		{504, providers.ErrTransient, providers.ErrAmbiguous},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, "  status body "+strings.Repeat("x", 300))
		}))
		for _, creates := range []bool{false, true} {
			want := tc.query
			if creates {
				want = tc.creat
			}
			resp, err := transport(srv.URL, nil).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodGet, Path: "/", Creates: creates})
			if want == nil {
				if err != nil || resp.Status != tc.status {
					t.Errorf("%d creates=%v: %+v, %v; want the response", tc.status, creates, resp, err)
				}
				continue
			}
			pe := wantKind(t, http.StatusText(tc.status), err, want)
			if pe.Code != strconv.Itoa(tc.status) || pe.Provider != "prov" || pe.Op != "op" ||
				!strings.HasPrefix(pe.Message, "status body xxx") || !strings.HasSuffix(pe.Message, "...") || len(pe.Message) != 203 {
				t.Errorf("%d creates=%v: error %+v", tc.status, creates, pe)
			}
		}
		srv.Close()
	}
}

// failing is a client whose requests fail with err before any answer.
func failing(err error) *http.Client {
	return &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) { return nil, err })}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportNetworkClassification(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name          string
		base          string
		client        *http.Client
		query, create error
	}{
		{"connection refused", refused, nil, providers.ErrTransient, providers.ErrTransient},
		{"dial error", "http://x", failing(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), providers.ErrTransient, providers.ErrTransient},
		{"no such host", "http://x", failing(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), providers.ErrTransient, providers.ErrTransient},
		{"reset after connect", "http://x", failing(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), providers.ErrTransient, providers.ErrAmbiguous},
		{"connection closed", "http://x", failing(io.ErrUnexpectedEOF), providers.ErrTransient, providers.ErrAmbiguous},
	}
	for _, tc := range tests {
		for _, creates := range []bool{false, true} {
			want := tc.query
			if creates {
				want = tc.create
			}
			_, err := transport(tc.base, tc.client).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodPost, Path: "/p", Creates: creates})
			pe := wantKind(t, tc.name, err, want)
			if pe.Err == nil {
				t.Errorf("%s: the cause is not kept: %+v", tc.name, pe)
			}
		}
	}
}

// hanging is a server that answers nothing until the request is cancelled;
// started says when a request arrived.
func hanging(t *testing.T) (*httptest.Server, chan struct{}) {
	started := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv, started
}

func TestTransportTimeoutAndCancel(t *testing.T) {
	srv, started := hanging(t)
	for _, creates := range []bool{false, true} {
		want := providers.ErrTransient
		if creates {
			want = providers.ErrAmbiguous
		}
		// The client's timeout: the provider had the request.
		_, err := transport(srv.URL, &http.Client{Timeout: 100 * time.Millisecond}).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodPost, Path: "/", Creates: creates})
		wantKind(t, "client timeout", err, want)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("client timeout: cause %v is not a timeout", err)
		}
		<-started

		// The caller's deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err = transport(srv.URL, nil).Do(ctx, providers.Call{Op: "op", Method: http.MethodPost, Path: "/", Creates: creates})
		cancel()
		wantKind(t, "deadline", err, want)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline: %v does not wrap context.DeadlineExceeded", err)
		}
		<-started

		// The caller cancels once the provider has the request (shutdown).
		ctx, cancel = context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err = transport(srv.URL, nil).Do(ctx, providers.Call{Op: "op", Method: http.MethodPost, Path: "/", Creates: creates})
		wantKind(t, "cancel", err, want)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel: %v does not wrap context.Canceled", err)
		}
	}
}

func TestTransportBrokenAndOversizedAnswers(t *testing.T) {
	truncated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "only ten b")
		if hj, ok := w.(http.Hijacker); ok {
			conn, _, _ := hj.Hijack()
			conn.Close()
		}
	}))
	defer truncated.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, providers.MaxResponseBytes+1))
	}))
	defer huge.Close()
	justRight := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, providers.MaxResponseBytes))
	}))
	defer justRight.Close()

	for _, creates := range []bool{false, true} {
		want := providers.ErrTransient
		if creates {
			want = providers.ErrAmbiguous
		}
		_, err := transport(truncated.URL, nil).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodPost, Path: "/", Creates: creates})
		if pe := wantKind(t, "truncated", err, want); pe.Message != "reading response" {
			t.Fatalf("truncated: %+v", pe)
		}
		_, err = transport(huge.URL, nil).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodPost, Path: "/", Creates: creates})
		if pe := wantKind(t, "oversized", err, want); !strings.Contains(pe.Message, "larger than") {
			t.Fatalf("oversized: %+v", pe)
		}
		resp, err := transport(justRight.URL, nil).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodPost, Path: "/", Creates: creates})
		if err != nil || len(resp.Body) != providers.MaxResponseBytes {
			t.Fatalf("a body of exactly MaxResponseBytes: %v", err)
		}
	}
}

func TestTransportMalformedRequest(t *testing.T) {
	_, err := transport("http://x", nil).Do(context.Background(), providers.Call{Op: "op", Method: "BAD METHOD", Path: "/"})
	wantKind(t, "bad method", err, providers.ErrInvalidRequest)
	_, err = transport("://nope", nil).Do(context.Background(), providers.Call{Op: "op", Method: http.MethodGet, Path: "/"})
	wantKind(t, "bad base URL", err, providers.ErrInvalidRequest)
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://api.cpay.ltd/openapi/v1/getOrderDetail?merchantId=20000387&merchantTradeNo=D1&sign=0123abcd",
			"https://api.cpay.ltd/openapi/v1/getOrderDetail?merchantId=20000387&merchantTradeNo=D1&sign=REDACTED"},
		{"http://h/p?signature=s1&accessToken=t1&api_key=k1&secretKey=x1&SIGN=s2&orderNo=O1&password=p1&Authorization=a1",
			"http://h/p?signature=REDACTED&accessToken=REDACTED&api_key=REDACTED&secretKey=REDACTED&SIGN=REDACTED&orderNo=O1&password=REDACTED&Authorization=REDACTED"},
		{"http://h/p?%73ign=s1&x=1", "http://h/p?%73ign=REDACTED&x=1"}, // an escaped name
		{"http://h/p?sign", "http://h/p?sign=REDACTED"},
		{"http://h/p?a=1&sign=", "http://h/p?a=1&sign=REDACTED"},
		{"http://user:pw@h/p?x=1", "http://user:xxxxx@h/p?x=1"},
		{"http://h/p#frag?sign=1", "http://h/p"},
		{"http://h/p", "http://h/p"},
		{"http://[::1%zz/p?sign=secret1", "http://[::1%zz/p?REDACTED"}, // does not parse: the whole query goes
	}
	for _, tc := range tests {
		if got := providers.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A signed GET that fails: neither the error nor the log shows the signature
// or a token, and the error still says what failed.
func TestTransportErrorsHideSignedQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://user:hunter2@" + ln.Addr().String()
	ln.Close()
	srv, started := hanging(t)
	query := url.Values{"merchantId": {"20000387"}, "merchantTradeNo": {"D1"}, "sign": {"deadbeefsignature"}, "accessToken": {"tok-secret"}}
	secrets := []string{"deadbeefsignature", "tok-secret", "hunter2"}

	for _, tc := range []struct {
		name   string
		base   string
		client *http.Client
		ctx    func() (context.Context, context.CancelFunc)
		is     error
	}{
		{"connection refused", refused, loopback, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, syscall.ECONNREFUSED},
		{"timeout", srv.URL, &http.Client{Timeout: 100 * time.Millisecond}, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, nil},
		{"deadline", srv.URL, loopback, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		var logs strings.Builder
		tr := providers.NewTransport("cpay", providers.Config{BaseURL: tc.base, HTTPClient: tc.client, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		ctx, cancel := tc.ctx()
		_, err := tr.Do(ctx, providers.Call{Op: "getOrderDetail", Method: http.MethodGet, Path: "/openapi/v1/getOrderDetail", Query: query})
		cancel()
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		text := err.Error() + "\n" + logs.String()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("%s: %q shows in\n%s", tc.name, s, text)
			}
		}
		if !strings.Contains(err.Error(), "merchantTradeNo=D1") || !strings.Contains(err.Error(), "sign=REDACTED") || !strings.Contains(logs.String(), "sign=REDACTED") {
			t.Fatalf("%s: error or log lost the redacted URL: %v\n%s", tc.name, err, logs.String())
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Fatalf("%s: %v no longer wraps %v", tc.name, err, tc.is)
		}
		var ne net.Error
		if tc.name == "timeout" && (!errors.As(err, &ne) || !ne.Timeout()) {
			t.Fatalf("timeout: %v is no longer a timeout", err)
		}
		if tc.base == srv.URL {
			<-started
		}
	}
}

func TestRedactURLError(t *testing.T) {
	if err := providers.RedactURLError(io.EOF); err != io.EOF {
		t.Fatalf("a plain error changed: %v", err)
	}
	inner := &url.Error{Op: "Get", URL: "http://h/p?sign=s3cr3t", Err: context.Canceled}
	for _, in := range []error{inner, fmt.Errorf("outer: %w", inner)} {
		got := providers.RedactURLError(in)
		if strings.Contains(got.Error(), "s3cr3t") || !errors.Is(got, context.Canceled) {
			t.Fatalf("RedactURLError(%v) = %v", in, got)
		}
	}
}
