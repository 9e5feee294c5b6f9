package recon

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/tallyhq/tally/db/recondb"
)

// Day merges the summaries of a merchant's runs that finished on a UTC day into
// one summary: orders and amounts per provider account and currency (summed),
// discrepancies per type (summed), every balance comparison made, the last
// ledger check, and every finding (once each).
func (s *Service) Day(ctx context.Context, merchantID int64, day time.Time) (Summary, error) {
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	rows, err := s.q.RunsFinishedBetween(ctx, recondb.RunsFinishedBetweenParams{MerchantID: merchantID, FromTime: &from, ToTime: &to})
	if err != nil {
		return Summary{}, fmt.Errorf("runs of %s: %w", from.Format(time.DateOnly), err)
	}
	m, err := s.merchants.MerchantByID(ctx, merchantID)
	if err != nil {
		return Summary{}, err
	}
	day0 := Summary{Merchant: m.Code, Kind: "day", WindowStart: from, WindowEnd: to, Status: RunCompleted,
		Orders: []OrderLine{}, Discrepancies: []DiscrepancyLine{}, Balances: []BalanceLine{}, Findings: []Finding{}, Ledger: LedgerLine{OK: true}}
	orders := map[string]*OrderLine{}
	discs := map[string]*DiscrepancyLine{}
	seen := map[int64]bool{}
	for _, r := range rows {
		var sum Summary
		if len(r.Summary) == 0 || json.Unmarshal(r.Summary, &sum) != nil {
			continue
		}
		if day0.StartedAt.IsZero() || sum.StartedAt.Before(day0.StartedAt) {
			day0.StartedAt = sum.StartedAt
		}
		if sum.FinishedAt.After(day0.FinishedAt) {
			day0.FinishedAt = sum.FinishedAt
			day0.Ledger = sum.Ledger
		}
		for _, l := range sum.Orders {
			k := l.ProviderAccount + "|" + l.Currency + "|" + l.Source
			acc, ok := orders[k]
			if !ok {
				c := l
				orders[k] = &c
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
		for _, l := range sum.Discrepancies {
			k := l.ProviderAccount + "|" + l.Currency + "|" + l.Type
			acc, ok := discs[k]
			if !ok {
				c := l
				discs[k] = &c
				continue
			}
			acc.Found += l.Found
			acc.New += l.New
			acc.AutoClosed += l.AutoClosed
			acc.AmountDelta = acc.AmountDelta.Add(l.AmountDelta)
		}
		day0.Balances = append(day0.Balances, sum.Balances...)
		for _, f := range sum.Findings {
			if !seen[f.DiscrepancyID] {
				seen[f.DiscrepancyID] = true
				day0.Findings = append(day0.Findings, f)
			}
		}
	}
	for _, l := range orders {
		day0.Orders = append(day0.Orders, *l)
	}
	for _, l := range discs {
		day0.Discrepancies = append(day0.Discrepancies, *l)
	}
	sort.Slice(day0.Orders, func(i, j int) bool {
		return day0.Orders[i].ProviderAccount+day0.Orders[i].Currency < day0.Orders[j].ProviderAccount+day0.Orders[j].Currency
	})
	sort.Slice(day0.Discrepancies, func(i, j int) bool {
		a, b := day0.Discrepancies[i], day0.Discrepancies[j]
		return a.ProviderAccount+a.Currency+a.Type < b.ProviderAccount+b.Currency+b.Type
	})
	return day0, nil
}
