package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/providers"
)

func (s *Server) callbackRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/callbacks/{key}", Handler: s.callback},
		// GET only reaches the accounts whose provider calls with GET
		// (USDTCNPAY); for the others it is 405 (callbacks.Target.AllowsMethod).
		{Method: "GET", Pattern: "/callbacks/{key}", Handler: s.callback},
	}
}

// callback is the ingress every provider posts to, at its account's
// unguessable callback key. In order, and each step before anything later is
// read or stored:
//   - an unknown key is 404 (a key of the wrong form without a lookup; a
//     source whose failures are spent gets no lookup of a key this process
//     has not seen: 503);
//   - a method the provider does not use is 405;
//   - the account's delivery budget (IngressOptions.Rate) and, for a failed
//     delivery, the source's and the account's failure budgets
//     (IngressOptions.RejectRate) are spent, or the answer is 503 with
//     Retry-After and nothing is stored;
//   - the raw body (size-limited) is verified with the account's secret and
//     stored with its process_callback job in one transaction (a rejected one
//     counted, and kept only as one of the hour's samples); the provider's
//     acknowledgement goes out only after the commit. When the database
//     cannot take it, the answer is 503 so that the provider retries.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	// The client's address: the connection's, or behind a trusted proxy the
	// one it forwards (never a header an untrusted sender writes itself).
	source := sourceOf(ClientAddr(r, s.opts.TrustedProxies).String())
	if !s.deps.Callbacks.KnownKey(key) {
		if err := s.ingress.sourceSpent(source); err != nil {
			s.limited(w, "unknown", err)
			return
		}
	}
	t, err := s.deps.Callbacks.Resolve(r.Context(), key)
	switch {
	case errors.Is(err, callbacks.ErrUnknownAccount):
		if err := s.ingress.failure(source, 0); err != nil {
			s.limited(w, "unknown", err)
			return
		}
		s.metrics.callbacks.WithLabelValues("unknown", "unknown_account").Inc()
		http.Error(w, "unknown callback URL", http.StatusNotFound)
		return
	case err != nil:
		s.opts.Logger.ErrorContext(r.Context(), "callback account not read; asking the provider to retry", "error", err)
		s.metrics.callbacks.WithLabelValues("unknown", "unavailable").Inc()
		http.Error(w, "temporarily unavailable, retry", http.StatusServiceUnavailable)
		return
	}
	acct := t.Account
	if !t.AllowsMethod(r.Method) {
		if err := s.ingress.failure(source, acct.ID); err != nil {
			s.limited(w, t.Label, err)
			return
		}
		s.metrics.callbacks.WithLabelValues(t.Label, "method_not_allowed").Inc()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := s.ingress.delivery(acct.ID); err != nil {
		s.limited(w, t.Label, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxCallbackBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			if err := s.ingress.failure(source, acct.ID); err != nil {
				s.limited(w, t.Label, err)
				return
			}
			s.metrics.callbacks.WithLabelValues(t.Label, "too_large").Inc()
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read body", http.StatusBadRequest)
		return
	}
	cb := &providers.Callback{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr}
	res, err := s.deps.Callbacks.Ingest(r.Context(), t, cb, func(verdict string) error {
		if verdict != "rejected" {
			return nil // a verified callback never spends the failure budgets
		}
		return s.ingress.failure(source, acct.ID)
	})
	switch {
	case errors.Is(err, errRateLimited):
		s.limited(w, t.Label, err)
		return
	case err != nil:
		s.opts.Logger.ErrorContext(r.Context(), "callback not stored; asking the provider to retry", "provider_account", t.Label, "error", err)
		s.metrics.callbacks.WithLabelValues(t.Label, "unavailable").Inc()
		http.Error(w, "temporarily unavailable, retry", http.StatusServiceUnavailable)
		return
	}
	verdict := res.Verdict
	if res.Verdict == "rejected" && !res.Sampled {
		verdict = "rejected_unsampled"
	}
	if res.Repeat {
		verdict += "_repeat"
	}
	s.metrics.callbacks.WithLabelValues(t.Label, verdict).Inc()
	if res.Verdict == "rejected" && res.Sampled && !res.Repeat {
		// One line per sample (at most the hour's samples per account), not
		// per delivery: a flood does not flood the logs.
		s.opts.Logger.WarnContext(r.Context(), "callback rejected; kept as a sample", "provider_account", t.Label, "inbox_id", res.InboxID, "remote_addr", r.RemoteAddr)
	}
	res.Reply.Write(w)
}

// limited answers a delivery a rate limit refused: 503 with Retry-After,
// nothing stored; the provider's retry brings it again.
func (s *Server) limited(w http.ResponseWriter, label string, err error) {
	s.metrics.callbacks.WithLabelValues(label, "rate_limited").Inc()
	w.Header().Set("Retry-After", retryAfterSeconds(err))
	http.Error(w, "too many callbacks, retry later", http.StatusServiceUnavailable)
}
