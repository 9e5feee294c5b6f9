package server_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
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

// snakeCase is the spelling of every JSON field and query parameter of the
// merchant API.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestOpenAPISnakeCase walks every schema of the document (components, the
// operations' bodies and answers, the webhooks) and every query or path
// parameter, and fails on a name that is not snake_case (a Go field name such
// as TaxID, a camelCase one).
func TestOpenAPISnakeCase(t *testing.T) {
	var doc any
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	checked := 0
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch n := v.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok {
				for name := range props {
					checked++
					if !snakeCase.MatchString(name) {
						t.Errorf("%s: property %q is not snake_case", path, name)
					}
				}
			}
			if req, ok := n["required"].([]any); ok && n["in"] == nil {
				for _, r := range req {
					if name, _ := r.(string); !snakeCase.MatchString(name) {
						t.Errorf("%s: required %q is not snake_case", path, name)
					}
				}
			}
			if in, _ := n["in"].(string); in == "query" || in == "path" {
				checked++
				if name, _ := n["name"].(string); !snakeCase.MatchString(name) {
					t.Errorf("%s: %s parameter %q is not snake_case", path, in, name)
				}
			}
			for k, c := range n {
				walk(c, path+"/"+k)
			}
		case []any:
			for i, c := range n {
				walk(c, fmt.Sprintf("%s/%d", path, i))
			}
		}
	}
	walk(doc, "")
	if checked < 200 {
		t.Fatalf("only %d names checked: the walk missed the document", checked)
	}
}

// TestOpenAPIErrorCodesListed holds the document's per-operation error codes
// to the code: every error code a handler of package server can answer
// (writeError's code argument, and the codes of orders.InputError) is listed
// for at least one operation, and every listed code is one the code answers.
// Which operation answers it is checked by the e2e tests: tallytest's
// contract check refuses an error answer whose code the document does not
// list for that operation and status.
func TestOpenAPIErrorCodesListed(t *testing.T) {
	inCode := map[string]bool{}
	for _, dir := range []string{".", "../orders"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "writeError" && len(x.Args) >= 3 {
						if lit, ok := x.Args[2].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							inCode[strings.Trim(lit.Value, `"`)] = true
						}
					}
				case *ast.KeyValueExpr:
					// InputError{Code: "..."} in orders; code, field := "...", "" in validateAtProvider.
					if id, ok := x.Key.(*ast.Ident); ok && id.Name == "Code" && dir != "." {
						if lit, ok := x.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							inCode[strings.Trim(lit.Value, `"`)] = true
						}
					}
				case *ast.AssignStmt:
					if dir != "." && len(x.Lhs) == 2 && len(x.Rhs) == 2 {
						if id, ok := x.Lhs[0].(*ast.Ident); ok && id.Name == "code" {
							if lit, ok := x.Rhs[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								inCode[strings.Trim(lit.Value, `"`)] = true
							}
						}
					}
				}
				return true
			})
		}
	}
	// Answered outside a writeError call: a statement's bad rows, and
	// /readyz on the admin listener (not the merchant API).
	inCode["bad_rows"] = true
	delete(inCode, "database_unavailable")
	// invalid_kind: the kind is the route's (deposits or payouts), never the body's.
	delete(inCode, "invalid_kind")

	listed := map[string]bool{}
	var doc any
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if e, ok := n["error"].(map[string]any); ok {
				if props, ok := e["properties"].(map[string]any); ok {
					if code, ok := props["code"].(map[string]any); ok {
						for _, c := range code["enum"].([]any) {
							listed[c.(string)] = true
						}
					}
				}
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(doc)
	for c := range inCode {
		if !listed[c] {
			t.Errorf("error code %q is answered by the code but listed for no operation in openapi.json", c)
		}
	}
	for c := range listed {
		if !inCode[c] {
			t.Errorf("error code %q is listed in openapi.json but no handler answers it", c)
		}
	}
	if len(inCode) < 30 {
		t.Fatalf("only %d codes found in the code: the scan missed the handlers", len(inCode))
	}
}
