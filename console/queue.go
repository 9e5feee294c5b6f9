package console

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/staff"
)

// queueRoutes serve the open items (/console/discrepancies): the filtered,
// sorted queue page by page, its export, and assignment.
func (c *Console) queueRoutes() []route {
	return []route{
		{Pattern: "GET " + Prefix + "/discrepancies", Handler: c.queuePage},
		{Pattern: "GET " + Prefix + "/discrepancies/export.csv", Handler: c.queueExport("csv")},
		{Pattern: "GET " + Prefix + "/discrepancies/export.xlsx", Handler: c.queueExport("xlsx")},
		{Pattern: "POST " + Prefix + "/discrepancies/assign", Perm: staff.Propose, Handler: c.queueAssign},
	}
}

// maxExportRows bounds an export; a longer list asks for a narrower filter.
const maxExportRows = 200_000

// queueFilter is the queue's form as the user filled it, kept to show it
// again and to build the links.
type queueFilter struct {
	Types      []string
	Severities []string
	Status     string // open (default), resolved, ignored, any
	Merchant   int64
	Account    int64
	Age        string // "", lt1d, 1to7d, 7to30d, gt30d
	MinAmount  string
	MaxAmount  string
	Assigned   string // "", none, me, or a user id
	Sort       string
}

// ageBuckets are the age filter's choices.
var ageBuckets = []struct{ Value, Label string }{
	{"", "Any age"}, {"lt1d", "Under a day"}, {"1to7d", "1 to 7 days"}, {"7to30d", "7 to 30 days"}, {"gt30d", "Over 30 days"},
}

// parseQueue reads the queue's filter from the request and builds the query
// scoped to the merchants the user sees.
func (c *Console) parseQueue(r *http.Request, u staff.User) (queueFilter, queueQuery, error) {
	v := r.URL.Query()
	f := queueFilter{Types: v["type"], Severities: v["severity"], Status: v.Get("status"), Age: v.Get("age"),
		MinAmount: strings.TrimSpace(v.Get("min")), MaxAmount: strings.TrimSpace(v.Get("max")), Assigned: v.Get("assigned"), Sort: v.Get("sort")}
	var q queueQuery
	var err error
	if f.Merchant, err = formInt64(r, "merchant"); err != nil {
		return f, q, err
	}
	if f.Account, err = formInt64(r, "account"); err != nil {
		return f, q, err
	}
	if q.MerchantIDs, err = merchantScope(u, f.Merchant); err != nil {
		return f, q, err
	}
	for _, t := range f.Types {
		if !slices.Contains(discrepancies.Types, discrepancies.Type(t)) {
			return f, q, fmt.Errorf("unknown type %q", t)
		}
		q.Types = append(q.Types, discrepancies.Type(t))
	}
	for _, s := range f.Severities {
		switch discrepancies.Severity(s) {
		case discrepancies.Low, discrepancies.Medium, discrepancies.High, discrepancies.Critical:
			q.Severities = append(q.Severities, discrepancies.Severity(s))
		default:
			return f, q, fmt.Errorf("unknown severity %q", s)
		}
	}
	switch f.Status {
	case "", "open":
		f.Status, q.Status = "open", discrepancies.Open
	case "resolved", "ignored":
		q.Status = discrepancies.Status(f.Status)
	case "any":
	default:
		return f, q, fmt.Errorf("unknown status %q", f.Status)
	}
	q.ProviderAccountID = f.Account
	now := c.opts.Now()
	day := 24 * time.Hour
	switch f.Age {
	case "":
	case "lt1d":
		q.OpenedAfter = now.Add(-day)
	case "1to7d":
		q.OpenedBefore, q.OpenedAfter = now.Add(-day), now.Add(-7*day)
	case "7to30d":
		q.OpenedBefore, q.OpenedAfter = now.Add(-7*day), now.Add(-30*day)
	case "gt30d":
		q.OpenedBefore = now.Add(-30 * day)
	default:
		return f, q, fmt.Errorf("unknown age %q", f.Age)
	}
	for _, a := range []struct {
		text string
		into *decimal.NullDecimal
		name string
	}{{f.MinAmount, &q.MinAmount, "minimum amount"}, {f.MaxAmount, &q.MaxAmount, "maximum amount"}} {
		if a.text == "" {
			continue
		}
		d, err := decimal.NewFromString(strings.ReplaceAll(a.text, ",", ""))
		if err != nil || d.IsNegative() {
			return f, q, fmt.Errorf("the %s is not an amount: %q", a.name, a.text)
		}
		*a.into = decimal.NullDecimal{Decimal: d, Valid: true}
	}
	switch f.Assigned {
	case "":
	case "none":
		q.AssignedTo = -1
	case "me":
		q.AssignedTo = u.ID
	default:
		id, err := strconv.ParseInt(f.Assigned, 10, 64)
		if err != nil || id <= 0 {
			return f, q, fmt.Errorf("unknown assignee %q", f.Assigned)
		}
		q.AssignedTo = id
	}
	if f.Sort == "" {
		f.Sort = "newest"
	}
	if !validSort(f.Sort) {
		return f, q, fmt.Errorf("unknown sort %q", f.Sort)
	}
	q.Sort, q.Cursor = f.Sort, v.Get("cursor")
	q.Limit = int32(c.opts.PageSize)
	return f, q, nil
}

type queueData struct {
	Filter     queueFilter
	Items      []queueRow
	Pager      pager
	Merchants  []option
	Accounts   []option
	Users      []option
	Types      []string
	Severities []string
	Statuses   []string
	Ages       []struct{ Value, Label string }
	Sorts      []struct{ Value, Label string }
	CanAssign  bool
	Export     string // the filter's query string, for the export links
	Back       string // this page's URL, for the assignment form
	Flash      string
	Error      string
}

type option struct {
	Value string
	Label string
}

type queueRow struct {
	queueItem
	Merchant string
	Account  string
	Assignee string
}

func (c *Console) queuePage(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	f, q, err := c.parseQueue(r, u)
	if errors.Is(err, errForbidden) {
		c.forbidden(w, r)
		return
	}
	data := queueData{Filter: f, Types: typeNames(), Severities: []string{"critical", "high", "medium", "low"},
		Statuses: []string{"open", "resolved", "ignored", "any"}, Ages: ageBuckets, Sorts: queueSorts,
		CanAssign: u.Can(staff.Propose), Back: r.URL.RequestURI(), Flash: r.URL.Query().Get("flash")}
	names, err2 := c.names(r.Context(), u)
	if err2 != nil {
		c.fail(w, r, err2)
		return
	}
	data.Merchants, data.Accounts, data.Users = names.merchantOptions, names.accountOptions, names.userOptions
	exp := r.URL.Query()
	exp.Del("cursor")
	exp.Del("flash")
	data.Export = exp.Encode()
	if err != nil {
		data.Error = err.Error()
		c.render(w, r, http.StatusBadRequest, "queue.html", "Open items", data)
		return
	}
	page, err := c.queue.Query(r.Context(), q)
	if errors.Is(err, errBadQuery) {
		data.Error = "The page link is no longer valid: start from the first page."
		c.render(w, r, http.StatusBadRequest, "queue.html", "Open items", data)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, it := range page.Items {
		data.Items = append(data.Items, names.row(it))
	}
	data.Pager = newPager(r, page.Next)
	c.render(w, r, http.StatusOK, "queue.html", "Open items", data)
}

// queueNames turns ids into names for the queue's rows and filters.
type queueNames struct {
	merchants                                    map[int64]string
	accounts                                     map[int64]string
	users                                        map[int64]string
	merchantOptions, accountOptions, userOptions []option
}

func (n queueNames) row(it queueItem) queueRow {
	r := queueRow{queueItem: it, Merchant: n.merchants[it.MerchantID], Account: n.accounts[it.ProviderAccountID]}
	if it.AssignedTo != 0 {
		r.Assignee = n.users[it.AssignedTo]
		if r.Assignee == "" { // someone the user may not know of
			r.Assignee = "user:" + strconv.FormatInt(it.AssignedTo, 10)
		}
	}
	return r
}

func (c *Console) names(ctx context.Context, u staff.User) (queueNames, error) {
	n := queueNames{merchants: map[int64]string{}, accounts: map[int64]string{}, users: map[int64]string{}}
	ms, err := c.visibleMerchants(ctx, u)
	if err != nil {
		return n, err
	}
	for _, m := range ms {
		n.merchants[m.ID] = m.Code
		n.merchantOptions = append(n.merchantOptions, option{strconv.FormatInt(m.ID, 10), m.Code + " · " + m.Name})
		accts, err := c.deps.Merchants.ProviderAccounts(ctx, m.ID)
		if err != nil {
			return n, fmt.Errorf("provider accounts of %s: %w", m.Code, err)
		}
		for _, a := range accts {
			n.accounts[a.ID] = a.Name
			label := a.Name
			if len(ms) > 1 {
				label = m.Code + " / " + a.Name
			}
			n.accountOptions = append(n.accountOptions, option{strconv.FormatInt(a.ID, 10), label})
		}
	}
	users, err := c.deps.Staff.Users(ctx)
	if err != nil {
		return n, err
	}
	// Only the staff who share a merchant with the user are named to them
	// (a merchant-limited user does not learn every staff email); the
	// assignee list offers those who may be given discrepancies.
	for _, su := range users {
		if !sharesMerchant(u, su) {
			continue
		}
		n.users[su.ID] = su.Email
		if unassignable(su) == "" {
			n.userOptions = append(n.userOptions, option{strconv.FormatInt(su.ID, 10), su.Email})
		}
	}
	return n, nil
}

func typeNames() []string {
	out := make([]string, len(discrepancies.Types))
	for i, t := range discrepancies.Types {
		out[i] = string(t)
	}
	return out
}

// queueAssign gives the checked discrepancies to a user (or unassigns them),
// each recorded in its audit trail under the signed-in user. All or none:
// every checked discrepancy is checked (the signed-in user sees it, it is
// open, the assignee may work on it) before any is assigned, in one
// transaction; a refusal is reported in the flash message.
func (c *Console) queueAssign(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	back := safeNext(r.PostFormValue("back"))
	to, err := formInt64(r, "assignee")
	if err != nil || to < 0 {
		c.badRequest(w, r, "Choose whom to assign to.")
		return
	}
	var ids []int64
	for _, s := range r.PostForm["id"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			c.badRequest(w, r, "A discrepancy id is not a number.")
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		http.Redirect(w, r, withFlash(back, "Check the items to assign first."), http.StatusSeeOther)
		return
	}
	// In id order, so that two assignments of the same items lock them in
	// the same order.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	refuse := func(reason string) {
		c.log.Info("console: assignment refused", "actor", u.Actor(), "assignee", to, "reason", reason)
		http.Redirect(w, r, withFlash(back, "Assignment refused: "+reason+" Nothing was assigned."), http.StatusSeeOther)
	}
	var assignee staff.User
	if to != 0 {
		assignee, err = c.deps.Staff.User(r.Context(), to)
		if errors.Is(err, staff.ErrNotFound) {
			refuse("that user does not exist.")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if reason := unassignable(assignee); reason != "" {
			refuse(reason)
			return
		}
	}
	err = pgx.BeginFunc(r.Context(), c.deps.Pool, func(tx pgx.Tx) error {
		for _, id := range ids {
			d, err := c.deps.Discrepancies.GetForUpdateTx(r.Context(), tx, id)
			if err != nil {
				return err
			}
			if !u.SeesMerchant(d.MerchantID) {
				// As if it did not exist: the user does not see it.
				return fmt.Errorf("discrepancy %d: %w", id, discrepancies.ErrNotFound)
			}
			if d.Status != discrepancies.Open {
				return &assignRefusal{fmt.Sprintf("discrepancy %d is %s.", id, d.Status)}
			}
			if to != 0 && !assignee.SeesMerchant(d.MerchantID) {
				return &assignRefusal{fmt.Sprintf("%s does not see the merchant of discrepancy %d.", assignee.Email, id)}
			}
		}
		for _, id := range ids {
			if _, err := c.deps.Discrepancies.AssignTx(r.Context(), tx, id, to, u.Actor()); err != nil {
				return err
			}
		}
		return nil
	})
	var refusal *assignRefusal
	switch {
	case errors.As(err, &refusal):
		refuse(refusal.reason)
		return
	case errors.Is(err, discrepancies.ErrNotFound):
		c.notFound(w, r)
		return
	case errors.Is(err, discrepancies.ErrClosed), errors.Is(err, discrepancies.ErrBadQuery):
		refuse(err.Error() + ".")
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: discrepancies assigned", "actor", u.Actor(), "count", len(ids), "assignee", to)
	http.Redirect(w, r, withFlash(back, fmt.Sprintf("%d assigned.", len(ids))), http.StatusSeeOther)
}

// assignRefusal: an assignment the console refuses, with the reason the
// flash message shows.
type assignRefusal struct{ reason string }

func (e *assignRefusal) Error() string { return "assignment refused: " + e.reason }

// unassignable is why a user may not be given discrepancies ("" if they
// may): only enabled accountants, approvers and admins work on them (a
// viewer only reads). Whether they see a discrepancy's merchant is checked
// on each.
func unassignable(a staff.User) string {
	switch {
	case a.Disabled:
		return a.Email + " is disabled."
	case a.Role == staff.Viewer || !a.Role.Valid():
		return a.Email + " is a viewer, who only reads."
	}
	return ""
}

// sharesMerchant reports whether two users see a merchant in common (a
// user limited to no merchant list, MerchantIDs nil, sees every one): the
// staff a user may know of, e.g. in the queue's list of assignees.
func sharesMerchant(a, b staff.User) bool {
	if a.MerchantIDs == nil || b.MerchantIDs == nil {
		return true
	}
	for _, id := range a.MerchantIDs {
		if slices.Contains(b.MerchantIDs, id) {
			return true
		}
	}
	return false
}

func withFlash(back, msg string) string {
	u, err := url.Parse(back)
	if err != nil {
		return Prefix + "/"
	}
	q := u.Query()
	q.Set("flash", msg)
	u.RawQuery = q.Encode()
	return u.String()
}

// exportColumns are the export's headers, as a person reads them.
var exportColumns = []string{"ID", "Merchant", "Provider account", "Type", "Severity", "Status", "Currency", "Expected",
	"Actual", "Difference", "Summary", "Opened", "Last seen", "Seen", "Assigned to", "Order ID"}

// queueExport writes exactly the filtered list (every page of it, in the
// page's sort) as CSV or XLSX: amounts as numbers at the currency's scale,
// times as UTC (real date cells in XLSX).
func (c *Console) queueExport(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		_, q, err := c.parseQueue(r, u)
		if errors.Is(err, errForbidden) {
			c.forbidden(w, r)
			return
		}
		if err != nil {
			c.badRequest(w, r, err.Error())
			return
		}
		names, err := c.names(r.Context(), u)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		q.Cursor, q.Limit = "", 500
		var rows []queueRow
		for {
			page, err := c.queue.Query(r.Context(), q)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			for _, it := range page.Items {
				rows = append(rows, names.row(it))
			}
			if len(rows) > maxExportRows {
				c.badRequest(w, r, fmt.Sprintf("The list has more than %d rows: narrow the filter.", maxExportRows))
				return
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		name := "open-items-" + c.opts.Now().UTC().Format("20060102-150405")
		if format == "csv" {
			c.writeCSV(w, r, name, rows)
			return
		}
		c.writeXLSX(w, r, name, rows)
	}
}

func (c *Console) exportRecord(d queueRow) []any {
	scale := c.scale(d.Currency)
	dec := func(s *string) any {
		if s == nil {
			return nil
		}
		v, err := decimal.NewFromString(*s)
		if err != nil {
			return *s
		}
		return v.Round(scale)
	}
	var order any
	if d.OrderID != 0 {
		order = d.OrderID
	}
	return []any{d.ID, d.Merchant, d.Account, string(d.Type), string(d.Severity), string(d.Status), d.Currency, dec(d.Expected),
		dec(d.Actual), d.AmountDelta.Round(scale), d.Summary, d.FirstSeenAt.UTC(), d.LastSeenAt.UTC(), d.SeenCount, d.Assignee, order}
}

// writeCSV writes the rows as CSV. A failed write after the first byte
// aborts the response (finish): the browser reports a failed download.
func (c *Console) writeCSV(w http.ResponseWriter, r *http.Request, name string, rows []queueRow) {
	dl := newDownload(w)
	dl.Header().Set("Content-Type", "text/csv; charset=utf-8")
	dl.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(dl)
	if err := cw.Write(exportColumns); err != nil {
		c.finish(dl, r, name+".csv", fmt.Errorf("export %s.csv: %w", name, err))
		return
	}
	for _, d := range rows {
		rec := c.exportRecord(d)
		out := make([]string, len(rec))
		for i, v := range rec {
			switch x := v.(type) {
			case nil:
			case decimal.Decimal:
				out[i] = x.StringFixed(c.scale(d.Currency))
			case time.Time:
				out[i] = x.Format(time.RFC3339)
			default:
				out[i] = csvSafe(fmt.Sprint(x))
			}
		}
		if err := cw.Write(out); err != nil {
			c.finish(dl, r, name+".csv", fmt.Errorf("export %s.csv: %w", name, err))
			return
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		c.finish(dl, r, name+".csv", fmt.Errorf("export %s.csv: %w", name, err))
	}
}

// queueTimeFormat shows the XLSX export's times (UTC) to the minute.
const queueTimeFormat = "yyyy-mm-dd hh:mm"

// writeXLSX writes the rows as the sheet "Open items" of an XLSX workbook
// (booksXLSX: amounts exact numbers at their currency's scale, times date
// cells). A failed write after the first byte aborts the response (finish).
func (c *Console) writeXLSX(w http.ResponseWriter, r *http.Request, name string, rows []queueRow) {
	cols := make([]xcol, len(exportColumns))
	for i, h := range exportColumns {
		cols[i] = xcol{Header: h, Width: 14}
		if h == "Summary" {
			cols[i].Width = 48
		}
	}
	dl := newDownload(w)
	dl.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	dl.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
	err := booksXLSX(dl, "Open items", queueTimeFormat, cols, func(emit func([]xcell) error) error {
		cells := make([]xcell, len(cols))
		for _, d := range rows {
			scale := c.scale(d.Currency)
			for i, v := range c.exportRecord(d) {
				cells[i] = queueCell(v, scale)
			}
			if err := emit(cells); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.finish(dl, r, name+".xlsx", fmt.Errorf("export %s.xlsx: %w", name, err))
	}
}

// queueCell is the XLSX cell of a value of exportRecord; scale is the
// number of decimals of the row's currency.
func queueCell(v any, scale int32) xcell {
	switch x := v.(type) {
	case nil:
		return xempty()
	case decimal.Decimal:
		return xamount(x, scale)
	case time.Time:
		return xtime(x)
	case int64:
		return xint(x)
	case int32:
		return xint(int64(x))
	case string:
		return xtext(x)
	}
	return xtext(fmt.Sprint(v))
}
