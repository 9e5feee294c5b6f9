package usdtcnpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Simulator plays USDTCNPAY: the five documented endpoints with the access
// token, the RSA-encrypted bodies and the envelope codes of this package, a
// hosted deposit page, and the unsigned success/fail URL callbacks, all on the
// engine's order book and balances. Merchants are keyed by accessKey (ID) and
// secretKey (Secret); their options are SimOptionTokenTTL,
// SimOptionTimestampUnit and OptionRSAPadding.
type Simulator struct {
	cfg     sim.Config
	eng     *sim.Engine
	handler http.Handler

	mu     sync.Mutex
	key    *rsa.PrivateKey
	pub    string
	tokens map[string]simToken
	issued int
}

// SimOptionTokenTTL is a simulator merchant option: the token lifetime in
// seconds (default 600, what the document's example answers).
const SimOptionTokenTTL = "token_ttl"

// SimOptionTimestampUnit is a simulator merchant option: the unit of the
// Timestamp header the platform reads, "ms" (default) or "s", as the adapter's
// OptionTimestampUnit sends it. The document calls the header only a Number,
// so the simulator takes either unit a merchant is set up for.
const SimOptionTimestampUnit = OptionTimestampUnit

// simKeyBits is the size of the simulated platform key.
const simKeyBits = 2048

// timestampWindow is how far the Timestamp header may be from the platform's clock.
const timestampWindow = 5 * time.Minute

// maxRequestBody bounds what the simulator reads of a request.
const maxRequestBody = 1 << 20

type simToken struct {
	merchantID string
	expires    time.Time
}

var _ sim.Simulator = (*Simulator)(nil)

// NewSimulator starts a simulator with a fresh 2048-bit platform key.
func NewSimulator(cfg sim.Config) *Simulator {
	return newSimulator(cfg, nil)
}

// newSimulator starts a simulator with the given platform key, or a fresh one
// when key is nil (tests share one key to save the key generation).
func newSimulator(cfg sim.Config, key *rsa.PrivateKey) *Simulator {
	s := &Simulator{cfg: cfg, tokens: map[string]simToken{}}
	if key == nil {
		if err := s.RotateKey(); err != nil {
			panic(fmt.Sprintf("usdtcnpay simulator: %v", err)) // crypto/rand does not fail
		}
	} else if err := s.setKey(key); err != nil {
		panic(fmt.Sprintf("usdtcnpay simulator: %v", err))
	}
	s.eng = cfg.NewEngine(Name, protocol{}, 2)
	mux := http.NewServeMux()
	mux.HandleFunc(PathToken, s.eng.Endpoint(PathToken, s.handleToken))
	mux.HandleFunc(PathCharge, s.eng.Endpoint(PathCharge, s.authed(s.handleCharge)))
	mux.HandleFunc(PathWithdraw, s.eng.Endpoint(PathWithdraw, s.authed(s.handleWithdraw)))
	mux.HandleFunc(PathGetCharge, s.eng.Endpoint(PathGetCharge, s.authed(s.handleQuery(providers.KindDeposit))))
	mux.HandleFunc(PathGetWithdraw, s.eng.Endpoint(PathGetWithdraw, s.authed(s.handleQuery(providers.KindPayout))))
	mux.HandleFunc("GET "+PathPayPage+"{chargeNo}", s.eng.Endpoint(PathPayPage, s.handlePayPage))
	mux.HandleFunc("POST "+PathPayPage+"{chargeNo}/upload", s.eng.Endpoint(PathPayPage, s.handleUpload))
	s.handler = mux
	return s
}

// Provider returns "usdtcnpay".
func (s *Simulator) Provider() string { return Name }

// Handler serves the platform's API and pay page, paths relative to the mount point.
func (s *Simulator) Handler() http.Handler { return s.handler }

// Engine is the order book, balances, faults and callbacks behind the API.
func (s *Simulator) Engine() *sim.Engine { return s.eng }

// Close stops the simulator's callback deliveries.
func (s *Simulator) Close() { s.eng.Close() }

// RevokeTokens invalidates every access token issued so far, as a platform
// restart or a server-side logout does; the next call with one gets code 401.
func (s *Simulator) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]simToken{}
}

// RotateKey replaces the platform key pair. Bodies encrypted under the old
// public key no longer decrypt (code 1001) until the client fetches a token,
// which carries the new key.
func (s *Simulator) RotateKey() error {
	key, err := rsa.GenerateKey(rand.Reader, simKeyBits)
	if err != nil {
		return fmt.Errorf("generate platform key: %w", err)
	}
	return s.setKey(key)
}

func (s *Simulator) setKey(key *rsa.PrivateKey) error {
	pub, err := EncodePublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.pub = key, pub
	return nil
}

// PublicKey is the platform key as getAccessToken sends it.
func (s *Simulator) PublicKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// TokensIssued counts the access tokens issued so far.
func (s *Simulator) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// handleToken serves getAccessToken: plain JSON credentials in, a token, its
// lifetime in seconds and the platform public key out.
func (s *Simulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeEnvelope(w, http.StatusMethodNotAllowed, CodeMethod, "请求方法不支持", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误", nil)
		return
	}
	var req TokenRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：请求体须为JSON", nil)
		return
	}
	for _, v := range []string{req.AccessKey, req.SecretKey} {
		if n := len([]rune(v)); n < 1 || n > 30 {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：accessKey和secretKey须为1到30个字符", nil)
			return
		}
	}
	m, err := s.eng.Merchant(req.AccessKey)
	if err != nil || subtle.ConstantTimeCompare([]byte(m.Secret), []byte(req.SecretKey)) != 1 {
		writeEnvelope(w, http.StatusOK, CodeForbidden, "accessKey或secretKey错误", nil)
		return
	}
	ttl := 600
	if v, ok := m.Options[SimOptionTokenTTL]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			ttl = n
		}
	}
	tok := randomHex(16)
	now := s.eng.Now()
	s.mu.Lock()
	for k, t := range s.tokens {
		if !now.Before(t.expires) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = simToken{merchantID: m.ID, expires: now.Add(time.Duration(ttl) * time.Second)}
	s.issued++
	pub := s.pub
	s.mu.Unlock()
	writeEnvelope(w, http.StatusOK, CodeOK, "操作成功", TokenData{AccessToken: tok, ExpireTime: json.RawMessage(strconv.Itoa(ttl)), PublicKey: pub})
}

// apiHandler serves one authenticated endpoint with the decrypted request.
type apiHandler func(w http.ResponseWriter, m sim.Merchant, req fields)

// authed checks what every authenticated call carries, in the platform's
// order: the method, the AccessKey/AccessToken pair (401), the Timestamp
// (1002), then the encrypted body (1001) and its JSON (400).
func (s *Simulator) authed(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeEnvelope(w, http.StatusMethodNotAllowed, CodeMethod, "请求方法不支持", nil)
			return
		}
		accessKey, token := r.Header.Get(HeaderAccessKey), r.Header.Get(HeaderAccessToken)
		now := s.eng.Now()
		s.mu.Lock()
		t, ok := s.tokens[token]
		key := s.key
		s.mu.Unlock()
		if accessKey == "" || token == "" || !ok || t.merchantID != accessKey || !now.Before(t.expires) {
			writeEnvelope(w, http.StatusOK, CodeAuth, "Token无效或已过期", nil)
			return
		}
		m, err := s.eng.Merchant(accessKey)
		if err != nil {
			writeEnvelope(w, http.StatusOK, CodeForbidden, "accessKey或secretKey错误", nil)
			return
		}
		ts, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get(HeaderTimestamp)), 10, 64)
		sent := time.UnixMilli(ts)
		if m.Options[SimOptionTimestampUnit] == "s" {
			sent = time.Unix(ts, 0)
		}
		// Compared as instants: now.Sub of a time centuries away saturates,
		// and the absolute value of the smallest Duration is negative.
		if err != nil || sent.Before(now.Add(-timestampWindow)) || sent.After(now.Add(timestampWindow)) {
			writeEnvelope(w, http.StatusOK, CodeTimestamp, "请求时间戳无效", nil)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		if err != nil {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误", nil)
			return
		}
		var eb EncryptedBody
		if err := json.Unmarshal(body, &eb); err != nil || eb.Data == "" {
			writeEnvelope(w, http.StatusOK, CodeDecrypt, "数据解密失败", nil)
			return
		}
		plain, err := DecryptJSON(key, m.Options[OptionRSAPadding], eb.Data)
		if err != nil {
			writeEnvelope(w, http.StatusOK, CodeDecrypt, "数据解密失败", nil)
			return
		}
		var req fields
		if err := json.Unmarshal(plain, &req); err != nil || req == nil {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：解密后的数据不是JSON对象", nil)
			return
		}
		h(w, m, req)
	}
}

// handleCharge serves invokecharge.
func (s *Simulator) handleCharge(w http.ResponseWriter, m sim.Merchant, req fields) {
	orderNo, amount, urls, ok := commonOrderFields(w, req)
	if !ok {
		return
	}
	o, err := s.eng.CreateOrder(sim.Order{
		MerchantID: m.ID, OrderNo: orderNo, Kind: providers.KindDeposit, Amount: amount, Currency: Currency,
		NotifyURL: urls["successUrl"], Fields: urls,
	})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeEnvelope(w, http.StatusOK, CodeOK, "操作成功", s.orderData(o))
}

// handleWithdraw serves submitwithdraw.
func (s *Simulator) handleWithdraw(w http.ResponseWriter, m sim.Merchant, req fields) {
	orderNo, amount, f, ok := commonOrderFields(w, req)
	if !ok {
		return
	}
	category, _ := req.str("category")
	if category != "0" && category != "1" {
		writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：category须为0(银行)或1(支付宝)", nil)
		return
	}
	f["category"] = category
	if category == "0" {
		bank, _ := req.str("bankChannel")
		if !isDigits(bank) {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：银行提现须提供bankChannel", nil)
			return
		}
		f["bankChannel"] = bank
	}
	for _, name := range []string{"name", "account"} {
		v, _ := req.str(name)
		if strings.TrimSpace(v) == "" {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误："+name+"不能为空", nil)
			return
		}
		f[name] = v
	}
	o, err := s.eng.CreateOrder(sim.Order{
		MerchantID: m.ID, OrderNo: orderNo, Kind: providers.KindPayout, Amount: amount, Currency: Currency,
		NotifyURL: f["successUrl"], Fields: f,
	})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeEnvelope(w, http.StatusOK, CodeOK, "操作成功", s.orderData(o))
}

// handleQuery serves getcharge and getwithdraw: the merchant's order of that
// kind by merchant order number, in the envelope.
func (s *Simulator) handleQuery(kind providers.OrderKind) apiHandler {
	return func(w http.ResponseWriter, m sim.Merchant, req fields) {
		orderNo, _ := req.str("orderNo")
		if orderNo == "" {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：orderNo不能为空", nil)
			return
		}
		o, err := s.eng.FindOrder(m.ID, orderNo)
		if err != nil || o.OrderNo != orderNo || o.Kind != kind {
			writeEnvelope(w, http.StatusOK, CodeNotFound, "订单不存在", nil)
			return
		}
		writeEnvelope(w, http.StatusOK, CodeOK, "操作成功", s.orderData(o))
	}
}

// orderData renders an order: the documented orderNo, chargeNo, createTime and
// zt, and the extensions payUrl, amount, actualAmount, remark and parts.
func (s *Simulator) orderData(o *sim.Order) OrderData {
	d := OrderData{
		OrderNo: FlexString(o.OrderNo), ChargeNo: FlexString(o.ID), CreateTime: FlexString(FormatTime(o.CreatedAt)),
		ZT: FlexString(ztFor(o.Kind, o.Status)), Amount: jsonAmount(o.Amount), Remark: o.Remark,
	}
	if o.Kind == providers.KindDeposit {
		d.PayURL = strings.TrimRight(s.cfg.BaseURL, "/") + PathPayPage + url.PathEscape(o.ID)
	}
	if o.Paid.IsPositive() {
		d.ActualAmount = jsonAmount(o.Paid)
	}
	for _, p := range o.Parts {
		d.Parts = append(d.Parts, PartData{PartNo: FlexString(p.ID), Amount: jsonAmount(p.Amount), ZT: WithdrawCompleted, FinishTime: FlexString(FormatTime(p.SettledAt))})
	}
	return d
}

// fields is a decrypted request, read leniently as a Java platform would: a
// number may come as a string and a string as a number.
type fields map[string]json.RawMessage

// str reads a string or number field; absent or null is "", false.
func (f fields) str(name string) (string, bool) {
	raw, ok := f[name]
	if !ok || isNull(raw) {
		return "", false
	}
	var v FlexString
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return string(v), true
}

// commonOrderFields reads orderNo, amount, successUrl and failUrl (failUr, the
// document's typo, is accepted too), answering the error itself when one is wrong.
func commonOrderFields(w http.ResponseWriter, req fields) (string, decimal.Decimal, map[string]string, bool) {
	orderNo, _ := req.str("orderNo")
	if strings.TrimSpace(orderNo) == "" {
		writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：orderNo不能为空", nil)
		return "", decimal.Decimal{}, nil, false
	}
	raw, ok := req["amount"]
	if !ok || isNull(raw) {
		writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：amount不能为空", nil)
		return "", decimal.Decimal{}, nil, false
	}
	amount, err := providers.ParseJSONAmount(raw)
	if err != nil || !amount.IsPositive() || !amount.Mod(AmountMultiple).IsZero() {
		writeEnvelope(w, http.StatusOK, CodeAmount, "金额必须为100的整数倍", nil)
		return "", decimal.Decimal{}, nil, false
	}
	success, _ := req.str("successUrl")
	fail, ok := req.str("failUrl")
	if !ok {
		fail, _ = req.str("failUr")
	}
	for _, u := range []string{success, fail} {
		if checkBaseURL(u) != nil {
			writeEnvelope(w, http.StatusOK, CodeBadRequest, "请求参数错误：successUrl和failUrl须为完整的http(s)地址", nil)
			return "", decimal.Decimal{}, nil, false
		}
	}
	return orderNo, amount, map[string]string{"successUrl": success, "failUrl": fail}, true
}

func writeEngineError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, sim.ErrDuplicateOrder):
		writeEnvelope(w, http.StatusOK, CodeDuplicate, "商家订单号已存在", nil)
	case errors.Is(err, sim.ErrInsufficientBalance):
		writeEnvelope(w, http.StatusOK, CodeBalance, "商家余额不足", nil)
	case errors.Is(err, sim.ErrUnknownMerchant):
		writeEnvelope(w, http.StatusOK, CodeForbidden, "accessKey或secretKey错误", nil)
	default:
		writeEnvelope(w, http.StatusOK, CodeServer, "系统繁忙", nil)
	}
}

// writeEnvelope writes {msg, code, data} as the platform does.
func writeEnvelope(w http.ResponseWriter, status, code int, msg string, data any) {
	b, err := json.Marshal(struct {
		Msg  string `json:"msg"`
		Code int    `json:"code"`
		Data any    `json:"data,omitempty"`
	}{msg, code, data})
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"msg":"系统繁忙","code":500}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func jsonAmount(d decimal.Decimal) json.RawMessage { return json.RawMessage(d.String()) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
