package params

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/tenderhq/tender"
)

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

func newRequest(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		want        Values
	}{
		{"GET query", "GET", "/v1/payment_intents?limit=3&expand%5B%5D=data.customer", "", "",
			Values{"limit": "3", "expand": []any{"data.customer"}}},
		{"GET ignores body", "GET", "/v1/x?a=1", formType, "b=2", Values{"a": "1"}},
		{"GET without query", "GET", "/v1/x", "", "", Values{}},
		{"HEAD query", "HEAD", "/v1/x?a=1", "", "", Values{"a": "1"}},
		{"DELETE query", "DELETE", "/v1/x?a=1", "", "", Values{"a": "1"}},
		{"POST form", "POST", "/v1/x", formType, "amount=1000&metadata[k]=v",
			Values{"amount": "1000", "metadata": map[string]any{"k": "v"}}},
		{"POST form with indices", "POST", "/v1/x", formType, "items[0][price]=p&items[1][price]=q&metadata[0]=a",
			Values{"items": map[string]any{"0": map[string]any{"price": "p"}, "1": map[string]any{"price": "q"}},
				"metadata": map[string]any{"0": "a"}}},
		{"GET query with indices", "GET", "/v1/x?expand%5B0%5D=customer", "", "",
			Values{"expand": map[string]any{"0": "customer"}}},
		{"POST form with charset", "POST", "/v1/x", formType + "; charset=utf-8", "a=1", Values{"a": "1"}},
		{"POST JSON", "POST", "/v1/x", jsonType, `{"amount":1000,"metadata":{"k":"v"}}`,
			Values{"amount": json.Number("1000"), "metadata": map[string]any{"k": "v"}}},
		{"POST JSON with charset, any case", "POST", "/v1/x", "Application/JSON; charset=UTF-8", `{"a":"1"}`, Values{"a": "1"}},
		{"POST empty body, no content type", "POST", "/v1/x", "", "", Values{}},
		{"POST empty body, form", "POST", "/v1/x", formType, "", Values{}},
		{"POST empty body, JSON", "POST", "/v1/x", jsonType, "", Values{}},
		{"POST empty body, other type", "POST", "/v1/x", "text/plain", "", Values{}},
		{"POST query merged into form", "POST", "/v1/x?expand[]=customer", formType, "amount=1",
			Values{"amount": "1", "expand": []any{"customer"}}},
		{"POST query merged into JSON", "POST", "/v1/x?expand[]=customer", jsonType, `{"amount":1}`,
			Values{"amount": json.Number("1"), "expand": []any{"customer"}}},
		{"POST query only", "POST", "/v1/x?a=1", "", "", Values{"a": "1"}},
		{"PATCH form", "PATCH", "/v1/x", formType, "a=1", Values{"a": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromRequest(newRequest(tt.method, tt.target, tt.contentType, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestFromRequestErrors(t *testing.T) {
	const invalid = tender.CodeParameterInvalid
	overLimit := func() *http.Request {
		r := newRequest("POST", "/v1/x", formType, "description="+strings.Repeat("x", 100))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 64)
		return r
	}
	unreadable := func() *http.Request {
		r := newRequest("POST", "/v1/x", formType, "")
		r.Body = io.NopCloser(failingReader{})
		return r
	}
	tests := []struct {
		name  string
		req   *http.Request
		code  string
		param string
		msg   string
	}{
		{"unsupported content type", newRequest("POST", "/v1/x", "text/plain", "a=1"),
			tender.CodeUnsupportedContentType, "", "Unsupported Content-Type text/plain"},
		{"multipart", newRequest("POST", "/v1/x", "multipart/form-data; boundary=x", "--x--"),
			tender.CodeUnsupportedContentType, "", "send application/x-www-form-urlencoded or application/json"},
		{"missing content type with body", newRequest("POST", "/v1/x", "", "a=1"),
			tender.CodeUnsupportedContentType, "", "Unsupported Content-Type none"},
		{"malformed content type", newRequest("POST", "/v1/x", "application/json; =", `{}`),
			tender.CodeUnsupportedContentType, "", "Unsupported Content-Type"},
		{"body over MaxBytesReader limit", overLimit(), tender.CodeBodyTooLarge, "", "the limit is 64 bytes"},
		{"unreadable body", unreadable(), "", "", "could not be read"},
		{"bad form body", newRequest("POST", "/v1/x", formType, "a=1&a=2"), invalid, "a", "given more than once"},
		{"bad JSON body", newRequest("POST", "/v1/x", jsonType, `{"a":`), invalid, "", "Invalid JSON body"},
		{"bad query on GET", newRequest("GET", "/v1/x?a[=1", "", ""), invalid, "a[", "unbalanced brackets"},
		{"bad query on POST", newRequest("POST", "/v1/x?a[=1", formType, "b=1"), invalid, "a[", "unbalanced brackets"},
		{"query and body name the same parameter", newRequest("POST", "/v1/x?metadata[a]=1", formType, "metadata[b]=2"),
			invalid, "metadata", "Parameter metadata was given both in the URL query and in the request body."},
		{"query and JSON body conflict", newRequest("POST", "/v1/x?amount=1", jsonType, `{"amount":2}`),
			invalid, "amount", "both in the URL query and in the request body"},
		{"leaf limit spans query and body", newRequest("POST", "/v1/x?"+manyPairs("q%d=1", 600), formType, manyPairs("b%d=1", 600)),
			"parameters_exceeded_max", "", "at most 1000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := FromRequest(tt.req)
			if err == nil {
				t.Fatalf("got %v, want error", v)
			}
			wantErr(t, err, tt.code, tt.param, tt.msg)
		})
	}
	t.Run("unreadable body keeps cause", func(t *testing.T) {
		_, err := FromRequest(unreadable())
		if e, _ := tender.AsError(err); e == nil || e.Cause == nil {
			t.Errorf("got %v, want the read error as Cause", err)
		}
	})
}

// TestFromRequestEndToEnd sends the same payment intent the way stripe-go
// (url.Values encoding), a JSON client and a GET query would, and requires
// identical structs.
func TestFromRequestEndToEnd(t *testing.T) {
	form := url.Values{
		"amount":                  {"2000"},
		"currency":                {"usd"},
		"metadata[order_id]":      {"6735"},
		"metadata[0]":             {"zero"},
		"expand[0]":               {"customer"},
		"payment_method_types[0]": {"card"},
		"items[1][price]":         {"q"},
		"items[0][price]":         {"p"},
		"items[0][quantity]":      {"2"},
	}.Encode()
	reqs := map[string]*http.Request{
		"form": newRequest("POST", "/v1/payment_intents", formType, form),
		"json": newRequest("POST", "/v1/payment_intents", jsonType,
			`{"amount":2000,"currency":"usd","metadata":{"order_id":"6735","0":"zero"},"expand":["customer"],`+
				`"payment_method_types":["card"],"items":[{"price":"p","quantity":2},{"price":"q"}]}`),
		"query": newRequest("GET", "/v1/payment_intents?"+form, "", ""),
	}
	want := testParams{Amount: 2000, Currency: "usd", Metadata: map[string]string{"order_id": "6735", "0": "zero"},
		Expand: []string{"customer"}, PaymentMethodTypes: []string{"card"},
		Items: []testItem{{Price: "p", Quantity: 2}, {Price: "q"}}}
	for name, r := range reqs {
		t.Run(name, func(t *testing.T) {
			v, err := FromRequest(r)
			if err != nil {
				t.Fatal(err)
			}
			var got testParams
			if err := Decode(v, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}
