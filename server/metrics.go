package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tallyhq/tally/callbacks"
)

// metrics are the server's Prometheus series.
type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	callbacks    *prometheus.CounterVec
	authFailures *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, deps Deps, logger *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tally_http_requests_total", Help: "HTTP requests by route and status."},
			[]string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tally_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tally_callbacks_total", Help: "Provider callbacks by provider account and verdict."},
			[]string{"provider_account", "verdict"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tally_api_auth_failures_total",
			Help: "Merchant API requests not authenticated, by outcome: refused (a bad key, 401), limited (429, the source's failures over the limit, no key looked up) or insufficient_scope (a valid key without the route's scope, 403)."},
			[]string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.callbacks, m.authFailures, newStateCollector(deps, logger))
	if deps.Callbacks != nil {
		registerAppliedMetrics(reg, deps.Callbacks)
	}
	return m
}

// registerAppliedMetrics counts how this process's workers applied stored
// callbacks: in group transactions, or each alone (callbacks.Service.Process).
func registerAppliedMetrics(reg *prometheus.Registry, svc *callbacks.Service) {
	for _, path := range []string{"group", "alone"} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tally_callbacks_applied_total",
			Help: "Stored callbacks this process applied, by path: group or alone.", ConstLabels: prometheus.Labels{"path": path}},
			func() float64 {
				st := svc.Stats()
				if path == "group" {
					return float64(st.Grouped)
				}
				return float64(st.Alone)
			}))
	}
}

// instrument counts and times a route.
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rw.status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// isUnavailable reports whether err means the database could not be reached (as
// opposed to a query that failed), which is answered 503.
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
