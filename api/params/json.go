package params

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/tenderhq/tender"
)

// ParseJSON parses a request body that must be one JSON object. Numbers are
// kept as json.Number so that integers beyond 2^53 are not rounded before
// Decode checks them. A key repeated within one object is an error rather
// than last-one-wins, for the same reason a repeated form parameter is.
// Nothing may follow the object but whitespace.
func ParseJSON(b []byte) (Values, error) {
	v, _, err := parseJSON(b)
	return v, err
}

// jsonParser walks the token stream rather than unmarshaling into any, so
// that depth and size limits stop a hostile body early and duplicate keys
// can be seen at all (encoding/json silently keeps the last one).
type jsonParser struct {
	dec    *json.Decoder
	leaves int
	path   []string // keys and indices from the top, for limits and errors
}

func parseJSON(b []byte) (Values, int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	p := &jsonParser{dec: dec}
	tok, err := dec.Token()
	if err != nil {
		return nil, 0, errSyntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, 0, tender.InvalidRequest(tender.CodeParameterInvalid,
			"Invalid JSON body: the request body must be a JSON object.")
	}
	obj, err := p.object()
	if err != nil {
		return nil, 0, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, tender.InvalidRequest(tender.CodeParameterInvalid,
			"Invalid JSON body: unexpected data after the top-level object.")
	}
	return Values(obj), p.leaves, nil
}

func errSyntax(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return tender.InvalidRequest(tender.CodeParameterInvalid, "Invalid JSON body: unexpected end of input.")
	}
	return tender.InvalidRequest(tender.CodeParameterInvalid, "Invalid JSON body: %s.", clip(err.Error(), 120))
}

// pathString renders the current position in bracket notation.
func (p *jsonParser) pathString() string {
	if len(p.path) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(p.path[0])
	for _, k := range p.path[1:] {
		b.WriteString("[" + k + "]")
	}
	return b.String()
}

// object parses the members of an object whose '{' was just read.
func (p *jsonParser) object() (map[string]any, error) {
	obj := map[string]any{}
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, errSyntax(err)
		}
		key, ok := tok.(string)
		if !ok { // encoding/json reports this itself, but do not rely on it
			return nil, tender.InvalidRequest(tender.CodeParameterInvalid, "Invalid JSON body: object keys must be strings.")
		}
		p.path = append(p.path, key)
		if key == "" {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, paramName(p.pathString()),
				"Invalid parameter name %s: names cannot be empty.", paramName(p.pathString()))
		}
		if err := checkName(p.pathString(), key); err != nil {
			return nil, err
		}
		if _, dup := obj[key]; dup {
			return nil, errGivenTwice(p.pathString())
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		obj[key] = v
		p.path = p.path[:len(p.path)-1]
	}
	if err := p.close(); err != nil {
		return nil, err
	}
	if len(obj) == 0 && len(p.path) > 0 {
		if err := p.countLeaf(); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// array parses the elements of an array whose '[' was just read.
func (p *jsonParser) array() ([]any, error) {
	arr := []any{}
	for p.dec.More() {
		p.path = append(p.path, strconv.Itoa(len(arr)))
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.path = p.path[:len(p.path)-1]
	}
	if err := p.close(); err != nil {
		return nil, err
	}
	if len(arr) == 0 {
		if err := p.countLeaf(); err != nil {
			return nil, err
		}
	}
	return arr, nil
}

// close consumes the ']' or '}' that More announced.
func (p *jsonParser) close() error {
	if _, err := p.dec.Token(); err != nil {
		return errSyntax(err)
	}
	return nil
}

// countLeaf counts scalars and empty containers: both are values a client
// chose to send, and counting empty containers too keeps [{},{},…] bounded.
func (p *jsonParser) countLeaf() error {
	p.leaves++
	if p.leaves > MaxLeaves {
		return errTooManyParams()
	}
	return nil
}

// value parses the value at p.path, which the caller has already extended.
func (p *jsonParser) value() (any, error) {
	if len(p.path) > MaxDepth {
		return nil, errTooDeep(p.pathString())
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, errSyntax(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return p.object()
		case '[':
			return p.array()
		}
		return nil, tender.InvalidRequest(tender.CodeParameterInvalid, "Invalid JSON body: unexpected %q.", string(t))
	case string, json.Number, bool, nil:
		if err := p.countLeaf(); err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, tender.InvalidRequest(tender.CodeParameterInvalid, "Invalid JSON body: unexpected token.")
}
