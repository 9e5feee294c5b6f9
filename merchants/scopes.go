package merchants

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is one thing a merchant API key may do through the merchant API. A
// key holds DefaultScopes unless the operator grants more when creating it
// (tally apikey create --scope): an integration key creates and reads orders
// and reads reconciliation, and money-moving decisions need a scope given on
// purpose.
type Scope string

// The scopes. Each route of the merchant API needs exactly one
// (server.Route.Scope).
const (
	// OrdersRead: list and read orders, their timelines and webhook deliveries.
	OrdersRead Scope = "orders:read"
	// OrdersWrite: create deposits and payouts.
	OrdersWrite Scope = "orders:write"
	// ReconRead: discrepancies, reconciliation runs, reports, balances, entries
	// and the provider accounts' settings.
	ReconRead Scope = "recon:read"
	// ReconWrite: resolve discrepancies or propose a resolution, write off,
	// import statements, start runs, assign.
	ReconWrite Scope = "recon:write"
	// AccountsWrite: create and change provider accounts and webhook settings
	// through the API.
	AccountsWrite Scope = "accounts:write"
)

// Scopes lists every scope, in the order they are shown.
var Scopes = []Scope{OrdersRead, OrdersWrite, ReconRead, ReconWrite, AccountsWrite}

// DefaultScopes are a new key's scopes when none are asked for, and those the
// keys made before scopes existed were given (migration 00031).
var DefaultScopes = []Scope{OrdersRead, OrdersWrite, ReconRead}

// AllScopes returns every scope: for a key an operator means to be
// all-powerful, and for tests that act as one.
func AllScopes() []Scope { return slices.Clone(Scopes) }

// Valid reports whether s is one of Scopes.
func (s Scope) Valid() bool { return slices.Contains(Scopes, s) }

// ParseScopes reads scope names as an operator gives them: each item may be a
// comma-separated list; blanks are skipped, duplicates dropped. An unknown
// scope is ErrInvalid, naming the known ones. No names at all is nil (the
// caller decides what that means: CreateAPIKey gives DefaultScopes).
func ParseScopes(items ...string) ([]Scope, error) {
	var out []Scope
	for _, item := range items {
		for _, name := range strings.Split(item, ",") {
			sc := Scope(strings.ToLower(strings.TrimSpace(name)))
			if sc == "" {
				continue
			}
			if !sc.Valid() {
				return nil, fmt.Errorf("scope %q: one of %s: %w", name, JoinScopes(Scopes), ErrInvalid)
			}
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out, nil
}

// JoinScopes writes scopes as a comma-separated list.
func JoinScopes(scopes []Scope) string {
	s := make([]string, len(scopes))
	for i, sc := range scopes {
		s[i] = string(sc)
	}
	return strings.Join(s, ",")
}

// normalizeScopes checks scopes and puts them in the order of Scopes without
// duplicates; none is DefaultScopes.
func normalizeScopes(scopes []Scope) ([]string, error) {
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	for _, sc := range scopes {
		if !sc.Valid() {
			return nil, fmt.Errorf("scope %q: one of %s: %w", sc, JoinScopes(Scopes), ErrInvalid)
		}
	}
	var out []string
	for _, sc := range Scopes {
		if slices.Contains(scopes, sc) {
			out = append(out, string(sc))
		}
	}
	return out, nil
}

func scopesFrom(names []string) []Scope {
	out := make([]Scope, len(names))
	for i, n := range names {
		out[i] = Scope(n)
	}
	return out
}

// Has reports whether the key holds the scope. A revoked key holds none.
func (k APIKey) Has(s Scope) bool {
	return k.RevokedAt == nil && slices.Contains(k.Scopes, s)
}

// Actor is how the key's decisions are recorded: "key:<id>".
func (k APIKey) Actor() string { return fmt.Sprintf("key:%d", k.ID) }
