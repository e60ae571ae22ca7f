package params

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/tenderhq/tender"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Values
	}{
		{"empty", "", Values{}},
		{"scalar", "amount=1000", Values{"amount": "1000"}},
		{"several scalars", "amount=1000&currency=usd", Values{"amount": "1000", "currency": "usd"}},
		{"no equals is empty value", "capture", Values{"capture": ""}},
		{"empty value", "description=", Values{"description": ""}},
		{"empty pairs skipped", "&a=1&&b=2&", Values{"a": "1", "b": "2"}},
		{"value may contain equals", "a=x=y", Values{"a": "x=y"}},
		{"plus is space", "description=two+words", Values{"description": "two words"}},
		{"percent escapes", "description=caf%C3%A9%26more", Values{"description": "café&more"}},
		{"nested object (stripe-node metadata)", "metadata[order_id]=6735&metadata[k]=v",
			Values{"metadata": map[string]any{"order_id": "6735", "k": "v"}}},
		{"deeper object", "card[billing][name]=Jo+Doe&card[number]=4242",
			Values{"card": map[string]any{"billing": map[string]any{"name": "Jo Doe"}, "number": "4242"}}},
		{"url-encoded brackets", "metadata%5Border_id%5D=6735",
			Values{"metadata": map[string]any{"order_id": "6735"}}},
		{"url-encoded brackets from url.Values", url.Values{"card[billing][name]": {"x"}}.Encode(),
			Values{"card": map[string]any{"billing": map[string]any{"name": "x"}}}},
		{"append array", "expand[]=customer&expand[]=latest_charge",
			Values{"expand": []any{"customer", "latest_charge"}}},
		{"append array interleaved", "expand[]=a&amount=1&expand[]=b",
			Values{"expand": []any{"a", "b"}, "amount": "1"}},
		// Digits in brackets stay string keys; Decode turns them into an
		// array only for a slice destination (see TestDecodeDigitKeys).
		{"indices are keys (stripe-go expand)", "expand[0]=a&expand[1]=b",
			Values{"expand": map[string]any{"0": "a", "1": "b"}}},
		{"indices out of order", "payment_method_types[1]=sepa_debit&payment_method_types[0]=card",
			Values{"payment_method_types": map[string]any{"0": "card", "1": "sepa_debit"}}},
		{"indexed objects", "items[0][price]=p&items[1][price]=q&items[0][quantity]=2",
			Values{"items": map[string]any{
				"0": map[string]any{"price": "p", "quantity": "2"},
				"1": map[string]any{"price": "q"},
			}}},
		{"indexed indices", "a[0][0]=x&a[0][1]=y&a[1][0]=z",
			Values{"a": map[string]any{"0": map[string]any{"0": "x", "1": "y"}, "1": map[string]any{"0": "z"}}}},
		{"append array inside indexed object", "items[0][tax_rates][]=t1&items[0][tax_rates][]=t2",
			Values{"items": map[string]any{"0": map[string]any{"tax_rates": []any{"t1", "t2"}}}}},
		{"numeric metadata keys", "metadata[123]=x&metadata[0]=a",
			Values{"metadata": map[string]any{"123": "x", "0": "a"}}},
		{"digit and name keys mixed", "metadata[0]=a&metadata[x]=b&items[x]=1&items[0]=2",
			Values{"metadata": map[string]any{"0": "a", "x": "b"}, "items": map[string]any{"x": "1", "0": "2"}}},
		{"leading zeros kept", "metadata[007]=x&metadata[7]=y&metadata[0]=z&metadata[00]=w",
			Values{"metadata": map[string]any{"007": "x", "7": "y", "0": "z", "00": "w"}}},
		{"gaps and big numbers are not parse errors", "items[0]=a&items[2]=b&items[1000]=c&items[99999999999999999999999999]=d",
			Values{"items": map[string]any{"0": "a", "2": "b", "1000": "c", "99999999999999999999999999": "d"}}},
		{"empty segment value", "metadata[k]=", Values{"metadata": map[string]any{"k": ""}}},
		{"negative-looking key is a name", "metadata[-1]=x", Values{"metadata": map[string]any{"-1": "x"}}},
		{"depth 8", "a[b][c][d][e][f][g][h]=1",
			Values{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{
				"e": map[string]any{"f": map[string]any{"g": map[string]any{"h": "1"}}}}}}}}},
		{"semicolon is not a separator", "a=1;b=2", Values{"a": "1;b=2"}},
		{"1000 leaves", manyPairs("metadata[k%d]=v", MaxLeaves), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseForm(tt.in)
			if err != nil {
				t.Fatalf("ParseForm(%.80q) error: %v", tt.in, err)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseForm(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFormMaxIndex(t *testing.T) {
	got, err := ParseForm(indexRange(0, MaxIndex+1))
	if err != nil {
		t.Fatal(err)
	}
	if m := got["a"].(map[string]any); len(m) != MaxIndex+1 {
		t.Fatalf("parsed %d keys, want %d", len(m), MaxIndex+1)
	}
	var dst struct {
		A []string `param:"a"`
	}
	if err := Decode(got, &dst); err != nil {
		t.Fatal(err)
	}
	if len(dst.A) != MaxIndex+1 || dst.A[MaxIndex] != fmt.Sprint(MaxIndex) {
		t.Errorf("len = %d, last = %v", len(dst.A), dst.A[len(dst.A)-1])
	}
}

// indexRange returns &a[i]=i for i in [from, to).
func indexRange(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "&a[%d]=%d", i, i)
	}
	return b.String()
}

// manyPairs joins n pairs made from format, which takes the pair's number.
func manyPairs(format string, n int) string {
	pairs := make([]string, n)
	for i := range pairs {
		pairs[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(pairs, "&")
}

func TestParseFormErrors(t *testing.T) {
	const invalid = tender.CodeParameterInvalid
	long := strings.Repeat("k", MaxKeyLen+1)
	tests := []struct {
		name  string
		in    string
		code  string
		param string
		msg   string
	}{
		{"scalar twice", "a=1&a=2", invalid, "a", "Parameter a was given more than once."},
		{"same scalar twice", "a=1&a=1", invalid, "a", "given more than once"},
		{"nested scalar twice", "metadata[k]=1&metadata[k]=2", invalid, "metadata[k]", "given more than once"},
		{"index twice", "items[0]=a&items[0]=b", invalid, "items[0]", "given more than once"},
		{"scalar then object", "a=1&a[b]=2", invalid, "a",
			"Parameter a is used both as a single value and as an object."},
		{"object then scalar", "a[b]=1&a=2", invalid, "a",
			"Parameter a is used both as an object and as a single value."},
		{"append then index", "expand[]=a&expand[0]=b", invalid, "expand", "both as an array (like expand[]) and as an indexed array"},
		{"index then append", "expand[0]=a&expand[]=b", invalid, "expand",
			"Parameter expand is used both as an indexed array (like items[0]) and as an array (like expand[])."},
		{"index then scalar", "metadata[0]=a&metadata=b", invalid, "metadata", "both as an indexed array (like items[0]) and as a single value"},
		{"scalar then index", "metadata=b&metadata[0]=a", invalid, "metadata", "both as a single value and as an indexed array"},
		{"mixed keys then append", "expand[0]=a&expand[x]=b&expand[]=c", invalid, "expand", "both as an object and as an array"},
		{"long digit key", "metadata[" + strings.Repeat("1", MaxKeyLen+1) + "]=1", invalid,
			clip("metadata["+strings.Repeat("1", MaxKeyLen+1)+"]", 100), "at most 256 bytes"},
		{"digit key twice", "metadata[007]=1&metadata[007]=2", invalid, "metadata[007]", "given more than once"},
		{"append then scalar", "expand[]=a&expand=b", invalid, "expand", "used both as an array"},
		{"scalar then append", "expand=b&expand[]=a", invalid, "expand", "used both as a single value"},
		{"deep conflict", "card[billing][name]=x&card[billing]=y", invalid, "card[billing]", "used both as an object"},
		{"unterminated bracket", "a[b=1", invalid, "a[b", "unbalanced brackets"},
		{"stray closing bracket", "a]=1", invalid, "a]", "unbalanced brackets"},
		{"extra closing bracket", "a[b]]=1", invalid, "a[b]]", "unbalanced brackets"},
		{"text after bracket", "a[b]c=1", invalid, "a[b]c", "unexpected text after ']'"},
		{"nested open bracket", "a[b[c]]=1", invalid, "a[b[c]]", "unbalanced brackets"},
		{"no base name", "[x]=1", invalid, "[x]", "must start with a name"},
		{"empty name", "=1", invalid, "", "cannot be empty"},
		{"append not last", "items[][price]=p", invalid, "items[][price]", "[] may only appear at the end"},
		{"depth 9", "a[b][c][d][e][f][g][h][i]=1", invalid, "a[b][c][d][e][f][g][h][i]", "at most 8 levels"},
		{"depth 9 with append", "a[b][c][d][e][f][g][h][]=1", invalid, "a[b][c][d][e][f][g][h][]", "at most 8 levels"},
		{"long base name", long + "=1", invalid, clip(long, 100), "at most 256 bytes"},
		{"long nested name", "metadata[" + long + "]=1", invalid, clip("metadata["+long+"]", 100), "at most 256 bytes"},
		{"bad escape in name", "a%zz=1", invalid, "", "Invalid URL encoding in parameter name a%zz"},
		{"bad escape in value", "a=%zz", invalid, "a", "Invalid URL encoding in the value of a"},
		{"NUL in name", "a%00=1", invalid, "a\uFFFD", "valid UTF-8 without NUL"},
		{"invalid UTF-8 in name", "metadata[%FF]=1", invalid, "metadata[\uFFFD]", "valid UTF-8 without NUL"},
		{"1001 leaves", manyPairs("metadata[k%d]=v", MaxLeaves+1), "parameters_exceeded_max", "", "at most 1000 values"},
		{"10000 metadata keys", manyPairs("metadata[k%d]=v", 10000), "parameters_exceeded_max", "", "at most 1000 values"},
		{"1001 append values", manyPairs("expand[]=x%d", MaxLeaves+1), "parameters_exceeded_max", "", "at most 1000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseForm(tt.in)
			if err == nil {
				t.Fatalf("ParseForm(%.80q) = %v, want error", tt.in, v)
			}
			wantErr(t, err, tt.code, tt.param, tt.msg)
		})
	}
}
