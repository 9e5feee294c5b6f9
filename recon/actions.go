package recon

import (
	"context"
	"errors"
	"fmt"

	"github.com/tallyhq/tally/discrepancies"
)

// Actions lists every resolution, in the order forms offer them.
var Actions = []Action{AcceptReceived, RefundPayer, WriteOff, MatchOrder, Ignore}

// errNoOrderToMatch: match_order without the order to match. It is the only
// refusal of a match_order that says nothing about the discrepancy itself,
// so ValidActions tells it apart.
var errNoOrderToMatch = fmt.Errorf("match_order needs the order to match (--order): %w", ErrInvalid)

// Posts reports whether the action moves money (and so goes through
// maker-checker when its amount reaches the merchant's threshold).
func (a Action) Posts() bool { return a != Ignore }

// ValidActions lists the resolutions that the rules of Resolve and Propose
// (adjustment) would accept for d as it is now, in the order of Actions: none
// for a closed discrepancy, ignore for every open one. It asks the very rules
// that resolve, so a form built from it never offers what would be refused
// (refund_payer may still be refused for its payout's beneficiary, and
// match_order for the order given).
func (s *Service) ValidActions(ctx context.Context, d discrepancies.Discrepancy) ([]Action, error) {
	if d.Status != discrepancies.Open {
		return nil, nil
	}
	var out []Action
	for _, a := range Actions {
		_, _, err := s.adjustment(ctx, d, Resolution{Action: a})
		switch {
		case err == nil, a == MatchOrder && errors.Is(err, errNoOrderToMatch):
			out = append(out, a)
		case errors.Is(err, ErrInvalid), errors.Is(err, ErrNothingToMove):
		default:
			return nil, fmt.Errorf("valid actions of discrepancy %d: %w", d.ID, err)
		}
	}
	return out, nil
}
