// Package tracing owns tally's OpenTelemetry tracing: the tracer provider of
// a process (tally serve, tally worker), off unless an OTLP endpoint is
// configured, and the helper the services use to add a span of their own
// to a trace already being recorded.
//
// Off, there is no provider at all (Tracing.Provider is nil): the HTTP
// server, the River clients and the pool are built without their
// instrumentation, and Child returns the context's non-recording span, so
// tracing costs nothing. On, spans are batched and exported with OTLP over
// HTTP, sampled at a ratio at the roots (an HTTP request, a scheduled job)
// and following the root's decision everywhere else; Shutdown flushes what
// is still buffered.
//
// The spans of one provider callback form one trace: the public listener's
// server span (package server), the group-commit transaction that stores the
// callback and inserts its process_callback job (package callbacks), the
// job's River work span, which continues the trace through the job's
// metadata (package jobs), the group transaction that applies it, every
// query (package db, otelpgx) and the ledger posting (package ledger).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ErrConfig: the tracing options are malformed (an endpoint that is not an
// http(s) URL, a sample ratio outside [0, 1]).
var ErrConfig = errors.New("invalid tracing config")

// The OpenTelemetry environment variables tracing honours besides the
// flags: either endpoint variable turns tracing on (the exporter reads it,
// with OTEL_EXPORTER_OTLP_HEADERS and the other OTLP variables),
// OTEL_SDK_DISABLED=true keeps it off whatever is set, OTEL_SERVICE_NAME
// names the service when Options.ServiceName is empty.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvServiceName    = "OTEL_SERVICE_NAME"
)

// DefaultServiceName is service.name when neither Options.ServiceName nor
// OTEL_SERVICE_NAME is set.
const DefaultServiceName = "tally"

// Options configure a process's tracing (tally serve and tally worker's
// --otel-* flags).
type Options struct {
	// Endpoint is the OTLP/HTTP collector, a base URL such as
	// http://127.0.0.1:4318 (spans go to its /v1/traces) or a URL with the
	// full path. Empty: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT if set, else
	// tracing is off.
	Endpoint string
	// SampleRatio is the share of traces recorded, decided at each root
	// (an HTTP request, a job nobody's trace queued): 1 records every one,
	// 0 none (the flag's default is 1).
	SampleRatio float64
	// ServiceName is the resource's service.name; empty is
	// OTEL_SERVICE_NAME, else DefaultServiceName.
	ServiceName string
	// Process says which process this is ("serve", "worker"): the
	// resource's tally.process attribute, to tell API nodes from workers.
	Process string
}

// Tracing is a process's tracing: a provider while on, nothing while off.
type Tracing struct {
	sdk *sdktrace.TracerProvider
}

// New sets up the tracing opts describe: off (a Tracing whose Provider is
// nil) unless an endpoint is configured, by Options.Endpoint or the
// environment. Nothing is dialled before the first export.
func New(ctx context.Context, opts Options) (*Tracing, error) {
	if opts.SampleRatio < 0 || opts.SampleRatio > 1 {
		return nil, fmt.Errorf("%w: sample ratio %v: a share between 0 and 1", ErrConfig, opts.SampleRatio)
	}
	if !Configured(opts.Endpoint) {
		return &Tracing{}, nil
	}
	var eopts []otlptracehttp.Option
	if opts.Endpoint != "" {
		u, err := tracesURL(opts.Endpoint)
		if err != nil {
			return nil, err
		}
		eopts = append(eopts, otlptracehttp.WithEndpointURL(u))
	}
	exp, err := otlptracehttp.New(ctx, eopts...)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	return &Tracing{sdk: NewProvider(sdktrace.NewBatchSpanProcessor(exp), opts)}, nil
}

// Configured reports whether tracing is on for an endpoint flag's value:
// the flag or an OTLP endpoint variable is set, and OTEL_SDK_DISABLED is
// not true.
func Configured(endpoint string) bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(EnvSDKDisabled)), "true") {
		return false
	}
	return endpoint != "" || os.Getenv(EnvEndpoint) != "" || os.Getenv(EnvTracesEndpoint) != ""
}

// NewProvider is the tracer provider of opts (sampler and resource) over
// one span processor: New's batching OTLP exporter, or a test's in-memory
// one (sdktrace.NewSimpleSpanProcessor of a tracetest.InMemoryExporter).
func NewProvider(sp sdktrace.SpanProcessor, opts Options) *sdktrace.TracerProvider {
	name := opts.ServiceName
	if name == "" {
		name = os.Getenv(EnvServiceName)
	}
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	if opts.Process != "" {
		attrs = append(attrs, attribute.String("tally.process", opts.Process))
	}
	// The SDK's own attributes and OTEL_RESOURCE_ATTRIBUTES, then ours.
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, attrs...))
	if err != nil {
		res = resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))),
	)
}

// tracesURL is the exporter's URL for an endpoint flag: a base URL gets the
// OTLP traces path, a URL with a path is taken as it is.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: endpoint %q: an http(s) URL such as http://127.0.0.1:4318", ErrConfig, endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Provider is the tracer provider to instrument the process with; nil while
// tracing is off, which every constructor taking one reads as "build
// without instrumentation".
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk
}

// Shutdown flushes the spans still buffered and stops the exporter, within
// ctx; nothing while off. A process calls it last, after its listeners and
// workers stopped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}

// ShutdownWithin is Shutdown with a deadline of d from now.
func (t *Tracing) ShutdownWithin(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return t.Shutdown(ctx)
}

// Child starts a span named name under ctx's span, through the provider of
// that span, when ctx's span is being recorded; otherwise it returns ctx and
// its non-recording span, at no cost. It is how a package that is handed a
// context (the ledger, the callbacks service) adds a span of its own to a
// trace without being given a provider: it appears only inside a trace
// something instrumented started. End the returned span.
func Child(ctx context.Context, scope, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, opts...)
}

// Follow starts a span named name that continues the trace of the first
// recording span of spans, linked to the others: the one span of a batch
// that several traced callers wait on (a group commit, a group
// transaction), so that each caller's trace shows the work done for it. It
// returns ctx and a non-recording span when none of spans is recorded. ctx
// is the batch's own context (its deadline and cancellation); the span's
// parent comes from spans only.
func Follow(ctx context.Context, spans []trace.Span, scope, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	var first trace.Span
	var links []trace.Link
	for _, s := range spans {
		if s == nil || !s.IsRecording() {
			continue
		}
		if first == nil {
			first = s
			continue
		}
		links = append(links, trace.Link{SpanContext: s.SpanContext()})
	}
	if first == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx = trace.ContextWithSpan(ctx, first)
	opts = append(opts, trace.WithLinks(links...))
	return first.TracerProvider().Tracer(scope).Start(ctx, name, opts...)
}
