package tallytest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CapturedCallback is a provider callback a test intercepted before tally saw it.
type CapturedCallback struct {
	Key      string // the callback key in /callbacks/{key}
	Method   string
	Path     string // e.g. /callbacks/{key}
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Interceptor holds provider callbacks back from tally: each is recorded and
// answered with the provider's own acknowledgement, as if tally had stored it,
// so that the provider does not send it again. The test then delivers what it
// likes (the same callback, copies, variants) itself.
type Interceptor struct {
	e        *Env
	mu       sync.Mutex
	captured []CapturedCallback
}

// InterceptCallbacks starts intercepting every provider callback until Release.
func (e *Env) InterceptCallbacks() *Interceptor {
	ic := &Interceptor{e: e}
	e.intercept.Store(ic)
	return ic
}

// Release lets callbacks reach tally again.
func (ic *Interceptor) Release() {
	ic.e.intercept.CompareAndSwap(ic, nil)
}

// Captured returns the callbacks intercepted so far, oldest first.
func (ic *Interceptor) Captured() []CapturedCallback {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return append([]CapturedCallback(nil), ic.captured...)
}

// WaitFor waits (up to Options.Wait) until a callback whose body contains
// each of needles was intercepted, and returns it.
func (ic *Interceptor) WaitFor(needles ...string) CapturedCallback {
	ic.e.T.Helper()
	var found CapturedCallback
	ic.e.Eventually("an intercepted callback with "+strings.Join(needles, ", "), func() bool {
		for _, c := range ic.Captured() {
			ok := true
			for _, n := range needles {
				ok = ok && (strings.Contains(string(c.Body), n) || strings.Contains(c.RawQuery, n))
			}
			if ok {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

func (ic *Interceptor) serve(w http.ResponseWriter, r *http.Request, key string) {
	body, _ := io.ReadAll(r.Body)
	ic.mu.Lock()
	ic.captured = append(ic.captured, CapturedCallback{Key: key, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	ic.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	t, err := ic.e.Callbacks.Resolve(ctx, key)
	if err != nil {
		http.Error(w, "unknown provider account", http.StatusNotFound)
		return
	}
	t.Adapter.Reply(nil).Write(w)
}

// Deliver sends a callback to tally's callback ingress as the provider would,
// with body and extra headers in place of the captured ones, and returns the
// answer's status and body.
func (e *Env) Deliver(c CapturedCallback, body []byte, extra http.Header) (int, string) {
	e.T.Helper()
	u := e.URL + c.Path
	if c.RawQuery != "" {
		u += "?" + c.RawQuery
	}
	req, err := http.NewRequest(c.Method, u, strings.NewReader(string(body)))
	if err != nil {
		e.T.Error(err)
		return 0, ""
	}
	for k, v := range c.Header {
		if k != "Content-Length" {
			req.Header[k] = v
		}
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callbackHandler routes /callbacks/ to the interceptor while one is active.
func (e *Env) callbackHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ic := e.intercept.Load()
		if key, ok := strings.CutPrefix(r.URL.Path, "/callbacks/"); ok && ic != nil {
			ic.serve(w, r, key)
			return
		}
		next.ServeHTTP(w, r)
	})
}
