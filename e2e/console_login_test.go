package e2e_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// TestConsoleLogin: a wrong password shows the one message; the right one
// opens the overview; signing out ends the session.
func TestConsoleLogin(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{NoWorkers: true})
	b := newBrowser(t, env.URL)
	staffUser(t, env, "ann@example.com", staff.Accountant)

	b.visit("/console/")
	if loc := b.location(); !strings.HasPrefix(loc, "/console/login?next=") {
		t.Fatalf("without a session /console/ is %s", loc)
	}
	b.screenshot("login")

	b.login("ann@example.com", "not the password!")
	if msg := b.text("#login-error"); msg != "Wrong email or password." {
		t.Fatalf("error shown: %q", msg)
	}
	b.screenshot("login-error")

	b.login("ann@example.com", staffPassword)
	if loc := b.location(); loc != "/console/" {
		t.Fatalf("after login at %s", loc)
	}
	if who := b.text(".who span"); !strings.Contains(who, "ann@example.com") {
		t.Fatalf("signed in as %q", who)
	}
	b.do(chromedpClick(`.who button[type=submit]`))
	if loc := b.location(); loc != "/console/login" {
		t.Fatalf("after sign out at %s", loc)
	}
	b.visit("/console/")
	if loc := b.location(); !strings.HasPrefix(loc, "/console/login") {
		t.Fatalf("after sign out /console/ is %s", loc)
	}
}

// TestConsoleRefusesWithoutSessionOrCrossSite: a state change without a
// session is refused 403, a GET is sent to sign in, and a form posted from
// another origin is refused even with a session.
func TestConsoleRefusesWithoutSessionOrCrossSite(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{NoWorkers: true})
	staffUser(t, env, "ann@example.com", staff.Accountant)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, cookie string, headers ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", env.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "tally_session", Value: cookie})
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/console/logout", url.Values{}, ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without session: %d", r.StatusCode)
	}
	resp, err := noRedirect.Get(env.URL + "/console/discrepancies")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
		t.Fatalf("GET without session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Login from another site (login CSRF) is refused too.
	r := post("/console/login", url.Values{"email": {"ann@example.com"}, "password": {staffPassword}}, "", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", r.StatusCode)
	}
	r = post("/console/login", url.Values{"email": {"ann@example.com"}, "password": {staffPassword}}, "", "Sec-Fetch-Site", "same-origin")
	var token string
	for _, c := range r.Cookies() {
		if c.Name == "tally_session" {
			token = c.Value
		}
	}
	if r.StatusCode != http.StatusSeeOther || token == "" {
		t.Fatalf("login: %d", r.StatusCode)
	}
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		if r := post("/console/logout", url.Values{}, token, h...); r.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin POST with %v: %d", h, r.StatusCode)
		}
	}
	if r := post("/console/logout", url.Values{}, token, "Sec-Fetch-Site", "same-origin"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin logout: %d", r.StatusCode)
	}
}
