package params

import (
	"encoding/json"
	"testing"

	"github.com/tenderhq/tender"
)

// checkClientError fails unless err is nil or an invalid_request_error:
// whatever a client sends, it must never be reported as a server fault.
func checkClientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	e, ok := err.(*tender.Error)
	if !ok || e.Type != tender.InvalidRequestError {
		t.Fatalf("got %T %v, want an invalid_request_error", err, err)
	}
}

// decodeAll decodes v into a catch-all map field and into structs with
// every supported field kind; none may panic or return a server error.
func decodeAll(t *testing.T, v Values) {
	var sink struct {
		M map[string]any `param:"m"`
	}
	if err := Decode(Values{"m": v}, &sink); err != nil {
		checkClientError(t, err)
	}
	var p testParams
	checkClientError(t, Decode(v, &p))
	var l testLists
	checkClientError(t, Decode(v, &l))
}

var formSeeds = []string{
	"",
	"amount=1000&currency=usd",
	"metadata[order_id]=6735&metadata%5Bk%5D=v",
	"expand[]=a&expand[]=b",
	"items[1][price]=q&items[0][price]=p",
	"a=1&a[b]=2",
	"a[b=1&]=2&[x]=3",
	"a[0][0]=x&a[0][1]=y",
	"card[billing][address][city]=Paris&card[number]=4242",
	"amount=9223372036854775808&confirm=yes&description=%FF%00",
	"items[999]=x&items[01]=y",
	"metadata[0]=a&metadata[x]=b&metadata[007]=c",
	"expand[0]=a&expand[]=b",
	"grid[1][0]=z&grid[0][1]=y&raw[0][0]=x&numbers[2]=1",
}

func FuzzParseForm(f *testing.F) {
	for _, s := range formSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseForm(s)
		checkClientError(t, err)
		if err == nil {
			decodeAll(t, v)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"amount":1000,"currency":"usd","capture":true,"description":null}`,
		`{"metadata":{"k":"v"},"expand":["a","b"],"items":[{"price":"p"}]}`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}`,
		`{"a":1,"a":2}`,
		`{"amount":1e3,"card":"","metadata":""}`,
		`[1]`,
		`{"a":1} {}`,
		`{"a":"\u0000\ud800"}`,
		`{"metadata":{"0":"a","01":"b"},"items":{"1":{"price":"q"},"0":{"price":"p"}},"expand":{"0":"a","x":"b"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b)
		checkClientError(t, err)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("ParseJSON accepted invalid JSON %q", b)
		}
		decodeAll(t, v)
	})
}
