package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tallyhq/tally/callbacks"
)

// AdminDeps are what the admin listener serves. The admin listener is the
// operator's (DESIGN.md, "Identities and trust"): it has no authentication of
// its own and must listen where only operators reach it (by default
// 127.0.0.1:9090), never on the address providers and merchants reach.
type AdminDeps struct {
	// Pool answers /readyz; nil answers ready without asking a database.
	Pool *pgxpool.Pool
	// Registry is served at /metrics; default a new registry.
	Registry *prometheus.Registry
	// Callbacks, for a process without a Server (tally worker), adds what its
	// workers count (tally_callbacks_applied_total) to Registry. A Server
	// registers it itself: leave it nil for Server.Admin.
	Callbacks *callbacks.Service
	// Routes are operator pages mounted beside health, metrics and pprof.
	Routes []Route
	Logger *slog.Logger
}

// Admin is the handler of the admin listener: /healthz, /readyz, /metrics,
// the runtime profiles under /debug/pprof/ and the operator pages.
type Admin struct {
	deps    AdminDeps
	routes  []Route
	handler http.Handler
}

// NewAdmin builds the admin handler for a process; tally worker uses it
// directly, tally serve through Server.Admin (the same registry as the
// public listener's counters).
func NewAdmin(deps AdminDeps) *Admin {
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Callbacks != nil {
		registerAppliedMetrics(deps.Registry, deps.Callbacks)
	}
	a := &Admin{deps: deps}
	a.routes = []Route{
		{Method: "GET", Pattern: "/healthz", Handler: healthz, Internal: true},
		{Method: "GET", Pattern: "/readyz", Handler: a.readyz, Internal: true},
		{Method: "GET", Pattern: "/metrics", Handler: promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{}).ServeHTTP, Internal: true},
		// The profiles of runtime/pprof (heap, goroutine, allocs, block, mutex,
		// threadcreate) by name, a CPU profile and an execution trace.
		// /debug/pprof/cmdline is left out: the command line may carry a
		// --database-url with its password.
		{Method: "GET", Pattern: "/debug/pprof/", Handler: pprof.Index, Internal: true},
		{Method: "GET", Pattern: "/debug/pprof/profile", Handler: pprof.Profile, Internal: true},
		{Method: "GET", Pattern: "/debug/pprof/symbol", Handler: pprof.Symbol, Internal: true},
		{Method: "POST", Pattern: "/debug/pprof/symbol", Handler: pprof.Symbol, Internal: true},
		{Method: "GET", Pattern: "/debug/pprof/trace", Handler: pprof.Trace, Internal: true},
	}
	a.routes = append(a.routes, deps.Routes...)
	mux := http.NewServeMux()
	for _, r := range a.routes {
		mux.Handle(r.Method+" "+r.Pattern, r.Handler)
	}
	a.handler = recoverPanics(deps.Logger, mux)
	return a
}

// Handler is the admin listener's http.Handler.
func (a *Admin) Handler() http.Handler { return a.handler }

// Routes lists the routes the admin listener serves.
func (a *Admin) Routes() []Route { return a.routes }

// NewRegistry is a Prometheus registry with the Go runtime's and the
// process's collectors, for the /metrics of a tally process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers within 2 s, else 503.
func (a *Admin) readyz(w http.ResponseWriter, r *http.Request) {
	if a.deps.Pool != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.deps.Pool.Ping(ctx); err != nil {
			a.deps.Logger.Warn("not ready: the database does not answer", "error", err)
			writeError(w, http.StatusServiceUnavailable, "database_unavailable", "database does not answer", "")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
