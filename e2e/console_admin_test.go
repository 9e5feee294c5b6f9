package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/sandbox"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// TestConsoleAdmin: an admin creates a user (the generated password shown
// once works, and must be changed), disables them, edits a provider account
// without seeing or losing its secret, and opens River's UI; an accountant
// is refused the Admin pages and River's UI and API, and is not shown the
// Admin entry.
func TestConsoleAdmin(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{NoWorkers: true})
	ctx := context.Background()
	staffUser(t, env, "ada@example.com", staff.Admin)
	staffUser(t, env, "ann@example.com", staff.Accountant)
	b := newBrowser(t, env.URL)
	b.login("ada@example.com", staffPassword)

	// Users: create an approver limited to the Env's merchant.
	b.visit("/console/admin")
	if n := b.count(`#users tbody tr[data-user]`); n != 2 {
		t.Fatalf("users listed: %d, want 2", n)
	}
	b.do(
		chromedp.SendKeys(chromedp.ID("email"), "vic@example.com"),
		chromedp.SetValue(chromedp.ID("role"), "approver"),
		chromedp.Click(chromedp.CSS(`input[name=scope][value=some]`)),
		chromedp.Click(chromedp.CSS(`input[name=merchant][value="`+itoa(env.Merchant.ID)+`"]`)),
	)
	b.screenshot("admin-users")
	b.do(chromedpClick(`form[action="/console/admin/users"] button[type=submit]`))
	password := b.text("#new-password")
	b.screenshot("admin-user-created")
	vic, err := env.App.Staff.UserByEmail(ctx, "vic@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if vic.Role != staff.Approver || !slices.Equal(vic.MerchantIDs, []int64{env.Merchant.ID}) || !vic.MustChange || vic.Disabled {
		t.Fatalf("created %+v", vic)
	}
	if len(password) < staff.MinPasswordLength {
		t.Fatalf("generated password %d characters", len(password))
	}
	if _, sess, err := env.App.Staff.Login(ctx, "vic@example.com", password, "127.0.0.1"); err != nil || !sess.User.MustChange {
		t.Fatalf("login with the shown password: %v, must change %v", err, sess.User.MustChange)
	}

	// Refused: a second user of that email, with the form kept.
	b.visit("/console/admin")
	b.do(chromedp.SendKeys(chromedp.ID("email"), "vic@example.com"))
	b.do(chromedpClick(`form[action="/console/admin/users"] button[type=submit]`))
	if msg := b.text("#admin-error"); msg != "A user with this email exists." {
		t.Fatalf("duplicate email: %q", msg)
	}

	// Disable vic: no more sign-in.
	b.visit("/console/admin/users/" + itoa(vic.ID))
	b.do(chromedpClick(`#disable-user`))
	if msg := b.text("#admin-message"); !strings.Contains(msg, "disabled") {
		t.Fatalf("after disabling: %q", msg)
	}
	b.screenshot("admin-user")
	if u, _ := env.App.Staff.User(ctx, vic.ID); !u.Disabled {
		t.Fatal("vic is not disabled")
	}
	// An admin cannot lock themselves out.
	ada, _ := env.App.Staff.UserByEmail(ctx, "ada@example.com")
	b.visit("/console/admin/users/" + itoa(ada.ID))
	if n := b.count(`#disable-user, form[action$="/role"]`); n != 0 {
		t.Fatalf("an admin's own page offers %d ways to lock themselves out", n)
	}

	// Provider accounts: the secret is never in the page; saving with the
	// field empty keeps it.
	cpay, err := env.Merchants.ProviderAccount(ctx, env.Merchant.ID, env.Accounts["cpay"])
	if err != nil {
		t.Fatal(err)
	}
	secret := sandbox.DefaultCredentials["cpay"].Secret
	b.visit("/console/admin/accounts")
	if n := b.count(`#accounts tbody tr[data-account]`); n != len(env.Accounts) {
		t.Fatalf("accounts listed: %d, want %d", n, len(env.Accounts))
	}
	b.screenshot("admin-accounts")
	b.do(chromedpClick(`#accounts a[href="/console/admin/accounts/` + itoa(cpay.ID) + `"]`))
	if html := run(b, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
		t.Fatal("the account page shows the stored secret")
	}
	if v := run(b, chromedp.Value(chromedp.ID("secret"))); v != "" {
		t.Fatalf("secret field holds %q", v)
	}
	b.do(chromedp.SetValue(chromedp.ID("balance_tolerance"), "0.05"))
	b.do(chromedpClick(`main form button[type=submit]`))
	if msg := b.text("#admin-message"); msg != "Saved." {
		t.Fatalf("after saving: %q", msg)
	}
	b.screenshot("admin-account")
	after, err := env.Merchants.ProviderAccountByID(ctx, cpay.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Secret.Reveal() != secret || !after.BalanceTolerance.Equal(decimal.RequireFromString("0.05")) || after.BaseURL != cpay.BaseURL {
		t.Fatalf("after saving: secret kept %v, balance tolerance %s, base URL %s", after.Secret.Reveal() == secret, after.BalanceTolerance, after.BaseURL)
	}
	// A new secret replaces it (and is not shown either).
	b.do(chromedp.SendKeys(chromedp.ID("secret"), "a brand new secret 123"))
	b.do(chromedpClick(`main form button[type=submit]`))
	if html := run(b, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, "a brand new secret 123") {
		t.Fatal("the page shows the new secret")
	}
	if a, _ := env.Merchants.ProviderAccountByID(ctx, cpay.ID); a.Secret.Reveal() != "a brand new secret 123" {
		t.Fatal("the new secret was not stored")
	}

	// River's UI answers the admin: its page, then its API with the jobs.
	b.visit("/console/")
	b.do(chromedpClick(`nav a[href="/console/admin"]`))
	b.do(chromedpClick(`.tabs a[href="/console/admin/river/"]`))
	b.waitJS(`document.querySelector('a[href="/console/admin/river/queues"]') !== null`)
	// A deposit's submit_order job waits (no workers here): River lists it.
	if r := env.API("POST", "/v1/deposits", map[string]any{"provider_account": "cxpay-main", "customer_id": "adm1", "amount": "100.00",
		"currency": "BRL", "payer": map[string]string{"name": "Ana", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}}, "Idempotency-Key", "admin-river-1"); r.Status != http.StatusCreated {
		t.Fatalf("create deposit: %d %s", r.Status, r.Body)
	}
	b.do(chromedp.Navigate(b.base + "/console/admin/river/jobs?state=available"))
	b.waitJS(`document.body.innerText.includes('submit_order')`)
	if txt := b.text("main"); !strings.Contains(txt, "submit_order") {
		t.Fatalf("River's available jobs: %q", txt)
	}
	b.screenshot("admin-river")
	adminCookie := sessionOf(t, env, "ada@example.com")
	if code, body := consoleGet(t, env, "/console/admin/river/api/states", adminCookie); code != http.StatusOK || !strings.Contains(body, "available") {
		t.Fatalf("River API for the admin: %d %.200s", code, body)
	}

	// An accountant: no Admin entry, 403 on the pages, River's UI and API.
	b.visit("/console/")
	b.do(chromedpClick(`.who button[type=submit]`))
	b.login("ann@example.com", staffPassword)
	if n := b.count(`nav a[href="/console/admin"]`); n != 0 {
		t.Fatal("the accountant is shown the Admin entry")
	}
	b.visit("/console/admin")
	if h := b.text("main h1"); h != "Not allowed" {
		t.Fatalf("accountant on /console/admin sees %q", h)
	}
	b.screenshot("admin-refused")
	ann := sessionOf(t, env, "ann@example.com")
	for _, p := range []string{"/console/admin", "/console/admin/accounts", "/console/admin/users/" + itoa(vic.ID),
		"/console/admin/river/", "/console/admin/river/jobs", "/console/admin/river/api/states", "/console/admin/river/api/jobs?state=available"} {
		if code, _ := consoleGet(t, env, p, ann); code != http.StatusForbidden {
			t.Errorf("accountant GET %s: %d, want 403", p, code)
		}
	}
	for _, p := range []string{"/console/admin/users", "/console/admin/users/" + itoa(vic.ID) + "/disabled", "/console/admin/river/api/jobs/retry"} {
		if code := consolePost(t, env, p, ann, url.Values{"email": {"eve@example.com"}, "role": {"admin"}, "disabled": {"false"}}, "Sec-Fetch-Site", "same-origin"); code != http.StatusForbidden {
			t.Errorf("accountant POST %s: %d, want 403", p, code)
		}
	}
	if _, err := env.App.Staff.UserByEmail(ctx, "eve@example.com"); err == nil {
		t.Error("the accountant created a user")
	}
	if u, _ := env.App.Staff.User(ctx, vic.ID); !u.Disabled {
		t.Error("the accountant enabled vic")
	}
	// Without a session, River's API sends to the sign-in page.
	if code, _ := consoleGet(t, env, "/console/admin/river/api/states", ""); code != http.StatusSeeOther {
		t.Errorf("River API without a session: %d, want 303", code)
	}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consoleGet GETs a console path with a session ("" for none).
func consoleGet(t *testing.T, env *tallytest.Env, path, session string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", env.URL+path, nil)
	req.Header.Set("Accept", "text/html,application/json")
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "tally_session", Value: session})
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitJS waits until a JavaScript expression is true, each evaluation
// bounded on its own: on River's single-page UI an evaluation started while
// the page loads may never answer, and chromedp's node queries wait forever.
func (b *browser) waitJS(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: waiting for %s: %v (at %s)", expr, err, b.location())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
