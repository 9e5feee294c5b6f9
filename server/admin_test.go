package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tallyhq/tally/server"
)

// Metrics, readiness and pprof are served by the admin listener only: the
// public one, which providers and merchants reach, answers 404 for them.
func TestAdminSurfaceOnlyOnAdminListener(t *testing.T) {
	t.Parallel()
	srv := server.New(server.Deps{}, server.Options{Registry: server.NewRegistry()})
	public := httptest.NewServer(srv.Handler())
	t.Cleanup(public.Close)
	admin := httptest.NewServer(srv.Admin().Handler())
	t.Cleanup(admin.Close)

	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/metrics", "/readyz", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2",
		"/debug/pprof/symbol", "/debug/pprof/cmdline", "/debug/vars"} {
		if status, _ := get(public.URL, path); status != http.StatusNotFound {
			t.Errorf("public GET %s = %d, want 404", path, status)
		}
	}
	for _, path := range []string{"/healthz", "/openapi.json"} {
		if status, _ := get(public.URL, path); status != http.StatusOK {
			t.Errorf("public GET %s = %d, want 200", path, status)
		}
	}
	for path, want := range map[string]string{
		"/healthz":                       `"ok"`,
		"/readyz":                        `"ready"`,
		"/metrics":                       "go_goroutines",
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/heap?debug=1":      "heap profile",
		"/debug/pprof/goroutine?debug=1": "goroutine profile",
	} {
		status, body := get(admin.URL, path)
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("admin GET %s = %d, want 200 with %q", path, status, want)
		}
	}
	// The command line may carry a database URL with its password.
	if status, _ := get(admin.URL, "/debug/pprof/cmdline"); status == http.StatusOK {
		t.Error("admin serves /debug/pprof/cmdline")
	}
	// The public listener's counters are on the admin listener's /metrics.
	get(public.URL, "/healthz")
	if _, body := get(admin.URL, "/metrics"); !strings.Contains(body, `tally_http_requests_total{route="/healthz",status="200"}`) {
		t.Errorf("admin /metrics lacks the public listener's request counter:\n%s", body)
	}
	for _, r := range srv.Routes() {
		if r.Pattern == "/metrics" || r.Pattern == "/readyz" || strings.HasPrefix(r.Pattern, "/debug/") {
			t.Errorf("public route %s %s", r.Method, r.Pattern)
		}
	}
}
