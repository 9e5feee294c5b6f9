package client

import (
	"context"
	"net/http"
)

// BearerToken is a request editor that sends a merchant API key the way the
// document's security scheme says (Authorization: Bearer <key>).
func BearerToken(apiKey string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+apiKey)
		return nil
	}
}

// NewWithKey is a client of the tally at server (its base URL) that sends
// apiKey with every request; opts add to it (WithHTTPClient for timeouts or a
// transport of one's own).
func NewWithKey(server, apiKey string, opts ...ClientOption) (*ClientWithResponses, error) {
	return NewClientWithResponses(server, append([]ClientOption{WithRequestEditorFn(BearerToken(apiKey))}, opts...)...)
}
