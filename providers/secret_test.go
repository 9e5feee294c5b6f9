package providers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestSecretNeverPrints(t *testing.T) {
	s := providers.Secret("hunter2-key")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s, "config", providers.Config{Secret: s})
	js, _ := json.Marshal(struct{ S providers.Secret }{s})
	for what, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%#v": fmt.Sprintf("%#v", s), "%+v config": fmt.Sprintf("%+v", providers.Config{Secret: s}),
		"slog": logs.String(), "json": string(js),
	} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s prints %q", what, out)
		}
	}
	if s.Reveal() != "hunter2-key" {
		t.Fatal("Reveal lost the value")
	}
}
