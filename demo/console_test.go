package demo

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/tallyhq/tally/staff"
)

// TestLogins: one demo user per role, each password one staff accepts, and
// every login printed with the console's address.
func TestLogins(t *testing.T) {
	roles := map[staff.Role]bool{}
	var buf bytes.Buffer
	printConsole(&buf, "http://127.0.0.1:8080/console/", true)
	for _, l := range logins {
		roles[l.Role] = true
		if len(l.Password) < staff.MinPasswordLength {
			t.Errorf("%s: password of %d characters", l.Email, len(l.Password))
		}
		if !strings.Contains(buf.String(), l.Email) || !strings.Contains(buf.String(), l.Password) {
			t.Errorf("%s is not printed", l.Email)
		}
	}
	if len(roles) != len(staff.Roles) {
		t.Errorf("roles %v, want one user of each of %v", roles, staff.Roles)
	}
	if !strings.Contains(buf.String(), "accounting console: http://127.0.0.1:8080/console/") {
		t.Errorf("no console address in:\n%s", buf.String())
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0:8080": "127.0.0.1:8080", "[::]:8080": "127.0.0.1:8080",
		"127.0.0.1:9000": "127.0.0.1:9000", "192.0.2.7:80": "192.0.2.7:80"} {
		a, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := dialable(a); got != want {
			t.Errorf("dialable(%s) = %s, want %s", in, got, want)
		}
	}
}
