package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// ErrUnknownAccount: a callback URL that routes to no provider account (no
// account has that callback key).
var ErrUnknownAccount = errors.New("unknown provider account")

// Ingested is what Ingest did with a callback.
type Ingested struct {
	// InboxID is the callback's inbox row; zero for a rejected delivery that
	// was only counted (beyond the hour's samples).
	InboxID int64
	// Verdict is "accepted" (signature verified), "hint" (unsigned by design) or
	// "rejected" (bad signature or unparsable).
	Verdict string
	// Repeat is true for a delivery identical to one already stored.
	Repeat bool
	// Sampled: a rejected delivery whose request was kept in the inbox (one of
	// the hour's samples, or a repeat of one).
	Sampled bool
	// Reply is what to answer the provider: its acknowledgement for a stored
	// callback, its failure answer for a rejected one.
	Reply providers.Reply
}

// CallbackTarget is the provider account a callback URL routes to.
type CallbackTarget struct {
	Adapter providers.Adapter
	Account merchants.ProviderAccount
	// Label names the account in metrics and logs as "merchant/account" (the
	// merchant's code and the account's name; never the callback key).
	Label string
}

// AllowsMethod reports whether the provider calls its callback URL with
// method: POST always, GET only where its document does (USDTCNPAY's success
// and fail URLs).
func (t CallbackTarget) AllowsMethod(method string) bool {
	switch method {
	case http.MethodPost:
		return true
	case http.MethodGet:
		return t.Adapter.Capabilities().CallbackGET
	}
	return false
}

// CallbackAccount resolves the {key} of /callbacks/{key}: the provider account
// with that callback key (merchants.Service.AdapterByCallbackKey). No account
// is ErrUnknownAccount; a key that cannot be one is refused without a
// database read.
func (s *Service) CallbackAccount(ctx context.Context, key string) (CallbackTarget, error) {
	adapter, acct, err := s.merchants.AdapterByCallbackKey(ctx, key)
	if errors.Is(err, merchants.ErrNotFound) {
		return CallbackTarget{}, ErrUnknownAccount
	}
	if err != nil {
		return CallbackTarget{}, err
	}
	return CallbackTarget{Adapter: adapter, Account: acct, Label: s.merchants.Label(ctx, acct)}, nil
}

// KnownCallbackKey reports whether key routes to an account this process has
// read before (merchants.Service.KnownCallbackKey). It never reads the
// database.
func (s *Service) KnownCallbackKey(key string) bool { return s.merchants.KnownCallbackKey(key) }

// Admit is asked, once a callback's verdict is known and before anything is
// stored, whether it may be taken in (the ingress rate limits). An error
// refuses it: nothing is stored or counted, Ingest returns the error, and the
// provider is to be told to retry.
type Admit func(verdict string) error

// Ingest verifies a provider callback to t's account and, in one transaction,
// writes it to the inbox and queues process_callback. A rejected delivery (bad
// signature, unparsable) is counted in its account's hour (callback_rejections)
// and counted on the hour's one rejected_callback discrepancy; only the
// first Options.RejectedSamplesPerHour of the hour keep their request in the
// inbox. Query parameters and bodies the adapter does not read are dropped
// first (providers.Capabilities), so that they never make a delivery new.
// Only after the commit does the caller answer with Reply. A returned error
// means nothing durable happened and the provider must be told to retry (503).
func (s *Service) Ingest(ctx context.Context, t CallbackTarget, cb *providers.Callback, admit Admit) (Ingested, error) {
	adapter, acct := t.Adapter, t.Account
	trimCallback(cb, adapter.Capabilities())
	ev, perr := adapter.ParseCallback(cb)
	verdict := "accepted"
	switch {
	case errors.Is(perr, providers.ErrUnreadableEvent):
		// Signed by the provider, unreadable as an event: stored and
		// acknowledged like any verified callback; applying it flags it
		// with the reason (a deterministic failure, never retried).
	case perr != nil:
		verdict = "rejected"
	case !ev.Verified:
		verdict = "hint"
	}
	if admit != nil {
		if err := admit(verdict); err != nil {
			return Ingested{}, err
		}
	}
	hash := callbackHash(cb)
	headers, _ := json.Marshal(safeHeaders(cb.Header))
	if verdict != "rejected" {
		// The common case shares its transaction with the callbacks arriving
		// at the same time (group commit).
		out, err := s.intake.store(ctx, &intakeItem{verdict: verdict, done: make(chan intakeResult, 1), params: ordersdb.InsertCallbacksParams{
			ProviderAccountID: acct.ID, MerchantID: acct.MerchantID, RequestHash: hash, Method: cb.Method, Path: cb.Path,
			Query: cb.Query.Encode(), Headers: headers, Body: cb.Body, RemoteAddr: cb.RemoteAddr, Verdict: verdict,
		}})
		if err != nil {
			return Ingested{}, fmt.Errorf("ingest callback for %s: %w", t.Label, err)
		}
		out.Reply = adapter.Reply(nil)
		return out, nil
	}
	errText := boundedText(perr.Error(), maxRejectionText)
	var out Ingested
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		// The hour's counter row stays locked to the commit: the rejections
		// of one account take their sample slots one at a time.
		n, err := q.CountRejectedCallback(ctx, ordersdb.CountRejectedCallbackParams{ProviderAccountID: acct.ID, MerchantID: acct.MerchantID,
			RemoteAddr: cb.RemoteAddr, Error: errText})
		if err != nil {
			return fmt.Errorf("count rejected callback: %w", err)
		}
		out = Ingested{Verdict: verdict}
		sampled := n.Sampled
		if int(n.Sampled) < s.opts.RejectedSamplesPerHour {
			row, err := q.InsertCallback(ctx, ordersdb.InsertCallbackParams{
				ProviderAccountID: acct.ID, MerchantID: acct.MerchantID, RequestHash: hash, Method: cb.Method, Path: cb.Path,
				Query: cb.Query.Encode(), Headers: headers, Body: cb.Body, RemoteAddr: cb.RemoteAddr, Verdict: verdict, Error: errText,
			})
			if err != nil {
				return fmt.Errorf("store callback: %w", err)
			}
			out.InboxID, out.Verdict, out.Repeat, out.Sampled = row.ID, row.Verdict, !row.Inserted, true
			if row.Inserted {
				sampled++
				if err := q.CountRejectedSample(ctx, ordersdb.CountRejectedSampleParams{ProviderAccountID: acct.ID, WindowStart: n.WindowStart}); err != nil {
					return fmt.Errorf("count rejected sample: %w", err)
				}
			}
		}
		window := n.WindowStart.UTC()
		_, _, err = s.disc.RecordTx(ctx, tx, discrepancies.Finding{
			Type: discrepancies.RejectedCallback, MerchantID: acct.MerchantID, ProviderAccountID: acct.ID,
			Fingerprint: RejectionFingerprint(acct.Name, window),
			Summary: fmt.Sprintf("%d callbacks to %s rejected in the hour from %s UTC (%d kept as samples); the latest from %s: %s",
				n.Deliveries, acct.Name, window.Format("2006-01-02 15:04"), sampled, cb.RemoteAddr, errText),
			// inbox_id: the sample that opened it (zero when none was kept).
			Detail: map[string]any{"window_start": window, "inbox_id": out.InboxID, "remote_addr": cb.RemoteAddr, "error": errText,
				"samples_per_hour": s.opts.RejectedSamplesPerHour},
		})
		return err
	})
	if err != nil {
		return Ingested{}, fmt.Errorf("ingest callback for %s: %w", t.Label, err)
	}
	if out.Verdict == "rejected" {
		out.Reply = adapter.Reply(perr)
	} else {
		// An identical delivery of a callback stored as verified before (the
		// account's secret changed since): it is that callback's repeat.
		out.Reply = adapter.Reply(nil)
	}
	return out, nil
}

// RejectionFingerprint is the fingerprint of the rejected_callback
// discrepancy that counts an account's rejected deliveries in the UTC hour of
// at: one per account and hour.
func RejectionFingerprint(account string, at time.Time) string {
	return discrepancies.Fingerprint(discrepancies.RejectedCallback, account, "hour", at.UTC().Truncate(time.Hour).Format("2006-01-02T15Z"))
}

// maxRejectionText bounds the reason stored with a rejected delivery (the
// adapter's message may quote what the sender wrote).
const maxRejectionText = 300

// boundedText is s as valid UTF-8 of at most n bytes.
func boundedText(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// trimCallback drops what the adapter does not read: query parameters other
// than its callback's, and the body when it reads none.
func trimCallback(cb *providers.Callback, caps providers.Capabilities) {
	q := url.Values{}
	for _, k := range caps.CallbackQuery {
		if v, ok := cb.Query[k]; ok {
			q[k] = v
		}
	}
	cb.Query = q
	if caps.CallbackBodyIgnored || cb.Body == nil {
		cb.Body = []byte{}
	}
}

// ProcessCallbacks applies stored callbacks through the order state machine.
// It is idempotent: a processed callback is skipped, and the ledger keys make a
// second application post nothing. Callbacks processed at the same time share
// a transaction where they can (callbackGroup); the rest, and every callback
// of a group that failed, are applied each in a transaction of its own. A
// callback that could not be applied is named in a *CallbackErrors.
func (s *Service) ProcessCallbacks(ctx context.Context, inboxIDs ...int64) error {
	var done map[int64]bool
	if !s.opts.NoCallbackGroups {
		var err error
		if done, err = s.group.apply(ctx, inboxIDs); err != nil {
			return err
		}
	}
	failed := CallbackErrors{}
	for _, id := range inboxIDs {
		if done[id] {
			continue
		}
		s.group.alone.Add(1)
		err := s.processCallback(ctx, id)
		if deterministic(err) && ctx.Err() == nil {
			// It would fail the same way on every attempt: an accountant sees
			// it now, with the reason, instead of after the last retry.
			s.opts.Logger.Warn("stored callback cannot be applied; flagged", "callback_id", id, "error", err)
			err = s.FailCallback(ctx, id, err)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			failed[id] = err
		}
	}
	if len(failed) > 0 {
		return failed
	}
	return nil
}

// CallbackErrors are the callbacks ProcessCallbacks could not apply, by inbox id.
type CallbackErrors map[int64]error

func (e CallbackErrors) Error() string {
	ids := make([]int64, 0, len(e))
	for id := range e {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "callback %d: %v", id, e[id])
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As each callback's error.
func (e CallbackErrors) Unwrap() []error {
	out := make([]error, 0, len(e))
	for _, err := range e {
		out = append(out, err)
	}
	return out
}

// processCallback applies a stored callback in a transaction of its own.
func (s *Service) processCallback(ctx context.Context, inboxID int64) error {
	in, err := s.q.CallbackByID(ctx, inboxID)
	if err != nil {
		return fmt.Errorf("load callback %d: %w", inboxID, err)
	}
	if in.ProcessedAt != nil || in.Verdict == "rejected" {
		return nil
	}
	adapter, acct, err := s.merchants.AdapterByID(ctx, in.ProviderAccountID)
	if err != nil {
		return err
	}
	ev, err := adapter.ParseCallback(storedCallback(in))
	if errors.Is(err, providers.ErrUnreadableEvent) {
		// Signed, acknowledged, and not an event tally can read: flagged now.
		return s.FailCallback(ctx, inboxID, fmt.Errorf("verified but unreadable: %w", err))
	}
	if err != nil {
		// Acknowledged at intake, refused now (the account's secret changed in
		// between): an accountant must see it.
		return s.FailCallback(ctx, inboxID, fmt.Errorf("no longer verifies: %w", err))
	}
	cb := CallbackEvent{ID: inboxID, Account: acct, Event: *ev}
	if !ev.Verified {
		return s.hint(ctx, cb)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if done, err := lockUnprocessed(ctx, q, inboxID); err != nil || done {
			return err
		}
		res, err := s.ApplyCallbackTx(ctx, tx, cb)
		if err != nil {
			return err
		}
		mark := ordersdb.MarkCallbackProcessedParams{ID: inboxID, Outcome: "no order"}
		if res.OrderID != 0 {
			mark.OrderID, mark.Outcome = &res.OrderID, string(res.Outcome)
		}
		return q.MarkCallbackProcessed(ctx, mark)
	})
}

// lockUnprocessed locks a stored callback inside q's transaction and reports
// whether it was processed meanwhile (by a group, or another job holding it):
// then there is nothing left to do.
func lockUnprocessed(ctx context.Context, q *ordersdb.Queries, inboxID int64) (bool, error) {
	processed, err := q.LockCallback(ctx, inboxID)
	if err != nil {
		return false, fmt.Errorf("lock callback %d: %w", inboxID, err)
	}
	return processed != nil, nil
}

// StaleCallbacks returns up to max stored callbacks (accepted or hints) that
// were stored before cutoff and are still unapplied, oldest first.
func (s *Service) StaleCallbacks(ctx context.Context, cutoff time.Time, max int32) ([]int64, error) {
	ids, err := s.q.StaleCallbacks(ctx, ordersdb.StaleCallbacksParams{Before: cutoff, MaxRows: max})
	if err != nil {
		return nil, fmt.Errorf("stale callbacks: %w", err)
	}
	return ids, nil
}

// UnappliedOf returns which of ids are stored callbacks still to be applied.
func (s *Service) UnappliedOf(ctx context.Context, ids []int64) ([]int64, error) {
	out, err := s.q.UnappliedOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("unapplied callbacks of %d: %w", len(ids), err)
	}
	return out, nil
}

// storedCallback is the request an inbox row stored, to parse again.
func storedCallback(in ordersdb.CallbackInbox) *providers.Callback {
	query, _ := url.ParseQuery(in.Query)
	header := http.Header{}
	var hs map[string][]string
	if json.Unmarshal(in.Headers, &hs) == nil {
		for k, v := range hs {
			header[k] = v
		}
	}
	return &providers.Callback{Method: in.Method, Path: in.Path, Query: query, Header: header, Body: in.Body, RemoteAddr: in.RemoteAddr}
}

// hint handles an unsigned callback: it only makes tally query the order
// (orders' HintTx).
func (s *Service) hint(ctx context.Context, cb CallbackEvent) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if done, err := lockUnprocessed(ctx, q, cb.ID); err != nil || done {
			return err
		}
		orderID, err := s.HintTx(ctx, tx, cb)
		if err != nil {
			return err
		}
		if orderID == 0 {
			return q.MarkCallbackProcessed(ctx, ordersdb.MarkCallbackProcessedParams{ID: cb.ID, Outcome: "hint for an unknown order: ignored"})
		}
		return q.MarkCallbackProcessed(ctx, ordersdb.MarkCallbackProcessedParams{ID: cb.ID, OrderID: &orderID, Outcome: "hint: query queued"})
	})
}

// callbackHash identifies a delivery: identical requests are one inbox row.
func callbackHash(cb *providers.Callback) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", cb.Method, cb.Path, cb.Query.Encode())
	h.Write(cb.Body)
	return h.Sum(nil)
}

// safeHeaders drops headers that may carry credentials before they are stored.
func safeHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if lk == "authorization" || lk == "cookie" || strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.Contains(lk, "key") {
			continue
		}
		out[k] = v
	}
	return out
}

// FailCallback gives up on a stored callback that cannot be applied (its job
// ran out of attempts, or it no longer verifies): it is marked processed with
// the reason and opens a rejected_callback discrepancy, so that it is neither
// lost nor counted as in flight forever.
func (s *Service) FailCallback(ctx context.Context, inboxID int64, cause error) error {
	in, err := s.q.CallbackByID(ctx, inboxID)
	if err != nil {
		return fmt.Errorf("load callback %d: %w", inboxID, err)
	}
	acct, err := s.merchants.ProviderAccountByID(ctx, in.ProviderAccountID)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if done, err := lockUnprocessed(ctx, s.q.WithTx(tx), inboxID); err != nil || done {
			return err
		}
		if _, _, err := s.disc.RecordTx(ctx, tx, discrepancies.Finding{
			Type: discrepancies.RejectedCallback, MerchantID: acct.MerchantID, ProviderAccountID: acct.ID,
			Fingerprint: discrepancies.Fingerprint(discrepancies.RejectedCallback, acct.Name, hex.EncodeToString(in.RequestHash[:12])),
			Summary:     fmt.Sprintf("callback %d to %s could not be applied: %v", inboxID, acct.Name, cause),
			Detail:      map[string]any{"inbox_id": inboxID, "error": cause.Error()},
		}); err != nil {
			return err
		}
		return s.q.WithTx(tx).MarkCallbackProcessed(ctx, ordersdb.MarkCallbackProcessedParams{ID: inboxID, Outcome: "failed: " + cause.Error()})
	})
}

// Rejections is one provider account's rejected callback deliveries in one
// UTC hour.
type Rejections struct {
	MerchantID        int64     `json:"-"`
	ProviderAccountID int64     `json:"-"`
	ProviderAccount   string    `json:"provider_account"`
	Hour              time.Time `json:"hour"`
	// Deliveries counts every rejected delivery taken in (not those a rate
	// limit refused first); Sampled how many kept their request in the inbox.
	Deliveries     int64     `json:"deliveries"`
	Sampled        int32     `json:"sampled"`
	LastRemoteAddr string    `json:"last_remote_addr"`
	LastError      string    `json:"last_error"`
	FirstAt        time.Time `json:"first_at"`
	LastAt         time.Time `json:"last_at"`
}

// RejectionCounts lists rejected deliveries per account and hour since a
// time, newest first; of one merchant when merchantID > 0.
func (s *Service) RejectionCounts(ctx context.Context, merchantID int64, since time.Time) ([]Rejections, error) {
	var mid *int64
	if merchantID > 0 {
		mid = &merchantID
	}
	rows, err := s.q.ListCallbackRejections(ctx, ordersdb.ListCallbackRejectionsParams{MerchantID: mid, Since: since})
	if err != nil {
		return nil, fmt.Errorf("rejected callback counts: %w", err)
	}
	out := make([]Rejections, len(rows))
	for i, r := range rows {
		out[i] = Rejections{MerchantID: r.MerchantID, ProviderAccountID: r.ProviderAccountID, ProviderAccount: r.ProviderAccount,
			Hour: r.WindowStart.UTC(), Deliveries: r.Deliveries, Sampled: r.Sampled, LastRemoteAddr: r.LastRemoteAddr, LastError: r.LastError,
			FirstAt: r.FirstAt, LastAt: r.LastAt}
	}
	return out, nil
}
