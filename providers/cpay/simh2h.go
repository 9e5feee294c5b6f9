package cpay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// H2H answers of the simulator.
const (
	// msgNoKYC refuses a pwpp charge for a user whose KYC was never submitted
	// ("user KYC data must be submitted to CPAY through this interface").
	msgNoKYC = "user kyc not submitted"
	// codePayFail and msgPayFail are the document's declined-card answer.
	codePayFail = 90751015
	msgPayFail  = "pay fail"
)

// DeclinedCard is the card number the simulator declines with code 90751015
// "pay fail" (and no order), as C-Pay answers a refused card.
const DeclinedCard = "4000000000000002"

// h2hState is what the simulator keeps for the H2H mode: submitted KYC per
// merchant and user, and stored cards.
type h2hState struct {
	mu    sync.Mutex
	kyc   map[string]map[string]KYCRecord // merchant id -> user id -> record
	cards map[string]storedCard           // ccStorageID -> card
}

// storedCard is a card kept on a pwpp charge with storeCc=1. Only what a
// gateway may keep: never the CVV, and the number only as its last digits.
type storedCard struct {
	merchantID, userID string
	orderID            string // the charge that stored it: usable once it succeeded
	last4, expDate     string
}

// KYC returns the KYC data the simulator holds for a merchant's user.
func (s *Simulator) KYC(merchantID, userID string) (KYCRecord, bool) {
	s.h2h.mu.Lock()
	defer s.h2h.mu.Unlock()
	r, ok := s.h2h.kyc[merchantID][userID]
	return r, ok
}

// submitKYC serves POST /openapi/v1/submitKYC: data is a JSON array of 1 to
// 1000 user records. A record the adapter's rules refuse (checkKYCRecord) is
// skipped, not counted; the others replace the user's earlier data. count is
// the quantity accepted.
func (s *Simulator) submitKYC(w http.ResponseWriter, r *request) {
	if !s.need(w, r, "data") {
		return
	}
	var records []KYCRecord
	if err := json.Unmarshal([]byte(r.p["data"]), &records); err != nil || len(records) == 0 || len(records) > MaxKYCRecords {
		s.fail(w, "invalid param data")
		return
	}
	s.h2h.mu.Lock()
	if s.h2h.kyc == nil {
		s.h2h.kyc = map[string]map[string]KYCRecord{}
	}
	users := s.h2h.kyc[r.m.ID]
	if users == nil {
		users = map[string]KYCRecord{}
		s.h2h.kyc[r.m.ID] = users
	}
	count := 0
	for _, rec := range records {
		if checkKYCRecord(rec) != nil {
			continue
		}
		users[rec.UserID] = rec
		count++
	}
	s.h2h.mu.Unlock()
	s.ok(w, map[string]any{"count": count})
}

// pwpp serves POST /openapi/v1/pwpp: a card charge without the payment page.
// The parameters are checked as the adapter checks them (checkPWPP, with the
// amount's third decimal rounded down as the document says), the user's KYC
// must have been submitted, DeclinedCard is declined (90751015 "pay fail",
// data with empty members, no order). Otherwise a pending card order is
// created and the answer carries its orderId, pageData (an HTML document
// that goes on to the 3-D Secure page) and redirectURL (that page: the
// simulator's hosted page, whose button completes the payment, after which
// the webhook follows and the payer returns to successURL?txnRef=<orderId>).
func (s *Simulator) pwpp(w http.ResponseWriter, r *request) {
	p := r.p
	if err := checkPWPP(p, s.engine.Now()); err != nil {
		var pe *paramError
		if errors.As(err, &pe) {
			s.fail(w, "invalid param "+pe.name)
			return
		}
		s.fail(w, "invalid param")
		return
	}
	if !slices.Contains(pwppCurrencies, p["currency"]) {
		s.fail(w, "invalid param currency")
		return
	}
	amount, err := providers.ParseAmount(p["amount"])
	// "The precision is two decimal places, higher precision rounds down."
	if err != nil || !amount.Truncate(fiatDecimals).IsPositive() {
		s.fail(w, "invalid param amount")
		return
	}
	amount = amount.Truncate(fiatDecimals)
	if _, ok := s.KYC(r.m.ID, p["userId"]); !ok {
		s.fail(w, msgNoKYC)
		return
	}
	storageID := p["ccStorageID"]
	card := storedCard{merchantID: r.m.ID, userID: p["userId"], expDate: p["expDate"]}
	if n := p["cardNumber"]; n != "" {
		card.last4 = n[len(n)-4:]
	}
	if storageID != "" {
		s.h2h.mu.Lock()
		c, ok := s.h2h.cards[storageID]
		s.h2h.mu.Unlock()
		if !ok || c.merchantID != r.m.ID || c.userID != p["userId"] || !s.cardUsable(c) {
			s.fail(w, "invalid param ccStorageID")
			return
		}
		if p["cardNumber"] == "" {
			card = c
		}
	}
	if p["cardNumber"] == DeclinedCard {
		s.reply(w, http.StatusOK, codePayFail, msgPayFail, map[string]string{"orderId": "", "pageData": "", "ccStorageID": ""})
		return
	}
	o, err := s.engine.CreateOrder(sim.Order{
		MerchantID: r.m.ID, OrderNo: p["merchantTradeNo"], Kind: providers.KindDeposit,
		Amount: amount, Currency: p["currency"], UserID: p["userId"],
		NotifyURL: callbackURL(p), ReturnURL: p["successURL"], FailURL: p["failURL"],
		Fields: map[string]string{fieldMethod: orderPWPP, "cardLast4": card.last4},
	})
	if err != nil {
		s.failEngine(w, err)
		return
	}
	if p["storeCc"] == "1" && storageID == "" {
		storageID = cardStorageID(r.m.ID, o.ID)
		card.orderID = o.ID
		s.h2h.mu.Lock()
		if s.h2h.cards == nil {
			s.h2h.cards = map[string]storedCard{}
		}
		s.h2h.cards[storageID] = card
		s.h2h.mu.Unlock()
	}
	redirect := s.cashierURL(r.m, o.ID)
	var page strings.Builder
	_ = threeDSPage.Execute(&page, redirect)
	s.ok(w, map[string]any{"orderId": o.ID, "pageData": page.String(), "redirectURL": redirect, "ccStorageID": storageID})
}

// cardUsable reports whether a stored card's first charge succeeded: C-Pay
// stores a card "in case of success".
func (s *Simulator) cardUsable(c storedCard) bool {
	o, err := s.engine.FindOrder(c.merchantID, c.orderID)
	return err == nil && (o.Status == providers.StatusSucceeded || o.Status == providers.StatusReversed)
}

// cardStorageID derives a stored card's id from the charge that stored it.
func cardStorageID(merchantID, orderID string) string {
	sum := sha256.Sum256([]byte("cpay-sim-card\x00" + merchantID + "\x00" + orderID))
	return hex.EncodeToString(sum[:9])
}

// withTxnRef appends txnRef=<orderId> to a return URL, as C-Pay splices the
// order id onto successURL and failURL after a pwpp payment.
func withTxnRef(u, orderID string) string {
	if u == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "txnRef=" + url.QueryEscape(orderID)
}

// threeDSPage is pwpp's pageData: it sends the payer's browser to the 3-D
// Secure page.
var threeDSPage = template.Must(template.New("3ds").Parse(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
	`<meta http-equiv="refresh" content="0;url={{.}}"><title>3-D Secure</title></head>` +
	`<body><p><a id="continue" href="{{.}}">Continue to 3-D Secure</a></p></body></html>`))
