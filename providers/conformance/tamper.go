package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tallyhq/tally/providers"
)

// Tamper returns forgeries of a genuine callback, each with one thing
// changed that its signature covers.
type Tamper func(genuine *providers.Callback) ([]Forgery, error)

// Forgery is a genuine callback with one thing changed.
type Forgery struct {
	// What names the change ("amount altered", "sign removed").
	What     string
	Callback *providers.Callback
}

// JSONBody forges a callback whose body is one JSON object signed over its
// members: every member but signField altered in turn (members of nested
// objects too), then signField altered and signField removed. A string
// changes its last character (a digit to the next digit, a letter to the
// next letter) or, empty, becomes "x"; a number its last digit; a boolean
// flips; null becomes "x"; an array is emptied (or gets an element). The
// members' order and every other byte of their values are kept.
func JSONBody(signField string) Tamper {
	return func(genuine *providers.Callback) ([]Forgery, error) {
		obj, err := parseObject(genuine.Body)
		if err != nil {
			return nil, fmt.Errorf("genuine callback body: %w", err)
		}
		var out []Forgery
		for _, a := range obj.alterations(signField) {
			out = append(out, Forgery{What: a.path + " altered", Callback: withBody(genuine, a.body)})
		}
		sig, ok := obj.get(signField)
		if !ok {
			return nil, fmt.Errorf("genuine callback has no %s member", signField)
		}
		out = append(out,
			Forgery{What: signField + " altered", Callback: withBody(genuine, obj.with(signField, alterValue(sig)).encode())},
			Forgery{What: signField + " removed", Callback: withBody(genuine, obj.without(signField).encode())})
		return out, nil
	}
}

// FormBody forges a callback whose body is a form signed over its fields:
// every field but signField altered in turn (as JSONBody alters a string),
// then signField altered and signField removed. The fields' order is kept;
// the query string is left as it is.
func FormBody(signField string) Tamper {
	return func(genuine *providers.Callback) ([]Forgery, error) {
		pairs, err := parseForm(string(genuine.Body))
		if err != nil {
			return nil, fmt.Errorf("genuine callback body: %w", err)
		}
		var out []Forgery
		found := false
		for i, p := range pairs {
			changed := append([][2]string(nil), pairs...)
			changed[i][1] = alterString(p[1])
			what := p[0] + " altered"
			if p[0] == signField {
				found = true
			}
			out = append(out, Forgery{What: what, Callback: withBody(genuine, []byte(encodeForm(changed)))})
			if p[0] == signField {
				rest := append(append([][2]string(nil), pairs[:i]...), pairs[i+1:]...)
				out = append(out, Forgery{What: signField + " removed", Callback: withBody(genuine, []byte(encodeForm(rest)))})
			}
		}
		if !found {
			return nil, fmt.Errorf("genuine callback has no %s field", signField)
		}
		return out, nil
	}
}

// QueryParams forges a callback whose query parameters signed, and
// signField, carry what it says: each of signed altered in turn (as
// JSONBody alters a string), then signField altered and signField removed.
// Other parameters and the body are kept.
func QueryParams(signField string, signed ...string) Tamper {
	return func(genuine *providers.Callback) ([]Forgery, error) {
		if genuine.Query.Get(signField) == "" {
			return nil, fmt.Errorf("genuine callback has no %s parameter", signField)
		}
		var out []Forgery
		for _, name := range append(append([]string(nil), signed...), signField) {
			v, ok := genuine.Query[name]
			if !ok || len(v) != 1 {
				return nil, fmt.Errorf("genuine callback has no single %s parameter", name)
			}
			q := cloneQuery(genuine.Query)
			q.Set(name, alterString(v[0]))
			out = append(out, Forgery{What: name + " altered", Callback: withQuery(genuine, q)})
		}
		q := cloneQuery(genuine.Query)
		q.Del(signField)
		out = append(out, Forgery{What: signField + " removed", Callback: withQuery(genuine, q)})
		return out, nil
	}
}

func withBody(cb *providers.Callback, body []byte) *providers.Callback {
	c := cloneCallback(cb)
	c.Body = body
	return c
}

func withQuery(cb *providers.Callback, q url.Values) *providers.Callback {
	c := cloneCallback(cb)
	c.Query = q
	return c
}

func cloneCallback(cb *providers.Callback) *providers.Callback {
	c := *cb
	c.Query = cloneQuery(cb.Query)
	c.Header = cb.Header.Clone()
	c.Body = bytes.Clone(cb.Body)
	return &c
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// alterString changes s's last character: a digit to the next digit, a
// letter to the next letter of its case, anything else gets an "x" after
// it; "" becomes "x".
func alterString(s string) string {
	if s == "" {
		return "x"
	}
	r, size := utf8.DecodeLastRuneInString(s)
	head := s[:len(s)-size]
	switch {
	case r >= '0' && r <= '9':
		return head + string('0'+(r-'0'+1)%10)
	case r >= 'a' && r <= 'z':
		return head + string('a'+(r-'a'+1)%26)
	case r >= 'A' && r <= 'Z':
		return head + string('A'+(r-'A'+1)%26)
	}
	return s + "x"
}

// alterValue changes one JSON value as JSONBody says.
func alterValue(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0, string(t) == "null":
		return json.RawMessage(`"x"`)
	case t[0] == '"':
		var s string
		if json.Unmarshal(t, &s) != nil {
			return json.RawMessage(`"x"`)
		}
		b, _ := json.Marshal(alterString(s))
		return b
	case string(t) == "true":
		return json.RawMessage("false")
	case string(t) == "false":
		return json.RawMessage("true")
	case t[0] == '[':
		if string(bytes.Join(bytes.Fields(t), nil)) == "[]" {
			return json.RawMessage(`["x"]`)
		}
		return json.RawMessage("[]")
	case t[0] == '{':
		return json.RawMessage(`"x"`) // objects are altered member by member
	}
	// A number: its last digit.
	i := bytes.LastIndexFunc(t, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return json.RawMessage(`"x"`)
	}
	out := bytes.Clone(t)
	out[i] = '0' + (out[i]-'0'+1)%10
	return out
}

// object is a JSON object with its members in their order, each value raw.
type object struct {
	keys []string
	vals map[string]json.RawMessage
}

func parseObject(b []byte) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	o := &object{vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("member name %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %s: %w", k, err)
		}
		if _, dup := o.vals[k]; dup {
			return nil, fmt.Errorf("member %s twice", k)
		}
		o.keys = append(o.keys, k)
		o.vals[k] = v
	}
	return o, nil
}

func (o *object) get(k string) (json.RawMessage, bool) {
	v, ok := o.vals[k]
	return v, ok
}

func (o *object) with(k string, v json.RawMessage) *object {
	c := &object{keys: o.keys, vals: maps.Clone(o.vals)}
	c.vals[k] = v
	return c
}

func (o *object) without(k string) *object {
	c := &object{vals: maps.Clone(o.vals)}
	delete(c.vals, k)
	for _, key := range o.keys {
		if key != k {
			c.keys = append(c.keys, key)
		}
	}
	return c
}

func (o *object) encode() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// alteration is an object's encoding with the member at path
// ("extra.quoteAmount") altered.
type alteration struct {
	path string
	body []byte
}

// alterations alters every member in turn, in order, members of nested
// objects one by one; skip is left alone at the top.
func (o *object) alterations(skip string) []alteration {
	var out []alteration
	for _, k := range o.keys {
		if k == skip {
			continue
		}
		v := o.vals[k]
		if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '{' {
			if inner, err := parseObject(t); err == nil && len(inner.keys) > 0 {
				for _, a := range inner.alterations("") {
					out = append(out, alteration{k + "." + a.path, o.with(k, a.body).encode()})
				}
				continue
			}
		}
		out = append(out, alteration{k, o.with(k, alterValue(v)).encode()})
	}
	return out
}

// parseForm splits a form body into its fields in order, refusing a
// malformed one.
func parseForm(body string) ([][2]string, error) {
	var out [][2]string
	for _, part := range strings.Split(body, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{name, value})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty form")
	}
	return out, nil
}

func encodeForm(pairs [][2]string) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = url.QueryEscape(p[0]) + "=" + url.QueryEscape(p[1])
	}
	return strings.Join(parts, "&")
}
