package tracing_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tallyhq/tally/tracing"
)

// clearEnv leaves tracing to the test's options.
func clearEnv(t *testing.T) {
	for _, k := range []string{tracing.EnvEndpoint, tracing.EnvTracesEndpoint, tracing.EnvSDKDisabled, tracing.EnvServiceName} {
		t.Setenv(k, "")
	}
}

// TestOffByDefault: without an endpoint there is no provider, and
// OTEL_SDK_DISABLED=true keeps tracing off whatever else is set; Child then
// records nothing.
func TestOffByDefault(t *testing.T) {
	clearEnv(t)
	tr, err := tracing.New(context.Background(), tracing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Provider() != nil {
		t.Fatalf("no endpoint: provider %T, want none", tr.Provider())
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown while off: %v", err)
	}
	t.Setenv(tracing.EnvSDKDisabled, "true")
	tr, err = tracing.New(context.Background(), tracing.Options{Endpoint: "http://127.0.0.1:4318"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Provider() != nil {
		t.Fatalf("OTEL_SDK_DISABLED=true: provider %T, want none", tr.Provider())
	}
	if _, span := tracing.Child(context.Background(), "test", "child"); span.IsRecording() {
		t.Fatal("Child outside a recorded trace records")
	}
}

// TestBadOptions: a ratio outside [0, 1] or an endpoint that is not an
// http(s) URL fails before anything starts.
func TestBadOptions(t *testing.T) {
	clearEnv(t)
	for _, o := range []tracing.Options{{SampleRatio: 1.5}, {SampleRatio: -0.1}, {Endpoint: "collector:4318"}, {Endpoint: "grpc://collector:4317"}} {
		if _, err := tracing.New(context.Background(), o); !errors.Is(err, tracing.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", o, err)
		}
	}
}

// collector is an OTLP/HTTP trace receiver: the span names it was sent, by
// request path.
type collector struct {
	mu    sync.Mutex
	spans map[string][]string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans[r.URL.Path] = append(c.spans[r.URL.Path], s.Name)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// TestExportAndFlush: with an endpoint (a base URL, or the environment's),
// spans are batched and Shutdown flushes them to the collector's
// /v1/traces; Child and Follow add spans inside a recorded trace.
func TestExportAndFlush(t *testing.T) {
	for _, viaEnv := range []bool{false, true} {
		clearEnv(t)
		c := &collector{spans: map[string][]string{}}
		srv := httptest.NewServer(c)
		opts := tracing.Options{SampleRatio: 1, ServiceName: "tally-test", Process: "test"}
		if viaEnv {
			t.Setenv(tracing.EnvEndpoint, srv.URL)
		} else {
			opts.Endpoint = srv.URL
		}
		tr, err := tracing.New(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		tp := tr.Provider()
		if tp == nil {
			t.Fatal("endpoint given: no provider")
		}
		ctx, root := tp.Tracer("test").Start(context.Background(), "root")
		_, child := tracing.Child(ctx, "test", "child")
		if !child.IsRecording() || child.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Fatal("Child inside a recorded trace: not a recorded span of that trace")
		}
		child.End()
		_, batch := tracing.Follow(context.Background(), nil, "test", "nobody")
		if batch.IsRecording() {
			t.Fatal("Follow of no recorded span records")
		}
		_, batch = tracing.Follow(context.Background(), []trace.Span{nil, root}, "test", "batch")
		if batch.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Fatal("Follow does not continue the first recorded span's trace")
		}
		batch.End()
		root.End()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		srv.Close()
		got := c.spans["/v1/traces"]
		if len(got) != 3 {
			t.Fatalf("via env %v: collector got %v (by path %v), want child, batch and root at /v1/traces", viaEnv, got, c.spans)
		}
	}
}

// TestSampleRatio: the ratio decides at a root (0 records none, 1 every
// one); a span under a sampled remote parent (a job continuing its trace)
// follows the parent whatever the ratio.
func TestSampleRatio(t *testing.T) {
	for _, ratio := range []float64{0, 1} {
		tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(tracetest.NewInMemoryExporter()), tracing.Options{SampleRatio: ratio})
		_, root := tp.Tracer("test").Start(context.Background(), "root")
		if root.IsRecording() != (ratio == 1) {
			t.Errorf("ratio %v: root recording %v", ratio, root.IsRecording())
		}
		root.End()
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1},
			TraceFlags: trace.FlagsSampled, Remote: true})
		_, child := tp.Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child")
		if !child.IsRecording() {
			t.Errorf("ratio %v: child of a sampled parent not recorded", ratio)
		}
		child.End()
	}
}
