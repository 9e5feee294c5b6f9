package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/app"
	"github.com/tallyhq/tally/tracing"
)

// tracingFlags are serve's and worker's OpenTelemetry tracing flags: off
// unless an OTLP endpoint is given (or OTEL_EXPORTER_OTLP_ENDPOINT set).
type tracingFlags struct {
	endpoint    string
	sampleRatio float64
	serviceName string
}

func (f *tracingFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "otel-endpoint", "", "OTLP/HTTP collector to export traces to, e.g. http://127.0.0.1:4318 (spans go to its /v1/traces); "+
		"empty: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT if set, else tracing is off")
	fl.Float64Var(&f.sampleRatio, "otel-sample-ratio", 1, "share of traces recorded (0 to 1), decided where a trace starts: a request to the public listener or a scheduled job")
	fl.StringVar(&f.serviceName, "otel-service-name", "", "service.name of the exported spans; empty: OTEL_SERVICE_NAME, else tally")
}

// start sets up the process's tracing (tracing.New); stop flushes it, last.
func (f *tracingFlags) start(ctx context.Context, process string) (tune func(*app.Config), stop func(), err error) {
	t, err := tracing.New(ctx, tracing.Options{Endpoint: f.endpoint, SampleRatio: f.sampleRatio, ServiceName: f.serviceName, Process: process})
	if err != nil {
		return nil, nil, err
	}
	if t.Provider() != nil {
		slog.Info("tracing on", "sample_ratio", f.sampleRatio)
	}
	tune = func(c *app.Config) { c.Tracing = t.Provider() }
	stop = func() {
		if err := t.ShutdownWithin(10 * time.Second); err != nil {
			slog.Warn("traces not flushed", "error", err)
		}
	}
	return tune, stop, nil
}
