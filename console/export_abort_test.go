package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tallyhq/tally/console"
	"github.com/tallyhq/tally/staff"
)

// goneWriter is a response to a client that has gone: every write fails.
type goneWriter struct {
	*httptest.ResponseRecorder
}

func (g goneWriter) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// TestFailedDownloadsAbort: a download whose writing fails (here the client
// is gone) aborts the response with http.ErrAbortHandler, and nothing in
// the console's handler chain recovers it into a 500 page: net/http breaks
// the connection, which the browser reports as a failed download.
func TestFailedDownloadsAbort(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	m, err := s.merchants.EnsureMerchant(ctx, "alpha", "Alpha")
	if err != nil {
		t.Fatal(err)
	}
	s.openDiscrepancy(m.ID, "a1")
	_, token := s.user("ann@example.com", staff.Viewer)
	for _, path := range []string{
		"/console/ledger/journal?format=csv&merchant=" + strconv.FormatInt(m.ID, 10),
		"/console/ledger/journal?format=xlsx&merchant=" + strconv.FormatInt(m.ID, 10),
		"/console/ledger/trial?format=csv&merchant=" + strconv.FormatInt(m.ID, 10),
		"/console/discrepancies/export.csv",
		"/console/discrepancies/export.xlsx",
	} {
		t.Run(path, func(t *testing.T) {
			req := httptest.NewRequest("GET", path, nil)
			req.AddCookie(&http.Cookie{Name: console.CookieName, Value: token})
			w := goneWriter{httptest.NewRecorder()}
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Fatalf("recovered %v, want http.ErrAbortHandler (answer %d %s)", v, w.Code, w.Body.String())
				}
			}()
			s.console.Handler().ServeHTTP(w, req)
			t.Fatalf("the download ended normally: %d", w.Code)
		})
	}
	// The same downloads to a client still there are whole files.
	for _, path := range []string{
		"/console/ledger/journal?format=csv&merchant=" + strconv.FormatInt(m.ID, 10),
		"/console/discrepancies/export.csv",
	} {
		if a := s.do("GET", path, token, nil); a.status != http.StatusOK || a.header.Get("Content-Disposition") == "" {
			t.Errorf("%s: %d %v", path, a.status, a.header)
		}
	}
}
