package contract

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenderhq/tender"
)

// The kinds Tender serves; each must have a schema and a list endpoint in
// Stripe's spec.
var kinds = []string{"payment_intent", "charge", "refund", "customer", "payment_method", "event"}

func TestSpecHasTendersKinds(t *testing.T) {
	doc := Spec(t)
	s := mustLoad(t)
	for _, k := range append(slices.Clone(kinds), "error", "api_errors") {
		if doc.Components.Schemas[k] == nil || s.closed[k] == nil {
			t.Errorf("no schema %q", k)
		}
	}
	for _, k := range kinds {
		if l := s.lists[k]; len(l) == 0 || strings.Contains(l[0].path, "{") {
			t.Errorf("no top-level list endpoint for %q", k)
		}
	}
	if p := s.lists["charge"][0].schema.Properties["url"].Value.Pattern; p != "^/v1/charges" {
		t.Errorf("charge list url pattern %q", p)
	}
	var pm []string
	for _, e := range s.lists["payment_method"] {
		pm = append(pm, e.path)
	}
	if !slices.Contains(pm, "/v1/customers/{customer}/payment_methods") {
		t.Errorf("payment method lists %q", pm)
	}
}

// Extensions are fields Stripe does not have: a "Tender extension" that is
// one of Stripe's fields would be stripped before validation and so never
// checked.
func TestExtensionsAreNotStripeFields(t *testing.T) {
	doc := Spec(t)
	for _, kind := range slices.Sorted(maps.Keys(tender.Extensions)) {
		ref := doc.Components.Schemas[kind]
		if ref == nil {
			t.Errorf("tender.Extensions names %q, which is not a schema in Stripe's spec", kind)
			continue
		}
		for _, f := range tender.Extensions[kind] {
			if ref.Value.Properties[f] != nil {
				t.Errorf("tender.Extensions[%q] lists %q, which is Stripe's own field", kind, f)
			}
		}
	}
}

// Stripe's own example objects, from stripe-mock's fixtures, conform:
// closing the schemas does not make the contract stricter than Stripe.
func TestStripeFixturesConform(t *testing.T) {
	s := mustLoad(t)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(s.path), "fixtures3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixtures struct {
		Resources map[string]map[string]any `json:"resources"`
	}
	if err := json.Unmarshal(raw, &fixtures); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		obj := fixtures.Resources[k]
		if obj == nil {
			t.Fatalf("no fixture for %q", k)
		}
		// stripe-mock's fixtures carry "source" on intents and charges,
		// a legacy field that the public spec no longer declares.
		delete(obj, "source")
		Validate(t, k, obj)
	}
}

// minimalIntent is a payment intent with exactly the fields Stripe requires.
func minimalIntent() map[string]any {
	return map[string]any{"id": "pi_1", "object": "payment_intent", "created": 1700000000, "livemode": false, "status": "succeeded"}
}

func minimalCharge() map[string]any {
	return map[string]any{"id": "ch_1", "object": "charge", "amount": 100, "amount_captured": 100, "amount_refunded": 0,
		"billing_details": map[string]any{"address": nil, "email": nil, "name": nil, "phone": nil}, "captured": true,
		"created": 1700000000, "currency": "usd", "disputed": false, "livemode": false, "metadata": map[string]any{},
		"paid": true, "refunded": false, "status": "succeeded"}
}

func with(m map[string]any, kv ...any) map[string]any {
	m = maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == deleted {
			delete(m, k)
		} else {
			m[k] = kv[i+1]
		}
	}
	return m
}

// deleted, as a value to with, removes the field.
var deleted = &struct{}{}

func TestViolations(t *testing.T) {
	s := mustLoad(t)
	tests := []struct {
		name   string
		schema string
		obj    any
		want   []string // each a substring of one violation, in order
	}{
		{"minimal intent", "payment_intent", minimalIntent(), nil},
		{"raw JSON", "payment_intent", []byte(`{"id":"pi_1","object":"payment_intent","created":1,"livemode":true,"status":"canceled"}`), nil},
		{"required field missing", "payment_intent", with(minimalIntent(), "status", deleted),
			[]string{`$.status: missing, and Stripe's schema requires it`}},
		{"unknown field", "payment_intent", with(minimalIntent(), "colour", "red"),
			[]string{`$.colour: not a field of Stripe's object`}},
		{"extension field", "payment_intent", with(minimalIntent(), "provider", "sandbox"), nil},
		{"extension of another kind is not one", "refund", map[string]any{"id": "re_1", "object": "refund", "amount": 1,
			"created": 1, "currency": "usd", "provider_reference": "x"}, []string{`$.provider_reference: not a field`}},
		{"wrong type", "payment_intent", with(minimalIntent(), "amount", "100"), []string{`$.amount: value must be an integer (got "100")`}},
		{"not an integer", "payment_intent", with(minimalIntent(), "amount", 1.5), []string{`$.amount: value must be an integer`}},
		{"null where not nullable", "payment_intent", with(minimalIntent(), "amount", nil), []string{`$.amount: null`}},
		{"null where nullable", "payment_intent", with(minimalIntent(), "description", nil, "canceled_at", nil), nil},
		{"enum", "payment_intent", with(minimalIntent(), "status", "paid"), []string{`$.status: value is not one of the allowed values`}},
		{"enum shows the value", "payment_intent", with(minimalIntent(), "status", "paid"), []string{`(got "paid")`}},
		{"currency upper case", "payment_intent", with(minimalIntent(), "currency", "USD"), []string{`$.currency: string doesn't match the format "currency"`}},
		{"milliseconds", "payment_intent", with(minimalIntent(), "created", 1700000000000), []string{`$.created: integer doesn't match the format "unix-time"`}},
		{"metadata", "payment_intent", with(minimalIntent(), "metadata", map[string]any{"order": "7", "1": 2}), []string{`$.metadata["1"]: `}},
		{"metadata key that is an extension's name", "payment_intent", with(minimalIntent(), "metadata", map[string]any{"provider": 5}),
			[]string{`$.metadata.provider: `}},
		{"expandable as id", "payment_intent", with(minimalIntent(), "latest_charge", "ch_1"), nil},
		{"expandable as null", "payment_intent", with(minimalIntent(), "latest_charge", nil), nil},
		{"expanded, with extensions", "payment_intent", with(minimalIntent(), "provider", "sandbox",
			"latest_charge", with(minimalCharge(), "provider", "sandbox", "provider_reference", "ref")), nil},
		{"expanded, violating", "payment_intent", with(minimalIntent(), "latest_charge", with(minimalCharge(), "paid", deleted, "outcome", map[string]any{"colour": 1})),
			[]string{`$.latest_charge.outcome.colour: not a field`, `$.latest_charge.outcome.type: missing`, `$.latest_charge.paid: missing`}},
		{"expanded twice", "charge", with(minimalCharge(), "payment_intent", with(minimalIntent(), "latest_charge", with(minimalCharge(), "amount", "1"))),
			[]string{`$.payment_intent.latest_charge.amount: `}},
		{"expandable of the wrong type", "payment_intent", with(minimalIntent(), "latest_charge", 7),
			[]string{`$.latest_charge: a number, where Stripe's schema allows object or string`}},
		{"error", "error", map[string]any{"error": map[string]any{"type": "card_error", "code": "card_declined",
			"payment_intent": with(minimalIntent(), "provider", "sandbox")}}, nil},
		{"error type outside Stripe's", "error", map[string]any{"error": map[string]any{"type": "teapot_error"}},
			[]string{`$.error.type: value is not one of the allowed values`}},
		{"error type Tender adds", "error", map[string]any{"error": map[string]any{"type": "authentication_error"}}, nil},
		{"error without the envelope", "error", map[string]any{"type": "card_error"},
			[]string{`$.error: missing`, `$.type: not a field`}},
		{"event", "event", map[string]any{"id": "evt_1", "object": "event", "created": 1, "livemode": false, "pending_webhooks": 0,
			"type": "charge.succeeded", "data": map[string]any{"object": map[string]any{"anything": true}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.check(s.closed[tc.schema], tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("violations:\n\t%s\nwant %d like %q", strings.Join(got, "\n\t"), len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d: %q does not contain %q", i, got[i], w)
				}
			}
		})
	}
}

// Extensions may name any of Stripe's schemas, such as the object inside
// an error or a payment intent's next_action, and apply wherever that
// schema does.
func TestExtensionsOfParts(t *testing.T) {
	s := mustLoad(t)
	ext := s.extensionsOf(map[string][]string{"payment_intent": {"provider"}, "api_errors": {"request_id"},
		"payment_intent_next_action": {"display_payment_instructions"}})
	intent := with(minimalIntent(), "provider", "manual", "next_action", map[string]any{"type": "display_payment_instructions",
		"display_payment_instructions": map[string]any{"instructions": "Mail a check."}})
	body := map[string]any{"error": map[string]any{"type": "card_error", "request_id": "req_1",
		"payment_intent": with(intent, "last_payment_error", map[string]any{"type": "card_error", "request_id": "req_1"})}}
	if got, err := s.checkWith(s.closed["error"], body, ext); err != nil || len(got) != 0 {
		t.Fatalf("with the extensions declared: %q %v", got, err)
	}
	got, err := s.checkWith(s.closed["error"], body, s.extensionsOf(map[string][]string{"payment_intent": {"provider"}}))
	if err != nil || len(got) != 3 {
		t.Fatalf("without them: %q %v", got, err)
	}
	for i, w := range []string{"$.error.payment_intent.last_payment_error.request_id: not a field",
		"$.error.payment_intent.next_action.display_payment_instructions: not a field", "$.error.request_id: not a field"} {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("violation %d: %q, want %q", i, got[i], w)
		}
	}
}

func TestListViolations(t *testing.T) {
	s := mustLoad(t)
	list := func(url string, items ...any) map[string]any {
		return map[string]any{"object": "list", "url": url, "has_more": false, "data": append([]any{}, items...)}
	}
	tests := []struct {
		name string
		kind string
		obj  any
		want []string
	}{
		{"empty", "charge", list("/v1/charges"), nil},
		{"items with extensions", "payment_intent", list("/v1/payment_intents", with(minimalIntent(), "provider", "x"), minimalIntent()), nil},
		{"an item violating", "payment_intent", list("/v1/payment_intents", minimalIntent(), with(minimalIntent(), "status", "paid")),
			[]string{`$.data[1].status: value is not one of the allowed values`}},
		{"another endpoint's url", "payment_intent", list("/v1/charges"), []string{`$.url: string doesn't match the regular expression`}},
		{"a nested list", "payment_method", list("/v1/customers/cus_1/payment_methods"), nil},
		{"a nested list of another kind", "payment_intent", list("/v1/customers/cus_1/payment_methods"), []string{`$.url: string doesn't match`}},
		{"not a list", "charge", minimalCharge(), []string{`$.amount: not a field`}},
		{"the same fault in many items is one line", "payment_intent", list("/v1/payment_intents", slices.Repeat([]any{with(minimalIntent(), "amount", nil)}, 12)...),
			[]string{`$.data[*].amount: null, which Stripe's schema does not allow here (12 times: $.data[0].amount, $.data[1].amount, $.data[2].amount, …)`}},
		{"items in index order", "payment_intent", list("/v1/payment_intents", append(slices.Repeat([]any{minimalIntent()}, 10), with(minimalIntent(), "amount", "1"), with(minimalIntent(), "amount", "2"))...),
			[]string{`$.data[10].amount`, `$.data[11].amount`}},
		{"envelope missing fields", "refund", map[string]any{"object": "list", "data": []any{}},
			[]string{`$.has_more: missing`, `$.url: missing`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.check(s.listFor(tc.kind, s.closed[tc.kind], tc.obj), tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			// "not a list" reports every field of the charge and every missing
			// envelope field; only the first is pinned.
			if tc.name == "not a list" {
				got = got[:1]
			}
			if len(got) != len(tc.want) {
				t.Fatalf("violations:\n\t%s\nwant %d like %q", strings.Join(got, "\n\t"), len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d: %q does not contain %q", i, got[i], w)
				}
			}
		})
	}
	// A kind Stripe lists nowhere gets the common envelope.
	got, err := s.check(genericList(s.closed["api_errors"]), map[string]any{"object": "list", "url": "/v1/x", "has_more": true,
		"data": []any{map[string]any{"type": "api_error"}, map[string]any{}}})
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "$.data[1].type: missing") {
		t.Fatalf("generic list: %q %v", got, err)
	}
}

func TestBadInput(t *testing.T) {
	s := mustLoad(t)
	for _, in := range []any{[]byte(`{"id":`), `{} {}`, json.RawMessage(`nope`), func() {}} {
		if _, err := s.check(s.closed["charge"], in); err == nil {
			t.Errorf("%T %v: no error", in, in)
		}
	}
}

// recorder is a testing.TB that keeps what Validate reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestValidateReportsEveryViolation(t *testing.T) {
	mustLoad(t) // loaded before the recorder, whose Fatalf would not stop
	r := &recorder{TB: t}
	Validate(r, "payment_intent", with(minimalIntent(), "provider", "sandbox"))
	ValidateList(r, "payment_intent", map[string]any{"object": "list", "url": "/v1/payment_intents", "has_more": false, "data": []any{minimalIntent()}})
	if len(r.errors) != 0 {
		t.Fatalf("valid objects reported: %q", r.errors)
	}
	Validate(r, "payment_intent", with(minimalIntent(), "status", deleted, "colour", "red"))
	if len(r.errors) != 1 {
		t.Fatalf("reports: %q", r.errors)
	}
	for _, w := range []string{"payment_intent pi_1 does not conform", "(2 violations)", "$.colour: ", "$.status: "} {
		if !strings.Contains(r.errors[0], w) {
			t.Errorf("report %q lacks %q", r.errors[0], w)
		}
	}
}
