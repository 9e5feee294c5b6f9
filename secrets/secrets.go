// Package secrets seals the credentials tally stores — provider account secrets
// and merchant webhook secrets — with AES-256-GCM under a key taken from the
// environment, so that a database dump alone reveals none of them.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// EnvKey is the environment variable holding the 32-byte key, base64 or hex.
const EnvKey = "TALLY_SECRET_KEY"

var (
	// ErrNoKey: TALLY_SECRET_KEY is unset.
	ErrNoKey = errors.New("secret key not configured: set " + EnvKey + " (32 bytes, base64 or hex; `tally secret-key` makes one)")
	// ErrBadKey: the key is not 32 bytes of base64 or hex.
	ErrBadKey = errors.New("secret key must be 32 bytes, base64 or hex encoded")
	// ErrDecrypt: a sealed value does not open under this key and context.
	ErrDecrypt = errors.New("sealed secret does not open with this key")
)

// version prefixes every sealed value so that a later key rotation can tell
// generations apart.
const version byte = 1

// Box seals and opens secrets.
type Box struct{ aead cipher.AEAD }

// FromEnv builds a Box from TALLY_SECRET_KEY.
func FromEnv() (*Box, error) {
	raw := strings.TrimSpace(os.Getenv(EnvKey))
	if raw == "" {
		return nil, ErrNoKey
	}
	key, err := ParseKey(raw)
	if err != nil {
		return nil, err
	}
	return New(key)
}

// ParseKey decodes a 32-byte key written as base64 (standard or URL) or hex.
func ParseKey(raw string) ([]byte, error) {
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if k, err := dec(raw); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, ErrBadKey
}

// New builds a Box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, ErrBadKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &Box{aead: aead}, nil
}

// GenerateKey returns a new random key, base64 encoded, for TALLY_SECRET_KEY.
func GenerateKey() string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(k)
}

// Seal encrypts plaintext. The context (e.g. "provider_account:cpay-main") is
// authenticated but not stored: a sealed value copied to another row does not open.
func (b *Box) Seal(plaintext, context string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, []byte(plaintext), []byte(context)), nil
}

// Open decrypts what Seal produced under the same context.
func (b *Box) Open(sealed []byte, context string) (string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return "", ErrDecrypt
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}
