package params

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tenderhq/tender"
)

type testAddress struct {
	Line1 string `param:"line1"`
	City  string `param:"city"`
}

type testBilling struct {
	Name    string       `param:"name"`
	Address *testAddress `param:"address"`
}

type testCard struct {
	Number   string       `param:"number,required"`
	ExpMonth int          `param:"exp_month"`
	Billing  *testBilling `param:"billing"`
}

type testItem struct {
	Price    string `param:"price,required"`
	Quantity int64  `param:"quantity"`
}

// testPaging is embedded untagged, so its fields are promoted.
type testPaging struct {
	Limit         int    `param:"limit"`
	StartingAfter string `param:"starting_after"`
}

// testMoney decodes a decimal amount such as "12.34" into cents through a
// pointer-receiver UnmarshalParam.
type testMoney struct{ Cents int64 }

func (m *testMoney) UnmarshalParam(path string, raw any) error {
	var s string
	switch v := raw.(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt((frac + "00")[:2], 10, 64)
	if s == "" || err1 != nil || err2 != nil || len(frac) > 2 {
		return tender.InvalidParam("amount_invalid", path, "Invalid decimal amount: %s", quote(raw))
	}
	m.Cents = w*100 + f
	return nil
}

// testStrict is a value-receiver Unmarshaler that fails with a plain error,
// to check that such errors are wrapped.
type testStrict string

func (testStrict) UnmarshalParam(path string, raw any) error {
	if raw == "ok" {
		return nil
	}
	return errors.New("strict says no")
}

type testParams struct {
	Amount             int64             `param:"amount,required"`
	Currency           string            `param:"currency,required"`
	Capture            *bool             `param:"capture"`
	Confirm            bool              `param:"confirm"`
	Description        *string           `param:"description"`
	ApplicationFee     *int64            `param:"application_fee_amount"`
	Metadata           map[string]string `param:"metadata"`
	Expand             []string          `param:"expand"`
	PaymentMethodTypes []string          `param:"payment_method_types"`
	Card               *testCard         `param:"card"`
	Shipping           testBilling       `param:"shipping"`
	Items              []testItem        `param:"items"`
	ItemPtrs           []*testItem       `param:"item_ptrs"`
	Numbers            []int64           `param:"numbers"`
	Extra              map[string]any    `param:"extra"`
	Raw                any               `param:"raw"`
	Fee                testMoney         `param:"fee"`
	FeePtr             *testMoney        `param:"fee_ptr"`
	Strict             testStrict        `param:"strict"`
	Count              int               `param:"count"`
	Small              int8              `param:"small"`
	Internal           string            `param:"-"`
	Untagged           string
	testPaging
}

func ptr[T any](v T) *T { return &v }

// decodeInput parses in as JSON if it starts with '{', else as a form.
func decodeInput(t *testing.T, in string) (testParams, error) {
	t.Helper()
	var v Values
	var err error
	if strings.HasPrefix(in, "{") {
		v, err = ParseJSON([]byte(in))
	} else {
		v, err = ParseForm(in)
	}
	if err != nil {
		t.Fatalf("parsing %.80q: %v", in, err)
	}
	var p testParams
	return p, Decode(v, &p)
}

// TestDecodeFormAndJSON decodes each request written as a form and as JSON
// and requires both to give the same struct, which is the point of the
// package: a handler cannot tell which kind of client called it.
func TestDecodeFormAndJSON(t *testing.T) {
	base := testParams{Amount: 1000, Currency: "usd"}
	with := func(f func(*testParams)) testParams {
		p := base
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		form  string
		json  string
		want  testParams
		forms []string // further form spellings of the same request
	}{
		{
			name: "required only",
			form: "amount=1000&currency=usd",
			json: `{"amount":1000,"currency":"usd"}`,
			want: base,
		},
		{
			name: "payment intent",
			form: "amount=1000&currency=usd&capture=false&confirm=true&description=Order+%236735" +
				"&metadata[order_id]=6735&metadata[customer]=c1&metadata[channel]=web" +
				"&expand[]=customer&expand[]=latest_charge&payment_method_types[]=card",
			json: `{"amount":1000,"currency":"usd","capture":false,"confirm":true,"description":"Order #6735",` +
				`"metadata":{"order_id":"6735","customer":"c1","channel":"web"},` +
				`"expand":["customer","latest_charge"],"payment_method_types":["card"]}`,
			want: with(func(p *testParams) {
				p.Capture = ptr(false)
				p.Confirm = true
				p.Description = ptr("Order #6735")
				p.Metadata = map[string]string{"order_id": "6735", "customer": "c1", "channel": "web"}
				p.Expand = []string{"customer", "latest_charge"}
				p.PaymentMethodTypes = []string{"card"}
			}),
			forms: []string{
				// stripe-go: indices for every array, brackets escaped.
				"amount=1000&capture=false&confirm=true&currency=usd&description=Order+%236735" +
					"&expand%5B0%5D=customer&expand%5B1%5D=latest_charge" +
					"&metadata%5Bchannel%5D=web&metadata%5Bcustomer%5D=c1&metadata%5Border_id%5D=6735" +
					"&payment_method_types%5B0%5D=card",
				// Parameters in another order, indices out of order.
				"payment_method_types[0]=card&expand[1]=latest_charge&expand[0]=customer&metadata[channel]=web" +
					"&metadata[customer]=c1&metadata[order_id]=6735&description=Order%20%236735&confirm=true" +
					"&capture=false&currency=usd&amount=1000",
			},
		},
		{
			name: "nested objects",
			form: "amount=1000&currency=usd&card[number]=4242424242424242&card[exp_month]=12" +
				"&card[billing][name]=Jo+Doe&card[billing][address][city]=Paris&shipping[name]=Al",
			json: `{"amount":1000,"currency":"usd","card":{"number":"4242424242424242","exp_month":12,` +
				`"billing":{"name":"Jo Doe","address":{"city":"Paris"}}},"shipping":{"name":"Al"}}`,
			want: with(func(p *testParams) {
				p.Card = &testCard{Number: "4242424242424242", ExpMonth: 12,
					Billing: &testBilling{Name: "Jo Doe", Address: &testAddress{City: "Paris"}}}
				p.Shipping = testBilling{Name: "Al"}
			}),
		},
		{
			name: "arrays of structs and ints",
			form: "amount=1000&currency=usd&items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2" +
				"&item_ptrs[0][price]=p3&numbers[0]=-5&numbers[1]=9223372036854775807",
			json: `{"amount":1000,"currency":"usd","items":[{"price":"p1","quantity":2},{"price":"p2"}],` +
				`"item_ptrs":[{"price":"p3"}],"numbers":[-5,9223372036854775807]}`,
			want: with(func(p *testParams) {
				p.Items = []testItem{{Price: "p1", Quantity: 2}, {Price: "p2"}}
				p.ItemPtrs = []*testItem{{Price: "p3"}}
				p.Numbers = []int64{-5, 9223372036854775807}
			}),
		},
		{
			name: "pointer scalars",
			form: "amount=-1&currency=usd&application_fee_amount=0&description=",
			json: `{"amount":-1,"currency":"usd","application_fee_amount":0,"description":""}`,
			want: testParams{Amount: -1, Currency: "usd", ApplicationFee: ptr(int64(0)), Description: ptr("")},
		},
		{
			name: "empty string clears maps, slices and structs",
			form: "amount=1000&currency=usd&metadata=&expand=&card=&shipping=",
			json: `{"amount":1000,"currency":"usd","metadata":"","expand":"","card":"","shipping":""}`,
			want: with(func(p *testParams) {
				p.Metadata = map[string]string{}
				p.Expand = []string{}
			}),
		},
		{
			name: "metadata key deletion",
			form: "amount=1000&currency=usd&metadata[gone]=&metadata[kept]=1",
			json: `{"amount":1000,"currency":"usd","metadata":{"gone":null,"kept":"1"}}`,
			want: with(func(p *testParams) { p.Metadata = map[string]string{"gone": "", "kept": "1"} }),
		},
		{
			name: "numbers and strings accepted across types",
			form: "amount=1000&currency=usd&description=12&count=7",
			json: `{"amount":"1000","currency":"usd","description":12,"count":"7"}`,
			want: with(func(p *testParams) { p.Description = ptr("12"); p.Count = 7 }),
		},
		{
			name: "json null means absent",
			form: "amount=1000&currency=usd",
			json: `{"amount":1000,"currency":"usd","description":null,"metadata":null,"card":null,"expand":null,"count":null}`,
			want: base,
		},
		{
			name: "map of any and any keep subtrees",
			form: "amount=1000&currency=usd&extra[a][b]=1&extra[list][]=x&raw[k]=v",
			json: `{"amount":1000,"currency":"usd","extra":{"a":{"b":"1"},"list":["x"]},"raw":{"k":"v"}}`,
			want: with(func(p *testParams) {
				p.Extra = map[string]any{"a": map[string]any{"b": "1"}, "list": []any{"x"}}
				p.Raw = map[string]any{"k": "v"}
			}),
		},
		{
			name: "unmarshalers",
			form: "amount=1000&currency=usd&fee=12.34&fee_ptr=0.5&strict=ok",
			json: `{"amount":1000,"currency":"usd","fee":"12.34","fee_ptr":0.5,"strict":"ok"}`,
			want: with(func(p *testParams) { p.Fee = testMoney{1234}; p.FeePtr = &testMoney{50} }),
		},
		{
			name: "embedded struct fields",
			form: "amount=1000&currency=usd&limit=10&starting_after=pi_1",
			json: `{"amount":1000,"currency":"usd","limit":10,"starting_after":"pi_1"}`,
			want: with(func(p *testParams) { p.Limit = 10; p.StartingAfter = "pi_1" }),
		},
		{
			name: "int8 in range",
			form: "amount=1000&currency=usd&small=-128",
			json: `{"amount":1000,"currency":"usd","small":-128}`,
			want: with(func(p *testParams) { p.Small = -128 }),
		},
	}
	for _, tt := range tests {
		for i, in := range append([]string{tt.form, tt.json}, tt.forms...) {
			kind := []string{"form", "json"}[min(i, 1)]
			if i > 1 {
				kind = "form" + strconv.Itoa(i)
			}
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				got, err := decodeInput(t, in)
				if err != nil {
					t.Fatalf("Decode(%q): %v", in, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Decode(%q)\n got %+v\nwant %+v", in, got, tt.want)
				}
			})
		}
	}
}

type testLists struct {
	A     []string       `param:"a"`
	B     []string       `param:"b"`
	C     []string       `param:"c"`
	Grid  [][]string     `param:"grid"`
	Items *[]testItem    `param:"items"`
	Meta  map[string]any `param:"meta"`
}

// TestDecodeDigitKeys covers bracket components made of digits, which
// ParseForm keeps as string keys: the destination decides whether they
// are indices (slices) or keys (everything else). Each row lists inputs
// that must all decode to want, forms and JSON alike.
func TestDecodeDigitKeys(t *testing.T) {
	base := testParams{Amount: 1000, Currency: "usd"}
	with := func(f func(*testParams)) testParams {
		p := base
		f(&p)
		return p
	}
	req := "amount=1000&currency=usd&"
	reqJSON := `{"amount":1000,"currency":"usd",`
	tests := []struct {
		name string
		ins  []string // JSON if it starts with '{', else a form
		want testParams
	}{
		{
			name: "numeric metadata keys",
			ins: []string{
				req + "metadata[123]=x",
				req + "metadata%5B123%5D=x",
				reqJSON + `"metadata":{"123":"x"}}`,
			},
			want: with(func(p *testParams) { p.Metadata = map[string]string{"123": "x"} }),
		},
		{
			name: "metadata keyed like a dense array is still a map",
			ins: []string{
				req + "metadata[0]=a&metadata[1]=b",
				req + "metadata[1]=b&metadata[0]=a",
				reqJSON + `"metadata":{"0":"a","1":"b"}}`,
			},
			want: with(func(p *testParams) { p.Metadata = map[string]string{"0": "a", "1": "b"} }),
		},
		{
			name: "metadata with gaps, big numbers and leading zeros",
			ins: []string{
				req + "metadata[007]=x&metadata[7]=y&metadata[5]=z&metadata[1000]=w&metadata[99999999999999999999]=v",
				reqJSON + `"metadata":{"007":"x","7":"y","5":"z","1000":"w","99999999999999999999":"v"}}`,
			},
			want: with(func(p *testParams) {
				p.Metadata = map[string]string{"007": "x", "7": "y", "5": "z", "1000": "w", "99999999999999999999": "v"}
			}),
		},
		{
			name: "metadata mixing digit and name keys",
			ins: []string{
				req + "metadata[0]=a&metadata[x]=b",
				req + "metadata[x]=b&metadata[0]=a",
				reqJSON + `"metadata":{"0":"a","x":"b"}}`,
			},
			want: with(func(p *testParams) { p.Metadata = map[string]string{"0": "a", "x": "b"} }),
		},
		{
			name: "numeric metadata key deletion",
			ins: []string{
				req + "metadata[0]=&metadata[1]=kept",
				reqJSON + `"metadata":{"0":null,"1":"kept"}}`,
			},
			want: with(func(p *testParams) { p.Metadata = map[string]string{"0": "", "1": "kept"} }),
		},
		{
			name: "indexed structs still fill a slice",
			ins: []string{
				req + "items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2",
				req + "items[1][price]=p2&items[0][quantity]=2&items[0][price]=p1",
				reqJSON + `"items":[{"price":"p1","quantity":2},{"price":"p2"}]}`,
				// The JSON spelling of the form tree gets the same reading.
				reqJSON + `"items":{"1":{"price":"p2"},"0":{"price":"p1","quantity":2}}}`,
			},
			want: with(func(p *testParams) { p.Items = []testItem{{Price: "p1", Quantity: 2}, {Price: "p2"}} }),
		},
		{
			name: "indexed scalars fill slices of strings, ints and pointers",
			ins: []string{
				req + "expand[1]=b&expand[0]=a&numbers[0]=-5&item_ptrs[0][price]=p",
				reqJSON + `"expand":["a","b"],"numbers":[-5],"item_ptrs":[{"price":"p"}]}`,
			},
			want: with(func(p *testParams) {
				p.Expand = []string{"a", "b"}
				p.Numbers = []int64{-5}
				p.ItemPtrs = []*testItem{{Price: "p"}}
			}),
		},
		{
			name: "indices up to the leaf limit",
			ins:  []string{"amount=1000&currency=usd" + strings.ReplaceAll(indexRange(0, MaxIndex-1), "&a[", "&numbers[")},
			want: with(func(p *testParams) {
				p.Numbers = make([]int64, MaxIndex-1)
				for i := range p.Numbers {
					p.Numbers[i] = int64(i)
				}
			}),
		},
		{
			name: "any and map of any keep digit keys",
			ins: []string{
				req + "extra[list][0]=x&extra[list][1]=y&raw[0]=v&raw[01]=w",
				reqJSON + `"extra":{"list":{"0":"x","1":"y"}},"raw":{"0":"v","01":"w"}}`,
			},
			want: with(func(p *testParams) {
				p.Extra = map[string]any{"list": map[string]any{"0": "x", "1": "y"}}
				p.Raw = map[string]any{"0": "v", "01": "w"}
			}),
		},
	}
	for _, tt := range tests {
		for i, in := range tt.ins {
			t.Run(tt.name+"/"+strconv.Itoa(i), func(t *testing.T) {
				got, err := decodeInput(t, in)
				if err != nil {
					t.Fatalf("Decode(%.100q): %v", in, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Decode(%.100q)\n got %+v\nwant %+v", in, got, tt.want)
				}
			})
		}
	}
}

// TestDecodeDigitKeysOtherTypes checks nested slices, a pointer to a slice
// and a map of any fed from the same indexed notation.
func TestDecodeDigitKeysOtherTypes(t *testing.T) {
	v, err := ParseForm("grid[1][0]=z&grid[0][1]=y&grid[0][0]=x&items[0][price]=p&meta[0][1]=q")
	if err != nil {
		t.Fatal(err)
	}
	var got testLists
	if err := Decode(v, &got); err != nil {
		t.Fatal(err)
	}
	want := testLists{
		Grid:  [][]string{{"x", "y"}, {"z"}},
		Items: &[]testItem{{Price: "p"}},
		Meta:  map[string]any{"0": map[string]any{"1": "q"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDecodeDigitKeyErrors(t *testing.T) {
	const invalid = tender.CodeParameterInvalid
	tests := []struct {
		name  string
		in    string // JSON if it starts with '{', else a form
		param string
		msg   string
	}{
		{"gap", "a[0]=x&a[2]=y", "a", "Array a is missing index 1: indices must start at 0 and have no gaps."},
		{"missing index 0", "a[1]=x", "a", "missing index 0"},
		{"gap in JSON object", `{"a":{"0":"x","2":"y"}}`, "a", "Array a is missing index 1"},
		{"gap in nested slice", "grid[0][1]=x", "grid[0]", "Array grid[0] is missing index 0"},
		{"gap in slice of structs", "items[1][price]=p", "items", "Array items is missing index 0"},
		{"gap error is deterministic", "b[1]=x&a[1]=x&c[1]=x", "a", "missing index 0"},
		{"leading zero", "a[0]=x&a[01]=y", "a[01]", "Invalid array index in a[01]: indices must be whole numbers from 0 to 999 without leading zeros."},
		{"double zero", "a[00]=x", "a[00]", "without leading zeros"},
		{"leading zero in JSON object", `{"a":{"00":"x"}}`, "a[00]", "without leading zeros"},
		{"index over max", "a[1000]=x", "a[1000]", "from 0 to 999"},
		{"huge index", "a[99999999999999999999999999]=x", "a[99999999999999999999999999]", "from 0 to 999"},
		{"bad index reported before gap", "a[5]=x&a[07]=y", "a[07]", "without leading zeros"},
		{"bad index in nested slice", "grid[0][01]=x", "grid[0][01]", "without leading zeros"},
		{"digit and name keys", "a[0]=x&a[x]=y", "a",
			"Parameter a is used both as an indexed array (like items[0]) and as an object."},
		{"name and digit keys", "items[x][price]=1&items[0][price]=2", "items", "both as an indexed array (like items[0]) and as an object"},
		{"digit and name keys in JSON object", `{"a":{"0":"x","x":"y"}}`, "a", "both as an indexed array"},
		{"names only", "a[x]=y", "a", "Invalid array"},
		{"empty JSON object", `{"a":{}}`, "a", "Invalid array"},
		{"null element in JSON object", `{"a":{"0":null}}`, "a[0]", "arrays cannot contain null"},
		{"wrong element type", "items[0]=p", "items[0]", "Invalid object"},
		{"error inside element", "items[0][price]=p&items[1][quantity]=x", "items[1][quantity]", "Invalid integer: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v Values
			var err error
			if strings.HasPrefix(tt.in, "{") {
				v, err = ParseJSON([]byte(tt.in))
			} else {
				v, err = ParseForm(tt.in)
			}
			if err != nil {
				t.Fatalf("parsing %q: %v", tt.in, err)
			}
			dst := testLists{A: []string{"default"}}
			before := dst
			err = Decode(v, &dst)
			code := invalid
			if strings.Contains(tt.msg, "Invalid integer") {
				code = tender.CodeParameterInvalidInt
			}
			wantErr(t, err, code, tt.param, tt.msg)
			if !reflect.DeepEqual(dst, before) {
				t.Errorf("dst changed after a failed Decode: %+v", dst)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const (
		invalid = tender.CodeParameterInvalid
		badInt  = tender.CodeParameterInvalidInt
		unknown = tender.CodeParameterUnknown
		missing = tender.CodeParameterMissing
	)
	req := "amount=1000&currency=usd&"
	tests := []struct {
		name  string
		in    string // JSON if it starts with '{', else a form
		code  string
		param string
		msg   string
	}{
		// Unknown parameters.
		{"unknown top level", req + "foo=1", unknown, "foo", "Received unknown parameter: foo"},
		{"unknown nested", req + "card[number]=4242&card[foo]=1", unknown, "card[foo]", "Received unknown parameter: card[foo]"},
		{"unknown deep", req + "card[number]=4242&card[billing][address][zip]=1", unknown,
			"card[billing][address][zip]", "Received unknown parameter: card[billing][address][zip]"},
		{"unknown in array element", req + "items[0][price]=p&items[0][foo]=1", unknown, "items[0][foo]",
			"Received unknown parameter: items[0][foo]"},
		{"unknown json", `{"amount":1,"currency":"usd","card":{"number":"4242","cvc":"123"}}`, unknown, "card[cvc]",
			"Received unknown parameter: card[cvc]"},
		{"ignored field is unknown", req + "Internal=x", unknown, "Internal", "Received unknown parameter: Internal"},
		{"dash tag is unknown", req + "-=x", unknown, "-", "Received unknown parameter: -"},
		{"untagged field is unknown", req + "Untagged=x", unknown, "Untagged", "Received unknown parameter: Untagged"},
		{"digit key in a struct is unknown", req + "card[number]=4242&card[0]=x", unknown, "card[0]", "Received unknown parameter: card[0]"},
		{"first error in key order", "zzz=1&aaa=1&amount=x", unknown, "aaa", "Received unknown parameter: aaa"},

		// Required parameters.
		{"missing top level", "currency=usd", missing, "amount", "Missing required param: amount."},
		{"missing all reports first declared", "", missing, "amount", "Missing required param: amount."},
		{"missing nested", req + "card[exp_month]=12", missing, "card[number]", "Missing required param: card[number]."},
		{"missing in array element", req + "items[0][price]=p&items[1][quantity]=1", missing, "items[1][price]",
			"Missing required param: items[1][price]."},
		{"json null counts as missing", `{"amount":null,"currency":"usd"}`, missing, "amount", "Missing required param: amount."},
		{"empty object still needs required fields", `{"amount":1,"currency":"usd","card":{}}`, missing, "card[number]", "Missing required param"},

		// Integers.
		{"int letters", "amount=abc&currency=usd", badInt, "amount", "Invalid integer: abc"},
		{"int empty", "amount=&currency=usd", badInt, "amount", "Invalid integer: "},
		{"int fraction", "amount=10.5&currency=usd", badInt, "amount", "Invalid integer: 10.5"},
		{"int exponent", "amount=1e3&currency=usd", badInt, "amount", "Invalid integer: 1e3"},
		{"int plus sign", "amount=%2B5&currency=usd", badInt, "amount", "Invalid integer: +5"},
		{"int hex", "amount=0x10&currency=usd", badInt, "amount", "Invalid integer: 0x10"},
		{"int underscore", "amount=1_000&currency=usd", badInt, "amount", "Invalid integer: 1_000"},
		{"int space", "amount=+5&currency=usd", badInt, "amount", "Invalid integer:  5"},
		{"int lone minus", "amount=-&currency=usd", badInt, "amount", "Invalid integer: -"},
		{"int64 overflow", "amount=9223372036854775808&currency=usd", badInt, "amount", "Invalid integer: 9223372036854775808"},
		{"int64 underflow", "amount=-9223372036854775809&currency=usd", badInt, "amount", "Invalid integer: -9223372036854775809"},
		{"int8 overflow", req + "small=128", badInt, "small", "Invalid integer: 128"},
		{"int json fraction", `{"amount":10.5,"currency":"usd"}`, badInt, "amount", "Invalid integer: 10.5"},
		{"int json exponent", `{"amount":1e3,"currency":"usd"}`, badInt, "amount", "Invalid integer: 1e3"},
		{"int json bool", `{"amount":true,"currency":"usd"}`, badInt, "amount", "Invalid integer: true"},
		{"int json object", `{"amount":{"value":1},"currency":"usd"}`, badInt, "amount", `Invalid integer: {"value":1}`},
		{"int in array", req + "numbers[0]=1&numbers[1]=x", badInt, "numbers[1]", "Invalid integer: x"},
		{"int pointer", req + "application_fee_amount=1.0", badInt, "application_fee_amount", "Invalid integer: 1.0"},
		{"int nested", req + "card[number]=4242&card[exp_month]=twelve", badInt, "card[exp_month]", "Invalid integer: twelve"},
		{"int in array of structs", req + "items[0][price]=p&items[0][quantity]=two", badInt, "items[0][quantity]", "Invalid integer: two"},
		{"int long value clipped", "amount=" + strings.Repeat("9", 100) + "&currency=usd", badInt, "amount",
			"Invalid integer: " + strings.Repeat("9", 40) + "..."},

		// Booleans.
		{"bool word", req + "confirm=yes", invalid, "confirm", "Invalid boolean: yes"},
		{"bool case", req + "confirm=True", invalid, "confirm", "Invalid boolean: True"},
		{"bool number", `{"amount":1,"currency":"usd","confirm":1}`, invalid, "confirm", "Invalid boolean: 1"},
		{"bool empty pointer", req + "capture=", invalid, "capture", "Invalid boolean: "},
		{"bool object", req + "capture[x]=true", invalid, "capture", `Invalid boolean: {"x":"true"}`},

		// Strings.
		{"string given object", "amount=1&currency[x]=usd", invalid, "currency", `Invalid string: {"x":"usd"}`},
		{"string given array", `{"amount":1,"currency":["usd"]}`, invalid, "currency", `Invalid string: ["usd"]`},
		{"string given bool", `{"amount":1,"currency":true}`, invalid, "currency", "Invalid string: true"},
		{"string given long object is clipped", req + "description[k]=" + strings.Repeat("x", 100), invalid, "description",
			`Invalid string: {"k":"` + strings.Repeat("x", 34) + "..."},
		{"string invalid UTF-8", req + "description=%FF", invalid, "description", "valid UTF-8 without NUL"},
		{"string NUL", req + "description=a%00b", invalid, "description", "valid UTF-8 without NUL"},
		{"string NUL json", `{"amount":1,"currency":"usd","description":"a\u0000b"}`, invalid, "description", "valid UTF-8 without NUL"},
		{"metadata value invalid UTF-8", req + "metadata[k]=%C3", invalid, "metadata[k]", "valid UTF-8 without NUL"},
		{"metadata value object", req + "metadata[k][x]=1", invalid, "metadata[k]", `Invalid string: {"x":"1"}`},
		{"slice element NUL", req + "expand[]=a&expand[]=%00", invalid, "expand[1]", "valid UTF-8 without NUL"},
		{"map of any checks strings", req + "extra[a][b]=%FF", invalid, "extra[a][b]", "valid UTF-8 without NUL"},
		{"any checks strings", req + "raw[]=ok&raw[]=%00", invalid, "raw[1]", "valid UTF-8 without NUL"},

		// Objects.
		{"object given string", req + "card=abc", invalid, "card", "Invalid object"},
		{"value struct given string", req + "shipping=abc", invalid, "shipping", "Invalid object"},
		{"map given string", req + "metadata=abc", invalid, "metadata", "Invalid object"},
		{"map given array", `{"amount":1,"currency":"usd","metadata":["a"]}`, invalid, "metadata", "Invalid object"},
		{"object given number", `{"amount":1,"currency":"usd","card":4242}`, invalid, "card", "Invalid object"},
		{"nested object given string", req + "card[number]=4242&card[billing]=x", invalid, "card[billing]", "Invalid object"},
		{"array element given string", req + "items[]=p", invalid, "items[0]", "Invalid object"},

		// Arrays.
		{"array given string", req + "expand=customer", invalid, "expand", "Invalid array"},
		{"array given object", req + "expand[a]=customer", invalid, "expand", "Invalid array"},
		{"array given json string", `{"amount":1,"currency":"usd","expand":"customer"}`, invalid, "expand", "Invalid array"},
		{"array of structs given string", req + "items=x", invalid, "items", "Invalid array"},
		{"null in array", `{"amount":1,"currency":"usd","expand":["a",null]}`, invalid, "expand[1]", "arrays cannot contain null"},

		// Unmarshalers.
		{"unmarshaler tender error", req + "fee=abc", "amount_invalid", "fee", "Invalid decimal amount: abc"},
		{"unmarshaler pointer", req + "fee_ptr=1.234", "amount_invalid", "fee_ptr", "Invalid decimal amount: 1.234"},
		{"unmarshaler plain error wrapped", req + "strict=no", invalid, "strict", "Invalid value for strict."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeInput(t, tt.in)
			wantErr(t, err, tt.code, tt.param, tt.msg)
		})
	}
}

func TestDecodeWrappedCause(t *testing.T) {
	var p testParams
	err := Decode(Values{"amount": "1", "currency": "usd", "strict": "no"}, &p)
	e, ok := tender.AsError(err)
	if !ok || e.Cause == nil || e.Cause.Error() != "strict says no" {
		t.Fatalf("got %v, want the Unmarshaler's error as Cause", err)
	}
}

// TestDecodeKeepsDefaultsAndIsAtomic checks that absent fields keep the
// caller's defaults, present ones replace them without writing through to
// the caller's maps, and a failed Decode changes nothing.
func TestDecodeKeepsDefaultsAndIsAtomic(t *testing.T) {
	defaults := map[string]string{"default": "1"}
	card := &testCard{Number: "old"}
	p := testParams{Currency: "eur", Count: 25, Metadata: defaults, Card: card, Internal: "keep"}

	t.Run("failure leaves dst unchanged", func(t *testing.T) {
		before := p
		err := Decode(Values{"amount": "1", "metadata": map[string]any{"k": "v"}, "card": map[string]any{"number": "new"}, "zzz": "1"}, &p)
		wantErr(t, err, tender.CodeParameterUnknown, "zzz", "Received unknown parameter: zzz")
		if !reflect.DeepEqual(p, before) || p.Card != card || !reflect.DeepEqual(defaults, map[string]string{"default": "1"}) {
			t.Errorf("dst changed after a failed Decode: %+v", p)
		}
	})
	t.Run("success replaces present fields only", func(t *testing.T) {
		err := Decode(Values{"amount": "1", "currency": "usd", "metadata": map[string]any{"k": "v"}, "card": map[string]any{"number": "new"}}, &p)
		if err != nil {
			t.Fatal(err)
		}
		if p.Amount != 1 || p.Currency != "usd" || p.Count != 25 || p.Internal != "keep" {
			t.Errorf("defaults not kept: %+v", p)
		}
		if !reflect.DeepEqual(p.Metadata, map[string]string{"k": "v"}) || !reflect.DeepEqual(defaults, map[string]string{"default": "1"}) {
			t.Errorf("metadata = %v, caller's map now %v", p.Metadata, defaults)
		}
		if p.Card == card || card.Number != "old" || p.Card.Number != "new" {
			t.Errorf("card not replaced cleanly: got %+v, caller's %+v", p.Card, card)
		}
	})
}

func TestDecodeHandBuiltValues(t *testing.T) {
	var p testParams
	err := Decode(Values{"amount": json.Number("5"), "currency": "usd", "card": Values{"number": "1"}, "raw": Values{"a": "b"}}, &p)
	if err != nil {
		t.Fatal(err)
	}
	if p.Amount != 5 || p.Card.Number != "1" {
		t.Errorf("got %+v", p)
	}
	wantErr(t, Decode(nil, &p), tender.CodeParameterMissing, "amount", "Missing required param: amount.")
}

type testNode struct {
	Name     string     `param:"name"`
	Children []testNode `param:"children"`
}

type testTree struct {
	Root testNode `param:"root"`
}

func TestDecodeRecursiveType(t *testing.T) {
	v, err := ParseForm("root[name]=a&root[children][0][name]=b&root[children][0][children][0][name]=c")
	if err != nil {
		t.Fatal(err)
	}
	var got testTree
	if err := Decode(v, &got); err != nil {
		t.Fatal(err)
	}
	want := testTree{testNode{"a", []testNode{{"b", []testNode{{Name: "c"}}}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// Destination structs with programming mistakes; Decode must report them
// as internal errors, never panic, and never blame the client.
type (
	badFloat struct {
		F float64 `param:"f"`
	}
	badNested struct {
		N *struct {
			C chan int `param:"c"`
		} `param:"n"`
	}
	badDup struct {
		A string `param:"a"`
		B string `param:"a"`
	}
	badOption struct {
		A string `param:"a,omitempty"`
	}
	badEmptyName struct {
		A string `param:",required"`
	}
	badUnexported struct {
		a string `param:"a"`
	}
	badInterface struct {
		E error `param:"e"`
	}
	badMapKey struct {
		M map[int]string `param:"m"`
	}
)

func TestDecodeProgrammingErrors(t *testing.T) {
	var s string
	tests := []struct {
		name string
		dst  any
	}{
		{"nil", nil},
		{"not a pointer", testParams{}},
		{"nil pointer", (*testParams)(nil)},
		{"pointer to non-struct", &s},
		{"float field", &badFloat{}},
		{"unsupported nested field", &badNested{}},
		{"duplicate name", &badDup{}},
		{"unknown option", &badOption{}},
		{"empty name", &badEmptyName{}},
		{"tagged unexported field", &badUnexported{}},
		{"non-empty interface", &badInterface{}},
		{"non-string map key", &badMapKey{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second call hits the type cache
				err := Decode(Values{}, tt.dst)
				e, ok := tender.AsError(err)
				if !ok || e.Type != tender.APIError || e.Cause == nil {
					t.Fatalf("got %v, want an internal error", err)
				}
			}
		})
	}
	_ = badUnexported{}.a
}
