package providers_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestErrorFormatAndUnwrap(t *testing.T) {
	e := &providers.Error{Kind: providers.ErrRejected, Provider: "cpay", Op: "createOrder", Code: "1", Message: "insufficient balance", Err: io.EOF}
	if got, want := e.Error(), "cpay createOrder: rejected by provider (code 1): insufficient balance: EOF"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, providers.ErrRejected) || !errors.Is(e, io.EOF) || errors.Is(e, providers.ErrTransient) {
		t.Fatal("Unwrap does not expose exactly the kind and the cause")
	}
	wrapped := fmt.Errorf("submit order 7: %w", e)
	var pe *providers.Error
	if !errors.As(wrapped, &pe) || pe.Code != "1" || providers.KindOf(wrapped) != providers.ErrRejected {
		t.Fatalf("through a wrap: %v", wrapped)
	}
	bare := &providers.Error{Kind: providers.ErrTransient, Provider: "vpay", Op: "pay"}
	if got := bare.Error(); got != "vpay pay: transient provider failure" {
		t.Fatalf("bare Error() = %q", got)
	}
	if got := providers.Invalid("p", "op", "amount %s", "1.001").Error(); got != "p op: invalid request: amount 1.001" {
		t.Fatalf("Invalid = %q", got)
	}
	if u := providers.Unsupported("usdtpay", "queryOrder"); !errors.Is(u, providers.ErrUnsupported) || u.Error() != "usdtpay queryOrder: unsupported by provider" {
		t.Fatalf("Unsupported = %v", u)
	}
}

func TestKindOf(t *testing.T) {
	kinds := []error{providers.ErrInvalidRequest, providers.ErrRejected, providers.ErrTransient, providers.ErrAmbiguous,
		providers.ErrBadSignature, providers.ErrUnsupported, providers.ErrNotFound}
	for _, k := range kinds {
		if got := providers.KindOf(providers.Errorf(k, "p", "op", "x")); got != k {
			t.Errorf("KindOf(%v error) = %v", k, got)
		}
		if got := providers.KindOf(fmt.Errorf("outer: %w", k)); got != k {
			t.Errorf("KindOf(wrapped %v) = %v", k, got)
		}
	}
	if got := providers.KindOf(nil); got != nil {
		t.Errorf("KindOf(nil) = %v", got)
	}
	if got := providers.KindOf(io.EOF); got != nil {
		t.Errorf("KindOf(io.EOF) = %v", got)
	}
	// A duplicate refusal is a rejection that also says the order exists.
	dup := &providers.Error{Kind: providers.ErrRejected, Provider: "p", Op: "create", Err: providers.ErrDuplicateOrder}
	if providers.KindOf(dup) != providers.ErrRejected || !errors.Is(dup, providers.ErrDuplicateOrder) {
		t.Errorf("duplicate: kind %v", providers.KindOf(dup))
	}
}
