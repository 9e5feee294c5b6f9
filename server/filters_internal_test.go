package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// checkQuery refuses unknown parameters, repeated ones and values outside an
// enumeration with 400 invalid_filter naming the parameter.
func TestCheckQuery(t *testing.T) {
	takes := query{"status": discrepancyStatuses, "before": nil}
	for raw, field := range map[string]string{
		"":                           "",
		"status=open":                "",
		"status=":                    "",
		"before=12&status=resolved":  "",
		"status=OPEN":                "status",
		"status=closed":              "status",
		"status=open&status=ignored": "status",
		"stauts=open":                "stauts",
		"before=1&zzz=1":             "zzz",
		"status=%zz":                 "-",
		"status=open%00":             "status",
		"status=open%3Bdrop%20table": "status",
	} {
		r := httptest.NewRequest("GET", "/v1/discrepancies?"+raw, nil)
		w := httptest.NewRecorder()
		ok := checkQuery(w, r, takes)
		if field == "" {
			if !ok {
				t.Errorf("%q refused: %s", raw, w.Body)
			}
			continue
		}
		var e APIError
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if ok || w.Code != http.StatusBadRequest || e.Error.Code != "invalid_filter" || (field != "-" && e.Error.Field != field) {
			t.Errorf("%q: ok %v, %d %s; want 400 invalid_filter on %s", raw, ok, w.Code, w.Body, field)
		}
	}
}

// The document lists the values the server accepts.
func TestOpenAPIEnumsMatchFilters(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]string{
		"/v1/orders status": orderStatuses, "/v1/orders kind": orderKinds,
		"/v1/discrepancies status": discrepancyStatuses, "/v1/discrepancies type": discrepancyTypes,
	} {
		path, name, _ := strings.Cut(key, " ")
		var got []string
		for _, p := range doc.Paths[path]["get"].Parameters {
			if p.Name == name {
				got = p.Schema.Enum
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the document says %v, the server takes %v", key, got, want)
		}
	}
}
