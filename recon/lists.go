package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/tallyhq/tally/db/recondb"
)

// ListedRun is a run as a list shows it: with its merchant's code and the
// number of discrepancies it touched.
type ListedRun struct {
	Run
	Merchant string `json:"merchant"`
	Findings int64  `json:"findings"`
}

// RunFilter narrows RunsOf.
type RunFilter struct {
	// MerchantIDs are the merchants whose runs are listed; nil is every
	// merchant, an empty (non-nil) slice none.
	MerchantIDs []int64
	// Status keeps the runs in one status; empty keeps all.
	Status RunStatus
	// BeforeID is the keyset cursor: only runs with a smaller id (0: from the newest).
	BeforeID int64
	Limit    int32
}

// RunsOf lists the runs of several merchants, newest first, a page at a time
// (keyset on the id): the console's list, for a user who may see several
// merchants.
func (s *Service) RunsOf(ctx context.Context, f RunFilter) ([]ListedRun, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	p := recondb.ListRunsOfParams{MerchantIds: f.MerchantIDs, RowLimit: f.Limit}
	if f.MerchantIDs != nil && len(f.MerchantIDs) == 0 {
		return nil, nil
	}
	if f.Status != "" {
		st := string(f.Status)
		p.Status = &st
	}
	if f.BeforeID > 0 {
		p.BeforeID = &f.BeforeID
	}
	rows, err := s.q.ListRunsOf(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := make([]ListedRun, 0, len(rows))
	for _, r := range rows {
		run := Run{ID: r.ID, MerchantID: r.MerchantID, ProviderAccount: r.ProviderAccount, Kind: RunKind(r.Kind),
			WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Trigger: r.Trigger, StartedBy: r.StartedBy,
			Status: RunStatus(r.Status), Error: r.Error, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
		if r.StatementID != nil {
			run.StatementID = *r.StatementID
		}
		out = append(out, ListedRun{Run: run, Merchant: r.Merchant, Findings: r.Findings})
	}
	return out, nil
}

// RunFindings reads a page of the discrepancies a run touched, by
// discrepancy id after afterID: a run's detail page shows them page by page
// rather than the whole summary's list.
func (s *Service) RunFindings(ctx context.Context, runID, afterID int64, limit int32) ([]Finding, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	rows, err := s.q.RunFindings(ctx, recondb.RunFindingsParams{RunID: runID, AfterID: afterID, RowLimit: limit})
	if err != nil {
		return nil, fmt.Errorf("findings of run %d: %w", runID, err)
	}
	nos, err := s.orderNos(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("findings of run %d: %w", runID, err)
	}
	out := make([]Finding, 0, len(rows))
	for _, r := range rows {
		f := Finding{DiscrepancyID: r.ID, Type: r.Type, Severity: r.Severity, Status: r.Status, ProviderAccount: r.ProviderAccount,
			Currency: r.Currency, AmountDelta: r.AmountDelta, Summary: r.Summary, New: r.New,
			AutoClosed: r.AutoClosed, Repaired: r.Repaired}
		if r.OrderID != nil {
			f.OrderID = *r.OrderID
			f.OrderNo = nos[*r.OrderID]
		}
		if r.Expected.Valid {
			f.Expected = r.Expected.Decimal.String()
		}
		if r.Actual.Valid {
			f.Actual = r.Actual.Decimal.String()
		}
		out = append(out, f)
	}
	return out, nil
}

// ListedStatement is an imported statement as a list shows it.
type ListedStatement struct {
	Statement
	MerchantID int64  `json:"-"`
	Merchant   string `json:"merchant"`
	ImportedBy string `json:"imported_by"`
}

// StatementsOf lists the imported statements of several merchants (nil:
// every merchant; empty: none), newest first, a page at a time (keyset on
// the id, beforeID 0 from the newest).
func (s *Service) StatementsOf(ctx context.Context, merchantIDs []int64, beforeID int64, limit int32) ([]ListedStatement, error) {
	if merchantIDs != nil && len(merchantIDs) == 0 {
		return nil, nil
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	p := recondb.ListStatementsOfParams{MerchantIds: merchantIDs, RowLimit: limit}
	if beforeID > 0 {
		p.BeforeID = &beforeID
	}
	rows, err := s.q.ListStatementsOf(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list statements: %w", err)
	}
	out := make([]ListedStatement, 0, len(rows))
	for _, r := range rows {
		st := Statement{ID: r.ID, ProviderAccount: r.ProviderAccount, Filename: r.Filename, Lines: r.Lines,
			BadLines: r.BadLines, ImportedAt: r.ImportedAt}
		st.PeriodStart, st.PeriodEnd = deref(r.PeriodStart), deref(r.PeriodEnd)
		out = append(out, ListedStatement{Statement: st, MerchantID: r.MerchantID, Merchant: r.Merchant, ImportedBy: r.ImportedBy})
	}
	return out, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
