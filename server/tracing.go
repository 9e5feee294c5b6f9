package server

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// traced wraps the public listener's routes (mux) in a server span per
// request (otelhttp) when tracing is on (tp not nil; off, mux is returned
// as it is). The span is named by the route's pattern ("POST
// /callbacks/{key}") and carries http.route and the request id; it records
// the method, status and sizes, never a header's value (Authorization,
// signatures) or a body. The path and query are not recorded: a callback's
// path holds its account's callback key (scrubStart). Every request starts
// a trace of its own: the public listener faces merchants and providers, who
// do not choose tally's trace ids (an incoming traceparent is only linked).
func traced(tp trace.TracerProvider, mux http.Handler) http.Handler {
	if tp == nil {
		return mux
	}
	// otelhttp hands this the request it serves mux with, so the pattern
	// mux matched is on it afterwards.
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		span := trace.SpanFromContext(r.Context())
		if !span.IsRecording() {
			return
		}
		if _, route, ok := strings.Cut(r.Pattern, " "); ok {
			span.SetAttributes(attribute.String("http.route", route))
		} else if r.Pattern != "" {
			span.SetAttributes(attribute.String("http.route", r.Pattern))
		}
		if id := RequestID(r.Context()); id != "" {
			span.SetAttributes(attribute.String("tally.request_id", id))
		}
	})
	return otelhttp.NewHandler(inner, "http",
		otelhttp.WithTracerProvider(scrubbingProvider{tp: tp}),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method // unmatched: 404 and 405 answers
		}),
	)
}

// scrubbedAttrs are the attributes otelhttp records at a span's start that
// tally's spans leave out: the path and query (a callback's path holds its
// callback key, others ids and filters; http.route says which route it
// was), and client.address, which otelhttp reads from X-Forwarded-For
// whoever sent it (network.peer.address is the peer).
var scrubbedAttrs = map[attribute.Key]bool{"url.path": true, "url.query": true, "url.full": true, "client.address": true}

// scrubbingProvider is tp with scrubStart in front of every span start.
type scrubbingProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

// Tracer is tp's tracer of name, scrubbed.
func (p scrubbingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return scrubbingTracer{t: p.tp.Tracer(name, opts...)}
}

type scrubbingTracer struct {
	embedded.Tracer
	t trace.Tracer
}

// Start starts the span opts describe without scrubbedAttrs.
func (t scrubbingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return t.t.Start(ctx, name, scrubStart(opts)...)
}

// scrubStart is opts without the attributes of scrubbedAttrs.
func scrubStart(opts []trace.SpanStartOption) []trace.SpanStartOption {
	cfg := trace.NewSpanStartConfig(opts...)
	attrs := make([]attribute.KeyValue, 0, len(cfg.Attributes()))
	for _, a := range cfg.Attributes() {
		if !scrubbedAttrs[a.Key] {
			attrs = append(attrs, a)
		}
	}
	out := []trace.SpanStartOption{trace.WithAttributes(attrs...), trace.WithSpanKind(cfg.SpanKind()), trace.WithLinks(cfg.Links()...)}
	if cfg.NewRoot() {
		out = append(out, trace.WithNewRoot())
	}
	if ts := cfg.Timestamp(); !ts.IsZero() {
		out = append(out, trace.WithTimestamp(ts))
	}
	return out
}
