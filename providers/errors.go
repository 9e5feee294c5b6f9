package providers

import (
	"errors"
	"fmt"
)

// Error kinds the job layer tells apart with errors.Is. Every error an adapter
// returns wraps exactly one of them.
var (
	// ErrInvalidRequest: the request is wrong and would be refused again; never retry.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrRejected: the provider refused the request definitively; the order fails.
	ErrRejected = errors.New("rejected by provider")
	// ErrTransient: the provider did not act (connection refused, 5xx on a query,
	// rate limit); retry with backoff.
	ErrTransient = errors.New("transient provider failure")
	// ErrAmbiguous: the provider may have acted (timeout or 5xx after a create was
	// sent); query the order before creating it again.
	ErrAmbiguous = errors.New("ambiguous provider outcome")
	// ErrBadSignature: a callback or response whose signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnsupported: the provider does not offer this operation.
	ErrUnsupported = errors.New("unsupported by provider")
	// ErrNotFound: the provider does not know the order.
	ErrNotFound = errors.New("order not found at provider")
	// ErrDuplicateOrder is wrapped, beside ErrRejected, by a create the provider
	// refused because the order number exists: after an ambiguous create at a
	// provider without an order query, it proves the first create worked.
	ErrDuplicateOrder = errors.New("order number already exists at provider")
	// ErrUnreadableEvent is wrapped, beside ErrInvalidRequest, by a callback
	// whose signature verified but whose content cannot be read as an event
	// (a value outside its document's range, a required field missing): the
	// provider did send it, so tally stores and acknowledges it and an
	// accountant sees it, instead of asking the provider to send it again.
	ErrUnreadableEvent = errors.New("verified callback unreadable")
)

// Unreadable marks err, found after a callback's signature verified, as
// ErrUnreadableEvent; nil stays nil.
func Unreadable(err error) error {
	if err == nil {
		return nil
	}
	return &unreadable{err}
}

type unreadable struct{ err error }

func (u *unreadable) Error() string   { return u.err.Error() }
func (u *unreadable) Unwrap() []error { return []error{ErrUnreadableEvent, u.err} }

// Error is an adapter error with the provider's own code and message.
type Error struct {
	Kind     error  // one of the sentinel errors above
	Provider string // "cpay"
	Op       string // "createOrder"
	Code     string // the provider's own code, when it sent one
	Message  string // the provider's own message, or ours
	Err      error  // the underlying cause, if any
}

// Error formats the error without any secret: providers' messages never echo them.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Provider, e.Op, e.Kind)
	if e.Code != "" {
		s += " (code " + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Errorf builds an *Error of the given kind with a formatted message.
func Errorf(kind error, provider, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Provider: provider, Op: op, Message: fmt.Sprintf(format, args...)}
}

// Invalid is shorthand for an ErrInvalidRequest error found before any call.
func Invalid(provider, op, format string, args ...any) *Error {
	return Errorf(ErrInvalidRequest, provider, op, format, args...)
}

// Unsupported is shorthand for an ErrUnsupported error.
func Unsupported(provider, op string) *Error {
	return &Error{Kind: ErrUnsupported, Provider: provider, Op: op}
}

// KindOf returns the sentinel kind err wraps, or nil when it wraps none.
func KindOf(err error) error {
	for _, k := range []error{ErrInvalidRequest, ErrRejected, ErrTransient, ErrAmbiguous, ErrBadSignature, ErrUnsupported, ErrNotFound} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
