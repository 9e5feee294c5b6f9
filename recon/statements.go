package recon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
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
	PeriodStart     time.Time `json:"period_start,omitzero"` // left out for a statement without lines
	PeriodEnd       time.Time `json:"period_end,omitzero"`
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
	return s.importLines(ctx, merchantID, acct, filename, rd, h, opts)
}

// lineSource yields a statement's lines as statement.Reader does: a good
// Line, a *statement.RowError for a bad row (and the next call goes on), or
// io.EOF. A mapped file (mappings.go) is one too.
type lineSource interface {
	Next() (statement.Line, error)
}

// importLines stores the lines of src as one statement of acct, in one
// transaction; h is the hash of the file, complete once src is exhausted.
func (s *Service) importLines(ctx context.Context, merchantID int64, acct merchants.ProviderAccount, filename string, rd lineSource, h hash.Hash, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
	limit := x.s.opts.PageSize
	lines, err := x.s.q.StatementOrdersPage(ctx, recondb.StatementOrdersPageParams{StatementID: x.run.StatementID,
		AfterKey: x.cp.AfterKey, RowLimit: limit})
	if err != nil {
		return false, fmt.Errorf("statement page: %w", err)
	}
	page, err := x.matchPage(ctx, lines)
	if err != nil {
		return false, fmt.Errorf("statement page orders: %w", err)
	}
	// An order a page names twice is read again the second time, as the first
	// comparison may have repaired it.
	used := map[int64]bool{}
	for _, m := range page {
		o := m.order
		if o != nil {
			if used[o.ID] {
				fresh, err := x.s.orders.Get(ctx, 0, o.ID)
				if err != nil {
					return false, fmt.Errorf("statement order %s (line %d): %w", m.line.Key, m.line.FirstLine, err)
				}
				o = &fresh
			}
			used[o.ID] = true
		}
		if err := x.compareLine(ctx, m.line, o); err != nil {
			return false, fmt.Errorf("statement order %s (line %d): %w", m.line.Key, m.line.FirstLine, err)
		}
		x.cp.AfterKey = m.line.Key
		x.cp.Done++
	}
	x.report(phaseStatement)
	return len(page) == int(limit), nil
}

// match is an order of the statement with an order of tally's it names (nil:
// none).
type match struct {
	line  recondb.StatementOrder
	order *orders.Order
}

// matchPage pairs a page of the statement's orders with tally's orders, read
// in one round trip (two when lines name orders by the provider's id only):
// by the order number tally sent the provider (the line's key), and for a line
// without one by the provider's id. A line naming several orders is one match
// per order, by id; one naming none is one match without an order. At most a
// page of matches: the rest of a line's orders beyond it are not compared
// (as the page's orders are never more than a page).
func (x *execution) matchPage(ctx context.Context, lines []recondb.StatementOrder) ([]match, error) {
	keys := make([]string, len(lines))
	var pids []string
	for i, l := range lines {
		keys[i] = l.Key
		if l.OrderNo == "" && l.ProviderOrderID != "" {
			pids = append(pids, l.ProviderOrderID)
		}
	}
	found, err := x.s.orders.ByProviderRefs(ctx, x.acct.ID, keys, pids)
	if err != nil {
		return nil, err
	}
	byNo := make(map[string]int, len(found))
	byPID := map[string][]int{}
	for i, o := range found {
		byNo[o.ProviderOrderNo] = i
		if o.ProviderOrderID != "" {
			byPID[o.ProviderOrderID] = append(byPID[o.ProviderOrderID], i)
		}
	}
	limit := int(x.s.opts.PageSize)
	out := make([]match, 0, len(lines))
	for _, l := range lines {
		var idx []int
		if i, ok := byNo[l.Key]; ok {
			idx = append(idx, i)
		}
		if l.OrderNo == "" && l.ProviderOrderID != "" {
			for _, i := range byPID[l.ProviderOrderID] {
				if len(idx) == 0 || idx[0] != i {
					idx = append(idx, i)
				}
			}
		}
		if len(idx) == 0 {
			out = append(out, match{line: l})
		}
		sort.Ints(idx) // found is by id
		for _, i := range idx {
			out = append(out, match{line: l, order: &found[i]})
		}
		if len(out) >= limit {
			return out[:limit], nil
		}
	}
	return out, nil
}

// compareLine compares one order of the statement (its lines summed) with
// tally's order o (nil: tally does not know it).
func (x *execution) compareLine(ctx context.Context, r recondb.StatementOrder, o *orders.Order) error {
	line := x.cp.line(x.acct, r.Currency, "statement")
	line.Checked++
	if o == nil {
		line.Unmatched++
		line.UnmatchedAmount = line.UnmatchedAmount.Add(r.Amount)
		return x.recordAccount(ctx, discrepancies.Finding{Type: discrepancies.UnknownOrder, Currency: r.Currency,
			Fingerprint: discrepancies.Fingerprint(discrepancies.UnknownOrder, x.acct.Name, r.Key),
			Actual:      providers.Nullable(r.Amount), Delta: r.Amount,
			Summary: fmt.Sprintf("the statement lists %s %s order %s (%s %s, line %d) that tally does not know",
				r.Status, r.Kind, r.Key, r.Amount, r.Currency, r.FirstLine),
			Detail: map[string]any{"statement_id": x.run.StatementID, "line": r.FirstLine, "lines": r.Lines}})
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
	sst, ost := r.Status, string(o.Status)
	ev := providers.Event{Provider: x.acct.Provider, Kind: providers.OrderKind(r.Kind), OrderNo: r.OrderNo, ProviderOrderID: r.ProviderOrderID,
		Status: providers.Status(sst), ProviderStatus: "statement", Paid: providers.Nullable(r.Amount), Fee: r.Fee, Currency: r.Currency,
		Requested: r.Requested, Verified: true, OccurredAt: r.SettledAt}
	if sst == "reversed" {
		ev.Status, ev.Reversed = providers.StatusReversed, true
	}
	switch {
	case sst == ost:
		return x.same(ctx, line, *o, ev)
	case rank(sst) > rank(ost), sst == "succeeded" && (ost == "expired" || ost == "failed") && o.Kind == providers.KindDeposit:
		return x.repair(ctx, line, *o, ev, "statement")
	case (sst == "pending" || sst == "processing") && (ost == "created" || ost == "pending" || ost == "processing"):
		// Open at both ends: the order's deadline decides.
		return x.stale(ctx, line, *o, &ev, "and the statement lists it as "+sst)
	case sst == "pending" || sst == "processing":
		return x.matched(line, *o) // the provider had not finished when it wrote the statement
	default:
		return x.unmatched(ctx, line, *o, discrepancies.StatusMismatch,
			fmt.Sprintf("tally has %s, the statement says %s (line %d)", ost, sst, r.FirstLine), &ev)
	}
}

// missingPage flags tally's settled orders of the window that the statement
// does not list. It pages through the window's settled orders by order number
// (only their numbers and ids), asks which of a page's numbers the statement
// lacks, and reads those orders whole.
//
// Orders tally settled within the account's date tolerance of the period's
// edges may sit in the neighbouring statement: they are not called missing.
func (x *execution) missingPage(ctx context.Context) (bool, error) {
	from, to := x.run.WindowStart.Add(x.acct.DateTolerance), x.run.WindowEnd.Add(-x.acct.DateTolerance)
	if !to.After(from) {
		x.note(fmt.Sprintf("%s: the statement's period is shorter than twice the date tolerance (%s): missing orders not checked", x.acct.Name, x.acct.DateTolerance))
		return false, nil
	}
	limit := min(x.s.opts.PageSize, math.MaxInt32/missingRefsPerPage) * missingRefsPerPage
	refs, err := x.s.orders.SettledRefs(ctx, x.acct.ID, from, to, x.cp.AfterKey, limit)
	if err != nil {
		return false, fmt.Errorf("orders missing from statement: %w", err)
	}
	if len(refs) == 0 {
		x.report(phaseMissing)
		return false, nil
	}
	nos := make([]string, len(refs))
	for i, r := range refs {
		nos[i] = r.ProviderOrderNo
	}
	last := nos[len(nos)-1]
	lacking, err := x.s.q.StatementLacks(ctx, recondb.StatementLacksParams{StatementID: x.run.StatementID, OrderNos: nos,
		AfterKey: x.cp.AfterKey, LastKey: last})
	if err != nil {
		return false, fmt.Errorf("orders missing from statement: %w", err)
	}
	var ids []int64
	if len(lacking) > 0 {
		lacks := make(map[string]bool, len(lacking))
		for _, no := range lacking {
			lacks[no] = true
		}
		for _, r := range refs {
			if lacks[r.ProviderOrderNo] {
				ids = append(ids, r.ID)
			}
		}
	}
	missing, err := x.s.orders.ByIDs(ctx, ids)
	if err != nil {
		return false, fmt.Errorf("orders missing from statement: %w", err)
	}
	byID := make(map[int64]orders.Order, len(missing))
	for _, o := range missing {
		byID[o.ID] = o
	}
	for _, id := range ids { // in the order of their numbers
		o, ok := byID[id]
		if !ok {
			continue
		}
		line := x.cp.line(x.acct, o.Currency, "statement")
		line.Checked++
		if err := x.unmatched(ctx, line, o, discrepancies.StatusMismatch,
			fmt.Sprintf("%s in tally (%s %s), not in the provider's statement", o.Status, o.Amount, o.Currency), nil); err != nil {
			return false, err
		}
		x.cp.Done++
	}
	x.cp.AfterKey = last
	x.report(phaseMissing)
	return len(refs) == int(limit), nil
}

// missingRefsPerPage is how many pages' worth of settled orders (numbers and
// ids only) one page of the missing phase looks at: few of them are missing.
const missingRefsPerPage = 10

func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
