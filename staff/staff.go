// Package staff holds the people who work in tally's accounting console:
// their accounts and roles (staff_users), their passwords (argon2id) and their
// sessions (staff_sessions, only a hash of each token stored). Staff are apart
// from the merchants' API keys: a key is a merchant system, a user is a person
// whose every decision is recorded under their own name (User.Actor).
package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/db/staffdb"
)

// Role says what a user may do.
type Role string

// The roles. Every role reads; the others add what their name says.
const (
	// Viewer reads everything in the merchants the user sees.
	Viewer Role = "viewer"
	// Accountant proposes resolutions, imports statements, starts runs and
	// assigns discrepancies.
	Accountant Role = "accountant"
	// Approver approves or rejects other users' proposals.
	Approver Role = "approver"
	// Admin manages users and provider accounts, sees the operator pages,
	// and may do what accountants and approvers do.
	Admin Role = "admin"
)

// Roles lists every role, least to most.
var Roles = []Role{Viewer, Accountant, Approver, Admin}

// Permission is one kind of thing a role may do.
type Permission string

// The permissions the console and the API check.
const (
	// Read: see balances, orders, discrepancies, runs, reports.
	Read Permission = "read"
	// Propose: propose resolutions, import statements, start runs, assign.
	Propose Permission = "propose"
	// Approve: approve or reject a proposal someone else made.
	Approve Permission = "approve"
	// Administer: users, provider accounts, operator pages.
	Administer Permission = "administer"
)

// Can reports whether the role holds the permission.
func (r Role) Can(p Permission) bool {
	switch p {
	case Read:
		return r.Valid()
	case Propose:
		return r == Accountant || r == Admin
	case Approve:
		return r == Approver || r == Admin
	case Administer:
		return r == Admin
	}
	return false
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("role %q: viewer, accountant, approver or admin: %w", s, ErrInvalid)
	}
	return r, nil
}

// User is a staff account.
type User struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Role  Role   `json:"role"`
	// MerchantIDs limits the user to these merchants; nil means every one.
	MerchantIDs []int64 `json:"merchant_ids,omitempty"`
	Disabled    bool    `json:"disabled"`
	// MustChange: the password was set by an admin; the user must choose a
	// new one before doing anything else.
	MustChange  bool       `json:"must_change"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Actor is how the user's decisions are recorded: "user:<id>".
func (u User) Actor() string { return "user:" + strconv.FormatInt(u.ID, 10) }

// Can reports whether the user's role holds the permission. Administering
// (users, provider accounts, operator pages) spans every merchant, so a user
// limited to some merchants never holds it, whatever the role says.
func (u User) Can(p Permission) bool {
	if p == Administer && u.MerchantIDs != nil {
		return false
	}
	return !u.Disabled && u.Role.Can(p)
}

// SeesMerchant reports whether the user may see the merchant's data.
func (u User) SeesMerchant(id int64) bool {
	return u.MerchantIDs == nil || slices.Contains(u.MerchantIDs, id)
}

// Session is a logged-in user's session.
type Session struct {
	User User
	// ExpiresAt is the session's absolute end; it ends sooner when idle.
	ExpiresAt time.Time
}

// Errors callers tell apart.
var (
	// ErrInvalid: a bad email, role or password.
	ErrInvalid = errors.New("invalid staff user")
	// ErrExists: a user with that email exists.
	ErrExists = errors.New("staff user exists")
	// ErrNotFound: no such user.
	ErrNotFound = errors.New("staff user not found")
	// ErrBadCredentials: unknown email, wrong password or disabled user
	// (one error, so a login form tells nobody which).
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrLocked: too many failed logins; retry after LockedError.Until.
	ErrLocked = errors.New("too many failed logins")
	// ErrNoSession: the token names no live session (unknown, expired,
	// idle too long, logged out, or its user disabled).
	ErrNoSession = errors.New("no session")
)

// LockedError is ErrLocked with the time logins are accepted again.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("too many failed logins: retry after %s", e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Unwrap() error { return ErrLocked }

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// Options tune the sessions.
type Options struct {
	// IdleTimeout ends a session not used for this long. Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends every session this long after login. Default 12 hours.
	AbsoluteTimeout time.Duration
}

// Service keeps staff users and their sessions.
type Service struct {
	pool *pgxpool.Pool
	q    *staffdb.Queries
	opts Options
}

// New returns the staff service over the pool.
func New(pool *pgxpool.Pool, opts Options) *Service {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.AbsoluteTimeout <= 0 {
		opts.AbsoluteTimeout = 12 * time.Hour
	}
	return &Service{pool: pool, q: staffdb.New(pool), opts: opts}
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Email    string
	Role     Role
	Password string
	// MerchantIDs limits the user to these merchants; nil is every merchant.
	MerchantIDs []int64
}

// CreateUser adds a user. The password is the admin's choice: the user must
// change it at the first login.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (User, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	if err := checkRole(in.Role, in.MerchantIDs); err != nil {
		return User{}, err
	}
	hash, err := hashNew(in.Password)
	if err != nil {
		return User{}, err
	}
	row, err := s.q.CreateUser(ctx, staffdb.CreateUserParams{Email: email, Role: string(in.Role), PasswordHash: hash, MerchantIds: in.MerchantIDs})
	if isUnique(err) {
		return User{}, fmt.Errorf("create user %s: %w", email, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", email, err)
	}
	return userFrom(row), nil
}

// Users lists every user by email.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.q.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = userFrom(r)
	}
	return out, nil
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	row, err := s.q.UserByID(ctx, id)
	if err != nil {
		return User{}, notFound(err, "user %d", id)
	}
	return userFrom(row), nil
}

// UserByEmail returns a user by email.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	row, err := s.q.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return User{}, notFound(err, "user %s", email)
	}
	return userFrom(row), nil
}

// SetDisabled disables (or enables again) a user; disabling ends their
// sessions at once.
func (s *Service) SetDisabled(ctx context.Context, id int64, disabled bool) (User, error) {
	var out User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.SetDisabled(ctx, staffdb.SetDisabledParams{ID: id, Disabled: disabled})
		if err != nil {
			return notFound(err, "user %d", id)
		}
		out = userFrom(row)
		if disabled {
			return q.DeleteUserSessions(ctx, id)
		}
		return nil
	})
	return out, err
}

// SetRole changes a user's role and merchants (nil: every merchant).
func (s *Service) SetRole(ctx context.Context, id int64, role Role, merchantIDs []int64) (User, error) {
	if err := checkRole(role, merchantIDs); err != nil {
		return User{}, err
	}
	row, err := s.q.SetRole(ctx, staffdb.SetRoleParams{ID: id, Role: string(role), MerchantIds: merchantIDs})
	if err != nil {
		return User{}, notFound(err, "user %d", id)
	}
	return userFrom(row), nil
}

// ResetPassword is an admin setting a user's password: the user must change
// it at the next login, and their sessions end.
func (s *Service) ResetPassword(ctx context.Context, id int64, password string) (User, error) {
	return s.setPassword(ctx, id, password, true)
}

// ChangePassword is a user choosing their own password, proving the current one.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next string) (User, error) {
	row, err := s.q.UserByID(ctx, id)
	if err != nil {
		return User{}, notFound(err, "user %d", id)
	}
	if ok, err := verify(row.PasswordHash, current); err != nil || !ok {
		return User{}, fmt.Errorf("change password of user %d: %w", id, ErrBadCredentials)
	}
	if current == next {
		return User{}, fmt.Errorf("the new password must differ from the current one: %w", ErrInvalid)
	}
	return s.setPassword(ctx, id, next, false)
}

func (s *Service) setPassword(ctx context.Context, id int64, password string, mustChange bool) (User, error) {
	hash, err := hashNew(password)
	if err != nil {
		return User{}, err
	}
	var out User
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.SetPassword(ctx, staffdb.SetPasswordParams{ID: id, PasswordHash: hash, MustChange: mustChange})
		if err != nil {
			return notFound(err, "user %d", id)
		}
		out = userFrom(row)
		if mustChange {
			return q.DeleteUserSessions(ctx, id)
		}
		return nil
	})
	return out, err
}

// Login checks an email and password and opens a session; the token is the
// cookie's value (only its hash is stored). Failed logins are counted per
// user: from the fifth in a row, logins are refused for a time that doubles
// with each failure (LockedError), up to 15 minutes.
func (s *Service) Login(ctx context.Context, email, password, clientAddr string) (string, Session, error) {
	row, err := s.q.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		// Spend the time a real check would, so timing tells nothing.
		_, _ = verify(dummyHash(), password)
		return "", Session{}, ErrBadCredentials
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("login: %w", err)
	}
	if row.LockedUntil != nil && row.LockedUntil.After(time.Now()) {
		// As long as a real check, so that timing does not tell a locked
		// account (hence an existing email) from an unknown one.
		_, _ = verify(dummyHash(), password)
		return "", Session{}, &LockedError{Until: *row.LockedUntil}
	}
	ok, err := verify(row.PasswordHash, password)
	if err != nil {
		return "", Session{}, fmt.Errorf("login user %d: %w", row.ID, err)
	}
	if !ok || row.Disabled {
		f, err := s.q.LoginFailed(ctx, row.ID)
		if err != nil {
			return "", Session{}, fmt.Errorf("login: %w", err)
		}
		if f.LockedUntil != nil && f.LockedUntil.After(time.Now()) {
			return "", Session{}, &LockedError{Until: *f.LockedUntil}
		}
		return "", Session{}, ErrBadCredentials
	}
	token := newToken()
	expires := time.Now().Add(s.opts.AbsoluteTimeout)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.LoginSucceeded(ctx, row.ID); err != nil {
			return err
		}
		return q.CreateSession(ctx, staffdb.CreateSessionParams{TokenHash: tokenHash(token), UserID: row.ID, ExpiresAt: expires, ClientAddr: clientAddr})
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("login user %d: %w", row.ID, err)
	}
	return token, Session{User: userFrom(row), ExpiresAt: expires}, nil
}

// Session returns the live session a token names and marks it used (which
// pushes its idle end back). A dead session is ErrNoSession.
func (s *Service) Session(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	row, err := s.q.TouchSession(ctx, staffdb.TouchSessionParams{TokenHash: tokenHash(token), IdleSeconds: s.opts.IdleTimeout.Seconds()})
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", err)
	}
	return Session{User: User{ID: row.ID, Email: row.Email, Role: Role(row.Role), MerchantIDs: row.MerchantIds, MustChange: row.MustChange},
		ExpiresAt: row.ExpiresAt}, nil
}

// Logout ends the session a token names (nothing when there is none).
func (s *Service) Logout(ctx context.Context, token string) error {
	if err := s.q.DeleteSession(ctx, tokenHash(token)); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// EndOtherSessions ends every session of the user but the one keepToken
// names (the one that just changed the password): a password change signs
// out whoever else held the old one. It returns how many it ended.
func (s *Service) EndOtherSessions(ctx context.Context, userID int64, keepToken string) (int64, error) {
	n, err := s.q.DeleteOtherSessions(ctx, staffdb.DeleteOtherSessionsParams{UserID: userID, KeepHash: tokenHash(keepToken)})
	if err != nil {
		return 0, fmt.Errorf("end other sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// PurgeSessions deletes the sessions that ended; it returns how many.
func (s *Service) PurgeSessions(ctx context.Context) (int64, error) {
	n, err := s.q.DeleteExpiredSessions(ctx, s.opts.IdleTimeout.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return n, nil
}

// NewPassword returns a random password of 20 characters, for an admin who
// creates a user or resets a password without choosing one.
func NewPassword() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkRole refuses an unknown role, and an admin limited to some merchants:
// an admin manages users and provider accounts of every merchant.
func checkRole(r Role, merchantIDs []int64) error {
	if !r.Valid() {
		return fmt.Errorf("role %q: viewer, accountant, approver or admin: %w", r, ErrInvalid)
	}
	if r == Admin && merchantIDs != nil {
		return fmt.Errorf("an admin manages every merchant's users and accounts, so cannot be limited to some merchants: %w", ErrInvalid)
	}
	return nil
}

func normalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", fmt.Errorf("email %q is not an address: %w", s, ErrInvalid)
	}
	return e, nil
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func userFrom(r staffdb.StaffUser) User {
	return User{ID: r.ID, Email: r.Email, Role: Role(r.Role), MerchantIDs: r.MerchantIds, Disabled: r.Disabled,
		MustChange: r.MustChange, LastLoginAt: r.LastLoginAt, CreatedAt: r.CreatedAt}
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
