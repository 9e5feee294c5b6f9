package cpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// testCard passes the Luhn check.
const testCard = "4111111111111111"

func kycRecord(user string) KYCRecord {
	return KYCRecord{
		UserID: user, FirstName: "hart", LastName: "lee", Birthday: "1987-05-01", Gender: "male", Country: "RU",
		IddCode: "7", PersonalCode: "12341234123", CertificateDateStart: "2008-01-01", CertificateDateEnd: "2038-01-01",
		IDCardURLs: []string{"https://docs.example.com/pi.jpg"}, DocumentURLs: []string{"https://docs.example.com/pi.pdf"},
		Email: "asdf@example.com", Mobile: "23452345",
	}
}

func cardPayment(no, user string) CardPayment {
	return CardPayment{
		OrderNo: no, UserID: user, Amount: dec("19.01"), Currency: "USD",
		FirstName: "Hart", LastName: "Lee", Email: "hart@example.com", IddCode: "35", Mobile: "712345678",
		Address: "1 Main St. Apt-2", Country: "IE", City: "Dublin", Zip: "D01",
		CardNumber: testCard, CVV: "123", ExpDate: "12/99", IP: "203.0.113.7",
		Accept: "text/html,application/xhtml+xml", UserAgent: "Mozilla/5.0 (iPhone)",
		SuccessURL: "https://shop.example.com/ok", FailURL: "https://shop.example.com/ko",
	}
}

func TestRoundTripSubmitKYC(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	res, err := h.a.SubmitKYC(ctx, []KYCRecord{kycRecord("231xsd23"), {UserID: "u2", FirstName: "Ana"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 2 || !strings.Contains(string(res.Raw), `"count":2`) {
		t.Fatalf("result = %+v %s", res, res.Raw)
	}
	got, ok := h.sim.KYC(testMerchant, "231xsd23")
	if !ok || got.Birthday != "1987-05-01" || got.LastName != "lee" || len(got.IDCardURLs) != 1 || got.IDCardURLs[0] != "https://docs.example.com/pi.jpg" {
		t.Fatalf("simulator holds %+v, %v", got, ok)
	}
	if _, ok := h.sim.KYC(testMerchant, "u2"); !ok {
		t.Fatal("u2 not stored")
	}
	// Resubmitting replaces.
	r := kycRecord("231xsd23")
	r.Mobile = "99999999"
	if res, err := h.a.SubmitKYC(ctx, []KYCRecord{r}); err != nil || res.Count != 1 {
		t.Fatalf("resubmit = %+v, %v", res, err)
	}
	if got, _ := h.sim.KYC(testMerchant, "231xsd23"); got.Mobile != "99999999" {
		t.Fatalf("resubmitted record = %+v", got)
	}

	// The wire: a signed form with the records as JSON text in data, with
	// the document's member names.
	var body url.Values
	spy := testAdapter(t, "http://unused")
	spy.tr.Client = &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		body, _ = url.ParseQuery(string(b))
		return jsonResponse(`{"code":0,"msg":"success","data":{"count":1},"traceid":"x"}`), nil
	})}
	if _, err := spy.SubmitKYC(ctx, []KYCRecord{{UserID: "u9"}}); err != nil {
		t.Fatal(err)
	}
	if body.Get("merchantId") != testMerchant || !Verify(map[string]string{"merchantId": body.Get("merchantId"), "data": body.Get("data")}, testSecret, body.Get("sign")) {
		t.Fatalf("request %v is not signed over merchantId and data", body)
	}
	var members []map[string]any
	if err := json.Unmarshal([]byte(body.Get("data")), &members); err != nil || len(members) != 1 {
		t.Fatalf("data %q: %v", body.Get("data"), err)
	}
	for _, k := range []string{"userId", "firstName", "middleName", "lastName", "brithday", "gender", "country", "iddCode", "personalCode",
		"certificateDateStart", "certificateDateEnd", "IdCardUrls", "documentUrls", "email", "mobile"} {
		if _, ok := members[0][k]; !ok {
			t.Fatalf("data lacks member %q: %s", k, body.Get("data"))
		}
	}
	if !strings.Contains(body.Get("data"), `"IdCardUrls":[]`) {
		t.Fatalf("empty URL list not sent as []: %s", body.Get("data"))
	}

	// A wrong secret: C-Pay's signature refusal.
	var pe *providers.Error
	if _, err := h.adapterWith(testMerchant, "wrong", nil).SubmitKYC(ctx, []KYCRecord{{UserID: "u3"}}); !errors.As(err, &pe) ||
		pe.Kind != providers.ErrRejected || pe.Code != "1" || pe.Message != msgBadSign {
		t.Fatalf("bad sign: %v", err)
	}
	if _, ok := h.sim.KYC(testMerchant, "u3"); ok {
		t.Fatal("a wrongly signed submission was stored")
	}
}

func TestSimulatorSubmitKYCCountsAccepted(t *testing.T) {
	h := newHarness(t)
	data, _ := json.Marshal([]KYCRecord{{UserID: "good"}, {UserID: ""}, {UserID: "bad-date", Birthday: "01/05/1987"}})
	_, env := h.raw(http.MethodPost, PathSubmitKYC, map[string]string{"merchantId": testMerchant, "data": string(data)}, testSecret)
	if fmt.Sprint(env["code"]) != "0" || fmt.Sprint(env["data"].(map[string]any)["count"]) != "1" {
		t.Fatalf("partial batch = %v", env)
	}
	for _, bad := range []string{"", "{}", "[]", "not json"} {
		_, env := h.raw(http.MethodPost, PathSubmitKYC, map[string]string{"merchantId": testMerchant, "data": bad}, testSecret)
		want := "invalid param data"
		if fmt.Sprint(env["code"]) != "1" || env["msg"] != want {
			t.Fatalf("data %q = %v, want %q", bad, env, want)
		}
	}
	if status, env := h.raw(http.MethodGet, PathSubmitKYC, map[string]string{"merchantId": testMerchant, "data": "[]"}, testSecret); status != http.StatusMethodNotAllowed {
		t.Fatalf("GET submitKYC = %d %v", status, env)
	}
}

func TestSubmitKYCValidation(t *testing.T) {
	a, calls := countingServer(t)
	many := make([]KYCRecord, MaxKYCRecords+1)
	for i := range many {
		many[i] = KYCRecord{UserID: fmt.Sprint("u", i)}
	}
	for _, tc := range []struct {
		name    string
		records []KYCRecord
		want    string
	}{
		{"none", nil, "no KYC records"},
		{"too many", many, "at most 1000"},
		{"no user", []KYCRecord{{FirstName: "x"}}, "userId is required"},
		{"long user", []KYCRecord{{UserID: strings.Repeat("u", 65)}}, "longer than 64"},
		{"twice", []KYCRecord{{UserID: "a"}, {UserID: "a"}}, "appears twice"},
		{"birthday", []KYCRecord{{UserID: "a", Birthday: "1987-13-01"}}, "brithday"},
		{"gender", []KYCRecord{{UserID: "a", Gender: "m"}}, "gender"},
		{"country", []KYCRecord{{UserID: "a", Country: "RUS"}}, "country"},
		{"url", []KYCRecord{{UserID: "a", DocumentURLs: []string{"ftp://x/y.pdf"}}}, "http(s)"},
	} {
		_, err := a.SubmitKYC(context.Background(), tc.records)
		if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want invalid request mentioning %q", tc.name, err, tc.want)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d calls made for refused batches", n)
	}
	if _, err := a.SubmitKYC(context.Background(), many[:MaxKYCRecords]); errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("1000 records refused: %v", err)
	}
}

func TestRoundTripPWPP(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	// No KYC yet: refused, no order.
	var pe *providers.Error
	_, err := h.a.PayWithoutPaymentPage(ctx, cardPayment("H1", "u1"))
	if !errors.As(err, &pe) || pe.Kind != providers.ErrRejected || pe.Code != "1" || pe.Message != msgNoKYC {
		t.Fatalf("without KYC: %v", err)
	}
	if _, err := h.sim.Engine().FindOrder(testMerchant, "H1"); err == nil {
		t.Fatal("an order exists after the KYC refusal")
	}
	if _, err := h.a.SubmitKYC(ctx, []KYCRecord{kycRecord("u1")}); err != nil {
		t.Fatal(err)
	}

	res, err := h.a.PayWithoutPaymentPage(ctx, cardPayment("H1", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.OrderID == "" || res.Status != providers.StatusPending || res.StorageID != "" || !strings.HasPrefix(res.RedirectURL, h.base+PathCashier) ||
		!strings.Contains(res.PageData, "<!DOCTYPE html>") || !strings.Contains(res.PageData, "orderId="+res.OrderID) {
		t.Fatalf("result = %+v", res)
	}
	o, err := h.sim.Engine().FindOrder(testMerchant, "H1")
	if err != nil || o.ID != res.OrderID || o.Status != providers.StatusPending || !o.Amount.Equal(dec("19.01")) || o.Currency != "USD" ||
		o.UserID != "u1" || o.Fields["cardLast4"] != "1111" || strings.Contains(fmt.Sprint(o.Fields), testCard) {
		t.Fatalf("simulator order = %+v, %v", o, err)
	}
	if q, err := h.a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "H1"}); err != nil || q.Status != providers.StatusPending || q.ProviderOrderID != res.OrderID {
		t.Fatalf("query = %+v, %v", q, err)
	}

	// The payer passes 3-D Secure on the redirect page: paid, webhook, return URL with txnRef.
	page := postForm(t, res.RedirectURL)
	if !strings.Contains(page, `href="https://shop.example.com/ok?txnRef=`+res.OrderID+`"`) {
		t.Fatalf("3-D Secure page after paying:\n%s", page)
	}
	ev := h.waitEvents(1)[0]
	if ev.OrderNo != "H1" || ev.ProviderOrderID != res.OrderID || ev.Status != providers.StatusSucceeded || ev.Currency != "USD" || ev.UserID != "u1" {
		t.Fatalf("webhook = %+v", ev)
	}
	checkAmounts(t, "pwpp webhook", ev, "19.01", "18.8199", "0.1901")
	checkBalance(t, h.balance("USD"), "18.8199", "0")

	// The same order no again is C-Pay's duplicate refusal.
	if _, err := h.a.PayWithoutPaymentPage(ctx, cardPayment("H1", "u1")); !errors.As(err, &pe) || pe.Message != msgDuplicate {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestPWPPDeclinedCard(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.a.SubmitKYC(ctx, []KYCRecord{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	req := cardPayment("H2", "u1")
	req.CardNumber = DeclinedCard
	_, err := h.a.PayWithoutPaymentPage(ctx, req)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.ErrRejected || pe.Code != "90751015" || pe.Message != msgPayFail {
		t.Fatalf("declined card: %v", err)
	}
	if strings.Contains(err.Error(), DeclinedCard) {
		t.Fatalf("error echoes the card number: %v", err)
	}
	if _, err := h.sim.Engine().FindOrder(testMerchant, "H2"); err == nil {
		t.Fatal("a declined card made an order")
	}
}

func TestPWPPStoredCard(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.a.SubmitKYC(ctx, []KYCRecord{{UserID: "u1"}, {UserID: "u2"}}); err != nil {
		t.Fatal(err)
	}
	first := cardPayment("S1", "u1")
	first.StoreCard = true
	res, err := h.a.PayWithoutPaymentPage(ctx, first)
	if err != nil || res.StorageID == "" {
		t.Fatalf("storing charge = %+v, %v", res, err)
	}
	stored := func(no, user string) CardPayment {
		r := cardPayment(no, user)
		r.StorageID, r.CardNumber, r.ExpDate = res.StorageID, "", ""
		return r
	}
	// Stored "in case of success": not usable before the first charge succeeds.
	if _, err := h.a.PayWithoutPaymentPage(ctx, stored("S2", "u1")); !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), "invalid param ccStorageID") {
		t.Fatalf("stored card before success: %v", err)
	}
	var o sim.Order
	h.control(http.MethodPost, "/orders/S1/pay", nil, &o)
	again, err := h.a.PayWithoutPaymentPage(ctx, stored("S3", "u1"))
	if err != nil || again.StorageID != res.StorageID || again.OrderID == "" {
		t.Fatalf("stored card charge = %+v, %v", again, err)
	}
	if o, _ := h.sim.Engine().FindOrder(testMerchant, "S3"); o == nil || o.Fields["cardLast4"] != "1111" {
		t.Fatalf("stored card order = %+v", o)
	}
	// Another user's stored card.
	if _, err := h.a.PayWithoutPaymentPage(ctx, stored("S4", "u2")); !errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("someone else's card: %v", err)
	}
}

func TestPWPPValidation(t *testing.T) {
	a, calls := countingServer(t)
	a.now = func() time.Time { return time.Date(2027, 12, 15, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name   string
		change func(*CardPayment)
		want   string
	}{
		{"luhn", func(r *CardPayment) { r.CardNumber = "4111111111111112" }, "cardNumber is not a valid card number"},
		{"short card", func(r *CardPayment) { r.CardNumber = "42" }, "cardNumber"},
		{"no card", func(r *CardPayment) { r.CardNumber = "" }, "cardNumber is required"},
		{"cvv", func(r *CardPayment) { r.CVV = "12" }, "cvv must be 3 or 4 digits"},
		{"expired", func(r *CardPayment) { r.ExpDate = "11/27" }, "expDate card has expired"},
		{"exp format", func(r *CardPayment) { r.ExpDate = "2027-12" }, "expDate must be MM/YY"},
		{"exp month", func(r *CardPayment) { r.ExpDate = "13/30" }, "expDate must be MM/YY"},
		{"ipv6", func(r *CardPayment) { r.IP = "2001:db8::1" }, "ip must be an IPv4 address"},
		{"ip", func(r *CardPayment) { r.IP = "localhost" }, "ip must be an IPv4 address"},
		{"currency", func(r *CardPayment) { r.Currency = "BRL" }, `currency "BRL" is not accepted`},
		{"decimals", func(r *CardPayment) { r.Amount = dec("19.011") }, "more than 2 decimals"},
		{"zero", func(r *CardPayment) { r.Amount = dec("0") }, "must be positive"},
		{"city", func(r *CardPayment) { r.City = "Dublin 2" }, "city must be 1 to 15 letters"},
		{"long city", func(r *CardPayment) { r.City = "Llanfairpwllgwyngyll" }, "city"},
		{"address", func(r *CardPayment) { r.Address = "1 Main St, #2" }, "addressLine"},
		{"country", func(r *CardPayment) { r.Country = "IRL" }, "country"},
		{"no zip", func(r *CardPayment) { r.Zip = "" }, "zip is required"},
		{"no accept", func(r *CardPayment) { r.Accept = "" }, "clientHTTPAccept is required"},
		{"products", func(r *CardPayment) { r.Products = `{"name":"x"}` }, "products"},
		{"no user", func(r *CardPayment) { r.UserID = "" }, "userId"},
		{"long order no", func(r *CardPayment) { r.OrderNo = strings.Repeat("n", 65) }, "longer than 64"},
		{"mobile", func(r *CardPayment) { r.Mobile = "+353 71" }, "mobile"},
	} {
		req := cardPayment("V1", "u1")
		tc.change(&req)
		_, err := a.PayWithoutPaymentPage(context.Background(), req)
		if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want invalid request mentioning %q", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), testCard) || strings.Contains(err.Error(), "4111111111111112") {
			t.Fatalf("%s: error echoes the card number: %v", tc.name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d calls made for refused payments", n)
	}
	// The last valid month is accepted; a stored card needs no number or expiry.
	req := cardPayment("V2", "u1")
	req.ExpDate = "12/27"
	if _, err := a.PayWithoutPaymentPage(context.Background(), req); errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("card valid this month refused: %v", err)
	}
	req = cardPayment("V3", "u1")
	req.StorageID, req.CardNumber, req.ExpDate = "abc", "", ""
	if _, err := a.PayWithoutPaymentPage(context.Background(), req); errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("stored card refused: %v", err)
	}
}

// TestSimulatorPWPPRefusals sends what the adapter would refuse straight to
// the simulator: it refuses the same way, naming the parameter.
func TestSimulatorPWPPRefusals(t *testing.T) {
	h := newHarness(t)
	if _, err := h.a.SubmitKYC(context.Background(), []KYCRecord{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	good := func() map[string]string {
		p, err := h.a.pwppParams(cardPayment("R1", "u1"))
		if err != nil {
			t.Fatal(err)
		}
		p["merchantId"] = testMerchant
		return p
	}
	for _, tc := range []struct{ field, value, msg string }{
		{"cardNumber", "4111111111111112", "invalid param cardNumber"},
		{"cvv", "1", "invalid param cvv"},
		{"expDate", "01/20", "invalid param expDate"},
		{"ip", "::1", "invalid param ip"},
		{"currency", "BRL", "invalid param currency"},
		{"amount", "0.001", "invalid param amount"},
		{"userId", "", "invalid param userId"},
		{"clientHTTPUserAgent", "", "invalid param clientHTTPUserAgent"},
	} {
		p := good()
		p[tc.field] = tc.value
		if tc.value == "" {
			delete(p, tc.field)
		}
		_, env := h.raw(http.MethodPost, PathPWPP, p, testSecret)
		if fmt.Sprint(env["code"]) != "1" || env["msg"] != tc.msg {
			t.Fatalf("%s=%q: %v, want %q", tc.field, tc.value, env, tc.msg)
		}
	}
	// "higher precision rounds down": 19.019 is charged as 19.01.
	p := good()
	p["amount"] = "19.019"
	if _, env := h.raw(http.MethodPost, PathPWPP, p, testSecret); fmt.Sprint(env["code"]) != "0" {
		t.Fatalf("three decimals: %v", env)
	}
	if o, err := h.sim.Engine().FindOrder(testMerchant, "R1"); err != nil || !o.Amount.Equal(dec("19.01")) {
		t.Fatalf("order = %+v, %v", o, err)
	}
	// A bad signature.
	p = good()
	p["merchantTradeNo"] = "R2"
	p[SignField] = Sign(p, "wrong")
	if _, env := h.raw(http.MethodPost, PathPWPP, p, ""); env["msg"] != msgBadSign {
		t.Fatalf("bad sign: %v", env)
	}
}

func TestPWPPFaults(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.a.SubmitKYC(ctx, []KYCRecord{{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	addFault := func(path string, mode sim.FaultMode) {
		h.control(http.MethodPost, "/faults", sim.EndpointFault{Path: path, Mode: mode, Count: 1}, nil)
	}
	addFault(PathPWPP, sim.ModeError5xx)
	if _, err := h.a.PayWithoutPaymentPage(ctx, cardPayment("F1", "u1")); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("pwpp on 5xx: %v", err)
	}
	addFault(PathSubmitKYC, sim.ModeError5xx)
	if _, err := h.a.SubmitKYC(ctx, []KYCRecord{{UserID: "u2"}}); !errors.Is(err, providers.ErrTransient) {
		t.Fatalf("submitKYC on 5xx: %v", err)
	}
	// A charge that times out was made: ambiguous, and the query finds it.
	impatient := h.adapterWith(testMerchant, testSecret, &http.Client{Timeout: 300 * time.Millisecond})
	addFault(PathPWPP, sim.ModeTimeout)
	if _, err := impatient.PayWithoutPaymentPage(ctx, cardPayment("F2", "u1")); !errors.Is(err, providers.ErrAmbiguous) {
		t.Fatalf("pwpp on timeout: %v", err)
	}
	if q, err := impatient.QueryOrder(ctx, providers.OrderQuery{OrderNo: "F2"}); err != nil || q.Status != providers.StatusPending {
		t.Fatalf("query after a timed-out charge = %+v, %v", q, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func jsonResponse(body string) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// postForm posts the hosted page's form (its button) and returns the page.
func postForm(t *testing.T, pageURL string) string {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(u.Scheme+"://"+u.Host+u.Path, u.Query())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
