package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
)

// MaxStatementBytes bounds an uploaded statement (about 2 million lines).
const MaxStatementBytes = 256 << 20

func (s *Server) reconRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/v1/recon/runs", Auth: true, Scope: merchants.ReconWrite, Handler: s.startRun},
		{Method: "GET", Pattern: "/v1/recon/runs", Auth: true, Scope: merchants.ReconRead, Handler: s.listRuns},
		{Method: "GET", Pattern: "/v1/recon/runs/{id}", Auth: true, Scope: merchants.ReconRead, Handler: s.getRun},
		{Method: "GET", Pattern: "/v1/recon/runs/{id}/report", Auth: true, Scope: merchants.ReconRead, Handler: s.runReport},
		{Method: "GET", Pattern: "/v1/reports/daily", Auth: true, Scope: merchants.ReconRead, Handler: s.dailyReport},
		{Method: "POST", Pattern: "/v1/statements", Auth: true, Scope: merchants.ReconWrite, Handler: s.importStatement},
		{Method: "POST", Pattern: "/v1/discrepancies/{id}/resolve", Auth: true, Scope: merchants.ReconWrite, Handler: s.resolve},
		{Method: "GET", Pattern: "/v1/approvals", Auth: true, Scope: merchants.ReconRead, Handler: s.listApprovals},
		{Method: "POST", Pattern: "/v1/approvals/{id}/reject", Auth: true, Scope: merchants.ReconWrite, Handler: s.withdraw},
	}
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Kind            string `json:"kind"`
		ProviderAccount string `json:"provider_account"`
		From            string `json:"from"`
		To              string `json:"to"`
		StatementID     int64  `json:"statement_id"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	from, err := parseTime(body.From)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time", err.Error(), "from")
		return
	}
	to, err := parseTime(body.To)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_time", err.Error(), "to")
		return
	}
	if body.Kind == "" {
		body.Kind = string(recon.KindFull)
	}
	run, err := s.deps.Recon.Start(r.Context(), recon.Request{MerchantID: MerchantFrom(r.Context()).ID, ProviderAccount: body.ProviderAccount,
		Kind: recon.RunKind(body.Kind), From: from, To: to, StatementID: body.StatementID, Trigger: "api"})
	switch {
	case errors.Is(err, recon.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "invalid_run", err.Error(), "")
	case errors.Is(err, recon.ErrNotFound):
		writeError(w, http.StatusUnprocessableEntity, "not_found", err.Error(), "")
	case err != nil:
		s.internal(w, r, err)
	default:
		w.Header().Set("Location", fmt.Sprintf("/v1/recon/runs/%d", run.ID))
		writeJSON(w, http.StatusAccepted, run)
	}
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"before": nil}) {
		return
	}
	before, err := optInt(r.URL.Query().Get("before"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "before must be a run id", "before")
		return
	}
	runs, err := s.deps.Recon.Runs(r.Context(), MerchantFrom(r.Context()).ID, before, 50)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if runs == nil {
		runs = []recon.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": runs})
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	sum, err := s.deps.Recon.Summary(r.Context(), run.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": run, "summary": sum})
}

func (s *Server) runReport(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"format": nil}) {
		return
	}
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	sum, err := s.deps.Recon.Summary(r.Context(), run.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.writeReport(w, r, sum, fmt.Sprintf("recon-run-%d", run.ID))
}

func (s *Server) dailyReport(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"date": nil, "format": nil}) {
		return
	}
	date := r.URL.Query().Get("date")
	day, err := time.Parse(time.DateOnly, date)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_date", "date must be YYYY-MM-DD", "date")
		return
	}
	sum, err := s.deps.Recon.Day(r.Context(), MerchantFrom(r.Context()).ID, day)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.writeReport(w, r, sum, "recon-"+date)
}

func (s *Server) writeReport(w http.ResponseWriter, r *http.Request, sum recon.Summary, name string) {
	f, err := report.ParseFormat(r.URL.Query().Get("format"))
	if r.URL.Query().Get("format") == "" {
		f, err = report.JSON, nil
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_filter", err.Error(), "format")
		return
	}
	cur, err := s.deps.Ledger.CurrencyLookup(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", report.ContentType(f))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s%s"`, name, report.Extension(f)))
	if err := report.Write(w, sum, f, cur); err != nil {
		s.opts.Logger.ErrorContext(r.Context(), "write report", "error", err)
	}
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) (recon.Run, bool) {
	id, ok := pathID(w, r)
	if !ok {
		return recon.Run{}, false
	}
	run, err := s.deps.Recon.Get(r.Context(), MerchantFrom(r.Context()).ID, id)
	if errors.Is(err, recon.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such run", "")
		return recon.Run{}, false
	}
	if err != nil {
		s.internal(w, r, err)
		return recon.Run{}, false
	}
	return run, true
}

// importStatement takes a statement CSV as the request body.
func (s *Server) importStatement(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"provider_account": nil, "filename": nil, "allow_bad_rows": queryBooleans}) {
		return
	}
	q := r.URL.Query()
	acct := q.Get("provider_account")
	if acct == "" {
		writeError(w, http.StatusBadRequest, "missing_field", "provider_account is required (query parameter)", "provider_account")
		return
	}
	name := q.Get("filename")
	if name == "" {
		name = "upload.csv"
	}
	allow, _ := strconv.ParseBool(q.Get("allow_bad_rows"))
	m := MerchantFrom(r.Context())
	res, err := s.deps.Recon.Import(r.Context(), m.ID, acct, name, http.MaxBytesReader(w, r.Body, MaxStatementBytes),
		recon.ImportOptions{AllowBadRows: allow, Actor: Actor(r.Context())})
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("a statement may weigh at most %d bytes", MaxStatementBytes), "")
	case errors.Is(err, recon.ErrBadRows):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]string{"code": "bad_rows", "message": err.Error()}, "bad_rows": nonNil(res.BadRows)})
	case errors.Is(err, recon.ErrNotFound):
		writeError(w, http.StatusUnprocessableEntity, "unknown_provider_account", err.Error(), "provider_account")
	case errors.Is(err, recon.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, "invalid_statement", err.Error(), "")
	case err != nil:
		s.internal(w, r, err)
	case res.Duplicate:
		res.BadRows = nonNil(res.BadRows)
		writeJSON(w, http.StatusOK, res)
	default:
		res.BadRows = nonNil(res.BadRows)
		writeJSON(w, http.StatusCreated, res)
	}
}

// resolve proposes a resolution (maker-checker): 200 with the resolution when
// it resolved at once (ignore, or an amount below the merchant's threshold),
// 202 with the proposal when it awaits an approver other than its maker.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body struct {
		Action        string           `json:"action"`
		Note          string           `json:"note"`
		OrderID       int64            `json:"order_id"`
		RefundAccount string           `json:"refund_account"`
		Beneficiary   *providers.Party `json:"beneficiary"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	res := recon.Resolution{Action: recon.Action(body.Action), Actor: Actor(r.Context()), Note: body.Note, OrderID: body.OrderID, RefundAccount: body.RefundAccount}
	if body.Beneficiary != nil {
		res.Beneficiary = *body.Beneficiary
	}
	out, err := s.deps.Recon.Propose(r.Context(), MerchantFrom(r.Context()).ID, id, res)
	switch {
	case errors.Is(err, discrepancies.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such discrepancy", "")
	case errors.Is(err, discrepancies.ErrClosed):
		writeError(w, http.StatusConflict, "already_resolved", err.Error(), "")
	case errors.Is(err, recon.ErrPending):
		writeError(w, http.StatusConflict, "pending_proposal", err.Error(), "")
	case errors.Is(err, recon.ErrInvalid), errors.Is(err, recon.ErrNothingToMove):
		writeError(w, http.StatusUnprocessableEntity, "invalid_resolution", err.Error(), "action")
	case err != nil:
		s.orderError(w, r, err)
	case out.Pending():
		w.Header().Set("Location", "/v1/approvals?status=pending")
		writeJSON(w, http.StatusAccepted, map[string]any{"proposal": out.Proposal})
	default:
		writeJSON(w, http.StatusOK, out.Resolved)
	}
}

var proposalStatuses = []string{string(recon.Pending), string(recon.Approved), string(recon.Rejected)}

// listApprovals lists the merchant's resolution proposals, newest first;
// next is the cursor (?after=) of the following page.
func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, query{"status": proposalStatuses, "after": nil, "discrepancy_id": nil}) {
		return
	}
	q := r.URL.Query()
	after, err := optInt(q.Get("after"))
	if err != nil || after < 0 {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "after must be a proposal id", "after")
		return
	}
	disc, err := optInt(q.Get("discrepancy_id"))
	if err != nil || disc < 0 {
		writeError(w, http.StatusBadRequest, "invalid_filter", "discrepancy_id must be a discrepancy id", "discrepancy_id")
		return
	}
	const limit = 50
	ps, err := s.deps.Recon.Approvals(r.Context(), recon.ApprovalFilter{MerchantIDs: []int64{MerchantFrom(r.Context()).ID},
		Status: recon.ProposalStatus(q.Get("status")), DiscrepancyID: disc, After: after, Limit: limit})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := map[string]any{"data": nonNil(ps)}
	if len(ps) == limit {
		out["next"] = strconv.FormatInt(ps[len(ps)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// withdraw rejects a proposal the authenticated key made itself (its maker
// withdrawing it). Approving, and deciding another's proposal, is a person's
// (a staff user in the console, or the operator's CLI): a key approves
// nothing, so that the second pair of eyes is never a machine.
func (s *Server) withdraw(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body struct {
		Note string `json:"note"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	merchantID, actor := MerchantFrom(r.Context()).ID, Actor(r.Context())
	p, err := s.deps.Recon.Proposal(r.Context(), id)
	if errors.Is(err, recon.ErrNotFound) || (err == nil && p.MerchantID != merchantID) {
		writeError(w, http.StatusNotFound, "not_found", "no such proposal", "")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if p.Maker != actor {
		writeError(w, http.StatusForbidden, "not_the_maker", "an API key withdraws only its own proposals: approving or rejecting another's is a person's (the console or the operator's CLI)", "")
		return
	}
	out, err := s.deps.Recon.Reject(r.Context(), merchantID, id, actor, body.Note)
	switch {
	case errors.Is(err, recon.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such proposal", "")
	case errors.Is(err, recon.ErrSelfApproval):
		writeError(w, http.StatusForbidden, "self_approval", "a proposal's maker cannot approve it: another person must", "")
	case errors.Is(err, recon.ErrDecided):
		writeError(w, http.StatusConflict, "already_decided", err.Error(), "")
	case errors.Is(err, discrepancies.ErrClosed):
		writeError(w, http.StatusConflict, "already_resolved", err.Error(), "")
	case errors.Is(err, recon.ErrInvalid), errors.Is(err, recon.ErrNothingToMove):
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error(), "")
	case err != nil:
		s.orderError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}
