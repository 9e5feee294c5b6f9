package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
)

// overviewRoutes serve the overview (/console/).
func (c *Console) overviewRoutes() []route {
	return []route{{Pattern: "GET " + Prefix + "/{$}", Handler: c.overview}}
}

// chartDays is how many days the overview's chart shows.
const chartDays = 30

// lastRuns is how many runs the overview's "Last runs" table shows.
const lastRuns = 10

// Bounds of the runs the balances read: they read completed runs newest
// first until every provider account of the merchants the user sees has
// been seen in a balance reconciliation, at most balanceRunsRead runs (in
// pages of balanceRunsPage) and at most balanceSummaries run summaries.
const (
	balanceRunsRead  = 200
	balanceRunsPage  = 50
	balanceSummaries = 20
)

// balanceRow is one provider account and currency of the overview's
// balances: every figure is the one of the same balance reconciliation (the
// run RunID, started At), so Drift = Provider − (Ledger + InFlight) on the
// page.
type balanceRow struct {
	Merchant, Account, Currency string
	Ledger                      decimal.Decimal // the clearing account's posted balance, as of the run
	Provider                    decimal.Decimal
	InFlight                    decimal.Decimal
	Drift                       decimal.Decimal // provider − (ledger + in flight)
	Tolerance                   decimal.Decimal
	OK                          bool
	RunID                       int64
	At                          time.Time
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
	Runs       []recon.ListedRun
	Chart      chart
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := userFrom(ctx)
	var data overviewData
	scope, _ := merchantScope(u, 0)
	ms, err := c.visibleMerchants(ctx, u)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	// The runs and balances, the open counts and the chart read different
	// tables: read them at the same time.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		if c.deps.Recon == nil {
			return
		}
		if data.Runs, errs[0] = c.deps.Recon.RunsOf(ctx, recon.RunFilter{MerchantIDs: scope, Limit: lastRuns}); errs[0] == nil {
			data.Balances, errs[0] = c.balances(ctx, scope, ms)
		}
	})
	wg.Go(func() { errs[1] = c.openCounts(ctx, u, &data) })
	wg.Go(func() { data.Chart, errs[2] = c.matchChart(ctx, scope, r.URL.Query().Get("currency")) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "overview.html", "Overview", data)
}

// balances are, per provider account and currency, the figures of the last
// completed balance reconciliation (a balances or full run) that covered
// it, all as of that run: the ledger balance is the one the run compared,
// not the ledger's now, so that the drift shown is provider − (ledger + in
// flight) of the row. It reads the completed runs of the merchants in scope
// (nil: all) newest first and stops once every provider account of ms has
// been seen, or at the bounds (balanceRunsRead, balanceSummaries).
func (c *Console) balances(ctx context.Context, scope []int64, ms []merchants.Merchant) ([]balanceRow, error) {
	want := map[string]bool{} // merchant id/account name not seen yet
	if c.deps.Merchants != nil {
		for _, m := range ms {
			accts, err := c.deps.Merchants.ProviderAccounts(ctx, m.ID)
			if err != nil {
				return nil, fmt.Errorf("provider accounts of merchant %d: %w", m.ID, err)
			}
			for _, a := range accts {
				want[fmt.Sprintf("%d/%s", m.ID, a.Name)] = true
			}
		}
	}
	seen := map[string]bool{}
	var out []balanceRow
	var before int64
	read, summaries := 0, 0
	for read < balanceRunsRead && summaries < balanceSummaries {
		runs, err := c.deps.Recon.RunsOf(ctx, recon.RunFilter{MerchantIDs: scope, Status: recon.RunCompleted,
			BeforeID: before, Limit: balanceRunsPage})
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			read++
			before = run.ID
			if run.Kind != recon.KindBalances && run.Kind != recon.KindFull {
				continue
			}
			if summaries == balanceSummaries {
				break
			}
			summaries++
			sum, err := c.deps.Recon.Summary(ctx, run.ID)
			if err != nil {
				return nil, fmt.Errorf("summary of run %d: %w", run.ID, err)
			}
			for _, b := range sum.Balances {
				key := fmt.Sprintf("%d/%s/%s", run.MerchantID, b.ProviderAccount, b.Currency)
				if seen[key] {
					continue
				}
				seen[key] = true
				delete(want, fmt.Sprintf("%d/%s", run.MerchantID, b.ProviderAccount))
				out = append(out, balanceRow{Merchant: run.Merchant, Account: b.ProviderAccount, Currency: b.Currency,
					Ledger: b.Ledger, Provider: b.Provider, InFlight: b.InFlight, Drift: b.Difference,
					Tolerance: b.Tolerance, OK: b.OK, RunID: run.ID, At: run.StartedAt})
			}
			if len(want) == 0 && len(ms) > 0 {
				break
			}
		}
		if len(runs) < balanceRunsPage || (len(want) == 0 && len(ms) > 0) {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Merchant+"\x00"+a.Account+"\x00"+a.Currency < b.Merchant+"\x00"+b.Account+"\x00"+b.Currency
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

// chart is the overview's bar chart of matched against mismatched amounts
// per UTC day for the last chartDays days, in one currency, drawn
// server-side as SVG. Its figures come from facts that do not depend on
// reconciliation runs, so that an order counts once however many
// (overlapping) runs checked it:
//
//   - Matched, on a day: the money of the orders (deposits and payouts) that
//     reached succeeded that day (their final time, UTC) paid exactly as
//     ordered, in the order's currency (orders.MatchedByDay).
//   - Mismatched, on a day: the sum of abs(amount_delta) of the
//     discrepancies of discrepancies.AmountTypes first seen that day, in
//     their currency, whatever their status now
//     (discrepancies.Store.MismatchedByDay).
//
// Both are of the merchants the user sees.
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

// matchChart builds the chart for the merchants in scope (nil: all) and the
// currency asked for (the first one with figures when it has none).
func (c *Console) matchChart(ctx context.Context, scope []int64, currency string) (chart, error) {
	end := c.opts.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1) // tomorrow's midnight: today counts
	start := end.AddDate(0, 0, -chartDays)
	perCur := map[string]map[int64]*chartDay{}
	day := func(cur string, at time.Time) *chartDay {
		days := perCur[cur]
		if days == nil {
			days = map[int64]*chartDay{}
			perCur[cur] = days
		}
		k := at.UTC().Unix()
		d := days[k]
		if d == nil {
			d = &chartDay{Day: at.UTC()}
			days[k] = d
		}
		return d
	}
	// The two sums read different tables: at the same time.
	var matched []orders.DayAmount
	var mismatched []discrepancies.DayAmount
	var wg sync.WaitGroup
	var errM, errD error
	if c.deps.Orders != nil {
		wg.Go(func() { matched, errM = c.deps.Orders.MatchedByDay(ctx, scope, start, end) })
	}
	if c.deps.Discrepancies != nil {
		wg.Go(func() {
			mismatched, errD = c.deps.Discrepancies.MismatchedByDay(ctx, c.deps.Pool, scope, start, end)
		})
	}
	wg.Wait()
	if err := errors.Join(errM, errD); err != nil {
		return chart{}, err
	}
	for _, m := range matched {
		d := day(m.Currency, m.Day)
		d.Matched = d.Matched.Add(m.Amount)
	}
	for _, m := range mismatched {
		d := day(m.Currency, m.Day)
		d.Mismatched = d.Mismatched.Add(m.Amount)
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
		at := start.AddDate(0, 0, i)
		d := chartDay{Day: at}
		if got := days[at.Unix()]; got != nil {
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
