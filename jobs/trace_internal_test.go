package jobs

import (
	"context"
	"testing"

	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"
)

// TestContinueTrace: a job whose metadata carries a W3C traceparent (as
// otelriver writes it on insert) is worked with that span as the context's
// remote parent; metadata without one, or unreadable, leaves the context
// alone.
func TestContinueTrace(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		name     string
		metadata string
		want     string // the parent's trace id, "" none
	}{
		{"traceparent", `{"traceparent":"` + tp + `","tracestate":"tally=1","river:log":[]}`, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"none", `{"river:log":[]}`, ""},
		{"empty", ``, ""},
		{"malformed traceparent", `{"traceparent":"00-zz-00f067aa0ba902b7-01"}`, ""},
		{"not JSON", `{`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got trace.SpanContext
			err := (&continueTrace{}).Work(context.Background(), &rivertype.JobRow{Metadata: []byte(c.metadata)}, func(ctx context.Context) error {
				got = trace.SpanContextFromContext(ctx)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if got.IsValid() {
					t.Fatalf("parent %v, want none", got)
				}
				return
			}
			if !got.IsValid() || !got.IsRemote() || got.TraceID().String() != c.want || !got.IsSampled() {
				t.Fatalf("parent %v (remote %v, sampled %v), want remote sampled span of trace %s", got, got.IsRemote(), got.IsSampled(), c.want)
			}
			if got.TraceState().Get("tally") != "1" {
				t.Fatalf("tracestate %q lost", got.TraceState())
			}
		})
	}
	if tracePlugins(nil) != nil {
		t.Fatal("tracing off: River plugins installed")
	}
}
