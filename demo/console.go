package demo

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tallyhq/tally/staff"
)

// Login is a demo staff user of the console, with the password the demo
// gave it (printed: the demo's data is throwaway).
type Login struct {
	Email    string
	Password string
	Role     staff.Role
}

// DefaultListen is where tally demo --serve serves tally's public listener
// (the console under /console): a fixed address, so that the printed one
// is what the browser opens.
const DefaultListen = "127.0.0.1:8080"

// logins are the demo's console users: one of each role, so that a
// proposal can be made by the accountant and approved by the approver
// (maker-checker), a viewer sees no resolve form, and the admin has the
// Admin pages and River's UI.
var logins = []Login{
	{Email: "accountant@demo.example", Password: "demo-accountant-1", Role: staff.Accountant},
	{Email: "approver@demo.example", Password: "demo-approver-1", Role: staff.Approver},
	{Email: "viewer@demo.example", Password: "demo-viewer-1", Role: staff.Viewer},
	{Email: "admin@demo.example", Password: "demo-admin-1", Role: staff.Admin},
}

// staffUsers creates the demo's console users with their demo passwords
// already chosen (no forced change at the first sign-in).
func (st *stack) staffUsers(ctx context.Context) error {
	for _, l := range logins {
		first := staff.NewPassword()
		u, err := st.tally.Staff.CreateUser(ctx, staff.NewUser{Email: l.Email, Role: l.Role, Password: first})
		if err != nil {
			return fmt.Errorf("demo user %s: %w", l.Email, err)
		}
		if _, err := st.tally.Staff.ChangePassword(ctx, u.ID, first, l.Password); err != nil {
			return fmt.Errorf("demo user %s: %w", l.Email, err)
		}
	}
	return nil
}

// printConsole writes the console's address and the demo logins: the
// demo's last lines.
// Without serving, the demo's own listener is gone: the address is where
// make demo-serve (tally demo --serve) puts the console.
func printConsole(w io.Writer, consoleURL string, serving bool) {
	if !serving {
		consoleURL = "http://" + DefaultListen + "/console/"
	}
	fmt.Fprintf(w, "\naccounting console: %s\n", consoleURL)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SIGN IN AS\tPASSWORD\tROLE")
	for _, l := range logins {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", l.Email, l.Password, l.Role)
	}
	_ = tw.Flush()
	if serving {
		fmt.Fprintf(w, "the console stays up on the demo's data until interrupted (Ctrl-C)\n")
	} else {
		fmt.Fprintf(w, "the console stopped with the demo: make demo-serve (tally demo --serve) runs the demo again and keeps the console up there\n")
	}
}
