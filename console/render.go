package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/staff"
)

//go:embed templates/*.html
var templateFS embed.FS

// page is what every template gets: the layout's parts and the page's Data.
type page struct {
	Title string
	// User is the signed-in user (zero on the login page).
	User   staff.User
	Signed bool
	Nav    []navLink
	Path   string
	Data   any
}

// parseTemplates parses every page of templates/ with the layout and the
// partials (files named _*.html) it may use. A page is any other file; it
// defines "content" (and may define "head").
func (c *Console) parseTemplates() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	shared := []string{"templates/layout.html"}
	var pages []string
	for _, n := range names {
		base := path.Base(n)
		switch {
		case base == "layout.html":
		case strings.HasPrefix(base, "_"):
			shared = append(shared, n)
		default:
			pages = append(pages, n)
		}
	}
	root := template.Must(template.New("layout.html").Funcs(c.funcs()).ParseFS(templateFS, shared...))
	out := make(map[string]*template.Template, len(pages))
	for _, p := range pages {
		t := template.Must(template.Must(root.Clone()).ParseFS(templateFS, p))
		out[path.Base(p)] = t
	}
	return out
}

// render writes a page with the layout, buffered so that a template error
// becomes a 500 and never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t, ok := c.pages[name]
	if !ok {
		c.fail(w, r, fmt.Errorf("console: no template %s", name))
		return
	}
	u := userFrom(r.Context())
	p := page{Title: title, User: u, Signed: u.ID != 0, Path: r.URL.Path, Data: data}
	if p.Signed && !u.MustChange {
		p.Nav = c.nav(u, r.URL.Path)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render", "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct{ Heading, Message string }

// renderError answers a status with a short explanation.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	c.render(w, r, status, "error.html", heading, errorData{Heading: heading, Message: message})
}

// fail answers 500 (503 when the database is down) and logs the error.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	c.log.Error("console: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	c.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The error was logged. Try again; if it persists, tell the operator.")
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, http.StatusForbidden, "Not allowed", "Your role does not allow this page or action.")
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, http.StatusNotFound, "Not found", "There is nothing at this address.")
}

func (c *Console) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	c.renderError(w, r, http.StatusBadRequest, "Bad request", msg)
}

// funcs are the template functions every page may use.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": c.assets.path,
		"money": c.money,
		// amount is money without a currency code.
		"amount": func(cur string, d decimal.Decimal) string { return formatAmount(d, c.scale(cur)) },
		"moneyp": func(cur string, s *string) string {
			if s == nil {
				return "—"
			}
			d, err := decimal.NewFromString(*s)
			if err != nil {
				return *s
			}
			return c.money(cur, d)
		},
		"neg":       func(d decimal.Decimal) bool { return d.IsNegative() },
		"time":      formatTime,
		"timep":     func(t *time.Time) string { return formatTimePtr(t) },
		"date":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"age":       func(t time.Time) string { return formatAge(c.opts.Now().Sub(t)) },
		"can":       func(u staff.User, p string) bool { return u.Can(staff.Permission(p)) },
		"int":       func(n int64) string { return formatInt(n) },
		"humanize":  func(s string) string { return strings.ReplaceAll(s, "_", " ") },
		"add":       func(a, b int) int { return a + b },
		"sub":       func(a, b int) int { return a - b },
		"shortdate": func(t time.Time) string { return t.UTC().Format("Jan 2") },
		"has":       func(list []string, v string) bool { return slices.Contains(list, v) },
		"eq2": func(a any, bs ...any) bool {
			for _, b := range bs {
				if fmt.Sprint(a) == fmt.Sprint(b) {
					return true
				}
			}
			return false
		},
	}
}

// money formats an amount at its currency's scale with thousands separators
// and the code: "1,234.50 BRL".
func (c *Console) money(cur string, d decimal.Decimal) string {
	return formatAmount(d, c.scale(cur)) + " " + cur
}

// formatAmount writes d with exactly scale decimals and thousands separators.
func formatAmount(d decimal.Decimal, scale int32) string {
	s := d.StringFixed(scale)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteString("−") // a real minus sign
	}
	for i, ch := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func formatInt(n int64) string { return formatAmount(decimal.NewFromInt(n), 0) }

// formatTime is a time in UTC to the minute, as accountants read it.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return formatTime(*t)
}

// formatAge is a duration in its two largest units: "3d 4h", "5h 12m", "40s".
func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days := int64(d / (24 * time.Hour))
	hours := int64(d/time.Hour) % 24
	mins := int64(d/time.Minute) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case mins > 0:
		return fmt.Sprintf("%dm", mins)
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}
