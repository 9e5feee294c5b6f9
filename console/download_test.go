package console

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/staff"
)

func downloadConsole() *Console {
	return New(Deps{Staff: staff.New(nil, staff.Options{})}, Options{Logger: slog.New(slog.DiscardHandler)})
}

var errRowsFailed = errors.New("rows failed")

// rowsFailingAfter emits n rows of about 40 bytes, then fails.
func rowsFailingAfter(n int) func(emit func([]xcell) error) error {
	return func(emit func([]xcell) error) error {
		for i := range n {
			if err := emit([]xcell{xint(int64(i)), xtext("assets:provider:p1:BRL"), xamount(decimal.NewFromInt(int64(i)), 2)}); err != nil {
				return err
			}
		}
		return errRowsFailed
	}
}

var testCols = []xcol{{"Entry", 8}, {"Account", 30}, {"Debit", 18}}

// TestExportErrorBeforeFirstByte: an export that fails before sending
// anything is answered with the error page, not an attachment.
func TestExportErrorBeforeFirstByte(t *testing.T) {
	c := downloadConsole()
	for _, format := range []string{"csv", "xlsx"} {
		rec := httptest.NewRecorder()
		// A few rows fit in the CSV writer's buffer; XLSX sends nothing
		// before its rows are all read.
		c.booksExport(rec, httptest.NewRequest("GET", "/console/ledger/journal?format="+format, nil), format, "journal", "Journal", testCols, rowsFailingAfter(3))
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Disposition") != "" ||
			!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), "Something went wrong") {
			t.Errorf("%s: %d %v\n%s", format, rec.Code, rec.Header(), rec.Body.String())
		}
	}
}

// TestExportErrorAfterFirstByteAborts: an export that fails after its first
// byte went out aborts the response: the handler panics with
// http.ErrAbortHandler and the client's download fails (no complete 200).
func TestExportErrorAfterFirstByteAborts(t *testing.T) {
	c := downloadConsole()
	// Called directly: the panic is http.ErrAbortHandler.
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		c.booksExport(httptest.NewRecorder(), httptest.NewRequest("GET", "/console/ledger/journal", nil), "csv", "journal", "Journal", testCols, rowsFailingAfter(10_000))
		t.Fatal("no panic")
	}()

	// Served: the client sees a broken download, never a whole file.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.booksExport(w, r, "csv", "journal", "Journal", testCols, rowsFailingAfter(10_000))
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
	}
	if err == nil {
		t.Fatalf("the failed export downloaded as a whole file (%d)", resp.StatusCode)
	}

	// A failed write (the client went away) aborts too.
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		w := &brokenWriter{ResponseRecorder: httptest.NewRecorder()}
		c.booksExport(w, httptest.NewRequest("GET", "/console/ledger/journal", nil), "xlsx", "journal", "Journal", testCols,
			func(emit func([]xcell) error) error {
				return emit([]xcell{xint(1), xtext("a"), xamount(decimal.NewFromInt(1), 2)})
			})
		t.Fatal("no panic")
	}()
}

// brokenWriter is a response whose every write fails, as when the client
// has gone.
type brokenWriter struct {
	*httptest.ResponseRecorder
}

func (b *brokenWriter) Write(p []byte) (int, error) {
	return 0, fmt.Errorf("write: connection reset by peer")
}
