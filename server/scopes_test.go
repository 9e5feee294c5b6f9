package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/server"
)

// TestEveryRouteNeedsItsScope walks server.Routes() (so a route added later
// is covered without touching this test): every merchant API route needs a
// key; a state-changing one needs a write, approve or accounts scope and a
// read one a read scope; a key holding every scope but the route's is
// answered 403 insufficient_scope naming it, before the handler runs, and a
// key holding only the route's scope gets past the check (whatever the
// handler then answers the test's empty request, it is not 401 or 403).
func TestEveryRouteNeedsItsScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, err := secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Pool: testdb.New(t), Box: box, PublicURL: "https://tally.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	if _, _, err := a.Merchants.CreateMerchant(ctx, "acme", "Acme", ""); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)

	// One key per scope holding only it, and one per scope holding all others.
	only, allBut := map[merchants.Scope]string{}, map[merchants.Scope]string{}
	for _, sc := range merchants.Scopes {
		var others []merchants.Scope
		for _, o := range merchants.Scopes {
			if o != sc {
				others = append(others, o)
			}
		}
		if only[sc], _, err = a.Merchants.CreateAPIKey(ctx, "acme", "only "+string(sc), sc); err != nil {
			t.Fatal(err)
		}
		if allBut[sc], _, err = a.Merchants.CreateAPIKey(ctx, "acme", "all but "+string(sc), others...); err != nil {
			t.Fatal(err)
		}
	}

	call := func(r server.Route, key string) (int, server.APIError) {
		t.Helper()
		path := strings.NewReplacer("{id}", "999999", "{name}", "nobody-has-it", "{code}", "nobody:has:it").Replace(r.Pattern)
		if strings.Contains(path, "{") {
			t.Fatalf("%s %s: a path parameter the test does not fill", r.Method, r.Pattern)
		}
		var body io.Reader
		if r.Method != http.MethodGet {
			body = strings.NewReader("{}")
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "scope-test-"+r.Method+r.Pattern)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e server.APIError
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, e
	}

	checked := 0
	for _, r := range a.Server.Routes() {
		if r.Internal || strings.HasPrefix(r.Pattern, "/callbacks/") {
			continue // health, the document, the providers' callback ingress
		}
		name := r.Method + " " + r.Pattern
		if !r.Auth {
			t.Errorf("%s: a merchant API route without a key", name)
			continue
		}
		if !r.Scope.Valid() {
			t.Errorf("%s: scope %q", name, r.Scope)
			continue
		}
		read := strings.HasSuffix(string(r.Scope), ":read")
		if changes := r.Method != http.MethodGet && r.Method != http.MethodHead; changes == read {
			t.Errorf("%s: scope %s (a state-changing route needs a write scope, a read route a read scope)", name, r.Scope)
		}
		checked++
		if status, e := call(r, allBut[r.Scope]); status != http.StatusForbidden || e.Error.Code != "insufficient_scope" ||
			!strings.Contains(e.Error.Message, string(r.Scope)) {
			t.Errorf("%s with every scope but %s: %d %+v, want 403 insufficient_scope naming it", name, r.Scope, status, e)
		}
		if status, e := call(r, only[r.Scope]); status == http.StatusForbidden || status == http.StatusUnauthorized {
			t.Errorf("%s with only %s: %d %+v, want past the scope check", name, r.Scope, status, e)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d merchant API routes checked", checked)
	}
}

// TestDefaultKeyScopes: a key made without scopes creates and reads orders
// and reads reconciliation, and may not resolve, import statements, start
// runs or change provider accounts.
func TestDefaultKeyScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, err := secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Pool: testdb.New(t), Box: box, PublicURL: "https://tally.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	if _, _, err := a.Merchants.CreateMerchant(ctx, "acme", "Acme", ""); err != nil {
		t.Fatal(err)
	}
	key, _, err := a.Merchants.CreateAPIKey(ctx, "acme", "integration")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		method, path string
		forbidden    bool
	}{
		{"GET", "/v1/orders", false},
		{"POST", "/v1/deposits", false},
		{"GET", "/v1/discrepancies", false},
		{"GET", "/v1/recon/runs", false},
		{"GET", "/v1/balances", false},
		{"POST", "/v1/discrepancies/1/resolve", true},
		{"POST", "/v1/statements", true},
		{"POST", "/v1/recon/runs", true},
		{"POST", "/v1/provider-accounts", true},
		{"PATCH", "/v1/provider-accounts/x", true},
	} {
		var body io.Reader
		if tc.method != "GET" {
			body = strings.NewReader("{}")
		}
		req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, body)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode == http.StatusForbidden) != tc.forbidden {
			t.Errorf("default key %s %s: %d, want forbidden=%v", tc.method, tc.path, resp.StatusCode, tc.forbidden)
		}
	}
}

// TestOpenAPIScopes: the document names each operation's scope (x-scope and
// its description) as the route declares it, and documents its 403.
func TestOpenAPIScopes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Description string `json:"description"`
			} `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Description string                     `json:"description"`
			Scope       string                     `json:"x-scope"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	desc := doc.Components.SecuritySchemes["bearer"].Description
	for _, sc := range merchants.Scopes {
		if !strings.Contains(desc, "`"+string(sc)+"`") {
			t.Errorf("the bearer scheme's description does not name %s", sc)
		}
	}
	for _, r := range server.New(server.Deps{}, server.Options{}).Routes() {
		if !r.Auth {
			continue
		}
		op, ok := doc.Paths[r.Pattern][strings.ToLower(r.Method)]
		if !ok {
			continue // TestOpenAPIMatchesRoutes reports it
		}
		if op.Scope != string(r.Scope) || !strings.Contains(op.Description, "`"+string(r.Scope)+"`") {
			t.Errorf("%s %s: documented scope %q (description %q), route's %q", r.Method, r.Pattern, op.Scope, op.Description, r.Scope)
		}
		if _, ok := op.Responses["403"]; !ok {
			t.Errorf("%s %s: no 403 documented", r.Method, r.Pattern)
		}
	}
}
