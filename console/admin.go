package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/staff"
)

// RiverPrefix is where River's own UI (Deps.RiverUI) is served, to admins
// only: River's handler has no authorization of its own.
const RiverPrefix = Prefix + "/admin/river"

// riverCSP is the content security policy of River's UI: a single-page
// application that fetches its API on the same origin and sets inline
// styles, so it needs connect-src and style attributes the console's own
// pages do without. Scripts still come from the same origin only.
const riverCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"

// adminRoutes serve the Admin pages: users and roles, provider accounts
// (secrets write-only) and River's UI, to staff.Administer only.
func (c *Console) adminRoutes() []route {
	a := staff.Administer
	rs := []route{
		{Pattern: "GET " + Prefix + "/admin", Perm: a, Handler: c.adminUsers},
		{Pattern: "POST " + Prefix + "/admin/users", Perm: a, Handler: c.adminCreateUser},
		{Pattern: "GET " + Prefix + "/admin/users/{id}", Perm: a, Handler: c.adminUser},
		{Pattern: "POST " + Prefix + "/admin/users/{id}/role", Perm: a, Handler: c.adminSetRole},
		{Pattern: "POST " + Prefix + "/admin/users/{id}/disabled", Perm: a, Handler: c.adminSetDisabled},
		{Pattern: "POST " + Prefix + "/admin/users/{id}/password", Perm: a, Handler: c.adminResetPassword},
		{Pattern: "GET " + Prefix + "/admin/accounts", Perm: a, Handler: c.adminAccounts},
		{Pattern: "GET " + Prefix + "/admin/accounts/new", Perm: a, Handler: c.adminNewAccount},
		{Pattern: "POST " + Prefix + "/admin/accounts", Perm: a, Handler: c.adminAddAccount},
		{Pattern: "GET " + Prefix + "/admin/accounts/{id}", Perm: a, Handler: c.adminAccount},
		{Pattern: "POST " + Prefix + "/admin/accounts/{id}", Perm: a, Handler: c.adminUpdateAccount},
	}
	if c.deps.RiverUI != nil {
		// Every method: River's UI retries, cancels and pauses through its
		// own API (same-origin fetches, so CrossOriginProtection passes them).
		rs = append(rs, route{Pattern: RiverPrefix + "/", Perm: a, Handler: c.river})
	}
	return rs
}

// adminTab is the Admin page's own navigation.
type adminTab struct {
	Label, Path string
	Active      bool
}

func (c *Console) adminTabs(current string) []adminTab {
	tabs := []adminTab{
		{Label: "Users", Path: Prefix + "/admin", Active: current == "users"},
		{Label: "Provider accounts", Path: Prefix + "/admin/accounts", Active: current == "accounts"},
	}
	if c.deps.RiverUI != nil {
		tabs = append(tabs, adminTab{Label: "Jobs (River)", Path: RiverPrefix + "/"})
	}
	return tabs
}

// river serves River's UI with a policy that lets its scripts call its API.
func (c *Console) river(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", riverCSP)
	c.deps.RiverUI.ServeHTTP(w, r)
}

// ---- users ----

// userRow is a user as the admin pages show it.
type userRow struct {
	staff.User
	// Merchants names the merchants the user is limited to ("" for all).
	Merchants string
}

type merchantChoice struct {
	ID      int64
	Code    string
	Name    string
	Checked bool
}

type adminUsersData struct {
	Tabs      []adminTab
	Users     []userRow
	Roles     []staff.Role
	Merchants []merchantChoice
	// Form: the create form's values after a refusal.
	Email, Role string
	AllScope    bool
	Error       string
}

type adminUserData struct {
	Tabs      []adminTab
	Target    userRow
	Self      bool
	Roles     []staff.Role
	Merchants []merchantChoice
	AllScope  bool
	Message   string
	Error     string
}

// adminPasswordData is the page that shows a generated password, once.
type adminPasswordData struct {
	Tabs     []adminTab
	Target   staff.User
	Password string
	Created  bool
}

func (c *Console) adminUsers(w http.ResponseWriter, r *http.Request) {
	c.renderUsers(w, r, http.StatusOK, adminUsersData{Role: string(staff.Viewer), AllScope: true})
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, status int, data adminUsersData) {
	ctx := r.Context()
	users, err := c.deps.Staff.Users(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ms, err := c.allMerchants(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data.Tabs, data.Roles = c.adminTabs("users"), staff.Roles
	for _, u := range users {
		data.Users = append(data.Users, userRow{User: u, Merchants: merchantCodes(ms, u.MerchantIDs)})
	}
	checked := formIDs(r, "merchant")
	for _, m := range ms {
		data.Merchants = append(data.Merchants, merchantChoice{ID: m.ID, Code: m.Code, Name: m.Name, Checked: slices.Contains(checked, m.ID)})
	}
	c.render(w, r, status, "admin_users.html", "Admin · Users", data)
}

// adminCreateUser creates a user with a generated password, shown once on
// the answer; the user must choose their own at the first sign-in.
func (c *Console) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	admin := userFrom(r.Context())
	email := strings.TrimSpace(r.PostFormValue("email"))
	data := adminUsersData{Email: email, Role: r.PostFormValue("role"), AllScope: r.PostFormValue("scope") != "some"}
	refuse := func(msg string) {
		data.Error = msg
		c.renderUsers(w, r, http.StatusUnprocessableEntity, data)
	}
	role, err := staff.ParseRole(data.Role)
	if err != nil {
		refuse("Choose a role.")
		return
	}
	scope, msg := merchantsOf(r)
	if msg != "" {
		refuse(msg)
		return
	}
	password := staff.NewPassword()
	u, err := c.deps.Staff.CreateUser(r.Context(), staff.NewUser{Email: email, Role: role, Password: password, MerchantIDs: scope})
	switch {
	case errors.Is(err, staff.ErrExists):
		refuse("A user with this email exists.")
		return
	case errors.Is(err, staff.ErrInvalid):
		refuse(invalidMessage(err))
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: staff user created", "actor", admin.Actor(), "user", u.Actor(), "role", u.Role, "merchants", u.MerchantIDs)
	c.render(w, r, http.StatusCreated, "admin_password.html", "Admin · New user",
		adminPasswordData{Tabs: c.adminTabs("users"), Target: u, Password: password, Created: true})
}

func (c *Console) adminUser(w http.ResponseWriter, r *http.Request) {
	var data adminUserData
	switch {
	case r.URL.Query().Has("role"):
		data.Message = "Role and merchants saved."
	case r.URL.Query().Has("disabled"):
		data.Message = "The user is disabled: their sessions ended and they cannot sign in."
	case r.URL.Query().Has("enabled"):
		data.Message = "The user is enabled again."
	}
	c.renderUser(w, r, http.StatusOK, data)
}

// renderUser shows a user's page; Target is read here.
func (c *Console) renderUser(w http.ResponseWriter, r *http.Request, status int, data adminUserData) {
	ctx := r.Context()
	u, ok := c.targetUser(w, r)
	if !ok {
		return
	}
	ms, err := c.allMerchants(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data.Tabs, data.Roles = c.adminTabs("users"), staff.Roles
	data.Target = userRow{User: u, Merchants: merchantCodes(ms, u.MerchantIDs)}
	data.Self = u.ID == userFrom(ctx).ID
	data.AllScope = u.MerchantIDs == nil
	for _, m := range ms {
		data.Merchants = append(data.Merchants, merchantChoice{ID: m.ID, Code: m.Code, Name: m.Name, Checked: slices.Contains(u.MerchantIDs, m.ID)})
	}
	c.render(w, r, status, "admin_user.html", "Admin · "+u.Email, data)
}

// targetUser reads the user the path names, answering 404 when there is none.
func (c *Console) targetUser(w http.ResponseWriter, r *http.Request) (staff.User, bool) {
	return byPathID(c, w, r, c.deps.Staff.User, staff.ErrNotFound)
}

// adminSetRole changes a user's role and merchants. An admin cannot change
// their own (so that the last admin cannot lock everyone out by mistake:
// another admin, or tally user on the CLI, must do it).
func (c *Console) adminSetRole(w http.ResponseWriter, r *http.Request) {
	admin := userFrom(r.Context())
	u, ok := c.targetUser(w, r)
	if !ok {
		return
	}
	if u.ID == admin.ID {
		c.renderUser(w, r, http.StatusUnprocessableEntity, adminUserData{Error: "You cannot change your own role or merchants: ask another admin."})
		return
	}
	role, err := staff.ParseRole(r.PostFormValue("role"))
	if err != nil {
		c.renderUser(w, r, http.StatusUnprocessableEntity, adminUserData{Error: "Choose a role."})
		return
	}
	scope, msg := merchantsOf(r)
	if msg != "" {
		c.renderUser(w, r, http.StatusUnprocessableEntity, adminUserData{Error: msg})
		return
	}
	if u, err = c.deps.Staff.SetRole(r.Context(), u.ID, role, scope); err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: staff role changed", "actor", admin.Actor(), "user", u.Actor(), "role", u.Role, "merchants", u.MerchantIDs)
	http.Redirect(w, r, fmt.Sprintf("%s/admin/users/%d?role", Prefix, u.ID), http.StatusSeeOther)
}

// adminSetDisabled disables a user (ending their sessions) or enables them
// again. An admin cannot disable themselves.
func (c *Console) adminSetDisabled(w http.ResponseWriter, r *http.Request) {
	admin := userFrom(r.Context())
	u, ok := c.targetUser(w, r)
	if !ok {
		return
	}
	disable := r.PostFormValue("disabled") == "true"
	if disable && u.ID == admin.ID {
		c.renderUser(w, r, http.StatusUnprocessableEntity, adminUserData{Error: "You cannot disable yourself: ask another admin."})
		return
	}
	u, err := c.deps.Staff.SetDisabled(r.Context(), u.ID, disable)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: staff user disabled", "actor", admin.Actor(), "user", u.Actor(), "disabled", disable)
	state := "enabled"
	if disable {
		state = "disabled"
	}
	http.Redirect(w, r, fmt.Sprintf("%s/admin/users/%d?%s", Prefix, u.ID, state), http.StatusSeeOther)
}

// adminResetPassword sets a generated password, shown once; the user's
// sessions end and they must choose their own at the next sign-in.
func (c *Console) adminResetPassword(w http.ResponseWriter, r *http.Request) {
	admin := userFrom(r.Context())
	u, ok := c.targetUser(w, r)
	if !ok {
		return
	}
	if u.ID == admin.ID {
		c.renderUser(w, r, http.StatusUnprocessableEntity, adminUserData{Error: "Change your own password on the Password page."})
		return
	}
	password := staff.NewPassword()
	u, err := c.deps.Staff.ResetPassword(r.Context(), u.ID, password)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: staff password reset", "actor", admin.Actor(), "user", u.Actor())
	c.render(w, r, http.StatusOK, "admin_password.html", "Admin · Password reset",
		adminPasswordData{Tabs: c.adminTabs("users"), Target: u, Password: password})
}

// merchantsOf reads a user form's merchants: scope=all is every merchant
// (nil), scope=some the checked ones (at least one).
func merchantsOf(r *http.Request) ([]int64, string) {
	if r.PostFormValue("scope") != "some" {
		return nil, ""
	}
	ids := formIDs(r, "merchant")
	if len(ids) == 0 {
		return nil, "Choose at least one merchant, or all merchants."
	}
	return ids, ""
}

// formIDs reads the ids a form's checkboxes named key hold (bad ones skipped).
func formIDs(r *http.Request, key string) []int64 {
	_ = r.ParseForm()
	var out []int64
	for _, v := range r.PostForm[key] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// allMerchants lists every merchant: the admin pages' (an admin is never
// limited to some merchants).
func (c *Console) allMerchants(ctx context.Context) ([]merchants.Merchant, error) {
	return c.visibleMerchants(ctx, staff.User{})
}

// merchantCodes names a user's merchants by code ("" for every merchant).
func merchantCodes(ms []merchants.Merchant, ids []int64) string {
	if ids == nil {
		return ""
	}
	var codes []string
	for _, id := range ids {
		code := "#" + strconv.FormatInt(id, 10)
		for _, m := range ms {
			if m.ID == id {
				code = m.Code
			}
		}
		codes = append(codes, code)
	}
	return strings.Join(codes, ", ")
}

// ---- provider accounts ----

// accountView is a provider account as the admin pages show it: everything
// but its secret, which no page ever shows (it is write-only).
type accountView struct {
	ID                 int64
	MerchantID         int64
	MerchantCode       string
	Name               string
	Provider           string
	BaseURL            string
	ProviderMerchantID string
	CallbackURL        string
	Options            string
	AmountPolicy       string
	AmountTolerance    string
	BalanceTolerance   string
	DateTolerance      string
	DepositLifetime    string
	MaxAmounts         string
	Enabled            bool
	UpdatedAt          time.Time
}

func (c *Console) viewAccount(a merchants.ProviderAccount, ms []merchants.Merchant) accountView {
	v := accountView{ID: a.ID, MerchantID: a.MerchantID, Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL,
		ProviderMerchantID: a.ProviderMerchantID, CallbackURL: c.deps.Merchants.NotifyURL(a), Options: formatPairs(a.Options),
		AmountPolicy: string(a.AmountPolicy), AmountTolerance: a.AmountTolerance.String(), BalanceTolerance: a.BalanceTolerance.String(),
		DateTolerance: shortDuration(a.DateTolerance), DepositLifetime: shortDuration(a.DepositLifetime), Enabled: a.Enabled, UpdatedAt: a.UpdatedAt}
	limits := make(map[string]string, len(a.MaxAmounts))
	for cur, d := range a.MaxAmounts {
		limits[cur] = d.String()
	}
	v.MaxAmounts = formatPairs(limits)
	for _, m := range ms {
		if m.ID == a.MerchantID {
			v.MerchantCode = m.Code
		}
	}
	return v
}

type adminAccountsData struct {
	Tabs     []adminTab
	Accounts []accountView
}

type adminAccountData struct {
	Tabs      []adminTab
	New       bool
	Account   accountView
	Merchants []merchants.Merchant
	Providers []string
	Policies  []merchants.AmountPolicy
	// SecretStored: the account has a secret (always, once created).
	SecretStored bool
	Message      string
	Error        string
}

func (c *Console) adminAccounts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ms, err := c.allMerchants(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	accts, err := c.deps.Merchants.ProviderAccounts(ctx, 0)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data := adminAccountsData{Tabs: c.adminTabs("accounts")}
	for _, a := range accts {
		data.Accounts = append(data.Accounts, c.viewAccount(a, ms))
	}
	sort.SliceStable(data.Accounts, func(i, j int) bool {
		x, y := data.Accounts[i], data.Accounts[j]
		return x.MerchantCode < y.MerchantCode || (x.MerchantCode == y.MerchantCode && x.Name < y.Name)
	})
	c.render(w, r, http.StatusOK, "admin_accounts.html", "Admin · Provider accounts", data)
}

func (c *Console) adminNewAccount(w http.ResponseWriter, r *http.Request) {
	c.renderAccount(w, r, http.StatusOK, adminAccountData{New: true, Account: accountView{
		AmountPolicy: string(merchants.HoldInSuspense), AmountTolerance: "0", BalanceTolerance: "0",
		DateTolerance: "0s", DepositLifetime: shortDuration(merchants.DefaultDepositLifetime), Enabled: true}})
}

func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, status int, data adminAccountData) {
	ms, err := c.allMerchants(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data.Tabs, data.Merchants, data.Providers = c.adminTabs("accounts"), ms, registry.Names()
	data.Policies = []merchants.AmountPolicy{merchants.HoldInSuspense, merchants.CreditReceived}
	title := "Admin · New provider account"
	if !data.New {
		title = "Admin · " + data.Account.Name
	}
	c.render(w, r, status, "admin_account.html", title, data)
}

// accountForm is what the account form sends, parsed.
type accountForm struct {
	view    accountView // the values to show again after a refusal
	secret  string
	options map[string]string
	limits  map[string]decimal.Decimal
	amtTol  decimal.Decimal
	balTol  decimal.Decimal
	dateTol time.Duration
	life    time.Duration
}

// parseAccountForm reads the form; the message says what is wrong.
func parseAccountForm(r *http.Request) (accountForm, string) {
	v := accountView{
		Name: strings.TrimSpace(r.PostFormValue("name")), Provider: r.PostFormValue("provider"),
		BaseURL: strings.TrimSpace(r.PostFormValue("base_url")), ProviderMerchantID: strings.TrimSpace(r.PostFormValue("provider_merchant_id")),
		Options: r.PostFormValue("options"), AmountPolicy: r.PostFormValue("amount_policy"),
		AmountTolerance: strings.TrimSpace(r.PostFormValue("amount_tolerance")), BalanceTolerance: strings.TrimSpace(r.PostFormValue("balance_tolerance")),
		DateTolerance: strings.TrimSpace(r.PostFormValue("date_tolerance")), DepositLifetime: strings.TrimSpace(r.PostFormValue("deposit_lifetime")),
		MaxAmounts: r.PostFormValue("max_amounts"), Enabled: r.PostFormValue("enabled") == "on",
	}
	v.MerchantID, _ = strconv.ParseInt(r.PostFormValue("merchant"), 10, 64)
	f := accountForm{view: v, secret: r.PostFormValue("secret")}
	var err error
	if f.options, err = parsePairs(v.Options); err != nil {
		return f, "Options: " + err.Error() + "."
	}
	limits, err := parsePairs(v.MaxAmounts)
	if err != nil {
		return f, "Upper limits: " + err.Error() + "."
	}
	f.limits = map[string]decimal.Decimal{}
	for cur, s := range limits {
		d, err := decimal.NewFromString(s)
		if err != nil || !d.IsPositive() {
			return f, fmt.Sprintf("Upper limit of %s: %q is not a positive amount.", cur, s)
		}
		f.limits[strings.ToUpper(cur)] = d
	}
	for _, t := range []struct {
		label, in string
		out       *decimal.Decimal
	}{{"Amount tolerance", v.AmountTolerance, &f.amtTol}, {"Balance tolerance", v.BalanceTolerance, &f.balTol}} {
		if t.in == "" {
			continue
		}
		d, err := decimal.NewFromString(t.in)
		if err != nil || d.IsNegative() {
			return f, fmt.Sprintf("%s: %q is not an amount of zero or more.", t.label, t.in)
		}
		*t.out = d
	}
	for _, t := range []struct {
		label, in string
		out       *time.Duration
	}{{"Date tolerance", v.DateTolerance, &f.dateTol}, {"Deposit lifetime", v.DepositLifetime, &f.life}} {
		if t.in == "" {
			continue
		}
		d, err := time.ParseDuration(t.in)
		if err != nil || d < 0 {
			return f, fmt.Sprintf("%s: %q is not a duration such as 30s, 15m or 24h.", t.label, t.in)
		}
		*t.out = d
	}
	return f, ""
}

// adminAddAccount adds a provider account; its secret is sealed and never
// shown again.
func (c *Console) adminAddAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	admin := userFrom(ctx)
	f, msg := parseAccountForm(r)
	refuse := func(msg string) {
		f.view.Enabled = true
		c.renderAccount(w, r, http.StatusUnprocessableEntity, adminAccountData{New: true, Account: f.view,
			Error: msg + " Enter the secret again: it is never sent back to the browser."})
	}
	if msg != "" {
		refuse(msg)
		return
	}
	if f.secret == "" {
		refuse("The secret is required.")
		return
	}
	m, err := c.deps.Merchants.MerchantByID(ctx, f.view.MerchantID)
	if err != nil {
		refuse("Choose a merchant.")
		return
	}
	// Not Operator: a browser session is not the operator's shell, so a base
	// URL must be one of the provider's documented hosts or one the operator
	// allows (tally serve --provider-host-allow), as through the API: a
	// stolen session cannot point an account's signed calls anywhere.
	acct, err := c.deps.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: m.Code, Name: f.view.Name,
		Provider: f.view.Provider, BaseURL: f.view.BaseURL, ProviderMerchantID: f.view.ProviderMerchantID, Secret: f.secret,
		Options: f.options, AmountPolicy: merchants.AmountPolicy(f.view.AmountPolicy), AmountTolerance: f.amtTol,
		BalanceTolerance: f.balTol, DateTolerance: f.dateTol, DepositLifetime: f.life, MaxAmounts: f.limits})
	if msg, ok := accountRefusal(err); ok {
		refuse(msg)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: provider account added", "actor", admin.Actor(), "account_id", acct.ID, "merchant", m.Code, "account", acct.Name, "provider", acct.Provider)
	http.Redirect(w, r, fmt.Sprintf("%s/admin/accounts/%d?added", Prefix, acct.ID), http.StatusSeeOther)
}

// accountRefusal is the message of an error the admin can fix in the form.
func accountRefusal(err error) (string, bool) {
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, merchants.ErrExists):
		return "The merchant has an account of this name.", true
	case errors.Is(err, merchants.ErrInvalid), errors.Is(err, registry.ErrUnknownProvider), errors.Is(err, merchants.ErrNotFound):
		msg := err.Error()
		return strings.ToUpper(msg[:1]) + msg[1:] + ".", true
	}
	return "", false
}

// targetAccount reads the account the path names, answering 404 when there
// is none.
func (c *Console) targetAccount(w http.ResponseWriter, r *http.Request) (merchants.ProviderAccount, bool) {
	return byPathID(c, w, r, c.deps.Merchants.ProviderAccountByID, merchants.ErrNotFound)
}

func (c *Console) adminAccount(w http.ResponseWriter, r *http.Request) {
	a, ok := c.targetAccount(w, r)
	if !ok {
		return
	}
	ms, err := c.allMerchants(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data := adminAccountData{Account: c.viewAccount(a, ms), SecretStored: a.Secret != ""}
	switch {
	case r.URL.Query().Has("added"):
		data.Message = "Provider account added. Give the provider its callback URL below."
	case r.URL.Query().Has("saved"):
		data.Message = "Saved."
	}
	c.renderAccount(w, r, http.StatusOK, data)
}

// adminUpdateAccount saves an account's settings: an empty secret field
// keeps the stored secret. The name, provider and merchant never change.
func (c *Console) adminUpdateAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	admin := userFrom(ctx)
	cur, ok := c.targetAccount(w, r)
	if !ok {
		return
	}
	ms, err := c.allMerchants(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f, msg := parseAccountForm(r)
	refuse := func(msg string) {
		v := f.view
		keep := c.viewAccount(cur, ms)
		v.ID, v.MerchantID, v.MerchantCode, v.Name, v.Provider, v.CallbackURL = keep.ID, keep.MerchantID, keep.MerchantCode, keep.Name, keep.Provider, keep.CallbackURL
		if f.secret != "" {
			msg += " The new secret was not saved: enter it again."
		}
		c.renderAccount(w, r, http.StatusUnprocessableEntity, adminAccountData{Account: v, SecretStored: true, Error: msg})
	}
	if msg != "" {
		refuse(msg)
		return
	}
	policy := merchants.AmountPolicy(f.view.AmountPolicy)
	p := merchants.ProviderAccountPatch{BaseURL: &f.view.BaseURL, ProviderMerchantID: &f.view.ProviderMerchantID, Options: f.options,
		AmountPolicy: &policy, AmountTolerance: &f.amtTol, BalanceTolerance: &f.balTol, DateTolerance: &f.dateTol,
		DepositLifetime: &f.life, MaxAmounts: f.limits, Enabled: &f.view.Enabled}
	if f.secret != "" {
		p.Secret = &f.secret
	}
	a, err := c.deps.Merchants.PatchProviderAccount(ctx, cur.MerchantID, cur.Name, p)
	if msg, ok := accountRefusal(err); ok {
		refuse(msg)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: provider account updated", "actor", admin.Actor(), "account_id", a.ID, "account", a.Name,
		"secret_replaced", f.secret != "", "enabled", a.Enabled)
	http.Redirect(w, r, fmt.Sprintf("%s/admin/accounts/%d?saved", Prefix, a.ID), http.StatusSeeOther)
}

// shortDuration is a duration as a person writes it: 24h, 1h30m, 5s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatPairs writes a map as "key=value" lines, sorted by key.
func formatPairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

// parsePairs reads "key=value" lines (blank lines skipped).
func parsePairs(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d is not key=value", i+1)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d repeats %s", i+1, k)
		}
		out[k] = v
	}
	return out, nil
}
