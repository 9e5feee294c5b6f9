package console

import (
	"net/http"
	"strings"
)

// A download (an export, a run's report) streams its file into the response.
// An error before its first byte is answered with the error page; an error
// after it can no longer change the status (200 was sent), so the response
// is aborted: the handler panics with http.ErrAbortHandler, which net/http
// turns into a broken connection (HTTP/1.1: no final chunk; HTTP/2: a
// stream reset), and the browser reports a failed download instead of
// saving a truncated file as if it were whole. No handler between the
// server and the console recovers that panic: the console's chain
// (securityHeaders, CrossOriginProtection, the mux, authed) has no recover,
// and package server's recoverPanics re-panics http.ErrAbortHandler.

// download is the response of a download: it records whether anything was
// sent (a header or a byte), after which an error can only abort it.
type download struct {
	http.ResponseWriter
	started bool
}

func newDownload(w http.ResponseWriter) *download { return &download{ResponseWriter: w} }

// WriteHeader sends the status and the headers.
func (d *download) WriteHeader(code int) {
	d.started = true
	d.ResponseWriter.WriteHeader(code)
}

// Write sends file bytes (the headers with the first, as 200). A failed
// write counts as sent: the headers may have gone out.
func (d *download) Write(p []byte) (int, error) {
	d.started = true
	return d.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (d *download) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// finish ends a download that failed with err (nothing when err is nil):
// before the first byte it answers the error page (without the attachment's
// headers); after it, it logs the error and aborts the response, so the
// user never gets a truncated file that looks complete.
func (c *Console) finish(d *download, r *http.Request, what string, err error) {
	if err == nil {
		return
	}
	if !d.started {
		h := d.ResponseWriter.Header()
		h.Del("Content-Disposition")
		h.Del("Content-Type")
		c.fail(d.ResponseWriter, r, err)
		return
	}
	c.log.Error("console: download failed after it started; aborting the response",
		"download", what, "path", r.URL.Path, "error", err)
	panic(http.ErrAbortHandler)
}

// csvSafe keeps a spreadsheet from reading a text cell of a CSV export as a
// formula (every export's text cells go through it).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
