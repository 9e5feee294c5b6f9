package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/tallyhq/tally/server"
)

// syncBuffer is a log destination a test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestRequestIDs: every answer carries X-Request-Id; an error answer's
// error.request_id is the same id; a line logged during the request carries
// it as request_id; an incoming X-Request-Id is believed from a trusted proxy
// only, and only when sane.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	type errorBody struct {
		Error struct {
			Code      string `json:"code"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	start := func(t *testing.T, trusted string) (*httptest.Server, *syncBuffer) {
		logs := &syncBuffer{}
		srv := server.New(server.Deps{Extra: []server.Route{{Method: "GET", Pattern: "/boom", Internal: true,
			Handler: func(http.ResponseWriter, *http.Request) { panic("boom") }}}},
			server.Options{Registry: server.NewRegistry(), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix(trusted)}})
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		return ts, logs
	}
	get := func(t *testing.T, url, incoming string) (*http.Response, errorBody) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if incoming != "" {
			req.Header.Set("X-Request-Id", incoming)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body errorBody
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}

	t.Run("error answer and log line carry the id", func(t *testing.T) {
		ts, logs := start(t, "10.0.0.0/8")
		resp, body := get(t, ts.URL+"/boom", "")
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != http.StatusInternalServerError || len(id) != 32 || body.Error.Code != "internal" || body.Error.RequestID != id {
			t.Fatalf("GET /boom = %d, X-Request-Id %q, error %+v; want 500, a 32-hex id, internal with the same request_id", resp.StatusCode, id, body.Error)
		}
		var found bool
		for _, l := range logs.lines() {
			if l["msg"] == "panic in handler" {
				found = true
				if l["request_id"] != id {
					t.Errorf("log line %q: request_id %v, want %s", l["msg"], l["request_id"], id)
				}
			}
		}
		if !found {
			t.Fatalf("no \"panic in handler\" line logged: %v", logs.lines())
		}
		// A 401 of the merchant API, and another request: another id.
		resp2, body2 := get(t, ts.URL+"/v1/orders/1", "")
		id2 := resp2.Header.Get("X-Request-Id")
		if resp2.StatusCode != http.StatusUnauthorized || body2.Error.RequestID != id2 || id2 == id || id2 == "" {
			t.Fatalf("GET /v1/orders/1 = %d, X-Request-Id %q, request_id %q (first request %q)", resp2.StatusCode, id2, body2.Error.RequestID, id)
		}
	})

	t.Run("untrusted incoming id is not echoed", func(t *testing.T) {
		ts, _ := start(t, "10.0.0.0/8") // the test's client, 127.0.0.1, is no proxy
		resp, body := get(t, ts.URL+"/v1/orders/1", "client-chosen-id")
		if id := resp.Header.Get("X-Request-Id"); id == "client-chosen-id" || id == "" || body.Error.RequestID != id {
			t.Fatalf("X-Request-Id %q, request_id %q: an untrusted client's id must be replaced", id, body.Error.RequestID)
		}
	})

	t.Run("trusted proxy's id is kept when sane", func(t *testing.T) {
		ts, _ := start(t, "127.0.0.0/8")
		resp, body := get(t, ts.URL+"/v1/orders/1", "lb-7f3a:0001")
		if id := resp.Header.Get("X-Request-Id"); id != "lb-7f3a:0001" || body.Error.RequestID != id {
			t.Fatalf("X-Request-Id %q, request_id %q, want the proxy's lb-7f3a:0001", id, body.Error.RequestID)
		}
		resp, _ = get(t, ts.URL+"/v1/orders/1", "bad id\"with junk")
		if id := resp.Header.Get("X-Request-Id"); id == "" || strings.ContainsAny(id, " \"") {
			t.Fatalf("X-Request-Id %q: a malformed incoming id must be replaced", id)
		}
	})
}
