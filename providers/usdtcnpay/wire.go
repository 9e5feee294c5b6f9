package usdtcnpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Paths of the platform's API, below the base URL (https://user.usdtcnpay.com).
const (
	PathToken       = "/api/getAccessToken"
	PathCharge      = "/api/invokecharge"
	PathWithdraw    = "/api/submitwithdraw"
	PathGetCharge   = "/api/getcharge"
	PathGetWithdraw = "/api/getwithdraw"
	// PathPayPage is the hosted deposit page, /pay/{chargeNo}; the document
	// shows no invokecharge answer, so its URL (payUrl) is this package's reading.
	PathPayPage = "/pay/"
)

// Request headers of every authenticated call.
const (
	HeaderAccessKey   = "AccessKey"
	HeaderAccessToken = "AccessToken"
	HeaderTimestamp   = "Timestamp"
)

// Envelope codes. The document shows only code 0 ("操作成功"); it names no error
// code, so these are the ones this package and its simulator agree on. Every
// answer is HTTP 200 with the envelope {msg, code, data}; the adapter also
// understands an HTTP 401/403/4xx without an envelope.
const (
	CodeOK         = 0    // 操作成功
	CodeBadRequest = 400  // 请求参数错误: a missing or malformed field
	CodeAuth       = 401  // Token无效或已过期: the access token is missing, unknown or expired
	CodeForbidden  = 403  // accessKey或secretKey错误: wrong credentials or account not active
	CodeMethod     = 405  // 请求方法不支持
	CodeServer     = 500  // 系统繁忙: the platform failed; it may or may not have acted
	CodeDecrypt    = 1001 // 数据解密失败: the body is not what the platform key decrypts
	CodeTimestamp  = 1002 // 请求时间戳无效: missing, or more than 5 minutes off
	CodeAmount     = 2001 // 金额必须为100的整数倍
	CodeDuplicate  = 2002 // 商家订单号已存在
	CodeBalance    = 2003 // 商家余额不足
	CodeNotFound   = 2004 // 订单不存在
)

// Envelope is the platform's answer: {msg, code, data}.
type Envelope struct {
	Msg  string          `json:"msg"`
	Code json.RawMessage `json:"code"`
	Data json.RawMessage `json:"data,omitempty"`
}

// TokenRequest is the body of getAccessToken: plain JSON, since no key is
// known before the first token.
type TokenRequest struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// TokenData is getAccessToken's data. ExpireTime is the token's lifetime in
// seconds (the document's example says 600 while its prose says 15 minutes;
// the number the platform sends wins).
type TokenData struct {
	AccessToken string          `json:"accessToken"`
	ExpireTime  json.RawMessage `json:"expireTime"`
	PublicKey   string          `json:"publicKey"`
}

// ChargeRequest is invokecharge's plaintext JSON before encryption. Amount is a
// JSON number (the document's field table says Number; its example's quoted
// "800" is read as sloppiness, and the simulator accepts both).
type ChargeRequest struct {
	OrderNo    string      `json:"orderNo"`
	Amount     json.Number `json:"amount"`
	SuccessURL string      `json:"successUrl"`
	FailURL    string      `json:"failUrl"`
}

// WithdrawRequest is submitwithdraw's plaintext JSON before encryption.
// BankChannel is left out for Alipay (category 1), where it does not apply.
type WithdrawRequest struct {
	OrderNo     string      `json:"orderNo"`
	Amount      json.Number `json:"amount"`
	Category    int         `json:"category"`
	BankChannel json.Number `json:"bankChannel,omitempty"`
	Name        string      `json:"name"`
	Account     string      `json:"account"`
	SuccessURL  string      `json:"successUrl"`
	FailURL     string      `json:"failUrl"`
}

// QueryRequest is the body of getcharge and getwithdraw.
type QueryRequest struct {
	OrderNo string `json:"orderNo"`
}

// OrderData is an order as getcharge, getwithdraw, invokecharge and
// submitwithdraw describe it. The document shows orderNo, chargeNo, createTime
// and zt; the other fields are extensions the simulator sends and the adapter
// reads when present and tolerates when missing: payUrl (the hosted deposit
// page), amount (ordered), actualAmount (received for a charge, paid out so far
// for a withdrawal), remark (failure reason) and parts (the payments a
// withdrawal was split into).
type OrderData struct {
	OrderNo      FlexString      `json:"orderNo"`
	ChargeNo     FlexString      `json:"chargeNo"`
	CreateTime   FlexString      `json:"createTime"`
	ZT           FlexString      `json:"zt"`
	PayURL       string          `json:"payUrl,omitempty"`
	Amount       json.RawMessage `json:"amount,omitempty"`
	ActualAmount json.RawMessage `json:"actualAmount,omitempty"`
	Remark       string          `json:"remark,omitempty"`
	Parts        []PartData      `json:"parts,omitempty"`
}

// PartData is one payment of a withdrawal split into several (extension).
type PartData struct {
	PartNo     FlexString      `json:"partNo"`
	Amount     json.RawMessage `json:"amount"`
	ZT         FlexString      `json:"zt"`
	FinishTime FlexString      `json:"finishTime,omitempty"`
}

// FlexString is a JSON string that also accepts a number (a platform order
// number or time may come either way) and null.
type FlexString string

// UnmarshalJSON accepts a string, a number or null.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("expected a string or a number, got %s", snippetJSON(b))
		}
		*f = FlexString(n.String())
	}
	return nil
}

// TimeLayout is how the platform writes times ("2024-02-02 12:23:35"), in
// China Standard Time.
const TimeLayout = "2006-01-02 15:04:05"

// ChinaTime is UTC+8, the zone of the platform's times (fixed, so no tzdata is needed).
var ChinaTime = time.FixedZone("CST", 8*60*60)

// ParseTime reads a platform time: "2006-01-02 15:04:05" in UTC+8, or a Unix
// time in milliseconds or seconds. An empty value is the zero time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(TimeLayout, s, ChinaTime); err == nil {
		return t, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is neither %q nor a Unix time", s, TimeLayout)
	}
	if n > 1e11 {
		return time.UnixMilli(n), nil
	}
	return time.Unix(n, 0), nil
}

// FormatTime writes t the way the platform does.
func FormatTime(t time.Time) string { return t.In(ChinaTime).Format(TimeLayout) }

// envelopeCode reads the envelope's code, a number or a numeric string.
func envelopeCode(raw json.RawMessage) (string, error) {
	var f FlexString
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", errors.New("envelope has no code")
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", fmt.Errorf("envelope code: %w", err)
	}
	if f == "" {
		return "", errors.New("envelope code is empty")
	}
	return string(f), nil
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func snippetJSON(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
