package recon_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// ValidActions offers exactly what the resolution rules accept: every action
// it leaves out is refused by Propose, and a closed discrepancy offers
// nothing.
func TestValidActions(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	paidLess := mismatch(e, "va1", "50.00", "45.00")
	var fee discrepancies.Discrepancy
	err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
		var err error
		fee, _, err = e.Disc.RecordTx(ctx, tx, discrepancies.Finding{Type: discrepancies.FeeMismatch, MerchantID: e.Merchant.ID,
			Fingerprint: "fee_mismatch:test", Currency: "BRL", Delta: dec("1.5"), Summary: "fee differs"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	all := []recon.Action{recon.AcceptReceived, recon.RefundPayer, recon.WriteOff, recon.MatchOrder, recon.Ignore}
	cases := []struct {
		name string
		d    discrepancies.Discrepancy
		want []recon.Action
	}{
		{"payer paid less (money in suspense)", paidLess, all},
		{"fee mismatch (nothing parked)", fee, []recon.Action{recon.Ignore}},
	}
	for _, c := range cases {
		got, err := e.Recon.ValidActions(ctx, c.d)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		for _, a := range all {
			if slices.Contains(got, a) || a == recon.MatchOrder {
				continue
			}
			_, err := e.Recon.Propose(ctx, e.Merchant.ID, c.d.ID, recon.Resolution{Action: a, Actor: "user:1", Note: "test"})
			if !errors.Is(err, recon.ErrInvalid) && !errors.Is(err, recon.ErrNothingToMove) {
				t.Errorf("%s: %s is not offered but Propose says %v", c.name, a, err)
			}
		}
	}
	// Closed: nothing to offer.
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, fee.ID, recon.Resolution{Action: recon.Ignore, Actor: "user:1", Note: "known"}); err != nil {
		t.Fatal(err)
	}
	closed, err := e.Disc.Get(ctx, e.Pool, fee.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.Recon.ValidActions(ctx, closed); err != nil || len(got) != 0 {
		t.Fatalf("closed: %v %v", got, err)
	}
}

// StatementLinesFor finds what an imported statement says about an order.
func TestStatementLinesFor(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	from := time.Now().Add(-time.Hour)
	d := mismatch(e, "sl1", "50.00", "45.00")
	mismatch(e, "sl2", "20.00", "19.00") // another order the statement lists
	res := e.StatementFromSandbox("cxpay", from, time.Now().Add(time.Hour))
	o, err := e.Orders.Get(ctx, e.Merchant.ID, d.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := e.Recon.StatementLinesFor(ctx, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].StatementID != res.Statement.ID || lines[0].OrderNo != o.ProviderOrderNo ||
		!lines[0].Amount.Equal(decimal.RequireFromString("45")) || lines[0].Currency != "BRL" || lines[0].FirstLine < 1 {
		t.Fatalf("statement lines of order %d: %+v", o.ID, lines)
	}
}
