package providers

import "log/slog"

// Secret is a credential that never prints: fmt, slog and JSON all see
// "[redacted]". Reveal returns the value for signing.
type Secret string

// String hides the secret from fmt.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return `"[redacted]"` }

// LogValue hides the secret from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText hides the secret from encoders.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret's value, for signing only.
func (s Secret) Reveal() string { return string(s) }
