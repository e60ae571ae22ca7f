package params

import (
	"net/url"
	"strings"

	"github.com/tenderhq/tender"
)

// ParseForm parses an application/x-www-form-urlencoded string (a body or
// a raw URL query) written in the bracket notation of Stripe's SDKs:
//
//	amount=1000                       scalar
//	metadata[order_id]=6735           object
//	expand[]=customer&expand[]=charges array, in order of appearance
//	items[0][price]=p&items[1][price]=q object keyed "0", "1": see below
//
// A bracket component made only of digits, such as the 0 in items[0], is
// ambiguous: stripe-go writes arrays that way, but "0" is also a valid
// metadata key. Only the destination can tell, so ParseForm does not
// decide: digits are kept as an ordinary string key of a map[string]any,
// exactly like any other name, and items[0][price]=p parses to
//
//	Values{"items": map[string]any{"0": map[string]any{"price": "p"}}}
//
// Decode reads such a map as an array when the destination field is a
// slice (see Decode for the index rules) and as keys otherwise. Only [] makes
// a []any at parse time. Code that walks Values itself must therefore expect
// digit-keyed maps where a client meant an array.
//
// Names and values are URL-decoded before brackets are read, so
// a%5Bb%5D=1 (how Go's url package encodes a[b]) means a[b]=1, and '+' is a
// space. Every value is a string; Decode converts them.
func ParseForm(s string) (Values, error) {
	v, _, err := parseForm(s)
	return v, err
}

// segKind is what one bracket component of a name addresses.
type segKind uint8

const (
	segName   segKind = iota // the base name, or [key], including [0]
	segAppend                // [] — only as the last component
)

type segment struct {
	kind segKind
	name string
}

// parseForm also returns the number of values, so that FromRequest can
// apply MaxLeaves to the query and the body together.
func parseForm(s string) (Values, int, error) {
	root := map[string]any{}
	segs := make([]segment, 0, MaxDepth)
	leaves := 0
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue // "a=1&&b=2" and a trailing '&' are harmless
		}
		leaves++
		if leaves > MaxLeaves {
			return nil, 0, errTooManyParams()
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, 0, tender.InvalidRequest(tender.CodeParameterInvalid,
				"Invalid URL encoding in parameter name %s.", clip(rawKey, 40))
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, 0, tender.InvalidParam(tender.CodeParameterInvalid, paramName(key),
				"Invalid URL encoding in the value of %s.", paramName(key))
		}
		segs, err = parseKey(key, segs[:0])
		if err != nil {
			return nil, 0, err
		}
		if err := insert(root, segs, val); err != nil {
			return nil, 0, err
		}
	}
	return Values(root), leaves, nil
}

// parseKey splits a decoded name such as items[0][price] into components,
// enforcing the syntax and the depth and length limits. Index rules are
// Decode's business, since only it knows whether [0] is an index.
func parseKey(key string, segs []segment) ([]segment, error) {
	malformed := func(why string) error {
		return tender.InvalidParam(tender.CodeParameterInvalid, paramName(key),
			"Invalid parameter name %s: %s.", paramName(key), why)
	}
	if key == "" {
		return nil, tender.InvalidRequest(tender.CodeParameterInvalid,
			"Invalid parameter: a parameter name cannot be empty.")
	}
	base, rest := key, ""
	if i := strings.IndexAny(key, "[]"); i >= 0 {
		base, rest = key[:i], key[i:]
	}
	if base == "" {
		return nil, malformed("it must start with a name")
	}
	if err := checkName(key, base); err != nil {
		return nil, err
	}
	segs = append(segs, segment{kind: segName, name: base})
	for rest != "" {
		switch rest[0] {
		case ']':
			return nil, malformed("unbalanced brackets")
		case '[':
		default:
			return nil, malformed("unexpected text after ']'")
		}
		end := strings.IndexAny(rest[1:], "[]")
		if end < 0 || rest[1+end] != ']' {
			return nil, malformed("unbalanced brackets")
		}
		inner := rest[1 : 1+end]
		rest = rest[2+end:]
		if len(segs) == MaxDepth {
			return nil, errTooDeep(key)
		}
		switch {
		case inner == "":
			if rest != "" {
				return nil, malformed("[] may only appear at the end; use indices like items[0][price] for arrays of objects")
			}
			segs = append(segs, segment{kind: segAppend})
		default:
			if err := checkName(key, inner); err != nil {
				return nil, err
			}
			segs = append(segs, segment{kind: segName, name: inner})
		}
	}
	return segs, nil
}

// checkName applies the per-component rules shared with JSON keys.
func checkName(key, name string) error {
	if len(name) > MaxKeyLen {
		return tender.InvalidParam(tender.CodeParameterInvalid, paramName(key),
			"Parameter name %s is too long: each part may be at most %d bytes.", paramName(key), MaxKeyLen)
	}
	if !validText(name) {
		return tender.InvalidParam(tender.CodeParameterInvalid, paramName(key),
			"Invalid parameter name %s: names must be valid UTF-8 without NUL bytes.", paramName(key))
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// insert stores one pair. The container at each level is decided by the
// component that follows it (a name, digits included, makes an object, []
// an appended array); finding a different kind there is a conflict, because
// either reading would drop part of what the client sent.
func insert(root map[string]any, segs []segment, val string) error {
	parent := root
	for i, seg := range segs {
		cur, exists := parent[seg.name]
		if i == len(segs)-1 {
			if !exists {
				parent[seg.name] = val
				return nil
			}
			if _, ok := cur.(string); ok {
				return errGivenTwice(render(segs[:i+1]))
			}
			return errMixed(render(segs[:i+1]), describe(cur), "a single value")
		}
		next := segs[i+1]
		switch next.kind {
		case segName:
			m, ok := cur.(map[string]any)
			if !exists {
				m = map[string]any{}
				parent[seg.name] = m
			} else if !ok {
				want := "an object"
				if isDigits(next.name) {
					want = describeIndexed
				}
				return errMixed(render(segs[:i+1]), describe(cur), want)
			}
			parent = m
		case segAppend:
			a, ok := cur.([]any)
			if exists && !ok {
				return errMixed(render(segs[:i+1]), describe(cur), describeAppended)
			}
			parent[seg.name] = append(a, val)
			return nil // parseKey guarantees [] is last
		}
	}
	return nil
}

// render turns components back into the bracket path clients wrote.
func render(segs []segment) string {
	var b strings.Builder
	for i, s := range segs {
		switch {
		case i == 0:
			b.WriteString(s.name)
		case s.kind == segName:
			b.WriteString("[" + s.name + "]")
		default:
			b.WriteString("[]")
		}
	}
	return b.String()
}

// How conflict messages name the notations a client can use for a node.
const (
	describeIndexed  = "an indexed array (like items[0])"
	describeAppended = "an array (like expand[])"
)

func errMixed(path, had, want string) error {
	return tender.InvalidParam(tender.CodeParameterInvalid, paramName(path),
		"Parameter %s is used both as %s and as %s.", paramName(path), had, want)
}

// describe names the notation that built node. A map whose keys are all
// digits was written as items[0] and is described that way, although
// Decode may still read it as an object.
func describe(node any) string {
	switch n := node.(type) {
	case string:
		return "a single value"
	case map[string]any:
		if digitKeys(n) == len(n) && len(n) > 0 {
			return describeIndexed
		}
		return "an object"
	default:
		return describeAppended
	}
}

// digitKeys counts the keys of obj made only of digits, as indices are.
func digitKeys(obj map[string]any) int {
	n := 0
	for k := range obj {
		if isDigits(k) {
			n++
		}
	}
	return n
}
