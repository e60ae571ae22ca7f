package tender

import (
	"database/sql"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/currency"
)

// moneyWantErr fails t unless err is a client-facing *Error with the given
// code and param, which is what the API layer turns into Stripe's error.
func moneyWantErr(t *testing.T, err error, code, param string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s on %q", code, param)
	}
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *tender.Error", err, err)
	}
	if e.Type != InvalidRequestError || e.Code != code || e.Param != param {
		t.Fatalf("got %s/%s on %q (%q), want %s/%s on %q",
			e.Type, e.Code, e.Param, e.Message, InvalidRequestError, code, param)
	}
	return e
}

func TestCurrencyExponents(t *testing.T) {
	tests := []struct {
		code string
		exp  int
	}{
		{"USD", 2}, {"EUR", 2}, {"JPY", 0}, {"KRW", 0}, {"KWD", 3},
		{"BHD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3}, {"KES", 2},
		{"CLP", 0}, {"VND", 0}, {"ISK", 0}, {"GBP", 2},
		// Where CLDR and ISO 4217 disagree, ISO wins (see isoMinorUnits).
		{"COP", 2}, {"IDR", 2}, {"IQD", 3}, {"MGA", 2}, {"PKR", 2},
		// Cash rounding differs from standard for these; minor units do not.
		{"HUF", 2}, {"TWD", 2}, {"CZK", 2}, {"CHF", 2},
		// Newer than x/text's CLDR data.
		{"MRU", 2}, {"VES", 2}, {"SLE", 2}, {"ZWG", 2}, {"XCG", 2},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			c, err := ParseCurrency(tt.code, "currency")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Exponent(); got != tt.exp {
				t.Errorf("Exponent() = %d, want %d", got, tt.exp)
			}
		})
	}
}

// TestCurrencyTableMatchesISO4217 checks every accepted currency, not just a
// sample, against ISO 4217 List One, in which every national currency has 2
// minor units except the ones below. A new x/text release with different
// CLDR data would show up here.
func TestCurrencyTableMatchesISO4217(t *testing.T) {
	notTwo := map[string]int{
		"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
		"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
		"KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0,
		"XOF": 0, "XPF": 0,
	}
	for code := range notTwo {
		if _, err := ParseCurrency(code, "currency"); err != nil {
			t.Errorf("%s: %v", code, err)
		}
	}
	for _, info := range currencyTab.list {
		want, ok := notTwo[info.upper]
		if !ok {
			want = 2
		}
		if info.exp != want {
			t.Errorf("%s: exponent %d, ISO 4217 says %d", info.upper, info.exp, want)
		}
	}
	if n := len(currencyTab.list); n < 150 {
		t.Errorf("only %d currencies accepted; x/text's query of current tender looks broken", n)
	}
}

// TestCurrencyOverridesStillNeeded keeps the hand-typed corrections honest:
// each must still correct something in x/text, or it should be deleted.
func TestCurrencyOverridesStillNeeded(t *testing.T) {
	current := map[string]bool{}
	for it := currency.Query(); it.Next(); {
		current[it.Unit().String()] = true
	}
	for code, exp := range isoMinorUnits {
		u, err := currency.ParseISO(code)
		if err != nil || !current[code] {
			continue // x/text does not know it as a currency of today
		}
		if scale, _ := currency.Standard.Rounding(u); scale == exp {
			t.Errorf("isoMinorUnits[%q] = %d is what x/text now says; delete the entry", code, exp)
		}
	}
	for _, code := range isoWithdrawn {
		if !current[code] {
			t.Errorf("x/text no longer lists %s as current; delete it from isoWithdrawn", code)
		}
	}
}

func TestParseCurrencyAnyCase(t *testing.T) {
	usd := MustCurrency("usd")
	for _, s := range []string{"usd", "USD", "Usd", "uSd", "usD"} {
		t.Run(s, func(t *testing.T) {
			c, err := ParseCurrency(s, "currency")
			if err != nil {
				t.Fatal(err)
			}
			if c != usd {
				t.Errorf("ParseCurrency(%q) = %v, not the same Currency as usd", s, c)
			}
			if c.Code() != "usd" || c.String() != "usd" || c.Upper() != "USD" {
				t.Errorf("Code/String/Upper = %q/%q/%q", c.Code(), c.String(), c.Upper())
			}
			if c.IsZero() {
				t.Error("IsZero() = true")
			}
		})
	}
}

func TestParseCurrencyRejects(t *testing.T) {
	for _, s := range []string{
		// Not currencies of today: no currency, testing, precious metals,
		// other X-codes, funds, and historical or withdrawn codes.
		"XXX", "xts", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA",
		"CLF", "UYI", "BOV", "CHE", "USN", "MXV",
		"DEM", "FRF", "ESP", "ITL", "LTL", "BYR", "STD", "ZWL", "ZWD", "SVC",
		"HRK", "CUC", "MRO", "VEF", "SLL",
		// Not codes at all.
		"", "us", "usdd", " usd", "usd ", "u d", "u$d", "123", "ÜSD", "usd\x00",
		"abc", "zzz", "@SD", "[SD", "\xd5sd",
	} {
		t.Run(s, func(t *testing.T) {
			c, err := ParseCurrency(s, "order[currency]")
			e := moneyWantErr(t, err, CodeInvalidCurrency, "order[currency]")
			if !c.IsZero() {
				t.Errorf("got non-zero Currency %v with the error", c)
			}
			if !strings.HasPrefix(e.Message, "Invalid currency: ") {
				t.Errorf("message %q", e.Message)
			}
		})
	}
}

func TestParseCurrencyEchoesInputSafely(t *testing.T) {
	_, err := ParseCurrency("xyz", "currency")
	if e, _ := AsError(err); !strings.HasPrefix(e.Message, "Invalid currency: xyz. ") {
		t.Errorf("message %q: want the code verbatim, as Stripe", e.Message)
	}
	_, err = ParseCurrency(" usd", "currency")
	if e, _ := AsError(err); !strings.HasPrefix(e.Message, `Invalid currency: " usd". `) {
		t.Errorf("message %q: want the space made visible", e.Message)
	}
	_, err = ParseCurrency(strings.Repeat("a", 1<<20), "currency")
	if e, _ := AsError(err); len(e.Message) > 200 {
		t.Errorf("message of %d bytes reflects the whole input", len(e.Message))
	}
}

func TestMustCurrencyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCurrency(\"xxx\") did not panic")
		}
	}()
	MustCurrency("xxx")
}

func TestCurrencyZero(t *testing.T) {
	var c Currency
	if !c.IsZero() || c.Code() != "" || c.Upper() != "" || c.String() != "" || c.Exponent() != 0 {
		t.Errorf("zero Currency: %v %q %q %q %d", c.IsZero(), c.Code(), c.Upper(), c, c.Exponent())
	}
	_, err := ParseDecimal("1", c, "amount")
	if e, ok := AsError(err); !ok || e.Type != APIError {
		t.Errorf("ParseDecimal with zero Currency: %v, want an internal api_error", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("FormatDecimal with zero Currency did not panic")
		}
	}()
	FormatDecimal(1, c)
}

func TestCurrencyJSON(t *testing.T) {
	type obj struct {
		Currency Currency  `json:"currency"`
		Refund   Currency  `json:"refund_currency,omitzero"`
		Ptr      *Currency `json:"ptr,omitempty"`
	}
	b, err := json.Marshal(obj{Currency: MustCurrency("EUR")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"currency":"eur"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	if b, _ := json.Marshal(obj{}); string(b) != `{"currency":null}` {
		t.Errorf("Marshal of zero = %s", b)
	}

	var o obj
	if err := json.Unmarshal([]byte(`{"currency":"JPY","ptr":"kwd"}`), &o); err != nil {
		t.Fatal(err)
	}
	if o.Currency != MustCurrency("jpy") || o.Ptr == nil || *o.Ptr != MustCurrency("kwd") {
		t.Errorf("Unmarshal = %+v", o)
	}
	o = obj{Currency: MustCurrency("usd")}
	if err := json.Unmarshal([]byte(`{"currency":null}`), &o); err != nil || o.Currency != MustCurrency("usd") {
		t.Errorf("null: %v, %v; want no error and no change", err, o.Currency)
	}

	for _, in := range []string{`{"currency":"xxx"}`, `{"currency":"us d"}`, `{"currency":840}`, `{"currency":["usd"]}`} {
		t.Run(in, func(t *testing.T) {
			var o obj
			err := json.Unmarshal([]byte(in), &o)
			moneyWantErr(t, err, CodeInvalidCurrency, "currency")
		})
	}
}

func TestCurrencySQL(t *testing.T) {
	v, err := MustCurrency("KES").Value()
	if err != nil || v != "kes" {
		t.Errorf("Value() = %v, %v; want \"kes\"", v, err)
	}
	if _, err := (Currency{}).Value(); err == nil {
		t.Error("Value() of the zero Currency succeeded")
	} else if e, ok := AsError(err); !ok || e.Type != APIError {
		t.Errorf("Value() of zero: %v, want an internal api_error", err)
	}

	for _, src := range []any{"bhd", []byte("BHD")} {
		var c Currency
		if err := c.Scan(src); err != nil || c != MustCurrency("bhd") {
			t.Errorf("Scan(%#v) = %v, %v", src, c, err)
		}
	}
	for _, src := range []any{"xxx", []byte(""), nil, 3} {
		var c Currency
		err := c.Scan(src)
		if e, ok := AsError(err); !ok || e.Type != APIError {
			t.Errorf("Scan(%#v) = %v, want an internal api_error", src, err)
		}
	}

	// Nullable columns go through sql.Null, which must not call our Scan
	// with nil.
	var n sql.Null[Currency]
	if err := n.Scan(nil); err != nil || n.Valid {
		t.Errorf("sql.Null[Currency].Scan(nil) = %v, valid %v", err, n.Valid)
	}
	if err := n.Scan("omr"); err != nil || !n.Valid || n.V != MustCurrency("omr") {
		t.Errorf("sql.Null[Currency].Scan(\"omr\") = %v, %+v", err, n)
	}
}

func TestCheckAmount(t *testing.T) {
	tests := []struct {
		minor int64
		code  string // "" for valid
	}{
		{1, ""},
		{5000, ""},
		{MaxAmount, ""},
		{0, CodeAmountTooSmall},
		{-1, CodeAmountTooSmall},
		{math.MinInt64, CodeAmountTooSmall},
		{MaxAmount + 1, CodeAmountTooLarge},
		{math.MaxInt64, CodeAmountTooLarge},
	}
	for _, tt := range tests {
		t.Run(FormatDecimal(tt.minor, MustCurrency("jpy")), func(t *testing.T) {
			err := CheckAmount(tt.minor, "amount")
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			moneyWantErr(t, err, tt.code, "amount")
		})
	}
}

func TestParseDecimalRoundTrip(t *testing.T) {
	tests := []struct {
		cur   string
		in    string
		minor int64
		out   string // FormatDecimal of minor
	}{
		{"usd", "50", 5000, "50.00"},
		{"usd", "50.0", 5000, "50.00"},
		{"usd", "50.00", 5000, "50.00"},
		{"usd", "0.5", 50, "0.50"},
		{"usd", "0.01", 1, "0.01"},
		{"usd", "10.1", 1010, "10.10"},
		{"usd", "007.50", 750, "7.50"},
		{"usd", "999999.99", 99_999_999, "999999.99"},
		{"jpy", "500", 500, "500"},
		{"jpy", "1", 1, "1"},
		{"jpy", "99999999", 99_999_999, "99999999"},
		{"kwd", "1.250", 1250, "1.250"},
		{"kwd", "1.25", 1250, "1.250"},
		{"kwd", "0.001", 1, "0.001"},
		{"kwd", "99999.999", 99_999_999, "99999.999"},
		{"kes", "1500", 150000, "1500.00"},
		{"kes", "1500.5", 150050, "1500.50"},
		{"kes", "0.05", 5, "0.05"},
	}
	for _, tt := range tests {
		c := MustCurrency(tt.cur)
		t.Run(c.Upper()+" "+tt.in, func(t *testing.T) {
			got, err := ParseDecimal(tt.in, c, "amount")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.minor {
				t.Fatalf("ParseDecimal = %d, want %d", got, tt.minor)
			}
			s := FormatDecimal(got, c)
			if s != tt.out {
				t.Fatalf("FormatDecimal(%d) = %q, want %q", got, s, tt.out)
			}
			if again, err := ParseDecimal(s, c, "amount"); err != nil || again != got {
				t.Fatalf("ParseDecimal(%q) = %d, %v; want %d", s, again, err, got)
			}
		})
	}
}

func TestParseDecimalRejects(t *testing.T) {
	tests := []struct {
		cur, in, code string
	}{
		{"usd", "", CodeParameterInvalidEmpty},
		{"usd", "10.001", CodeParameterInvalid},
		{"usd", "10.000", CodeParameterInvalid},
		{"usd", "0.001", CodeParameterInvalid},
		{"jpy", "500.0", CodeParameterInvalid},
		{"kwd", "1.2500", CodeParameterInvalid},
		{"usd", "-5", CodeAmountTooSmall},
		{"usd", "-0.01", CodeAmountTooSmall},
		{"usd", "-0", CodeAmountTooSmall},
		{"usd", "0", CodeAmountTooSmall},
		{"usd", "0.00", CodeAmountTooSmall},
		{"jpy", "0", CodeAmountTooSmall},
		{"usd", "1000000.00", CodeAmountTooLarge},
		{"usd", "1000000", CodeAmountTooLarge},
		{"jpy", "100000000", CodeAmountTooLarge},
		{"kwd", "100000.000", CodeAmountTooLarge},
		{"usd", "99999999999999999999999999999", CodeAmountTooLarge},
		{"usd", "9223372036854775808", CodeAmountTooLarge},
		{"usd", "+5", CodeParameterInvalid},
		{"usd", "--5", CodeParameterInvalid},
		{"usd", "-", CodeParameterInvalid},
		{"usd", "1e3", CodeParameterInvalid},
		{"usd", "1E3", CodeParameterInvalid},
		{"usd", " 5", CodeParameterInvalid},
		{"usd", "5 ", CodeParameterInvalid},
		{"usd", "5 .00", CodeParameterInvalid},
		{"usd", "NaN", CodeParameterInvalid},
		{"usd", "Inf", CodeParameterInvalid},
		{"usd", "-Inf", CodeParameterInvalid},
		{"usd", ".5", CodeParameterInvalid},
		{"usd", "5.", CodeParameterInvalid},
		{"usd", ".", CodeParameterInvalid},
		{"usd", "1.2.3", CodeParameterInvalid},
		{"usd", "1,000", CodeParameterInvalid},
		{"usd", "1_000", CodeParameterInvalid},
		{"usd", "0x10", CodeParameterInvalid},
		{"usd", "１０", CodeParameterInvalid},
		{"usd", "$5", CodeParameterInvalid},
		{"usd", "5\x00", CodeParameterInvalid},
	}
	for _, tt := range tests {
		c := MustCurrency(tt.cur)
		t.Run(c.Upper()+" "+tt.in, func(t *testing.T) {
			got, err := ParseDecimal(tt.in, c, "amount")
			moneyWantErr(t, err, tt.code, "amount")
			if got != 0 {
				t.Errorf("returned %d with the error", got)
			}
		})
	}
}

func TestParseDecimalMessages(t *testing.T) {
	tests := []struct {
		cur, in, want string
	}{
		{"usd", "10.000", "USD amounts allow at most 2 decimal places"},
		{"kwd", "1.0000", "KWD amounts allow at most 3 decimal places"},
		{"jpy", "5.5", "JPY amounts allow no decimal places"},
		{"usd", "-5", "must be positive"},
		{"usd", "0", "at least 0.01 USD"},
		{"usd", "1000000", "no more than 999999.99 USD"},
		{"jpy", "1e3", "such as 12:"},
		{"usd", "1e3", "such as 12.34:"},
	}
	for _, tt := range tests {
		t.Run(tt.cur+" "+tt.in, func(t *testing.T) {
			_, err := ParseDecimal(tt.in, MustCurrency(tt.cur), "amount")
			e, ok := AsError(err)
			if !ok || !strings.Contains(e.Message, tt.want) {
				t.Errorf("error %v; want message containing %q", err, tt.want)
			}
		})
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		cur   string
		minor int64
		want  string
	}{
		{"usd", 5000, "50.00"},
		{"usd", 5, "0.05"},
		{"usd", 50, "0.50"},
		{"usd", 0, "0.00"},
		{"usd", -5, "-0.05"},
		{"usd", -12345, "-123.45"},
		{"jpy", 500, "500"},
		{"jpy", 0, "0"},
		{"jpy", -7, "-7"},
		{"kwd", 1250, "1.250"},
		{"kwd", 1, "0.001"},
		{"kwd", -1, "-0.001"},
		{"kes", 99_999_999, "999999.99"},
		{"usd", math.MaxInt64, "92233720368547758.07"},
		{"usd", math.MinInt64, "-92233720368547758.08"},
		{"jpy", math.MinInt64, "-9223372036854775808"},
	}
	for _, tt := range tests {
		c := MustCurrency(tt.cur)
		t.Run(c.Upper()+" "+tt.want, func(t *testing.T) {
			if got := FormatDecimal(tt.minor, c); got != tt.want {
				t.Errorf("FormatDecimal(%d) = %q, want %q", tt.minor, got, tt.want)
			}
		})
	}
}

// TestDecimalRoundTripProperty checks that FormatDecimal then ParseDecimal is
// the identity on the whole accepted range, with a fixed seed so that a
// failure can be reproduced.
func TestDecimalRoundTripProperty(t *testing.T) {
	const seed = 20240611
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, code := range []string{"usd", "jpy", "kwd", "kes"} {
		c := MustCurrency(code)
		t.Run(c.Upper(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(c.Exponent())))
			check := func(minor int64) {
				s := FormatDecimal(minor, c)
				got, err := ParseDecimal(s, c, "amount")
				if err != nil || got != minor {
					t.Fatalf("ParseDecimal(FormatDecimal(%d) = %q) = %d, %v (seed %d)", minor, s, got, err, seed)
				}
			}
			check(1)
			check(MaxAmount)
			for range n {
				check(1 + r.Int64N(MaxAmount))
			}
		})
	}
}

func TestParseCurrencyDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseCurrency("Usd", "currency"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseCurrency allocates %.0f times per call", allocs)
	}
	usd := MustCurrency("usd")
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := ParseDecimal("1234.56", usd, "amount"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseDecimal allocates %.0f times per call", allocs)
	}
}

// moneyFuzzCurrencies are the exponents the fuzzer explores: 2, 0, 3, and a
// second 2 with different digits in its name.
var moneyFuzzCurrencies = []string{"usd", "jpy", "kwd", "kes"}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{
		"50", "50.0", "50.00", "0.5", "1.250", "999999.99", "1000000.00",
		"99999999", "10.001", "10.000", "0", "-5", "+5", "1e3", " 5", "",
		"NaN", "Inf", ".5", "5.", "0000000000000000000001", "-0", "1.2.3",
	} {
		for i := range moneyFuzzCurrencies {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		c := MustCurrency(moneyFuzzCurrencies[int(which)%len(moneyFuzzCurrencies)])
		v, err := ParseDecimal(s, c, "amount")
		if err != nil {
			e, ok := AsError(err)
			if !ok || e.Type != InvalidRequestError || e.Param != "amount" {
				t.Fatalf("ParseDecimal(%q, %s): bad error %#v", s, c, err)
			}
			switch e.Code {
			case CodeParameterInvalid, CodeParameterInvalidEmpty, CodeAmountTooSmall, CodeAmountTooLarge:
			default:
				t.Fatalf("ParseDecimal(%q, %s): unexpected code %q", s, c, e.Code)
			}
			return
		}
		if v < 1 || v > MaxAmount {
			t.Fatalf("ParseDecimal(%q, %s) = %d, outside [1, MaxAmount]", s, c, v)
		}
		out := FormatDecimal(v, c)
		if want := moneyCanonical(s, c.Exponent()); out != want {
			t.Fatalf("ParseDecimal(%q, %s) = %d, which formats as %q, not %q", s, c, v, out, want)
		}
		if again, err := ParseDecimal(out, c, "amount"); err != nil || again != v {
			t.Fatalf("ParseDecimal(%q) = %d, %v; want %d", out, again, err, v)
		}
	})
}

// moneyCanonical rewrites an accepted decimal the way FormatDecimal would,
// by string manipulation alone, so the fuzzer compares ParseDecimal with an
// independent reading of the same text.
func moneyCanonical(s string, exp int) string {
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	if exp == 0 {
		return whole
	}
	return whole + "." + frac + strings.Repeat("0", exp-len(frac))
}

func BenchmarkParseDecimal(b *testing.B) {
	usd := MustCurrency("usd")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDecimal("123456.78", usd, "amount"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatDecimal(b *testing.B) {
	usd := MustCurrency("usd")
	b.ReportAllocs()
	for b.Loop() {
		_ = FormatDecimal(12345678, usd)
	}
}

func BenchmarkParseCurrency(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCurrency("USD", "currency"); err != nil {
			b.Fatal(err)
		}
	}
}
