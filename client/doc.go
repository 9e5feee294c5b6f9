// Package client is tally's merchant API client in Go, generated from the
// OpenAPI document tally serves at /openapi.json (server/openapi.json) by
// oapi-codegen, pinned in tools/go.mod: the same contract integrators generate
// their clients from. tally eats its own contract with it: the demo places its
// orders through it, and the end-to-end tests call the API through it
// (tallytest.Env.Client), every answer also validated against the document.
//
// client.gen.go is generated: never edit it. Change server/openapi.json and
// run `make generate` (its settings are in oapi-codegen.yaml); `make check`
// fails when client.gen.go is stale (client-check). auth.go is the small
// hand-written part: the API key as a bearer token.
//
// Use NewWithKey for a client that sends a merchant API key, then the typed
// calls, which decode every answer the document describes:
//
//	c, err := client.NewWithKey("https://tally.example", apiKey)
//	r, err := c.CreateDepositWithResponse(ctx, &client.CreateDepositParams{IdempotencyKey: "order-42"},
//		client.DepositRequest{ProviderAccount: "cpay-main", CustomerID: "c1", Amount: "100.50", Currency: "USDT"})
//	switch {
//	case r.JSON201 != nil: // created: r.JSON201 is the Order
//	case r.JSON200 != nil: // replayed: the first answer to this Idempotency-Key
//	case r.JSON422 != nil: // refused: r.JSON422.Error.Code says why
//	}
package client
