package providers

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/tallyhq/tally/egress"
)

// Problem is what a merchant is told about a failed provider call: a stable
// code and a message of tally's own. A provider's answer (its message, its
// body, whatever a base URL answered) is never part of it: it is kept for
// staff (Redact, Snippet) and shown to no merchant.
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// String is "code: message".
func (p Problem) String() string {
	if p.Code == "" {
		return ""
	}
	return p.Code + ": " + p.Message
}

// Codes of Problem, stable: merchants act on them.
const (
	// CodeEgressRefused: the base URL leads to an address the egress policy
	// refuses; nothing was sent.
	CodeEgressRefused = "egress_refused"
	// CodeUnreachable: no connection, no answer in time, or an answer cut off.
	CodeUnreachable = "provider_unreachable"
	// CodeUnavailable: the provider answered with an error status (5xx, 429).
	CodeUnavailable = "provider_unavailable"
	// CodeUnreadable: the provider answered something tally cannot read.
	CodeUnreadable = "provider_answer_unreadable"
	// CodeBadSignature: the provider's answer did not verify.
	CodeBadSignature = "provider_bad_signature"
	// CodeRejected: the provider refused the request.
	CodeRejected = "provider_rejected"
	// CodeInvalidRequest: the request cannot be made to this provider.
	CodeInvalidRequest = "provider_invalid_request"
	// CodeNotFound: the provider does not know the order.
	CodeNotFound = "provider_order_not_found"
	// CodeUnsupported: the provider does not offer the operation.
	CodeUnsupported = "provider_unsupported"
	// CodeError: any other failure of a provider call.
	CodeError = "provider_error"
)

var problemMessages = map[string]string{
	CodeEgressRefused:  "the provider account's base URL leads to an address this tally does not call (its egress policy); nothing was sent",
	CodeUnreachable:    "the provider could not be reached or did not answer in time",
	CodeUnavailable:    "the provider answered with an error status",
	CodeUnreadable:     "the provider's answer is unreadable",
	CodeBadSignature:   "the provider's answer did not verify",
	CodeRejected:       "the provider refused the request",
	CodeInvalidRequest: "the request cannot be made to this provider as it is",
	CodeNotFound:       "the provider does not know the order",
	CodeUnsupported:    "the provider does not offer this operation",
	CodeError:          "the provider call failed",
}

// ProblemOf is the Problem of a code (CodeError's message for an unknown one).
func ProblemOf(code string) Problem {
	m, ok := problemMessages[code]
	if !ok {
		return Problem{Code: CodeError, Message: problemMessages[CodeError]}
	}
	return Problem{Code: code, Message: m}
}

// Describe is the Problem of a provider call's error; the zero Problem for nil.
func Describe(err error) Problem {
	switch {
	case err == nil:
		return Problem{}
	case errors.Is(err, egress.ErrRefused):
		return ProblemOf(CodeEgressRefused)
	case errors.Is(err, ErrBadSignature):
		return ProblemOf(CodeBadSignature)
	case errors.Is(err, ErrRejected):
		return ProblemOf(CodeRejected)
	case errors.Is(err, ErrInvalidRequest):
		return ProblemOf(CodeInvalidRequest)
	case errors.Is(err, ErrNotFound):
		return ProblemOf(CodeNotFound)
	case errors.Is(err, ErrUnsupported):
		return ProblemOf(CodeUnsupported)
	case network(err):
		return ProblemOf(CodeUnreachable)
	case errors.Is(err, ErrTransient), errors.Is(err, ErrAmbiguous):
		if httpStatus(err) {
			return ProblemOf(CodeUnavailable)
		}
		return ProblemOf(CodeUnreadable)
	}
	return ProblemOf(CodeError)
}

// IsProviderError reports whether err comes from a provider call (an
// adapter's error, or the egress policy's refusal): what Describe describes.
func IsProviderError(err error) bool {
	var pe *Error
	return errors.As(err, &pe) || KindOf(err) != nil || errors.Is(err, egress.ErrRefused)
}

// network reports whether err is a failure to connect, to get an answer in
// time, or to read it whole.
func network(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// httpStatus reports whether err is a provider's error status (Error.Code
// "503" or "HTTP 503").
func httpStatus(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return false
	}
	n, convErr := strconv.Atoi(strings.TrimPrefix(pe.Code, "HTTP "))
	return convErr == nil && n >= 400 && n <= 599
}

// Public wraps the error of a provider call so that its text is tally's own:
// the provider, the operation and Describe's code and message, never the
// provider's answer. errors.Is and errors.As still see everything inside it
// (the kind, the cause). It is what tally hands to logs an operator reads at
// info level and above, and to the job queue, which stores and logs errors;
// the provider's words (redacted) go to staff-only timeline entries and the
// debug log. An error that is not a provider call's is returned as it is.
func Public(err error) error {
	if err == nil || !IsProviderError(err) {
		return err
	}
	var pe *publicError
	if errors.As(err, &pe) {
		return err
	}
	return &publicError{err: err}
}

type publicError struct{ err error }

func (e *publicError) Error() string {
	var pe *Error
	if errors.As(e.err, &pe) {
		return pe.Provider + " " + pe.Op + ": " + Describe(e.err).String()
	}
	return Describe(e.err).String()
}

func (e *publicError) Unwrap() error { return e.err }
