// Package merchants holds tally's tenants and their configuration: merchants,
// their API keys (shown once, stored hashed), their outbound webhook, and their
// provider accounts, whose credentials are sealed at rest (package secrets) and
// opened only to build a provider adapter. It owns those adapters too: built
// once per account and kept a short while (adapters.go), they are how every
// other package reaches a provider, and how a callback URL finds its account.
package merchants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/merchantsdb"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/secrets"
)

// Errors callers tell apart.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrInvalid      = errors.New("invalid")
	ErrUnauthorized = errors.New("invalid or revoked API key")
	// ErrAmbiguous: a provider account name given without its merchant is
	// used by more than one merchant.
	ErrAmbiguous = errors.New("ambiguous provider account name")
	// ErrBaseURLNotAllowed is wrapped, beside ErrInvalid, by a base URL whose
	// host a merchant may not set (not one of the provider's documented
	// hosts nor allowed by the operator), or that leads to an address the
	// egress policy refuses.
	ErrBaseURLNotAllowed = errors.New("base URL not allowed")
)

// Merchant is a tenant.
type Merchant struct {
	ID         int64
	Code       string
	Name       string
	WebhookURL string
	// WebhookEvents are the kinds of event the merchant's webhook receives
	// (EventOrder, EventDiscrepancyOpened, EventDiscrepancyResolved); by
	// default EventOrder only.
	WebhookEvents []string
	CreatedAt     time.Time
}

// The kinds of event a merchant's webhook may subscribe to
// (SetWebhookEvents).
const (
	// EventOrder is every order event (order.<status>, order.disputed).
	EventOrder = "order"
	// EventDiscrepancyOpened is discrepancy.opened: a discrepancy about the
	// merchant was opened (or opened again).
	EventDiscrepancyOpened = "discrepancy.opened"
	// EventDiscrepancyResolved is discrepancy.resolved: one was closed
	// (resolved, ignored, or closed by a run).
	EventDiscrepancyResolved = "discrepancy.resolved"
)

// WebhookEventKinds lists the kinds a merchant may subscribe to.
var WebhookEventKinds = []string{EventOrder, EventDiscrepancyOpened, EventDiscrepancyResolved}

// Subscribed says whether the merchant's webhook receives events of kind.
func (m Merchant) Subscribed(kind string) bool { return slices.Contains(m.WebhookEvents, kind) }

// WebhookSecrets are the secrets a merchant's webhooks are signed with: the
// current one, and during a rotation's overlap window the one it replaced,
// until PreviousUntil.
type WebhookSecrets struct {
	Current  string
	Previous string // empty: no overlap
	// PreviousUntil ends the overlap window: from then on Previous signs
	// nothing.
	PreviousUntil time.Time
}

// Signing are the secrets that sign a delivery made at now: the current one,
// then the previous one while the overlap window lasts.
func (w WebhookSecrets) Signing(now time.Time) []string {
	if w.Previous != "" && now.Before(w.PreviousUntil) {
		return []string{w.Current, w.Previous}
	}
	return []string{w.Current}
}

// LogValue keeps the secrets out of every log line: a WebhookSecrets logs
// only whether an overlap window is on and until when.
func (w WebhookSecrets) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("overlap", w.Previous != ""), slog.Time("previous_until", w.PreviousUntil))
}

// APIKey describes a key without its secret part.
type APIKey struct {
	ID         int64
	MerchantID int64
	Name       string
	Prefix     string
	// Scopes are what the key may do through the merchant API (Has), in the
	// order of Scopes.
	Scopes    []Scope
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AmountPolicy is what a deposit paid with a different amount than ordered does
// to the ledger.
type AmountPolicy string

const (
	// HoldInSuspense puts the whole received amount in suspense until an
	// accountant decides (the default).
	HoldInSuspense AmountPolicy = "hold_in_suspense"
	// CreditReceived credits the customer with what was received.
	CreditReceived AmountPolicy = "credit_received"
)

// ProviderAccount is one set of credentials at one provider. Secret is opened.
type ProviderAccount struct {
	ID         int64
	MerchantID int64
	// Name is unique among its merchant's accounts only: it means nothing
	// without the merchant.
	Name string
	// CallbackKey routes the provider's callbacks (/callbacks/{CallbackKey}):
	// random, unique across merchants, never derived from the name.
	CallbackKey string
	// LegacyRoute: the account existed before callback keys, so the older
	// orders' /callbacks/{Name} may still reach it while the operator allows
	// (tally serve --legacy-callback-routes).
	LegacyRoute        bool
	Provider           string
	BaseURL            string
	ProviderMerchantID string
	Secret             providers.Secret
	Options            map[string]string
	AmountPolicy       AmountPolicy
	AmountTolerance    decimal.Decimal
	BalanceTolerance   decimal.Decimal
	DateTolerance      time.Duration
	// DepositLifetime is how long a deposit may stay unpaid: its order's
	// expires_at is its creation plus this.
	DepositLifetime time.Duration
	// MaxAmounts are the account's own upper bounds on an amount, by currency
	// code; a currency not listed has DefaultMaxAmount. Read them through
	// MaxAmount.
	MaxAmounts map[string]decimal.Decimal
	Enabled    bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Config is the adapter configuration of the account; notifyURL is tally's
// callback URL for it.
func (a ProviderAccount) Config(notifyURL string) providers.Config {
	return providers.Config{
		Account:    a.Name,
		BaseURL:    a.BaseURL,
		MerchantID: a.ProviderMerchantID,
		Secret:     a.Secret,
		Options:    a.Options,
		NotifyURL:  notifyURL,
	}
}

// ProviderAccountInput creates or updates a provider account.
type ProviderAccountInput struct {
	MerchantCode       string
	Name               string
	Provider           string
	BaseURL            string
	ProviderMerchantID string
	Secret             string
	Options            map[string]string
	AmountPolicy       AmountPolicy
	AmountTolerance    decimal.Decimal
	BalanceTolerance   decimal.Decimal
	DateTolerance      time.Duration
	// DepositLifetime: zero means DefaultDepositLifetime.
	DepositLifetime time.Duration
	// MaxAmounts are upper bounds on amounts by currency (see
	// ProviderAccount.MaxAmount); nil or empty means the default everywhere.
	// UpdateProviderAccount keeps the stored limits when it is nil.
	MaxAmounts map[string]decimal.Decimal
	// Operator marks an account added by operator tooling (tally account
	// add): its base URL may be any host the egress policy allows. Without it
	// (a merchant through the API) the host must also be one of the
	// provider's documented hosts or one the operator allows (HostAllow).
	Operator bool
}

// DefaultDepositLifetime is how long a deposit may stay unpaid unless its
// provider account says otherwise.
const DefaultDepositLifetime = 24 * time.Hour

// Options are what a Service needs besides its pool and box: its
// collaborators and the operator's policy, all given to New (a Service is not
// changed after it is built).
type Options struct {
	// Validate checks a provider account's configuration by building its adapter
	// and returns what the adapter offers (registry.Validate); nil skips the check.
	Validate func(provider string, cfg providers.Config) (providers.Capabilities, error)
	// Ledger, when set with Validate, must be able to book every currency the
	// account's adapter takes (its Capabilities' deposit and payout currencies:
	// for CXPay the account's "currency" option, for VPay its quote currencies);
	// an account with a currency the ledger cannot book is refused. It is also
	// the currency registry of CurrencyScale. Nil skips the check.
	Ledger CurrencyBook
	// Egress is the policy tally's outbound calls pass: a webhook URL or a
	// base URL it refuses outright (an address, localhost) is refused when it
	// is stored; names are checked again when tally connects. Nil is
	// egress.Default(): public addresses only.
	Egress *egress.Policy
	// ProviderHosts names the API hosts a provider's document gives
	// (registry.Hosts): the base URL hosts a merchant may set. Nil: none.
	ProviderHosts func(provider string) []string
	// HostAllow are the further base URL hosts a merchant may set, whatever
	// the provider (tally serve --provider-host-allow).
	HostAllow egress.AllowList
	// Adapters configure the provider adapters of the accounts (Adapter,
	// adapters.go).
	Adapters AdapterOptions
	// Now is the clock webhook secret rotations start their overlap window
	// from; default time.Now.
	Now func() time.Time
}

// Service manages merchants and their configuration.
type Service struct {
	pool  *pgxpool.Pool
	q     *merchantsdb.Queries
	box   *secrets.Box
	opts  Options
	cache adapterCache
}

// CurrencyBook says whether the ledger can book a currency; *ledger.Ledger is
// one. An error wrapping ledger.ErrUnknownCurrency means it cannot.
type CurrencyBook interface {
	Currency(ctx context.Context, code string) (ledger.Currency, error)
}

// New returns a Service; box seals and opens stored secrets, opts are its
// collaborators and policy. A nil box (no TALLY_SECRET_KEY: a read-only
// command) reads everything but the secrets: what needs one (a provider
// adapter, a webhook secret, adding or changing an account, creating a
// merchant) fails with an error wrapping secrets.ErrNoKey.
func New(pool *pgxpool.Pool, box *secrets.Box, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{pool: pool, q: merchantsdb.New(pool), box: box, opts: opts, cache: newAdapterCache()}
}

var codeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CreateMerchant creates a merchant with a fresh webhook secret, returned once.
func (s *Service) CreateMerchant(ctx context.Context, code, name, webhookURL string) (Merchant, string, error) {
	if !codeRE.MatchString(code) {
		return Merchant{}, "", fmt.Errorf("merchant code %q: lowercase letters, digits, _ and - (up to 63): %w", code, ErrInvalid)
	}
	if strings.TrimSpace(name) == "" {
		name = code
	}
	if err := s.checkWebhookURL(webhookURL); err != nil {
		return Merchant{}, "", err
	}
	secret := "whsec_" + randomString(32)
	sealed, err := s.seal(secret, webhookContext(code))
	if err != nil {
		return Merchant{}, "", err
	}
	row, err := s.q.InsertMerchant(ctx, merchantsdb.InsertMerchantParams{Code: code, Name: name, WebhookUrl: webhookURL, WebhookSecretSealed: sealed})
	if err != nil {
		if isUnique(err) {
			return Merchant{}, "", fmt.Errorf("merchant %q: %w", code, ErrExists)
		}
		return Merchant{}, "", fmt.Errorf("create merchant %q: %w", code, err)
	}
	return merchantFrom(row), secret, nil
}

// EnsureMerchant returns the merchant with code, creating it (with name and
// no webhook URL) when there is none: for tools and tests that need a tenant
// (tally bench ledger). Concurrent calls return the same merchant.
func (s *Service) EnsureMerchant(ctx context.Context, code, name string) (Merchant, error) {
	for attempt := 0; attempt < 3; attempt++ {
		if m, err := s.Merchant(ctx, code); err == nil {
			return m, nil
		} else if !errors.Is(err, ErrNotFound) {
			return Merchant{}, err
		}
		m, _, err := s.CreateMerchant(ctx, code, name, "")
		if errors.Is(err, ErrExists) {
			continue // created concurrently: read it
		}
		return m, err
	}
	return Merchant{}, fmt.Errorf("ensure merchant %q: not found after insert", code)
}

// Merchant returns the merchant with code.
func (s *Service) Merchant(ctx context.Context, code string) (Merchant, error) {
	row, err := s.q.MerchantByCode(ctx, code)
	if err != nil {
		return Merchant{}, notFound(err, "merchant %q", code)
	}
	return merchantFrom(row), nil
}

// MerchantByID returns the merchant with id.
func (s *Service) MerchantByID(ctx context.Context, id int64) (Merchant, error) {
	row, err := s.q.MerchantByID(ctx, id)
	if err != nil {
		return Merchant{}, notFound(err, "merchant %d", id)
	}
	return merchantFrom(row), nil
}

// Merchants lists every merchant.
func (s *Service) Merchants(ctx context.Context) ([]Merchant, error) {
	rows, err := s.q.ListMerchants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list merchants: %w", err)
	}
	out := make([]Merchant, len(rows))
	for i, r := range rows {
		out[i] = merchantFrom(r)
	}
	return out, nil
}

// SetWebhook sets the merchant's webhook URL; with rotate it also makes a new
// webhook secret, returned once (otherwise the returned secret is empty).
func (s *Service) SetWebhook(ctx context.Context, code, webhookURL string, rotate bool) (Merchant, string, error) {
	if err := s.checkWebhookURL(webhookURL); err != nil {
		return Merchant{}, "", err
	}
	row, err := s.q.MerchantByCode(ctx, code)
	if err != nil {
		return Merchant{}, "", notFound(err, "merchant %q", code)
	}
	sealed, secret := row.WebhookSecretSealed, ""
	if rotate || len(sealed) == 0 {
		secret = "whsec_" + randomString(32)
		if sealed, err = s.seal(secret, webhookContext(code)); err != nil {
			return Merchant{}, "", err
		}
	}
	row, err = s.q.UpdateMerchantWebhook(ctx, merchantsdb.UpdateMerchantWebhookParams{ID: row.ID, WebhookUrl: webhookURL, WebhookSecretSealed: sealed})
	if err != nil {
		return Merchant{}, "", fmt.Errorf("set webhook of %q: %w", code, err)
	}
	return merchantFrom(row), secret, nil
}

// WebhookSecret opens the merchant's current webhook signing secret.
func (s *Service) WebhookSecret(ctx context.Context, merchantID int64) (string, error) {
	ws, err := s.WebhookSecrets(ctx, merchantID)
	return ws.Current, err
}

// WebhookSecrets opens the merchant's webhook signing secrets: the current
// one and, while a rotation's overlap window lasts, the one it replaced.
func (s *Service) WebhookSecrets(ctx context.Context, merchantID int64) (WebhookSecrets, error) {
	row, err := s.q.MerchantByID(ctx, merchantID)
	if err != nil {
		return WebhookSecrets{}, notFound(err, "merchant %d", merchantID)
	}
	if len(row.WebhookSecretSealed) == 0 {
		return WebhookSecrets{}, fmt.Errorf("merchant %q has no webhook secret: %w", row.Code, ErrNotFound)
	}
	var ws WebhookSecrets
	if ws.Current, err = s.open(row.WebhookSecretSealed, webhookContext(row.Code)); err != nil {
		return WebhookSecrets{}, err
	}
	if len(row.WebhookSecretPrevSealed) > 0 && row.WebhookSecretPrevUntil != nil && s.opts.Now().Before(*row.WebhookSecretPrevUntil) {
		if ws.Previous, err = s.open(row.WebhookSecretPrevSealed, webhookContext(row.Code)); err != nil {
			return WebhookSecrets{}, err
		}
		ws.PreviousUntil = *row.WebhookSecretPrevUntil
	}
	return ws, nil
}

// MaxWebhookOverlap bounds a rotation's overlap window.
const MaxWebhookOverlap = 30 * 24 * time.Hour

// RotateWebhookSecret makes the merchant a new webhook signing secret,
// returned once. For overlap after now (the Service's clock) every delivery
// is signed under both the new secret and the one it replaces (two v1=
// signatures), so that the merchant may switch its endpoint to the new one
// at any moment of the window; with overlap 0 the old secret stops signing
// at once. A rotation during another's window ends that window: the secret
// it replaced is dropped, the one being replaced overlaps. Both secrets stay
// sealed at rest.
func (s *Service) RotateWebhookSecret(ctx context.Context, code string, overlap time.Duration) (Merchant, string, error) {
	if overlap < 0 || overlap > MaxWebhookOverlap {
		return Merchant{}, "", fmt.Errorf("webhook secret overlap %s: between 0 and %s: %w", overlap, MaxWebhookOverlap, ErrInvalid)
	}
	row, err := s.q.MerchantByCode(ctx, code)
	if err != nil {
		return Merchant{}, "", notFound(err, "merchant %q", code)
	}
	secret := "whsec_" + randomString(32)
	sealed, err := s.seal(secret, webhookContext(code))
	if err != nil {
		return Merchant{}, "", err
	}
	p := merchantsdb.RotateMerchantWebhookSecretParams{ID: row.ID, WebhookSecretSealed: sealed}
	if overlap > 0 && len(row.WebhookSecretSealed) > 0 {
		until := s.opts.Now().Add(overlap)
		p.PrevSealed, p.PrevUntil = row.WebhookSecretSealed, &until
	}
	if row, err = s.q.RotateMerchantWebhookSecret(ctx, p); err != nil {
		return Merchant{}, "", fmt.Errorf("rotate webhook secret of %q: %w", code, err)
	}
	return merchantFrom(row), secret, nil
}

// SetWebhookEvents sets the kinds of event the merchant's webhook receives
// (WebhookEventKinds; none is refused: an empty webhook URL turns webhooks
// off).
func (s *Service) SetWebhookEvents(ctx context.Context, code string, kinds []string) (Merchant, error) {
	kinds, err := ParseWebhookEvents(kinds...)
	if err != nil {
		return Merchant{}, err
	}
	row, err := s.q.MerchantByCode(ctx, code)
	if err != nil {
		return Merchant{}, notFound(err, "merchant %q", code)
	}
	if row, err = s.q.SetMerchantWebhookEvents(ctx, merchantsdb.SetMerchantWebhookEventsParams{ID: row.ID, WebhookEvents: kinds}); err != nil {
		return Merchant{}, fmt.Errorf("set webhook events of %q: %w", code, err)
	}
	return merchantFrom(row), nil
}

// ParseWebhookEvents reads event kinds (each value may list several,
// comma-separated; "discrepancy" is both discrepancy kinds) into the order of
// WebhookEventKinds; an unknown kind, or none, is ErrInvalid.
func ParseWebhookEvents(values ...string) ([]string, error) {
	seen := map[string]bool{}
	for _, v := range values {
		for _, k := range strings.Split(v, ",") {
			switch k = strings.TrimSpace(k); {
			case k == "":
			case k == "discrepancy":
				seen[EventDiscrepancyOpened], seen[EventDiscrepancyResolved] = true, true
			case slices.Contains(WebhookEventKinds, k):
				seen[k] = true
			default:
				return nil, fmt.Errorf("webhook event %q: one of %s (or discrepancy): %w", k, strings.Join(WebhookEventKinds, ", "), ErrInvalid)
			}
		}
	}
	var out []string
	for _, k := range WebhookEventKinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("webhook events: at least one of %s: %w", strings.Join(WebhookEventKinds, ", "), ErrInvalid)
	}
	return out, nil
}

// CreateAPIKey makes a new API key for a merchant with the given scopes (none:
// DefaultScopes; an unknown one is ErrInvalid). The key is returned once and
// only its hash is stored.
func (s *Service) CreateAPIKey(ctx context.Context, merchantCode, name string, scopes ...Scope) (string, APIKey, error) {
	names, err := normalizeScopes(scopes)
	if err != nil {
		return "", APIKey{}, err
	}
	m, err := s.Merchant(ctx, merchantCode)
	if err != nil {
		return "", APIKey{}, err
	}
	prefix := "tly_" + randomString(8)
	key := prefix + "_" + randomString(32)
	sum := sha256.Sum256([]byte(key))
	row, err := s.q.InsertAPIKey(ctx, merchantsdb.InsertAPIKeyParams{MerchantID: m.ID, Name: name, Prefix: prefix, KeyHash: sum[:], Scopes: names})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key for %q: %w", merchantCode, err)
	}
	return key, apiKeyFrom(row), nil
}

// APIKeys lists a merchant's keys (without secrets).
func (s *Service) APIKeys(ctx context.Context, merchantCode string) ([]APIKey, error) {
	m, err := s.Merchant(ctx, merchantCode)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.ListAPIKeys(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("list API keys of %q: %w", merchantCode, err)
	}
	out := make([]APIKey, len(rows))
	for i, r := range rows {
		out[i] = apiKeyFrom(r)
	}
	return out, nil
}

// RevokeAPIKey revokes the key with prefix.
func (s *Service) RevokeAPIKey(ctx context.Context, merchantCode, prefix string) error {
	m, err := s.Merchant(ctx, merchantCode)
	if err != nil {
		return err
	}
	n, err := s.q.RevokeAPIKey(ctx, merchantsdb.RevokeAPIKeyParams{MerchantID: m.ID, Prefix: prefix})
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", prefix, err)
	}
	if n == 0 {
		return fmt.Errorf("active API key %s of %q: %w", prefix, merchantCode, ErrNotFound)
	}
	return nil
}

// Authenticate returns the merchant owning an API key and the key (its id and
// scopes, never its secret); a malformed, unknown or revoked key is
// ErrUnauthorized. The comparison is constant-time.
func (s *Service) Authenticate(ctx context.Context, key string) (Merchant, APIKey, error) {
	i := strings.LastIndexByte(key, '_')
	if !strings.HasPrefix(key, "tly_") || i <= len("tly_") {
		return Merchant{}, APIKey{}, ErrUnauthorized
	}
	row, err := s.q.APIKeyByPrefix(ctx, key[:i])
	if errors.Is(err, pgx.ErrNoRows) {
		return Merchant{}, APIKey{}, ErrUnauthorized
	}
	if err != nil {
		return Merchant{}, APIKey{}, fmt.Errorf("look up API key: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], row.KeyHash) != 1 || row.RevokedAt != nil {
		return Merchant{}, APIKey{}, ErrUnauthorized
	}
	k := APIKey{ID: row.ID, MerchantID: row.MerchantID, Name: row.Name, Prefix: row.Prefix, Scopes: scopesFrom(row.Scopes),
		CreatedAt: row.CreatedAt, RevokedAt: row.RevokedAt}
	m, err := s.MerchantByID(ctx, row.MerchantID)
	if err != nil {
		return Merchant{}, APIKey{}, err
	}
	return m, k, nil
}

// AddProviderAccount creates a provider account, sealing its secret.
func (s *Service) AddProviderAccount(ctx context.Context, in ProviderAccountInput) (ProviderAccount, error) {
	m, err := s.Merchant(ctx, in.MerchantCode)
	if err != nil {
		return ProviderAccount{}, err
	}
	if err := s.needBox("add provider account " + strconv.Quote(in.Name)); err != nil {
		return ProviderAccount{}, err
	}
	in = in.withDefaults()
	if err := s.checkBaseURL(in.Name, in.Provider, in.BaseURL, in.Operator); err != nil {
		return ProviderAccount{}, err
	}
	if err := s.check(ctx, &in); err != nil {
		return ProviderAccount{}, err
	}
	sealed, err := s.seal(in.Secret, accountContext(in.Name))
	if err != nil {
		return ProviderAccount{}, err
	}
	opts, _ := json.Marshal(in.Options)
	row, err := s.q.InsertProviderAccount(ctx, merchantsdb.InsertProviderAccountParams{
		MerchantID: m.ID, Name: in.Name, Provider: in.Provider, BaseUrl: in.BaseURL,
		ProviderMerchantID: in.ProviderMerchantID, SecretSealed: sealed, Options: opts,
		AmountPolicy: string(in.AmountPolicy), AmountTolerance: in.AmountTolerance,
		BalanceTolerance: in.BalanceTolerance, DateToleranceSecs: int32(in.DateTolerance / time.Second),
		DepositLifetimeMs: in.DepositLifetime.Milliseconds(), MaxAmounts: encodeMaxAmounts(in.MaxAmounts),
		CallbackKey: NewCallbackKey(),
	})
	if err != nil {
		if isUnique(err) {
			// Only the merchant's own accounts can clash: names are per
			// merchant, and a key collision of 144 random bits does not happen.
			return ProviderAccount{}, fmt.Errorf("provider account %q: %w", in.Name, ErrExists)
		}
		return ProviderAccount{}, fmt.Errorf("create provider account %q: %w", in.Name, err)
	}
	return s.accountFrom(row)
}

// callbackKeyBytes is the randomness of a callback key: 144 bits, 24
// characters of base64url.
const callbackKeyBytes = 18

// NewCallbackKey returns a fresh callback key: crypto/rand, base64url.
func NewCallbackKey() string {
	b := make([]byte, callbackKeyBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var callbackKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

// ValidCallbackKey reports whether s has the form of a callback key (the
// database's check), so that a path that cannot be one is refused without a
// lookup.
func ValidCallbackKey(s string) bool { return callbackKeyRE.MatchString(s) }

// ProviderAccount returns the merchant's provider account named name, secret
// opened. Another merchant's account of that name is ErrNotFound.
func (s *Service) ProviderAccount(ctx context.Context, merchantID int64, name string) (ProviderAccount, error) {
	row, err := s.q.ProviderAccountByName(ctx, merchantsdb.ProviderAccountByNameParams{MerchantID: merchantID, Name: name})
	if err != nil {
		return ProviderAccount{}, notFound(err, "provider account %q", name)
	}
	return s.accountFrom(row)
}

// ProviderAccountNamed is an operator's lookup by name across merchants: the
// one account of that name, ErrNotFound when there is none, ErrAmbiguous when
// several merchants have one (the operator must name the merchant).
func (s *Service) ProviderAccountNamed(ctx context.Context, name string) (ProviderAccount, error) {
	rows, err := s.q.ProviderAccountsNamed(ctx, name)
	if err != nil {
		return ProviderAccount{}, fmt.Errorf("look up provider account %q: %w", name, err)
	}
	switch len(rows) {
	case 0:
		return ProviderAccount{}, fmt.Errorf("provider account %q: %w", name, ErrNotFound)
	case 1:
		return s.accountFrom(rows[0])
	}
	return ProviderAccount{}, fmt.Errorf("provider account %q: %d merchants have one; give the merchant (--merchant): %w", name, len(rows), ErrAmbiguous)
}

// ProviderAccountByCallbackKey returns the provider account a callback key
// routes to, secret opened; a key of the wrong form is ErrNotFound without a
// lookup.
func (s *Service) ProviderAccountByCallbackKey(ctx context.Context, key string) (ProviderAccount, error) {
	if !ValidCallbackKey(key) {
		return ProviderAccount{}, fmt.Errorf("callback key: %w", ErrNotFound)
	}
	row, err := s.q.ProviderAccountByCallbackKey(ctx, key)
	if err != nil {
		// The key is never written into an error: it routes money.
		return ProviderAccount{}, notFound(err, "callback key %s", "(redacted)")
	}
	return s.accountFrom(row)
}

// ProviderAccountByLegacyName returns the account that existed before
// callback keys under that name (see ProviderAccount.LegacyRoute).
func (s *Service) ProviderAccountByLegacyName(ctx context.Context, name string) (ProviderAccount, error) {
	if !codeRE.MatchString(name) {
		return ProviderAccount{}, fmt.Errorf("provider account %q: %w", name, ErrNotFound)
	}
	row, err := s.q.ProviderAccountByLegacyName(ctx, name)
	if err != nil {
		return ProviderAccount{}, notFound(err, "legacy provider account %q", name)
	}
	return s.accountFrom(row)
}

// ProviderAccountByID returns the provider account with id, secret opened.
func (s *Service) ProviderAccountByID(ctx context.Context, id int64) (ProviderAccount, error) {
	row, err := s.q.ProviderAccountByID(ctx, id)
	if err != nil {
		return ProviderAccount{}, notFound(err, "provider account %d", id)
	}
	return s.accountFrom(row)
}

// ProviderAccounts lists provider accounts, of one merchant when merchantID > 0.
func (s *Service) ProviderAccounts(ctx context.Context, merchantID int64) ([]ProviderAccount, error) {
	var mid *int64
	if merchantID > 0 {
		mid = &merchantID
	}
	rows, err := s.q.ListProviderAccounts(ctx, mid)
	if err != nil {
		return nil, fmt.Errorf("list provider accounts: %w", err)
	}
	out := make([]ProviderAccount, 0, len(rows))
	for _, r := range rows {
		a, err := s.accountFrom(r)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// UpdateProviderAccount replaces the settings of in.MerchantCode's account
// in.Name; an empty Secret keeps the stored one, a zero DepositLifetime the
// stored lifetime, nil MaxAmounts the stored limits.
func (s *Service) UpdateProviderAccount(ctx context.Context, in ProviderAccountInput, enabled bool) (ProviderAccount, error) {
	m, err := s.Merchant(ctx, in.MerchantCode)
	if err != nil {
		return ProviderAccount{}, err
	}
	cur, err := s.ProviderAccount(ctx, m.ID, in.Name)
	if err != nil {
		return ProviderAccount{}, err
	}
	in.Provider = cur.Provider
	if in.Secret == "" {
		in.Secret = cur.Secret.Reveal()
	}
	if in.DepositLifetime == 0 {
		in.DepositLifetime = cur.DepositLifetime
	}
	if in.MaxAmounts == nil {
		in.MaxAmounts = cur.MaxAmounts
	}
	if in.BaseURL != cur.BaseURL {
		if err := s.checkBaseURL(in.Name, in.Provider, in.BaseURL, true); err != nil {
			return ProviderAccount{}, err
		}
	}
	return s.store(ctx, cur, in, enabled)
}

// ProviderAccountPatch changes some settings of a provider account; nil fields
// keep what is stored, and a zero value (an empty policy, a zero lifetime or
// date tolerance) means the default, as when the account was added. The
// provider, the name and the callback key never change (the key routes
// callbacks, and the sealed secret is bound to the name).
type ProviderAccountPatch struct {
	BaseURL            *string
	ProviderMerchantID *string
	// Secret replaces the stored secret; it is sealed and never returned.
	Secret           *string
	Options          map[string]string // replaces every option when not nil
	AmountPolicy     *AmountPolicy
	AmountTolerance  *decimal.Decimal
	BalanceTolerance *decimal.Decimal
	DateTolerance    *time.Duration
	DepositLifetime  *time.Duration
	// MaxAmounts replaces every limit when not nil; an empty map returns
	// every currency to the default.
	MaxAmounts map[string]decimal.Decimal
	Enabled    *bool
	// Operator marks an operator's change (tally account update): a new base
	// URL is held to the egress policy only, not to the hosts a merchant may
	// set.
	Operator bool
}

// PatchProviderAccount applies a patch to the merchant's provider account
// named name (another merchant's of that name is ErrNotFound, as is no
// account). A new base URL must be on a host a merchant may set
// (ErrBaseURLNotAllowed) unless the patch is an operator's. The result is
// validated as a whole (ErrInvalid) before anything is stored.
func (s *Service) PatchProviderAccount(ctx context.Context, merchantID int64, name string, p ProviderAccountPatch) (ProviderAccount, error) {
	cur, err := s.ProviderAccount(ctx, merchantID, name)
	if err != nil {
		return ProviderAccount{}, err
	}
	in := ProviderAccountInput{Name: cur.Name, Provider: cur.Provider, BaseURL: cur.BaseURL, ProviderMerchantID: cur.ProviderMerchantID,
		Secret: cur.Secret.Reveal(), Options: cur.Options, AmountPolicy: cur.AmountPolicy, AmountTolerance: cur.AmountTolerance,
		BalanceTolerance: cur.BalanceTolerance, DateTolerance: cur.DateTolerance, DepositLifetime: cur.DepositLifetime,
		MaxAmounts: cur.MaxAmounts}
	enabled := cur.Enabled
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&in.BaseURL, p.BaseURL)
	set(&in.ProviderMerchantID, p.ProviderMerchantID)
	if p.Secret != nil {
		if *p.Secret == "" {
			return ProviderAccount{}, fmt.Errorf("provider account %q: an empty secret: %w", name, ErrInvalid)
		}
		in.Secret = *p.Secret
	}
	if p.Options != nil {
		in.Options = p.Options
	}
	if p.AmountPolicy != nil {
		in.AmountPolicy = *p.AmountPolicy
	}
	if p.AmountTolerance != nil {
		in.AmountTolerance = *p.AmountTolerance
	}
	if p.BalanceTolerance != nil {
		in.BalanceTolerance = *p.BalanceTolerance
	}
	if p.DateTolerance != nil {
		in.DateTolerance = *p.DateTolerance
	}
	if p.DepositLifetime != nil {
		in.DepositLifetime = *p.DepositLifetime
	}
	if p.MaxAmounts != nil {
		in.MaxAmounts = p.MaxAmounts
	}
	if p.Enabled != nil {
		enabled = *p.Enabled
	}
	if in.BaseURL != cur.BaseURL {
		if err := s.checkBaseURL(name, cur.Provider, in.BaseURL, p.Operator); err != nil {
			return ProviderAccount{}, err
		}
	}
	return s.store(ctx, cur, in, enabled)
}

// store validates and writes an account's new settings.
func (s *Service) store(ctx context.Context, cur ProviderAccount, in ProviderAccountInput, enabled bool) (ProviderAccount, error) {
	if err := s.needBox("change provider account " + strconv.Quote(cur.Name)); err != nil {
		return ProviderAccount{}, err
	}
	in = in.withDefaults()
	if err := s.check(ctx, &in); err != nil {
		return ProviderAccount{}, err
	}
	sealed, err := s.seal(in.Secret, accountContext(in.Name))
	if err != nil {
		return ProviderAccount{}, err
	}
	opts, _ := json.Marshal(in.Options)
	row, err := s.q.UpdateProviderAccount(ctx, merchantsdb.UpdateProviderAccountParams{
		ID: cur.ID, BaseUrl: in.BaseURL, ProviderMerchantID: in.ProviderMerchantID, SecretSealed: sealed,
		Options: opts, AmountPolicy: string(in.AmountPolicy), AmountTolerance: in.AmountTolerance,
		BalanceTolerance: in.BalanceTolerance, DateToleranceSecs: int32(in.DateTolerance / time.Second),
		DepositLifetimeMs: in.DepositLifetime.Milliseconds(), MaxAmounts: encodeMaxAmounts(in.MaxAmounts), Enabled: enabled,
	})
	if err != nil {
		return ProviderAccount{}, fmt.Errorf("update provider account %q: %w", in.Name, err)
	}
	return s.accountFrom(row)
}

func (in ProviderAccountInput) withDefaults() ProviderAccountInput {
	if in.AmountPolicy == "" {
		in.AmountPolicy = HoldInSuspense
	}
	if in.Options == nil {
		in.Options = map[string]string{}
	}
	if in.DateTolerance == 0 {
		in.DateTolerance = time.Hour
	}
	if in.DepositLifetime == 0 {
		in.DepositLifetime = DefaultDepositLifetime
	}
	if in.MaxAmounts == nil {
		in.MaxAmounts = map[string]decimal.Decimal{}
	}
	return in
}

// check validates an account's settings as a whole (ErrInvalid, naming every
// problem; it upper-cases the currency codes of in.MaxAmounts), builds its
// adapter (Validate) and asks the ledger about the adapter's currencies
// (Ledger).
func (s *Service) check(ctx context.Context, in *ProviderAccountInput) error {
	var problems []string
	if !codeRE.MatchString(in.Name) {
		problems = append(problems, fmt.Sprintf("name %q: lowercase letters, digits, _ and - (up to 63)", in.Name))
	}
	switch in.Provider {
	case "usdtpay", "cxpay", "usdtcnpay", "cpay", "vpay":
	default:
		problems = append(problems, fmt.Sprintf("provider %q: one of usdtpay, cxpay, usdtcnpay, cpay, vpay", in.Provider))
	}
	if err := checkURL(in.BaseURL, false); err != nil {
		problems = append(problems, "base URL: "+err.Error())
	}
	if strings.TrimSpace(in.ProviderMerchantID) == "" {
		problems = append(problems, "provider merchant id is required")
	}
	if in.Secret == "" {
		problems = append(problems, "secret is required")
	}
	if in.AmountPolicy != HoldInSuspense && in.AmountPolicy != CreditReceived {
		problems = append(problems, fmt.Sprintf("amount policy %q: hold_in_suspense or credit_received", in.AmountPolicy))
	}
	if in.AmountTolerance.IsNegative() || in.BalanceTolerance.IsNegative() || in.DateTolerance < 0 {
		problems = append(problems, "tolerances must not be negative")
	}
	for _, t := range []struct {
		name string
		v    decimal.Decimal
	}{{"amount tolerance", in.AmountTolerance}, {"balance tolerance", in.BalanceTolerance}} {
		if !t.v.Equal(t.v.Truncate(MaxToleranceDecimals)) {
			problems = append(problems, fmt.Sprintf("%s %s: more than %d decimals", t.name, t.v, MaxToleranceDecimals))
		}
	}
	limits, dup := normalizeMaxAmounts(in.MaxAmounts)
	in.MaxAmounts = limits
	problems = append(problems, dup...)
	problems = append(problems, s.checkMaxAmounts(ctx, limits)...)
	if in.DepositLifetime < time.Millisecond || in.DepositLifetime > maxDepositLifetime {
		problems = append(problems, fmt.Sprintf("deposit lifetime %s: from 1ms to %s", in.DepositLifetime, maxDepositLifetime))
	}
	var caps providers.Capabilities
	if len(problems) == 0 && s.opts.Validate != nil {
		cfg := providers.Config{Account: in.Name, BaseURL: in.BaseURL, MerchantID: in.ProviderMerchantID,
			Secret: providers.Secret(in.Secret), Options: in.Options, NotifyURL: "http://127.0.0.1/callbacks/" + strings.Repeat("k", 2*callbackKeyBytes)}
		var err error
		if caps, err = s.opts.Validate(in.Provider, cfg); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("provider account %q: %s: %w", in.Name, strings.Join(problems, "; "), ErrInvalid)
	}
	return s.checkCurrencies(ctx, in.Name, caps)
}

// checkCurrencies refuses an account whose adapter takes a currency the ledger
// cannot book: its orders could never be posted. The currencies built into the
// adapters are all seeded (a test in package providers/registry walks them), so
// in practice this refuses a currency the account's options name (CXPay's
// "currency", VPay's "quote_currencies") that nobody added with `tally currency
// add`. The error wraps ErrInvalid and ledger.ErrUnknownCurrency.
func (s *Service) checkCurrencies(ctx context.Context, name string, caps providers.Capabilities) error {
	if s.opts.Ledger == nil {
		return nil
	}
	seen := map[string]bool{}
	var unknown []string
	for _, code := range append(slices.Clone(caps.DepositCurrencies), caps.PayoutCurrencies...) {
		if seen[code] {
			continue
		}
		seen[code] = true
		_, err := s.opts.Ledger.Currency(ctx, code)
		if errors.Is(err, ledger.ErrUnknownCurrency) {
			unknown = append(unknown, fmt.Sprintf("%q", code))
			continue
		}
		if err != nil {
			return fmt.Errorf("provider account %q: %w", name, err)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("provider account %q: currency %s: the ledger cannot book it (see tally currency list; add it with tally currency add): %w: %w",
			name, strings.Join(unknown, ", "), ErrInvalid, ledger.ErrUnknownCurrency)
	}
	return nil
}

func (s *Service) accountFrom(r merchantsdb.ProviderAccount) (ProviderAccount, error) {
	// Without a box (a read-only command run without TALLY_SECRET_KEY) the
	// account is read without its secret; building its adapter is refused
	// (AdapterFor).
	var secret string
	if s.box != nil {
		var err error
		if secret, err = s.box.Open(r.SecretSealed, accountContext(r.Name)); err != nil {
			return ProviderAccount{}, fmt.Errorf("open secret of provider account %q: %w", r.Name, err)
		}
	}
	opts := map[string]string{}
	if len(r.Options) > 0 {
		if err := json.Unmarshal(r.Options, &opts); err != nil {
			return ProviderAccount{}, fmt.Errorf("options of provider account %q: %w", r.Name, err)
		}
	}
	limits, err := decodeMaxAmounts(r.MaxAmounts)
	if err != nil {
		return ProviderAccount{}, fmt.Errorf("max amounts of provider account %q: %w", r.Name, err)
	}
	return ProviderAccount{
		ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, CallbackKey: r.CallbackKey, LegacyRoute: r.LegacyRoute,
		Provider: r.Provider, BaseURL: r.BaseUrl,
		ProviderMerchantID: r.ProviderMerchantID, Secret: providers.Secret(secret), Options: opts,
		AmountPolicy: AmountPolicy(r.AmountPolicy), AmountTolerance: r.AmountTolerance,
		BalanceTolerance: r.BalanceTolerance, DateTolerance: time.Duration(r.DateToleranceSecs) * time.Second,
		DepositLifetime: time.Duration(r.DepositLifetimeMs) * time.Millisecond, MaxAmounts: limits,
		Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}, nil
}

func merchantFrom(r merchantsdb.Merchant) Merchant {
	return Merchant{ID: r.ID, Code: r.Code, Name: r.Name, WebhookURL: r.WebhookUrl, WebhookEvents: r.WebhookEvents, CreatedAt: r.CreatedAt}
}

func apiKeyFrom(r merchantsdb.ApiKey) APIKey {
	return APIKey{ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, Prefix: r.Prefix, Scopes: scopesFrom(r.Scopes),
		CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
}

// needBox refuses what needs the secret key when the Service has none (New
// with a nil box): the error wraps secrets.ErrNoKey, which names
// TALLY_SECRET_KEY.
func (s *Service) needBox(what string) error {
	if s.box == nil {
		return fmt.Errorf("%s: %w", what, secrets.ErrNoKey)
	}
	return nil
}

// seal seals a secret under the Service's box (secrets.ErrNoKey without one).
func (s *Service) seal(plaintext, context string) ([]byte, error) {
	if err := s.needBox("seal " + context); err != nil {
		return nil, err
	}
	return s.box.Seal(plaintext, context)
}

// open opens a sealed secret under the Service's box (secrets.ErrNoKey
// without one).
func (s *Service) open(sealed []byte, context string) (string, error) {
	if err := s.needBox("open " + context); err != nil {
		return "", err
	}
	return s.box.Open(sealed, context)
}

func webhookContext(code string) string { return "merchant_webhook:" + code }
func accountContext(name string) string { return "provider_account:" + name }

// checkWebhookURL refuses a webhook URL that is not an http(s) URL, or whose
// host the egress policy refuses outright (an address, localhost); empty is
// none.
func (s *Service) checkWebhookURL(raw string) error {
	if err := checkURL(raw, true); err != nil {
		return fmt.Errorf("webhook URL: %w", err)
	}
	if raw == "" {
		return nil
	}
	if err := s.opts.Egress.CheckURL(raw); err != nil {
		return fmt.Errorf("webhook URL: %w: %w", ErrInvalid, err)
	}
	return nil
}

// checkBaseURL applies the operator's policy to a provider account's new base
// URL: an http(s) URL whose host the egress policy does not refuse outright
// (an address or localhost it does not allow: checked again when tally
// connects, for names) and, unless operator, on one of the provider's
// documented hosts (ProviderHosts; on its default port) or a host the
// operator allows (HostAllow). A refusal wraps ErrBaseURLNotAllowed and
// ErrInvalid; a URL that is not one wraps ErrInvalid (check says so).
func (s *Service) checkBaseURL(account, provider, raw string, operator bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil // check refuses it, with the account's other problems
	}
	if err := s.opts.Egress.CheckURL(raw); err != nil {
		return fmt.Errorf("provider account %q: base URL %q: %w: %w: %w", account, raw, ErrBaseURLNotAllowed, ErrInvalid, err)
	}
	if operator {
		return nil
	}
	host, port := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), u.Port()
	defPort := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	var documented []string
	if s.opts.ProviderHosts != nil {
		documented = s.opts.ProviderHosts(provider)
	}
	if (port == "" || port == defPort) && slices.Contains(documented, host) {
		return nil
	}
	if port == "" {
		port = defPort
	}
	if s.opts.HostAllow.Allows(u.Hostname(), port) {
		return nil
	}
	hosts := "it documents none"
	if len(documented) > 0 {
		hosts = strings.Join(documented, ", ")
	}
	return fmt.Errorf("provider account %q: base URL %q: the host is not one of %s's documented hosts (%s) nor one the operator allows: %w: %w",
		account, raw, provider, hosts, ErrBaseURLNotAllowed, ErrInvalid)
}

func checkURL(raw string, optional bool) error {
	if raw == "" && optional {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL: %w", raw, ErrInvalid)
	}
	return nil
}

// maxDepositLifetime bounds a deposit's lifetime.
const maxDepositLifetime = 365 * 24 * time.Hour

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n characters of base62 from crypto/rand.
func randomString(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return fmt.Errorf("look up "+format+": %w", append(args, err)...)
}

func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
