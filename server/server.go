// Package server is tally's HTTP face, on two listeners. The public one serves
// the merchant API (bearer API keys, JSON, described by the OpenAPI document it
// serves), the callback ingress providers post to and /healthz (Server.Handler);
// the admin one, for operators only, serves /healthz, /readyz, Prometheus
// metrics, pprof and operator pages (Server.Admin, NewAdmin).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/webhooks"
)

// Deps are the services the server exposes.
type Deps struct {
	Pool          *pgxpool.Pool
	Orders        *orders.Service
	Callbacks     *callbacks.Service
	Webhooks      *webhooks.Service
	Merchants     *merchants.Service
	Ledger        *ledger.Ledger
	Discrepancies *discrepancies.Store
	// Recon runs reconciliations: POST /v1/recon/runs starts one as a job
	// (recon.Service.Start). Optional: without it the recon routes fail.
	Recon *recon.Service
	// Jobs counts the job queue for /metrics (jobs.Runner); optional.
	Jobs JobStats
	// Extra mounts more routes on the public listener's mux.
	Extra []Route
	// Admin mounts operator pages on the admin listener (Server.Admin), never
	// on the public one.
	Admin []Route
}

// Options tune the server.
type Options struct {
	// MaxBodyBytes bounds a merchant API request body. Default 64 KiB.
	MaxBodyBytes int64
	// MaxCallbackBytes bounds a provider callback body. Default 64 KiB.
	MaxCallbackBytes int64
	// MaxWait bounds ?wait= on create. Default 30s.
	MaxWait time.Duration
	Logger  *slog.Logger
	// Registry receives the server's metrics, served by the admin listener;
	// default a new registry.
	Registry *prometheus.Registry
	// AuthFailureBurst failed API key attempts are allowed per source (client
	// address, an IPv6 /64), then AuthFailureRate per second; beyond them the
	// source is answered 429 with Retry-After before any key is looked up.
	// Zero means the defaults (10, then 1 per second); a negative value
	// disables the limit.
	AuthFailureBurst int
	AuthFailureRate  float64
	// TrustedProxies are the addresses of the TLS-terminating proxies or load
	// balancers in front: from them, the client is read from X-Forwarded-For
	// (ClientAddr). From anyone else, X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// Ingress bounds the callback ingress (rate limits); zero fields take
	// the defaults.
	Ingress IngressOptions
	// Tracer, when set, gives every request to the public listener a server
	// span (tracing.go); nil: no tracing, at no cost.
	Tracer trace.TracerProvider
}

// Route is one route of the server, kept as data so that a test can hold the
// OpenAPI document and the routes to each other.
type Route struct {
	// Method is the HTTP method; empty serves every method (a mounted
	// sub-handler such as the console, which routes methods itself).
	Method  string
	Pattern string // net/http pattern path, e.g. /v1/orders/{id}
	// Auth: the route needs a merchant API key; the handler finds the merchant
	// with MerchantFrom, the key with KeyFrom and who acts with Actor.
	Auth bool
	// Scope is what the key must hold (merchants.Scope): a key without it is
	// answered 403 insufficient_scope before the handler runs. Every Auth
	// route declares one; New panics on one that does not, so a new route
	// cannot be reachable by every key by omission.
	Scope   merchants.Scope
	Handler http.HandlerFunc
	// Internal routes (health, metrics, the document itself) are not in the
	// merchant API document.
	Internal bool
}

// Server is the HTTP server.
type Server struct {
	deps      Deps
	opts      Options
	routes    []Route
	handler   http.Handler
	metrics   *metrics
	authLimit *authLimiter
	ingress   *ingress
	// scalesRead is set once the ledger's currencies were read (loadScales).
	scalesRead atomic.Bool
}

// loadScales reads every currency of the ledger once, on the first
// authenticated request, so that the answers write every amount at its
// currency's scale (ledger.FormatIn) even for a currency `tally currency
// add` added before this process started and that it has not used yet. A
// failure is retried on the next request.
func (s *Server) loadScales(ctx context.Context) {
	if s.deps.Ledger == nil || s.scalesRead.Load() {
		return
	}
	if _, err := s.deps.Ledger.Currencies(ctx); err != nil {
		s.opts.Logger.WarnContext(ctx, "currencies not read: amounts in a currency this process has not used are written with their own digits", "error", err)
		return
	}
	s.scalesRead.Store(true)
}

// New builds the server.
func New(deps Deps, opts Options) *Server {
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.MaxCallbackBytes == 0 {
		opts.MaxCallbackBytes = 64 << 10
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// A line logged with a request's context carries its request_id.
	opts.Logger = requestIDLogger(opts.Logger)
	if opts.Registry == nil {
		opts.Registry = NewRegistry()
	}
	s := &Server{deps: deps, opts: opts, metrics: newMetrics(opts.Registry, deps, opts.Logger),
		authLimit: newAuthLimiter(opts.AuthFailureBurst, opts.AuthFailureRate, opts.Logger), ingress: newIngress(opts.Ingress)}
	s.routes = append(s.apiRoutes(), s.callbackRoutes()...)
	s.routes = append(s.routes, s.reconRoutes()...)
	// Metrics, readiness, pprof and operator pages are the admin listener's
	// (Admin): the public one is what providers and merchants reach.
	s.routes = append(s.routes,
		Route{Method: "GET", Pattern: "/healthz", Handler: healthz, Internal: true},
		Route{Method: "GET", Pattern: "/openapi.json", Handler: serveOpenAPI, Internal: true},
	)
	s.routes = append(s.routes, deps.Extra...)
	mux := http.NewServeMux()
	for _, r := range s.routes {
		h := r.Handler
		if r.Auth {
			if !r.Scope.Valid() {
				panic(fmt.Sprintf("server: route %s %s needs an API key but declares no valid scope (%q)", r.Method, r.Pattern, r.Scope))
			}
			h = s.authenticate(r.Scope, h)
		}
		pattern := r.Pattern
		if r.Method != "" {
			pattern = r.Method + " " + pattern
		}
		mux.Handle(pattern, s.instrument(r.Pattern, h))
	}
	s.handler = withRequestID(opts.TrustedProxies, recoverPanics(opts.Logger, traced(opts.Tracer, mux)))
	return s
}

// Handler is the public listener's http.Handler: the merchant API, callbacks,
// /healthz and /openapi.json.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists the routes the public listener serves.
func (s *Server) Routes() []Route { return s.routes }

// Admin is the admin listener of the same process: its /metrics serves the
// server's registry, its /readyz pings the server's pool, and Deps.Admin are
// its operator pages.
func (s *Server) Admin() *Admin {
	return NewAdmin(AdminDeps{Pool: s.deps.Pool, Registry: s.opts.Registry, Routes: s.deps.Admin, Logger: s.opts.Logger})
}

type (
	ctxKey   struct{}
	keyKey   struct{}
	actorKey struct{}
)

// MerchantFrom returns the merchant an authenticated request belongs to.
func MerchantFrom(ctx context.Context) merchants.Merchant {
	m, _ := ctx.Value(ctxKey{}).(merchants.Merchant)
	return m
}

// KeyFrom returns the API key an authenticated request was made with (its id
// and scopes, never its secret); ok is false when the request was not made
// with a key.
func KeyFrom(ctx context.Context) (key merchants.APIKey, ok bool) {
	key, ok = ctx.Value(keyKey{}).(merchants.APIKey)
	return key, ok
}

// Actor returns who acts in an authenticated request, as resolutions,
// proposals, approvals and assignments record it: "key:<api key id>" for a
// merchant API key, or what WithActor set ("user:<staff user id>" for the
// console). It is "" when nobody authenticated: callers that record an actor
// must refuse to act then, never fall back to a name the caller typed.
func Actor(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// WithActor returns ctx with its actor set: for another authenticator than
// the API key's (the console's staff sessions, "user:<id>").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// authenticate requires "Authorization: Bearer <API key>" holding scope. A
// source (client address) that presented too many refused keys is answered
// 429 with Retry-After before its key is looked up
// (Options.AuthFailureBurst). A valid key without the scope is answered 403
// insufficient_scope naming it (and is not counted as a refused key: it is
// the merchant's own, known key).
func (s *Server) authenticate(scope merchants.Scope, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		source := sourceKey(ClientAddr(r, s.opts.TrustedProxies))
		if wait, limited := s.authLimit.blocked(source); limited {
			s.metrics.authFailures.WithLabelValues("limited").Inc()
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
			writeError(w, http.StatusTooManyRequests, "too_many_failed_attempts",
				"too many refused API keys from this address: retry after the time in Retry-After", "")
			return
		}
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tally"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "an API key is required: Authorization: Bearer <key>", "")
			return
		}
		m, k, err := s.deps.Merchants.Authenticate(r.Context(), strings.TrimSpace(key))
		if err != nil {
			if errors.Is(err, merchants.ErrUnauthorized) {
				s.metrics.authFailures.WithLabelValues("refused").Inc()
				if s.authLimit.failed(source) {
					s.opts.Logger.WarnContext(r.Context(), "refused API keys from one source exceed the limit: answering 429 until it slows down",
						"source", source, "path", r.URL.Path)
				}
				writeError(w, http.StatusUnauthorized, "unauthorized", "invalid or revoked API key", "")
				return
			}
			s.internal(w, r, err)
			return
		}
		if !k.Has(scope) {
			s.metrics.authFailures.WithLabelValues("insufficient_scope").Inc()
			writeError(w, http.StatusForbidden, "insufficient_scope",
				fmt.Sprintf("this API key lacks the scope %s (it has: %s); the operator grants scopes: tally apikey create --scope %s",
					scope, orNone(merchants.JoinScopes(k.Scopes)), scope), "")
			return
		}
		s.loadScales(r.Context())
		ctx := context.WithValue(r.Context(), ctxKey{}, m)
		ctx = context.WithValue(ctx, keyKey{}, k)
		ctx = WithActor(ctx, k.Actor())
		next(w, r.WithContext(ctx))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// internal answers 500 (503 when the database is the cause) and logs the error.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.opts.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	if isUnavailable(err) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable, retry", "")
		return
	}
	writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
}

// APIError is the error body of every 4xx and 5xx.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		// RequestID is the request's id (the X-Request-Id answer header):
		// quoted to the operator, it finds the request's log lines.
		RequestID string `json:"request_id,omitempty"`
	} `json:"error"`
}

// writeError answers an APIError; its request_id is the X-Request-Id the
// request id middleware (withRequestID) set on w.
func writeError(w http.ResponseWriter, status int, code, message, field string) {
	var e APIError
	e.Error.Code, e.Error.Message, e.Error.Field = code, message, field
	e.Error.RequestID = w.Header().Get(RequestIDHeader)
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
