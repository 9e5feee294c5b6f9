package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
	"github.com/tallyhq/tally/staff"
)

// runsRoutes serve the Runs pages: the list (keyset paged, scoped to the
// merchants the user sees) with the form that starts a run, a run's detail
// (summary figures and the findings, a page at a time) and its report in
// CSV, XLSX or JSON.
func (c *Console) runsRoutes() []route {
	return []route{
		{Pattern: "GET " + Prefix + "/runs", Handler: c.runsPage},
		{Pattern: "POST " + Prefix + "/runs", Perm: staff.Propose, Handler: c.startRun},
		{Pattern: "GET " + Prefix + "/runs/{id}", Handler: c.runPage},
		{Pattern: "GET " + Prefix + "/runs/{id}/report", Handler: c.runReport},
	}
}

// accountChoice is a provider account a form offers, valued
// "<merchant id>/<account name>" ("<merchant id>/" for every account of the
// merchant).
type accountChoice struct {
	Value, Label string
}

// accountChoices lists the provider accounts of the merchants the user
// sees; withAll adds "every account" of each merchant.
func (c *Console) accountChoices(ctx context.Context, u staff.User, withAll bool) ([]accountChoice, error) {
	ms, err := c.visibleMerchants(ctx, u)
	if err != nil {
		return nil, err
	}
	var out []accountChoice
	for _, m := range ms {
		accts, err := c.deps.Merchants.ProviderAccounts(ctx, m.ID)
		if err != nil {
			return nil, fmt.Errorf("provider accounts of %s: %w", m.Code, err)
		}
		if withAll && len(accts) > 1 {
			out = append(out, accountChoice{Value: fmt.Sprintf("%d/", m.ID), Label: m.Code + " · every enabled account"})
		}
		for _, a := range accts {
			label := m.Code + " · " + a.Name + " (" + a.Provider + ")"
			if !a.Enabled {
				label += " · disabled"
			}
			out = append(out, accountChoice{Value: fmt.Sprintf("%d/%s", m.ID, a.Name), Label: label})
		}
	}
	return out, nil
}

// parseAccountChoice splits an accountChoice value and checks the user sees
// the merchant.
func parseAccountChoice(u staff.User, v string) (int64, string, error) {
	id, name, ok := strings.Cut(v, "/")
	mid, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || mid <= 0 {
		return 0, "", errors.New("choose a provider account")
	}
	if !u.SeesMerchant(mid) {
		return 0, "", errForbidden
	}
	return mid, name, nil
}

type runsData struct {
	Runs      []recon.ListedRun
	Pager     pager
	Merchant  int64
	Status    string
	Statuses  []string
	Choices   []accountChoice
	Merchants []merchantOption
	Kinds     []recon.RunKind
	Form      runForm
	Error     string
	Started   int64
}

type merchantOption struct {
	ID   int64
	Code string
}

// runForm is the start-a-run form as sent (shown again on an error).
type runForm struct {
	Account, Kind, From, To, Statement string
}

func (c *Console) runsPage(w http.ResponseWriter, r *http.Request) {
	c.renderRuns(w, r, http.StatusOK, runForm{Kind: string(recon.KindFull)}, "")
}

func (c *Console) renderRuns(w http.ResponseWriter, r *http.Request, status int, form runForm, formErr string) {
	u := userFrom(r.Context())
	q := r.URL.Query()
	mid, err := strconv.ParseInt(q.Get("merchant"), 10, 64)
	if q.Get("merchant") != "" && err != nil {
		c.badRequest(w, r, "merchant must be a merchant id")
		return
	}
	scope, err := merchantScope(u, mid)
	if errors.Is(err, errForbidden) {
		c.forbidden(w, r)
		return
	}
	before, err := strconv.ParseInt(q.Get("cursor"), 10, 64)
	if q.Get("cursor") != "" && (err != nil || before <= 0) {
		c.badRequest(w, r, "cursor must be a run id")
		return
	}
	st := recon.RunStatus(q.Get("status"))
	switch st {
	case "", recon.RunRunning, recon.RunCompleted, recon.RunFailed:
	default:
		c.badRequest(w, r, "status must be running, completed or failed")
		return
	}
	if scope == nil && u.MerchantIDs != nil {
		scope = []int64{}
	}
	runs, err := c.deps.Recon.RunsOf(r.Context(), recon.RunFilter{MerchantIDs: scope, Status: st, BeforeID: before, Limit: int32(c.opts.PageSize) + 1})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	next := ""
	if len(runs) > c.opts.PageSize {
		runs = runs[:c.opts.PageSize]
		next = strconv.FormatInt(runs[len(runs)-1].ID, 10)
	}
	d := runsData{Runs: runs, Pager: newPager(r, next), Merchant: mid, Status: string(st), Form: form, Error: formErr,
		Statuses: []string{string(recon.RunRunning), string(recon.RunCompleted), string(recon.RunFailed)},
		Kinds:    []recon.RunKind{recon.KindFull, recon.KindOrders, recon.KindBalances, recon.KindStatement}}
	d.Started, _ = strconv.ParseInt(q.Get("started"), 10, 64)
	ms, err := c.visibleMerchants(r.Context(), u)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, m := range ms {
		d.Merchants = append(d.Merchants, merchantOption{ID: m.ID, Code: m.Code})
	}
	if u.Can(staff.Propose) {
		if d.Choices, err = c.accountChoices(r.Context(), u, true); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	c.render(w, r, status, "runs.html", "Runs", d)
}

// datetime-local inputs send minutes (and seconds when given), in UTC here.
func parseFormTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", v)
}

// startRun starts a run as the user (its job does the work): the run
// records the user's Actor and the console as its trigger.
func (c *Console) startRun(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	form := runForm{Account: r.FormValue("account"), Kind: r.FormValue("kind"), From: r.FormValue("from"), To: r.FormValue("to"),
		Statement: r.FormValue("statement")}
	again := func(msg string) { c.renderRuns(w, r, http.StatusUnprocessableEntity, form, msg) }
	mid, acct, err := parseAccountChoice(u, form.Account)
	if errors.Is(err, errForbidden) {
		c.forbidden(w, r)
		return
	}
	if err != nil {
		again(err.Error())
		return
	}
	from, err := parseFormTime(form.From)
	if err != nil {
		again("From: " + err.Error())
		return
	}
	to, err := parseFormTime(form.To)
	if err != nil {
		again("To: " + err.Error())
		return
	}
	req := recon.Request{MerchantID: mid, ProviderAccount: acct, Kind: recon.RunKind(form.Kind), From: from, To: to,
		Trigger: "console", Actor: u.Actor()}
	if form.Statement != "" {
		if req.StatementID, err = strconv.ParseInt(form.Statement, 10, 64); err != nil {
			again("Statement must be a statement number")
			return
		}
	}
	run, err := c.deps.Recon.Start(r.Context(), req)
	switch {
	case errors.Is(err, recon.ErrInvalid), errors.Is(err, recon.ErrNotFound):
		again(publicReason(err))
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: run started", "run_id", run.ID, "merchant_id", mid, "kind", run.Kind, "actor", u.Actor())
	http.Redirect(w, r, fmt.Sprintf("%s/runs?started=%d", Prefix, run.ID), http.StatusSeeOther)
}

// publicReason is a service error as a person reads it: without the
// sentinel's words at its end.
func publicReason(err error) string {
	msg := err.Error()
	for _, s := range []error{recon.ErrInvalid, recon.ErrNotFound} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	if msg == "" {
		return err.Error()
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// visibleRun reads a run the user may see; another merchant's is not found.
func (c *Console) visibleRun(w http.ResponseWriter, r *http.Request) (recon.Run, bool) {
	get := func(ctx context.Context, id int64) (recon.Run, error) { return c.deps.Recon.Get(ctx, 0, id) }
	run, ok := byPathID(c, w, r, get, recon.ErrNotFound)
	if ok && !userFrom(r.Context()).SeesMerchant(run.MerchantID) {
		c.notFound(w, r)
		return recon.Run{}, false
	}
	return run, ok
}

type runData struct {
	Run      recon.Run
	Summary  recon.Summary
	Findings []recon.Finding
	Pager    pager
	Formats  []report.Format
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request) {
	run, ok := c.visibleRun(w, r)
	if !ok {
		return
	}
	after, err := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
	if r.URL.Query().Get("cursor") != "" && (err != nil || after < 0) {
		c.badRequest(w, r, "cursor must be a discrepancy id")
		return
	}
	sum, err := c.deps.Recon.Summary(r.Context(), run.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	sum.Findings = nil // the page reads them a page at a time
	fs, err := c.deps.Recon.RunFindings(r.Context(), run.ID, after, int32(c.opts.PageSize)+1)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	next := ""
	if len(fs) > c.opts.PageSize {
		fs = fs[:c.opts.PageSize]
		next = strconv.FormatInt(fs[len(fs)-1].DiscrepancyID, 10)
	}
	c.render(w, r, http.StatusOK, "runs_detail.html", fmt.Sprintf("Run %d", run.ID),
		runData{Run: run, Summary: sum, Findings: fs, Pager: newPager(r, next), Formats: report.Formats})
}

// runReport downloads a run's report in the format asked (csv, xlsx, json),
// written by package report as the API and the CLI write it.
func (c *Console) runReport(w http.ResponseWriter, r *http.Request) {
	run, ok := c.visibleRun(w, r)
	if !ok {
		return
	}
	f, err := report.ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		c.badRequest(w, r, "format must be csv, xlsx or json")
		return
	}
	sum, err := c.deps.Recon.Summary(r.Context(), run.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var cur report.Currencies
	if c.deps.Ledger != nil {
		if cur, err = c.deps.Ledger.CurrencyLookup(r.Context()); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	name := fmt.Sprintf("recon-run-%d%s", run.ID, report.Extension(f))
	d := newDownload(w)
	d.Header().Set("Content-Type", report.ContentType(f))
	d.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if err := report.Write(d, sum, f, cur); err != nil {
		// Before the first byte: the error page; after it: an aborted
		// download, never a truncated report that looks whole.
		c.finish(d, r, name, fmt.Errorf("write the report of run %d: %w", run.ID, err))
	}
}
