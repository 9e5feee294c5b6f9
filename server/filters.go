package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

// query is the query parameters an endpoint takes: each maps to the values it
// may have, or to nil when any value is read by the handler itself (an id, a
// time, free text).
type query map[string][]string

// The enumerated filters of the list endpoints.
var (
	orderStatuses = []string{string(orders.StatusCreated), string(orders.StatusPending), string(orders.StatusProcessing),
		string(orders.StatusSucceeded), string(orders.StatusFailed), string(orders.StatusExpired), string(orders.StatusReversed)}
	orderKinds          = []string{string(providers.KindDeposit), string(providers.KindPayout)}
	discrepancyStatuses = []string{string(discrepancies.Open), string(discrepancies.Resolved), string(discrepancies.Ignored)}
	discrepancyTypes    = typeNames(discrepancies.Types)
	queryBooleans       = []string{"true", "false", "1", "0"}
)

func typeNames(ts []discrepancies.Type) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// checkQuery refuses, with 400 invalid_filter naming the parameter, a query
// that does not parse, a parameter the endpoint does not take (a misspelt
// filter would otherwise match everything), one given twice, and a value
// outside an enumeration (which would otherwise match nothing). An empty value
// is a filter not given. It answers the refusal itself and reports whether the
// query is acceptable.
func checkQuery(w http.ResponseWriter, r *http.Request, takes query) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_filter", "the query string does not parse: "+err.Error(), "")
		return false
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		allowed, ok := takes[name]
		switch {
		case !ok:
			writeError(w, http.StatusBadRequest, "invalid_filter",
				fmt.Sprintf("unknown query parameter %s; this endpoint takes %s", strconv.Quote(name), takes.names()), name)
			return false
		case len(q[name]) > 1:
			writeError(w, http.StatusBadRequest, "invalid_filter", name+" is given more than once", name)
			return false
		case allowed != nil && q[name][0] != "" && !slices.Contains(allowed, q[name][0]):
			writeError(w, http.StatusBadRequest, "invalid_filter",
				fmt.Sprintf("unknown %s %s: one of %s", name, strconv.Quote(q[name][0]), strings.Join(allowed, ", ")), name)
			return false
		}
	}
	return true
}

// names lists the parameters, sorted, for an error message.
func (q query) names() string {
	if len(q) == 0 {
		return "no query parameters"
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
