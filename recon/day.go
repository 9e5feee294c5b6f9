package recon

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/recondb"
)

// Day is the report of a merchant's UTC day: the completed runs of the day,
// merged without counting anything twice, and the items open at its end.
//
// A run belongs to the day its window ends in, the end being exclusive: a
// window ending at midnight belongs to the day before. So the scheduled daily
// run [d 00:00, d+1 00:00) and the 15-minute runs of day d are day d's, and a
// manual run over the last 24 hours (the default window) is the day's it was
// run on, though it began the day before.
//
//   - Orders: per provider account and what they were compared with (the
//     provider's query, or a statement), the runs are chosen so that their
//     windows do not overlap: those lying within the day first, the longest
//     first (the scheduled daily run covers the whole day), of two runs of one
//     window the later, then shorter runs filling the gaps, then the runs that
//     began the day before, where they overlap none chosen. Their lines are
//     summed per account, currency and source. An order is counted by the one
//     run chosen for its window, so the daily run and the 15-minute runs, or a
//     window run twice, never count it twice. A chosen run that began the day
//     before counts its orders from that day too; a note names it.
//   - Discrepancies and findings: every discrepancy the day's runs touched,
//     once, with its latest status (new, auto-closed or repaired by any of
//     them); the discrepancy lines count those.
//   - Balances: the latest comparison of each account and currency that day.
//   - Ledger: the latest run's invariant check.
//   - Open items and aging: every discrepancy of the merchant open at the end
//     of the day (first seen before it, not resolved or ignored before it),
//     whatever run or pipeline found it, with its age bucket; Aging counts
//     them per account, currency and bucket.
//
// Runs whose window ends after the day are in a later day's report; Notes
// says how many.
func (s *Service) Day(ctx context.Context, merchantID int64, day time.Time) (Summary, error) {
	sum, err := s.day(ctx, merchantID, day)
	sum.fillLists()
	return sum, err
}

func (s *Service) day(ctx context.Context, merchantID int64, day time.Time) (Summary, error) {
	day = day.UTC()
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	rows, err := s.q.RunsEndingIn(ctx, recondb.RunsEndingInParams{MerchantID: merchantID, FromTime: from, ToTime: to})
	if err != nil {
		return Summary{}, fmt.Errorf("runs of %s: %w", from.Format(time.DateOnly), err)
	}
	later, err := s.q.RunsEndingAfter(ctx, recondb.RunsEndingAfterParams{MerchantID: merchantID, ToTime: to})
	if err != nil {
		return Summary{}, fmt.Errorf("runs after %s: %w", from.Format(time.DateOnly), err)
	}
	m, err := s.merchants.MerchantByID(ctx, merchantID)
	if err != nil {
		return Summary{}, err
	}
	out := Summary{Merchant: m.Code, Kind: "day", WindowStart: from, WindowEnd: to, Status: RunCompleted,
		Orders: []OrderLine{}, Discrepancies: []DiscrepancyLine{}, Balances: []BalanceLine{}, Findings: []Finding{},
		Aging: []AgingLine{}, OpenItems: []OpenItem{}, Ledger: LedgerLine{OK: true}}
	if later > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d runs whose window ends after this day are in the report of the day they end in", later))
	}
	var sums []Summary
	for _, r := range rows {
		var sum Summary
		if len(r.Summary) == 0 || json.Unmarshal(r.Summary, &sum) != nil {
			continue
		}
		sums = append(sums, sum)
	}
	// The runs chosen per account and source family, their windows disjoint.
	type unit struct{ account, family string }
	candidates := map[unit][]int{}
	for i, sum := range sums {
		seen := map[unit]bool{}
		for _, l := range sum.Orders {
			u := unit{l.ProviderAccount, sourceFamily(l.Source)}
			if !seen[u] {
				seen[u] = true
				candidates[u] = append(candidates[u], i)
			}
		}
	}
	chosen := map[unit]map[int]bool{}
	for u, idx := range candidates {
		sort.Slice(idx, func(a, b int) bool {
			x, y := sums[idx[a]], sums[idx[b]]
			if wx, wy := !x.WindowStart.Before(from), !y.WindowStart.Before(from); wx != wy {
				return wx // within the day first
			}
			lx, ly := x.WindowEnd.Sub(x.WindowStart), y.WindowEnd.Sub(y.WindowStart)
			if lx != ly {
				return lx > ly
			}
			if !x.FinishedAt.Equal(y.FinishedAt) {
				return x.FinishedAt.After(y.FinishedAt)
			}
			return x.RunID > y.RunID
		})
		chosen[u] = map[int]bool{}
		var picked []Summary
		for _, i := range idx {
			overlaps := false
			for _, p := range picked {
				if sums[i].WindowStart.Before(p.WindowEnd) && p.WindowStart.Before(sums[i].WindowEnd) {
					overlaps = true
					break
				}
			}
			if !overlaps {
				picked = append(picked, sums[i])
				chosen[u][i] = true
			}
		}
	}
	early := map[int]bool{}
	for _, c := range chosen {
		for i := range c {
			if sums[i].WindowStart.Before(from) {
				early[i] = true
			}
		}
	}
	earlyIdx := make([]int, 0, len(early))
	for i := range early {
		earlyIdx = append(earlyIdx, i)
	}
	sort.Ints(earlyIdx)
	for _, i := range earlyIdx {
		out.Notes = append(out.Notes, fmt.Sprintf("run %d's window [%s, %s) began before this day: the orders it checked from before the day count here",
			sums[i].RunID, sums[i].WindowStart.UTC().Format(time.RFC3339), sums[i].WindowEnd.UTC().Format(time.RFC3339)))
	}
	lines := map[string]*OrderLine{}
	for i, sum := range sums {
		for _, l := range sum.Orders {
			if !chosen[unit{l.ProviderAccount, sourceFamily(l.Source)}][i] {
				continue
			}
			k := l.ProviderAccount + "|" + l.Currency + "|" + l.Source
			acc, ok := lines[k]
			if !ok {
				c := l
				lines[k] = &c
				continue
			}
			acc.Checked += l.Checked
			acc.Matched += l.Matched
			acc.Unmatched += l.Unmatched
			acc.Repaired += l.Repaired
			acc.FeesCompleted += l.FeesCompleted
			acc.MatchedAmount = acc.MatchedAmount.Add(l.MatchedAmount)
			acc.UnmatchedAmount = acc.UnmatchedAmount.Add(l.UnmatchedAmount)
		}
	}
	// Findings of every run of the day, each discrepancy once (a drift every
	// balance run sees again, an order found by the daily run and its window's).
	balances := map[string]BalanceLine{}
	balanceAt := map[string]time.Time{}
	findings := map[int64]*Finding{}
	findingAt := map[int64]time.Time{}
	for _, sum := range sums {
		if out.StartedAt.IsZero() || sum.StartedAt.Before(out.StartedAt) {
			out.StartedAt = sum.StartedAt
		}
		if sum.FinishedAt.After(out.FinishedAt) {
			out.FinishedAt = sum.FinishedAt
			out.Ledger = sum.Ledger
		}
		for _, b := range sum.Balances {
			k := b.ProviderAccount + "|" + b.Currency
			if sum.FinishedAt.After(balanceAt[k]) || balanceAt[k].IsZero() {
				balances[k], balanceAt[k] = b, sum.FinishedAt
			}
		}
		for _, f := range sum.Findings {
			prev, ok := findings[f.DiscrepancyID]
			if !ok {
				c := f
				findings[f.DiscrepancyID], findingAt[f.DiscrepancyID] = &c, sum.FinishedAt
				continue
			}
			newFlag, closed, repaired := prev.New || f.New, prev.AutoClosed || f.AutoClosed, prev.Repaired || f.Repaired
			if sum.FinishedAt.After(findingAt[f.DiscrepancyID]) {
				*prev, findingAt[f.DiscrepancyID] = f, sum.FinishedAt
			}
			prev.New, prev.AutoClosed, prev.Repaired = newFlag, closed, repaired
		}
	}
	for _, l := range lines {
		out.Orders = append(out.Orders, *l)
	}
	sort.Slice(out.Orders, func(i, j int) bool {
		a, b := out.Orders[i], out.Orders[j]
		return a.ProviderAccount+"|"+a.Currency+"|"+a.Source < b.ProviderAccount+"|"+b.Currency+"|"+b.Source
	})
	for _, b := range balances {
		out.Balances = append(out.Balances, b)
	}
	sort.Slice(out.Balances, func(i, j int) bool {
		return out.Balances[i].ProviderAccount+"|"+out.Balances[i].Currency < out.Balances[j].ProviderAccount+"|"+out.Balances[j].Currency
	})
	discs := map[string]*DiscrepancyLine{}
	for _, f := range findings {
		out.Findings = append(out.Findings, *f)
		k := f.ProviderAccount + "|" + f.Currency + "|" + f.Type
		l, ok := discs[k]
		if !ok {
			l = &DiscrepancyLine{ProviderAccount: f.ProviderAccount, Currency: f.Currency, Type: f.Type, AmountDelta: decimal.Zero}
			discs[k] = l
		}
		l.Found++
		if f.New {
			l.New++
		}
		if f.AutoClosed {
			l.AutoClosed++
		} else {
			l.AmountDelta = l.AmountDelta.Add(f.AmountDelta)
		}
	}
	sort.Slice(out.Findings, func(i, j int) bool { return out.Findings[i].DiscrepancyID < out.Findings[j].DiscrepancyID })
	for _, l := range discs {
		out.Discrepancies = append(out.Discrepancies, *l)
	}
	sort.Slice(out.Discrepancies, func(i, j int) bool {
		a, b := out.Discrepancies[i], out.Discrepancies[j]
		return a.ProviderAccount+"|"+a.Currency+"|"+a.Type < b.ProviderAccount+"|"+b.Currency+"|"+b.Type
	})
	if err := s.openItems(ctx, merchantID, to, &out); err != nil {
		return Summary{}, fmt.Errorf("open items at the end of %s: %w", from.Format(time.DateOnly), err)
	}
	return out, nil
}

// openItems fills in the discrepancies of a merchant open at time at, oldest
// first, and their aging per account, currency and bucket.
func (s *Service) openItems(ctx context.Context, merchantID int64, at time.Time, out *Summary) error {
	const pageSize = 5000
	var after int64
	for {
		rows, err := s.q.OpenAt(ctx, recondb.OpenAtParams{MerchantID: merchantID, At: at, AfterID: after, RowLimit: pageSize})
		if err != nil {
			return err
		}
		var ids []int64
		for _, r := range rows {
			if r.OrderID != nil {
				ids = append(ids, *r.OrderID)
			}
		}
		nos, err := s.orderNosOf(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range rows {
			it := OpenItem{DiscrepancyID: r.ID, Type: r.Type, Severity: r.Severity, ProviderAccount: r.ProviderAccount,
				Currency: r.Currency, AmountDelta: r.AmountDelta, FirstSeenAt: r.FirstSeenAt.UTC(),
				Age: AgeBucket(r.FirstSeenAt, at), Summary: r.Summary}
			if r.OrderID != nil {
				it.OrderID, it.OrderNo = *r.OrderID, nos[*r.OrderID]
			}
			out.OpenItems = append(out.OpenItems, it)
			after = r.ID
		}
		if len(rows) < pageSize {
			break
		}
	}
	sort.SliceStable(out.OpenItems, func(i, j int) bool {
		a, b := out.OpenItems[i], out.OpenItems[j]
		if !a.FirstSeenAt.Equal(b.FirstSeenAt) {
			return a.FirstSeenAt.Before(b.FirstSeenAt)
		}
		return a.DiscrepancyID < b.DiscrepancyID
	})
	rank := map[string]int{}
	for i, b := range AgeBuckets {
		rank[b] = i
	}
	lines := map[string]*AgingLine{}
	for _, it := range out.OpenItems {
		k := it.ProviderAccount + "|" + it.Currency + "|" + it.Age
		l, ok := lines[k]
		if !ok {
			l = &AgingLine{ProviderAccount: it.ProviderAccount, Currency: it.Currency, Age: it.Age, AmountAtStake: decimal.Zero}
			lines[k] = l
		}
		l.Count++
		if it.Currency != "" {
			l.AmountAtStake = l.AmountAtStake.Add(it.AmountDelta.Abs())
		}
	}
	for _, l := range lines {
		out.Aging = append(out.Aging, *l)
	}
	sort.Slice(out.Aging, func(i, j int) bool {
		a, b := out.Aging[i], out.Aging[j]
		if a.ProviderAccount != b.ProviderAccount {
			return a.ProviderAccount < b.ProviderAccount
		}
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		return rank[a.Age] < rank[b.Age]
	})
	return nil
}

// sourceFamily groups order line sources by what covers an order: a query run
// (its window's orders and the overdue ones) or a statement.
func sourceFamily(source string) string {
	if source == "statement" {
		return "statement"
	}
	return "query"
}
