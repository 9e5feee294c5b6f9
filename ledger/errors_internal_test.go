package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRetryRetriesOnlyDeadlocksAndSerializationFailures(t *testing.T) {
	t.Parallel()
	l := New(nil, WithMaxAttempts(4))
	for _, c := range []struct {
		code  string
		calls int
	}{
		{"40P01", 4}, // deadlock: tried maxAttempts times
		{"40001", 4}, // serialization failure
		{"23505", 1}, // anything else: once
		{"TL001", 1},
	} {
		calls := 0
		err := l.retry(context.Background(), "test", func() error {
			calls++
			return &pgconn.PgError{Code: c.code}
		})
		if calls != c.calls || err == nil {
			t.Errorf("%s: %d calls, err %v; want %d calls and the error", c.code, calls, err, c.calls)
		}
	}
	calls := 0
	err := l.retry(context.Background(), "test", func() error {
		calls++
		if calls < 3 {
			return &pgconn.PgError{Code: "40P01"}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("recovering deadlock: %d calls, %v", calls, err)
	}
}

func TestFromDBMapsEveryCode(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]error{
		codeIdempotencyConflict: ErrIdempotencyConflict,
		codeHoldNotPending:      ErrHoldNotPending,
		codeHoldExpired:         ErrHoldExpired,
		codePostExceedsHold:     ErrPostExceedsHold,
		codeUnbalanced:          ErrUnbalanced,
		codeScale:               ErrScale,
		codeNotFound:            ErrNotFound,
		codeNonPositive:         ErrNonPositive,
		codeUnknownAccount:      ErrUnknownAccount,
	} {
		if err := fromDB(code, "msg", "", ""); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", code, err, want)
		}
	}
	err := fromDB("23514", "check", "Failing row contains (42, 0, 1, credit, f, 0, 1, 2, 0).", "balances_available_check")
	var fe *fundsError
	if !errors.Is(err, ErrInsufficientFunds) || !errors.As(err, &fe) || fe.accountID != 42 {
		t.Errorf("overdraft: %v", err)
	}
	var pg *pgconn.PgError
	if err := fromDB("57014", "canceled", "", ""); !errors.As(err, &pg) || pg.Code != "57014" {
		t.Errorf("other codes stay database errors: %v", err)
	}
}
