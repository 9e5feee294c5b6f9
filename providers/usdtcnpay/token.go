package usdtcnpay

import (
	"context"
	"crypto/rsa"
	"sync"
	"time"

	"github.com/tallyhq/tally/providers"
)

// accessToken is one token from getAccessToken with the platform key that came
// with it.
type accessToken struct {
	value   string
	key     *rsa.PublicKey
	expires time.Time // when the platform stops accepting it
	refresh time.Time // when to fetch the next one
}

// tokenSource caches the access token and shares one fetch among concurrent
// callers. A token is used until its refresh time (its lifetime minus
// refreshMargin), then the next caller fetches a new one while the others wait
// for that same fetch; if the fetch fails and the old token has not yet
// expired, the old token is used. A token the platform refused is dropped
// (invalidate) so that the next get fetches again.
type tokenSource struct {
	fetch func(ctx context.Context) (*accessToken, error)
	now   func() time.Time

	mu     sync.Mutex
	cur    *accessToken
	flight *tokenFlight
}

// tokenFlight is a fetch in progress; done closes when tok or err is set.
type tokenFlight struct {
	done chan struct{}
	tok  *accessToken
	err  error
}

// tokenFetchTimeout bounds a shared fetch, which runs detached from the context
// of the caller that started it so that one caller giving up does not fail the
// others waiting for the same token.
const tokenFetchTimeout = 30 * time.Second

// get returns a token that is not due for refresh, fetching one if needed.
func (s *tokenSource) get(ctx context.Context) (*accessToken, error) {
	s.mu.Lock()
	cur := s.cur
	if cur != nil && s.now().Before(cur.refresh) {
		s.mu.Unlock()
		return cur, nil
	}
	f := s.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		s.flight = f
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
		go func() {
			defer cancel()
			tok, err := s.fetch(fctx)
			s.mu.Lock()
			f.tok, f.err = tok, err
			if err == nil {
				s.cur = tok
			}
			s.flight = nil
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: "getAccessToken", Message: "gave up waiting for the access token", Err: ctx.Err()}
	}
	if f.err != nil {
		if cur != nil && s.now().Before(cur.expires) {
			return cur, nil // refresh failed early: the old token still works
		}
		return nil, f.err
	}
	return f.tok, nil
}

// invalidate drops tok if it is still the cached token, so that the next get
// fetches a new one. Concurrent callers refused with the same token invalidate
// it once and share the next fetch.
func (s *tokenSource) invalidate(tok *accessToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == tok {
		s.cur = nil
	}
}

// refreshMargin is how long before expiry a token is replaced: 60 s, or a fifth
// of the lifetime for tokens shorter than five minutes, so that a request
// signed just before the refresh still arrives while the token is valid.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/5)
}
