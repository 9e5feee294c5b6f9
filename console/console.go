// Package console is tally's accounting console: server-rendered pages for
// staff users (package staff) under /console on the public listener of tally
// serve. It reads through the services' APIs and changes nothing itself: a
// form calls the service that owns what it changes, with the signed-in user's
// Actor.
//
// Every page lives in a file of its own and registers its routes through a
// method console.go calls (overviewRoutes, queueRoutes, runsRoutes, ...), so
// adding a page is adding files: a Go file with its routes and handlers, and
// a template in templates/. The layout's navigation (navItems) shows an entry
// only when a GET route serves its path and the user may read it.
//
// Security: the session cookie (tally_session) is HttpOnly, Secure,
// SameSite=Strict and scoped to /console; every state-changing request goes
// through http.CrossOriginProtection and needs a live session (login aside);
// a request without a session is sent to the login page (GET) or refused 403.
package console

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/webhooks"
)

// Prefix is where the console is served.
const Prefix = "/console"

// CookieName is the session cookie's name.
const CookieName = "tally_session"

// Deps are the services the console reads and acts through.
type Deps struct {
	// Staff signs users in and out. Required.
	Staff         *staff.Service
	Discrepancies *discrepancies.Store
	Recon         *recon.Service
	Ledger        *ledger.Ledger
	Orders        *orders.Service
	Merchants     *merchants.Service
	Webhooks      *webhooks.Service
	Callbacks     *callbacks.Service
	// RiverUI is River's own UI (jobs.UI), served to admins under
	// /console/admin/river/ (RiverPrefix); nil shows no link to it.
	RiverUI http.Handler
	// Pool is what the discrepancies store and the console's own reads run
	// on (the store takes the connection from its caller).
	Pool *pgxpool.Pool
}

// Options tune the console.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// ClientAddr finds the address a request comes from (recorded with a
	// session); default the connection's peer. tally serve gives the server's
	// (which trusts X-Forwarded-For from its proxies only).
	ClientAddr func(*http.Request) string
	// Now is the clock of ages and default periods; default time.Now.
	Now func() time.Time
	// PageSize is the rows per page of a list; default 50.
	PageSize int
}

// Console is the accounting console.
type Console struct {
	deps    Deps
	opts    Options
	log     *slog.Logger
	pages   map[string]*template.Template
	assets  *assets
	handler http.Handler
	paths   map[string]bool // GET paths a route serves, for the navigation
	queue   discrepancyQueue
	routes  []route
	guard   *loginGuard // sign-in limiter and session purge (login_guard.go)

	curMu  sync.Mutex
	curAt  time.Time
	scales map[string]int32
}

// route is one page or form of the console.
type route struct {
	// Pattern is a net/http pattern with its method, under /console:
	// "GET /console/runs/{id}".
	Pattern string
	// Perm is what the user must hold; empty is staff.Read.
	Perm    staff.Permission
	Handler http.HandlerFunc
}

// navItem is one entry of the layout's navigation, shown when a GET route
// serves Path and the user holds Perm.
type navItem struct {
	Label string
	Path  string
	Perm  staff.Permission
}

// navItems are the console's pages, in the order the navigation shows them.
// A page that is not built yet (no GET route for its path) is not shown.
var navItems = []navItem{
	{"Overview", Prefix + "/", staff.Read},
	{"Open items", Prefix + "/discrepancies", staff.Read},
	{"Approvals", Prefix + "/approvals", staff.Read},
	{"Runs", Prefix + "/runs", staff.Read},
	{"Statements", Prefix + "/statements", staff.Read},
	{"Ledger", Prefix + "/ledger", staff.Read},
	{"Orders", Prefix + "/orders", staff.Read},
	{"Admin", Prefix + "/admin", staff.Administer},
}

// New builds the console. It panics when a template does not parse (they
// are embedded: a broken one is a build error caught by any test).
func New(deps Deps, opts Options) *Console {
	if deps.Staff == nil {
		panic("console: Deps.Staff is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.ClientAddr == nil {
		opts.ClientAddr = peerAddr
	}
	c := &Console{deps: deps, opts: opts, log: opts.Logger, assets: loadAssets(), paths: map[string]bool{}}
	c.queue = c.newQueue()
	c.guard = newLoginGuard()
	c.pages = c.parseTemplates()

	var routes []route
	for _, rs := range [][]route{
		c.authRoutes(),
		c.overviewRoutes(),
		c.queueRoutes(),
		c.discrepancyRoutes(),
		c.approvalsRoutes(),
		c.runsRoutes(),
		c.statementsRoutes(),
		c.ledgerRoutes(),
		c.ordersRoutes(),
		c.adminRoutes(),
	} {
		routes = append(routes, rs...)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/static/{name}", c.assets.serve)
	mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"/login", c.login)
	c.routes = routes
	for _, r := range routes {
		mux.Handle(r.Pattern, c.authed(r.Perm, r.Handler))
		if m, p, ok := strings.Cut(r.Pattern, " "); ok && m == "GET" {
			c.paths[strings.TrimSuffix(p, "{$}")] = true
		}
	}
	// Anything else under /console: a 404 page for a signed-in user, the
	// login page for anyone else.
	mux.Handle(Prefix+"/", c.authed(staff.Read, func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r)
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.log.Warn("console: cross-origin request refused", "method", r.Method, "path", r.URL.Path)
		c.renderError(w, r, http.StatusForbidden, "Cross-origin request refused",
			"This form was sent from another site. Open the console and send it from there.")
	}))
	c.handler = securityHeaders(cop.Handler(mux))
	return c
}

// Handler serves everything under /console/.
func (c *Console) Handler() http.Handler { return c.handler }

// RouteInfo is one route of the console and the permission it needs.
type RouteInfo struct {
	// Pattern is the net/http pattern, method first: "POST /console/runs".
	Pattern string
	Perm    staff.Permission
}

// Routes lists the console's routes behind a session (sign-in and the
// static assets aside), so that a test can hold every form to its
// permission.
func (c *Console) Routes() []RouteInfo {
	out := make([]RouteInfo, len(c.routes))
	for i, r := range c.routes {
		perm := r.Perm
		if perm == "" {
			perm = staff.Read
		}
		out[i] = RouteInfo{Pattern: r.Pattern, Perm: perm}
	}
	return out
}

// securityHeaders sets the headers every console answer carries: pages are
// private (no store), may not be framed, and load only the console's own
// assets.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// nav is the navigation a user sees.
func (c *Console) nav(u staff.User, current string) []navLink {
	var out []navLink
	for _, n := range navItems {
		if !c.paths[n.Path] || !u.Can(n.Perm) {
			continue
		}
		active := current == n.Path || (n.Path != Prefix+"/" && strings.HasPrefix(current, n.Path))
		out = append(out, navLink{Label: n.Label, Path: n.Path, Active: active})
	}
	return out
}

type navLink struct {
	Label, Path string
	Active      bool
}

// scale is the number of decimal places of a currency (ledger.Currency), read
// through a snapshot refreshed at most once a minute (and at once for a code
// it does not know yet, at most once a second). Unknown currencies get 2.
func (c *Console) scale(code string) int32 {
	c.curMu.Lock()
	defer c.curMu.Unlock()
	s, ok := c.scales[code]
	age := c.opts.Now().Sub(c.curAt)
	if c.deps.Ledger != nil && (age > time.Minute || (!ok && age > time.Second)) {
		c.curAt = c.opts.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cs, err := c.deps.Ledger.Currencies(ctx)
		cancel()
		if err != nil {
			c.log.Warn("console: read currencies", "error", err)
		} else {
			c.scales = make(map[string]int32, len(cs))
			for _, cur := range cs {
				c.scales[cur.Code] = cur.Scale
			}
			s, ok = c.scales[code]
		}
	}
	if !ok {
		return 2
	}
	return s
}

// errForbidden: the user may not see or do this.
var errForbidden = errors.New("forbidden")
