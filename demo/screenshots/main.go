// Command screenshots takes the README's pictures of the accounting console
// from a running demo (make demo-serve, or tally demo --serve) with headless
// Chromium: the overview and the discrepancy detail of a payer-modified
// amount, signed in as the demo's accountant.
//
//	go run ./demo/screenshots --console http://127.0.0.1:8080/console/ --out docs/screenshots
//
// Some providers answer in Chinese: install a CJK font first (Debian:
// apt-get install fonts-wqy-zenhei), or their words show as empty boxes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	base := flag.String("console", "http://127.0.0.1:8080/console/", "the console's address")
	out := flag.String("out", "docs/screenshots", "folder of the PNG files")
	chromium := flag.String("chromium", "", "Chromium's path (default: chromium on $PATH or /usr/bin/chromium)")
	flag.Parse()
	if err := run(strings.TrimSuffix(*base, "/"), *out, *chromium); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

func run(console, out, chromium string) error {
	if chromium == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			chromium = p
		} else {
			chromium = "/usr/bin/chromium"
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tally-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.UserDataDir(dir),
		chromedp.DisableGPU, chromedp.WindowSize(1440, 900), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// Start the browser on ctx itself: a browser started under a step's
	// timeout would end with that step.
	if err := chromedp.Do(ctx); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	s := &shooter{ctx: ctx, console: console, out: out}

	// The accountant: the overview, and the detail of a payer-modified
	// amount (the queue's first amount_mismatch).
	if err := s.login("accountant@demo.example", "demo-accountant-1"); err != nil {
		return err
	}
	if err := s.shot("/", "overview"); err != nil {
		return err
	}
	href, err := s.eval(`(document.querySelector('table a[href^="/console/discrepancies/"]') || {}).getAttribute ? document.querySelector('table a[href^="/console/discrepancies/"]').getAttribute('href') : ""`,
		"/discrepancies?type=amount_mismatch")
	if err != nil {
		return err
	}
	if href == "" {
		return errors.New("the queue lists no amount_mismatch: is this the demo's data?")
	}
	if err := s.shot(strings.TrimPrefix(href, "/console"), "discrepancy"); err != nil {
		return err
	}
	return nil
}

type shooter struct {
	ctx     context.Context
	console string
	out     string
}

func (s *shooter) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

func (s *shooter) login(email, password string) error {
	return s.do(chromedp.Navigate(s.console+"/login"), chromedp.WaitReady(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS(".who")))
}

// eval opens a page and evaluates an expression there.
func (s *shooter) eval(expr, path string) (string, error) {
	if err := s.do(chromedp.Navigate(s.console+path), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// shot writes a whole page as <out>/<name>.png.
func (s *shooter) shot(path, name string) error {
	if err := s.do(chromedp.Navigate(s.console+path), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	file := filepath.Join(s.out, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		return err
	}
	fmt.Println(file)
	return nil
}
