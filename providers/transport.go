package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tallyhq/tally/egress"
)

// Transport makes an adapter's HTTP calls and turns failures into the typed
// errors of this package, so that all five adapters retry, give up and query in
// the same way.
type Transport struct {
	Provider string
	BaseURL  string
	Client   *http.Client
	Logger   *slog.Logger
}

// NewTransport builds the Transport of an adapter from its Config.
func NewTransport(provider string, cfg Config) *Transport {
	return &Transport{
		Provider: provider,
		BaseURL:  strings.TrimRight(cfg.BaseURL, "/"),
		Client:   cfg.HTTPClient,
		Logger:   cfg.Logger,
	}
}

// Call is one HTTP request to a provider.
type Call struct {
	Op          string // the provider's operation name, for errors and logs
	Method      string
	Path        string // appended to the base URL
	Query       url.Values
	Header      http.Header
	ContentType string
	Body        []byte
	// Creates marks a call that makes the provider act (create an order): a
	// failure after the request may have reached the provider is ErrAmbiguous,
	// not ErrTransient.
	Creates bool
}

// Response is a provider's HTTP answer, read whole (up to MaxResponseBytes).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// MaxResponseBytes bounds what a provider's answer may weigh.
const MaxResponseBytes = 4 << 20

// Do sends c. A network failure or a 5xx becomes ErrTransient, or ErrAmbiguous
// when c.Creates and the request may have reached the provider; 429 is
// ErrTransient. Any other status is returned for the adapter to interpret.
func (t *Transport) Do(ctx context.Context, c Call) (*Response, error) {
	u := t.BaseURL + c.Path
	if len(c.Query) > 0 {
		u += "?" + c.Query.Encode()
	}
	var body io.Reader
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, u, body)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidRequest, Provider: t.Provider, Op: c.Op, Err: RedactURLError(err)}
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.ContentType != "" {
		req.Header.Set("Content-Type", c.ContentType)
	}
	start := time.Now()
	resp, err := t.client().Do(req)
	if err != nil {
		// The client's error quotes the URL, query string included: a signed
		// GET (C-Pay) carries its sign there. Redact before logging or returning.
		err = RedactURLError(err)
		if errors.Is(err, egress.ErrRefused) {
			t.logger().WarnContext(ctx, "provider call refused by the egress policy", "provider", t.Provider, "op", c.Op, "error", err)
		} else {
			t.logger().WarnContext(ctx, "provider call failed", "provider", t.Provider, "op", c.Op, "duration", time.Since(start), "error", err)
		}
		return nil, &Error{Kind: classifyNetwork(err, c.Creates), Provider: t.Provider, Op: c.Op, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		kind := ErrTransient
		if c.Creates {
			kind = ErrAmbiguous
		}
		return nil, &Error{Kind: kind, Provider: t.Provider, Op: c.Op, Message: "reading response", Err: err}
	}
	if len(b) > MaxResponseBytes {
		// The provider answered, so a create may have been acted on.
		kind := ErrTransient
		if c.Creates {
			kind = ErrAmbiguous
		}
		return nil, Errorf(kind, t.Provider, c.Op, "response larger than %d bytes", MaxResponseBytes)
	}
	if resp.StatusCode >= 300 {
		// The provider's own words are for operators only, redacted (Snippet).
		t.logger().DebugContext(ctx, "provider call", "provider", t.Provider, "op", c.Op, "status", resp.StatusCode, "bytes", len(b),
			"duration", time.Since(start), "body", snippet(b))
	} else {
		t.logger().DebugContext(ctx, "provider call", "provider", t.Provider, "op", c.Op, "status", resp.StatusCode, "bytes", len(b), "duration", time.Since(start))
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, &Error{Kind: ErrTransient, Provider: t.Provider, Op: c.Op, Code: fmt.Sprint(resp.StatusCode), Message: snippet(b)}
	case resp.StatusCode >= 500:
		kind := ErrTransient
		if c.Creates {
			kind = ErrAmbiguous
		}
		return nil, &Error{Kind: kind, Provider: t.Provider, Op: c.Op, Code: fmt.Sprint(resp.StatusCode), Message: snippet(b)}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func (t *Transport) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	return defaultClient
}

func (t *Transport) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// defaultClient makes the calls of an adapter built without a client: under
// the default egress policy (public addresses only, no redirects).
var defaultClient = egress.Default().Client(30 * time.Second)

// classifyNetwork decides whether a failed request may have reached the provider.
// A refused or unresolvable connection never did (nor did one the egress
// policy refused); a timeout or a reset after the connection was up might have.
func classifyNetwork(err error, creates bool) error {
	if errors.Is(err, egress.ErrRefused) {
		return ErrTransient
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return ErrTransient
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return ErrTransient
	}
	if creates {
		return ErrAmbiguous
	}
	return ErrTransient
}

// RedactURLError returns err with the URL of its *url.Error (what http.Client
// and url.Parse fail with) redacted by RedactURL; the cause is kept, so
// errors.Is and errors.As (timeouts, context.Canceled) still see it. An error
// without a *url.Error is returned as it is.
func RedactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	// When the *url.Error is wrapped, the outer text quotes it, so only the
	// redacted url.Error is kept (http.Client returns it unwrapped).
	return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
}

// RedactURL hides what a URL must not show in a log: the value of every query
// parameter whose name mentions sign, token, key, secret, password or auth
// (sign, signature, accessToken, apiKey, secretKey, ...), and a password in its
// user info. Other parameters stay, for the reader of the log. A URL that
// does not parse loses its whole query.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i] + "?REDACTED"
		}
		return raw
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			name, _, _ := strings.Cut(p, "=")
			plain := name
			if n, err := url.QueryUnescape(name); err == nil {
				plain = n
			}
			if sensitiveParam(plain) {
				parts[i] = name + "=REDACTED"
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	u.Fragment, u.RawFragment = "", ""
	return u.Redacted()
}

// sensitiveParam reports whether a query parameter's value must not be logged.
func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"sign", "token", "key", "secret", "password", "passwd", "auth"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
