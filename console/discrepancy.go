package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
)

// discrepancyRoutes serve the discrepancy detail (/console/discrepancies/{id}):
// the evidence side by side, the order's timeline, the audit trail and the
// decision (propose, approve, reject). The routes' permissions are the first
// line; each handler checks again what depends on the proposal (its maker,
// its merchant), so the server refuses whatever the page hides.
func (c *Console) discrepancyRoutes() []route {
	return []route{
		{Pattern: "GET " + Prefix + "/discrepancies/{id}", Handler: c.discrepancyPage},
		{Pattern: "POST " + Prefix + "/discrepancies/{id}/propose", Perm: staff.Propose, Handler: c.propose},
		{Pattern: "POST " + Prefix + "/proposals/{id}/approve", Perm: staff.Approve, Handler: c.approve},
		// Rejecting needs staff.Approve, except for the maker withdrawing
		// their own proposal (checked in reject).
		{Pattern: "POST " + Prefix + "/proposals/{id}/reject", Handler: c.reject},
	}
}

// evidenceLimit bounds each list of evidence on the page.
const evidenceLimit = 50

// discrepancyData is the detail page.
type discrepancyData struct {
	D           discrepancies.Discrepancy
	Merchant    string
	Account     string
	AssignedTo  string
	ResolvedBy  string // who closed it, named
	Order       *orders.Order
	OrderError  string
	Callbacks   []callbacks.Stated
	Queries     []timelineRow // the provider's query answers (source "query")
	Statement   []recon.StatementLine
	Transfers   []transferView
	Timeline    []timelineRow
	Events      []eventRow
	Actions     []actionChoice
	Pending     *proposalView
	Decided     []proposalView
	CanPropose  bool // the user may propose and the discrepancy is open without a pending proposal
	CanDecide   bool // the user may approve or reject the pending proposal
	IsMaker     bool // the user made the pending proposal
	CanWithdraw bool // the maker may withdraw it (reject their own)
	Done        string
	Error       string
	Form        proposeForm
}

// actionChoice is one resolution the form offers.
type actionChoice struct {
	Action  recon.Action
	Label   string
	Help    string
	Posts   bool
	Checked bool
}

// actionHelp says what each resolution books, in the accountant's words.
var actionHelp = map[recon.Action][2]string{
	recon.AcceptReceived: {"Accept what was received", "Credit the customer with what the payer really paid (suspense → customer)."},
	recon.RefundPayer:    {"Refund the payer", "Credit the customer, then pay the money back out through a payout order."},
	recon.WriteOff:       {"Write off", "Book the difference: a surplus to income:gain, a shortfall to expenses:loss."},
	recon.MatchOrder:     {"Match to an order", "Attribute the parked money to an order tally knows (suspense → that order's customer)."},
	recon.Ignore:         {"Ignore", "Close without moving money."},
}

// proposeForm is the resolution form as the user filled it (shown again
// after a refusal).
type proposeForm struct {
	Action        string
	Reason        string
	OrderID       string
	RefundAccount string
	Beneficiary   providers.Party
}

// proposalView is a proposal with its actors named.
type proposalView struct {
	recon.Proposal
	MakerName   string
	DecidedName string
}

// timelineRow is one entry of an order's timeline, its detail as text.
type timelineRow struct {
	orders.TimelineEntry
	Text string
}

// eventRow is one line of the audit trail, its actor named.
type eventRow struct {
	discrepancies.Event
	ActorName string
	Text      string
}

// transferView is a transfer of the order or the discrepancy with its
// entries and metadata in order.
type transferView struct {
	ledger.TransferDetail
	Meta []kv
}

type kv struct{ K, V string }

func (c *Console) discrepancyPage(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadDiscrepancy(w, r)
	if !ok {
		return
	}
	data := discrepancyData{Done: r.URL.Query().Get("done")}
	c.showDiscrepancy(w, r, d, data, http.StatusOK)
}

// loadDiscrepancy reads the path's discrepancy and checks the user sees its
// merchant; on false it has answered.
func (c *Console) loadDiscrepancy(w http.ResponseWriter, r *http.Request) (discrepancies.Discrepancy, bool) {
	get := func(ctx context.Context, id int64) (discrepancies.Discrepancy, error) {
		return c.deps.Discrepancies.Get(ctx, c.deps.Pool, id)
	}
	d, ok := byPathID(c, w, r, get, discrepancies.ErrNotFound)
	if ok && !userFrom(r.Context()).SeesMerchant(d.MerchantID) {
		// Another merchant's is not found: the page tells nothing of it.
		c.notFound(w, r)
		return discrepancies.Discrepancy{}, false
	}
	return d, ok
}

// showDiscrepancy gathers the evidence and renders the page with data's
// Done, Error and Form.
func (c *Console) showDiscrepancy(w http.ResponseWriter, r *http.Request, d discrepancies.Discrepancy, data discrepancyData, status int) {
	ctx := r.Context()
	u := userFrom(ctx)
	names := c.actorNames()
	data.D = d
	if err := c.gatherEvidence(ctx, &data, names); err != nil {
		c.fail(w, r, err)
		return
	}

	// The decision.
	props, err := c.deps.Recon.Approvals(ctx, recon.ApprovalFilter{DiscrepancyID: d.ID, Limit: evidenceLimit})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, p := range props {
		v := proposalView{Proposal: p, MakerName: names.name(ctx, p.Maker), DecidedName: names.name(ctx, p.DecidedBy)}
		if p.Status == recon.Pending && data.Pending == nil {
			data.Pending = &v
			continue
		}
		data.Decided = append(data.Decided, v)
	}
	if data.Pending != nil {
		data.IsMaker = data.Pending.Maker == u.Actor()
		data.CanDecide = u.Can(staff.Approve) && !data.IsMaker
		data.CanWithdraw = data.IsMaker && u.Can(staff.Propose)
	}
	if d.Status == discrepancies.Open && data.Pending == nil && u.Can(staff.Propose) {
		valid, err := c.deps.Recon.ValidActions(ctx, d)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		for _, a := range valid {
			h := actionHelp[a]
			data.Actions = append(data.Actions, actionChoice{Action: a, Label: h[0], Help: h[1], Posts: a.Posts(),
				Checked: data.Form.Action == string(a) || (data.Form.Action == "" && len(valid) == 1)})
		}
		data.CanPropose = len(data.Actions) > 0
	}
	title := fmt.Sprintf("Discrepancy %d", d.ID)
	c.render(w, r, status, "discrepancy.html", title, data)
}

// gatherEvidence reads everything the page sets side by side.
func (c *Console) gatherEvidence(ctx context.Context, data *discrepancyData, names *actorNames) error {
	d := data.D
	data.Merchant = fmt.Sprintf("#%d", d.MerchantID)
	if c.deps.Merchants != nil {
		if ms, err := c.deps.Merchants.Merchants(ctx); err == nil {
			for _, m := range ms {
				if m.ID == d.MerchantID {
					data.Merchant = m.Name + " (" + m.Code + ")"
				}
			}
		}
		if d.ProviderAccountID != 0 {
			data.Account = fmt.Sprintf("#%d", d.ProviderAccountID)
			if a, err := c.deps.Merchants.ProviderAccountByID(ctx, d.ProviderAccountID); err == nil {
				data.Account = a.Name + " (" + a.Provider + ")"
			}
		}
	}
	data.ResolvedBy = names.name(ctx, d.ResolvedBy)
	if d.AssignedTo != 0 {
		data.AssignedTo = names.name(ctx, "user:"+strconv.FormatInt(d.AssignedTo, 10))
	}
	refs := []string{fmt.Sprintf("discrepancy:%d", d.ID)}
	if d.OrderID != 0 {
		o, err := c.deps.Orders.Get(ctx, d.MerchantID, d.OrderID)
		switch {
		case errors.Is(err, orders.ErrNotFound):
			data.OrderError = "The order is not found."
		case err != nil:
			return err
		default:
			data.Order = &o
			if data.Account == "" {
				data.Account = o.ProviderAccount + " (" + o.Provider + ")"
			}
			refs = append(refs, fmt.Sprintf("order:%d", o.ID))
			if c.deps.Callbacks != nil {
				if data.Callbacks, err = c.deps.Callbacks.ForOrder(ctx, d.MerchantID, o.ID, evidenceLimit); err != nil {
					return err
				}
			}
			tl, err := c.deps.Orders.StaffTimeline(ctx, o.ID)
			if err != nil {
				return err
			}
			for _, e := range tl {
				row := timelineRow{TimelineEntry: e, Text: jsonText(e.Detail)}
				data.Timeline = append(data.Timeline, row)
				if e.Source == "query" {
					data.Queries = append(data.Queries, row)
				}
			}
			if data.Statement, err = c.deps.Recon.StatementLinesFor(ctx, o, evidenceLimit); err != nil {
				return err
			}
		}
	}
	ts, err := c.deps.Ledger.TransfersByReference(ctx, d.MerchantID, refs, evidenceLimit)
	if err != nil {
		return err
	}
	for _, t := range ts {
		v := transferView{TransferDetail: t}
		for k, val := range t.Metadata {
			if k == "actor" || k == "maker" || k == "approved_by" {
				val = names.name(ctx, val)
			}
			v.Meta = append(v.Meta, kv{k, val})
		}
		sort.Slice(v.Meta, func(i, j int) bool { return v.Meta[i].K < v.Meta[j].K })
		data.Transfers = append(data.Transfers, v)
	}
	evs, err := c.deps.Discrepancies.Events(ctx, c.deps.Pool, d.ID)
	if err != nil {
		return err
	}
	for _, e := range evs {
		data.Events = append(data.Events, eventRow{Event: e, ActorName: names.name(ctx, e.Actor), Text: c.eventText(ctx, e.Detail, names)})
	}
	return nil
}

// propose stores the user's resolution as a proposal (or resolves at once
// what needs no approval: ignore, an amount under the merchant's threshold).
func (c *Console) propose(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadDiscrepancy(w, r)
	if !ok {
		return
	}
	u := userFrom(r.Context())
	f := proposeForm{Action: r.PostFormValue("action"), Reason: strings.TrimSpace(r.PostFormValue("reason")),
		OrderID: strings.TrimSpace(r.PostFormValue("order_id")), RefundAccount: strings.TrimSpace(r.PostFormValue("refund_account")),
		Beneficiary: providers.Party{Name: r.PostFormValue("bene_name"), Account: r.PostFormValue("bene_account"),
			AccountType: r.PostFormValue("bene_account_type"), BankCode: r.PostFormValue("bene_bank_code"),
			TaxID: r.PostFormValue("bene_tax_id"), Email: r.PostFormValue("bene_email"), Phone: r.PostFormValue("bene_phone"),
			Network: r.PostFormValue("bene_network")}}
	refuse := func(msg string) {
		c.showDiscrepancy(w, r, d, discrepancyData{Error: msg, Form: f}, http.StatusUnprocessableEntity)
	}
	if f.Reason == "" {
		refuse("Give a reason: it is kept in the audit trail and shown to the approver.")
		return
	}
	res := recon.Resolution{Action: recon.Action(f.Action), Actor: u.Actor(), Note: f.Reason, RefundAccount: f.RefundAccount, Beneficiary: f.Beneficiary}
	if res.Action == recon.MatchOrder {
		n, err := strconv.ParseInt(strings.TrimPrefix(f.OrderID, "#"), 10, 64)
		if err != nil || n <= 0 {
			refuse("Match to an order needs the order's id.")
			return
		}
		res.OrderID = n
	}
	out, err := c.deps.Recon.Propose(r.Context(), d.MerchantID, d.ID, res)
	if err != nil {
		if msg, ok := decisionRefusal(err); ok {
			c.log.Info("console: proposal refused", "discrepancy", d.ID, "actor", u.Actor(), "error", err)
			refuse(msg)
			return
		}
		c.fail(w, r, err)
		return
	}
	done := "resolved"
	if out.Pending() {
		done = "proposed"
		c.log.Info("console: resolution proposed", "discrepancy", d.ID, "proposal", out.Proposal.ID, "action", res.Action, "actor", u.Actor())
	} else {
		c.log.Info("console: resolved", "discrepancy", d.ID, "action", res.Action, "actor", u.Actor())
	}
	http.Redirect(w, r, fmt.Sprintf("%s/discrepancies/%d?done=%s", Prefix, d.ID, done), http.StatusSeeOther)
}

// loadProposal reads the path's proposal and its discrepancy, refusing a
// merchant the user does not see; on false it has answered.
func (c *Console) loadProposal(w http.ResponseWriter, r *http.Request) (recon.Proposal, discrepancies.Discrepancy, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.notFound(w, r)
		return recon.Proposal{}, discrepancies.Discrepancy{}, false
	}
	p, err := c.deps.Recon.Proposal(r.Context(), id)
	if errors.Is(err, recon.ErrNotFound) {
		c.notFound(w, r)
		return recon.Proposal{}, discrepancies.Discrepancy{}, false
	}
	if err != nil {
		c.fail(w, r, err)
		return recon.Proposal{}, discrepancies.Discrepancy{}, false
	}
	if !userFrom(r.Context()).SeesMerchant(p.MerchantID) {
		c.forbidden(w, r)
		return recon.Proposal{}, discrepancies.Discrepancy{}, false
	}
	d, err := c.deps.Discrepancies.Get(r.Context(), c.deps.Pool, p.DiscrepancyID)
	if err != nil {
		c.fail(w, r, err)
		return recon.Proposal{}, discrepancies.Discrepancy{}, false
	}
	return p, d, true
}

// approve carries out a proposal: never its maker's (403, as recon refuses
// it too), only in a merchant the user sees.
func (c *Console) approve(w http.ResponseWriter, r *http.Request) {
	p, d, ok := c.loadProposal(w, r)
	if !ok {
		return
	}
	u := userFrom(r.Context())
	if p.Maker == u.Actor() {
		c.log.Warn("console: self-approval refused", "proposal", p.ID, "actor", u.Actor())
		c.renderError(w, r, http.StatusForbidden, "Not allowed", "You proposed this resolution: another approver must decide it.")
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	_, err := c.deps.Recon.Approve(r.Context(), p.MerchantID, p.ID, u.Actor(), note)
	c.decided(w, r, d, p, err, "approved")
}

// reject declines a proposal with a reason: an approver's rejection, or its
// maker withdrawing it.
func (c *Console) reject(w http.ResponseWriter, r *http.Request) {
	p, d, ok := c.loadProposal(w, r)
	if !ok {
		return
	}
	u := userFrom(r.Context())
	maker := p.Maker == u.Actor()
	// An approver rejects others' proposals; a maker withdraws their own.
	if !(maker && u.Can(staff.Propose)) && !(!maker && u.Can(staff.Approve)) {
		c.forbidden(w, r)
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	if note == "" {
		c.showDiscrepancy(w, r, d, discrepancyData{Error: "Give a reason for the rejection: the maker reads it in the audit trail."}, http.StatusUnprocessableEntity)
		return
	}
	_, err := c.deps.Recon.Reject(r.Context(), p.MerchantID, p.ID, u.Actor(), note)
	done := "rejected"
	if maker {
		done = "withdrawn"
	}
	c.decided(w, r, d, p, err, done)
}

// decided answers an approval or a rejection.
func (c *Console) decided(w http.ResponseWriter, r *http.Request, d discrepancies.Discrepancy, p recon.Proposal, err error, done string) {
	u := userFrom(r.Context())
	switch {
	case errors.Is(err, recon.ErrSelfApproval):
		c.renderError(w, r, http.StatusForbidden, "Not allowed", "You proposed this resolution: another approver must decide it.")
		return
	case err != nil:
		if msg, ok := decisionRefusal(err); ok {
			c.log.Info("console: decision refused", "proposal", p.ID, "actor", u.Actor(), "error", err)
			// Read again: the refusal may be that someone else decided first.
			if fresh, gerr := c.deps.Discrepancies.Get(r.Context(), c.deps.Pool, d.ID); gerr == nil {
				d = fresh
			}
			c.showDiscrepancy(w, r, d, discrepancyData{Error: msg}, http.StatusConflict)
			return
		}
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: proposal "+done, "proposal", p.ID, "discrepancy", d.ID, "actor", u.Actor())
	http.Redirect(w, r, fmt.Sprintf("%s/discrepancies/%d?done=%s", Prefix, d.ID, done), http.StatusSeeOther)
}

// decisionRefusal is the message for a refusal the user can act on (the
// rules said no), false for a failure.
func decisionRefusal(err error) (string, bool) {
	var msg string
	switch {
	case errors.Is(err, recon.ErrPending):
		msg = "A proposal is already pending for this discrepancy: it must be approved or rejected first."
	case errors.Is(err, recon.ErrDecided):
		msg = "This proposal was already decided."
	case errors.Is(err, discrepancies.ErrClosed):
		msg = "This discrepancy is already closed."
	case errors.Is(err, recon.ErrNothingToMove), errors.Is(err, recon.ErrInvalid), errors.Is(err, orders.ErrNotFound),
		errors.Is(err, recon.ErrNotFound):
		msg = plainError(err)
	default:
		return "", false
	}
	return msg, true
}

// plainError is an error's message without the context prefix and the
// sentinels' own words: "Match_order on a reversal: no money is parked ...".
func plainError(err error) string {
	s := err.Error()
	for _, sentinel := range []error{recon.ErrInvalid, recon.ErrNotFound} {
		s = strings.ReplaceAll(s, ": "+sentinel.Error(), "")
	}
	s = errPrefix.ReplaceAllString(s, "")
	if s == "" {
		return "Refused."
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// errPrefix is the context recon puts before a refusal.
var errPrefix = regexp.MustCompile(`^(propose resolution of discrepancy|resolve discrepancy|approve proposal|reject proposal) \d+: `)

// actorNames names the actors of a page ("user:3" → the user's email),
// reading each user once.
type actorNames struct {
	c     *Console
	cache map[string]string
}

func (c *Console) actorNames() *actorNames { return &actorNames{c: c, cache: map[string]string{}} }

// name is how the page shows an actor: a staff user's email, else the actor
// as recorded ("key:4", "cli:ann", "system").
func (a *actorNames) name(ctx context.Context, actor string) string {
	if actor == "" {
		return ""
	}
	if n, ok := a.cache[actor]; ok {
		return n
	}
	n := actor
	if id, ok := strings.CutPrefix(actor, "user:"); ok {
		if uid, err := strconv.ParseInt(id, 10, 64); err == nil {
			if u, err := a.c.deps.Staff.User(ctx, uid); err == nil {
				n = u.Email
			}
		}
	}
	a.cache[actor] = n
	return n
}

// eventText is an audit event's detail as "key: value" pairs, its actors
// named.
func (c *Console) eventText(ctx context.Context, detail json.RawMessage, names *actorNames) string {
	var m map[string]any
	if len(detail) == 0 || json.Unmarshal(detail, &m) != nil || len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if b, err := json.Marshal(m[k]); err == nil && (strings.HasPrefix(string(b), "{") || strings.HasPrefix(string(b), "[")) {
			v = string(b)
		}
		if k == "maker" {
			v = names.name(ctx, v)
		}
		parts = append(parts, strings.ReplaceAll(k, "_", " ")+": "+v)
	}
	return strings.Join(parts, " · ")
}

// jsonText is a JSON detail for reading: compact key: value pairs of an
// object, else the JSON itself.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "{}" || string(raw) == "null" {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.String()
		}
		return string(raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if b, err := json.Marshal(m[k]); err == nil && (strings.HasPrefix(string(b), "{") || strings.HasPrefix(string(b), "[")) {
			v = string(b)
		}
		parts = append(parts, strings.ReplaceAll(k, "_", " ")+": "+v)
	}
	return strings.Join(parts, " · ")
}
