package server_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/tallyhq/tally/server"
)

// TestOpenAPIMatchesRoutes keeps the served document and the routes in step:
// every public route is documented and every documented operation is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range server.New(server.Deps{}, server.Options{}).Routes() {
		if !r.Internal {
			served[r.Method+" "+r.Pattern] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not in openapi.json: %v; documented but not served: %v", missing, extra)
	}
	if len(served) < 10 {
		t.Fatalf("only %d routes served", len(served))
	}
}
