package recon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/providers"
)

// Maker-checker errors callers tell apart.
var (
	// ErrPending: the discrepancy already has a pending proposal (approve or
	// reject it first).
	ErrPending = errors.New("a resolution proposal is already pending for this discrepancy")
	// ErrSelfApproval: the maker of a proposal may not approve it.
	ErrSelfApproval = errors.New("a proposal's maker cannot approve it")
	// ErrNotAPerson: only a person approves (a staff user, "user:<id>", or
	// the operator's CLI, "cli:<name>"); a merchant API key proposes and
	// withdraws its own proposals but approves nothing.
	ErrNotAPerson = errors.New("only a person approves a resolution")
	// ErrDecided: the proposal was already approved or rejected.
	ErrDecided = errors.New("proposal already decided")
)

// ProposalStatus is where a proposal stands.
type ProposalStatus string

// Proposal statuses.
const (
	Pending  ProposalStatus = "pending"
	Approved ProposalStatus = "approved"
	Rejected ProposalStatus = "rejected"
)

// Proposal is a posting resolution awaiting (or past) a second person's
// decision.
type Proposal struct {
	ID            int64           `json:"id"`
	MerchantID    int64           `json:"merchant_id"`
	DiscrepancyID int64           `json:"discrepancy_id"`
	Action        Action          `json:"action"`
	OrderID       int64           `json:"order_id,omitempty"`
	RefundAccount string          `json:"refund_account,omitempty"`
	Beneficiary   providers.Party `json:"-"`
	// Amount and Currency are what the resolution posts.
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
	// Maker proposed it (an authenticated actor); Reason says why.
	Maker        string         `json:"maker"`
	Reason       string         `json:"reason"`
	Status       ProposalStatus `json:"status"`
	DecidedBy    string         `json:"decided_by,omitempty"`
	DecidedAt    *time.Time     `json:"decided_at,omitempty"`
	DecisionNote string         `json:"decision_note,omitempty"`
	TransferKey  string         `json:"transfer_key,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
}

// Proposed is what Propose did: resolved at once (Resolved) or stored a
// proposal awaiting approval (Proposal).
type Proposed struct {
	Resolved *Resolved `json:"resolved,omitempty"`
	Proposal *Proposal `json:"proposal,omitempty"`
}

// Pending reports whether the resolution awaits approval.
func (p Proposed) Pending() bool { return p.Proposal != nil }

// Decision is what Approve or Reject did: the decided proposal and, for an
// approval, the resolution it carried out.
type Decision struct {
	Proposal Proposal  `json:"proposal"`
	Resolved *Resolved `json:"resolved,omitempty"`
}

// Propose is how people resolve discrepancies (maker-checker). r.Actor is the
// authenticated actor, r.Note the required reason. Ignore (which posts
// nothing), and a posting resolution whose amount is below the merchant's
// threshold for the currency, resolve at once, as Resolve does. Any other
// resolution is validated exactly as Resolve would (ErrInvalid,
// ErrNothingToMove, discrepancies.ErrClosed, ...) and stored as a pending
// proposal, which nothing posts until Approve; a second pending proposal on
// one discrepancy is ErrPending.
func (s *Service) Propose(ctx context.Context, merchantID, id int64, r Resolution) (Proposed, error) {
	if err := r.check(); err != nil {
		return Proposed{}, err
	}
	if strings.TrimSpace(r.Note) == "" {
		return Proposed{}, fmt.Errorf("a resolution needs a reason (note): %w", ErrInvalid)
	}
	if err := s.precheckRefund(ctx, merchantID, id, r); err != nil {
		return Proposed{}, err
	}
	var out Proposed
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := s.lockOpen(ctx, tx, merchantID, id)
		if err != nil {
			return err
		}
		q := recondb.New(tx)
		if p, err := q.PendingProposalFor(ctx, d.ID); err == nil {
			return fmt.Errorf("proposal %d by %s: %w", p.ID, p.Maker, ErrPending)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pending proposal: %w", err)
		}
		entries, req, err := s.adjustment(ctx, d, r)
		if err != nil {
			return err
		}
		amount := stake(entries)
		needsApproval := len(entries) > 0
		if needsApproval {
			th, err := q.ThresholdFor(ctx, recondb.ThresholdForParams{MerchantID: merchantID, Currency: d.Currency})
			switch {
			case errors.Is(err, pgx.ErrNoRows): // no threshold: every amount needs approval
			case err != nil:
				return fmt.Errorf("approval threshold: %w", err)
			default:
				needsApproval = !amount.LessThan(th)
			}
		}
		if needsApproval {
			p, err := s.insertProposal(ctx, tx, d, r, amount)
			if err != nil {
				return err
			}
			out.Proposal = &p
			return nil
		}
		res, err := s.resolveTx(ctx, tx, d, r, entries, req, nil)
		if err != nil {
			return err
		}
		out.Resolved = &res
		return nil
	})
	if err != nil {
		return Proposed{}, fmt.Errorf("propose resolution of discrepancy %d: %w", id, err)
	}
	return out, nil
}

func (s *Service) insertProposal(ctx context.Context, tx pgx.Tx, d discrepancies.Discrepancy, r Resolution, amount decimal.Decimal) (Proposal, error) {
	bene, err := json.Marshal(r.Beneficiary)
	if err != nil {
		return Proposal{}, fmt.Errorf("beneficiary: %w", err)
	}
	var orderID *int64
	if r.Action == MatchOrder {
		orderID = &r.OrderID
	}
	row, err := recondb.New(tx).InsertProposal(ctx, recondb.InsertProposalParams{MerchantID: d.MerchantID, DiscrepancyID: d.ID,
		Action: string(r.Action), OrderID: orderID, RefundAccount: r.RefundAccount, Beneficiary: bene, Amount: amount,
		Currency: d.Currency, Maker: r.Actor, Reason: r.Note})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return Proposal{}, ErrPending
	}
	if err != nil {
		return Proposal{}, fmt.Errorf("store the proposal: %w", err)
	}
	p := proposalFrom(row)
	if err := s.disc.AddEventTx(ctx, tx, d.ID, "proposed", r.Actor, r.Note, map[string]any{"proposal_id": p.ID,
		"action": p.Action, "amount": p.Amount.String(), "currency": p.Currency}); err != nil {
		return Proposal{}, err
	}
	return p, nil
}

// Approve carries out a pending proposal in one transaction: it locks the
// discrepancy and the proposal, refuses the maker (ErrSelfApproval), a decided
// proposal (ErrDecided) and a closed discrepancy (discrepancies.ErrClosed),
// posts the resolution exactly once (its amount must still be the proposed
// one, else ErrInvalid: propose again), closes the discrepancy and marks the
// proposal approved with the transfer key. A proposal whose discrepancy was
// closed meanwhile is rejected by "tally" and answered ErrClosed. approver is
// the authenticated actor, a person ("user:" or "cli:"; anyone else is
// ErrNotAPerson). merchantID 0 is any merchant (callers that scoped the proposal
// themselves); another merchant's proposal is ErrNotFound.
func (s *Service) Approve(ctx context.Context, merchantID, proposalID int64, approver, note string) (Decision, error) {
	if strings.TrimSpace(approver) == "" {
		return Decision{}, fmt.Errorf("approval needs an approver: %w", ErrInvalid)
	}
	if !strings.HasPrefix(approver, "user:") && !strings.HasPrefix(approver, "cli:") {
		return Decision{}, fmt.Errorf("approval by %s: %w", approver, ErrNotAPerson)
	}
	var out Decision
	var closed error
	err := s.decide(ctx, merchantID, proposalID, func(tx pgx.Tx, p Proposal, d discrepancies.Discrepancy) error {
		if p.Maker == approver {
			return fmt.Errorf("%s proposed it: %w", approver, ErrSelfApproval)
		}
		if d.Status != discrepancies.Open {
			// Closed meanwhile (a run closed it, or it was ignored): the
			// proposal can never be carried out; tally rejects it so that
			// it leaves the approvers' queue, and says why.
			closed = fmt.Errorf("discrepancy %d is %s (%s by %s): %w", d.ID, d.Status, d.Resolution, d.ResolvedBy, discrepancies.ErrClosed)
			tally := "tally"
			why := fmt.Sprintf("the discrepancy was closed meanwhile (%s by %s)", d.Resolution, d.ResolvedBy)
			if _, err := recondb.New(tx).DecideProposal(ctx, recondb.DecideProposalParams{ID: p.ID, Status: string(Rejected),
				DecidedBy: &tally, DecisionNote: why}); err != nil {
				return fmt.Errorf("mark rejected: %w", err)
			}
			return s.disc.AddEventTx(ctx, tx, d.ID, "rejected", tally, why, map[string]any{"proposal_id": p.ID, "maker": p.Maker})
		}
		r := Resolution{Action: p.Action, Actor: approver, Note: p.Reason, OrderID: p.OrderID, RefundAccount: p.RefundAccount, Beneficiary: p.Beneficiary}
		entries, req, err := s.adjustment(ctx, d, r)
		if err != nil {
			return err
		}
		if amount := stake(entries); !amount.Equal(p.Amount) {
			return fmt.Errorf("the amount at stake is now %s %s, %s was proposed: propose again: %w", amount, p.Currency, p.Amount, ErrInvalid)
		}
		if req != nil {
			if err := s.checkRefund(ctx, d.MerchantID, *req); err != nil {
				return fmt.Errorf("refund_payer refused before anything moved: %w", err)
			}
		}
		if err := s.disc.AddEventTx(ctx, tx, d.ID, "approved", approver, note, map[string]any{"proposal_id": p.ID, "maker": p.Maker}); err != nil {
			return err
		}
		res, err := s.resolveTx(ctx, tx, d, r, entries, req, map[string]string{"maker": p.Maker, "approved_by": approver,
			"proposal": fmt.Sprint(p.ID)})
		if err != nil {
			return err
		}
		row, err := recondb.New(tx).DecideProposal(ctx, recondb.DecideProposalParams{ID: p.ID, Status: string(Approved),
			DecidedBy: &approver, DecisionNote: note, TransferKey: res.TransferKey})
		if err != nil {
			return fmt.Errorf("mark approved: %w", err)
		}
		out = Decision{Proposal: proposalFrom(row), Resolved: &res}
		return nil
	})
	if err == nil {
		err = closed
	}
	if err != nil {
		return Decision{}, fmt.Errorf("approve proposal %d: %w", proposalID, err)
	}
	return out, nil
}

// Reject declines a pending proposal with a reason (required); nothing posts
// and the discrepancy stays open. Any actor other than the maker rejects; the
// maker rejecting their own proposal withdraws it.
func (s *Service) Reject(ctx context.Context, merchantID, proposalID int64, approver, note string) (Decision, error) {
	if strings.TrimSpace(approver) == "" {
		return Decision{}, fmt.Errorf("rejection needs an actor: %w", ErrInvalid)
	}
	if strings.TrimSpace(note) == "" {
		return Decision{}, fmt.Errorf("rejection needs a reason (note): %w", ErrInvalid)
	}
	var out Decision
	err := s.decide(ctx, merchantID, proposalID, func(tx pgx.Tx, p Proposal, d discrepancies.Discrepancy) error {
		row, err := recondb.New(tx).DecideProposal(ctx, recondb.DecideProposalParams{ID: p.ID, Status: string(Rejected),
			DecidedBy: &approver, DecisionNote: note})
		if err != nil {
			return fmt.Errorf("mark rejected: %w", err)
		}
		if err := s.disc.AddEventTx(ctx, tx, d.ID, "rejected", approver, note, map[string]any{"proposal_id": p.ID, "maker": p.Maker,
			"withdrawn": approver == p.Maker}); err != nil {
			return err
		}
		out = Decision{Proposal: proposalFrom(row)}
		return nil
	})
	if err != nil {
		return Decision{}, fmt.Errorf("reject proposal %d: %w", proposalID, err)
	}
	return out, nil
}

// decide runs f in a transaction holding the proposal's discrepancy and then
// the proposal itself (Propose locks the discrepancy first too), once the
// proposal is known to be the merchant's and pending.
func (s *Service) decide(ctx context.Context, merchantID, proposalID int64, f func(pgx.Tx, Proposal, discrepancies.Discrepancy) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := recondb.New(tx)
		row, err := q.ProposalByID(ctx, proposalID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && merchantID != 0 && row.MerchantID != merchantID) {
			return fmt.Errorf("proposal %d: %w", proposalID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("get proposal: %w", err)
		}
		d, err := s.disc.GetForUpdateTx(ctx, tx, row.DiscrepancyID)
		if err != nil {
			return err
		}
		if row, err = q.ProposalForUpdate(ctx, proposalID); err != nil {
			return fmt.Errorf("lock proposal: %w", err)
		}
		p := proposalFrom(row)
		if p.Status != Pending {
			return fmt.Errorf("proposal %d was %s by %s: %w", p.ID, p.Status, p.DecidedBy, ErrDecided)
		}
		return f(tx, p, d)
	})
}

// ApprovalFilter selects proposals; zero fields match everything.
type ApprovalFilter struct {
	MerchantIDs   []int64 // nil: every merchant
	Status        ProposalStatus
	DiscrepancyID int64
	// After is the last id of the previous page (newest first: ids below it).
	After int64
	Limit int32 // default 50, at most 500
}

// Approvals lists proposals newest first, keyset paged by id (pass the last
// one's ID as After for the next page).
func (s *Service) Approvals(ctx context.Context, f ApprovalFilter) ([]Proposal, error) {
	if f.MerchantIDs != nil && len(f.MerchantIDs) == 0 {
		return []Proposal{}, nil
	}
	switch f.Status {
	case "", Pending, Approved, Rejected:
	default:
		return nil, fmt.Errorf("status %q: pending, approved or rejected: %w", f.Status, ErrInvalid)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	p := recondb.ListProposalsParams{MerchantIds: f.MerchantIDs, RowLimit: f.Limit}
	if f.Status != "" {
		st := string(f.Status)
		p.Status = &st
	}
	if f.DiscrepancyID != 0 {
		p.DiscrepancyID = &f.DiscrepancyID
	}
	if f.After != 0 {
		p.BeforeID = &f.After
	}
	rows, err := s.q.ListProposals(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	out := make([]Proposal, len(rows))
	for i, r := range rows {
		out[i] = proposalFrom(r)
	}
	return out, nil
}

// Proposal returns one proposal (ErrNotFound).
func (s *Service) Proposal(ctx context.Context, id int64) (Proposal, error) {
	row, err := s.q.ProposalByID(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Proposal{}, fmt.Errorf("proposal %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Proposal{}, fmt.Errorf("get proposal %d: %w", id, err)
	}
	return proposalFrom(row), nil
}

// Threshold is a merchant's approval threshold in one currency: posting
// resolutions of at least Amount need approval.
type Threshold struct {
	Currency  string          `json:"currency"`
	Amount    decimal.Decimal `json:"amount"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// SetThreshold sets the merchant's approval threshold for a currency (>= 0; 0
// means every amount needs approval, as without a threshold).
func (s *Service) SetThreshold(ctx context.Context, merchantID int64, currency string, amount decimal.Decimal) error {
	if amount.IsNegative() {
		return fmt.Errorf("threshold %s: must be >= 0: %w", amount, ErrInvalid)
	}
	if _, err := s.ledger.Currency(ctx, currency); err != nil {
		if errors.Is(err, ledger.ErrUnknownCurrency) {
			return fmt.Errorf("threshold currency %q: %w: %w", currency, ErrInvalid, err)
		}
		return fmt.Errorf("threshold currency %q: %w", currency, err)
	}
	if err := s.q.UpsertThreshold(ctx, recondb.UpsertThresholdParams{MerchantID: merchantID, Currency: currency, Threshold: amount}); err != nil {
		return fmt.Errorf("set threshold %s %s: %w", amount, currency, err)
	}
	return nil
}

// Thresholds lists the merchant's approval thresholds by currency; a
// currency without one needs approval for every amount.
func (s *Service) Thresholds(ctx context.Context, merchantID int64) ([]Threshold, error) {
	rows, err := s.q.ListThresholds(ctx, merchantID)
	if err != nil {
		return nil, fmt.Errorf("list thresholds: %w", err)
	}
	out := make([]Threshold, len(rows))
	for i, r := range rows {
		out[i] = Threshold{Currency: r.Currency, Amount: r.Threshold, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

func proposalFrom(r recondb.ResolutionProposal) Proposal {
	p := Proposal{ID: r.ID, MerchantID: r.MerchantID, DiscrepancyID: r.DiscrepancyID, Action: Action(r.Action), RefundAccount: r.RefundAccount,
		Amount: r.Amount, Currency: r.Currency, Maker: r.Maker, Reason: r.Reason, Status: ProposalStatus(r.Status),
		DecidedAt: r.DecidedAt, DecisionNote: r.DecisionNote, TransferKey: r.TransferKey, CreatedAt: r.CreatedAt}
	if r.OrderID != nil {
		p.OrderID = *r.OrderID
	}
	if r.DecidedBy != nil {
		p.DecidedBy = *r.DecidedBy
	}
	_ = providers.UnmarshalStoredParty(r.Beneficiary, &p.Beneficiary) // either spelling: stored before Party's tags or after
	return p
}
