package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCheckDuplicateKeys(t *testing.T) {
	tests := []struct {
		body string
		key  string // the duplicate reported; "" means accepted; "!" means not JSON
		path string
	}{
		{`{"amount":"1","currency":"CNY"}`, "", ""},
		{`{}`, "", ""},
		{`[]`, "", ""},
		{`"x"`, "", ""},
		{`{"a":{"b":1},"c":{"b":1}}`, "", ""},             // the same key in two objects
		{`[{"a":1},{"a":1}]`, "", ""},                     // the same key in two array elements
		{`{"a":[{"b":1,"c":[1,{"b":2}]}],"b":3}`, "", ""}, // nested, no duplicate
		{`{"a":"a","b":"a"}`, "", ""},                     // a value equal to a key is not a key

		{`{"amount":"1","amount":"1000"}`, "amount", ""},
		{`{"amount":"1","currency":"CNY","amount":"1"}`, "amount", ""},
		{`{"amount":"1","AMOUNT":"2"}`, "AMOUNT", ""},          // encoding/json would fill one field with both
		{`{"amount":"1","\u0061mount":"2"}`, "amount", ""},     // an escape spelling the same key
		{`{"k":"1","\u212a":"2"}`, "\u212a", ""},               // the Kelvin sign folds to k, as in encoding/json
		{`{"payer":{"Name":"a","Name":"b"}}`, "Name", "payer"}, // nested
		{`{"max_amounts":{"CNY":"1","cny":"2"}}`, "cny", "max_amounts"},
		{`{"extra":{"x":"1"},"list":[{"a":1},{"a":1,"a":2}]}`, "a", "list[1]"},
		{`[[{"a":1}],[{"b":{"c":1,"c":1}}]]`, "c", "[1][0].b"},

		{``, "!", ""},
		{`{"a":`, "!", ""},
		{`{"a":1`, "!", ""},
		{`{"a":1}}`, "!", ""},
		{`{"a":1} {}`, "!", ""},
		{`{"a" 1}`, "!", ""},
		{`{1:2}`, "!", ""},
		{`[1,]`, "!", ""},
		{`{"a":1,}`, "!", ""},
	}
	for _, tc := range tests {
		err := CheckDuplicateKeys([]byte(tc.body))
		var dup *DuplicateKeyError
		switch tc.key {
		case "":
			if err != nil {
				t.Errorf("%s: %v, want accepted", tc.body, err)
			}
		case "!":
			if err == nil || errors.As(err, &dup) {
				t.Errorf("%s: %v, want a syntax error", tc.body, err)
			}
		default:
			if !errors.As(err, &dup) || !errors.Is(err, ErrDuplicateKey) || dup.Key != tc.key || dup.Path != tc.path {
				t.Errorf("%s: %v (%+v), want duplicate %q at %q", tc.body, err, dup, tc.key, tc.path)
			}
		}
	}
	if got := (&DuplicateKeyError{Key: "Name", Path: "payer"}).Error(); got != `duplicate key "Name" in payer` {
		t.Errorf("Error() = %s", got)
	}
	// Deep nesting costs a slice, not the stack.
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	if err := CheckDuplicateKeys([]byte(deep)); err != nil {
		t.Errorf("deep document: %v", err)
	}
}

// keyCounts reads data token by token and counts object keys: all of them,
// and the distinct ones per object (exact spelling) and folded as
// encoding/json folds struct field names. ok is false when data is not
// exactly one JSON value.
func keyCounts(data []byte) (total, distinct, folded int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	type obj struct {
		exact, fold map[string]bool
		wantKey     bool
	}
	var stack []*obj
	for started := false; !started || len(stack) > 0; started = true {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, 0, false
		}
		if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].wantKey {
			if d, isDelim := tok.(json.Delim); isDelim && d == '}' {
				stack = stack[:n-1]
				if m := len(stack); m > 0 && stack[m-1] != nil {
					stack[m-1].wantKey = true
				}
				continue
			}
			k := tok.(string)
			total++
			if !stack[n-1].exact[k] {
				distinct++
				stack[n-1].exact[k] = true
			}
			if !stack[n-1].fold[foldKey(k)] {
				folded++
				stack[n-1].fold[foldKey(k)] = true
			}
			stack[n-1].wantKey = false
			continue
		}
		d, isDelim := tok.(json.Delim)
		switch {
		case isDelim && d == '{':
			stack = append(stack, &obj{exact: map[string]bool{}, fold: map[string]bool{}, wantKey: true})
			continue
		case isDelim && d == '[':
			stack = append(stack, nil)
			continue
		case isDelim && d == ']':
			stack = stack[:len(stack)-1]
		}
		if m := len(stack); m > 0 && stack[m-1] != nil {
			stack[m-1].wantKey = true
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return 0, 0, 0, false
	}
	return total, distinct, folded, true
}

// FuzzDuplicateKeys: CheckDuplicateKeys never panics; it refuses every
// document that is not exactly one JSON value; on one that is, it reports a
// duplicate exactly when some object has two keys encoding/json would fold
// together, and a document re-encoded from what encoding/json decoded (maps
// keep one value per key) always passes.
func FuzzDuplicateKeys(f *testing.F) {
	for _, s := range []string{
		`{"amount":"1","amount":"2"}`, `{"a":{"b":1,"B":2}}`, `[{"a":1},{"a":1}]`, `{"k":1,"\u212a":2}`,
		`{"a":[1,2,{"c":[{"d":1,"d":2}]}]}`, `{"a":1} {}`, `{"a":`, `"x"`, `[]`, `{}`, `{"ſ":1,"s":2}`, `{"a":1,"b":{"a":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckDuplicateKeys(data)
		var dup *DuplicateKeyError
		isDup := errors.As(err, &dup)
		total, _, folded, ok := keyCounts(data)
		valid := json.Valid(data)
		switch {
		case !valid:
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			return
		case !ok:
			t.Fatalf("json.Valid but the token reader failed on %q", data)
		case total != folded && !isDup:
			t.Fatalf("%q has keys that fold together (%d keys, %d distinct when folded) but got %v", data, total, folded, err)
		case total == folded && err != nil:
			t.Fatalf("%q has no duplicate but got %v", data, err)
		}
		if isDup && dup.Key == "" && total == 0 {
			t.Fatalf("a duplicate reported in a document without keys: %v", err)
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		again, merr := json.Marshal(v)
		if merr != nil {
			return
		}
		// Decoded maps hold one value per exact key; two keys that differ
		// only in case survive, and are still a duplicate for a struct.
		_, distinct2, folded2, _ := keyCounts(again)
		if cerr := CheckDuplicateKeys(again); (cerr == nil) != (distinct2 == folded2) {
			t.Fatalf("re-encoded %s: %v (distinct %d, folded %d)", again, cerr, distinct2, folded2)
		}
	})
}
