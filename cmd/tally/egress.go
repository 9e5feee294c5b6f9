package main

import (
	"fmt"

	"github.com/tallyhq/tally/egress"
)

// egressPolicy is the operator's egress policy from --egress-allow: what
// tally's outbound calls (providers, merchant webhooks) may reach besides
// public addresses. Merchants cannot change it.
func (g *globals) egressPolicy() (*egress.Policy, error) {
	allow, err := egress.ParseAllowList(g.egressAllow...)
	if err != nil {
		return nil, fmt.Errorf("--egress-allow %w", err)
	}
	return egress.New(allow), nil
}

// hostAllow is --provider-host-allow: the base URL hosts merchants may set
// through the API beyond each provider's documented hosts.
func (g *globals) hostAllow() (egress.AllowList, error) {
	l, err := egress.ParseAllowList(g.providerHostAllow...)
	if err != nil {
		return egress.AllowList{}, fmt.Errorf("--provider-host-allow %w", err)
	}
	return l, nil
}
