package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/tallytest"
)

// TestUnapplicableCallbackFlaggedAtOnce: a callback CXPay signed whose content
// cannot be an event (a negative fee) is acknowledged as any verified callback
// is, then becomes a rejected_callback discrepancy with the reason on its
// first attempt: never retried, never left pending.
func TestUnapplicableCallbackFlaggedAtOnce(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "u1", "80.00")
	params := map[string]string{"platOrderId": "P-" + o.ProviderOrderNo, "orderId": o.ProviderOrderNo, "amount": "80.00",
		"status": "1", "reverse": "false", "remark": "", "fee": "-1.00"}
	params["sign"] = cxpay.Sign(params, sandbox.DefaultCredentials["cxpay"].Secret)
	body, err := json.Marshal(map[string]any{"platOrderId": params["platOrderId"], "orderId": params["orderId"],
		"amount": json.Number("80.00"), "status": 1, "reverse": false, "remark": "", "fee": json.Number("-1.00"), "sign": params["sign"]})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.CallbackURL("cxpay"), "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(ack) != cxpay.Ack {
		t.Fatalf("a signed callback answered %d %q, want 200 %q", resp.StatusCode, ack, cxpay.Ack)
	}
	e.WaitIdle()
	var outcome string
	var attempts int
	if err := e.Pool.QueryRow(context.Background(), `SELECT coalesce(outcome, ''), (SELECT max(attempt) FROM river_job WHERE kind = 'process_callback')
		FROM callback_inbox WHERE verdict = 'accepted'`).Scan(&outcome, &attempts); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(outcome, "failed: ") || attempts != 1 {
		t.Fatalf("stored callback: outcome %q after %d attempts, want failed on the first", outcome, attempts)
	}
	ds := e.Discrepancies(discrepancies.RejectedCallback)
	if len(ds) != 1 || !strings.Contains(ds[0].Summary, "fee") {
		t.Fatalf("rejected_callback discrepancies: %+v, want one naming the fee", ds)
	}
	if got := e.Order(o.ID); got.Status != orders.StatusPending {
		t.Fatalf("order %s, want pending: nothing applied", got.Status)
	}
	e.CheckLedger()
}
