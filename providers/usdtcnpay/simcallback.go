package usdtcnpay

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// protocol renders the platform's callbacks: a POST with an empty body to the
// order's successUrl once it succeeded (a withdrawal: once all its parts are
// paid), or to its failUrl once it failed, expired or was taken back. Pending
// and in-progress states, including each part of a split withdrawal, call
// nothing. The platform signs nothing; a forged callback is the genuine URL
// with its result flipped and an altered amount added, which the sig the
// adapter put in the URL no longer matches.
type protocol struct{}

// Callback renders the call for the order's current state, or nil.
func (protocol) Callback(_ *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	var field string
	switch o.Status {
	case providers.StatusSucceeded:
		field = "successUrl"
	case providers.StatusFailed, providers.StatusExpired, providers.StatusReversed:
		field = "failUrl"
	default:
		return nil, nil
	}
	target := o.Fields[field]
	if target == "" {
		return nil, nil
	}
	if forged {
		u, err := url.Parse(target)
		if err != nil {
			return nil, fmt.Errorf("callback URL of order %s: %w", o.ID, err)
		}
		q := u.Query()
		if q.Get(ParamResult) == ResultSuccess {
			q.Set(ParamResult, ResultFail)
		} else {
			q.Set(ParamResult, ResultSuccess)
		}
		q.Set("amount", o.Amount.Add(decimal.NewFromInt(100)).String())
		u.RawQuery = q.Encode()
		target = u.String()
	}
	return &sim.Outbound{Method: http.MethodPost, URL: target}, nil
}

// RetrySchedule is this package's retry schedule (the document gives none):
// after the first call, again 1, 2, 5, 10, 30 and 60 minutes later (7 calls
// over about 1 h 48 min) until the answer is HTTP 200 "success".
var RetrySchedule = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// Schedule is a copy of RetrySchedule.
func (protocol) Schedule() []time.Duration { return slices.Clone(RetrySchedule) }

// Ack is "success".
func (protocol) Ack() string { return Ack }
