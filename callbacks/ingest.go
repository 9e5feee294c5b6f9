package callbacks

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/callbacksdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

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

// Target is the provider account a callback URL routes to.
type Target struct {
	Adapter providers.Adapter
	Account merchants.ProviderAccount
	// Label names the account in metrics and logs as "merchant/account" (the
	// merchant's code and the account's name; never the callback key).
	Label string
}

// AllowsMethod reports whether the provider calls its callback URL with
// method: POST always, GET only where its document does (USDTCNPAY's success
// and fail URLs).
func (t Target) AllowsMethod(method string) bool {
	switch method {
	case http.MethodPost:
		return true
	case http.MethodGet:
		return t.Adapter.Capabilities().CallbackGET
	}
	return false
}

// Resolve resolves the {key} of /callbacks/{key}: the provider account with
// that callback key (merchants.Service.AdapterByCallbackKey). No account is
// ErrUnknownAccount; a key that cannot be one is refused without a database
// read.
func (s *Service) Resolve(ctx context.Context, key string) (Target, error) {
	adapter, acct, err := s.merchants.AdapterByCallbackKey(ctx, key)
	if errors.Is(err, merchants.ErrNotFound) {
		return Target{}, ErrUnknownAccount
	}
	if err != nil {
		return Target{}, err
	}
	return Target{Adapter: adapter, Account: acct, Label: s.merchants.Label(ctx, acct)}, nil
}

// KnownKey reports whether key routes to an account this process has read
// before (merchants.Service.KnownCallbackKey), so that resolving it costs no
// lookup of an unknown key. It never reads the database.
func (s *Service) KnownKey(key string) bool { return s.merchants.KnownCallbackKey(key) }

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
func (s *Service) Ingest(ctx context.Context, t Target, cb *providers.Callback, admit Admit) (Ingested, error) {
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
		out, err := s.intake.store(ctx, &intakeItem{verdict: verdict, done: make(chan intakeResult, 1), params: callbacksdb.InsertCallbacksParams{
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
		n, err := q.CountRejectedCallback(ctx, callbacksdb.CountRejectedCallbackParams{ProviderAccountID: acct.ID, MerchantID: acct.MerchantID,
			RemoteAddr: cb.RemoteAddr, Error: errText})
		if err != nil {
			return fmt.Errorf("count rejected callback: %w", err)
		}
		out = Ingested{Verdict: verdict}
		sampled := n.Sampled
		if int(n.Sampled) < s.opts.RejectedSamplesPerHour {
			row, err := q.InsertCallback(ctx, callbacksdb.InsertCallbackParams{
				ProviderAccountID: acct.ID, MerchantID: acct.MerchantID, RequestHash: hash, Method: cb.Method, Path: cb.Path,
				Query: cb.Query.Encode(), Headers: headers, Body: cb.Body, RemoteAddr: cb.RemoteAddr, Verdict: verdict, Error: errText,
			})
			if err != nil {
				return fmt.Errorf("store callback: %w", err)
			}
			out.InboxID, out.Verdict, out.Repeat, out.Sampled = row.ID, row.Verdict, !row.Inserted, true
			if row.Inserted {
				sampled++
				if err := q.CountRejectedSample(ctx, callbacksdb.CountRejectedSampleParams{ProviderAccountID: acct.ID, WindowStart: n.WindowStart}); err != nil {
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
	rows, err := s.q.ListCallbackRejections(ctx, callbacksdb.ListCallbackRejectionsParams{MerchantID: mid, Since: since})
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
