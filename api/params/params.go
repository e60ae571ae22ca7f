// Package params turns an HTTP request's parameters into Tender's request
// structs.
//
// Stripe's SDKs send application/x-www-form-urlencoded bodies with bracket
// notation (card[number]=…, expand[]=…, items[0][price]=…), other clients
// send JSON, and GET requests carry the same notation in the query string.
// All three are parsed into one neutral tree, Values, so that a handler
// decodes one struct whatever the client, and a form request and its JSON
// twin produce identical structs.
//
// Parsing is strict on purpose: a parameter given twice, a name that is
// both a value and an object, an array with a gap and any parameter the
// handler does not declare are errors naming the parameter, because silently
// picking one reading is how a payment gets created with a different amount
// or metadata than the client meant. Sizes are bounded (see the limits
// below) so that a hostile request costs a bounded amount of work.
//
// Every error a client can cause is a *tender.Error of type
// invalid_request_error; programming mistakes in a destination struct are
// reported as tender.Internal errors.
package params

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/tenderhq/tender"
)

// Limits on one request's parameters. They are far above what any Stripe
// request needs and low enough that parsing cost stays small and no input
// can drive recursion or allocation out of bounds.
const (
	// MaxLeaves is the most values one request may carry (form pairs, or
	// JSON scalars and empty containers). Query and body count together.
	MaxLeaves = 1000
	// MaxDepth is the most path components a value may sit under:
	// a[b][c][d][e][f][g][h] (8 components) is allowed, one more is not.
	// In JSON a value directly in the top-level object is at depth 1.
	MaxDepth = 8
	// MaxKeyLen is the longest a single name component may be, in bytes.
	MaxKeyLen = 256
	// MaxIndex is the largest array index Decode accepts in items[N]
	// notation when the destination is a slice. Other destinations take
	// items[N] as an ordinary key, to which only MaxKeyLen applies.
	MaxIndex = 999
)

// Codes this package uses that error.go does not define.
const (
	// codeTooManyParams is Stripe's code for a request over a count limit.
	codeTooManyParams = "parameters_exceeded_max"
)

// Values is a decoded parameter tree. Leaves are string (every form value;
// JSON strings), json.Number, bool, or nil (JSON null); inner nodes are
// map[string]any and []any. Form and JSON input with the same meaning
// produce the same tree except that JSON numbers and booleans keep their
// JSON types, which Decode accepts wherever it accepts their string forms.
//
// A []any comes only from a JSON array or form [] notation. Form indices
// (items[0][price]=p) are not decided at parse time, because "0" is just as
// good a metadata key: they give a map[string]any keyed by the digits as
// written ({"items": {"0": {"price": "p"}}}), and Decode reads that map as an
// array only when it fills a slice. Code reading Values directly must do the
// same if it wants arrays.
type Values map[string]any

// asObject accepts both Values and plain maps, because the top of a tree is
// a Values and callers may build nested Values by hand.
func asObject(raw any) (map[string]any, bool) {
	switch m := raw.(type) {
	case map[string]any:
		return m, true
	case Values:
		return m, true
	}
	return nil, false
}

// join builds the bracket path that errors name, e.g. card[billing][name].
func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "[" + key + "]"
}

// validText reports whether s may enter the system: invalid UTF-8 and NUL
// bytes are refused because the database and JSON responses cannot carry
// them faithfully.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// clip makes user input safe and short enough to quote in an error message,
// so that a megabyte value cannot be echoed back or break the response.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

// quote renders any tree node for an error message, at most 40 characters.
func quote(raw any) string {
	switch v := raw.(type) {
	case string:
		return clip(v, 40)
	case json.Number:
		return clip(string(v), 40)
	case nil:
		return "null"
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return "(unprintable value)"
	}
	return clip(string(b), 40)
}

// paramName cleans a user-supplied parameter name for use as an error's
// param: names can be up to MaxDepth*MaxKeyLen bytes and may hold anything.
func paramName(s string) string { return clip(s, 100) }

func errTooManyParams() *tender.Error {
	return tender.InvalidRequest(codeTooManyParams,
		"Too many parameters: a request may contain at most %d values.", MaxLeaves)
}

func errTooDeep(path string) *tender.Error {
	return tender.InvalidParam(tender.CodeParameterInvalid, paramName(path),
		"Parameter %s is nested too deeply; at most %d levels are allowed.", paramName(path), MaxDepth)
}

func errGivenTwice(path string) *tender.Error {
	return tender.InvalidParam(tender.CodeParameterInvalid, paramName(path),
		"Parameter %s was given more than once.", paramName(path))
}
