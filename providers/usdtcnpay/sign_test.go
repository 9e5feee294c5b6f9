package usdtcnpay

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
)

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

// platformKey is one 2048-bit key shared by the tests of this file.
func platformKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// The wire format, checked without DecryptJSON: base64 of whole key-size
// blocks, each an independent PKCS#1 v1.5 (or OAEP-SHA1) encryption of the next
// key-size-11 (or -42) bytes of the JSON.
func TestEncryptJSONFormat(t *testing.T) {
	key := platformKey(t)
	k := key.Size()
	for _, padding := range []string{PaddingPKCS1, PaddingOAEP} {
		chunk := k - 11
		if padding == PaddingOAEP {
			chunk = k - 2*sha1.Size - 2
		}
		for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 2*chunk + 1, 2000} {
			plain := bytes.Repeat([]byte("订单x"), n)[:n]
			enc, err := EncryptJSON(&key.PublicKey, padding, plain)
			if err != nil {
				t.Fatalf("%s n=%d: %v", padding, n, err)
			}
			ct, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("%s n=%d: not standard base64: %v", padding, n, err)
			}
			blocks := max(1, (n+chunk-1)/chunk)
			if len(ct) != blocks*k {
				t.Fatalf("%s n=%d: %d ciphertext bytes, want %d blocks of %d", padding, n, len(ct), blocks, k)
			}
			var got []byte
			for i := 0; i < blocks; i++ {
				var part []byte
				if padding == PaddingOAEP {
					part, err = rsa.DecryptOAEP(sha1.New(), nil, key, ct[i*k:(i+1)*k], nil)
				} else {
					part, err = rsa.DecryptPKCS1v15(nil, key, ct[i*k:(i+1)*k]) //nolint:staticcheck
				}
				if err != nil {
					t.Fatalf("%s n=%d block %d: %v", padding, n, i, err)
				}
				if i < blocks-1 && len(part) != chunk {
					t.Fatalf("%s n=%d block %d holds %d bytes, want %d", padding, n, i, len(part), chunk)
				}
				got = append(got, part...)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("%s n=%d: blocks decrypt to %q, want %q", padding, n, got, plain)
			}
			back, err := DecryptJSON(key, padding, enc)
			if err != nil || !bytes.Equal(back, plain) {
				t.Fatalf("%s n=%d: DecryptJSON = %q, %v", padding, n, back, err)
			}
		}
	}
}

func TestEncryptBodyShape(t *testing.T) {
	key := platformKey(t)
	plain := []byte(`{"orderNo":"T1","amount":800,"successUrl":"http://a/cb?result=success","failUrl":"http://a/cb?result=fail"}`)
	body, err := EncryptBody(&key.PublicKey, PaddingPKCS1, plain)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || len(top) != 1 || top["data"] == nil {
		t.Fatalf("body %s: want exactly {\"data\": ...}", body)
	}
	var eb EncryptedBody
	_ = json.Unmarshal(body, &eb)
	back, err := DecryptJSON(key, PaddingPKCS1, eb.Data)
	if err != nil || !bytes.Equal(back, plain) {
		t.Fatalf("decrypted %q, %v", back, err)
	}
	// Two encryptions of the same body differ (randomized padding).
	again, _ := EncryptBody(&key.PublicKey, PaddingPKCS1, plain)
	if bytes.Equal(body, again) {
		t.Fatal("two encryptions are identical: padding is not randomized")
	}
}

func TestDecryptJSONRefusesBadCiphertext(t *testing.T) {
	key := platformKey(t)
	good, _ := EncryptJSON(&key.PublicKey, PaddingPKCS1, []byte(`{"orderNo":"T1"}`))
	ct, _ := base64.StdEncoding.DecodeString(good)
	flipped := append([]byte(nil), ct...)
	flipped[10] ^= 0xff
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	underOther, _ := EncryptJSON(&other.PublicKey, PaddingPKCS1, []byte(`{"orderNo":"T1"}`))
	for name, data := range map[string]string{
		"plain json":     `{"orderNo":"T1"}`,
		"empty":          "",
		"short":          base64.StdEncoding.EncodeToString(ct[:100]),
		"flipped byte":   base64.StdEncoding.EncodeToString(flipped),
		"other key":      underOther,
		"wrong padding":  mustEncrypt(t, &key.PublicKey, PaddingOAEP),
		"not base64 !!!": "!!!" + good,
	} {
		if _, err := DecryptJSON(key, PaddingPKCS1, data); err == nil {
			t.Errorf("%s: decrypted, want an error", name)
		}
	}
	if _, err := DecryptJSON(key, "rsa-none", good); err == nil {
		t.Error("unknown padding accepted")
	}
	if _, err := EncryptJSON(&key.PublicKey, "rsa-none", []byte("{}")); err == nil {
		t.Error("unknown padding accepted for encryption")
	}
}

func mustEncrypt(t *testing.T, pub *rsa.PublicKey, padding string) string {
	t.Helper()
	s, err := EncryptJSON(pub, padding, []byte(`{"orderNo":"T1"}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParsePublicKeyFormats(t *testing.T) {
	key := platformKey(t)
	pkix, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pkcs1 := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	b64 := base64.StdEncoding.EncodeToString(pkix)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 64 {
		wrapped.WriteString(b64[i:min(i+64, len(b64))])
		wrapped.WriteString("\r\n")
	}
	encoded, err := EncodePublicKey(&key.PublicKey)
	if err != nil || encoded != b64 {
		t.Fatalf("EncodePublicKey = %q, %v; want base64 of the PKIX DER", encoded, err)
	}
	for name, s := range map[string]string{
		"base64 pkix (the token answer)": b64,
		"base64 pkix wrapped":            wrapped.String(),
		"base64 pkix unpadded":           strings.TrimRight(b64, "="),
		"base64 pkcs1":                   base64.StdEncoding.EncodeToString(pkcs1),
		"pem pkix":                       string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})),
		"pem pkcs1":                      string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})),
	} {
		pub, err := ParsePublicKey(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !pub.Equal(&key.PublicKey) {
			t.Errorf("%s: parsed a different key", name)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	for name, s := range map[string]string{
		"empty":   "",
		"example": "thisispublickeyusedforencytion",
		"ecdsa":   base64.StdEncoding.EncodeToString(ecDER),
		"garbage": base64.StdEncoding.EncodeToString([]byte("not a key at all")),
	} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("%s: accepted, want an error", name)
		}
	}
}

// Callback URL sig vectors: no USDTCNPAY vector exists in the shared vectors
// file (the platform signs nothing); these pin this package's own rule, checked
// against an independent HMAC and against values computed with
// `openssl dgst -sha256 -hmac thisissecretKey`.
func TestCallbackSignatureVectors(t *testing.T) {
	cases := []struct {
		result, kind, orderNo string
		str, sig              string
	}{
		{"success", "deposit", "T20240202-0001",
			"kind=deposit&orderNo=T20240202-0001&result=success",
			"5ae7d96a24bdc5a7c5f776953a61a321871ebbbb76b9aa246200a7aee733eef8"},
		{"fail", "payout", "W&x=1",
			"kind=payout&orderNo=W%26x%3D1&result=fail",
			"215d7c8e94c1a4c04c085596153016281d4beab78650d213a3e426b309a6bbcb"},
	}
	for _, c := range cases {
		if got := CallbackStringToSign(c.result, c.kind, c.orderNo); got != c.str {
			t.Errorf("string to sign = %q, want %q", got, c.str)
		}
		if got := CallbackSignature("thisissecretKey", c.result, c.kind, c.orderNo); got != c.sig {
			t.Errorf("sig = %s, want %s", got, c.sig)
		}
		m := hmac.New(sha256.New, []byte("thisissecretKey"))
		m.Write([]byte(c.str))
		if ind := hex.EncodeToString(m.Sum(nil)); ind != c.sig {
			t.Errorf("independent HMAC = %s, want %s", ind, c.sig)
		}
		if !VerifyCallbackSignature("thisissecretKey", c.result, c.kind, c.orderNo, strings.ToUpper(c.sig)) {
			t.Error("upper-case hex sig refused")
		}
		if VerifyCallbackSignature("otherKey", c.result, c.kind, c.orderNo, c.sig) {
			t.Error("sig verified under another key")
		}
		if VerifyCallbackSignature("thisissecretKey", c.result, c.kind, c.orderNo, "") {
			t.Error("empty sig verified")
		}
	}
	// No value can bleed into another: moving "&result=success" into the order
	// number does not keep the signature.
	a := CallbackSignature("k", "success", "deposit", "T1")
	b := CallbackSignature("k", "fail", "deposit", "T1&result=success")
	if a == b || CallbackStringToSign("fail", "deposit", "T1&result=success") == CallbackStringToSign("success", "deposit", "T1") {
		t.Error("ambiguous string to sign")
	}
}
