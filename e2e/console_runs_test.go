package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// TestConsoleStatementsAndRuns drives the Statements and Runs pages as an
// accountant: a statement with a bad line is previewed with the error on its
// line and nothing imported; a mapping for a bank's own CSV is saved, a file
// in that layout previewed and imported; a run is started and listed, its
// detail shows what it found, and its CSV report downloads.
func TestConsoleStatementsAndRuns(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{})
	b := newBrowser(t, env.URL)
	u := staffUser(t, env, "ann@example.com", staff.Accountant)
	ctx := context.Background()

	o := brlDeposit(env, "c1", "60.00")
	env.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	o = env.WaitStatus(o.ID, orders.StatusSucceeded)
	account := fmt.Sprintf("%d/cxpay-main", env.Merchant.ID)
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	statements := func() int {
		var n int
		if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM statements`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	b.login("ann@example.com", staffPassword)
	b.visit("/console/statements")
	b.screenshot("statements")

	// tally's format with a bad amount on line 3: shown inline, nothing imported.
	bad := write("bad.csv", "order_no,kind,status,amount,currency,settled_at\n"+
		o.ProviderOrderNo+",deposit,succeeded,60.00,BRL,2026-12-01 10:00:00\n"+
		"X-2,deposit,succeeded,sixty,BRL,2026-12-01 10:05:00\n")
	b.do(
		chromedp.SetValue(chromedp.CSS("#up-account"), account),
		chromedp.SetUploadFiles(chromedp.CSS("#up-file"), []string{bad}),
	)
	b.do(chromedpClick(`#upload-form button[type=submit]`))
	if got := b.text(`#bad-lines tr[data-line="3"]`); !strings.Contains(got, "amount") || !strings.Contains(got, "sixty") || !strings.Contains(got, "not a decimal number") {
		t.Fatalf("bad line 3 shows %q", got)
	}
	if good, badN := b.text("#good-count"), b.text("#bad-count"); good != "1" || badN != "1" {
		t.Fatalf("counts: %s good, %s bad", good, badN)
	}
	if n := b.count(`#preview-lines tr[data-line="2"]`); n != 1 {
		t.Fatalf("line 2 parsed rows: %d", n)
	}
	b.screenshot("statements-preview-bad-line")
	if n := statements(); n != 0 {
		t.Fatalf("the preview imported %d statements", n)
	}
	// Import without skipping the bad line: refused, still nothing imported.
	b.do(chromedpClick(`#import-form button[type=submit]`))
	if msg := b.text("#import-error"); !strings.Contains(msg, "bad lines") {
		t.Fatalf("import with a bad line: %q", msg)
	}
	if n := statements(); n != 0 {
		t.Fatalf("a file with a bad line was imported (%d)", n)
	}

	// A mapping for the bank's own export: a preamble, semicolons, decimal
	// commas, signed amounts, local dates, no status or currency column.
	b.visit("/console/statements")
	b.do(chromedp.Click(chromedp.CSS("#new-mapping summary"), chromedp.NodeVisible))
	for _, f := range []struct{ css, value string }{
		{"#m-merchant", strconv.FormatInt(env.Merchant.ID, 10)},
		{"#m-name", "Banco Exemplo CSV"},
		{"#m-delim", ";"},
		{"#m-header", "2"},
		{"#col-order_no", "Documento"},
		{"#col-amount", "Valor"},
		{"#col-settled_at", "Data"},
		{"#m-sign", "signed"},
		{"#m-date", "DD/MM/YYYY HH:mm"},
		{"#m-tz", "America/Sao_Paulo"},
		{"#m-status", "succeeded"},
		{"#m-cur", "BRL"},
	} {
		b.do(chromedp.SetValue(chromedp.CSS(f.css), f.value))
	}
	b.do(chromedp.Click(chromedp.CSS("#m-comma"), chromedp.NodeVisible))
	b.screenshot("statements-new-mapping")
	b.do(chromedpClick(`#mapping-form button[type=submit]`))
	if msg := b.text("#mapping-saved"); !strings.Contains(msg, "Banco Exemplo CSV") {
		t.Fatalf("mapping saved: %q", msg)
	}
	maps, err := env.Recon.Mappings(ctx, []int64{env.Merchant.ID})
	if err != nil || len(maps) != 1 || maps[0].CreatedBy != u.Actor() || maps[0].HeaderRow != 2 || !maps[0].DecimalComma {
		t.Fatalf("mappings = %+v %v", maps, err)
	}
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	settled := time.Now().In(sp).Add(-time.Minute)
	bank := write("extrato.csv", "Banco Exemplo - Extrato de conta\n"+
		"Data;Historico;Documento;Valor;Saldo\n"+
		settled.Format("02/01/2006 15:04")+";PIX recebido;"+o.ProviderOrderNo+";60,00;1.060,00\n")
	b.do(
		chromedp.SetValue(chromedp.CSS("#up-account"), account),
		chromedp.SetValue(chromedp.CSS("#up-mapping"), strconv.FormatInt(maps[0].ID, 10)),
		chromedp.SetUploadFiles(chromedp.CSS("#up-file"), []string{bank}),
	)
	b.do(chromedpClick(`#upload-form button[type=submit]`))
	if good, badN := b.text("#good-count"), b.text("#bad-count"); good != "1" || badN != "0" {
		t.Fatalf("bank file counts: %s good, %s bad", good, badN)
	}
	if row := b.text(`#preview-lines tr[data-line="3"]`); !strings.Contains(row, o.ProviderOrderNo) || !strings.Contains(row, "60.00 BRL") || !strings.Contains(row, "deposit") {
		t.Fatalf("bank line 3 previewed as %q", row)
	}
	b.screenshot("statements-preview-mapped")
	b.do(chromedpClick(`#import-form button[type=submit]`))
	if msg := b.text("#imported"); !strings.Contains(msg, "imported") {
		t.Fatalf("after import: %q", msg)
	}
	listed, err := env.Recon.StatementsOf(ctx, nil, 0, 10)
	if err != nil || len(listed) != 1 || listed[0].Lines != 1 || listed[0].ImportedBy != u.Actor() || listed[0].Filename != "extrato.csv" {
		t.Fatalf("statements = %+v %v", listed, err)
	}
	b.screenshot("statements-imported")

	// Reconcile the statement from its row, then start an orders run from the form.
	b.do(chromedpClick(fmt.Sprintf(`tr[data-statement="%d"] button[type=submit]`, listed[0].ID)))
	stmtRun, err := strconv.ParseInt(b.text("#run-started a"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	b.do(
		chromedp.SetValue(chromedp.CSS("#run-account"), account),
		chromedp.SetValue(chromedp.CSS("#run-kind"), "orders"),
	)
	b.do(chromedpClick(`#start-run button[type=submit]`))
	runID, err := strconv.ParseInt(b.text("#run-started a"), 10, 64)
	if err != nil || runID == stmtRun {
		t.Fatalf("started run %q: %v", b.text("#run-started"), err)
	}
	if row := b.text(fmt.Sprintf(`#runs tr[data-run="%d"]`, runID)); !strings.Contains(row, "cxpay-main") || !strings.Contains(row, "orders") || !strings.Contains(row, u.Actor()) {
		t.Fatalf("run row: %q", row)
	}
	for _, id := range []int64{stmtRun, runID} {
		env.Eventually(fmt.Sprintf("run %d finished", id), func() bool {
			r, err := env.Recon.Get(ctx, env.Merchant.ID, id)
			return err == nil && r.Status != recon.RunRunning
		})
		r, _ := env.Recon.Get(ctx, env.Merchant.ID, id)
		if r.Status != recon.RunCompleted || r.StartedBy != u.Actor() || r.Trigger != "console" {
			t.Fatalf("run %d = %+v", id, r)
		}
	}
	b.visit("/console/runs")
	b.screenshot("runs")

	b.visit(fmt.Sprintf("/console/runs/%d", stmtRun))
	if st := b.text("#run-status"); st != "completed" {
		t.Fatalf("statement run status %q", st)
	}
	if row := b.text("#run-orders tbody tr"); !strings.Contains(row, "statement") || !strings.Contains(row, "60.00 BRL") {
		t.Fatalf("statement run orders: %q", row)
	}
	b.screenshot("run-detail")

	// The CSV report, downloaded by clicking its link (the session cookie goes with it).
	csv := string(b.download(`#downloads a[href$="format=csv"]`))
	if !strings.HasPrefix(csv, "Section,") || !strings.Contains(csv, "cxpay-main") {
		t.Fatalf("CSV report: %.300q", csv)
	}
	if href := run(b, chromedp.Evaluate[string](`document.querySelector('#downloads a[href$="format=xlsx"]').getAttribute("href")`)); href != fmt.Sprintf("/console/runs/%d/report?format=xlsx", stmtRun) {
		t.Fatalf("XLSX link %q", href)
	}
}

// download clicks a link and returns the file the browser saved.
func (b *browser) download(css string) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	yes := true
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes})
			return err
		}),
		chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible),
	); err != nil {
		b.t.Fatalf("download %s: %v", css, err)
	}
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download %s: %v", css, err)
		}
		switch ev.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				b.t.Fatal(err)
			}
			return data
		case cdpbrowser.DownloadProgressStateCanceled:
			b.t.Fatalf("download %s cancelled", css)
		}
	}
	b.t.Fatalf("download %s: no answer", css)
	return nil
}
