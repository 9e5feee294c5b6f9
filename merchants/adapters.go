package merchants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/registry"
)

// AdapterOptions configure the provider adapters a Service builds for its
// provider accounts and keeps for AccountTTL (Adapter, AdapterByID,
// AdapterByCallbackKey, AdapterFor): Options.Adapters, given to New.
type AdapterOptions struct {
	// PublicURL is where providers reach tally: an account's orders carry
	// {PublicURL}/callbacks/{callback key} as their notify URL (NotifyURL).
	PublicURL string
	// LegacyCallbackRoutes lets /callbacks/{name} reach the accounts that
	// existed before callback keys (ProviderAccount.LegacyRoute), for the
	// orders whose notify URL still names them: a migration window the
	// operator opens (tally serve --legacy-callback-routes). Off by default.
	LegacyCallbackRoutes bool
	// Timeout bounds a provider call; default 30s. Every call passes
	// Options.Egress: no address it refuses, no redirect followed.
	Timeout time.Duration
	// Logger is the adapters' logger; default slog.Default().
	Logger *slog.Logger
}

// AccountTTL is how long a provider account read with its secret opened and
// its adapter built is used before it is read again: every callback needs its
// account twice (ingress and process_callback), and the read and the secret's
// decryption were a database round trip and an AES-GCM open each time (tally
// bench callbacks). A change to an account (a new secret, disabled) takes
// effect within AccountTTL in every process; merchants' webhook targets are
// kept as long (package webhooks).
const AccountTTL = 2 * time.Second

// adapterCache holds the adapters of the provider accounts a Service read.
type adapterCache struct {
	mu       sync.Mutex
	adapters map[int64]cachedAdapter // by provider account id
	byName   map[accountName]int64   // (merchant, name) -> account id, for Adapter
	byKey    map[string]int64        // callback key (or legacy name route) -> account id, for AdapterByCallbackKey
	codes    map[int64]string        // merchant id -> merchant code (codes never change), for Label
	client   *http.Client            // every provider call, under Egress; made with the first adapter
}

func newAdapterCache() adapterCache {
	return adapterCache{adapters: map[int64]cachedAdapter{}, byName: map[accountName]int64{}, byKey: map[string]int64{},
		codes: map[int64]string{}}
}

// accountName is a provider account's name within its merchant.
type accountName struct {
	merchantID int64
	name       string
}

type cachedAdapter struct {
	adapter providers.Adapter
	account ProviderAccount
	read    time.Time // when account was read from the database
}

// NotifyURL is the callback URL tally gives a provider account's orders:
// {PublicURL}/callbacks/{callback key}, never the account's name.
func (s *Service) NotifyURL(acct ProviderAccount) string {
	return strings.TrimRight(s.opts.Adapters.PublicURL, "/") + "/callbacks/" + acct.CallbackKey
}

// Adapter returns the (cached) adapter and account for the merchant's
// provider account name; another merchant's account of that name is
// ErrNotFound, as is none. An account read less than AccountTTL ago is not
// read again; after that it is, and the adapter is rebuilt when the account's
// updated_at moved, so that a changed secret takes effect.
func (s *Service) Adapter(ctx context.Context, merchantID int64, name string) (providers.Adapter, ProviderAccount, error) {
	c := &s.cache
	c.mu.Lock()
	id, known := c.byName[accountName{merchantID, name}]
	c.mu.Unlock()
	if known {
		if a, ok := s.fresh(id); ok {
			return a.adapter, a.account, nil
		}
	}
	acct, err := s.ProviderAccount(ctx, merchantID, name)
	if err != nil {
		return nil, ProviderAccount{}, err
	}
	return s.AdapterFor(acct)
}

// AdapterByID is Adapter by provider account id.
func (s *Service) AdapterByID(ctx context.Context, id int64) (providers.Adapter, ProviderAccount, error) {
	if a, ok := s.fresh(id); ok {
		return a.adapter, a.account, nil
	}
	acct, err := s.ProviderAccountByID(ctx, id)
	if err != nil {
		return nil, ProviderAccount{}, err
	}
	return s.AdapterFor(acct)
}

// AdapterByCallbackKey resolves the {key} of /callbacks/{key}: the provider
// account with that callback key (with AdapterOptions.LegacyCallbackRoutes,
// also an account that existed before keys, by its name), and its adapter.
// No account is ErrNotFound; a key that cannot be one is refused without a
// database read. Accounts are cached like Adapter's.
func (s *Service) AdapterByCallbackKey(ctx context.Context, key string) (providers.Adapter, ProviderAccount, error) {
	c := &s.cache
	c.mu.Lock()
	id, known := c.byKey[key]
	c.mu.Unlock()
	if known {
		adapter, acct, err := s.AdapterByID(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, ProviderAccount{}, err
		}
		if err == nil && s.routes(acct, key) {
			return adapter, acct, nil
		}
		c.mu.Lock()
		delete(c.byKey, key)
		c.mu.Unlock()
	}
	acct, err := s.ProviderAccountByCallbackKey(ctx, key)
	if errors.Is(err, ErrNotFound) && s.opts.Adapters.LegacyCallbackRoutes {
		acct, err = s.ProviderAccountByLegacyName(ctx, key)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, ProviderAccount{}, fmt.Errorf("callback key: %w", ErrNotFound)
	}
	if err != nil {
		return nil, ProviderAccount{}, fmt.Errorf("callback account: %w", err)
	}
	adapter, acct, err := s.AdapterFor(acct)
	if err != nil {
		return nil, ProviderAccount{}, err
	}
	c.mu.Lock()
	c.byKey[key] = acct.ID
	c.mu.Unlock()
	return adapter, acct, nil
}

// routes reports whether key still routes to acct: its callback key, or its
// name while legacy routes are open.
func (s *Service) routes(acct ProviderAccount, key string) bool {
	return acct.CallbackKey == key || (s.opts.Adapters.LegacyCallbackRoutes && acct.LegacyRoute && acct.Name == key)
}

// KnownCallbackKey reports whether key routes to an account this process has
// read before, so that resolving it costs no lookup of an unknown key. It
// never reads the database.
func (s *Service) KnownCallbackKey(key string) bool {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byKey[key]
	return ok
}

// Label names a provider account in metrics and logs as "merchant/account"
// (the merchant's code and the account's name; never the callback key). The
// merchant's code is read once (codes never change); its id stands in when it
// cannot be read.
func (s *Service) Label(ctx context.Context, acct ProviderAccount) string {
	c := &s.cache
	c.mu.Lock()
	code, ok := c.codes[acct.MerchantID]
	c.mu.Unlock()
	if !ok {
		m, err := s.MerchantByID(ctx, acct.MerchantID)
		if err != nil {
			return fmt.Sprintf("merchant-%d/%s", acct.MerchantID, acct.Name)
		}
		code = m.Code
		c.mu.Lock()
		c.codes[acct.MerchantID] = code
		c.mu.Unlock()
	}
	return code + "/" + acct.Name
}

// fresh returns the cached adapter of an account read less than AccountTTL ago.
func (s *Service) fresh(id int64) (cachedAdapter, bool) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.adapters[id]
	if !ok || time.Since(a.read) >= AccountTTL {
		return cachedAdapter{}, false
	}
	return a, true
}

// AdapterFor returns the adapter of acct, an account just read from the
// database (or handed back by Adapter), building it unless the cached one is
// of the same updated_at; the account is cached as read now.
func (s *Service) AdapterFor(acct ProviderAccount) (providers.Adapter, ProviderAccount, error) {
	if err := s.needBox(fmt.Sprintf("provider account %q: its adapter needs the account's secret", acct.Name)); err != nil {
		return nil, ProviderAccount{}, err
	}
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byName[accountName{acct.MerchantID, acct.Name}] = acct.ID
	c.byKey[acct.CallbackKey] = acct.ID
	if a, ok := c.adapters[acct.ID]; ok && a.account.UpdatedAt.Equal(acct.UpdatedAt) {
		a.read = time.Now()
		c.adapters[acct.ID] = a
		return a.adapter, a.account, nil
	}
	o := s.opts.Adapters
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if c.client == nil {
		policy, timeout := s.opts.Egress, o.Timeout
		if policy == nil {
			policy = egress.Default()
		}
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		c.client = policy.Client(timeout)
	}
	cfg := acct.Config(s.NotifyURL(acct))
	cfg.Logger = o.Logger
	cfg.HTTPClient = c.client
	a, err := registry.NewAdapter(acct.Provider, cfg)
	if err != nil {
		return nil, ProviderAccount{}, err
	}
	c.adapters[acct.ID] = cachedAdapter{adapter: a, account: acct, read: time.Now()}
	return a, acct, nil
}
