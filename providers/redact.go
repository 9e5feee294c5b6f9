package providers

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// sensitiveKey matches a field name whose value must not be kept: anything
// mentioning sign, key, secret, token, password or auth (sign, signature,
// accessKey, secretKey, accessToken, apiKey, password, authorization, ...).
const sensitiveKey = `[A-Za-z0-9_.\-]*(?:sign|key|secret|token|passw(?:or)?d|auth)[A-Za-z0-9_.\-]*`

// redactions rewrite the values of sensitive fields in the shapes provider
// bodies take: JSON, form or query strings, XML and HTTP headers.
var redactions = []struct {
	re   *regexp.Regexp
	repl string
}{
	// "sign": "abc", "sign":"a\"b (a cut-off string too), "key": 123
	{regexp.MustCompile(`(?i)("` + sensitiveKey + `"\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|-?[0-9][0-9.eE+\-]*)`), `${1}"REDACTED"`},
	// sign=abc&..., ?accessToken=..., a form body
	{regexp.MustCompile(`(?i)(^|[?&;\s,{(])(` + sensitiveKey + `)=[^&\s"',;)}]*`), `${1}${2}=REDACTED`},
	// <sign>abc</sign>
	{regexp.MustCompile(`(?i)(<(` + sensitiveKey + `)>)[^<]*`), `${1}REDACTED`},
	// Authorization: Bearer abc, X-Api-Key: abc
	{regexp.MustCompile(`(?im)^(\s*` + sensitiveKey + `\s*:\s*)[^\r\n]*`), `${1}REDACTED`},
	// Bearer abc, Basic abc anywhere else
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}`), `${1} REDACTED`},
}

// Redact returns s with the values of credential and signature fields
// replaced by REDACTED: in JSON ("sign":"..."), form and query strings
// (sign=...), XML (<sign>...) and headers (Authorization: ...). It is applied
// wherever a provider's words are kept (Snippet, error messages in logs and
// staff timelines), since an answer may echo what tally signed or sent.
func Redact(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

// snippetScan bounds how much of a body is read for a snippet.
const snippetScan = 4 << 10

// snippetLen is the most a snippet keeps.
const snippetLen = 200

// snippet is the start of a provider's body, its credentials and signatures
// redacted (Redact), at most snippetLen bytes of valid UTF-8, for operators:
// logs at debug level and staff-only timeline entries. A merchant never sees
// it (Describe).
func snippet(b []byte) string {
	if len(b) > snippetScan {
		b = b[:snippetScan]
	}
	s := strings.TrimSpace(Redact(strings.ToValidUTF8(string(b), "\uFFFD")))
	if len(s) > snippetLen {
		cut := snippetLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// Snippet is snippet for the adapters' own messages.
func Snippet(b []byte) string { return snippet(b) }

// sensitiveField matches a whole field name that Redact treats as sensitive.
var sensitiveField = regexp.MustCompile(`(?i)^` + sensitiveKey + `$`)

// SensitiveField reports whether a field of a provider's body (a JSON member,
// a form or query parameter) holds a credential or a signature, by the same
// rule as Redact: what shows a body to people drops such fields.
func SensitiveField(name string) bool { return sensitiveField.MatchString(name) }
