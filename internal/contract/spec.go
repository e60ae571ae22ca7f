// Package contract checks Tender's API objects against Stripe's own OpenAPI
// description of them, so that "shaped like Stripe's" is a tested claim.
//
// The description is the spec stripe-mock embeds (embedded/openapi/spec3.json
// in the github.com/stripe/stripe-mock module, which go.mod pins as a tool, so
// the version moves only when someone moves it); kin-openapi validates.
//
// Two things make the check a contract rather than a smoke test:
//
//   - Objects are closed. Stripe's schemas leave additionalProperties unset,
//     which JSON Schema reads as "any other field is fine"; here a field that
//     Stripe's schema does not declare is a violation unless Tender declares
//     it in tender.Extensions. That is what keeps Extensions the one complete
//     list of what Tender adds.
//   - A value that matches no branch of an anyOf (an expandable field, id or
//     object) is checked again against the branch it was meant to match, so
//     a report names the field inside the expanded object instead of saying
//     only that nothing matched.
package contract

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tenderhq/tender"
)

// The module that carries the spec, and the spec's place in it.
const (
	specModule = "github.com/stripe/stripe-mock"
	specFile   = "embedded/openapi/spec3.json"
)

// stripeSpec is the loaded spec and what validation derives from it once.
type stripeSpec struct {
	// path is spec3.json's place in the module cache.
	path string
	doc  *openapi3.T
	// closed holds closed copies of components.schemas by name: objects
	// with properties and no additionalProperties accept no other field.
	closed map[string]*openapi3.Schema
	// lists holds, by item schema name, the GET endpoints that answer a
	// list of that kind, top-level ones (GET /v1/charges) first.
	lists map[string][]listEndpoint
	// extensions maps a closed kind schema to the fields Tender adds to it.
	extensions map[*openapi3.Schema][]string
	// schemaErrs caches, by schema, whether it passed openapi3's
	// Validate, which VisitJSON requires of it.
	schemaErrs sync.Map
}

var (
	loadOnce sync.Once
	loaded   *stripeSpec
	errLoad  error
)

// Spec loads (once per test binary) Stripe's OpenAPI spec from the
// stripe-mock module in the module cache and returns it.
//
// The document keeps all of Stripe's components but, of its paths, only the
// GET operations of paths without parameters and of those answering lists,
// where the list schemas are: the rest is three quarters of the file and of
// the time it takes to load, spent again in every test binary, and objects
// do not need it. The returned document is shared: treat it as read-only.
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	return mustLoad(t).doc
}

func mustLoad(t testing.TB) *stripeSpec {
	t.Helper()
	loadOnce.Do(func() { loaded, errLoad = loadSpec() })
	if errLoad != nil {
		t.Fatalf("contract: %v", errLoad)
	}
	return loaded
}

func loadSpec() (*stripeSpec, error) {
	path, err := specPath()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err = trimPaths(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &stripeSpec{path: path, doc: doc, closed: map[string]*openapi3.Schema{}, lists: map[string][]listEndpoint{}}
	c := &closer{memo: map[*openapi3.Schema]*openapi3.Schema{}}
	for name, ref := range doc.Components.Schemas {
		s.closed[name] = c.schema(ref.Value)
	}
	for _, p := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		if name, list := listSchema(doc.Paths.Value(p)); list != nil {
			s.lists[name] = append(s.lists[name], listEndpoint{path: p, match: pathRE(p), schema: c.schema(list)})
		}
	}
	for _, l := range s.lists {
		// Top-level endpoints first: a list whose url matches none is held
		// to its kind's top-level list, and fails on url.
		slices.SortStableFunc(l, func(a, b listEndpoint) int {
			return cmp.Compare(strings.Count(a.path, "{"), strings.Count(b.path, "{"))
		})
	}
	if c.err != nil {
		return nil, c.err
	}
	s.extensions = s.extensionsOf(tender.Extensions)
	return s, nil
}

// extensionsOf keys extension fields by the closed schema of their kind.
// A kind is any schema of Stripe's by name: "payment_intent", or a part of
// one such as "payment_intent_next_action" or "api_errors" (the object
// inside an error). Names Stripe lacks are left out here and reported by
// this package's tests.
func (s *stripeSpec) extensionsOf(m map[string][]string) map[*openapi3.Schema][]string {
	out := map[*openapi3.Schema][]string{}
	for name, fields := range m {
		if sc := s.closed[name]; sc != nil {
			out[sc] = fields
		}
	}
	return out
}

// specPath finds spec3.json in the module cache. `go list -m` answers
// offline from go.mod and the cache; only when the module is not in the
// cache yet does `go mod download` reach the module proxy.
func specPath() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to find %s in the module cache: %w", specModule, err)
	}
	gomod, err := goCmd(goBin, "", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: cannot tell which stripe-mock version go.mod pins")
	}
	root := filepath.Dir(gomod)
	find := func() (string, bool) {
		dir, err := goCmd(goBin, root, "list", "-m", "-f", "{{.Dir}}", specModule)
		if err != nil || dir == "" {
			return "", false
		}
		p := filepath.Join(dir, filepath.FromSlash(specFile))
		_, err = os.Stat(p)
		return p, err == nil
	}
	if p, ok := find(); ok {
		return p, nil
	}
	if _, err := goCmd(goBin, root, "mod", "download", specModule); err != nil {
		return "", err
	}
	if p, ok := find(); ok {
		return p, nil
	}
	return "", fmt.Errorf("%s is not in %s after go mod download", specFile, specModule)
}

func goCmd(goBin, dir string, args ...string) (string, error) {
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// trimPaths keeps, of the spec's paths, the GET operations of paths
// without parameters and of those that answer a list (the customer's
// payment methods); see Spec.
func trimPaths(raw []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["paths"], &paths); err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	kept := map[string]map[string]json.RawMessage{}
	for p, ops := range paths {
		get, ok := ops["get"]
		if !ok {
			continue
		}
		if strings.Contains(p, "{") {
			var op struct {
				Responses map[string]struct {
					Content map[string]struct {
						Schema struct {
							Properties struct {
								Object struct {
									Enum []string `json:"enum"`
								} `json:"object"`
							} `json:"properties"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(get, &op); err != nil {
				return nil, fmt.Errorf("GET %s: %w", p, err)
			}
			if !slices.Equal(op.Responses["200"].Content["application/json"].Schema.Properties.Object.Enum, []string{"list"}) {
				continue
			}
		}
		kept[p] = map[string]json.RawMessage{"get": get}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	top["paths"] = b
	return json.Marshal(top)
}

// listEndpoint is a GET endpoint that answers a list of one kind.
type listEndpoint struct {
	path   string
	match  *regexp.Regexp // the url of a list it answers
	schema *openapi3.Schema
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// pathRE matches the urls of a path template: a parameter is one segment.
func pathRE(path string) *regexp.Regexp {
	parts := paramRE.Split(path, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, "[^/]+") + "$")
}

// listSchema returns the schema of a GET endpoint's answer if it is a list
// of one kind of object, and the kind's name.
func listSchema(item *openapi3.PathItem) (string, *openapi3.Schema) {
	if item == nil || item.Get == nil || item.Get.Responses == nil {
		return "", nil
	}
	resp := item.Get.Responses.Status(200)
	if resp == nil || resp.Value == nil {
		return "", nil
	}
	media := resp.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil || media.Schema.Value == nil {
		return "", nil
	}
	sc := media.Schema.Value
	obj, data := sc.Properties["object"], sc.Properties["data"]
	if obj == nil || data == nil || data.Value.Items == nil || !slices.Equal(obj.Value.Enum, []any{"list"}) {
		return "", nil
	}
	name, ok := strings.CutPrefix(data.Value.Items.Ref, "#/components/schemas/")
	if !ok {
		return "", nil
	}
	return name, sc
}

// closer makes closed copies of schemas, sharing one copy per original so
// that the copied graph keeps the original's cycles (a charge's
// payment_intent expands to a payment intent whose latest_charge expands to
// a charge).
type closer struct {
	memo map[*openapi3.Schema]*openapi3.Schema
	err  error
}

func (c *closer) schema(s *openapi3.Schema) *openapi3.Schema {
	if s == nil {
		return nil
	}
	if cp, ok := c.memo[s]; ok {
		return cp
	}
	cp := new(openapi3.Schema)
	c.memo[s] = cp // before descending: the graph has cycles
	*cp = *s
	if len(s.AllOf) > 0 && c.err == nil {
		// Each part of an allOf sees the whole object, so closing the parts
		// one by one would reject the other parts' fields. Stripe's spec has
		// no allOf today; if it gains one, say so rather than misjudge.
		c.err = fmt.Errorf("schema %q uses allOf, which closing objects does not handle", s.Title)
	}
	cp.AnyOf, cp.OneOf, cp.AllOf = c.refs(s.AnyOf), c.refs(s.OneOf), c.refs(s.AllOf)
	cp.Not, cp.Items = c.ref(s.Not), c.ref(s.Items)
	if s.Properties != nil {
		cp.Properties = make(openapi3.Schemas, len(s.Properties))
		for k, p := range s.Properties {
			cp.Properties[k] = c.ref(p)
		}
	}
	cp.AdditionalProperties.Schema = c.ref(s.AdditionalProperties.Schema)
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		closed := false
		cp.AdditionalProperties.Has = &closed
	}
	return cp
}

func (c *closer) ref(r *openapi3.SchemaRef) *openapi3.SchemaRef {
	if r == nil {
		return nil
	}
	return &openapi3.SchemaRef{Ref: r.Ref, Value: c.schema(r.Value)}
}

func (c *closer) refs(rs openapi3.SchemaRefs) openapi3.SchemaRefs {
	if rs == nil {
		return nil
	}
	out := make(openapi3.SchemaRefs, len(rs))
	for i, r := range rs {
		out[i] = c.ref(r)
	}
	return out
}

// schemaValid reports whether a schema passes openapi3's Validate, once per
// schema: VisitJSON's behaviour on an invalid schema is undefined.
// Validating the one schema checks all it reaches, a fraction of the time
// the whole document takes. The closed copy differs from Stripe's schema
// only in additionalProperties, so checking it checks Stripe's.
func (s *stripeSpec) schemaValid(name string, sc *openapi3.Schema) error {
	if v, ok := s.schemaErrs.Load(sc); ok {
		err, _ := v.(error)
		return err
	}
	err := sc.Validate(context.Background())
	if err != nil {
		err = fmt.Errorf("Stripe's schema of %s is not a valid OpenAPI schema: %w", name, err)
	}
	v, _ := s.schemaErrs.LoadOrStore(sc, err)
	err, _ = v.(error)
	return err
}
