package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// preparedTransfer is a validated TransferRequest: its entries with their chart
// specs, its content hash and its metadata as JSON.
type preparedTransfer struct {
	entries   []preparedEntry
	hash      []byte
	metadata  []byte
	expiresAt time.Time // truncated to the database's microseconds
}

type preparedEntry struct {
	Entry
	spec AccountSpec
}

// prepareTransfer checks everything about req before the write: merchant and
// key, at least two entries, known accounts and currencies (cur, the currency
// registry), matching currencies, positive amounts within scale, and balance per
// currency.
func prepareTransfer(req TransferRequest, cur currencyLookup) (preparedTransfer, error) {
	var p preparedTransfer
	if err := checkMerchantKey(req.Merchant, req.Key); err != nil {
		return p, err
	}
	if !req.Pending && !req.ExpiresAt.IsZero() {
		return p, fmt.Errorf("a deadline on a transfer that is not pending: %w", ErrInvalid)
	}
	entries, err := prepareEntries(req.Entries, cur)
	if err != nil {
		return p, err
	}
	p.entries = entries
	if !req.ExpiresAt.IsZero() {
		p.expiresAt = req.ExpiresAt.Truncate(time.Microsecond).UTC()
	}
	if p.metadata, err = metadataJSON(req.Metadata); err != nil {
		return p, err
	}
	h := newHasher("transfer")
	h.bool(req.Pending)
	if p.expiresAt.IsZero() {
		h.int(0)
	} else {
		h.int(p.expiresAt.UnixMicro())
	}
	h.str(req.Reference)
	h.bytes(p.metadata)
	h.entries(entries)
	p.hash = h.sum()
	return p, nil
}

// preparedResolution is a validated Resolution.
type preparedResolution struct {
	entries  []preparedEntry
	hash     []byte
	metadata []byte
}

// prepareResolution checks a Resolution for action. The hash leaves out how the
// hold is named (id or key); the database compares the hold itself.
func prepareResolution(action string, r Resolution, cur currencyLookup) (preparedResolution, error) {
	var p preparedResolution
	if err := checkMerchantKey(r.Merchant, r.Key); err != nil && action != actionExpire {
		return p, err
	}
	if (r.Hold == 0) == (r.HoldKey == "") {
		return p, fmt.Errorf("name the hold by id or by key (one of them): %w", ErrInvalid)
	}
	if r.Hold < 0 {
		return p, fmt.Errorf("hold id %d: %w", r.Hold, ErrInvalid)
	}
	if action != actionPost && (!r.Amount.IsZero() || len(r.Entries) > 0) {
		return p, fmt.Errorf("an amount or entries given to %s: %w", action, ErrInvalid)
	}
	if r.Amount.Sign() < 0 {
		return p, fmt.Errorf("amount %s: %w", r.Amount, ErrNonPositive)
	}
	if !r.Amount.IsZero() && len(r.Entries) > 0 {
		return p, fmt.Errorf("both an amount and entries: %w", ErrInvalid)
	}
	if len(r.Entries) > 0 {
		entries, err := prepareEntries(r.Entries, cur)
		if err != nil {
			return p, err
		}
		p.entries = entries
	}
	var err error
	if p.metadata, err = metadataJSON(r.Metadata); err != nil {
		return p, err
	}
	h := newHasher("resolve")
	h.str(action)
	h.str(r.Amount.String())
	h.str(r.Reference)
	h.bytes(p.metadata)
	h.entries(p.entries)
	p.hash = h.sum()
	return p, nil
}

func checkMerchantKey(merchant int64, key string) error {
	if merchant <= 0 {
		return fmt.Errorf("merchant %d: %w", merchant, ErrInvalid)
	}
	if key == "" || len(key) > 255 {
		return fmt.Errorf("idempotency key %q must have 1 to 255 bytes: %w", key, ErrInvalid)
	}
	if strings.HasPrefix(key, reservedPrefix) {
		return fmt.Errorf("idempotency key %q: the prefix %q is reserved: %w", key, reservedPrefix, ErrInvalid)
	}
	return nil
}

// prepareEntries validates entries on their own (see prepareTransfer).
func prepareEntries(entries []Entry, cur currencyLookup) ([]preparedEntry, error) {
	if len(entries) < 2 {
		return nil, fmt.Errorf("%d entries, a transfer needs at least two: %w", len(entries), ErrUnbalanced)
	}
	out := make([]preparedEntry, len(entries))
	net := map[string]decimal.Decimal{}
	for i, e := range entries {
		if e.Side != Debit && e.Side != Credit {
			return nil, fmt.Errorf("entry %d: side %q: %w", i, e.Side, ErrInvalid)
		}
		spec, err := ParseAccount(e.Account)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		c, err := cur(spec.Currency)
		if err != nil {
			return nil, fmt.Errorf("entry %d: account %s: %w", i, e.Account, err)
		}
		if e.Currency != "" {
			if _, err := cur(e.Currency); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			if e.Currency != spec.Currency {
				return nil, fmt.Errorf("entry %d: %s on account %s: %w", i, e.Currency, e.Account, ErrCurrencyMismatch)
			}
		}
		if e.Amount.Sign() <= 0 {
			return nil, fmt.Errorf("entry %d: amount %s: %w", i, e.Amount, ErrNonPositive)
		}
		scale := c.Scale
		if !e.Amount.Equal(e.Amount.Truncate(scale)) {
			return nil, fmt.Errorf("entry %d: amount %s has more than %d decimal places for %s: %w",
				i, e.Amount, scale, spec.Currency, ErrScale)
		}
		e.Currency = spec.Currency
		out[i] = preparedEntry{Entry: e, spec: spec}
		if e.Side == Debit {
			net[spec.Currency] = net[spec.Currency].Add(e.Amount)
		} else {
			net[spec.Currency] = net[spec.Currency].Sub(e.Amount)
		}
	}
	for _, cur := range sortedKeys(net) {
		if !net[cur].IsZero() {
			return nil, fmt.Errorf("debits exceed credits by %s %s: %w", net[cur], cur, ErrUnbalanced)
		}
	}
	return out, nil
}

// metadataJSON encodes metadata canonically (encoding/json sorts map keys).
func metadataJSON(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return b, nil
}

// hasher builds the content hash of a request: length-prefixed fields, entries
// sorted, amounts normalised ("10.50" and "10.5" are the same content).
type hasher struct{ buf []byte }

func newHasher(kind string) *hasher {
	h := &hasher{}
	h.str("tally-ledger-v1")
	h.str(kind)
	return h
}

func (h *hasher) bytes(b []byte) {
	h.buf = binary.AppendUvarint(h.buf, uint64(len(b)))
	h.buf = append(h.buf, b...)
}

func (h *hasher) str(s string) { h.bytes([]byte(s)) }

func (h *hasher) int(n int64) { h.buf = binary.AppendVarint(h.buf, n) }

func (h *hasher) bool(b bool) {
	if b {
		h.int(1)
	} else {
		h.int(0)
	}
}

func (h *hasher) entries(entries []preparedEntry) {
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = e.Account + "\x00" + string(e.Side) + "\x00" + e.Amount.String() + "\x00" + e.spec.Currency
	}
	sort.Strings(lines)
	h.int(int64(len(lines)))
	for _, l := range lines {
		h.str(l)
	}
}

func (h *hasher) sum() []byte {
	s := sha256.Sum256(h.buf)
	return s[:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
