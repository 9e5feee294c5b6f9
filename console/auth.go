package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tallyhq/tally/staff"
)

type userKey struct{}

// userFrom returns the signed-in user of a request that passed authed.
func userFrom(ctx context.Context) staff.User {
	u, _ := ctx.Value(userKey{}).(staff.User)
	return u
}

// authRoutes are the routes of a signed-in user's own session: logout and
// the password change.
func (c *Console) authRoutes() []route {
	return []route{
		{Pattern: "POST " + Prefix + "/logout", Handler: c.logout},
		{Pattern: "GET " + Prefix + "/password", Handler: c.passwordPage},
		{Pattern: "POST " + Prefix + "/password", Handler: c.changePassword},
	}
}

// authed lets a request through with a live session whose user holds perm
// (empty: staff.Read). Without a session, a GET is sent to the login page
// and anything else is refused 403: no state changes without a session. A
// user whose password was set by an admin can only change it or log out.
func (c *Console) authed(perm staff.Permission, next http.HandlerFunc) http.Handler {
	if perm == "" {
		perm = staff.Read
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := c.session(r)
		if err != nil {
			if !errors.Is(err, staff.ErrNoSession) {
				c.fail(w, r, err)
				return
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.renderError(w, r, http.StatusForbidden, "Signed out", "Your session has ended: sign in again, then repeat what you were doing.")
			return
		}
		u := sess.User
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		if u.MustChange && r.URL.Path != Prefix+"/password" && r.URL.Path != Prefix+"/logout" {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"/password", http.StatusSeeOther)
				return
			}
			c.renderError(w, r, http.StatusForbidden, "Choose a new password", "Your password was set by an administrator: choose your own first.")
			return
		}
		if !u.Can(perm) {
			c.forbidden(w, r)
			return
		}
		next(w, r)
	})
}

// session is the live session the request's cookie names.
func (c *Console) session(r *http.Request) (staff.Session, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" {
		return staff.Session{}, staff.ErrNoSession
	}
	return c.deps.Staff.Session(r.Context(), ck.Value)
}

func setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: Prefix, Expires: expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

type loginData struct {
	Email string
	Next  string
	Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.session(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login.html", "Sign in", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the form and opens a session. Every refusal shows one message
// (staff.ErrBadCredentials), or the time a locked account is open again. A
// client address past its attempts (login_guard.go) is answered 429 with
// Retry-After before any password is checked. Signing in also purges the
// sessions that ended, at most once an hour, in the background.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	client := c.opts.ClientAddr(r)
	if wait, ok := c.guard.allow(client, c.opts.Now()); !ok {
		secs := retryAfterSeconds(wait)
		c.log.Warn("console: sign-in attempts limited", "client", client, "retry_after_s", secs)
		w.Header().Set("Retry-After", secs)
		c.render(w, r, http.StatusTooManyRequests, "login.html", "Sign in", loginData{Email: email, Next: next,
			Error: "Too many sign-in attempts from your address: try again in " + secs + " seconds."})
		return
	}
	c.purgeSessions()
	token, sess, err := c.deps.Staff.Login(r.Context(), email, password, client)
	if err != nil {
		data := loginData{Email: email, Next: next}
		var locked *staff.LockedError
		switch {
		case errors.As(err, &locked):
			data.Error = "Too many failed sign-ins: try again after " + locked.Until.UTC().Format("15:04:05 UTC") + "."
		case errors.Is(err, staff.ErrBadCredentials):
			data.Error = "Wrong email or password."
		default:
			c.fail(w, r, err)
			return
		}
		c.log.Info("console: sign-in refused", "locked", locked != nil, "client", client)
		c.render(w, r, http.StatusUnauthorized, "login.html", "Sign in", data)
		return
	}
	setSessionCookie(w, token, sess.ExpiresAt)
	c.log.Info("console: signed in", "actor", sess.User.Actor())
	if sess.User.MustChange {
		next = Prefix + "/password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(CookieName); err == nil {
		if err := c.deps.Staff.Logout(r.Context(), ck.Value); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	clearSessionCookie(w)
	c.log.Info("console: signed out", "actor", userFrom(r.Context()).Actor())
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

type passwordData struct {
	Forced bool
	Error  string
	Done   bool
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	c.render(w, r, http.StatusOK, "password.html", "Change password", passwordData{Forced: u.MustChange, Done: r.URL.Query().Has("done")})
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	current, next, confirm := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	data := passwordData{Forced: u.MustChange}
	if next != confirm {
		data.Error = "The new password and its confirmation differ."
		c.render(w, r, http.StatusUnprocessableEntity, "password.html", "Change password", data)
		return
	}
	_, err := c.deps.Staff.ChangePassword(r.Context(), u.ID, current, next)
	switch {
	case errors.Is(err, staff.ErrBadCredentials):
		data.Error = "The current password is wrong."
	case errors.Is(err, staff.ErrInvalid):
		data.Error = invalidMessage(err)
	case err != nil:
		c.fail(w, r, err)
		return
	default:
		// Whoever else held the old password is signed out.
		if ck, err := r.Cookie(CookieName); err == nil {
			if _, err := c.deps.Staff.EndOtherSessions(r.Context(), u.ID, ck.Value); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		c.log.Info("console: password changed", "actor", u.Actor())
		if u.MustChange {
			http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, Prefix+"/password?done", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusUnprocessableEntity, "password.html", "Change password", data)
}

// invalidMessage is an ErrInvalid's message without the sentinel's text.
func invalidMessage(err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+staff.ErrInvalid.Error())
	if msg == "" {
		return "Invalid password."
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// safeNext keeps a redirect after sign-in inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) ||
		strings.HasPrefix(next, Prefix+"/login") {
		return Prefix + "/"
	}
	return next
}
