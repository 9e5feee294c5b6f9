package staff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/staff"
)

func TestLoginSessionLogout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := staff.New(testdb.New(t), staff.Options{})
	u, err := s.CreateUser(ctx, staff.NewUser{Email: " Ann@Example.com ", Role: staff.Accountant, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ann@example.com" || u.Role != staff.Accountant || !u.MustChange || u.MerchantIDs != nil {
		t.Fatalf("created %+v", u)
	}
	if _, err := s.CreateUser(ctx, staff.NewUser{Email: "ed@example.com", Role: staff.Admin, Password: "another long password", MerchantIDs: []int64{1}}); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("an admin limited to a merchant: %v", err)
	}
	if _, err := s.CreateUser(ctx, staff.NewUser{Email: "ann@example.com", Role: staff.Viewer, Password: "another long password"}); !errors.Is(err, staff.ErrExists) {
		t.Fatalf("second ann: %v", err)
	}
	token, sess, err := s.Login(ctx, "ANN@example.com", "correct horse battery", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.User.ID != u.ID || len(token) < 40 {
		t.Fatalf("session %+v token %q", sess, token)
	}
	got, err := s.Session(ctx, token)
	if err != nil || got.User.ID != u.ID || got.User.Role != staff.Accountant || got.User.Actor() != u.Actor() {
		t.Fatalf("session: %+v %v", got, err)
	}
	if _, err := s.Session(ctx, token+"x"); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("forged token: %v", err)
	}
	if err := s.Logout(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("after logout: %v", err)
	}
}

func TestBadCredentialsAndLockout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := staff.New(testdb.New(t), staff.Options{})
	if _, err := s.CreateUser(ctx, staff.NewUser{Email: "bob@example.com", Role: staff.Viewer, Password: "bob's long password"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "nobody@example.com", "whatever password", ""); !errors.Is(err, staff.ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	for i := 1; i <= 4; i++ {
		if _, _, err := s.Login(ctx, "bob@example.com", "wrong password!", ""); !errors.Is(err, staff.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, _, err := s.Login(ctx, "bob@example.com", "wrong password!", "")
	var locked *staff.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, staff.ErrLocked) || !locked.Until.After(time.Now()) {
		t.Fatalf("fifth failure: %v", err)
	}
	// Locked: even the right password is refused until the lock ends.
	if _, _, err := s.Login(ctx, "bob@example.com", "bob's long password", ""); !errors.Is(err, staff.ErrLocked) {
		t.Fatalf("right password while locked: %v", err)
	}
}

func TestDisableAndResetEndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := staff.New(testdb.New(t), staff.Options{})
	u, err := s.CreateUser(ctx, staff.NewUser{Email: "cy@example.com", Role: staff.Approver, Password: "cy's long password", MerchantIDs: []int64{7}})
	if err != nil {
		t.Fatal(err)
	}
	if !u.SeesMerchant(7) || u.SeesMerchant(8) {
		t.Fatalf("merchants %v", u.MerchantIDs)
	}
	token, _, err := s.Login(ctx, "cy@example.com", "cy's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(ctx, u.ID, "short"); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
	if _, err := s.ResetPassword(ctx, u.ID, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("session after reset: %v", err)
	}
	token, _, err = s.Login(ctx, "cy@example.com", "a brand new password", "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.Login(ctx, "cy@example.com", "a brand new password", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangePassword(ctx, u.ID, "a brand new password", "cy's own new password"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EndOtherSessions(ctx, u.ID, token); err != nil || n != 1 {
		t.Fatalf("end other sessions: %d, %v; want 1", n, err)
	}
	if _, err := s.Session(ctx, other); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("the other session after a password change: %v", err)
	}
	sess, err := s.Session(ctx, token)
	if err != nil || sess.User.MustChange {
		t.Fatalf("after change: %+v %v", sess, err)
	}
	if _, err := s.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if _, _, err := s.Login(ctx, "cy@example.com", "cy's own new password", ""); !errors.Is(err, staff.ErrBadCredentials) {
		t.Fatalf("disabled login: %v", err)
	}
}

func TestIdleSessionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := staff.New(testdb.New(t), staff.Options{IdleTimeout: time.Microsecond})
	if _, err := s.CreateUser(ctx, staff.NewUser{Email: "di@example.com", Role: staff.Viewer, Password: "di's long password"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := s.Login(ctx, "di@example.com", "di's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	// The session was last seen at its creation, which the database's clock
	// puts more than a microsecond before any later statement.
	if _, err := s.Session(ctx, token); !errors.Is(err, staff.ErrNoSession) {
		t.Fatalf("idle session: %v", err)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		role                             staff.Role
		read, propose, approve, administ bool
	}{
		{staff.Viewer, true, false, false, false},
		{staff.Accountant, true, true, false, false},
		{staff.Approver, true, false, true, false},
		{staff.Admin, true, true, true, true},
		{staff.Role("root"), false, false, false, false},
	}
	limited := staff.User{Role: staff.Admin, MerchantIDs: []int64{1}}
	if limited.Can(staff.Administer) || !limited.Can(staff.Approve) {
		t.Errorf("an admin limited to merchants: administer %v, approve %v", limited.Can(staff.Administer), limited.Can(staff.Approve))
	}
	for _, c := range cases {
		got := [4]bool{c.role.Can(staff.Read), c.role.Can(staff.Propose), c.role.Can(staff.Approve), c.role.Can(staff.Administer)}
		if got != [4]bool{c.read, c.propose, c.approve, c.administ} {
			t.Errorf("%s: %v", c.role, got)
		}
	}
}
