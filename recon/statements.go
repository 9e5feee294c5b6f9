package recon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon/statement"
)

// ErrBadRows: a statement has rows that do not parse; nothing was imported
// unless ImportOptions.AllowBadRows.
var ErrBadRows = errors.New("statement has bad rows")

// ImportOptions tune Import.
type ImportOptions struct {
	// AllowBadRows imports the good rows of a file with bad ones (which are
	// still reported, with their line numbers); by default any bad row refuses
	// the whole file.
	AllowBadRows bool
	Actor        string
	// Progress is told the lines read so far.
	Progress func(lines int64)
}

// Statement is an imported statement.
type Statement struct {
	ID              int64     `json:"id"`
	ProviderAccount string    `json:"provider_account"`
	Filename        string    `json:"filename"`
	Lines           int32     `json:"lines"`
	BadLines        int32     `json:"bad_lines"`
	PeriodStart     time.Time `json:"period_start"`
	PeriodEnd       time.Time `json:"period_end"`
	ImportedAt      time.Time `json:"imported_at"`
}

// ImportResult is what Import did.
type ImportResult struct {
	Statement Statement `json:"statement"`
	// BadRows are the rows that did not parse (at most the first 1000).
	BadRows []statement.RowError `json:"bad_rows"`
	// Duplicate: the same file was imported before; Statement is that import.
	Duplicate bool `json:"duplicate"`
}

// maxBadRows bounds the bad rows kept and reported.
const maxBadRows = 1000

// Import reads a provider account's settlement statement (package statement's
// CSV format) into the database, streaming, in one transaction. Any bad row
// refuses the file (ErrBadRows, with every bad row's line number in the result)
// unless opts.AllowBadRows. The same file imported twice is one statement.
func (s *Service) Import(ctx context.Context, merchantID int64, account, filename string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	acct, err := s.merchants.ProviderAccount(ctx, merchantID, account)
	if err != nil || acct.MerchantID != merchantID {
		return ImportResult{}, fmt.Errorf("provider account %q: %w", account, ErrNotFound)
	}
	h := sha256.New()
	rd, err := statement.NewReader(io.TeeReader(r, h))
	if err != nil {
		return ImportResult{}, fmt.Errorf("statement %s: %w: %w", filename, ErrInvalid, err)
	}
	var res ImportResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		placeholder := make([]byte, 32)
		_, _ = rand.Read(placeholder)
		st, err := q.InsertStatement(ctx, recondb.InsertStatementParams{MerchantID: merchantID, ProviderAccountID: acct.ID,
			Filename: filename, Sha256: placeholder, ImportedBy: opts.Actor})
		if err != nil {
			return fmt.Errorf("create statement: %w", err)
		}
		var batch []recondb.CopyStatementLinesParams
		var lines int64
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if _, err := q.CopyStatementLines(ctx, batch); err != nil {
				return fmt.Errorf("copy statement lines: %w", err)
			}
			batch = batch[:0]
			return nil
		}
		for {
			l, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *statement.RowError
			if errors.As(err, &re) {
				if len(res.BadRows) < maxBadRows {
					res.BadRows = append(res.BadRows, *re)
				}
				res.Statement.BadLines++
				continue
			}
			if err != nil {
				return fmt.Errorf("read statement %s: %w", filename, err)
			}
			batch = append(batch, recondb.CopyStatementLinesParams{StatementID: st.ID, LineNo: int32(l.LineNo), OrderNo: l.OrderNo,
				ProviderOrderID: l.ProviderOrderID, Kind: string(l.Kind), Status: string(l.Status), Amount: l.Amount, Fee: l.Fee,
				Currency: l.Currency, SettledAt: l.SettledAt, PartID: l.PartID, Requested: l.Requested})
			lines++
			if len(batch) == 10000 {
				if err := flush(); err != nil {
					return err
				}
				if opts.Progress != nil {
					opts.Progress(lines)
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(lines)
		}
		if res.Statement.BadLines > 0 && !opts.AllowBadRows {
			return ErrBadRows
		}
		if _, err := q.BuildStatementOrders(ctx, st.ID); err != nil {
			return fmt.Errorf("sum statement lines per order: %w", err)
		}
		// Fresh statistics for the run's page queries (they commit with the
		// import): without them the planner takes a new statement for a few
		// rows and joins and sorts all of its orders for every page of the
		// run, quadratic in the statement's size (tally bench recon).
		if _, err := tx.Exec(ctx, "ANALYZE statement_orders"); err != nil {
			return fmt.Errorf("analyze statement orders: %w", err)
		}
		errs, _ := json.Marshal(res.BadRows)
		st, err = q.FinishStatement(ctx, recondb.FinishStatementParams{ID: st.ID, Lines: int32(lines), BadLines: res.Statement.BadLines, Errors: errs})
		if err != nil {
			return fmt.Errorf("finish statement: %w", err)
		}
		if err := q.SetStatementHash(ctx, recondb.SetStatementHashParams{ID: st.ID, Sha256: h.Sum(nil)}); err != nil {
			return err
		}
		res.Statement = statementFrom(st, acct.Name)
		return nil
	})
	switch {
	case errors.Is(err, ErrBadRows):
		return res, fmt.Errorf("statement %s: %d bad rows (first at line %d): %w", filename, res.Statement.BadLines, res.BadRows[0].Line, ErrBadRows)
	case isUnique(err):
		prev, perr := s.q.StatementBySHA(ctx, recondb.StatementBySHAParams{ProviderAccountID: acct.ID, Sha256: h.Sum(nil)})
		if perr != nil {
			return res, fmt.Errorf("find the earlier import: %w", perr)
		}
		return ImportResult{Statement: statementFrom(prev, acct.Name), Duplicate: true}, nil
	case err != nil:
		return res, err
	}
	return res, nil
}

func statementFrom(st recondb.Statement, account string) Statement {
	out := Statement{ID: st.ID, ProviderAccount: account, Filename: st.Filename, Lines: st.Lines, BadLines: st.BadLines, ImportedAt: st.ImportedAt}
	if st.PeriodStart != nil {
		out.PeriodStart = *st.PeriodStart
	}
	if st.PeriodEnd != nil {
		out.PeriodEnd = *st.PeriodEnd
	}
	return out
}

// statementPage compares a page of the statement's orders with tally's.
func (x *execution) statementPage(ctx context.Context) (bool, error) {
	rows, err := x.s.q.StatementPage(ctx, recondb.StatementPageParams{StatementID: x.run.StatementID, ProviderAccountID: x.acct.ID,
		AfterKey: x.cp.AfterKey, RowLimit: x.s.opts.PageSize})
	if err != nil {
		return false, fmt.Errorf("statement page: %w", err)
	}
	// The page's orders in one round trip rather than one each (tally bench
	// recon: most of a run's time). An order a page names twice is read again
	// the second time, as the first comparison may have repaired it.
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		if r.OrderID != nil {
			ids = append(ids, *r.OrderID)
		}
	}
	read, err := x.s.q.OrderRows(ctx, ids)
	if err != nil {
		return false, fmt.Errorf("statement page orders: %w", err)
	}
	byID := make(map[int64]ordersdb.Order, len(read))
	for _, o := range read {
		byID[o.ID] = ordersdb.Order(o)
	}
	for _, r := range rows {
		var pre *ordersdb.Order
		if r.OrderID != nil {
			if o, ok := byID[*r.OrderID]; ok {
				pre = &o
				delete(byID, *r.OrderID)
			}
		}
		if err := x.compareLine(ctx, r, pre); err != nil {
			return false, fmt.Errorf("statement order %s (line %d): %w", r.Key, r.FirstLine, err)
		}
		x.cp.AfterKey = r.Key
		x.cp.Done++
	}
	x.report(phaseStatement)
	return len(rows) == int(x.s.opts.PageSize), nil
}

// compareLine compares one order of the statement (its lines summed) with tally.
// pre is the order as the page read it; nil reads it now.
func (x *execution) compareLine(ctx context.Context, r recondb.StatementPageRow, pre *ordersdb.Order) error {
	line := x.cp.line(x.acct, r.Currency, "statement")
	line.Checked++
	if r.OrderID == nil {
		line.Unmatched++
		line.UnmatchedAmount = line.UnmatchedAmount.Add(r.Amount)
		return x.recordAccount(ctx, discrepancies.Finding{Type: discrepancies.UnknownOrder, Currency: r.Currency,
			Fingerprint: discrepancies.Fingerprint(discrepancies.UnknownOrder, x.acct.Name, r.Key),
			Actual:      providers.Nullable(r.Amount), Delta: r.Amount,
			Summary: fmt.Sprintf("the statement lists %s %s order %s (%s %s, line %d) that tally does not know",
				r.Status, r.Kind, r.Key, r.Amount, r.Currency, r.FirstLine),
			Detail: map[string]any{"statement_id": x.run.StatementID, "line": r.FirstLine, "lines": r.Lines}})
	}
	var o ordersdb.Order
	if pre != nil {
		o = *pre
	} else {
		var err error
		if o, err = x.s.ordersRow(ctx, *r.OrderID); err != nil {
			return err
		}
	}
	if o.Origin == "provider" {
		// An unknown order the pipeline already parked in suspense.
		line.Unmatched++
		line.UnmatchedAmount = line.UnmatchedAmount.Add(r.Amount)
		d, err := x.s.disc.ByFingerprint(ctx, x.s.pool, x.acct.MerchantID, discrepancies.Fingerprint(discrepancies.UnknownOrder, x.acct.Name, o.ProviderOrderNo))
		if err == nil {
			return x.touch(ctx, d.ID, false, false, false)
		}
		return nil
	}
	sst, ost := r.Status, o.Status
	ev := providers.Event{Provider: x.acct.Provider, Kind: providers.OrderKind(r.Kind), OrderNo: r.OrderNo, ProviderOrderID: r.ProviderOrderID,
		Status: providers.Status(sst), ProviderStatus: "statement", Paid: providers.Nullable(r.Amount), Fee: r.Fee, Currency: r.Currency,
		Requested: r.Requested, Verified: true, OccurredAt: r.SettledAt}
	if sst == "reversed" {
		ev.Status, ev.Reversed = providers.StatusReversed, true
	}
	switch {
	case sst == ost:
		return x.same(ctx, line, o, ev)
	case rank(sst) > rank(ost), sst == "succeeded" && (ost == "expired" || ost == "failed") && o.Kind == string(providers.KindDeposit):
		return x.repair(ctx, line, o, ev, "statement")
	case (sst == "pending" || sst == "processing") && (ost == "created" || ost == "pending" || ost == "processing"):
		// Open at both ends: the order's deadline decides.
		return x.stale(ctx, line, o, &ev, "and the statement lists it as "+sst)
	case sst == "pending" || sst == "processing":
		return x.matched(line, o) // the provider had not finished when it wrote the statement
	default:
		return x.unmatched(ctx, line, o, discrepancies.StatusMismatch,
			fmt.Sprintf("tally has %s, the statement says %s (line %d)", ost, sst, r.FirstLine), &ev)
	}
}

// missingPage flags tally's settled orders of the window that the statement
// does not list.
//
// Orders tally settled within the account's date tolerance of the period's
// edges may sit in the neighbouring statement: they are not called missing.
func (x *execution) missingPage(ctx context.Context) (bool, error) {
	from, to := x.run.WindowStart.Add(x.acct.DateTolerance), x.run.WindowEnd.Add(-x.acct.DateTolerance)
	if !to.After(from) {
		x.note(fmt.Sprintf("%s: the statement's period is shorter than twice the date tolerance (%s): missing orders not checked", x.acct.Name, x.acct.DateTolerance))
		return false, nil
	}
	rows, err := x.s.q.OrdersMissingFromStatement(ctx, recondb.OrdersMissingFromStatementParams{ProviderAccountID: x.acct.ID,
		WindowStart: &from, WindowEnd: &to, AfterID: x.cp.AfterID, StatementID: x.run.StatementID,
		RowLimit: x.s.opts.PageSize})
	if err != nil {
		return false, fmt.Errorf("orders missing from statement: %w", err)
	}
	for _, ro := range rows {
		o := ordersdb.Order(ro)
		line := x.cp.line(x.acct, o.Currency, "statement")
		line.Checked++
		if err := x.unmatched(ctx, line, o, discrepancies.StatusMismatch,
			fmt.Sprintf("%s in tally (%s %s), not in the provider's statement", o.Status, o.Amount, o.Currency), nil); err != nil {
			return false, err
		}
		x.cp.AfterID = o.ID
		x.cp.Done++
	}
	x.report(phaseMissing)
	return len(rows) == int(x.s.opts.PageSize), nil
}

func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
