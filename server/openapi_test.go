package server_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

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

// TestOpenAPIOperationsTyped requires what a generated client needs of every
// operation: a unique operationId, tags, and a typed body for each success
// answer (a schema for every content type of every 2xx answer).
func TestOpenAPIOperationsTyped(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
			Responses   map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	loader := openapi3.NewLoader()
	parsed, err := loader.LoadFromData(server.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := parsed.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	ids := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", name)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s is also %s's", name, op.OperationID, other)
			}
			ids[op.OperationID] = name
			if len(op.Tags) == 0 {
				t.Errorf("%s: no tags", name)
			}
			successes := 0
			for code, r := range op.Responses {
				if !strings.HasPrefix(code, "2") {
					continue
				}
				successes++
				if len(r.Content) == 0 {
					t.Errorf("%s %s: no content", name, code)
				}
				for ct, c := range r.Content {
					if len(c.Schema) == 0 {
						t.Errorf("%s %s %s: no schema", name, code, ct)
					}
				}
			}
			if successes == 0 {
				t.Errorf("%s: no success answer", name)
			}
		}
	}
}
