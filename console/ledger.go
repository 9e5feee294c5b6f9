package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
)

// ledgerRoutes serve the Ledger page: the accounts of a merchant with their
// balances as of a chosen time, an account's entries, a transfer, the trial
// balance of a period (page, CSV, XLSX) and the journal export (CSV, XLSX).
// Everything is read per merchant, among those the user sees.
func (c *Console) ledgerRoutes() []route {
	return []route{
		{Pattern: "GET " + Prefix + "/ledger", Handler: c.ledgerPage},
		{Pattern: "GET " + Prefix + "/ledger/account", Handler: c.ledgerAccount},
		{Pattern: "GET " + Prefix + "/ledger/transfers/{id}", Handler: c.ledgerTransfer},
		{Pattern: "GET " + Prefix + "/ledger/trial", Handler: c.ledgerTrial},
		{Pattern: "GET " + Prefix + "/ledger/journal", Handler: c.ledgerJournal},
	}
}

// ledgerScope is the merchant a ledger request reads and the merchants the
// user may pick from.
type ledgerScope struct {
	Merchants []merchants.Merchant
	Merchant  merchants.Merchant
}

// ledgerMerchant finds the request's merchant (?merchant=ID; default the
// first the user sees). It answers the request itself and returns false
// when there is none or the user may not see it.
func (c *Console) ledgerMerchant(w http.ResponseWriter, r *http.Request) (ledgerScope, bool) {
	u := userFrom(r.Context())
	id, err := formInt64(r, "merchant")
	if err != nil {
		c.badRequest(w, r, err.Error())
		return ledgerScope{}, false
	}
	if _, err := merchantScope(u, id); err != nil {
		c.forbidden(w, r)
		return ledgerScope{}, false
	}
	ms, err := c.visibleMerchants(r.Context(), u)
	if err != nil {
		c.fail(w, r, err)
		return ledgerScope{}, false
	}
	if len(ms) == 0 {
		c.renderError(w, r, http.StatusNotFound, "No merchant", "You see no merchant's books yet.")
		return ledgerScope{}, false
	}
	s := ledgerScope{Merchants: ms, Merchant: ms[0]}
	if id != 0 {
		i := slices.IndexFunc(ms, func(m merchants.Merchant) bool { return m.ID == id })
		if i < 0 {
			c.notFound(w, r)
			return ledgerScope{}, false
		}
		s.Merchant = ms[i]
	}
	return s, true
}

// dateTimeLocal is the format of an <input type="datetime-local">; the
// console reads and shows times in UTC.
const dateTimeLocal = "2006-01-02T15:04"

// period is a trial balance's or journal's period: whole UTC days, From to
// To inclusive, so [Start, End) in time.
type period struct {
	From, To   string // 2006-01-02
	Start, End time.Time
}

// parsePeriod reads ?from= and ?to= (dates); by default the current month
// up to today.
func (c *Console) parsePeriod(r *http.Request) (period, error) {
	now := c.opts.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	p := period{Start: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), End: today.AddDate(0, 0, 1)}
	if v := r.URL.Query().Get("from"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return period{}, fmt.Errorf("from: not a date (YYYY-MM-DD)")
		}
		p.Start = t
	}
	if v := r.URL.Query().Get("to"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return period{}, fmt.Errorf("to: not a date (YYYY-MM-DD)")
		}
		p.End = t.AddDate(0, 0, 1)
	}
	if !p.Start.Before(p.End) {
		return period{}, fmt.Errorf("the period ends before it begins")
	}
	p.From, p.To = p.Start.Format(time.DateOnly), p.End.AddDate(0, 0, -1).Format(time.DateOnly)
	return p, nil
}

// query is the period as URL parameters with the merchant.
func (p period) query(merchant int64) string {
	return url.Values{"merchant": {strconv.FormatInt(merchant, 10)}, "from": {p.From}, "to": {p.To}}.Encode()
}

type ledgerData struct {
	ledgerScope
	// At is the chosen time as the form shows it ("" for now); AtTime the time.
	At       string
	AtTime   time.Time
	Prefix   string
	Balances []ledger.Balance
	Pager    pager
	Period   period
	// Query is merchant and period as URL parameters, for the export links.
	Query string
}

func (c *Console) ledgerPage(w http.ResponseWriter, r *http.Request) {
	s, ok := c.ledgerMerchant(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := ledgerData{ledgerScope: s, At: q.Get("at"), Prefix: strings.TrimSpace(q.Get("prefix"))}
	if d.At != "" {
		t, err := time.ParseInLocation(dateTimeLocal, d.At, time.UTC)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, d.At); err != nil {
				c.badRequest(w, r, "The time is not a date and time (YYYY-MM-DDTHH:MM, UTC).")
				return
			}
		}
		// The whole minute shown: every entry up to its last instant.
		d.AtTime = t.UTC().Truncate(time.Minute).Add(time.Minute - time.Microsecond)
		d.At = t.UTC().Format(dateTimeLocal)
	}
	p, err := c.parsePeriod(r)
	if err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	d.Period, d.Query = p, p.query(s.Merchant.ID)
	page, err := c.deps.Ledger.BalancesPage(r.Context(), s.Merchant.ID, d.AtTime, d.Prefix, q.Get("cursor"), c.opts.PageSize)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Balances, d.Pager = page.Balances, newPager(r, page.Next)
	c.render(w, r, http.StatusOK, "ledger.html", "Ledger", d)
}

type ledgerAccountData struct {
	ledgerScope
	Code    string
	Balance ledger.Balance
	Entries []ledger.AccountEntry
	Pager   pager
}

func (c *Console) ledgerAccount(w http.ResponseWriter, r *http.Request) {
	s, ok := c.ledgerMerchant(w, r)
	if !ok {
		return
	}
	code := r.URL.Query().Get("code")
	after, err := formInt64(r, "cursor")
	if err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	d := ledgerAccountData{ledgerScope: s, Code: code}
	d.Balance, err = c.deps.Ledger.Balance(r.Context(), s.Merchant.ID, code)
	if errors.Is(err, ledger.ErrNotFound) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	page, err := c.deps.Ledger.Entries(r.Context(), s.Merchant.ID, code, after, c.opts.PageSize)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	next := ""
	if page.Next != 0 {
		next = strconv.FormatInt(page.Next, 10)
	}
	d.Entries, d.Pager = page.Entries, newPager(r, next)
	c.render(w, r, http.StatusOK, "ledger_account.html", code, d)
}

type ledgerTransferData struct {
	ledgerScope
	Transfer ledger.TransferDetail
	Metadata [][2]string
	// RefLink is where the reference leads (an order, a discrepancy), if
	// anywhere.
	RefLink string
}

func (c *Console) ledgerTransfer(w http.ResponseWriter, r *http.Request) {
	s, ok := c.ledgerMerchant(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r)
		return
	}
	t, err := c.deps.Ledger.GetTransfer(r.Context(), s.Merchant.ID, id)
	if errors.Is(err, ledger.ErrNotFound) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := ledgerTransferData{ledgerScope: s, Transfer: t, RefLink: referenceLink(t.Reference)}
	keys := make([]string, 0, len(t.Metadata))
	for k := range t.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d.Metadata = append(d.Metadata, [2]string{k, t.Metadata[k]})
	}
	c.render(w, r, http.StatusOK, "ledger_transfer.html", fmt.Sprintf("Transfer %d", id), d)
}

// referenceLink is the console page a transfer's reference names:
// "order:12" an order, "discrepancy:7" a discrepancy.
func referenceLink(ref string) string {
	kind, id, ok := strings.Cut(ref, ":")
	if !ok {
		return ""
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return ""
	}
	switch kind {
	case "order":
		return Prefix + "/orders/" + id
	case "discrepancy":
		return Prefix + "/discrepancies/" + id
	}
	return ""
}

type ledgerTrialData struct {
	ledgerScope
	Period   period
	Query    string
	Trial    ledger.TrialBalance
	Balanced bool
}

// trialColumns are the trial balance export's columns.
var trialColumns = []xcol{
	{"Currency", 10}, {"Account", 44}, {"Type", 12}, {"Opening debit", 18}, {"Opening credit", 18},
	{"Debits", 18}, {"Credits", 18}, {"Closing debit", 18}, {"Closing credit", 18}, {"Check", 18},
}

func (c *Console) ledgerTrial(w http.ResponseWriter, r *http.Request) {
	s, ok := c.ledgerMerchant(w, r)
	if !ok {
		return
	}
	p, err := c.parsePeriod(r)
	if err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" {
		if _, ok := booksFormat(r); !ok {
			c.badRequest(w, r, "The format is csv or xlsx.")
			return
		}
	}
	tb, err := c.deps.Ledger.TrialBalance(r.Context(), s.Merchant.ID, p.Start, p.End)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if format == "" {
		c.render(w, r, http.StatusOK, "ledger_trial.html", "Trial balance",
			ledgerTrialData{ledgerScope: s, Period: p, Query: p.query(s.Merchant.ID), Trial: tb, Balanced: tb.Balanced()})
		return
	}
	name := fmt.Sprintf("trial-balance-%s-%s-to-%s", s.Merchant.Code, p.From, p.To)
	c.booksExport(w, r, format, name, "Trial balance", trialColumns, func(emit func([]xcell) error) error {
		for _, row := range tb.Rows {
			sc := c.scale(row.Currency)
			err := emit([]xcell{xtext(row.Currency), xtext(row.Account), xtext(string(row.Type)),
				xamount(row.OpeningDebit, sc), xamount(row.OpeningCredit, sc), xamount(row.Debits, sc), xamount(row.Credits, sc),
				xamount(row.ClosingDebit, sc), xamount(row.ClosingCredit, sc), xempty()})
			if err != nil {
				return err
			}
		}
		for _, t := range tb.Totals {
			sc := c.scale(t.Currency)
			check := "debits = credits"
			if !t.Balanced() {
				check = "UNBALANCED"
			}
			err := emit([]xcell{xtext(t.Currency), xtext("Total " + t.Currency), xtext("total"),
				xamount(t.OpeningDebit, sc), xamount(t.OpeningCredit, sc), xamount(t.Debits, sc), xamount(t.Credits, sc),
				xamount(t.ClosingDebit, sc), xamount(t.ClosingCredit, sc), xtext(check)})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// journalColumns are the journal export's columns.
var journalColumns = []xcol{
	{"Transfer", 12}, {"Transfer key", 34}, {"Time (UTC)", 20}, {"Account", 44}, {"Debit", 18}, {"Credit", 18},
	{"Currency", 10}, {"Reference", 22}, {"Entry", 12},
}

// ledgerJournal streams every posted entry of a period (format csv, the
// default, or xlsx).
func (c *Console) ledgerJournal(w http.ResponseWriter, r *http.Request) {
	s, ok := c.ledgerMerchant(w, r)
	if !ok {
		return
	}
	p, err := c.parsePeriod(r)
	if err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	format, ok := booksFormat(r)
	if !ok {
		if r.URL.Query().Get("format") != "" {
			c.badRequest(w, r, "The format is csv or xlsx.")
			return
		}
		format = "csv"
	}
	name := fmt.Sprintf("journal-%s-%s-to-%s", s.Merchant.Code, p.From, p.To)
	c.booksExport(w, r, format, name, "Journal", journalColumns, func(emit func([]xcell) error) error {
		return c.deps.Ledger.Journal(r.Context(), s.Merchant.ID, p.Start, p.End, func(l ledger.JournalLine) error {
			sc := c.scale(l.Currency)
			debit, credit := xempty(), xempty()
			if l.Side == ledger.Debit {
				debit = xamount(l.Amount, sc)
			} else {
				credit = xamount(l.Amount, sc)
			}
			return emit([]xcell{xint(l.TransferID), xtext(l.TransferKey), xtime(l.At), xtext(l.Account), debit, credit,
				xtext(l.Currency), xtext(l.Reference), xint(l.EntryID)})
		})
	})
}
