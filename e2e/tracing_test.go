package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/tracing"
)

// tracedDeposit pays a C-Pay deposit of 100 USDT through the sandbox, whose
// simulator posts tally a real signed callback, and waits until the ledger
// holds it.
func tracedDeposit(t *testing.T, e *tallytest.Env) orders.Order {
	t.Helper()
	o := e.CreateOrder("deposit", map[string]any{"provider_account": "cpay-main", "customer_id": "c1", "amount": "100", "currency": "USDT"})
	e.Control("cpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	o = e.WaitStatus(o.ID, orders.StatusSucceeded)
	if got := e.Balance("liabilities:customer:c1:USDT"); !got.Equal(dec("100")) {
		t.Fatalf("customer = %s, want 100", got)
	}
	return o
}

// spanIndex finds exported spans by id.
type spanIndex map[trace.SpanID]tracetest.SpanStub

func indexSpans(spans tracetest.SpanStubs) spanIndex {
	ix := spanIndex{}
	for _, s := range spans {
		ix[s.SpanContext.SpanID()] = s
	}
	return ix
}

// ancestry is s and its parents up to the root, as exported; it stops at a
// parent that was not exported (still open, or never recorded).
func (ix spanIndex) ancestry(s tracetest.SpanStub) []tracetest.SpanStub {
	chain := []tracetest.SpanStub{s}
	for s.Parent.IsValid() {
		p, ok := ix[s.Parent.SpanID()]
		if !ok {
			break
		}
		chain = append(chain, p)
		s = p
	}
	return chain
}

func names(chain []tracetest.SpanStub) []string {
	out := make([]string, len(chain))
	for i, s := range chain {
		out[i] = s.Name
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit(), true
		}
	}
	return "", false
}

// TestTracingCallbackToLedger: with tracing on, one trace runs from the
// provider callback's arrival (the public listener's server span) through
// the callback's group-commit, the process_callback job River works (a
// child of the insert that queued it, across the queue) and the group
// transaction that applies it, to the ledger posting and its query. No
// span carries a secret: no API key, callback key, provider secret, SQL
// parameter or request body.
func TestTracingCallbackToLedger(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp), tracing.Options{SampleRatio: 1, Process: "test"})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := tallytest.New(t, tallytest.Options{Tracer: tp})
	tracedDeposit(t, e)

	// The ledger posting: its span and its ancestors end after the order
	// settled (the job returns after the group committed), so wait for the
	// whole chain to be exported.
	want := []string{"ledger.transfer_batch", "callbacks.group", "river.work/process_callback", "river.insert_many",
		"callbacks.intake", "POST /callbacks/{key}"}
	var chain []tracetest.SpanStub
	var all tracetest.SpanStubs
	e.Eventually("the callback's trace to the ledger exported", func() bool {
		all = exp.GetSpans()
		ix := indexSpans(all)
		chain = nil
		for _, s := range all {
			if strings.HasPrefix(s.Name, "ledger.") {
				if c := ix.ancestry(s); len(c) == len(want) {
					chain = c
				}
			}
		}
		return chain != nil
	})
	if got := names(chain); strings.Join(got, " < ") != strings.Join(want, " < ") {
		t.Fatalf("ledger posting's ancestry = %v, want %v", got, want)
	}
	traceID := chain[0].SpanContext.TraceID()
	var inTrace []string
	for _, s := range all {
		if s.SpanContext.TraceID() == traceID {
			inTrace = append(inTrace, s.Name)
		}
	}
	t.Logf("the callback's trace: %d spans: %v", len(inTrace), inTrace)
	for _, s := range chain {
		if s.SpanContext.TraceID() != traceID {
			t.Fatalf("span %s is in trace %s, the ledger posting in %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
	}
	root, work, insert, ledgerSpan := chain[5], chain[2], chain[3], chain[0]
	if root.Parent.IsValid() || root.SpanKind != trace.SpanKindServer {
		t.Fatalf("callback span: parent %v, kind %v; want a server span starting the trace", root.Parent, root.SpanKind)
	}
	if r, _ := attr(root, "http.route"); r != "/callbacks/{key}" {
		t.Fatalf("callback span's http.route = %q", r)
	}
	if c, _ := attr(root, "http.response.status_code"); c != "200" {
		t.Fatalf("callback span's status = %q, want 200", c)
	}
	if id, _ := attr(root, "tally.request_id"); id == "" {
		t.Fatal("callback span carries no request id")
	}
	if work.SpanKind != trace.SpanKindConsumer || !work.Parent.IsRemote() {
		t.Fatalf("work span: kind %v, remote parent %v; want a consumer continuing the job's metadata", work.SpanKind, work.Parent.IsRemote())
	}
	if k, _ := attr(work, "kind"); k != "process_callback" {
		t.Fatalf("work span's kind = %q", k)
	}
	linked := false
	for _, l := range work.Links {
		linked = linked || l.SpanContext.SpanID() == insert.SpanContext.SpanID()
	}
	if !linked {
		t.Fatalf("work span is not linked to the insert that queued it: %+v", work.Links)
	}
	if n, _ := attr(ledgerSpan, "ledger.transfers"); n != "1" {
		t.Fatalf("ledger span's ledger.transfers = %q, want 1 (the deposit's settlement)", n)
	}

	// The ledger's query is a span of the posting, named by sqlc, with its
	// SQL and without its parameters.
	var query *tracetest.SpanStub
	for i, s := range all {
		if s.Parent.SpanID() == ledgerSpan.SpanContext.SpanID() && strings.HasPrefix(s.Name, "query ") {
			query = &all[i]
		}
	}
	if query == nil || query.Name != "query PostTransfersTx" {
		t.Fatalf("ledger posting's query span = %+v, want query PostTransfersTx", query)
	}
	if sql, _ := attr(*query, "db.query.text"); !strings.Contains(sql, "ledger_post_transfers_tx") {
		t.Fatalf("query span's db.query.text = %q", sql)
	}

	// Nothing secret in any span of the run.
	secrets := map[string]string{"API key": e.APIKey, "callback key": e.CallbackKeys["cpay"],
		"provider secret": sandbox.DefaultCredentials["cpay"].Secret}
	for _, s := range all {
		for _, a := range s.Attributes {
			v := a.Value.Emit()
			if strings.HasPrefix(string(a.Key), "pgx.query.parameters") || strings.EqualFold(string(a.Key), "http.request.header.authorization") {
				t.Errorf("span %s records %s", s.Name, a.Key)
			}
			for what, secret := range secrets {
				if secret != "" && strings.Contains(v, secret) {
					t.Errorf("span %s attribute %s holds the %s", s.Name, a.Key, what)
				}
			}
		}
		if strings.Contains(s.Name, e.CallbackKeys["cpay"]) {
			t.Errorf("span name %q holds the callback key", s.Name)
		}
	}
}

// TestTracingOff: without a tracer (the default), tally records nothing,
// not even through OpenTelemetry's global provider, which this test sets to
// a recording one (so it does not run in parallel).
func TestTracingOff(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	global := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp), tracing.Options{SampleRatio: 1})
	otel.SetTracerProvider(global)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		_ = global.Shutdown(context.Background())
	})
	// The probe: the global provider records.
	_, probe := otel.Tracer("probe").Start(context.Background(), "probe")
	probe.End()
	if n := len(exp.GetSpans()); n != 1 {
		t.Fatalf("the global provider recorded %d spans, want the probe", n)
	}
	exp.Reset()

	// What tally serve does without --otel-endpoint.
	t.Setenv(tracing.EnvEndpoint, "")
	t.Setenv(tracing.EnvTracesEndpoint, "")
	tr, err := tracing.New(context.Background(), tracing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Provider() != nil {
		t.Fatalf("tracing.New without an endpoint = %T, want no provider", tr.Provider())
	}

	e := tallytest.New(t, tallytest.Options{})
	tracedDeposit(t, e)
	e.WaitIdle()
	if spans := exp.GetSpans(); len(spans) != 0 {
		var got []string
		for _, s := range spans {
			got = append(got, fmt.Sprintf("%s (%s)", s.Name, s.InstrumentationScope.Name))
		}
		t.Fatalf("tracing off recorded %d spans: %v", len(spans), got)
	}
}
