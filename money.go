package tender

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// Money in Tender is an int64 count of a currency's minor units. Floats never
// appear: a binary float cannot hold 0.10 exactly, and a payments ledger that
// is off by a cent is wrong, not approximately right. Decimal text is only an
// input and output format (the "simple" API), converted exactly at the edge by
// ParseDecimal and FormatDecimal.

// Currency is an ISO 4217 currency in use today, with its number of minor
// units. The zero value is invalid: it is what an unset field holds, so code
// that receives a Currency can tell "not given" from every real currency.
type Currency struct {
	// A pointer to the one shared record per currency keeps Currency one word
	// wide, comparable with ==, and lets Upper return without allocating.
	info *currencyInfo
}

type currencyInfo struct {
	lower, upper string
	exp          int
}

// ParseCurrency returns the currency for a three-letter ISO 4217 code in any
// case ("usd", "USD", "Usd"). It trims nothing, because a client that sends
// " usd" has a bug we should report rather than hide. Codes that are not a
// currency of today (XXX, XTS, precious metals, funds such as CLF, and
// withdrawn codes such as HRK) are rejected with CodeInvalidCurrency, naming
// param. It does not allocate unless it fails.
func ParseCurrency(s, param string) (Currency, error) {
	if len(s) == 3 {
		if k, ok := currencyKey(s[0], s[1], s[2]); ok {
			if i := currencyTab.byKey[k]; i != 0 {
				return Currency{&currencyTab.list[i-1]}, nil
			}
		}
	}
	return Currency{}, InvalidParam(CodeInvalidCurrency, param,
		"Invalid currency: %s. Currencies are three-letter ISO 4217 codes in use today, such as usd, eur or jpy.",
		moneyEcho(s))
}

// MustCurrency is ParseCurrency for codes written in the source, such as
// package-level variables and tests, where a bad code is a programming error.
func MustCurrency(s string) Currency {
	c, err := ParseCurrency(s, "currency")
	if err != nil {
		panic("tender: MustCurrency(" + strconv.Quote(s) + "): " + err.Error())
	}
	return c
}

// Code is the lower-case code that the canonical, Stripe-compatible API uses.
// It is "" for the zero Currency.
func (c Currency) Code() string {
	if c.info == nil {
		return ""
	}
	return c.info.lower
}

// Upper is the upper-case code that the simple API uses. It is "" for the
// zero Currency.
func (c Currency) Upper() string {
	if c.info == nil {
		return ""
	}
	return c.info.upper
}

// Exponent is the number of minor-unit digits, as ISO 4217 defines them: 2
// for USD (cents), 0 for JPY, 3 for KWD. It is 0 for the zero Currency, which
// ParseDecimal and FormatDecimal refuse rather than guess.
func (c Currency) Exponent() int {
	if c.info == nil {
		return 0
	}
	return c.info.exp
}

// IsZero reports whether c is the zero (unset, invalid) Currency. It also
// lets encoding/json's omitzero option drop an unset currency.
func (c Currency) IsZero() bool { return c.info == nil }

// String returns the lower-case code, so that %v and %s print what the
// canonical API would.
func (c Currency) String() string { return c.Code() }

// MarshalJSON writes the lower-case code, as Stripe does. The zero Currency
// is written as null rather than "", which would read back as invalid.
func (c Currency) MarshalJSON() ([]byte, error) {
	if c.info == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(c.info.lower)+2)
	b = append(b, '"')
	b = append(b, c.info.lower...)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a JSON string holding a code in any case, reporting
// a bad one as CodeInvalidCurrency on param "currency". A JSON null leaves c
// unchanged, as encoding/json expects of unmarshalers; callers that require
// a currency check IsZero.
func (c *Currency) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return InvalidParam(CodeInvalidCurrency, "currency",
			"Invalid currency: %s. Currency must be a string holding a three-letter ISO 4217 code, such as \"usd\".",
			moneyEcho(string(data)))
	}
	v, err := ParseCurrency(s, "currency")
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Value stores the lower-case code. Storing the zero Currency is refused
// rather than written as NULL or "", because either would hide a missing
// currency until someone reads the row; a nullable column takes *Currency or
// sql.Null[Currency].
func (c Currency) Value() (driver.Value, error) {
	if c.info == nil {
		return nil, Internal(errors.New("tender: storing the zero Currency"))
	}
	return c.info.lower, nil
}

// Scan reads a code stored by Value (or in any case). A NULL or an unknown
// code means the database holds something Tender never wrote, so it is an
// internal error, not a client's.
func (c *Currency) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
		return Internal(errors.New("tender: scanning a NULL currency; use *Currency or sql.Null[Currency] for a nullable column"))
	default:
		return Internal(fmt.Errorf("tender: cannot scan %T into Currency", src))
	}
	v, err := ParseCurrency(s, "currency")
	if err != nil {
		return Internal(fmt.Errorf("tender: scanning currency: %w", err))
	}
	*c = v
	return nil
}

// MaxAmount is the largest amount, in minor units, that Tender accepts by
// default: 99,999,999, as Stripe (e.g. $999,999.99 or ¥99,999,999). Keeping
// it far below int64's range also means sums of a few amounts cannot
// overflow.
const MaxAmount int64 = 99_999_999

// CheckAmount validates a charge amount given in minor units, as the
// canonical API receives it: it must be at least 1 and at most MaxAmount.
// Errors name param, so the client knows which field to fix.
func CheckAmount(minor int64, param string) error {
	if minor < 1 {
		return InvalidParam(CodeAmountTooSmall, param,
			"Amount must be at least 1 (a positive number of the currency's smallest unit, e.g. cents); got %d.", minor)
	}
	if minor > MaxAmount {
		return InvalidParam(CodeAmountTooLarge, param,
			"Amount must be no more than %d (in the currency's smallest unit, e.g. cents); got %d.", MaxAmount, minor)
	}
	return nil
}

// ParseDecimal converts a decimal amount in major units ("50.00" dollars)
// into minor units of c (5000 cents), exactly, as the simple API receives
// amounts. It accepts only digits with at most one '.', which must have
// digits on both sides: no sign, exponent, spaces, separators, NaN or Inf,
// because each of those is either ambiguous or a client bug. More fraction
// digits than c allows are rejected even when they are zeros ("10.000" USD):
// silently accepting precision we cannot store would invite a client to send
// "10.005" next and lose half a cent. The result is within [1, MaxAmount].
//
// Malformed text gets CodeParameterInvalid (CodeParameterInvalidEmpty for
// ""), a value below one minor unit CodeAmountTooSmall and a value above
// MaxAmount CodeAmountTooLarge; every error names param.
func ParseDecimal(s string, c Currency, param string) (int64, error) {
	if c.info == nil {
		return 0, Internal(errors.New("tender: ParseDecimal with the zero Currency"))
	}
	exp := c.info.exp
	if s == "" {
		return 0, InvalidParam(CodeParameterInvalidEmpty, param,
			"You passed an empty string for '%s'; send an amount such as %s.", param, decimalExample(exp))
	}
	body := s
	neg := body[0] == '-'
	if neg {
		body = body[1:]
	}
	whole, frac, dot := strings.Cut(body, ".")
	if !allDigits(whole) || (dot && !allDigits(frac)) {
		return 0, InvalidParam(CodeParameterInvalid, param,
			"Invalid amount: %s. Send a plain decimal number of %s such as %s: digits with at most one '.', and no sign, exponent or spaces.",
			moneyEcho(s), c.info.upper, decimalExample(exp))
	}
	if len(frac) > exp {
		return 0, InvalidParam(CodeParameterInvalid, param,
			"Invalid amount: %s. %s.", moneyEcho(s), precisionRule(c))
	}

	// Saturating at MaxAmount keeps v far from int64 overflow however many
	// digits arrive; the syntax is already known to be good, so stopping
	// early loses nothing.
	var v int64
	over := false
	digit := func(d byte) bool {
		v = v*10 + int64(d-'0')
		over = v > MaxAmount
		return !over
	}
	ok := true
	for i := 0; ok && i < len(whole); i++ {
		ok = digit(whole[i])
	}
	for i := 0; ok && i < exp; i++ {
		d := byte('0')
		if i < len(frac) {
			d = frac[i]
		}
		ok = digit(d)
	}

	if neg || v == 0 {
		return 0, InvalidParam(CodeAmountTooSmall, param,
			"Amount must be positive: at least %s %s; got %s.", FormatDecimal(1, c), c.info.upper, moneyEcho(s))
	}
	if over {
		return 0, InvalidParam(CodeAmountTooLarge, param,
			"Amount must be no more than %s %s; got %s.", FormatDecimal(MaxAmount, c), c.info.upper, moneyEcho(s))
	}
	return v, nil
}

// FormatDecimal renders minor units of c as a decimal in major units with
// exactly c.Exponent() fraction digits (5000 USD is "50.00", 500 JPY "500",
// 1250 KWD "1.250", -5 USD "-0.05"), so that ParseDecimal reads it back
// unchanged. It panics on the zero Currency, which has no exponent to use:
// printing the digits with a guessed one would misstate the amount.
func FormatDecimal(minor int64, c Currency) string {
	if c.info == nil {
		panic("tender: FormatDecimal with the zero Currency")
	}
	exp := c.info.exp
	// Negating in uint64 is what makes math.MinInt64 safe.
	u := uint64(minor)
	if minor < 0 {
		u = -u
	}
	var digits [24]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	var buf [32]byte
	b := buf[:0]
	if minor < 0 {
		b = append(b, '-')
	}
	if len(d) > exp {
		b = append(b, d[:len(d)-exp]...)
		if exp > 0 {
			b = append(b, '.')
			b = append(b, d[len(d)-exp:]...)
		}
		return string(b)
	}
	// Less than one major unit: "0." and zeros up to exp digits.
	b = append(b, '0', '.')
	for n := len(d); n < exp; n++ {
		b = append(b, '0')
	}
	b = append(b, d...)
	return string(b)
}

// decimalExample is an amount in c's precision for error messages, so that
// a JPY client is not told to send "12.34".
func decimalExample(exp int) string {
	if exp == 0 {
		return "12"
	}
	return "12." + "3456789"[:min(exp, 7)]
}

// precisionRule says how many decimals c allows, which is the one thing a
// client needs to fix an over-precise amount.
func precisionRule(c Currency) string {
	switch c.info.exp {
	case 0:
		return c.info.upper + " amounts allow no decimal places"
	case 1:
		return c.info.upper + " amounts allow at most 1 decimal place"
	}
	return c.info.upper + " amounts allow at most " + strconv.Itoa(c.info.exp) + " decimal places"
}

// allDigits reports whether s is one or more ASCII digits. Unicode digits
// are refused on purpose: "１０" is not an amount any client means to send.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// moneyEcho prepares client input for an error message: short, printable
// input verbatim as Stripe does ("Invalid currency: xyz."), anything else
// quoted and cut, so that a message can neither carry control characters
// into logs nor reflect a megabyte back.
func moneyEcho(s string) string {
	const limit = 32
	plain := s != "" && len(s) <= limit
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] > ' ' && s[i] < 0x7f
	}
	if plain {
		return s
	}
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

// The currency table is built once from golang.org/x/text/currency (CLDR
// data), corrected to ISO 4217 where they differ.
//
// It is a package-level variable rather than something filled in by init so
// that Go's dependency ordering builds it before any other package-level
// variable that calls MustCurrency, in whatever file that variable lives.
var currencyTab = newCurrencyTable()

// currencyTable maps a three-letter code to its record without hashing or
// allocating: byKey is indexed by the code read as a base-26 number and holds
// 1 + the record's index in list, 0 meaning "not a currency".
type currencyTable struct {
	byKey [26 * 26 * 26]uint8
	list  []currencyInfo
}

// currencyKey folds case and turns a code into a byKey index. ORing 0x20
// maps exactly the ASCII letters, and no other byte, into 'a'..'z'.
func currencyKey(a, b, c byte) (int, bool) {
	a, b, c = a|0x20, b|0x20, c|0x20
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' || c < 'a' || c > 'z' {
		return 0, false
	}
	return (int(a-'a')*26+int(b-'a'))*26 + int(c-'a'), true
}

// isoMinorUnits holds ISO 4217 List One's minor units for the currencies of
// today where x/text's CLDR data (version 32, of 2017) disagrees or has no
// entry. ISO 4217 is the authority: Stripe and card networks count minor
// units by it, and CLDR's "digits" describes how amounts are usually
// displayed, which for these currencies drops a minor unit that still exists
// in ISO 4217 and in payment messages.
//
// Keep this small: an entry exists only because x/text is wrong or stale for
// that code, and TestCurrencyOverridesStillNeeded fails once x/text catches
// up, so the entry can be deleted.
var isoMinorUnits = map[string]int{
	// CLDR gives 0 digits; ISO 4217 List One gives these minor units.
	"AFN": 2, "ALL": 2, "AMD": 2, "COP": 2, "GYD": 2, "IDR": 2, "IRR": 2,
	"KPW": 2, "LAK": 2, "LBP": 2, "MGA": 2, "MMK": 2, "MNT": 2, "MUR": 2,
	"PKR": 2, "RSD": 2, "SOS": 2, "SYP": 2, "TZS": 2, "UZS": 2, "YER": 2,
	"IQD": 3,

	// Added to ISO 4217 List One after CLDR 32, unknown to x/text.
	"MRU": 2, // Mauritania, replaced MRO in 2018
	"VES": 2, // Venezuela, replaced VEF in 2018
	"VED": 2, // Venezuela, digital bolívar (ISO 4217 amendment 170, 2021)
	"SLE": 2, // Sierra Leone, replaced SLL (ISO 4217 amendment 171, 2022)
	"ZWG": 2, // Zimbabwe Gold, replaced ZWL (ISO 4217 amendment 177, 2024)
	"XCG": 2, // Caribbean guilder, Curaçao and Sint Maarten, 2025
}

// isoWithdrawn are codes that CLDR 32 still lists as legal tender but ISO
// 4217 has since withdrawn from List One, so they are not currencies of
// today.
var isoWithdrawn = []string{
	"HRK", // Croatia adopted the euro in 2023 (ISO 4217 amendment 174)
	"CUC", // Cuba withdrew the convertible peso in 2021 (amendment 178)
	"MRO", // replaced by MRU in 2018
	"VEF", // replaced by VES in 2018
	"SLL", // replaced by SLE after the 2022 redenomination
}

func newCurrencyTable() *currencyTable {
	exps := map[string]int{}
	// Query's defaults select the units that CLDR says are legal tender in
	// some region today, which excludes XXX, XTS, precious metals, funds and
	// historical currencies without our having to list them.
	for it := currency.Query(); it.Next(); {
		u := it.Unit()
		scale, _ := currency.Standard.Rounding(u)
		exps[u.String()] = scale
	}
	for _, code := range isoWithdrawn {
		delete(exps, code)
	}
	for code, exp := range isoMinorUnits {
		exps[code] = exp
	}

	codes := make([]string, 0, len(exps))
	for code := range exps {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	if len(codes) > 255 {
		panic("tender: too many currencies for the uint8 currency index")
	}

	t := &currencyTable{list: make([]currencyInfo, len(codes))}
	for i, code := range codes {
		k, ok := currencyKey(code[0], code[1], code[2])
		if len(code) != 3 || !ok {
			panic("tender: malformed currency code from x/text: " + code)
		}
		t.list[i] = currencyInfo{lower: strings.ToLower(code), upper: code, exp: exps[code]}
		t.byKey[k] = uint8(i + 1)
	}
	return t
}
