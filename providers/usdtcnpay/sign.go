package usdtcnpay

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tallyhq/tally/providers"
)

// USDTCNPAY signs nothing. What protects a request is the access token in its
// headers and the RSA encryption of its JSON body under the platform's public
// key; its success/fail URL callbacks carry no signature at all. This file holds
// both halves of the body encryption (the adapter encrypts, the simulator plays
// the platform and decrypts) and the token the adapter embeds in the callback
// URLs it hands the platform, so that a callback URL tally did not issue is
// recognisable.

// RSA paddings for request bodies (Config.Options "rsa_padding").
const (
	// PaddingPKCS1 is RSA PKCS#1 v1.5, what Java's Cipher.getInstance("RSA")
	// does and the reading of the document a Java-speaking platform implies. Default.
	PaddingPKCS1 = "pkcs1"
	// PaddingOAEP is RSA-OAEP with SHA-1 and MGF1-SHA-1, Java's
	// "RSA/ECB/OAEPWithSHA-1AndMGF1Padding", for a platform that turns out to use it.
	PaddingOAEP = "oaep"
)

// EncryptedBody is the request body of every authenticated call: the JSON
// request, RSA-encrypted in blocks under the platform key, base64 in Data.
type EncryptedBody struct {
	Data string `json:"data"`
}

// ParsePublicKey reads the platform's RSA public key as the token answer carries
// it: base64 of the DER SubjectPublicKeyInfo, what Java's
// PublicKey.getEncoded() gives and what the simulator sends. It also accepts a
// PKCS#1 RSAPublicKey and PEM armour around either, with or without line breaks,
// because the key can equally be pasted from the merchant back office.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty public key")
	}
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		compact := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, s)
		var err error
		if der, err = base64.StdEncoding.DecodeString(compact); err != nil {
			if der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(compact, "=")); err != nil {
				return nil, fmt.Errorf("public key is neither PEM nor base64: %w", err)
			}
		}
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not RSA", k)
		}
		return checkKeySize(pub)
	}
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key is neither X.509 SubjectPublicKeyInfo nor PKCS#1: %w", err)
	}
	return checkKeySize(pub)
}

// EncodePublicKey writes pub the way the platform's token answer carries it:
// base64 (standard, padded, one line) of the DER SubjectPublicKeyInfo.
func EncodePublicKey(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// EncryptJSON encrypts a JSON request under the platform key: the plaintext is
// cut into blocks of the largest size the padding allows (key size - 11 bytes
// for PKCS#1 v1.5, e.g. 245 for a 2048-bit key), each block is encrypted on its
// own into key-size bytes, the ciphertexts are concatenated in order and the
// whole is base64-encoded (standard alphabet, padded). This is the segmented
// encryption Chinese Java platforms publish in their demos.
func EncryptJSON(pub *rsa.PublicKey, padding string, plain []byte) (string, error) {
	chunk, err := plainBlockSize(pub, padding)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	for start := 0; start < len(plain) || start == 0; start += chunk {
		end := min(start+chunk, len(plain))
		block, err := encryptBlock(pub, padding, plain[start:end])
		if err != nil {
			return "", fmt.Errorf("rsa encrypt block at %d: %w", start, err)
		}
		out.Write(block)
		if end == len(plain) {
			break
		}
	}
	return base64.StdEncoding.EncodeToString(out.Bytes()), nil
}

// EncryptBody is the request body the adapter sends: {"data":"<EncryptJSON>"}.
func EncryptBody(pub *rsa.PublicKey, padding string, plain []byte) ([]byte, error) {
	data, err := EncryptJSON(pub, padding, plain)
	if err != nil {
		return nil, err
	}
	return json.Marshal(EncryptedBody{Data: data})
}

// DecryptJSON reverses EncryptJSON with the platform's private key; the
// simulator uses it on every authenticated request.
func DecryptJSON(priv *rsa.PrivateKey, padding string, data string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
	if err != nil {
		return nil, fmt.Errorf("ciphertext is not base64: %w", err)
	}
	k := priv.Size()
	if len(ct) == 0 || len(ct)%k != 0 {
		return nil, fmt.Errorf("ciphertext of %d bytes is not a whole number of %d-byte blocks", len(ct), k)
	}
	var out bytes.Buffer
	for start := 0; start < len(ct); start += k {
		block, err := decryptBlock(priv, padding, ct[start:start+k])
		if err != nil {
			return nil, fmt.Errorf("rsa decrypt block %d: %w", start/k, err)
		}
		out.Write(block)
	}
	return out.Bytes(), nil
}

// CallbackStringToSign is what the token in a callback URL covers: the result,
// kind and order number, URL-encoded and sorted by name, so that no value can
// bleed into another ("kind=deposit&orderNo=T1&result=success").
func CallbackStringToSign(result, kind, orderNo string) string {
	return url.Values{"result": {result}, "kind": {kind}, "orderNo": {orderNo}}.Encode()
}

// CallbackSignature is the token the adapter puts in the sig parameter of the
// success and fail URLs it gives the platform: lowercase hex HMAC-SHA256 of
// CallbackStringToSign under the callback key (Options "callback_key", default
// the secretKey). The platform never sees the key; it only calls the URLs back
// as given, so a URL whose result, kind or order number was altered, or that
// tally never issued, does not verify. It authenticates the URL, not the
// platform's claim: the event stays a hint to query.
func CallbackSignature(key, result, kind, orderNo string) string {
	return providers.HMACSHA256Hex(key, CallbackStringToSign(result, kind, orderNo))
}

// VerifyCallbackSignature compares sig with the expected token in constant time.
func VerifyCallbackSignature(key, result, kind, orderNo, sig string) bool {
	return providers.EqualSignature(sig, CallbackSignature(key, result, kind, orderNo))
}

// minKeyBits is the smallest platform key accepted: Go refuses smaller ones.
const minKeyBits = 1024

func checkKeySize(pub *rsa.PublicKey) (*rsa.PublicKey, error) {
	if pub.N == nil || pub.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("rsa public key smaller than %d bits", minKeyBits)
	}
	return pub, nil
}

// plainBlockSize is the largest plaintext block one RSA operation takes.
func plainBlockSize(pub *rsa.PublicKey, padding string) (int, error) {
	switch padding {
	case PaddingPKCS1, "":
		return pub.Size() - 11, nil
	case PaddingOAEP:
		return pub.Size() - 2*sha1.Size - 2, nil
	}
	return 0, fmt.Errorf("unknown rsa padding %q (%s, %s)", padding, PaddingPKCS1, PaddingOAEP)
}

func encryptBlock(pub *rsa.PublicKey, padding string, msg []byte) ([]byte, error) {
	if padding == PaddingOAEP {
		return rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, msg, nil)
	}
	// PKCS#1 v1.5 is what the platform's Java side most likely decrypts
	// (Cipher "RSA"); it is deprecated for new designs, but interoperability
	// with the provider decides here, and Options "rsa_padding" switches to OAEP.
	return rsa.EncryptPKCS1v15(rand.Reader, pub, msg) //nolint:staticcheck // provider's padding
}

func decryptBlock(priv *rsa.PrivateKey, padding string, ct []byte) ([]byte, error) {
	switch padding {
	case PaddingPKCS1, "":
		return rsa.DecryptPKCS1v15(nil, priv, ct) //nolint:staticcheck // provider's padding
	case PaddingOAEP:
		return rsa.DecryptOAEP(sha1.New(), nil, priv, ct, nil)
	}
	return nil, fmt.Errorf("unknown rsa padding %q", padding)
}
