package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/recon"
)

// approvalsRoutes serve the approvals queue (/console/approvals): the
// proposals awaiting an approver and the decided ones, newest first, keyset
// paged, each linking to its discrepancy, where it is decided.
func (c *Console) approvalsRoutes() []route {
	return []route{{Pattern: "GET " + Prefix + "/approvals", Handler: c.approvalsPage}}
}

// approvalsData is the approvals page.
type approvalsData struct {
	Status    string // pending (default), approved, rejected, all
	Merchant  int64
	Mine      bool
	Merchants []merchants.Merchant
	Tabs      []approvalTab
	Rows      []approvalRow
	Pager     pager
}

type approvalTab struct {
	Label, Path string
	Current     bool
}

// approvalRow is one proposal of the list.
type approvalRow struct {
	proposalView
	Merchant string
	// Yours: the user made it (and so may not approve it).
	Yours bool
}

// maxApprovalReads bounds the reads of one approvals page (with the "mine"
// filter, which may skip many rows).
const maxApprovalReads = 20

var approvalStatuses = []struct{ Value, Label string }{
	{"pending", "Pending"}, {"approved", "Approved"}, {"rejected", "Rejected"}, {"all", "All"},
}

func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := userFrom(ctx)
	q := r.URL.Query()
	data := approvalsData{Status: q.Get("status"), Mine: q.Get("mine") == "1"}
	if data.Status == "" {
		data.Status = "pending"
	}
	f := recon.ApprovalFilter{Limit: int32(min(c.opts.PageSize+1, 500))}
	switch data.Status {
	case "pending", "approved", "rejected":
		f.Status = recon.ProposalStatus(data.Status)
	case "all":
	default:
		c.badRequest(w, r, "status: pending, approved, rejected or all.")
		return
	}
	var err error
	if data.Merchant, err = formInt64(r, "merchant"); err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	if f.MerchantIDs, err = merchantScope(u, data.Merchant); err != nil {
		c.forbidden(w, r)
		return
	}
	if cur := q.Get("cursor"); cur != "" {
		if f.After, err = strconv.ParseInt(cur, 10, 64); err != nil || f.After <= 0 {
			c.badRequest(w, r, "cursor: not a page of this list.")
			return
		}
	}
	if data.Merchants, err = c.visibleMerchants(ctx, u); err != nil {
		c.fail(w, r, err)
		return
	}
	names := map[int64]string{}
	for _, m := range data.Merchants {
		names[m.ID] = m.Name
	}
	for _, s := range approvalStatuses {
		data.Tabs = append(data.Tabs, approvalTab{Label: s.Label, Path: withParam(withoutCursor(r), "status", s.Value), Current: s.Value == data.Status})
	}
	actors := c.actorNames()
	// A page shows PageSize rows; the next page's link is set only when a
	// row follows them (reading one more row than a page, so that exactly
	// PageSize rows left give no empty next page). The "mine" filter keeps
	// the user's own proposals: it reads further until it has a page and one
	// more row or the list ends, at most maxApprovalReads reads (then the
	// next page resumes where reading stopped and may be short).
	var rows []approvalRow
	next, more := "", true
	for i := 0; more && len(rows) <= c.opts.PageSize; i++ {
		if i == maxApprovalReads {
			next = strconv.FormatInt(f.After, 10)
			break
		}
		ps, err := c.deps.Recon.Approvals(ctx, f)
		if errors.Is(err, recon.ErrInvalid) {
			c.badRequest(w, r, "Not a filter of this list.")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		more = len(ps) == int(f.Limit)
		for _, p := range ps {
			f.After = p.ID
			if data.Mine && p.Maker != u.Actor() {
				continue
			}
			rows = append(rows, approvalRow{
				proposalView: proposalView{Proposal: p, MakerName: actors.name(ctx, p.Maker), DecidedName: actors.name(ctx, p.DecidedBy)},
				Merchant:     names[p.MerchantID], Yours: p.Maker == u.Actor()})
			if len(rows) > c.opts.PageSize {
				break
			}
		}
	}
	if len(rows) > c.opts.PageSize {
		rows = rows[:c.opts.PageSize]
		next = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	data.Rows = rows
	data.Pager = newPager(r, next)
	c.render(w, r, http.StatusOK, "approvals.html", "Approvals", data)
}

// withoutCursor is the request with its page cursor dropped (a new filter
// starts at the first page).
func withoutCursor(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	q := u.Query()
	q.Del("cursor")
	u.RawQuery = q.Encode()
	r2.URL = &u
	return r2
}
