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

// Day is the report of a merchant's UTC day: the completed runs whose window
// lies within the day, merged without counting anything twice.
//
//   - Orders: per provider account and what they were compared with (the
//     provider's query, or a statement), the runs are chosen so that their
//     windows do not overlap: the longest windows first (the scheduled daily
//     run covers the whole day), of two runs of one window the later, then
//     shorter runs filling the gaps. Their lines are summed per account,
//     currency and source. An order is counted by the one run chosen for its
//     window, so the daily run and the 15-minute runs, or a window run twice,
//     never count it twice.
//   - Discrepancies and findings: every discrepancy the chosen runs touched,
//     once, with its latest status (new, auto-closed or repaired by any of
//     them); the discrepancy lines count those.
//   - Balances: the latest comparison of each account and currency that day.
//   - Ledger: the latest run's invariant check.
//
// Runs whose window reaches into another day (a run over the last 24 hours)
// belong to no day; Notes says how many were left out.
func (s *Service) Day(ctx context.Context, merchantID int64, day time.Time) (Summary, error) {
	day = day.UTC()
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	rows, err := s.q.RunsWithin(ctx, recondb.RunsWithinParams{MerchantID: merchantID, FromTime: from, ToTime: to})
	if err != nil {
		return Summary{}, fmt.Errorf("runs of %s: %w", from.Format(time.DateOnly), err)
	}
	straddling, err := s.q.RunsStraddling(ctx, recondb.RunsStraddlingParams{MerchantID: merchantID, FromTime: from, ToTime: to})
	if err != nil {
		return Summary{}, fmt.Errorf("runs across %s: %w", from.Format(time.DateOnly), err)
	}
	m, err := s.merchants.MerchantByID(ctx, merchantID)
	if err != nil {
		return Summary{}, err
	}
	out := Summary{Merchant: m.Code, Kind: "day", WindowStart: from, WindowEnd: to, Status: RunCompleted,
		Orders: []OrderLine{}, Discrepancies: []DiscrepancyLine{}, Balances: []BalanceLine{}, Findings: []Finding{}, Ledger: LedgerLine{OK: true}}
	if straddling > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d runs whose window reaches into another day are not in this day's report", straddling))
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
	return out, nil
}

// sourceFamily groups order line sources by what covers an order: a query run
// (its window's orders and the overdue ones) or a statement.
func sourceFamily(source string) string {
	if source == "statement" {
		return "statement"
	}
	return "query"
}
