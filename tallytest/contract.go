package tallytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tallyhq/tally/server"
)

// contract is the merchant API document (server.OpenAPI) loaded once, with
// its router, so that every answer the tests receive through Env.API and
// Env.APIAs is checked against it: a drift between the server and the
// document integrators generate clients from fails a test.
var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// reportContentTypes are the report formats besides JSON; their bodies are
// checked as opaque strings.
var reportContentTypes = []string{"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

func loadContract() (routers.Router, error) {
	contract.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(server.OpenAPI())
		if err != nil {
			contract.err = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			contract.err = fmt.Errorf("openapi.json is not a valid document: %w", err)
			return
		}
		// Match paths whatever host the test server listens on.
		doc.Servers = nil
		for _, ct := range reportContentTypes {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
		contract.doc = doc
		contract.router, contract.err = gorillamux.NewRouter(doc)
	})
	return contract.router, contract.err
}

// CheckContract validates one answer of tally's merchant API against the
// OpenAPI document: its status, content type and body. An error answer's
// code must be one the document lists for that operation and status (the
// enum of its error.code), so that a handler answering a code the document
// does not list fails the test that met it. A request the
// document does not describe (an unknown path or method: /callbacks' provider
// answers, /console, /healthz, a method probe) is not checked; the test of
// that path asserts its answer itself. It returns nil when the answer agrees.
func CheckContract(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	router, err := loadContract()
	if err != nil {
		return err
	}
	u := *req.URL
	u.Scheme, u.Host = "", ""
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	r.Host = ""
	route, params, err := router.FindRoute(r)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("route %s %s: %w", req.Method, req.URL.Path, err)
	}
	if route.Path == "/callbacks/{key}" {
		// Providers', not merchants': answered in each provider's own words.
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s answered %d, which openapi.json does not describe: %w\nbody: %s", req.Method, req.URL.RequestURI(), status, err, truncate(body, 2000))
	}
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		var v any
		if err := json.Unmarshal(body, &v); err == nil {
			if key := notSnakeCase(v, ""); key != "" {
				return fmt.Errorf("%s %s answered %d with the key %s, which is not snake_case\nbody: %s", req.Method, req.URL.RequestURI(), status, key, truncate(body, 2000))
			}
		}
	}
	return nil
}

// snakeKey is how every key of a merchant API answer is spelt.
var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// mapFields hold maps whose keys are data, not field names: currency codes
// (max_amounts), the merchant's own keys (extra, options), and free-form
// evidence (detail).
var mapFields = map[string]bool{"max_amounts": true, "options": true, "extra": true, "detail": true}

// notSnakeCase is the path of the first key of v, at any depth, that is not
// snake_case ("data[0].TaxID"), or "".
func notSnakeCase(v any, path string) string {
	switch n := v.(type) {
	case map[string]any:
		for k, c := range n {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if !snakeKey.MatchString(k) {
				return p
			}
			if mapFields[k] {
				continue
			}
			if bad := notSnakeCase(c, p); bad != "" {
				return bad
			}
		}
	case []any:
		for i, c := range n {
			if bad := notSnakeCase(c, fmt.Sprintf("%s[%d]", path, i)); bad != "" {
				return bad
			}
		}
	}
	return ""
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// CheckWebhook validates one webhook delivery tally sent the merchant (its
// Tally-Signature and Tally-Event-Id headers and its JSON body) against the
// document's webhooks: order events against webhooks.order, discrepancy
// events against webhooks.discrepancy, by the body's type. It returns nil
// when the delivery agrees.
func CheckWebhook(header http.Header, body []byte) error {
	if _, err := loadContract(); err != nil {
		return err
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("webhook body is not a JSON object: %w\nbody: %s", err, truncate(body, 2000))
	}
	name, _, _ := strings.Cut(head.Type, ".")
	item := contract.doc.Webhooks[name]
	if item == nil || item.Post == nil {
		return fmt.Errorf("webhook type %q: openapi.json describes no webhook %q\nbody: %s", head.Type, name, truncate(body, 2000))
	}
	op := item.Post
	for _, p := range op.Parameters {
		if p.Value == nil || p.Value.In != openapi3.ParameterInHeader {
			continue
		}
		v := header.Get(p.Value.Name)
		if v == "" {
			if p.Value.Required {
				return fmt.Errorf("webhook %s: header %s missing", head.Type, p.Value.Name)
			}
			continue
		}
		if err := p.Value.Schema.Value.VisitJSON(v); err != nil {
			return fmt.Errorf("webhook %s: header %s %q: %w", head.Type, p.Value.Name, v, err)
		}
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return fmt.Errorf("webhook %s: no JSON body described", head.Type)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("webhook %s body does not match openapi.json: %w\nbody: %s", head.Type, err, truncate(body, 2000))
	}
	return nil
}
