package db

import (
	"context"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Trace instruments the pool cfg describes with query spans (otelpgx) from
// tp: a span per query, preparation, batch and COPY, named by its kind and
// its sqlc query name ("query TransferTx") or else its SQL operation
// ("query SELECT"), carrying the SQL text
// but never its parameters (otelpgx records none unless asked to: the
// parameters hold callback bodies, keys and sealed secrets). Spans are made
// only inside a trace being recorded, so River's polling and an idle pool
// make none. A nil tp leaves cfg as it is (tracing off); a tracer cfg
// already has keeps working beside it (multitracer).
func Trace(cfg *pgxpool.Config, tp trace.TracerProvider) {
	if tp == nil {
		return
	}
	t := otelpgx.NewTracer(
		otelpgx.WithTracerProvider(tp),
		// Its metrics would go to the global meter provider: tally's
		// metrics are Prometheus's (server/metrics.go).
		otelpgx.WithMeterProvider(noop.NewMeterProvider()),
		otelpgx.WithSpanNameCtxFunc(QueryName),
		// "query TransferTx", "prepare TransferTx", "batch ...": a
		// statement's preparation and its run told apart.
		otelpgx.WithQuerySpanNamePrefix(),
		// Acquiring a connection is a span of its own per query otherwise.
		otelpgx.WithDisableAcquireTracer(),
	)
	if prev := cfg.ConnConfig.Tracer; prev != nil {
		cfg.ConnConfig.Tracer = multitracer.New(prev, t)
		return
	}
	cfg.ConnConfig.Tracer = t
}

// QueryName names a query's span: the name sqlc gives it in its leading
// "-- name: InsertCallbacks :batchone" comment, else the statement's first
// word (River's and the hand-written few).
func QueryName(ctx context.Context, sql string) string {
	s := strings.TrimLeft(sql, " \t\r\n")
	if rest, ok := strings.CutPrefix(s, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok && name != "" {
			return name
		}
	}
	return otelpgx.SQLOperationName(ctx, sql)
}
