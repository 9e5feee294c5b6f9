package recon

import (
	"context"
	"fmt"
	"time"
)

// LastRun is the last finished reconciliation run of a provider account.
type LastRun struct {
	// Account is "merchant code/account name", the provider_account label
	// of /metrics.
	Account    string
	Kind       RunKind
	Status     RunStatus
	FinishedAt time.Time
}

// LedgerCheck is the ledger invariant check of a merchant's last completed
// run.
type LedgerCheck struct {
	Merchant   string // merchant code
	OK         bool
	FinishedAt time.Time
}

// LastRuns lists the last finished run of every provider account that has
// one (for /metrics): one index probe per account.
func (s *Service) LastRuns(ctx context.Context) ([]LastRun, error) {
	rows, err := s.q.LastRunPerAccount(ctx)
	if err != nil {
		return nil, fmt.Errorf("last runs per account: %w", err)
	}
	out := make([]LastRun, 0, len(rows))
	for _, r := range rows {
		l := LastRun{Account: r.MerchantCode + "/" + r.AccountName, Kind: RunKind(r.Kind), Status: RunStatus(r.Status)}
		if r.FinishedAt != nil {
			l.FinishedAt = *r.FinishedAt
		}
		out = append(out, l)
	}
	return out, nil
}

// LastLedgerChecks lists, per merchant with a completed run, the result of
// that run's ledger check (for /metrics).
func (s *Service) LastLedgerChecks(ctx context.Context) ([]LedgerCheck, error) {
	rows, err := s.q.LastLedgerCheckPerMerchant(ctx)
	if err != nil {
		return nil, fmt.Errorf("last ledger checks: %w", err)
	}
	out := make([]LedgerCheck, 0, len(rows))
	for _, r := range rows {
		c := LedgerCheck{Merchant: r.MerchantCode, OK: r.Ok}
		if r.FinishedAt != nil {
			c.FinishedAt = *r.FinishedAt
		}
		out = append(out, c)
	}
	return out, nil
}
