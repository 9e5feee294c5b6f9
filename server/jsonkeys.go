package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// ErrDuplicateKey is wrapped by CheckDuplicateKeys' refusal.
var ErrDuplicateKey = errors.New("duplicate key")

// DuplicateKeyError names a key that appears twice in one JSON object, and
// where that object is.
type DuplicateKeyError struct {
	Key  string // the key as its second occurrence spells it
	Path string // the object's place in the document: "" for the top level, "payer", "items[2]"
}

func (e *DuplicateKeyError) Error() string {
	where := "the body"
	if e.Path != "" {
		where = e.Path
	}
	return fmt.Sprintf("duplicate key %s in %s", strconv.Quote(e.Key), where)
}

// Unwrap makes a DuplicateKeyError an ErrDuplicateKey.
func (e *DuplicateKeyError) Unwrap() error { return ErrDuplicateKey }

// CheckDuplicateKeys refuses a JSON document in which an object, at any
// depth, has the same key twice: encoding/json keeps the last value without a
// word, so {"amount":"1","amount":"1000"} would be read as 1000 while a proxy,
// a log or a signature in front of tally reads 1. Keys that differ only in
// case count as the same key, because encoding/json matches struct fields
// without regard to case. It reads the document token by token (no value is
// kept) and returns a *DuplicateKeyError, or the syntax error of a document
// that is not exactly one JSON value.
func CheckDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// One frame per open object or array; objects hold the keys seen so far.
	type frame struct {
		keys  map[string]struct{} // nil for an array
		path  string              // where this container is
		key   string              // the key whose value comes next (objects)
		index int                 // the next element's index (arrays)
		inKey bool                // an object expecting a key
	}
	var stack []*frame
	// child is the path of the value about to be read in the innermost container.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.keys == nil {
			return fmt.Sprintf("%s[%d]", top.path, top.index)
		}
		if top.path == "" {
			return top.key
		}
		return top.path + "." + top.key
	}
	// valueDone moves the innermost container past one value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.keys == nil {
			top.index++
		} else {
			top.inKey = true
		}
	}
	for started := false; !started || len(stack) > 0; started = true {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.keys != nil && top.inKey {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					valueDone()
					continue
				}
				key, _ := tok.(string) // the decoder gives only a string here
				folded := foldKey(key)
				if _, dup := top.keys[folded]; dup {
					return &DuplicateKeyError{Key: key, Path: top.path}
				}
				top.keys[folded] = struct{}{}
				top.key, top.inKey = key, false
				continue
			}
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{keys: map[string]struct{}{}, path: child(), inKey: true})
		case '[':
			stack = append(stack, &frame{path: child()})
		case ']':
			stack = stack[:len(stack)-1]
			valueDone()
		default: // a scalar
			valueDone()
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return errors.New("trailing data after the JSON value")
		}
		return err
	}
	return nil
}

// foldKey maps keys that encoding/json takes for the same struct field to one
// string, folding as encoding/json does: ASCII letters to upper case, any
// other rune to the smallest rune of its Unicode case-folding set.
func foldKey(k string) string {
	out := make([]byte, 0, len(k))
	for _, r := range k {
		switch {
		case r < utf8.RuneSelf:
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			out = append(out, byte(r))
		default:
			for {
				r2 := unicode.SimpleFold(r)
				if r2 <= r {
					r = r2
					break
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		}
	}
	return string(out)
}

// KeyPath is the duplicated key's full place: "amount", "payer.Name".
func (e *DuplicateKeyError) KeyPath() string {
	if e.Path == "" {
		return e.Key
	}
	return e.Path + "." + e.Key
}
