package jobs

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracePlugins are the River plugins of a client while tracing is on (tp not
// nil; none while off): otelriver's spans, river.insert_many around every
// insert and river.work/<kind> around every job worked, and continueTrace
// before it.
//
// otelriver carries the inserting span's W3C trace context in the job's
// metadata (traceparent, tracestate) and, on work, only links the work span
// to it: the job would start a trace of its own. continueTrace makes the
// work span that span's child instead, so that a provider callback's trace
// runs from its HTTP request through the process_callback job it queued to
// the ledger posting (the link stays). A job retried later stays in the
// trace that queued it; a scheduled job's trace starts at its insert.
func tracePlugins(tp trace.TracerProvider) []rivertype.Plugin {
	if tp == nil {
		return nil
	}
	return []rivertype.Plugin{
		&continueTrace{},
		otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider: tp,
			// Jobs are counted by the Prometheus collectors (server's
			// state_metrics.go), not through OpenTelemetry metrics.
			MeterProvider:               noop.NewMeterProvider(),
			EnableTracePropagation:      true,
			EnableWorkSpanJobKindSuffix: true,
		}),
	}
}

// continueTrace is the work middleware that puts the trace context of a
// job's metadata in the context the job is worked with, as the remote
// parent of otelriver's work span (which must come after it).
type continueTrace struct {
	river.MiddlewareDefaults
}

// Work works job with its inserter's span as the context's remote parent.
func (*continueTrace) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if sc := metadataSpan(job.Metadata); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return doInner(ctx)
}

// metadataSpan is the span context of a job's metadata (otelriver's
// traceparent and tracestate keys); invalid when it holds none.
func metadataSpan(metadata []byte) trace.SpanContext {
	if len(metadata) == 0 {
		return trace.SpanContext{}
	}
	var meta struct {
		TraceParent string `json:"traceparent"`
		TraceState  string `json:"tracestate"`
	}
	if err := json.Unmarshal(metadata, &meta); err != nil || meta.TraceParent == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": meta.TraceParent}
	if meta.TraceState != "" {
		carrier["tracestate"] = meta.TraceState
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
}
