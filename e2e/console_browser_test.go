package e2e_test

// The browser harness of the console's tests: a tally (tallytest) with the
// console mounted, staff users, and a headless Chromium driven by chromedp.
// Screenshots go to e2e/artifacts/console/ (git-ignored).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// chromiumPath is the browser the console's tests drive: $TALLY_CHROMIUM,
// else Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("TALLY_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// consoleArtifacts is where screenshots are written.
const consoleArtifacts = "artifacts/console"

// browser is one headless Chromium tab on a tally's console.
type browser struct {
	t    *testing.T
	base string // tally's public URL
	ctx  context.Context
}

// newBrowser starts a headless Chromium for the test, or skips the test when
// there is none (make test installs it: apt-get install chromium).
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium, or set TALLY_CHROMIUM): skipping the console's browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so its start-up is not in the first step's time.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, base: base, ctx: ctx}
}

// do runs steps, each bounded, failing the test on error.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

// run runs one action that answers a value.
func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
	return v
}

// visit opens a console path ("/console/discrepancies?type=reversal") and
// waits for its main element.
func (b *browser) visit(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// location is the tab's URL without tally's base.
func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(loc, b.base)
}

// text is the visible text of the first element a CSS selector matches.
func (b *browser) text(css string) string {
	b.t.Helper()
	return run(b, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
}

// count is how many elements a CSS selector matches now.
func (b *browser) count(css string) int {
	b.t.Helper()
	return run(b, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(css)+").length"))
}

// login signs in through the login form and waits for the page after it.
func (b *browser) login(email, password string) {
	b.t.Helper()
	b.visit("/console/login")
	b.do(
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	b.do(chromedpClick(`form[action="/console/login"] button[type=submit]`))
}

// screenshot writes the whole page as artifacts/console/<name>.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := run(b, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(consoleArtifacts, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(consoleArtifacts, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// staffPassword is the password every test user chooses.
const staffPassword = "chosen password 22"

// staffUser creates a console user who has already chosen their password
// (no forced change at sign-in).
func staffUser(t *testing.T, env *tallytest.Env, email string, role staff.Role, merchantIDs ...int64) staff.User {
	t.Helper()
	ctx := context.Background()
	u, err := env.App.Staff.CreateUser(ctx, staff.NewUser{Email: email, Role: role, Password: "initial password 1", MerchantIDs: merchantIDs})
	if err != nil {
		t.Fatal(err)
	}
	if u, err = env.App.Staff.ChangePassword(ctx, u.ID, "initial password 1", staffPassword); err != nil {
		t.Fatal(err)
	}
	return u
}

// chromedpClick clicks the first element a CSS selector matches and waits
// for the page it leads to: the old document is marked before the click,
// and the wait ends when a document without the mark has loaded.
func chromedpClick(css string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		discard(chromedp.Evaluate[bool]("window.__tallyOld = true")),
		chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible),
		waitTrue("window.__tallyOld === undefined && document.readyState === 'complete'"),
		chromedp.WaitReady(chromedp.CSS("main")),
	)
}

// discard runs an action for its effect.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// waitTrue waits until a JavaScript expression is true, asking again while
// the page navigates (an evaluation cut by a navigation is retried).
func waitTrue(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			if ok, err := chromedp.Evaluate[bool](expr)(ctx, t); err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-tick.C:
			}
		}
	}
}
