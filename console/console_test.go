package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/console"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/webhooks"
)

// site is a console over a fresh database, served by a test server.
type site struct {
	t         testing.TB
	pool      *pgxpool.Pool
	staff     *staff.Service
	merchants *merchants.Service
	console   *console.Console
	srv       *httptest.Server
}

func newSite(t *testing.T) *site { return newSiteTB(t) }

func newSiteTB(t testing.TB) *site { return newSitePaged(t, 0) }

// newSitePaged is a site whose lists show pageSize rows a page (0: the
// default).
func newSitePaged(t testing.TB, pageSize int) *site {
	t.Helper()
	pool := testdb.New(t)
	st := staff.New(pool, staff.Options{})
	l := ledger.New(pool)
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ms := merchants.New(pool, box, merchants.Options{Ledger: l})
	disc := discrepancies.New()
	ord := orders.New(pool, l, ms, disc, nil, orders.Options{})
	c := console.New(console.Deps{Staff: st, Pool: pool, Ledger: l, Discrepancies: disc, Merchants: ms, Orders: ord,
		Recon:    recon.New(pool, ord, ms, l, disc, nil, recon.Options{}),
		Webhooks: webhooks.New(pool, ord, ms, webhooks.Options{})},
		console.Options{Logger: slog.New(slog.DiscardHandler), PageSize: pageSize})
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &site{t: t, pool: pool, staff: st, merchants: ms, console: c, srv: srv}
}

// user creates a user with a password of their own (MustChange cleared
// through a change), and returns its session cookie.
func (s *site) user(email string, role staff.Role, merchantIDs ...int64) (staff.User, string) {
	s.t.Helper()
	ctx := context.Background()
	u, err := s.staff.CreateUser(ctx, staff.NewUser{Email: email, Role: role, Password: "initial password 1", MerchantIDs: merchantIDs})
	if err != nil {
		s.t.Fatal(err)
	}
	if u, err = s.staff.ChangePassword(ctx, u.ID, "initial password 1", "chosen password 22"); err != nil {
		s.t.Fatal(err)
	}
	token, _, err := s.staff.Login(ctx, email, "chosen password 22", "127.0.0.1")
	if err != nil {
		s.t.Fatal(err)
	}
	return u, token
}

type answer struct {
	status   int
	location string
	body     string
	header   http.Header
}

// do sends a request with an optional session token, never following
// redirects. A form body is sent as a same-origin browser would.
func (s *site) do(method, path, token string, form url.Values, headers ...string) answer {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: token})
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header}
}

func TestLoginLogoutAndSessionCookie(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	if _, err := s.staff.CreateUser(ctx, staff.NewUser{Email: "ann@example.com", Role: staff.Accountant, Password: "initial password 1"}); err != nil {
		t.Fatal(err)
	}

	// Without a session: GET goes to the login page, POST is refused.
	if a := s.do("GET", "/console/", "", nil); a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/console/login?next=") {
		t.Fatalf("GET without session: %d %s", a.status, a.location)
	}
	if a := s.do("POST", "/console/logout", "", url.Values{}); a.status != http.StatusForbidden {
		t.Fatalf("POST without session: %d", a.status)
	}

	// A wrong password shows the one message.
	a := s.do("POST", "/console/login", "", url.Values{"email": {"ann@example.com"}, "password": {"wrong password 12"}})
	if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong email or password.") {
		t.Fatalf("wrong password: %d %s", a.status, a.body)
	}
	if a2 := s.do("POST", "/console/login", "", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password 12"}}); !strings.Contains(a2.body, "Wrong email or password.") {
		t.Fatalf("unknown user: %d", a2.status)
	}

	// The right one opens a session; the admin's password must be changed first.
	a = s.do("POST", "/console/login", "", url.Values{"email": {"ann@example.com"}, "password": {"initial password 1"}, "next": {"/console/discrepancies"}})
	if a.status != http.StatusSeeOther || a.location != "/console/password" {
		t.Fatalf("login: %d %s", a.status, a.location)
	}
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == console.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || ck.Value == "" {
		t.Fatalf("session cookie %+v", ck)
	}
	token := ck.Value
	if a := s.do("GET", "/console/", token, nil); a.status != http.StatusSeeOther || a.location != "/console/password" {
		t.Fatalf("must change: %d %s", a.status, a.location)
	}
	if a := s.do("POST", "/console/password", token, url.Values{"current": {"initial password 1"}, "new": {"short"}, "confirm": {"short"}}); a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "at least 12 characters") {
		t.Fatalf("short password: %d %s", a.status, a.body)
	}
	if a := s.do("POST", "/console/password", token, url.Values{"current": {"initial password 1"}, "new": {"chosen password 22"}, "confirm": {"chosen password 22"}}); a.status != http.StatusSeeOther || a.location != "/console/" {
		t.Fatalf("change password: %d %s %s", a.status, a.location, a.body)
	}
	a = s.do("GET", "/console/", token, nil)
	if a.status != http.StatusOK || !strings.Contains(a.body, "ann@example.com") || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("overview: %d %v", a.status, a.header)
	}

	// A cross-site form is refused even with the session.
	if a := s.do("POST", "/console/logout", token, url.Values{}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); a.status != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d", a.status)
	}
	if a := s.do("GET", "/console/", token, nil); a.status != http.StatusOK {
		t.Fatalf("session ended by a cross-site request: %d", a.status)
	}

	// Logout ends the session.
	if a := s.do("POST", "/console/logout", token, url.Values{}); a.status != http.StatusSeeOther || a.location != "/console/login" {
		t.Fatalf("logout: %d %s", a.status, a.location)
	}
	if a := s.do("GET", "/console/", token, nil); a.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d", a.status)
	}
}

func TestStaticAssetsArePinned(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	page := s.do("GET", "/console/login", "", nil)
	i := strings.Index(page.body, "/console/static/console.")
	if i < 0 {
		t.Fatalf("no stylesheet link in %s", page.body)
	}
	href := page.body[i:]
	href = href[:strings.IndexByte(href, '"')]
	a := s.do("GET", href, "", nil)
	if a.status != http.StatusOK || !strings.Contains(a.header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(a.header.Get("Content-Type"), "text/css") {
		t.Fatalf("%s: %d %v", href, a.status, a.header)
	}
	if a := s.do("GET", "/console/static/console.css", "", nil); a.status != http.StatusNotFound {
		t.Fatalf("unhashed name: %d", a.status)
	}
}

func TestSafeRedirectAfterLogin(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.user("bob@example.com", staff.Viewer)
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/console/discrepancies?type=reversal"} {
		a := s.do("POST", "/console/login", "", url.Values{"email": {"bob@example.com"}, "password": {"chosen password 22"}, "next": {next}})
		want := "/console/"
		if strings.HasPrefix(next, "/console/") {
			want = next
		}
		if a.status != http.StatusSeeOther || a.location != want {
			t.Errorf("next %q: %d %s, want %s", next, a.status, a.location, want)
		}
	}
}
