package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/staff"
)

// require wraps a handler that needs a permission beyond the route's (for
// a page whose GET reads and whose form acts, when both share a handler).
func (c *Console) require(p staff.Permission, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !userFrom(r.Context()).Can(p) {
			c.forbidden(w, r)
			return
		}
		next(w, r)
	}
}

// merchantScope is the merchants a request may read: the one it asks for
// (requested, 0 for none) if the user sees it, else every merchant the user
// sees (nil: every merchant). Asking for a merchant the user does not see is
// errForbidden.
func merchantScope(u staff.User, requested int64) ([]int64, error) {
	if requested != 0 {
		if !u.SeesMerchant(requested) {
			return nil, fmt.Errorf("merchant %d: %w", requested, errForbidden)
		}
		return []int64{requested}, nil
	}
	if u.MerchantIDs == nil {
		return nil, nil
	}
	return slices.Clone(u.MerchantIDs), nil
}

// visibleMerchants lists the merchants the user sees, for filters.
func (c *Console) visibleMerchants(ctx context.Context, u staff.User) ([]merchants.Merchant, error) {
	if c.deps.Merchants == nil {
		return nil, nil
	}
	all, err := c.deps.Merchants.Merchants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list merchants: %w", err)
	}
	out := all[:0:0]
	for _, m := range all {
		if u.SeesMerchant(m.ID) {
			out = append(out, m)
		}
	}
	return out, nil
}

// withParam is the request's URL with one query parameter set (or removed
// when value is empty): for keyset pagination links ("cursor") and sorting.
func withParam(r *http.Request, key, value string) string {
	q := r.URL.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// pager holds a list's keyset pagination links: First is set when the page
// is not the first, Next when there are more rows.
type pager struct {
	First string
	Next  string
}

// newPager builds the links of a page read with the request's "cursor"
// parameter, whose following page starts at next ("" when it was the last).
func newPager(r *http.Request, next string) pager {
	var p pager
	if r.URL.Query().Get("cursor") != "" {
		p.First = withParam(r, "cursor", "")
	}
	if next != "" {
		p.Next = withParam(r, "cursor", next)
	}
	return p
}

// formInt64 reads an integer parameter; empty is 0.
func formInt64(r *http.Request, key string) (int64, error) {
	v := r.FormValue(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: not a number", key)
	}
	return n, nil
}

// byPathID loads what the path's {id} names through get: a malformed id or
// get's notFound answers the 404 page, any other failure the error page.
// Scoping (may the user see it?) is the caller's.
func byPathID[T any](c *Console, w http.ResponseWriter, r *http.Request, get func(context.Context, int64) (T, error), notFound error) (T, bool) {
	var zero T
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r)
		return zero, false
	}
	v, err := get(r.Context(), id)
	if errors.Is(err, notFound) {
		c.notFound(w, r)
		return zero, false
	}
	if err != nil {
		c.fail(w, r, err)
		return zero, false
	}
	return v, true
}
