package contract

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tenderhq/tender"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Validate checks that obj conforms to Stripe's schema
// components.schemas[name] ("payment_intent", "charge", "refund",
// "customer", "payment_method", "event", "error", …), and fails the test
// with every violation, each naming its JSON path.
//
// obj is raw JSON ([]byte, json.RawMessage or string) or any value that
// encodes to JSON (a decoded map, a view struct). The fields Tender adds,
// tender.Extensions, are removed first from every object of a kind listed
// there: the object itself and nested ones, such as an expanded
// latest_charge inside a payment intent. Any other field Stripe's schema
// does not declare is a violation.
//
// Stripe's "error" schema is the whole error body, {"error": {...}}; its
// inner object is "api_errors".
func Validate(t testing.TB, name string, obj any) {
	t.Helper()
	s := mustLoad(t)
	sc := s.closed[name]
	if sc == nil {
		t.Fatalf("contract: Stripe's spec has no schema %q", name)
	}
	s.report(t, name, sc, obj)
}

// ValidateList checks a list object, {"object": "list", "data": [...],
// "has_more": …, "url": …}, and each of its items against name, as Validate
// does. The list is held to the schema Stripe gives the answer of the
// endpoint its url names (GET /v1/charges, GET
// /v1/customers/{customer}/payment_methods); a url that names no endpoint
// listing that kind is held to the kind's top-level list, and so fails.
// A kind Stripe lists nowhere gets the envelope all Stripe lists share.
func ValidateList(t testing.TB, name string, obj any) {
	t.Helper()
	s := mustLoad(t)
	item := s.closed[name]
	if item == nil {
		t.Fatalf("contract: Stripe's spec has no schema %q", name)
	}
	s.report(t, "list of "+name, s.listFor(name, item, obj), obj)
}

// listFor picks the list schema for a list of name; see ValidateList.
func (s *stripeSpec) listFor(name string, item *openapi3.Schema, obj any) *openapi3.Schema {
	endpoints := s.lists[name]
	if len(endpoints) == 0 {
		return genericList(item)
	}
	if v, err := decode(obj); err == nil {
		if m, ok := v.(map[string]any); ok {
			if url, ok := m["url"].(string); ok {
				for _, e := range endpoints {
					if e.match.MatchString(url) {
						return e.schema
					}
				}
			}
		}
	}
	return endpoints[0].schema
}

// genericList is the envelope all of Stripe's lists share, closed like the
// rest, with items of one kind.
func genericList(item *openapi3.Schema) *openapi3.Schema {
	sc := openapi3.NewObjectSchema().
		WithProperty("object", openapi3.NewStringSchema().WithEnum("list")).
		WithPropertyRef("data", &openapi3.SchemaRef{Value: openapi3.NewArraySchema().WithItems(item)}).
		WithProperty("has_more", openapi3.NewBoolSchema()).
		WithProperty("url", openapi3.NewStringSchema().WithMaxLength(5000)).
		WithoutAdditionalProperties()
	sc.Required = []string{"data", "has_more", "object", "url"}
	return sc
}

func (s *stripeSpec) report(t testing.TB, what string, sc *openapi3.Schema, obj any) {
	t.Helper()
	if err := s.schemaValid(what, sc); err != nil {
		t.Fatalf("contract: %v", err)
	}
	violations, err := s.check(sc, obj)
	if err != nil {
		t.Fatalf("contract: %s: %v", what, err)
	}
	if len(violations) == 0 {
		return
	}
	plural := "s"
	if len(violations) == 1 {
		plural = ""
	}
	t.Errorf("%s%s does not conform to Stripe's schema (%d violation%s):\n\t%s",
		what, describeObject(obj), len(violations), plural, strings.Join(violations, "\n\t"))
}

// describeObject names an object by its id, when it has one, so that a
// failure says which of a flow's objects broke the contract.
func describeObject(obj any) string {
	v, err := decode(obj)
	if m, ok := v.(map[string]any); ok && err == nil {
		if id, ok := m["id"].(string); ok {
			return " " + id
		}
	}
	return ""
}

// check returns the violations of sc by obj, after removing Tender's
// extension fields.
func (s *stripeSpec) check(sc *openapi3.Schema, obj any) ([]string, error) {
	return s.checkWith(sc, obj, s.extensions)
}

// checkWith is check with the extensions given, by closed kind schema.
func (s *stripeSpec) checkWith(sc *openapi3.Schema, obj any, ext map[*openapi3.Schema][]string) ([]string, error) {
	v, err := decode(obj)
	if err != nil {
		return nil, err
	}
	stripExtensions(v, sc, ext, nil)
	allowErrorTypes(v)
	var out []violation
	s.describe(sc.VisitJSON(v, visitOptions...), v, nil, &out)
	return summarize(out), nil
}

// violation is one way a value breaks its schema.
type violation struct {
	path string // $.data[3].amount
	msg  string
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// summarize renders violations one a line, in path order (data[2] before
// data[10]), and folds the same violation at the same place in several items
// of an array into one line: a list of forty events that share one fault
// reads as one fault.
func summarize(vs []violation) []string {
	slices.SortFunc(vs, func(a, b violation) int {
		if c := naturalCompare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.msg, b.msg)
	})
	vs = slices.Compact(vs)
	type group struct {
		path  string
		msg   string
		paths []string
	}
	var groups []*group
	byKey := map[[2]string]*group{}
	for _, v := range vs {
		key := [2]string{indexRE.ReplaceAllString(v.path, "[*]"), v.msg}
		g := byKey[key]
		if g == nil {
			g = &group{path: key[0], msg: v.msg}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.paths = append(g.paths, v.path)
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if len(g.paths) == 1 {
			out = append(out, g.paths[0]+": "+g.msg)
			continue
		}
		at := g.paths
		more := ""
		if len(at) > 3 {
			at, more = at[:3], ", …"
		}
		out = append(out, fmt.Sprintf("%s: %s (%d times: %s%s)", g.path, g.msg, len(g.paths), strings.Join(at, ", "), more))
	}
	return out
}

// naturalCompare orders strings with their runs of digits compared as
// numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// decode turns obj into a fresh JSON value, so that removing extension
// fields never touches the caller's data. Numbers stay json.Number, so an
// integer field is judged on the digits Tender sent.
func decode(obj any) (any, error) {
	var raw []byte
	switch o := obj.(type) {
	case []byte:
		raw = o
	case json.RawMessage:
		raw = o
	case string:
		// An API object is never a bare JSON string, so a string is JSON text.
		raw = []byte(o)
	default:
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("encode %T: %w", obj, err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not JSON: data after the value")
	}
	return v, nil
}

// stripExtensions removes Tender's extension fields from v wherever the
// schema applied to it is one of the kinds tender.Extensions lists. It
// follows the schema, not the data, so a metadata key that happens to be
// called "provider" is left alone; seen guards against anyOf cycles on one
// value.
func stripExtensions(v any, sc *openapi3.Schema, ext map[*openapi3.Schema][]string, seen []*openapi3.Schema) {
	if sc == nil || slices.Contains(seen, sc) {
		return
	}
	seen = append(seen, sc)
	switch v := v.(type) {
	case map[string]any:
		if fields := ext[sc]; fields != nil && isKind(v, sc) {
			for _, f := range fields {
				delete(v, f)
			}
		}
		for k, pv := range v {
			if p := sc.Properties[k]; p != nil {
				stripExtensions(pv, p.Value, ext, nil)
			} else if ap := sc.AdditionalProperties.Schema; ap != nil {
				stripExtensions(pv, ap.Value, ext, nil)
			}
		}
	case []any:
		if sc.Items != nil {
			for _, item := range v {
				stripExtensions(item, sc.Items.Value, ext, nil)
			}
		}
	}
	for _, branch := range slices.Concat(sc.AnyOf, sc.OneOf, sc.AllOf) {
		stripExtensions(v, branch.Value, ext, seen)
	}
}

// isKind tells whether an object under a kind's schema is of that kind:
// in an anyOf of several kinds (a source that is a card or a bank account)
// only the object's own kind may lose fields.
func isKind(v map[string]any, sc *openapi3.Schema) bool {
	kind, ok := v["object"].(string)
	if !ok {
		return true // no object field: the schema is all we know
	}
	obj := sc.Properties["object"]
	return obj == nil || obj.Value == nil || len(obj.Value.Enum) == 0 || slices.Contains(obj.Value.Enum, any(kind))
}

// visitOptions are kin-openapi's settings for a check: every violation, not
// the first; the value is a response; and Stripe's own formats.
var visitOptions = []openapi3.SchemaValidationOption{
	openapi3.MultiErrors(),
	openapi3.VisitAsResponse(),
	openapi3.WithStringFormatValidator("currency", openapi3.NewRegexpFormatValidator(`^[a-z]{3}$`)),
	openapi3.WithStringFormatValidator("decimal", openapi3.NewRegexpFormatValidator(`^-?[0-9]+(\.[0-9]+)?$`)),
	// Seconds since the epoch. The upper bound (the year 5138) is there to
	// catch milliseconds, which are a thousand times larger today.
	openapi3.WithIntegerFormatValidator("unix-time", openapi3.NewRangeFormatValidator[int64](0, 1e11)),
}

// describe appends to out one line per violation in err, found in root;
// prefix is the path of the value err is about.
func (s *stripeSpec) describe(err error, root any, prefix []string, out *[]violation) {
	switch e := err.(type) {
	case nil:
	case openapi3.MultiError:
		for _, err := range e {
			s.describe(err, root, prefix, out)
		}
	case *openapi3.SchemaError:
		path := slices.Concat(prefix, e.JSONPointer())
		if (e.SchemaField == "anyOf" || e.SchemaField == "oneOf") && s.drill(e, root, path, out) {
			return
		}
		msg := e.Reason
		switch e.SchemaField {
		case "required":
			msg = "missing, and Stripe's schema requires it"
		case "properties":
			if k, ok := unsupportedKey(e.Reason); ok {
				path = append(path, k)
				msg = "not a field of Stripe's object; if Tender adds it on purpose, list it in tender.Extensions"
			}
		case "nullable":
			msg = "null, which Stripe's schema does not allow here"
		default:
			if msg == "" {
				msg = fmt.Sprintf("does not satisfy %q", e.SchemaField)
			}
			msg += got(e.Value)
		}
		*out = append(*out, violation{jsonPath(root, path), msg})
	default:
		*out = append(*out, violation{jsonPath(root, prefix), err.Error()})
	}
}

var unsupportedRE = regexp.MustCompile(`^property ("(?:[^"\\]|\\.)*") is unsupported$`)

// unsupportedKey extracts the field name from kin-openapi's reason for a
// field a closed object does not declare.
func unsupportedKey(reason string) (string, bool) {
	m := unsupportedRE.FindStringSubmatch(reason)
	if m == nil {
		return "", false
	}
	k, err := strconv.Unquote(m[1])
	return k, err == nil
}

// drill explains a value that matched no branch of an anyOf by checking it
// again against the branch it was meant for; kin-openapi reports only that
// nothing matched.
func (s *stripeSpec) drill(se *openapi3.SchemaError, root any, path []string, out *[]violation) bool {
	branches := se.Schema.AnyOf
	if se.SchemaField == "oneOf" {
		branches = se.Schema.OneOf
	}
	if se.Value == nil {
		*out = append(*out, violation{jsonPath(root, path), "null, which Stripe's schema does not allow here"})
		return true
	}
	var candidates []*openapi3.Schema
	for _, b := range branches {
		if b.Value != nil && typeFits(b.Value, se.Value) {
			candidates = append(candidates, b.Value)
		}
	}
	if len(candidates) == 0 {
		var types []string
		for _, b := range branches {
			if b.Value != nil && b.Value.Type != nil {
				types = append(types, b.Value.Type.Slice()...)
			}
		}
		slices.Sort(types)
		*out = append(*out, violation{jsonPath(root, path), fmt.Sprintf("a %s, where Stripe's schema allows %s",
			jsonType(se.Value), strings.Join(slices.Compact(types), " or "))})
		return true
	}
	// An object says which kind it is; otherwise the branch it comes
	// closest to (fewest violations) is the one it was meant to be.
	var best []violation
	for _, c := range candidates {
		var got []violation
		s.describe(c.VisitJSON(se.Value, visitOptions...), root, path, &got)
		if len(got) == 0 {
			return false // it matches after all: let kin-openapi's report stand
		}
		if isOfKind(c, se.Value) {
			best = got
			break
		}
		if best == nil || len(got) < len(best) {
			best = got
		}
	}
	*out = append(*out, best...)
	return true
}

// isOfKind tells whether v is an object whose "object" field is the one
// value sc's "object" property allows.
func isOfKind(sc *openapi3.Schema, v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	kind, ok := m["object"].(string)
	obj := sc.Properties["object"]
	return ok && obj != nil && obj.Value != nil && slices.Contains(obj.Value.Enum, any(kind))
}

// typeFits tells whether v's JSON type is one sc allows.
func typeFits(sc *openapi3.Schema, v any) bool {
	if sc.Type == nil || len(*sc.Type) == 0 {
		return true
	}
	switch v.(type) {
	case map[string]any:
		return sc.Type.Permits(openapi3.TypeObject)
	case []any:
		return sc.Type.Permits(openapi3.TypeArray)
	case string:
		return sc.Type.Permits(openapi3.TypeString)
	case bool:
		return sc.Type.Permits(openapi3.TypeBoolean)
	case json.Number:
		return sc.Type.Permits(openapi3.TypeNumber) || sc.Type.Permits(openapi3.TypeInteger)
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	}
	return "null"
}

// got shows a scalar value beside its violation; objects and arrays would
// drown the line.
func got(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	if len(b) > 80 {
		b = append(b[:77], "..."...)
	}
	return " (got " + string(b) + ")"
}

// jsonPath renders a JSON pointer's segments as $.a.b[0].c, looking at the
// value to tell an array index from an object key that is all digits.
func jsonPath(root any, segs []string) string {
	var b strings.Builder
	b.WriteString("$")
	cur := root
	for _, seg := range segs {
		switch c := cur.(type) {
		case []any:
			b.WriteString("[" + seg + "]")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
		case map[string]any:
			writeKey(&b, seg)
			cur = c[seg]
		default:
			writeKey(&b, seg)
			cur = nil
		}
	}
	return b.String()
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func writeKey(b *strings.Builder, k string) {
	if plainKey.MatchString(k) {
		b.WriteString("." + k)
		return
	}
	b.WriteString("[" + strconv.Quote(k) + "]")
}

// allowErrorTypes accepts the error types Tender adds to Stripe's four
// (tender.ErrorTypeExtensions: seed 003's authentication_error,
// permission_error and rate_limit_error) by validating such an error as the
// invalid_request_error Stripe would send in its place.
func allowErrorTypes(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if inner, ok := m["error"].(map[string]any); ok {
		m = inner
	}
	if typ, ok := m["type"].(string); ok && slices.Contains(tender.ErrorTypeExtensions, typ) {
		m["type"] = string(tender.InvalidRequestError)
	}
}
