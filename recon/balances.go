package recon

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/providers"
)

// balances compares the provider's balances with the clearing accounts of the
// provider account: provider total (available + frozen) against the ledger's
// posted balance plus what accepted callbacks not yet applied will move. A
// difference beyond the account's balance tolerance is balance_drift.
func (x *execution) balances(ctx context.Context) error {
	if !x.adapter.Capabilities().QueryBalance {
		x.note(fmt.Sprintf("%s (%s) has no balance query", x.acct.Name, x.acct.Provider))
		return nil
	}
	bals, err := x.adapter.QueryBalances(ctx)
	if err != nil {
		return fmt.Errorf("query balances: %w", err)
	}
	// After the provider's answer, what is in flight and what the ledger holds
	// come from one snapshot, so that a callback applied meanwhile counts once.
	var inflight map[string]decimal.Decimal
	var accts []ledger.Balance
	if err := pgx.BeginTxFunc(ctx, x.s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if inflight, err = x.s.orders.InFlightTx(ctx, tx, x.acct.ID); err != nil {
			return err
		}
		accts, err = x.s.ledger.BalancesTx(ctx, tx, x.run.MerchantID)
		return err
	}); err != nil {
		return fmt.Errorf("ledger and in-flight balances: %w", err)
	}
	provider := map[string]decimal.Decimal{}
	for _, b := range bals {
		provider[b.Currency] = provider[b.Currency].Add(b.Total)
	}
	// Currencies the ledger holds at this account but the provider does not list
	// count as a provider balance of zero.
	ledgerBal := map[string]decimal.Decimal{}
	for _, b := range accts {
		cur := b.Currency
		if b.Account == ledger.ProviderAccount(x.acct.Name, cur) {
			ledgerBal[cur] = b.Posted
			if _, ok := provider[cur]; !ok && !b.Posted.IsZero() {
				provider[cur] = decimal.Zero
			}
		}
	}
	curs := make([]string, 0, len(provider))
	for c := range provider {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, cur := range curs {
		p, l, f := provider[cur], ledgerBal[cur], inflight[cur]
		diff := p.Sub(l.Add(f))
		ok := diff.Abs().LessThanOrEqual(x.acct.BalanceTolerance)
		if p.IsZero() && l.IsZero() && f.IsZero() {
			continue
		}
		x.cp.Balances = append(x.cp.Balances, BalanceLine{ProviderAccount: x.acct.Name, Currency: cur, Provider: p, Ledger: l,
			InFlight: f, Difference: diff, Tolerance: x.acct.BalanceTolerance, OK: ok})
		if ok {
			continue
		}
		if err := x.recordAccount(ctx, discrepancies.Finding{Type: discrepancies.BalanceDrift, Currency: cur,
			Fingerprint: discrepancies.Fingerprint(discrepancies.BalanceDrift, x.acct.Name, cur),
			Expected:    providers.Nullable(l.Add(f)), Actual: providers.Nullable(p), Delta: diff,
			Summary: fmt.Sprintf("%s holds %s %s at the provider, the ledger %s (+%s in flight): %s beyond the %s tolerance",
				x.acct.Name, p, cur, l, f, diff, x.acct.BalanceTolerance)}); err != nil {
			return err
		}
	}
	return nil
}

// recordAccount stores a finding about the account (not one order).
func (x *execution) recordAccount(ctx context.Context, f discrepancies.Finding) error {
	f.MerchantID = x.run.MerchantID
	f.ProviderAccountID = x.acct.ID
	f.RunID = x.run.ID
	f.Actor = "recon"
	tx, err := x.s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	d, opened, err := x.s.disc.RecordTx(ctx, tx, f)
	if err != nil {
		return err
	}
	if err := recondb.New(tx).RecordRunFinding(ctx, recondb.RecordRunFindingParams{RunID: x.run.ID, DiscrepancyID: d.ID, New: opened}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
