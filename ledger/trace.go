package ledger

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/tracing"
)

// traceScope is the instrumentation scope of the ledger's spans.
const traceScope = "github.com/tallyhq/tally/ledger"

// postSpan starts the span of one posting call (a transfer, a batch, a
// hold's resolution) inside the caller's trace, if one is being recorded
// (tracing.Child): what it posts is told by counts and the merchant, never
// amounts, accounts or metadata.
func postSpan(ctx context.Context, name string, merchant int64, transfers int, inTx bool) (context.Context, trace.Span) {
	ctx, span := tracing.Child(ctx, traceScope, name)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int64("tally.merchant_id", merchant),
			attribute.Int("ledger.transfers", transfers), attribute.Bool("ledger.caller_tx", inTx))
	}
	return ctx, span
}

// endPostSpan ends a postSpan with the call's outcome (*err when it ends).
func endPostSpan(span trace.Span, err *error) {
	if !span.IsRecording() {
		return
	}
	if *err != nil {
		span.RecordError(*err)
		span.SetStatus(codes.Error, "ledger posting failed")
	}
	span.End()
}
