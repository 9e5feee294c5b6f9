package recon_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon"
	stmt "github.com/tallyhq/tally/recon/statement"
	"github.com/tallyhq/tally/tallytest"
)

// bankCSV is a bank's own export: a preamble, semicolons, decimal commas,
// German dates in Berlin time, separate debit and credit columns, and a
// closing-balance footer. Line 9 has no amount a person could read, line 10
// both a debit and a credit.
const bankCSV = "\uFEFFKontoauszug;Girokonto DE12 3456\r\n" + // 1
	"Zeitraum;01.03.2026 - 31.03.2026\r\n" + // 2
	"\r\n" + // 3 (blank)
	"Buchungstag;Verwendungszweck;Referenz;Soll;Haben;Währung\r\n" + // 4
	"02.03.2026 09:15;Einzahlung Kunde;DEP-1001;;1.234,56;BRL\r\n" + // 5
	"02.03.2026 17:40;\"Auszahlung, Lieferant\";PAY-2002;-99,90;;BRL\r\n" + // 6
	"03.03.2026 08:00;\"Einzahlung\nmit Zeilenumbruch\";DEP-1003;;50,00;brl\r\n" + // 7-8
	"04.03.2026 10:00;Fehler;DEP-1004;;zwölf;BRL\r\n" + // 9
	"05.03.2026 11:00;Beides;DEP-1005;-1,00;2,00;BRL\r\n" + // 10
	";;;;;\r\n" + // 11 (spacer)
	"31.03.2026 23:59;Schlusssaldo;;;;\r\n" // 12

func bankMapping(merchantID int64) recon.Mapping {
	return recon.Mapping{MerchantID: merchantID, Name: "Bank DE", Format: recon.FormatCSV, Delimiter: ';', HeaderRow: 4,
		Columns:    map[string]string{"order_no": "Referenz", "settled_at": "Buchungstag", "debit": "Soll", "credit": "Haben", "currency": "Währung"},
		DateFormat: "DD.MM.YYYY HH:mm", TimeZone: "Europe/Berlin", AmountSign: recon.SignDebitCredit, DecimalComma: true,
		DefaultStatus: providers.StatusSucceeded, CreatedBy: "user:1"}
}

func TestPreviewBankCSV(t *testing.T) {
	t.Parallel()
	m := bankMapping(1)
	p, err := recon.PreviewStatement(strings.NewReader(bankCSV), &m, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Buchungstag,Verwendungszweck,Referenz,Soll,Haben,Währung"; strings.Join(p.Headers, ",") != want {
		t.Errorf("headers = %q", p.Headers)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := []struct {
		line   int
		no     string
		kind   providers.OrderKind
		amount string
		cur    string
		at     time.Time
	}{
		{5, "DEP-1001", providers.KindDeposit, "1234.56", "BRL", time.Date(2026, 3, 2, 9, 15, 0, 0, berlin)},
		{6, "PAY-2002", providers.KindPayout, "99.9", "BRL", time.Date(2026, 3, 2, 17, 40, 0, 0, berlin)},
		{7, "DEP-1003", providers.KindDeposit, "50", "BRL", time.Date(2026, 3, 3, 8, 0, 0, 0, berlin)},
	}
	if p.Good != len(want) || len(p.Lines) != len(want) {
		t.Fatalf("good = %d, lines %+v", p.Good, p.Lines)
	}
	for i, w := range want {
		l := p.Lines[i]
		if l.LineNo != w.line || l.OrderNo != w.no || l.Kind != w.kind || l.Amount.String() != w.amount || l.Currency != w.cur ||
			!l.SettledAt.Equal(w.at) || l.Status != providers.StatusSucceeded || l.Fee.Valid {
			t.Errorf("line %d = %+v, want %+v", i, l, w)
		}
	}
	wantBad := []stmt.RowError{
		{Line: 9, Column: "Haben", Value: "zwölf", Reason: "credit: not an amount"},
		{Line: 10, Column: "Haben", Value: "2,00", Reason: "credit: both credit and debit hold an amount"},
		// The footer has neither debit nor credit: reported on its own line.
		{Line: 12, Column: "Haben", Value: "", Reason: "credit: credit or debit is required"},
	}
	if p.Bad != len(wantBad) || len(p.BadRows) != len(wantBad) {
		t.Fatalf("bad = %d: %+v", p.Bad, p.BadRows)
	}
	for i, w := range wantBad {
		if p.BadRows[i] != w {
			t.Errorf("bad row %d = %+v, want %+v", i, p.BadRows[i], w)
		}
	}
}

func TestMappingValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*recon.Mapping)
		msg  string
	}{
		{"no order column", func(m *recon.Mapping) { delete(m.Columns, "order_no") }, "map order_no or provider_order_id"},
		{"no date", func(m *recon.Mapping) { delete(m.Columns, "settled_at") }, "map settled_at"},
		{"amount with debit/credit", func(m *recon.Mapping) { m.Columns["amount"] = "Betrag" }, "not amount"},
		{"bad date format", func(m *recon.Mapping) { m.DateFormat = "DD/MM/YYYY hh" }, "date format"},
		{"bad zone", func(m *recon.Mapping) { m.TimeZone = "Mars/Olympus" }, "IANA"},
		{"no status", func(m *recon.Mapping) { m.DefaultStatus = "" }, "status"},
		{"unknown field", func(m *recon.Mapping) { m.Columns["colour"] = "Farbe" }, "unknown field"},
		{"positive without kind", func(m *recon.Mapping) {
			m.AmountSign = recon.SignPositive
			delete(m.Columns, "debit")
			delete(m.Columns, "credit")
			m.Columns["amount"] = "Haben"
		}, "default kind"},
		{"bad status word", func(m *recon.Mapping) { m.StatusValues = map[string]providers.Status{"Gebucht": "booked"} }, "not a status"},
	} {
		m := bankMapping(1)
		tc.edit(&m)
		err := m.Validate()
		if !errors.Is(err, recon.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrInvalid with %q", tc.name, err, tc.msg)
		}
	}
	m := bankMapping(1)
	m.Columns["amount"] = ""
	if err := m.Validate(); err != nil {
		t.Errorf("an empty column is unmapped: %v", err)
	}
}

// providerXLSX is a provider's own report: two title rows, the headers on
// row 3, real date cells, numeric amounts and fees, the provider's words for
// kinds and statuses. Row 6 is empty (not in the file at all); row 8 has a
// text amount; row 9 a status the mapping does not know.
func providerXLSX(t *testing.T, orderNo string, settled time.Time) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 22}) // m/d/yy h:mm
	if err != nil {
		t.Fatal(err)
	}
	set := func(cell string, v any) {
		t.Helper()
		if err := f.SetCellValue(sh, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("A1", "PayCo settlement report")
	set("A2", "Merchant: acme")
	for i, h := range []string{"Merchant Ref", "PayCo ID", "Type", "State", "Gross", "Fee", "Ccy", "Completed"} {
		cell, _ := excelize.CoordinatesToCellName(i+1, 3)
		set(cell, h)
	}
	rows := []struct {
		row                 int
		ref, id, typ, state string
		gross               any
		fee                 any
		cur                 string
	}{
		{4, orderNo, "PC-1", "Payin", "Paid", 60.0, 0.6, "BRL"},
		{5, "X-2", "PC-2", "Payout", "Paid", 1234.56, 2.35, "BRL"},
		{7, "X-3", "PC-3", "Payin", "Refunded", 10.0, 0.0, "BRL"},
		{8, "X-4", "PC-4", "Payin", "Paid", "n/a", 0.0, "BRL"},
		{9, "X-5", "PC-5", "Payin", "On hold", 5.0, 0.0, "BRL"},
	}
	for _, r := range rows {
		for i, v := range []any{r.ref, r.id, r.typ, r.state, r.gross, r.fee, r.cur, settled} {
			cell, _ := excelize.CoordinatesToCellName(i+1, r.row)
			set(cell, v)
		}
		cell, _ := excelize.CoordinatesToCellName(8, r.row)
		if err := f.SetCellStyle(sh, cell, cell, dateStyle); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func providerMapping(merchantID int64) recon.Mapping {
	return recon.Mapping{MerchantID: merchantID, Name: "PayCo XLSX", Format: recon.FormatXLSX, HeaderRow: 3,
		Columns: map[string]string{"order_no": "merchant ref", "provider_order_id": "PayCo ID", "kind": "Type", "status": "State",
			"amount": "Gross", "fee": "Fee", "currency": "Ccy", "settled_at": "Completed"},
		TimeZone: "America/Sao_Paulo", AmountSign: recon.SignPositive,
		StatusValues: map[string]providers.Status{"Paid": providers.StatusSucceeded, "refunded": providers.StatusReversed},
		KindValues:   map[string]providers.OrderKind{"payin": providers.KindDeposit, "PAYOUT": providers.KindPayout}, CreatedBy: "user:1"}
}

func TestPreviewProviderXLSX(t *testing.T) {
	t.Parallel()
	sp, _ := time.LoadLocation("America/Sao_Paulo")
	settled := time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC) // a wall clock: the sheet has no zones
	m := providerMapping(1)
	p, err := recon.PreviewStatement(bytes.NewReader(providerXLSX(t, "ORD-1", settled)), &m, 10)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 14, 30, 0, 0, sp)
	want := []struct {
		line        int
		no          string
		kind        providers.OrderKind
		status      providers.Status
		amount, fee string
	}{
		{4, "ORD-1", providers.KindDeposit, providers.StatusSucceeded, "60", "0.6"},
		{5, "X-2", providers.KindPayout, providers.StatusSucceeded, "1234.56", "2.35"},
		{7, "X-3", providers.KindDeposit, providers.StatusReversed, "10", "0"},
	}
	if p.Good != len(want) {
		t.Fatalf("good = %d: %+v (bad %+v)", p.Good, p.Lines, p.BadRows)
	}
	for i, w := range want {
		l := p.Lines[i]
		if l.LineNo != w.line || l.OrderNo != w.no || l.Kind != w.kind || l.Status != w.status || l.Amount.String() != w.amount ||
			!l.Fee.Valid || l.Fee.Decimal.String() != w.fee || l.Currency != "BRL" || !l.SettledAt.Equal(at) {
			t.Errorf("line %d = %+v (settled %s), want %+v at %s", i, l, l.SettledAt, w, at)
		}
	}
	wantBad := []stmt.RowError{
		{Line: 8, Column: "Gross", Value: "n/a", Reason: "amount: not an amount"},
		{Line: 9, Column: "State", Value: "On hold", Reason: "status: not a status, nor a word the mapping knows"},
	}
	if len(p.BadRows) != len(wantBad) || p.Bad != len(wantBad) {
		t.Fatalf("bad rows = %+v", p.BadRows)
	}
	for i, w := range wantBad {
		if p.BadRows[i] != w {
			t.Errorf("bad row %d = %+v, want %+v", i, p.BadRows[i], w)
		}
	}
	// A header that lacks a mapped column names it.
	m.Columns["amount"] = "Net"
	if _, err := recon.PreviewStatement(bytes.NewReader(providerXLSX(t, "ORD-1", settled)), &m, 10); !errors.Is(err, recon.ErrInvalid) || !strings.Contains(err.Error(), `"Net"`) {
		t.Fatalf("missing column: %v", err)
	}
}

// TestImportMapped saves mappings, imports a provider's XLSX through one
// (bad rows refuse the file, then are skipped when allowed, with the
// original row numbers stored and reported), and reconciles it.
func TestImportMapped(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	o := paidDeposit(e, "m1", "60.00")

	saved, err := e.Recon.SaveMapping(ctx, providerMapping(e.Merchant.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Recon.SaveMapping(ctx, providerMapping(e.Merchant.ID)); !errors.Is(err, recon.ErrMappingExists) {
		t.Fatalf("the same name twice: %v", err)
	}
	bad := providerMapping(e.Merchant.ID)
	bad.Name, bad.AmountSign = "broken", "sideways"
	if _, err := e.Recon.SaveMapping(ctx, bad); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("invalid mapping saved: %v", err)
	}
	m, err := e.Recon.MappingByID(ctx, saved.ID)
	if err != nil || m.Name != "PayCo XLSX" || m.Columns["amount"] != "Gross" || m.StatusValues["paid"] != providers.StatusSucceeded ||
		m.KindValues["payout"] != providers.KindPayout || m.HeaderRow != 3 || m.Format != recon.FormatXLSX {
		t.Fatalf("read back: %+v %v", m, err)
	}
	if list, err := e.Recon.Mappings(ctx, []int64{e.Merchant.ID}); err != nil || len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("mappings = %+v %v", list, err)
	}
	if list, err := e.Recon.Mappings(ctx, []int64{}); err != nil || len(list) != 0 {
		t.Fatalf("mappings of no merchant = %+v %v", list, err)
	}
	if _, err := e.Recon.ImportMapped(ctx, e.Merchant.ID+1, "cxpay-main", "x.xlsx", strings.NewReader(""), m, recon.ImportOptions{}); !errors.Is(err, recon.ErrNotFound) {
		t.Fatalf("another merchant's mapping: %v", err)
	}

	file := providerXLSX(t, o.ProviderOrderNo, time.Now().UTC())
	_, err = e.Recon.ImportMapped(ctx, e.Merchant.ID, "cxpay-main", "payco.xlsx", bytes.NewReader(file), m, recon.ImportOptions{Actor: "user:1"})
	if !errors.Is(err, recon.ErrBadRows) || !strings.Contains(err.Error(), "first at line 8") {
		t.Fatalf("bad rows: %v", err)
	}
	res, err := e.Recon.ImportMapped(ctx, e.Merchant.ID, "cxpay-main", "payco.xlsx", bytes.NewReader(file), m, recon.ImportOptions{Actor: "user:1", AllowBadRows: true})
	if err != nil || res.Statement.Lines != 3 || res.Statement.BadLines != 2 || len(res.BadRows) != 2 || res.BadRows[0].Line != 8 || res.BadRows[1].Line != 9 {
		t.Fatalf("import: %+v %v", res, err)
	}
	var lineNos []int
	rows, err := e.Pool.Query(ctx, `SELECT line_no FROM statement_lines WHERE statement_id = $1 ORDER BY line_no`, res.Statement.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		_ = rows.Scan(&n)
		lineNos = append(lineNos, n)
	}
	if rows.Err() != nil || len(lineNos) != 3 || lineNos[0] != 4 || lineNos[1] != 5 || lineNos[2] != 7 {
		t.Fatalf("stored line numbers = %v, want the sheet's rows 4, 5, 7", lineNos)
	}
	again, err := e.Recon.ImportMapped(ctx, e.Merchant.ID, "cxpay-main", "payco.xlsx", bytes.NewReader(file), m, recon.ImportOptions{AllowBadRows: true})
	if err != nil || !again.Duplicate || again.Statement.ID != res.Statement.ID {
		t.Fatalf("the same file twice: %+v %v", again, err)
	}
	listed, err := e.Recon.StatementsOf(ctx, []int64{e.Merchant.ID}, 0, 10)
	if err != nil || len(listed) != 1 || listed[0].ImportedBy != "user:1" || listed[0].Merchant != e.Merchant.Code || listed[0].Lines != 3 {
		t.Fatalf("statements = %+v %v", listed, err)
	}

	// The run matches the order the sheet names and flags the two it does not know.
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	var matched int64
	for _, l := range sum.Orders {
		matched += l.Matched
	}
	if matched != 1 {
		t.Fatalf("orders = %+v findings %+v", sum.Orders, sum.Findings)
	}
	var unknown int64
	for _, l := range sum.Discrepancies {
		if l.Type == "unknown_order" {
			unknown += l.New
		}
	}
	if unknown != 2 {
		t.Fatalf("unknown orders = %+v", sum.Discrepancies)
	}
}
