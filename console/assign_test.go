package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tallyhq/tally/staff"
)

// openDiscrepancy inserts an open discrepancy of a merchant and returns its id.
func (s *site) openDiscrepancy(merchantID int64, fingerprint string) int64 {
	s.t.Helper()
	var id int64
	err := s.pool.QueryRow(context.Background(), `INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency, amount_delta, summary, first_seen_at)
		VALUES ($1, 'amount_mismatch', $2, 'medium', 'BRL', 12.50, 'test ' || $2, now()) RETURNING id`, merchantID, fingerprint).Scan(&id)
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// assignedTo is whom a discrepancy is assigned to (0: nobody).
func (s *site) assignedTo(id int64) int64 {
	s.t.Helper()
	var to *int64
	if err := s.pool.QueryRow(context.Background(), "SELECT assigned_to FROM discrepancies WHERE id = $1", id).Scan(&to); err != nil {
		s.t.Fatal(err)
	}
	if to == nil {
		return 0
	}
	return *to
}

// flash is the flash message a redirect after a form carries.
func flash(t *testing.T, a answer) string {
	t.Helper()
	if a.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303: %s", a.status, a.body)
	}
	u, err := url.Parse(a.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("flash")
}

// TestAssignOnlyToWhoMayWorkOnIt: discrepancies are assigned only to an
// enabled accountant, approver or admin who sees their merchant; every
// checked discrepancy is checked before any is assigned, and the refusal is
// the flash message.
func TestAssignOnlyToWhoMayWorkOnIt(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	ma, err := s.merchants.EnsureMerchant(ctx, "alpha", "Alpha")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.merchants.EnsureMerchant(ctx, "beta", "Beta")
	if err != nil {
		t.Fatal(err)
	}
	// dB is older (a smaller id) than dA1: refusing dA1 must undo nothing.
	dB := s.openDiscrepancy(mb.ID, "b1")
	dA1 := s.openDiscrepancy(ma.ID, "a1")
	dA2 := s.openDiscrepancy(ma.ID, "a2")
	closed := s.openDiscrepancy(ma.ID, "a3")
	if _, err := s.pool.Exec(ctx, "UPDATE discrepancies SET status = 'resolved', resolved_at = now() WHERE id = $1", closed); err != nil {
		t.Fatal(err)
	}

	_, lead := s.user("lead@example.com", staff.Accountant)
	_, leadA := s.user("lead-a@example.com", staff.Accountant, ma.ID)
	viewer, _ := s.user("viewer@example.com", staff.Viewer)
	gone, _ := s.user("gone@example.com", staff.Accountant)
	if _, err := s.staff.SetDisabled(ctx, gone.ID, true); err != nil {
		t.Fatal(err)
	}
	onlyB, _ := s.user("only-b@example.com", staff.Accountant, mb.ID)
	approverA, _ := s.user("approver-a@example.com", staff.Approver, ma.ID)
	admin, _ := s.user("admin@example.com", staff.Admin)

	assign := func(token string, to int64, ids ...int64) answer {
		t.Helper()
		form := url.Values{"assignee": {strconv.FormatInt(to, 10)}, "back": {"/console/discrepancies"}}
		for _, id := range ids {
			form.Add("id", strconv.FormatInt(id, 10))
		}
		return s.do("POST", "/console/discrepancies/assign", token, form)
	}
	unassigned := func(ids ...int64) {
		t.Helper()
		for _, id := range ids {
			if to := s.assignedTo(id); to != 0 {
				t.Fatalf("discrepancy %d assigned to %d", id, to)
			}
		}
	}

	for _, c := range []struct {
		name  string
		to    int64
		ids   []int64
		flash string
	}{
		{"viewer", viewer.ID, []int64{dA1}, "Assignment refused: viewer@example.com is a viewer, who only reads. Nothing was assigned."},
		{"disabled", gone.ID, []int64{dA1}, "Assignment refused: gone@example.com is disabled. Nothing was assigned."},
		{"no such user", 999999, []int64{dA1}, "Assignment refused: that user does not exist. Nothing was assigned."},
		{"merchant not seen", onlyB.ID, []int64{dB, dA1},
			"Assignment refused: only-b@example.com does not see the merchant of discrepancy " + strconv.FormatInt(dA1, 10) + ". Nothing was assigned."},
		{"approver of another merchant", approverA.ID, []int64{dA1, dB},
			"Assignment refused: approver-a@example.com does not see the merchant of discrepancy " + strconv.FormatInt(dB, 10) + ". Nothing was assigned."},
		{"closed", admin.ID, []int64{dA1, closed},
			"Assignment refused: discrepancy " + strconv.FormatInt(closed, 10) + " is resolved. Nothing was assigned."},
	} {
		if got := flash(t, assign(lead, c.to, c.ids...)); got != c.flash {
			t.Errorf("%s: flash %q, want %q", c.name, got, c.flash)
		}
		unassigned(dB, dA1, dA2)
	}

	// A discrepancy of a merchant the assigning user does not see is not
	// found, and nothing else checked is assigned.
	if a := assign(leadA, approverA.ID, dA1, dB); a.status != http.StatusNotFound {
		t.Fatalf("other merchant's discrepancy: %d", a.status)
	}
	unassigned(dB, dA1, dA2)

	// An approver who sees the merchant, an admin, an accountant: assigned.
	if got := flash(t, assign(leadA, approverA.ID, dA1, dA2)); got != "2 assigned." {
		t.Fatalf("assign to the approver: %q", got)
	}
	if s.assignedTo(dA1) != approverA.ID || s.assignedTo(dA2) != approverA.ID {
		t.Fatalf("assigned to %d, %d; want %d", s.assignedTo(dA1), s.assignedTo(dA2), approverA.ID)
	}
	if got := flash(t, assign(lead, onlyB.ID, dB)); got != "1 assigned." || s.assignedTo(dB) != onlyB.ID {
		t.Fatalf("assign to only-b: %q, assigned to %d", got, s.assignedTo(dB))
	}
	var events int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM discrepancy_events WHERE discrepancy_id = $1 AND action = 'assigned' AND actor = $2",
		dB, "user:"+strconv.FormatInt(mustUserID(t, s, "lead@example.com"), 10)).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 1 {
		t.Fatalf("%d assignment events, want 1", events)
	}
	// Unassigning needs no assignee.
	if got := flash(t, assign(lead, 0, dA1)); got != "1 assigned." || s.assignedTo(dA1) != 0 {
		t.Fatalf("unassign: %q, assigned to %d", got, s.assignedTo(dA1))
	}
}

func mustUserID(t *testing.T, s *site, email string) int64 {
	t.Helper()
	u, err := s.staff.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestAssigneeListSharesMerchants: the queue names only the staff who share
// a merchant with the user (a user with no merchant list sees everyone and
// is seen by everyone); an item assigned to someone else shows their actor,
// not their email.
func TestAssigneeListSharesMerchants(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	ma, err := s.merchants.EnsureMerchant(ctx, "alpha", "Alpha")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.merchants.EnsureMerchant(ctx, "beta", "Beta")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := s.merchants.EnsureMerchant(ctx, "gamma", "Gamma")
	if err != nil {
		t.Fatal(err)
	}
	_, viewerA := s.user("viewer-a@example.com", staff.Viewer, ma.ID)
	_, everyone := s.user("everyone@example.com", staff.Accountant)
	s.user("acc-a@example.com", staff.Accountant, ma.ID)
	s.user("acc-ac@example.com", staff.Approver, mc.ID, ma.ID)
	accB, _ := s.user("acc-b@example.com", staff.Accountant, mb.ID)
	s.user("acc-bc@example.com", staff.Approver, mb.ID, mc.ID)
	s.user("admin@example.com", staff.Admin)
	s.user("viewer-b@example.com", staff.Viewer, mb.ID)

	// An item of alpha assigned (before assignments were checked) to
	// someone who does not see alpha.
	d := s.openDiscrepancy(ma.ID, "a1")
	if _, err := s.pool.Exec(ctx, "UPDATE discrepancies SET assigned_to = $1 WHERE id = $2", accB.ID, d); err != nil {
		t.Fatal(err)
	}

	page := func(token string) string {
		t.Helper()
		a := s.do("GET", "/console/discrepancies", token, nil)
		if a.status != http.StatusOK {
			t.Fatalf("queue: %d", a.status)
		}
		return a.body
	}
	body := page(viewerA)
	for _, email := range []string{"everyone@example.com", "acc-a@example.com", "acc-ac@example.com", "admin@example.com"} {
		if !strings.Contains(body, ">"+email+"</option>") {
			t.Errorf("alpha's viewer is not offered %s", email)
		}
	}
	for _, email := range []string{"acc-b@example.com", "acc-bc@example.com", "viewer-b@example.com"} {
		if strings.Contains(body, email) {
			t.Errorf("alpha's viewer is shown %s", email)
		}
	}
	if !strings.Contains(body, "user:"+strconv.FormatInt(accB.ID, 10)) {
		t.Errorf("the item assigned to acc-b does not show its actor")
	}
	// Viewers are not offered as assignees (nobody can give them items).
	if strings.Contains(body, ">viewer-a@example.com</option>") {
		t.Errorf("a viewer is offered as an assignee")
	}

	body = page(everyone)
	for _, email := range []string{"acc-a@example.com", "acc-ac@example.com", "acc-b@example.com", "acc-bc@example.com", "admin@example.com"} {
		if !strings.Contains(body, ">"+email+"</option>") {
			t.Errorf("a user of every merchant is not offered %s", email)
		}
	}
	if !strings.Contains(body, "acc-b@example.com") {
		t.Errorf("a user of every merchant does not see the assignee's email")
	}
}
