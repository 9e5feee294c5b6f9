package recon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// Errors callers tell apart.
var (
	ErrInvalid    = errors.New("invalid reconciliation request")
	ErrNotFound   = errors.New("not found")
	ErrDuplicate  = errors.New("this window was already reconciled by the schedule")
	ErrNoProvider = errors.New("provider offers no way to reconcile this")
	// ErrRunEnded: the run is no longer running (the sweep failed it after it
	// made no progress); its executor stops without writing anything more.
	ErrRunEnded = errors.New("reconciliation run is no longer running")
)

// Options tune a Service.
type Options struct {
	// PageSize is how many orders a run handles between checkpoints. Default 2000.
	PageSize int32
	// QueryConcurrency bounds concurrent order queries to one provider. Default 8.
	QueryConcurrency int
	// StaleAfter is the lifetime of an order without a deadline of its own
	// (orders.expires_at NULL): one still open StaleAfter after its creation is
	// stale_pending. An order with expires_at is stale once that has passed.
	// Default 24h.
	StaleAfter time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Service runs reconciliations.
type Service struct {
	pool      *pgxpool.Pool
	q         *recondb.Queries
	orders    Orders
	merchants *merchants.Service
	ledger    *ledger.Ledger
	disc      *discrepancies.Store
	queue     Queue
	opts      Options
}

// New returns a Service; o is the order lifecycle (an *orders.Service), q
// queues the runs' jobs (package jobs' Queue; Start and Schedule need it).
func New(pool *pgxpool.Pool, o Orders, m *merchants.Service, l *ledger.Ledger, d *discrepancies.Store, q Queue, opts Options) *Service {
	if opts.PageSize <= 0 {
		opts.PageSize = 2000
	}
	if opts.QueryConcurrency <= 0 {
		opts.QueryConcurrency = 8
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{pool: pool, q: recondb.New(pool), orders: o, merchants: m, ledger: l, disc: d, queue: q, opts: opts}
}

// Request asks for a run.
type Request struct {
	MerchantID int64
	// ProviderAccount narrows the run to one account; empty runs every enabled
	// account of the merchant (a statement run needs its account).
	ProviderAccount string
	Kind            RunKind
	// From and To bound the window: orders created (statement runs: settled)
	// in [From, To). A statement run defaults them to the statement's period.
	From, To    time.Time
	StatementID int64
	// Trigger is who asked: schedule, cli, api, demo, test, console.
	Trigger string
	// Actor is the authenticated actor who started the run ("user:<id>" from
	// the console), recorded with it; empty for the schedule and the CLI.
	Actor string
}

// Run is a stored run.
type Run struct {
	ID                int64      `json:"id"`
	MerchantID        int64      `json:"-"`
	ProviderAccountID int64      `json:"-"`
	ProviderAccount   string     `json:"provider_account,omitempty"`
	Kind              RunKind    `json:"kind"`
	WindowStart       time.Time  `json:"window_start"`
	WindowEnd         time.Time  `json:"window_end"`
	StatementID       int64      `json:"statement_id,omitempty"`
	Trigger           string     `json:"trigger"`
	StartedBy         string     `json:"started_by,omitempty"`
	Status            RunStatus  `json:"status"`
	Error             string     `json:"error,omitempty"`
	StartedAt         time.Time  `json:"started_at"`
	FinishedAt        *time.Time `json:"finished_at,omitempty"`
}

// Create stores a new run in status running; Execute then carries it out in
// the caller's goroutine (Start creates it with its recon_run job instead). A
// scheduled window that already has a running or completed run is
// ErrDuplicate, with that run; one whose runs failed may be run again.
func (s *Service) Create(ctx context.Context, req Request) (Run, error) {
	return s.CreateTx(ctx, nil, req)
}

// CreateTx is Create inside the caller's transaction (so that the run and its
// job commit together); tx nil uses the pool.
func (s *Service) CreateTx(ctx context.Context, tx pgx.Tx, req Request) (Run, error) {
	q := s.q
	if tx != nil {
		q = s.q.WithTx(tx)
	}
	if req.Trigger == "" {
		req.Trigger = "cli"
	}
	switch req.Kind {
	case KindOrders, KindBalances, KindFull, KindStatement:
	default:
		return Run{}, fmt.Errorf("kind %q: orders, statement, balances or full: %w", req.Kind, ErrInvalid)
	}
	var acctID *int64
	if req.ProviderAccount != "" {
		acct, err := s.merchants.ProviderAccount(ctx, req.MerchantID, req.ProviderAccount)
		if err != nil || acct.MerchantID != req.MerchantID {
			return Run{}, fmt.Errorf("provider account %q: %w", req.ProviderAccount, ErrNotFound)
		}
		acctID = &acct.ID
	}
	var stmtID *int64
	if req.Kind == KindStatement {
		if req.StatementID == 0 {
			return Run{}, fmt.Errorf("a statement run needs a statement (tally recon import): %w", ErrInvalid)
		}
		st, err := q.StatementByID(ctx, req.StatementID)
		if err != nil || st.MerchantID != req.MerchantID {
			return Run{}, fmt.Errorf("statement %d: %w", req.StatementID, ErrNotFound)
		}
		acctID = &st.ProviderAccountID
		stmtID = &st.ID
		if req.From.IsZero() && st.PeriodStart != nil {
			req.From = *st.PeriodStart
		}
		if req.To.IsZero() && st.PeriodEnd != nil {
			req.To = st.PeriodEnd.Add(time.Second)
		}
	}
	if req.To.IsZero() {
		req.To = s.opts.Now()
	}
	if req.From.IsZero() {
		req.From = req.To.Add(-24 * time.Hour)
	}
	if !req.To.After(req.From) {
		return Run{}, fmt.Errorf("window [%s, %s) is empty: %w", req.From.Format(time.RFC3339), req.To.Format(time.RFC3339), ErrInvalid)
	}
	row, err := q.InsertRun(ctx, recondb.InsertRunParams{MerchantID: req.MerchantID, ProviderAccountID: acctID, Kind: string(req.Kind),
		WindowStart: req.From, WindowEnd: req.To, StatementID: stmtID, Trigger: req.Trigger, StartedBy: req.Actor})
	if errors.Is(err, pgx.ErrNoRows) {
		prev, perr := q.ScheduledRun(ctx, recondb.ScheduledRunParams{Kind: string(req.Kind), ProviderAccountID: acctID, WindowStart: req.From, WindowEnd: req.To})
		if perr != nil {
			return Run{}, fmt.Errorf("find the scheduled run: %w", perr)
		}
		r, _ := s.runFrom(ctx, prev)
		return r, ErrDuplicate
	}
	if err != nil {
		return Run{}, fmt.Errorf("create run: %w", err)
	}
	return s.runFrom(ctx, row)
}

// Get returns a run.
func (s *Service) Get(ctx context.Context, merchantID, id int64) (Run, error) {
	row, err := s.q.RunByID(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && merchantID != 0 && row.MerchantID != merchantID) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("get run %d: %w", id, err)
	}
	return s.runFrom(ctx, row)
}

// Runs lists a merchant's runs, newest first.
func (s *Service) Runs(ctx context.Context, merchantID, beforeID int64, limit int32) ([]Run, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	p := recondb.ListRunsParams{MerchantID: merchantID, RowLimit: limit}
	if beforeID > 0 {
		p.BeforeID = &beforeID
	}
	rows, err := s.q.ListRuns(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := make([]Run, 0, len(rows))
	for _, r := range rows {
		run, err := s.runFrom(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

func (s *Service) runFrom(ctx context.Context, r recondb.ReconRun) (Run, error) {
	run := Run{ID: r.ID, MerchantID: r.MerchantID, Kind: RunKind(r.Kind), WindowStart: r.WindowStart, WindowEnd: r.WindowEnd,
		Trigger: r.Trigger, StartedBy: r.StartedBy, Status: RunStatus(r.Status), Error: r.Error, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if r.ProviderAccountID != nil {
		run.ProviderAccountID = *r.ProviderAccountID
		acct, err := s.merchants.ProviderAccountByID(ctx, *r.ProviderAccountID)
		if err != nil {
			return Run{}, err
		}
		run.ProviderAccount = acct.Name
	}
	if r.StatementID != nil {
		run.StatementID = *r.StatementID
	}
	return run, nil
}

// RunProgress is where a run is, as its last checkpoint says.
type RunProgress struct {
	Status RunStatus `json:"status"`
	Phase  string    `json:"phase"`
	Done   int64     `json:"done"` // orders handled so far
	Error  string    `json:"error,omitempty"`
}

// ProgressOf reads a run's progress from its checkpoint, wherever it runs.
func (s *Service) ProgressOf(ctx context.Context, runID int64) (RunProgress, error) {
	r, err := s.q.RunProgress(ctx, runID)
	if errors.Is(err, pgx.ErrNoRows) {
		return RunProgress{}, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return RunProgress{}, fmt.Errorf("progress of run %d: %w", runID, err)
	}
	return RunProgress{Status: RunStatus(r.Status), Phase: r.Phase, Done: r.Done, Error: r.Error}, nil
}

// Progress receives a run's progress: the phase and the orders handled so far.
type Progress func(phase string, done int64)

// checkpoint is where a run is, saved after every page so that a crashed run
// resumes instead of starting over. Counters travel with it.
type checkpoint struct {
	Accounts    []int64               `json:"accounts"`
	Index       int                   `json:"index"`
	Phase       string                `json:"phase"`
	AfterID     int64                 `json:"after_id"`
	AfterKey    string                `json:"after_key"`
	Lines       map[string]*OrderLine `json:"lines"`
	Balances    []BalanceLine         `json:"balances"`
	Ledger      *LedgerLine           `json:"ledger"`
	Done        int64                 `json:"done"`
	Notes       []string              `json:"notes"`
	QueryErrors int64                 `json:"query_errors"`
	Initialised bool                  `json:"initialised"`
}

// Phases of a run, per provider account, then once for the ledger.
const (
	phaseOrders    = "orders"    // orders against the provider's query API
	phaseOverdue   = "overdue"   // open orders whose deadline fell in the window
	phaseStatement = "statement" // a statement's orders against tally's
	phaseMissing   = "missing"   // tally's settled orders the statement does not list
	phaseBalances  = "balances"
	phaseClose     = "close" // auto-close what the run found consistent
	phaseLedger    = "ledger"
)

// Execute carries out (or resumes) a run and returns its summary. A run already
// finished returns its stored summary; an error fails the run. The recon_run
// job calls ExecuteJob instead; either way a crash resumes from the last
// checkpoint.
func (s *Service) Execute(ctx context.Context, runID int64, progress Progress) (Summary, error) {
	return s.execute(ctx, runID, progress, true)
}

// execute runs or resumes a run. With failOnError an error fails the run;
// without it (a job with attempts left) the run stays running at its checkpoint
// for the retry.
func (s *Service) execute(ctx context.Context, runID int64, progress Progress, failOnError bool) (Summary, error) {
	row, err := s.q.RunByID(ctx, runID)
	if err != nil {
		return Summary{}, fmt.Errorf("load run %d: %w", runID, err)
	}
	if RunStatus(row.Status) != RunRunning {
		return s.Summary(ctx, runID)
	}
	run, err := s.runFrom(ctx, row)
	if err != nil {
		return Summary{}, err
	}
	var cp checkpoint
	if len(row.Checkpoint) > 0 {
		if err := json.Unmarshal(row.Checkpoint, &cp); err != nil {
			return Summary{}, fmt.Errorf("run %d checkpoint: %w", runID, err)
		}
	}
	if !cp.Initialised {
		if err := s.initCheckpoint(ctx, run, &cp); err != nil {
			return s.fail(ctx, run, err)
		}
	}
	x := &execution{s: s, run: run, cp: &cp, progress: progress}
	if err := x.loop(ctx); err != nil {
		if ctx.Err() != nil || !failOnError || errors.Is(err, ErrRunEnded) {
			// Interrupted or retried: it resumes from the checkpoint. The job
			// queue keeps the error: tally's words for a provider's.
			return Summary{}, providers.Public(err)
		}
		return s.fail(ctx, run, err)
	}
	return s.finish(ctx, run, &cp)
}

func (s *Service) initCheckpoint(ctx context.Context, run Run, cp *checkpoint) error {
	cp.Lines = map[string]*OrderLine{}
	cp.Initialised = true
	if run.ProviderAccountID != 0 {
		cp.Accounts = []int64{run.ProviderAccountID}
	} else {
		accts, err := s.merchants.ProviderAccounts(ctx, run.MerchantID)
		if err != nil {
			return err
		}
		for _, a := range accts {
			if a.Enabled {
				cp.Accounts = append(cp.Accounts, a.ID)
			}
		}
	}
	return nil
}

func (s *Service) saveCheckpoint(ctx context.Context, runID int64, cp *checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	n, err := s.q.SaveCheckpoint(ctx, recondb.SaveCheckpointParams{ID: runID, Checkpoint: b})
	if err != nil {
		return fmt.Errorf("save checkpoint of run %d: %w", runID, err)
	}
	if n == 0 {
		return fmt.Errorf("run %d: %w", runID, ErrRunEnded)
	}
	return nil
}

func (s *Service) fail(ctx context.Context, run Run, cause error) (Summary, error) {
	msg := publicError(cause)
	s.opts.Logger.Error("reconciliation run failed", "run_id", run.ID, "error", msg)
	s.opts.Logger.Debug("reconciliation run failed", "run_id", run.ID, "error", providers.Redact(cause.Error()))
	sum := Summary{RunID: run.ID, Kind: run.Kind, ProviderAccount: run.ProviderAccount, WindowStart: run.WindowStart,
		WindowEnd: run.WindowEnd, Status: RunFailed, StartedAt: run.StartedAt, FinishedAt: s.opts.Now(), Error: msg}
	b, _ := json.Marshal(sum)
	_, err := s.q.FinishRun(context.WithoutCancel(ctx), recondb.FinishRunParams{ID: run.ID, Status: string(RunFailed), Summary: b, Error: msg})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) { // no row: it had ended already
		return sum, errors.Join(providers.Public(cause), err)
	}
	return sum, providers.Public(cause)
}

// publicError is a failed run's error as its merchant reads it (the run, its
// report): a provider call's failure in tally's words (providers.Describe),
// never the provider's answer, which goes to the operator log at debug level.
func publicError(err error) string {
	if providers.IsProviderError(err) {
		return "a provider call failed: " + providers.Describe(err).String()
	}
	return err.Error()
}

// finish builds the summary, stores it and completes the run.
func (s *Service) finish(ctx context.Context, run Run, cp *checkpoint) (Summary, error) {
	sum, err := s.build(ctx, run, cp)
	if err != nil {
		return Summary{}, err
	}
	sum.Status = RunCompleted
	sum.FinishedAt = s.opts.Now()
	b, err := json.Marshal(sum)
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	_, err = s.q.FinishRun(ctx, recondb.FinishRunParams{ID: run.ID, Status: string(RunCompleted), Summary: b})
	if errors.Is(err, pgx.ErrNoRows) {
		return Summary{}, fmt.Errorf("finish run %d: %w", run.ID, ErrRunEnded)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("finish run %d: %w", run.ID, err)
	}
	return sum, nil
}

// Summary returns a finished run's stored summary, or the summary so far of a
// running one.
func (s *Service) Summary(ctx context.Context, runID int64) (Summary, error) {
	sum, err := s.summary(ctx, runID)
	sum.fillLists()
	return sum, err
}

func (s *Service) summary(ctx context.Context, runID int64) (Summary, error) {
	row, err := s.q.RunByID(ctx, runID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Summary{}, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("load run %d: %w", runID, err)
	}
	if len(row.Summary) > 0 {
		var sum Summary
		if err := json.Unmarshal(row.Summary, &sum); err != nil {
			return Summary{}, fmt.Errorf("run %d summary: %w", runID, err)
		}
		// Stored before a day's sections existed: empty, not null.
		if sum.Aging == nil {
			sum.Aging = []AgingLine{}
		}
		if sum.OpenItems == nil {
			sum.OpenItems = []OpenItem{}
		}
		return sum, nil
	}
	run, err := s.runFrom(ctx, row)
	if err != nil {
		return Summary{}, err
	}
	var cp checkpoint
	_ = json.Unmarshal(row.Checkpoint, &cp)
	return s.build(ctx, run, &cp)
}

// build assembles the summary from the checkpoint's counters and the run's findings.
func (s *Service) build(ctx context.Context, run Run, cp *checkpoint) (Summary, error) {
	m, err := s.merchants.MerchantByID(ctx, run.MerchantID)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{RunID: run.ID, Merchant: m.Code, Kind: run.Kind, ProviderAccount: run.ProviderAccount,
		WindowStart: run.WindowStart, WindowEnd: run.WindowEnd, Status: run.Status, StartedAt: run.StartedAt,
		Orders: []OrderLine{}, Discrepancies: []DiscrepancyLine{}, Balances: []BalanceLine{}, Findings: []Finding{},
		Aging: []AgingLine{}, OpenItems: []OpenItem{}, Notes: append([]string(nil), cp.Notes...)}
	for _, l := range cp.Lines {
		sum.Orders = append(sum.Orders, *l)
	}
	sort.Slice(sum.Orders, func(i, j int) bool {
		a, b := sum.Orders[i], sum.Orders[j]
		return a.ProviderAccount+"|"+a.Currency+"|"+a.Source < b.ProviderAccount+"|"+b.Currency+"|"+b.Source
	})
	sum.Balances = append(sum.Balances, cp.Balances...)
	if cp.Ledger != nil {
		sum.Ledger = *cp.Ledger
	}
	counts, err := s.q.RunFindingCounts(ctx, run.ID)
	if err != nil {
		return Summary{}, fmt.Errorf("finding counts: %w", err)
	}
	for _, c := range counts {
		sum.Discrepancies = append(sum.Discrepancies, DiscrepancyLine{ProviderAccount: c.ProviderAccount, Currency: c.Currency,
			Type: c.Type, Found: c.Found, New: c.New, AutoClosed: c.AutoClosed, AmountDelta: c.AmountDelta})
	}
	var after int64
	for {
		page, err := s.RunFindings(ctx, run.ID, after, 1000)
		if err != nil {
			return Summary{}, err
		}
		sum.Findings = append(sum.Findings, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].DiscrepancyID
	}
	return sum, nil
}

// line returns the counters of an account and currency.
func (cp *checkpoint) line(acct merchants.ProviderAccount, currency, source string) *OrderLine {
	k := acct.Name + "|" + currency
	if source == sourceOverdue {
		k += "|" + source
	}
	l, ok := cp.Lines[k]
	if !ok {
		l = &OrderLine{ProviderAccount: acct.Name, Provider: acct.Provider, Currency: currency, Source: source,
			MatchedAmount: decimal.Zero, UnmatchedAmount: decimal.Zero}
		cp.Lines[k] = l
	}
	return l
}

// orderNos are the provider order numbers of the orders a page of findings
// is about.
func (s *Service) orderNos(ctx context.Context, rows []recondb.RunFindingsRow) (map[int64]string, error) {
	var ids []int64
	for _, r := range rows {
		if r.OrderID != nil {
			ids = append(ids, *r.OrderID)
		}
	}
	return s.orderNosOf(ctx, ids)
}

// orderNosOf are the provider order numbers of orders, by id.
func (s *Service) orderNosOf(ctx context.Context, ids []int64) (map[int64]string, error) {
	refs, err := s.orders.Refs(ctx, ids)
	if err != nil {
		return nil, err
	}
	nos := make(map[int64]string, len(refs))
	for _, o := range refs {
		nos[o.ID] = o.ProviderOrderNo
	}
	return nos, nil
}
