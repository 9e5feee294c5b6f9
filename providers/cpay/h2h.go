package cpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// C-Pay's H2H ("host to host") mode: the merchant collects the card data on
// its own page, submits its users' KYC data first (submitKYC, section 11), and
// charges the card without C-Pay's payment page (pwpp, section 12). Neither
// goes through CreateDeposit: card numbers and KYC data must never travel
// through tally's stored order requests, so both are methods of the C-Pay
// Adapter for a caller that holds that data itself.

// H2H paths, relative to the domain.
const (
	PathSubmitKYC = "/openapi/v1/submitKYC"
	PathPWPP      = "/openapi/v1/pwpp"
)

// MaxKYCRecords is how many users one submitKYC call takes ("Up to 1000
// pieces of data at a time").
const MaxKYCRecords = 1000

// pwppCurrencies are what pwpp charges in ("ISO4217 (only USD, EUR supported)").
var pwppCurrencies = []string{"EUR", "USD"}

// KYCRecord is one user's KYC data, with the JSON member names of the
// document's sample, including its spellings "brithday" and "IdCardUrls".
// Dates are YYYY-MM-DD; every member is sent, empty ones as "" (and the URL
// lists as []), as in the sample.
type KYCRecord struct {
	UserID               string   `json:"userId"`
	FirstName            string   `json:"firstName"`
	MiddleName           string   `json:"middleName"`
	LastName             string   `json:"lastName"`
	Birthday             string   `json:"brithday"`
	Gender               string   `json:"gender"` // "male" or "female"
	Country              string   `json:"country"`
	IddCode              string   `json:"iddCode"`
	PersonalCode         string   `json:"personalCode"`
	CertificateDateStart string   `json:"certificateDateStart"`
	CertificateDateEnd   string   `json:"certificateDateEnd"`
	IDCardURLs           []string `json:"IdCardUrls"`
	DocumentURLs         []string `json:"documentUrls"`
	Email                string   `json:"email"`
	Mobile               string   `json:"mobile"`
}

// KYCResult is C-Pay's answer to submitKYC.
type KYCResult struct {
	// Count is "quantity accepted"; it may be lower than the records sent.
	Count int64
	Raw   []byte
}

// SubmitKYC sends users' KYC data (POST /openapi/v1/submitKYC): merchantId,
// data (the records as a JSON array) and sign, form-encoded. It refuses
// before any call an empty batch, more than MaxKYCRecords records, and a
// record C-Pay could not use (see checkKYCRecord). Submitting a user again
// replaces the earlier data, so a failed call is safe to repeat: network
// failures and 5xx are ErrTransient, never ErrAmbiguous.
func (a *Adapter) SubmitKYC(ctx context.Context, records []KYCRecord) (*KYCResult, error) {
	const op = "submitKYC"
	if len(records) == 0 {
		return nil, providers.Invalid(Name, op, "no KYC records")
	}
	if len(records) > MaxKYCRecords {
		return nil, providers.Invalid(Name, op, "%d KYC records; C-Pay takes at most %d at a time", len(records), MaxKYCRecords)
	}
	seen := make(map[string]bool, len(records))
	out := make([]KYCRecord, len(records))
	for i, r := range records {
		if err := checkKYCRecord(r); err != nil {
			return nil, providers.Invalid(Name, op, "record %d: %v", i, err)
		}
		if seen[r.UserID] {
			return nil, providers.Invalid(Name, op, "record %d: userId %q appears twice", i, r.UserID)
		}
		seen[r.UserID] = true
		if r.IDCardURLs == nil {
			r.IDCardURLs = []string{}
		}
		if r.DocumentURLs == nil {
			r.DocumentURLs = []string{}
		}
		out[i] = r
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Err: err}
	}
	env, raw, err := a.call(ctx, op, http.MethodPost, PathSubmitKYC, params{"data": string(data)}, false)
	if err != nil {
		return nil, err
	}
	obj, err := decodeObject(env.Data)
	if err == nil && obj == nil {
		err = errors.New("no data")
	}
	var n int64
	if err == nil {
		var s string
		if s, err = obj.text("count"); err == nil {
			n, err = strconv.ParseInt(s, 10, 64)
		}
	}
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrTransient, Provider: Name, Op: op, Message: "unreadable count", Err: err}
	}
	a.log.InfoContext(ctx, "cpay kyc submitted", "account", a.cfg.Account, "records", len(records), "accepted", n)
	return &KYCResult{Count: n, Raw: raw}, nil
}

// checkKYCRecord refuses a record C-Pay could not use: no userId or one
// longer than 64 characters (its key, as everywhere in the API), a date that
// is not YYYY-MM-DD, a gender other than male/female, a country that is not
// two capital letters, a URL that is not http(s). Empty optional members are
// fine: the document marks none of them mandatory.
func checkKYCRecord(r KYCRecord) error {
	if strings.TrimSpace(r.UserID) == "" {
		return errors.New("userId is required")
	}
	if len(r.UserID) > maxNoLen {
		return fmt.Errorf("userId longer than %d characters", maxNoLen)
	}
	for _, d := range []struct{ name, v string }{
		{"brithday", r.Birthday}, {"certificateDateStart", r.CertificateDateStart}, {"certificateDateEnd", r.CertificateDateEnd},
	} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d.v); err != nil {
			return fmt.Errorf("%s %q is not a YYYY-MM-DD date", d.name, d.v)
		}
	}
	if r.Gender != "" && r.Gender != "male" && r.Gender != "female" {
		return fmt.Errorf("gender %q must be male or female", r.Gender)
	}
	if r.Country != "" && !isAlpha2(r.Country) {
		return fmt.Errorf("country %q is not an ISO 3166-1 two-letter code", r.Country)
	}
	for _, u := range append(append([]string(nil), r.IDCardURLs...), r.DocumentURLs...) {
		if !isHTTPURL(u) {
			return fmt.Errorf("URL %q is not an absolute http(s) URL", u)
		}
	}
	return nil
}

// CardPayment is a card charge without C-Pay's payment page (pwpp). The card
// number and CVV are Secrets: they never print, in logs or errors.
type CardPayment struct {
	OrderNo    string // merchantTradeNo
	UserID     string // userId; C-Pay wants the user's KYC submitted first
	Amount     decimal.Decimal
	Currency   string // USD or EUR
	Lang       string // lang; empty means English
	StoreCard  bool   // storeCc=1: keep the card on success (ccStorageID in the answer)
	StorageID  string // ccStorageID: charge a stored card; CardNumber and ExpDate may then be empty
	FirstName  string // on the card
	LastName   string
	Email      string
	IddCode    string // country calling code, e.g. "35"
	Mobile     string
	Address    string // addressLine: letters, digits, spaces, _ - . (1-50)
	Country    string // ISO 3166-1 alpha-2
	City       string // letters and spaces (1-15)
	Zip        string
	CardNumber providers.Secret
	CVV        providers.Secret
	ExpDate    string // MM/YY, e.g. "12/27"
	IP         string // the payer's IPv4 address
	// Products is the JSON array of what is bought; empty means one product
	// named after the order.
	Products   string
	PayChannel string
	// Accept and UserAgent are the payer's browser's Accept and User-Agent
	// headers (clientHTTPAccept, clientHTTPUserAgent), for 3-D Secure.
	Accept     string
	UserAgent  string
	NotifyURL  string // callbackURL; empty means Config.NotifyURL
	SuccessURL string
	FailURL    string
	CreatedAt  time.Time // createTime; zero means now
}

// CardPaymentResult is C-Pay's answer to pwpp.
type CardPaymentResult struct {
	// OrderID is C-Pay's order id; after the payer's browser comes back it is
	// appended to successURL or failURL as ?txnRef=<orderId>.
	OrderID string
	// PageData is an HTML document to open or render for the payer: it goes
	// on to 3-D Secure, or straight to successURL or failURL.
	PageData string
	// RedirectURL is where the payer must be redirected, when C-Pay says.
	RedirectURL string
	// StorageID is the stored card's ccStorageID (StoreCard, or the one charged).
	StorageID string
	Status    providers.Status // pending: the payment completes after 3-D Secure
	Raw       []byte
}

// PayWithoutPaymentPage charges a card in H2H mode (POST /openapi/v1/pwpp).
// It validates first (ErrInvalidRequest, no call): the document's mandatory
// fields, a card number that passes the Luhn check, a CVV of 3 or 4 digits,
// an expiry MM/YY not in the past, an IPv4 address, USD or EUR, at most two
// decimals (C-Pay would round a third down; tally never rounds money). Like
// every create, a timeout or 5xx is ErrAmbiguous: query the order
// (QueryOrder by OrderNo) before charging again. A declined card is C-Pay's
// code 90751015 "pay fail", ErrRejected.
func (a *Adapter) PayWithoutPaymentPage(ctx context.Context, req CardPayment) (*CardPaymentResult, error) {
	const op = "pwpp"
	p, err := a.pwppParams(req)
	if err != nil {
		return nil, err
	}
	if err := checkPWPP(p, a.now()); err != nil {
		return nil, providers.Invalid(Name, op, "%v", err)
	}
	env, raw, err := a.call(ctx, op, http.MethodPost, PathPWPP, p, true)
	if err != nil {
		return nil, err
	}
	data, err := decodeObject(env.Data)
	if err == nil && data == nil {
		err = errors.New("no data")
	}
	if err == nil && data.str("orderId") == "" {
		err = errors.New("no orderId")
	}
	if err != nil {
		// C-Pay said success: the charge may exist without our knowing it.
		return nil, &providers.Error{Kind: providers.ErrAmbiguous, Provider: Name, Op: op, Message: "success without a readable order", Err: err}
	}
	res := &CardPaymentResult{
		OrderID: data.str("orderId"), PageData: data.str("pageData"), RedirectURL: data.str("redirectURL"),
		StorageID: data.str("ccStorageID"), Status: providers.StatusPending, Raw: raw,
	}
	a.log.InfoContext(ctx, "cpay card payment created", "account", a.cfg.Account, "op", op, "order_no", req.OrderNo, "provider_order_id", res.OrderID)
	return res, nil
}

// pwppParams builds pwpp's form parameters (without merchantId and sign).
func (a *Adapter) pwppParams(req CardPayment) (params, error) {
	const op = "pwpp"
	if err := a.validateOrder(op, req.OrderNo, req.UserID, req.NotifyURL, req.SuccessURL, req.FailURL); err != nil {
		return nil, err
	}
	if err := providers.CheckCurrency(Name, op, pwppCurrencies, req.Currency); err != nil {
		return nil, err
	}
	if err := checkAmount(op, req.Amount, fiatDecimals); err != nil {
		return nil, err
	}
	products := req.Products
	if products == "" {
		b, _ := json.Marshal([]map[string]string{{"name": "order " + req.OrderNo, "price": req.Amount.StringFixed(fiatDecimals), "num": "1", "currency": req.Currency}})
		products = string(b)
	}
	p := params{}
	p.set("merchantTradeNo", req.OrderNo)
	p.set("lang", req.Lang)
	p.set("userId", req.UserID)
	if req.StoreCard {
		p.set("storeCc", "1")
	}
	p.set("ccStorageID", req.StorageID)
	p.set("firstName", req.FirstName)
	p.set("lastName", req.LastName)
	p.set("email", req.Email)
	p.set("iddCode", req.IddCode)
	p.set("mobile", req.Mobile)
	p.set("addressLine", req.Address)
	p.set("country", req.Country)
	p.set("city", req.City)
	p.set("zip", req.Zip)
	p.set("cardNumber", req.CardNumber.Reveal())
	p.set("cvv", req.CVV.Reveal())
	p.set("expDate", req.ExpDate)
	p.set("ip", req.IP)
	p.set("currency", req.Currency)
	p.set("amount", req.Amount.String())
	p.set("products", products)
	p.set("payChannel", req.PayChannel)
	p.set("clientHTTPAccept", req.Accept)
	p.set("clientHTTPUserAgent", req.UserAgent)
	p.set("callbackURL", firstNonEmpty(req.NotifyURL, a.cfg.NotifyURL))
	p.set("successURL", req.SuccessURL)
	p.set("failURL", req.FailURL)
	p.set("createTime", a.millis(req.CreatedAt))
	return p, nil
}

// pwppRequired are pwpp's mandatory parameters besides merchantId and sign.
// cardNumber and expDate are required unless ccStorageID names a stored card.
var pwppRequired = []string{
	"merchantTradeNo", "userId", "firstName", "lastName", "email", "iddCode", "mobile", "addressLine",
	"country", "city", "zip", "cvv", "ip", "currency", "amount", "products", "clientHTTPAccept",
	"clientHTTPUserAgent", "createTime",
}

// checkPWPP checks pwpp's parameters as C-Pay would; the adapter and the
// simulator both use it. The error names the first bad parameter, and never
// echoes the card number or the CVV.
func checkPWPP(p params, now time.Time) error {
	required := pwppRequired
	if p["ccStorageID"] == "" {
		required = append(append([]string(nil), required...), "cardNumber", "expDate")
	}
	for _, n := range required {
		if strings.TrimSpace(p[n]) == "" {
			return &paramError{name: n, reason: "is required"}
		}
	}
	bad := func(name, reason string) error { return &paramError{name: name, reason: reason} }
	if s := p["storeCc"]; s != "" && s != "0" && s != "1" {
		return bad("storeCc", "must be 0 or 1")
	}
	if !isAlpha2(p["country"]) {
		return bad("country", "must be an ISO 3166-1 two-letter code")
	}
	if !allDigits(p["iddCode"], 1, 4) {
		return bad("iddCode", "must be a country calling code (1-4 digits)")
	}
	if !allDigits(p["mobile"], 4, 15) {
		return bad("mobile", "must be 4 to 15 digits")
	}
	if !charset(p["addressLine"], 1, 50, func(r rune) bool {
		return r <= unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _-.", r))
	}) {
		return bad("addressLine", "must be 1 to 50 letters, digits, spaces, _ - or .")
	}
	if !charset(p["city"], 1, 15, func(r rune) bool { return r <= unicode.MaxASCII && (unicode.IsLetter(r) || r == ' ') }) {
		return bad("city", "must be 1 to 15 letters")
	}
	if n := p["cardNumber"]; n != "" && !luhn(n) {
		return bad("cardNumber", "is not a valid card number")
	}
	if !allDigits(p["cvv"], 3, 4) {
		return bad("cvv", "must be 3 or 4 digits")
	}
	if e := p["expDate"]; e != "" {
		if err := checkExpiry(e, now); err != nil {
			return bad("expDate", err.Error())
		}
	}
	if ip := net.ParseIP(p["ip"]); ip == nil || ip.To4() == nil || strings.Contains(p["ip"], ":") {
		return bad("ip", "must be an IPv4 address")
	}
	var products []map[string]any
	if json.Unmarshal([]byte(p["products"]), &products) != nil {
		return bad("products", "must be a JSON array of objects")
	}
	for _, n := range []string{"clientHTTPAccept", "clientHTTPUserAgent"} {
		if len(p[n]) > maxURLLen {
			return bad(n, fmt.Sprintf("longer than %d characters", maxURLLen))
		}
	}
	if n, err := strconv.ParseInt(p["createTime"], 10, 64); err != nil || n <= 0 {
		return bad("createTime", "must be milliseconds since 1970")
	}
	return nil
}

// paramError names a pwpp parameter C-Pay would refuse.
type paramError struct{ name, reason string }

func (e *paramError) Error() string { return e.name + " " + e.reason }

// checkExpiry reads MM/YY and refuses a card whose month has passed.
func checkExpiry(s string, now time.Time) error {
	mm, yy, ok := strings.Cut(s, "/")
	if !ok || !allDigits(mm, 2, 2) || !allDigits(yy, 2, 2) {
		return errors.New("must be MM/YY")
	}
	m, _ := strconv.Atoi(mm)
	y, _ := strconv.Atoi(yy)
	if m < 1 || m > 12 {
		return errors.New("must be MM/YY")
	}
	// The card is valid through the last day of its month.
	end := time.Date(2000+y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC)
	if !now.Before(end) {
		return errors.New("card has expired")
	}
	return nil
}

// luhn reports whether s is 12 to 19 digits that pass the Luhn check.
func luhn(s string) bool {
	if !allDigits(s, 12, 19) {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func allDigits(s string, minLen, maxLen int) bool {
	return charset(s, minLen, maxLen, func(r rune) bool { return r >= '0' && r <= '9' })
}

func charset(s string, minLen, maxLen int, ok func(rune) bool) bool {
	n := 0
	for _, r := range s {
		if !ok(r) {
			return false
		}
		n++
	}
	return n >= minLen && n <= maxLen
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
