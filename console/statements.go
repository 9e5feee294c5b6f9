package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
)

// The Statements pages: upload a provider's statement (tally's format, or a
// provider's or bank's own CSV/XLSX through a saved column mapping), see a
// preview of what it would import (the first lines parsed, every bad line
// with its line number and error) with nothing imported, then import it with
// a second POST; the imported statements; the saved mappings and a form that
// saves a new one.
//
// The upload is kept between the preview and the import in a temporary
// server-side store (uploadStore): files on local disk under a random id,
// bound to the user who uploaded them, for uploadTTL. Re-uploading was the
// alternative; it was not chosen because a browser cannot refill a file
// input (the user would pick the file again, and could pick another one
// than the file previewed), and a large file would cross the network twice.
// The cost: with several tally serve replicas, preview and import must reach
// the same one (sticky sessions), or the import answers that the upload has
// expired and the user uploads again.

// MaxUploadBytes bounds a statement uploaded through the console (the
// merchant API takes larger ones: server.MaxStatementBytes).
const MaxUploadBytes = 32 << 20

// uploadTTL is how long an upload waits for its import.
const uploadTTL = 30 * time.Minute

// maxUploads bounds the uploads kept at once (the oldest go first).
const maxUploads = 64

// previewLines is how many parsed lines a preview shows.
const previewLines = 20

func (c *Console) statementsRoutes() []route {
	return []route{
		{Pattern: "GET " + Prefix + "/statements", Handler: c.statementsPage},
		{Pattern: "POST " + Prefix + "/statements/preview", Perm: staff.Propose, Handler: c.previewStatement},
		{Pattern: "POST " + Prefix + "/statements/import", Perm: staff.Propose, Handler: c.importStatement},
		{Pattern: "POST " + Prefix + "/statements/mappings", Perm: staff.Propose, Handler: c.saveMapping},
	}
}

// upload is a file waiting between its preview and its import.
type upload struct {
	ID         string
	UserID     int64
	MerchantID int64
	Account    string
	MappingID  int64
	Filename   string
	Size       int64
	SHA256     string
	path       string
	created    time.Time
}

// uploadStore keeps uploads on local disk, readable by tally's user only.
type uploadStore struct {
	mu    sync.Mutex
	dir   string
	items map[string]*upload
}

var errUploadGone = errors.New("upload expired or unknown")

func (s *uploadStore) ensureDir() error {
	if s.dir != "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "tally-console-uploads-")
	if err != nil {
		return fmt.Errorf("upload store: %w", err)
	}
	s.dir, s.items = dir, map[string]*upload{}
	return nil
}

// put stores the content of r (at most MaxUploadBytes) as a new upload.
func (s *uploadStore) put(u upload, r io.Reader, now time.Time) (*upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	s.sweep(now)
	var id [16]byte
	_, _ = rand.Read(id[:])
	u.ID, u.created = hex.EncodeToString(id[:]), now
	u.path = filepath.Join(s.dir, u.ID)
	f, err := os.OpenFile(u.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("upload store: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, MaxUploadBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > MaxUploadBytes {
		err = errTooLarge
	}
	if err != nil {
		_ = os.Remove(u.path)
		return nil, err
	}
	u.Size, u.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	s.items[u.ID] = &u
	return &u, nil
}

var errTooLarge = fmt.Errorf("the file is larger than %d MiB", MaxUploadBytes>>20)

// get returns a user's live upload.
func (s *uploadStore) get(id string, userID int64, now time.Time) (*upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.items[id]
	if !ok || u.UserID != userID || now.Sub(u.created) > uploadTTL {
		return nil, errUploadGone
	}
	return u, nil
}

func (s *uploadStore) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.items[id]; ok {
		_ = os.Remove(u.path)
		delete(s.items, id)
	}
}

// sweep drops expired uploads and, past maxUploads, the oldest.
func (s *uploadStore) sweep(now time.Time) {
	var live []*upload
	for id, u := range s.items {
		if now.Sub(u.created) > uploadTTL {
			_ = os.Remove(u.path)
			delete(s.items, id)
			continue
		}
		live = append(live, u)
	}
	if len(live) < maxUploads {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i].created.Before(live[j].created) })
	for _, u := range live[:len(live)-maxUploads+1] {
		_ = os.Remove(u.path)
		delete(s.items, u.ID)
	}
}

// uploads is the console's store (one per process).
var uploads = &uploadStore{}

// mappingChoice is a saved mapping a form offers.
type mappingChoice struct {
	ID    int64
	Label string
}

// mappingForm is the new-mapping form as sent (shown again on an error).
type mappingForm struct {
	Merchant, Name, Format, Delimiter, Sheet, HeaderRow, DateFormat, TimeZone, AmountSign string
	DecimalComma                                                                          bool
	DefaultKind, DefaultStatus, DefaultCurrency, StatusValues, KindValues                 string
	Columns                                                                               map[string]string
}

type statementsData struct {
	Statements []recon.ListedStatement
	Pager      pager
	Accounts   []accountChoice
	Mappings   []recon.Mapping
	Choices    []mappingChoice
	Merchants  []merchantOption
	Fields     []recon.MappingField
	Statuses   []string
	Formats    []string
	OrderKinds []string
	Form       mappingForm
	Headers    []string
	Error      string
	MapError   string
	Imported   int64
	Duplicate  bool
	Saved      string
	Upload     uploadForm
}

// uploadForm is the upload form's choice, kept for the preview page.
type uploadForm struct {
	Account string
	Mapping int64
}

var statuses = []string{"succeeded", "failed", "expired", "reversed", "pending", "processing"}

// statementsData reads what every statements page shows around its part.
func (c *Console) statementsData(r *http.Request) (statementsData, error) {
	u := userFrom(r.Context())
	d := statementsData{Fields: recon.MappingFields, Statuses: statuses,
		Formats: []string{string(recon.FormatCSV), string(recon.FormatXLSX)}, OrderKinds: []string{"deposit", "payout"},
		Form: mappingForm{Format: "csv", Delimiter: ",", HeaderRow: "1", TimeZone: "UTC", AmountSign: string(recon.SignPositive)}}
	scope, _ := merchantScope(u, 0)
	if scope == nil && u.MerchantIDs != nil {
		scope = []int64{}
	}
	ms, err := c.visibleMerchants(r.Context(), u)
	if err != nil {
		return d, err
	}
	codes := map[int64]string{}
	for _, m := range ms {
		d.Merchants = append(d.Merchants, merchantOption{ID: m.ID, Code: m.Code})
		codes[m.ID] = m.Code
	}
	if d.Mappings, err = c.deps.Recon.Mappings(r.Context(), scope); err != nil {
		return d, err
	}
	for _, m := range d.Mappings {
		d.Choices = append(d.Choices, mappingChoice{ID: m.ID, Label: fmt.Sprintf("%s · %s (%s)", codes[m.MerchantID], m.Name, m.Format)})
	}
	if u.Can(staff.Propose) {
		if d.Accounts, err = c.accountChoices(r.Context(), u, false); err != nil {
			return d, err
		}
	}
	return d, nil
}

func (c *Console) statementsPage(w http.ResponseWriter, r *http.Request) {
	c.renderStatements(w, r, http.StatusOK, func(d *statementsData) {})
}

func (c *Console) renderStatements(w http.ResponseWriter, r *http.Request, status int, edit func(*statementsData)) {
	d, err := c.statementsData(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	u := userFrom(r.Context())
	q := r.URL.Query()
	before, err := strconv.ParseInt(q.Get("cursor"), 10, 64)
	if q.Get("cursor") != "" && (err != nil || before <= 0) {
		c.badRequest(w, r, "cursor must be a statement id")
		return
	}
	scope, _ := merchantScope(u, 0)
	if scope == nil && u.MerchantIDs != nil {
		scope = []int64{}
	}
	sts, err := c.deps.Recon.StatementsOf(r.Context(), scope, before, int32(c.opts.PageSize)+1)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	next := ""
	if len(sts) > c.opts.PageSize {
		sts = sts[:c.opts.PageSize]
		next = strconv.FormatInt(sts[len(sts)-1].ID, 10)
	}
	d.Statements, d.Pager = sts, newPager(r, next)
	d.Imported, _ = strconv.ParseInt(q.Get("imported"), 10, 64)
	d.Duplicate = q.Get("duplicate") == "1"
	d.Saved = q.Get("saved")
	edit(&d)
	c.render(w, r, status, "statements.html", "Statements", d)
}

type previewData struct {
	statementsData
	Up        *upload
	Account   string
	Mapping   *recon.Mapping
	Preview   recon.StatementPreview
	FileError string
	Problem   string
}

// previewStatement takes the multipart upload, keeps the file and shows
// what it would import; nothing is imported.
func (c *Console) previewStatement(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		c.badRequest(w, r, "Send the form with its file (multipart/form-data).")
		return
	}
	fields := map[string]string{}
	var up *upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.renderError(w, r, http.StatusRequestEntityTooLarge, "File too large", errTooLarge.Error()+".")
			return
		}
		if err != nil {
			c.badRequest(w, r, "The upload was cut off: send it again.")
			return
		}
		if part.FormName() == "file" && part.FileName() != "" {
			if up != nil {
				c.badRequest(w, r, "Send one file.")
				return
			}
			up, err = uploads.put(upload{UserID: u.ID, Filename: cleanFilename(part.FileName())}, part, c.opts.Now())
			if errors.Is(err, errTooLarge) || errors.As(err, &tooBig) {
				c.renderError(w, r, http.StatusRequestEntityTooLarge, "File too large", errTooLarge.Error()+".")
				return
			}
			if err != nil {
				c.fail(w, r, err)
				return
			}
			continue
		}
		v, _ := io.ReadAll(io.LimitReader(part, 4096))
		fields[part.FormName()] = string(v)
	}
	again := func(msg string) {
		if up != nil {
			uploads.remove(up.ID)
		}
		c.renderStatements(w, r, http.StatusUnprocessableEntity, func(d *statementsData) {
			d.Error = msg
			d.Upload = uploadForm{Account: fields["account"]}
			d.Upload.Mapping, _ = strconv.ParseInt(fields["mapping"], 10, 64)
		})
	}
	if up == nil {
		again("Choose a file.")
		return
	}
	mid, acct, err := parseAccountChoice(u, fields["account"])
	if errors.Is(err, errForbidden) {
		uploads.remove(up.ID)
		c.forbidden(w, r)
		return
	}
	if err != nil || acct == "" {
		again("Choose a provider account.")
		return
	}
	up.MerchantID, up.Account = mid, acct
	var m *recon.Mapping
	if v := fields["mapping"]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			again("Choose a mapping.")
			return
		}
		mp, err := c.deps.Recon.MappingByID(r.Context(), id)
		if errors.Is(err, recon.ErrNotFound) || (err == nil && mp.MerchantID != mid) {
			again("That mapping is not one of this account's merchant.")
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		m, up.MappingID = &mp, mp.ID
	}
	c.renderPreview(w, r, http.StatusOK, up, m, "")
}

// renderPreview reads the stored upload through its mapping and shows it.
func (c *Console) renderPreview(w http.ResponseWriter, r *http.Request, status int, up *upload, m *recon.Mapping, problem string) {
	d, err := c.statementsData(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	pd := previewData{statementsData: d, Up: up, Account: up.Account, Mapping: m, Problem: problem}
	pd.Upload = uploadForm{Account: fmt.Sprintf("%d/%s", up.MerchantID, up.Account), Mapping: up.MappingID}
	f, err := os.Open(up.path)
	if err != nil {
		c.fail(w, r, fmt.Errorf("open upload: %w", err))
		return
	}
	defer f.Close()
	pd.Preview, err = recon.PreviewStatement(f, m, previewLines)
	switch {
	case errors.Is(err, recon.ErrInvalid):
		pd.FileError = publicReason(err)
	case err != nil:
		pd.FileError = "The file could not be read: " + err.Error()
	}
	pd.Headers = pd.Preview.Headers
	pd.Form.Merchant = strconv.FormatInt(up.MerchantID, 10)
	if strings.HasSuffix(strings.ToLower(up.Filename), ".xlsx") {
		pd.Form.Format = string(recon.FormatXLSX)
	}
	if pd.FileError != "" && status == http.StatusOK {
		status = http.StatusUnprocessableEntity
	}
	c.render(w, r, status, "statements_preview.html", "Statement preview", pd)
}

// importStatement imports the upload a preview kept, as the user.
func (c *Console) importStatement(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	up, err := uploads.get(r.FormValue("upload"), u.ID, c.opts.Now())
	if err != nil {
		c.renderStatements(w, r, http.StatusGone, func(d *statementsData) {
			d.Error = "That upload has expired (or was imported already): upload the file again."
		})
		return
	}
	if !u.SeesMerchant(up.MerchantID) {
		c.forbidden(w, r)
		return
	}
	var m *recon.Mapping
	if up.MappingID != 0 {
		mp, err := c.deps.Recon.MappingByID(r.Context(), up.MappingID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		m = &mp
	}
	f, err := os.Open(up.path)
	if err != nil {
		c.fail(w, r, fmt.Errorf("open upload: %w", err))
		return
	}
	defer f.Close()
	opts := recon.ImportOptions{Actor: u.Actor(), AllowBadRows: r.FormValue("allow_bad") == "1"}
	var res recon.ImportResult
	if m != nil {
		res, err = c.deps.Recon.ImportMapped(r.Context(), up.MerchantID, up.Account, up.Filename, f, *m, opts)
	} else {
		res, err = c.deps.Recon.Import(r.Context(), up.MerchantID, up.Account, up.Filename, f, opts)
	}
	switch {
	case errors.Is(err, recon.ErrBadRows):
		c.renderPreview(w, r, http.StatusUnprocessableEntity, up, m,
			"Nothing was imported: the file has bad lines. Tick “Skip the bad lines” to import the good ones, or fix the file.")
		return
	case errors.Is(err, recon.ErrInvalid), errors.Is(err, recon.ErrNotFound):
		c.renderPreview(w, r, http.StatusUnprocessableEntity, up, m, publicReason(err))
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	uploads.remove(up.ID)
	c.log.Info("console: statement imported", "statement_id", res.Statement.ID, "merchant_id", up.MerchantID,
		"lines", res.Statement.Lines, "bad_lines", res.Statement.BadLines, "duplicate", res.Duplicate, "actor", u.Actor())
	dup := ""
	if res.Duplicate {
		dup = "&duplicate=1"
	}
	http.Redirect(w, r, fmt.Sprintf("%s/statements?imported=%d%s", Prefix, res.Statement.ID, dup), http.StatusSeeOther)
}

// saveMapping saves a new column mapping for a merchant.
func (c *Console) saveMapping(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		c.badRequest(w, r, "The form could not be read.")
		return
	}
	form := mappingForm{Merchant: r.FormValue("merchant"), Name: r.FormValue("name"), Format: r.FormValue("format"),
		Delimiter: r.FormValue("delimiter"), Sheet: r.FormValue("sheet"), HeaderRow: r.FormValue("header_row"),
		DateFormat: r.FormValue("date_format"), TimeZone: r.FormValue("time_zone"), AmountSign: r.FormValue("amount_sign"),
		DecimalComma: r.FormValue("decimal_comma") == "1", DefaultKind: r.FormValue("default_kind"),
		DefaultStatus: r.FormValue("default_status"), DefaultCurrency: r.FormValue("default_currency"),
		StatusValues: r.FormValue("status_values"), KindValues: r.FormValue("kind_values"), Columns: map[string]string{}}
	for _, f := range recon.MappingFields {
		form.Columns[f.Name] = r.FormValue("col_" + f.Name)
	}
	again := func(msg string) {
		c.renderStatements(w, r, http.StatusUnprocessableEntity, func(d *statementsData) {
			d.Form, d.MapError = form, msg
			if h := r.Form["header"]; len(h) > 0 {
				d.Headers = h
			}
		})
	}
	mid, err := strconv.ParseInt(form.Merchant, 10, 64)
	if err != nil || mid <= 0 {
		again("Choose a merchant.")
		return
	}
	if !u.SeesMerchant(mid) {
		c.forbidden(w, r)
		return
	}
	m := recon.Mapping{MerchantID: mid, Name: form.Name, Format: recon.MappingFormat(form.Format), Sheet: strings.TrimSpace(form.Sheet),
		Columns: form.Columns, DateFormat: strings.TrimSpace(form.DateFormat), TimeZone: strings.TrimSpace(form.TimeZone),
		AmountSign: recon.AmountSign(form.AmountSign), DecimalComma: form.DecimalComma, DefaultKind: providers.OrderKind(form.DefaultKind),
		DefaultStatus: providers.Status(form.DefaultStatus), DefaultCurrency: form.DefaultCurrency, CreatedBy: u.Actor()}
	switch form.Delimiter {
	case "tab":
		m.Delimiter = '\t'
	case ",", ";", "|", "":
		m.Delimiter, _ = firstRune(form.Delimiter)
	default:
		again("The delimiter must be a comma, semicolon, tab or |.")
		return
	}
	if form.HeaderRow != "" {
		if m.HeaderRow, err = strconv.Atoi(strings.TrimSpace(form.HeaderRow)); err != nil {
			again("The header row must be a number.")
			return
		}
	}
	sv, err := parseWordMap(form.StatusValues)
	if err != nil {
		again("Status words: " + err.Error())
		return
	}
	kv, err := parseWordMap(form.KindValues)
	if err != nil {
		again("Kind words: " + err.Error())
		return
	}
	m.StatusValues, m.KindValues = map[string]providers.Status{}, map[string]providers.OrderKind{}
	for k, v := range sv {
		m.StatusValues[k] = providers.Status(v)
	}
	for k, v := range kv {
		m.KindValues[k] = providers.OrderKind(v)
	}
	saved, err := c.deps.Recon.SaveMapping(r.Context(), m)
	switch {
	case errors.Is(err, recon.ErrMappingExists):
		again("This merchant has a mapping of that name: choose another name.")
		return
	case errors.Is(err, recon.ErrInvalid):
		again(strings.TrimPrefix(publicReason(err), "Mapping: "))
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: statement mapping saved", "mapping_id", saved.ID, "merchant_id", mid, "actor", u.Actor())
	http.Redirect(w, r, Prefix+"/statements?saved="+url.QueryEscape(saved.Name)+"#upload", http.StatusSeeOther)
}

func firstRune(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}

// parseWordMap reads "Paid=succeeded" pairs, one a line (or separated by
// commas).
func parseWordMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q: write word=value", line)
		}
		out[strings.TrimSpace(k)] = strings.ToLower(strings.TrimSpace(v))
	}
	return out, nil
}

// cleanFilename keeps the base name of an uploaded file, printable and short.
func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if len(name) > 200 {
		name = name[:200]
	}
	if name == "" || name == "." || name == "/" {
		name = "upload"
	}
	return name
}
