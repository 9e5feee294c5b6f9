package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tallyhq/tally/staff"
)

// TestEveryFormNeedsItsRole holds every state-changing route of the console
// to its permission: a signed-in user whose role lacks it is refused 403
// before the handler runs, and no form but signing out and changing one's
// own password is open to a viewer.
func TestEveryFormNeedsItsRole(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	sessions := map[staff.Role]string{}
	for _, role := range staff.Roles {
		_, sessions[role] = s.user(string(role)+"@example.com", role)
	}
	// Forms any signed-in user may send; rejecting a proposal is an
	// approver's (others' proposals) or its maker's (withdrawing), which the
	// handler checks on the proposal itself (e2e TestConsoleDecide).
	open := map[string]bool{"POST /console/logout": true, "POST /console/password": true,
		"POST /console/proposals/{id}/reject": true}
	writes := 0
	for _, r := range s.console.Routes() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		writes++
		if r.Perm == staff.Read && !open[r.Pattern] {
			t.Errorf("%s changes state with only the read permission", r.Pattern)
		}
		target := strings.NewReplacer("{id}", "1", "{name}", "x", "{$}", "").Replace(path)
		for _, role := range staff.Roles {
			if role.Can(r.Perm) {
				continue
			}
			a := s.do(method, target, sessions[role], url.Values{"note": {"a reason"}})
			if a.status != http.StatusForbidden {
				t.Errorf("%s as %s: %d, want 403", r.Pattern, role, a.status)
			}
		}
	}
	if writes < 10 {
		t.Fatalf("only %d state-changing routes: the console's routes are not all listed", writes)
	}
}
