package ledger

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// Refusals. Every error the ledger returns for a request it refuses wraps exactly
// one of these, so that callers tell them apart with errors.Is; the wrapping text
// says which transfer, account or amount.
var (
	// ErrInvalid: the request is malformed (no merchant, no key, a reserved key,
	// an unknown side).
	ErrInvalid = errors.New("ledger: invalid request")
	// ErrUnbalanced: debits and credits of a transfer differ in some currency, or
	// it has fewer than two entries.
	ErrUnbalanced = errors.New("ledger: transfer does not balance")
	// ErrScale: an amount has more decimal places than its currency allows.
	ErrScale = errors.New("ledger: amount has more digits than its currency's scale")
	// ErrNonPositive: an amount is zero or negative.
	ErrNonPositive = errors.New("ledger: amount is not positive")
	// ErrUnknownCurrency: the currency is not in the currencies table.
	ErrUnknownCurrency = errors.New("ledger: unknown currency")
	// ErrUnknownAccount: the account code matches no rule of the chart, or the
	// account id does not belong to the merchant.
	ErrUnknownAccount = errors.New("ledger: unknown account")
	// ErrCurrencyMismatch: an entry's currency differs from its account's.
	ErrCurrencyMismatch = errors.New("ledger: entry currency differs from account currency")
	// ErrInsufficientFunds: the transfer would take an account that may not go
	// negative below zero available; the whole transfer is refused.
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrIdempotencyConflict: the idempotency key was already used for a transfer
	// with different content.
	ErrIdempotencyConflict = errors.New("ledger: idempotency key reused with different content")
	// ErrHoldNotPending: the hold was already committed, voided or expired, or the
	// transfer named is not a hold.
	ErrHoldNotPending = errors.New("ledger: transfer is not a pending hold")
	// ErrHoldExpired: the hold's deadline has passed; it can only expire.
	ErrHoldExpired = errors.New("ledger: hold has expired")
	// ErrPostExceedsHold: a post would take more than the hold holds on an account.
	ErrPostExceedsHold = errors.New("ledger: post exceeds the held amount")
	// ErrNotFound: no such transfer, hold, account or merchant.
	ErrNotFound = errors.New("ledger: not found")
	// ErrConflict is not a refusal of the request but of its timing: a deadlock
	// or serialization failure persisted through the ledger's own retries (for a
	// Tx form under REPEATABLE READ or SERIALIZABLE, a serialization failure is
	// not retried at all: the snapshot is the caller's). The call wrote nothing;
	// a Tx form's caller transaction is still usable, but it holds what it locked
	// before the call, which may be what the other transaction waits for: roll it
	// back and run the whole transaction again. The database error (SQLSTATE
	// 40P01 or 40001) stays in the chain.
	ErrConflict = errors.New("ledger: conflict with a concurrent transaction")
)

// SQLSTATE codes raised by the ledger's plpgsql functions (migration 00002).
const (
	codeIdempotencyConflict = "TL001"
	codeHoldNotPending      = "TL002"
	codeHoldExpired         = "TL003"
	codePostExceedsHold     = "TL004"
	codeUnbalanced          = "TL005"
	codeScale               = "TL006"
	codeNotFound            = "TL007"
	codeNonPositive         = "TL008"
	codeNotDue              = "TL009"
	codeUnknownAccount      = "TL011"
)

// errNotDue is internal: ExpirePending raced with a change of deadline view.
var errNotDue = errors.New("ledger: hold is not due to expire")

// fundsError is an ErrInsufficientFunds that knows the account's id (from the
// CHECK violation's failing row), so that the message can name the account.
type fundsError struct{ accountID int64 }

// Error names the account by id (Ledger.describe replaces it by its code).
func (e *fundsError) Error() string {
	return fmt.Sprintf("account id %d: %s", e.accountID, ErrInsufficientFunds)
}

// Unwrap makes errors.Is(err, ErrInsufficientFunds) hold.
func (e *fundsError) Unwrap() error { return ErrInsufficientFunds }

// failingAccount finds the account id in "Failing row contains (12, 0, ...)".
var failingAccount = regexp.MustCompile(`Failing row contains \((\d+),`)

// fromDB turns a database refusal into the ledger's sentinel errors. Other errors
// are returned as they are.
func fromDB(code, message, detail, constraint string) error {
	var sentinel error
	switch code {
	case codeIdempotencyConflict:
		sentinel = ErrIdempotencyConflict
	case codeHoldNotPending:
		sentinel = ErrHoldNotPending
	case codeHoldExpired:
		sentinel = ErrHoldExpired
	case codePostExceedsHold:
		sentinel = ErrPostExceedsHold
	case codeUnbalanced:
		sentinel = ErrUnbalanced
	case codeScale:
		sentinel = ErrScale
	case codeNotFound:
		sentinel = ErrNotFound
	case codeNonPositive:
		sentinel = ErrNonPositive
	case codeNotDue:
		sentinel = errNotDue
	case codeUnknownAccount:
		sentinel = ErrUnknownAccount
	case "23503": // foreign_key_violation
		switch constraint {
		case "accounts_merchant_id_fkey":
			return fmt.Errorf("no such merchant (%s): %w", message, ErrNotFound)
		case "accounts_currency_fkey":
			return fmt.Errorf("no such currency (%s): %w", message, ErrUnknownCurrency)
		}
	case "23514": // check_violation
		if constraint == "balances_available_check" {
			fe := &fundsError{}
			if m := failingAccount.FindStringSubmatch(detail); m != nil {
				fe.accountID, _ = strconv.ParseInt(m[1], 10, 64)
			}
			return fe
		}
	}
	if sentinel == nil {
		return &pgconn.PgError{Severity: "ERROR", Code: code, Message: message, Detail: detail, ConstraintName: constraint}
	}
	return fmt.Errorf("%s: %w", message, sentinel)
}

// mapError maps a *pgconn.PgError raised by the database to a ledger sentinel.
func mapError(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		mapped := fromDB(pg.Code, pg.Message, pg.Detail, pg.ConstraintName)
		var still *pgconn.PgError
		if errors.As(mapped, &still) {
			return err
		}
		return mapped
	}
	return err
}

// retryable reports whether err is a deadlock or serialization failure, after
// which the pool form tries the whole statement again.
func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return retryableCode(pg.Code)
	}
	return false
}

// retryableCode reports whether SQLSTATE code is a deadlock or serialization
// failure.
func retryableCode(code string) bool { return code == "40P01" || code == "40001" }
