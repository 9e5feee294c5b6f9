package merchants_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tallyhq/tally/merchants"
)

// TestWebhookEventSubscriptions: a merchant receives order events only until
// it subscribes to more; kinds are checked and kept in one order.
func TestWebhookEventSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t)
	m, _, err := s.CreateMerchant(ctx, "acme", "Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.WebhookEvents, []string{merchants.EventOrder}) || m.Subscribed(merchants.EventDiscrepancyOpened) {
		t.Fatalf("a new merchant receives %v, want order events only", m.WebhookEvents)
	}
	m, err = s.SetWebhookEvents(ctx, "acme", []string{"discrepancy", "order"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{merchants.EventOrder, merchants.EventDiscrepancyOpened, merchants.EventDiscrepancyResolved}
	if !slices.Equal(m.WebhookEvents, want) {
		t.Fatalf("after subscribing: %v, want %v", m.WebhookEvents, want)
	}
	if m, err = s.MerchantByID(ctx, m.ID); err != nil || !m.Subscribed(merchants.EventDiscrepancyResolved) {
		t.Fatalf("read back: %v %v", m.WebhookEvents, err)
	}
	for _, bad := range [][]string{{"order.created"}, {""}, nil} {
		if _, err := s.SetWebhookEvents(ctx, "acme", bad); !errors.Is(err, merchants.ErrInvalid) {
			t.Errorf("SetWebhookEvents(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if m, _ = s.MerchantByID(ctx, m.ID); !slices.Equal(m.WebhookEvents, want) {
		t.Fatalf("a refused change changed the subscriptions: %v", m.WebhookEvents)
	}
}
