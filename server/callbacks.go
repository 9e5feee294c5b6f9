package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

func (s *Server) callbackRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/callbacks/{account}", Handler: s.callback},
		{Method: "GET", Pattern: "/callbacks/{account}", Handler: s.callback},
	}
}

// callback is the ingress every provider posts to: the raw body (size-limited)
// is verified with the account's secret and stored with its process_callback job
// in one transaction; the provider's acknowledgement goes out only after the
// commit. When the database cannot take it, the answer is 503 so that the
// provider retries.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	account := r.PathValue("account")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxCallbackBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.metrics.callbacks.WithLabelValues(s.accountLabel(account), "too_large").Inc()
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read body", http.StatusBadRequest)
		return
	}
	cb := &providers.Callback{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr}
	res, err := s.deps.Orders.Ingest(r.Context(), account, cb)
	switch {
	case errors.Is(err, orders.ErrUnknownAccount):
		s.metrics.callbacks.WithLabelValues("unknown", "unknown_account").Inc()
		http.Error(w, "unknown provider account", http.StatusNotFound)
		return
	case err != nil:
		s.opts.Logger.Error("callback not stored; asking the provider to retry", "provider_account", account, "error", err)
		s.metrics.callbacks.WithLabelValues(s.accountLabel(account), "unavailable").Inc()
		http.Error(w, "temporarily unavailable, retry", http.StatusServiceUnavailable)
		return
	}
	// Ingest found the account: its name is a bounded label.
	verdict := res.Verdict
	if res.Repeat {
		verdict += "_repeat"
	}
	s.metrics.callbacks.WithLabelValues(account, verdict).Inc()
	if res.Verdict == "rejected" {
		s.opts.Logger.Warn("callback rejected", "provider_account", account, "inbox_id", res.InboxID, "remote_addr", r.RemoteAddr)
	}
	res.Reply.Write(w)
}

// accountLabel is the provider_account label of a callback that Ingest did not
// vouch for: the account's name when tally has that account, else "unknown",
// so that arbitrary path values never become metric series.
func (s *Server) accountLabel(account string) string {
	if s.deps.Orders != nil && s.deps.Orders.KnownAccount(account) {
		return account
	}
	return "unknown"
}
