package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
)

// overviewRoutes serve the overview (/console/).
func (c *Console) overviewRoutes() []route {
	return []route{{Pattern: "GET " + Prefix + "/{$}", Handler: c.overview}}
}

// chartDays is how many days the overview's chart shows.
const chartDays = 30

// overviewRuns bounds the runs the overview reads (the last ones of every
// merchant the user sees, for the runs table, the balances and the chart).
const overviewRuns = 120

type balanceRow struct {
	Merchant, Account, Currency string
	Ledger                      decimal.Decimal // the clearing account's balance now
	Provider                    decimal.Decimal // at the last balance reconciliation
	InFlight                    decimal.Decimal
	Drift                       decimal.Decimal // provider − (ledger + in flight) at that run
	Tolerance                   decimal.Decimal
	OK                          bool
	RunID                       int64
	At                          time.Time
}

type runRow struct {
	recon.Run
	Merchant string
}

type countCell struct {
	Label string
	N     int64
	Link  string
}

type overviewData struct {
	Balances   []balanceRow
	OpenTotal  int64
	ByType     []countCell
	BySeverity []countCell
	ByAge      []countCell
	Runs       []runRow
	Chart      chart
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := userFrom(ctx)
	var data overviewData
	ms, err := c.visibleMerchants(ctx, u)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	codes := map[int64]string{}
	var runs []runRow
	for _, m := range ms {
		codes[m.ID] = m.Code
		rs, err := c.deps.Recon.Runs(ctx, m.ID, 0, overviewRuns)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		for _, run := range rs {
			runs = append(runs, runRow{Run: run, Merchant: m.Code})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].StartedAt.After(runs[j].StartedAt) })
	data.Runs = runs[:min(len(runs), 10)]

	if data.Balances, err = c.balances(ctx, runs); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.openCounts(ctx, u, &data); err != nil {
		c.fail(w, r, err)
		return
	}
	if data.Chart, err = c.matchChart(ctx, runs, r.URL.Query().Get("currency")); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "overview.html", "Overview", data)
}

// balances are, per provider account and currency, the last balance
// reconciliation's figures with the ledger's balance now.
func (c *Console) balances(ctx context.Context, runs []runRow) ([]balanceRow, error) {
	seen := map[string]bool{}
	var out []balanceRow
	for _, run := range runs {
		if run.Status != recon.RunCompleted || (run.Kind != recon.KindBalances && run.Kind != recon.KindFull) {
			continue
		}
		sum, err := c.deps.Recon.Summary(ctx, run.ID)
		if err != nil {
			return nil, fmt.Errorf("summary of run %d: %w", run.ID, err)
		}
		for _, b := range sum.Balances {
			key := run.Merchant + "/" + b.ProviderAccount + "/" + b.Currency
			if seen[key] {
				continue
			}
			seen[key] = true
			row := balanceRow{Merchant: run.Merchant, Account: b.ProviderAccount, Currency: b.Currency, Ledger: b.Ledger,
				Provider: b.Provider, InFlight: b.InFlight, Drift: b.Difference, Tolerance: b.Tolerance, OK: b.OK, RunID: run.ID, At: run.StartedAt}
			if now, err := c.deps.Ledger.Balance(ctx, run.MerchantID, ledger.ProviderAccount(b.ProviderAccount, b.Currency)); err == nil {
				row.Ledger = now.Posted
			}
			out = append(out, row)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Merchant+a.Account+a.Currency < b.Merchant+b.Account+b.Currency
	})
	return out, nil
}

// openCounts counts the open discrepancies the user sees by type, severity
// and age, each linking to the queue filtered so.
func (c *Console) openCounts(ctx context.Context, u staff.User, data *overviewData) error {
	scope, _ := merchantScope(u, 0)
	sum, err := c.deps.Discrepancies.OpenSummary(ctx, c.deps.Pool, scope)
	if err != nil {
		return err
	}
	data.OpenTotal = sum.Total
	byType, bySev, byAge := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for t, n := range sum.ByType {
		byType[string(t)] = n
	}
	for s, n := range sum.BySeverity {
		bySev[string(s)] = n
	}
	// The queue's age filter values, by the store's buckets.
	for i, b := range discrepancies.AgeBuckets {
		byAge[ageBuckets[i+1].Value] = sum.ByAge[b]
	}
	for _, t := range discrepancies.Types {
		if n := byType[string(t)]; n > 0 {
			data.ByType = append(data.ByType, countCell{string(t), n, Prefix + "/discrepancies?type=" + string(t)})
		}
	}
	for _, s := range []string{"critical", "high", "medium", "low"} {
		data.BySeverity = append(data.BySeverity, countCell{s, bySev[s], Prefix + "/discrepancies?severity=" + s})
	}
	for _, a := range ageBuckets[1:] {
		data.ByAge = append(data.ByAge, countCell{a.Label, byAge[a.Value], Prefix + "/discrepancies?age=" + a.Value})
	}
	return nil
}

// chart is the overview's bar chart: matched against mismatched amounts per
// day (of the runs' window ends) for one currency, drawn server-side as SVG.
type chart struct {
	Currency   string
	Currencies []string
	Days       []chartDay
	Max        decimal.Decimal
	// Geometry for the template.
	Width, Height, Top, Left, PlotH int
	Ticks                           []chartTick
}

type chartDay struct {
	Day                 time.Time
	Matched, Mismatched decimal.Decimal
	X, W                int
	MatchedY, MatchedH  int
	MisY, MisH          int
	Label               bool
}

type chartTick struct {
	Y     int
	Label string
}

func (c *Console) matchChart(ctx context.Context, runs []runRow, currency string) (chart, error) {
	end := c.opts.Now().UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -(chartDays - 1))
	perCur := map[string]map[time.Time]*chartDay{}
	for _, run := range runs {
		if run.Status != recon.RunCompleted || run.Kind == recon.KindBalances || run.WindowEnd.Before(start) {
			continue
		}
		sum, err := c.deps.Recon.Summary(ctx, run.ID)
		if err != nil {
			return chart{}, fmt.Errorf("summary of run %d: %w", run.ID, err)
		}
		day := run.WindowEnd.UTC().Truncate(24 * time.Hour)
		for _, l := range sum.Orders {
			days := perCur[l.Currency]
			if days == nil {
				days = map[time.Time]*chartDay{}
				perCur[l.Currency] = days
			}
			d := days[day]
			if d == nil {
				d = &chartDay{Day: day}
				days[day] = d
			}
			d.Matched = d.Matched.Add(l.MatchedAmount)
			d.Mismatched = d.Mismatched.Add(l.UnmatchedAmount)
		}
	}
	ch := chart{Width: 900, Height: 240, Top: 10, Left: 70, PlotH: 190}
	for cur := range perCur {
		ch.Currencies = append(ch.Currencies, cur)
	}
	slices.Sort(ch.Currencies)
	ch.Currency = currency
	if !slices.Contains(ch.Currencies, currency) && len(ch.Currencies) > 0 {
		ch.Currency = ch.Currencies[0]
	}
	days := perCur[ch.Currency]
	for i := 0; i < chartDays; i++ {
		day := start.AddDate(0, 0, i)
		d := chartDay{Day: day}
		if got := days[day]; got != nil {
			d = *got
		}
		if top := decimal.Max(d.Matched, d.Mismatched); top.GreaterThan(ch.Max) {
			ch.Max = top
		}
		ch.Days = append(ch.Days, d)
	}
	slot := (ch.Width - ch.Left) / chartDays
	scale := func(v decimal.Decimal) int {
		if !ch.Max.IsPositive() {
			return 0
		}
		return int(v.Mul(decimal.NewFromInt(int64(ch.PlotH))).Div(ch.Max).Round(0).IntPart())
	}
	base := ch.Top + ch.PlotH
	for i := range ch.Days {
		d := &ch.Days[i]
		d.W = (slot - 4) / 2
		d.X = ch.Left + i*slot + 2
		d.MatchedH, d.MisH = scale(d.Matched), scale(d.Mismatched)
		d.MatchedY, d.MisY = base-d.MatchedH, base-d.MisH
		d.Label = i%5 == 4 || i == 0
	}
	for _, frac := range []int64{0, 2, 4} {
		v := ch.Max.Mul(decimal.NewFromInt(frac)).Div(decimal.NewFromInt(4))
		ch.Ticks = append(ch.Ticks, chartTick{Y: base - scale(v), Label: formatAmount(v, min(c.scale(ch.Currency), 2))})
	}
	return ch, nil
}
