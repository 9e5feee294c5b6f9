package discrepancies_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/discrepancies"
)

func TestRecordSameProblemIsSameRowAndAutoCloseReopens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	var merchant int64
	if err := pool.QueryRow(ctx, `INSERT INTO merchants (code, name) VALUES ('m', 'M') RETURNING id`).Scan(&merchant); err != nil {
		t.Fatal(err)
	}
	s := discrepancies.New()
	f := discrepancies.Finding{
		Type: discrepancies.AmountMismatch, MerchantID: merchant, Fingerprint: discrepancies.Fingerprint(discrepancies.AmountMismatch, "cpay-main", "T1"),
		Currency: "USDT", Expected: decimal.NewNullDecimal(decimal.RequireFromString("100")), Actual: decimal.NewNullDecimal(decimal.RequireFromString("90")),
		Delta: decimal.RequireFromString("-10"), Summary: "paid 90 of 100 USDT",
	}
	record := func() (discrepancies.Discrepancy, bool) {
		t.Helper()
		var d discrepancies.Discrepancy
		var opened bool
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			d, opened, err = s.RecordTx(ctx, tx, f)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return d, opened
	}
	d1, opened := record()
	if !opened || d1.Status != discrepancies.Open || d1.Severity != discrepancies.Medium || !d1.AmountDelta.Equal(decimal.RequireFromString("-10")) {
		t.Fatalf("first record = %+v opened=%v", d1, opened)
	}
	d2, opened := record()
	if opened || d2.ID != d1.ID || d2.SeenCount != 2 {
		t.Fatalf("second record = %+v opened=%v, want same row seen twice", d2, opened)
	}
	// Auto-close, then find again: reopened.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := s.CloseTx(ctx, tx, d1.ID, discrepancies.Resolved, "auto_closed", "recon", "consistent in run 7", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d3, _ := record()
	if d3.ID != d1.ID || d3.Status != discrepancies.Open {
		t.Fatalf("after auto-close and re-find: %+v", d3)
	}
	// A human resolution sticks.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := s.CloseTx(ctx, tx, d1.ID, discrepancies.Resolved, "accept_received", "alice", "customer confirmed", "res:1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := s.CloseTx(ctx, tx, d1.ID, discrepancies.Resolved, "accept_received", "bob", "again", "res:2")
		return err
	}); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("second resolution: err = %v, want ErrClosed", err)
	}
	d4, _ := record()
	if d4.Status != discrepancies.Resolved || d4.ResolvedBy != "alice" {
		t.Fatalf("found again after human resolution: %+v", d4)
	}
	evs, err := s.Events(ctx, pool, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	want := []string{"opened", "auto_closed", "reopened", "resolved"}
	if len(actions) != len(want) {
		t.Fatalf("audit trail = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audit trail = %v, want %v", actions, want)
		}
	}
	counts, err := s.OpenCounts(ctx, pool, merchant)
	if err != nil || len(counts) != 0 {
		t.Fatalf("open counts = %v, %v", counts, err)
	}
}
