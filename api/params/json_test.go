package params

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tenderhq/tender"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Values
	}{
		{"empty object", `{}`, Values{}},
		{"whitespace around", " \n{ } \n", Values{}},
		{"scalars", `{"amount":1000,"currency":"usd","capture":true,"description":null}`,
			Values{"amount": json.Number("1000"), "currency": "usd", "capture": true, "description": nil}},
		{"big integer kept exact", `{"amount":9223372036854775807}`, Values{"amount": json.Number("9223372036854775807")}},
		{"nested", `{"card":{"billing":{"name":"Jo"}},"metadata":{"k":"v"}}`,
			Values{"card": map[string]any{"billing": map[string]any{"name": "Jo"}}, "metadata": map[string]any{"k": "v"}}},
		{"arrays", `{"expand":["a","b"],"items":[{"price":"p"},{"price":"q"}]}`,
			Values{"expand": []any{"a", "b"}, "items": []any{map[string]any{"price": "p"}, map[string]any{"price": "q"}}}},
		{"empty containers", `{"metadata":{},"expand":[]}`, Values{"metadata": map[string]any{}, "expand": []any{}}},
		{"depth 8", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}`,
			Values{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{
				"e": map[string]any{"f": map[string]any{"g": map[string]any{"h": json.Number("1")}}}}}}}}},
		{"brackets in a key are just characters", `{"a[b]":"x"}`, Values{"a[b]": "x"}},
		{"1000 leaves", jsonMetadata(MaxLeaves), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseJSON(%.80q) error: %v", tt.in, err)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseJSON(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

// jsonMetadata returns {"metadata":{…}} with n keys.
func jsonMetadata(n int) string {
	return `{"metadata":{` + strings.ReplaceAll(manyPairs(`"k%d":"v"`, n), "&", ",") + `}}`
}

func TestParseJSONErrors(t *testing.T) {
	const invalid = tender.CodeParameterInvalid
	tests := []struct {
		name  string
		in    string
		code  string
		param string
		msg   string
	}{
		{"empty", ``, invalid, "", "unexpected end of input"},
		{"array at top", `[1,2]`, invalid, "", "must be a JSON object"},
		{"string at top", `"x"`, invalid, "", "must be a JSON object"},
		{"null at top", `null`, invalid, "", "must be a JSON object"},
		{"syntax error", `{"a":}`, invalid, "", "Invalid JSON body"},
		{"truncated", `{"a":1`, invalid, "", "unexpected end of input"},
		{"trailing comma", `{"a":1,}`, invalid, "", "Invalid JSON body"},
		{"trailing object", `{"a":1}{"b":2}`, invalid, "", "unexpected data after the top-level object"},
		{"trailing garbage", `{"a":1} x`, invalid, "", "Invalid JSON body"},
		{"duplicate key", `{"amount":1,"amount":2}`, invalid, "amount", "Parameter amount was given more than once."},
		{"nested duplicate key", `{"metadata":{"k":"a","k":"b"}}`, invalid, "metadata[k]", "given more than once"},
		{"empty key", `{"":1}`, invalid, "", "names cannot be empty"},
		{"empty nested key", `{"metadata":{"":1}}`, invalid, "metadata[]", "names cannot be empty"},
		{"long key", `{"` + strings.Repeat("k", MaxKeyLen+1) + `":1}`, invalid, clip(strings.Repeat("k", MaxKeyLen+1), 100), "at most 256 bytes"},
		{"NUL in key", `{"metadata":{"a\u0000":1}}`, invalid, "metadata[a\uFFFD]", "valid UTF-8 without NUL"},
		{"depth 9", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}`, invalid, "a[b][c][d][e][f][g][h][i]", "at most 8 levels"},
		{"depth 9 in arrays", `{"a":[[[[[[[[1]]]]]]]]}`, invalid, "a[0][0][0][0][0][0][0][0]", "at most 8 levels"},
		{"very deep", `{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, invalid, "a[0][0][0][0][0][0][0][0]", "at most 8 levels"},
		{"1001 leaves", jsonMetadata(MaxLeaves + 1), "parameters_exceeded_max", "", "at most 1000 values"},
		{"10000 metadata keys", jsonMetadata(10000), "parameters_exceeded_max", "", "at most 1000 values"},
		{"1001 empty objects", `{"items":[` + strings.Repeat("{},", MaxLeaves) + `{}]}`, "parameters_exceeded_max", "", "at most 1000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseJSON(%.80q) = %v, want error", tt.in, v)
			}
			wantErr(t, err, tt.code, tt.param, tt.msg)
		})
	}
}

func TestParseJSONLeafLimitIsExact(t *testing.T) {
	if _, err := ParseJSON([]byte(jsonMetadata(MaxLeaves))); err != nil {
		t.Fatalf("%d leaves: %v", MaxLeaves, err)
	}
	if _, err := ParseJSON([]byte(fmt.Sprintf(`{"a":[%s1]}`, strings.Repeat("1,", MaxLeaves-1)))); err != nil {
		t.Fatalf("%d array elements: %v", MaxLeaves, err)
	}
}
