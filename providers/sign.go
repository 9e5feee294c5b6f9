package providers

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sort"
	"strings"
)

// EqualSignature compares two hex signatures in constant time, ignoring hex case.
// An empty signature never matches.
func EqualSignature(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(strings.ToLower(want))) == 1
}

// MD5Hex is the lowercase hex MD5 of s.
func MD5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HMACSHA256Hex is the lowercase hex HMAC-SHA256 of s under key.
func HMACSHA256Hex(key, s string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// SortedPairs joins name=value pairs sorted by name (byte order) with "&",
// skipping the names in skip and, when dropEmpty, empty values. It is the string
// to sign of the providers whose rule is "sort by key, join key=value".
func SortedPairs(params map[string]string, dropEmpty bool, skip ...string) string {
	names := make([]string, 0, len(params))
	for k, v := range params {
		if dropEmpty && v == "" {
			continue
		}
		skipped := false
		for _, s := range skip {
			if k == s {
				skipped = true
				break
			}
		}
		if !skipped {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}
