package sandbox

import (
	"crypto/rand"
	"strconv"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

// Outcome is what the sandbox does with a test card.
type Outcome string

// The outcomes of the test cards.
const (
	// OutcomeSucceeds: the charge succeeds (or the hold is placed).
	OutcomeSucceeds Outcome = "succeeds"
	// OutcomeDeclined: the charge fails with the card's Code and DeclineCode.
	OutcomeDeclined Outcome = "declined"
	// OutcomeAuthenticate: on-session the payment requires 3-D Secure
	// (requires_action, completed on the sandbox's challenge page);
	// off-session it fails with the card's Code and DeclineCode
	// (authentication_required), because nobody is there to authenticate.
	OutcomeAuthenticate Outcome = "requires_authentication"
	// OutcomeAsync: the payment answers processing and settles AsyncDelay
	// later, reported through Options.Notify as a webhook would be.
	OutcomeAsync Outcome = "async"
	// OutcomeInvalidNumber: the number fails the Luhn check, so Tokenize
	// refuses it with the card's Code; there is no token for it.
	OutcomeInvalidNumber Outcome = "invalid_number"
)

// TestCard is one row of the sandbox's test-card table.
type TestCard struct {
	// Number is what a shopper types into a card form in test mode.
	Number string
	// Token is Stripe's test PaymentMethod for the card ("" if none), so
	// that code written against Stripe's test tokens works unchanged.
	Token string
	// Aliases are other tokens accepted for the same card (older or
	// alternative names used by Stripe's docs and by Tender's seeds).
	Aliases []string
	// Brand is Stripe's card brand: visa, mastercard, amex, discover, unknown.
	Brand string
	// Outcome is what a payment with the card does.
	Outcome Outcome
	// Code, DeclineCode and Message are the error a failing payment reports
	// (for OutcomeAuthenticate: the off-session failure).
	Code        string
	DeclineCode string
	Message     string
	// Description is the one-line summary for documentation.
	Description string
}

// Stripe's messages for the sandbox's declines.
const (
	msgDeclined          = "Your card was declined."
	msgInsufficientFunds = "Your card has insufficient funds."
	msgExpired           = "Your card has expired."
	msgIncorrectCVC      = "Your card's security code is incorrect."
	msgProcessingError   = "An error occurred while processing your card. Try again in a little bit."
	msgIncorrectNumber   = "Your card number is incorrect."
	msgAuthRequired      = "This payment requires authentication."
	msgAuthFailed        = "The provided PaymentMethod has failed authentication."
)

// Error codes of the sandbox's declines and card checks (Stripe's).
const (
	codeExpiredCard     = "expired_card"
	codeIncorrectCVC    = "incorrect_cvc"
	codeAuthRequired    = "authentication_required"
	codeAuthFailure     = "payment_intent_authentication_failure"
	codeIncorrectNumber = "incorrect_number"
	codeInvalidNumber   = "invalid_number"
	codeInvalidExpMonth = "invalid_expiry_month"
	codeInvalidExpYear  = "invalid_expiry_year"
	codeInvalidCVC      = "invalid_cvc"
)

// TestCards is the one table of the sandbox's test cards: Tokenize, CardFor
// and Authorize all read it, and the README's list is written from it, so a
// card documented is a card that behaves as documented.
var TestCards = []TestCard{
	{Number: "4242424242424242", Token: "pm_card_visa", Brand: "visa", Outcome: OutcomeSucceeds,
		Description: "Succeeds."},
	{Number: "5555555555554444", Token: "pm_card_mastercard", Brand: "mastercard", Outcome: OutcomeSucceeds,
		Description: "Succeeds."},
	{Number: "4000000000000002", Token: "pm_card_chargeDeclined", Aliases: []string{"pm_card_declined", "pm_card_visa_chargeDeclined"},
		Brand: "visa", Outcome: OutcomeDeclined, Code: tender.CodeCardDeclined, DeclineCode: "generic_decline", Message: msgDeclined,
		Description: "Declined: card_declined / generic_decline."},
	{Number: "4000000000009995", Token: "pm_card_chargeDeclinedInsufficientFunds", Aliases: []string{"pm_card_visa_chargeDeclinedInsufficientFunds"},
		Brand: "visa", Outcome: OutcomeDeclined, Code: tender.CodeCardDeclined, DeclineCode: "insufficient_funds", Message: msgInsufficientFunds,
		Description: "Declined: card_declined / insufficient_funds."},
	{Number: "4000000000009987", Token: "pm_card_chargeDeclinedLostCard", Aliases: []string{"pm_card_visa_chargeDeclinedLostCard"},
		Brand: "visa", Outcome: OutcomeDeclined, Code: tender.CodeCardDeclined, DeclineCode: "lost_card", Message: msgDeclined,
		Description: "Declined: card_declined / lost_card."},
	{Number: "4000000000009979", Token: "pm_card_chargeDeclinedStolenCard", Aliases: []string{"pm_card_visa_chargeDeclinedStolenCard"},
		Brand: "visa", Outcome: OutcomeDeclined, Code: tender.CodeCardDeclined, DeclineCode: "stolen_card", Message: msgDeclined,
		Description: "Declined: card_declined / stolen_card."},
	{Number: "4000000000000069", Token: "pm_card_chargeDeclinedExpiredCard",
		Brand: "visa", Outcome: OutcomeDeclined, Code: codeExpiredCard, DeclineCode: codeExpiredCard, Message: msgExpired,
		Description: "Declined: expired_card."},
	{Number: "4000000000000127", Token: "pm_card_chargeDeclinedIncorrectCvc",
		Brand: "visa", Outcome: OutcomeDeclined, Code: codeIncorrectCVC, DeclineCode: codeIncorrectCVC, Message: msgIncorrectCVC,
		Description: "Declined: incorrect_cvc."},
	{Number: "4000000000000119", Token: "pm_card_chargeDeclinedProcessingError",
		Brand: "visa", Outcome: OutcomeDeclined, Code: tender.CodeProcessingError, DeclineCode: tender.CodeProcessingError, Message: msgProcessingError,
		Description: "Declined: processing_error."},
	{Number: "4242424242424241", Brand: "visa", Outcome: OutcomeInvalidNumber, Code: codeIncorrectNumber, Message: msgIncorrectNumber,
		Description: "Fails the Luhn check: refused when tokenized with incorrect_number."},
	{Number: "4000000000003220", Token: "pm_card_threeDSecure2Required",
		Brand: "visa", Outcome: OutcomeAuthenticate, Code: codeAuthRequired, DeclineCode: codeAuthRequired, Message: msgAuthRequired,
		Description: "3-D Secure required: requires_action (the sandbox's challenge page); off-session fails with authentication_required."},
	{Number: "4000002500003155", Token: "pm_card_authenticationRequired",
		Brand: "visa", Outcome: OutcomeAuthenticate, Code: codeAuthRequired, DeclineCode: codeAuthRequired, Message: msgAuthRequired,
		Description: "Requires authentication on session (3-D Secure); off-session fails with authentication_required."},
	{Number: "4000000000007726", Token: "pm_card_async",
		Brand: "visa", Outcome: OutcomeAsync,
		Description: "Tender's own: processing, then succeeds (or requires_capture) after a few seconds, reported asynchronously."},
}

// Stripe's test tokens carry no expiry of their own; a fixed one keeps
// CardFor deterministic (the same token always describes the same card).
const (
	testExpMonth = 12
	testExpYear  = 2034
)

// behaviorGeneric is the behaviour of a Luhn-valid number that is not in the
// table: it succeeds, as Stripe's sandbox does for such numbers.
const behaviorGeneric = "generic"

// tokenPrefix starts the tokens Tokenize makes ("sbx" marks them as the
// sandbox's, as Stripe's pm_card_* mark its test tokens).
const tokenPrefix = "pm_sbx_"

var (
	// byToken finds a test card by its token or an alias.
	byToken = map[string]*TestCard{}
	// byBehavior finds a test card by the behaviour name a Tokenize token
	// carries: the card's token without "pm_card_".
	byBehavior = map[string]*TestCard{}
	// byNumber finds a test card by its number.
	byNumber = map[string]*TestCard{}
)

func init() {
	for i := range TestCards {
		c := &TestCards[i]
		byNumber[c.Number] = c
		if c.Token == "" {
			continue
		}
		byToken[c.Token] = c
		for _, a := range c.Aliases {
			byToken[a] = c
		}
		byBehavior[behaviorOf(c)] = c
	}
}

func behaviorOf(c *TestCard) string { return strings.TrimPrefix(c.Token, "pm_card_") }

// cardFor resolves a payment method token to the card's public details and
// its behaviour: the test card whose outcome applies, or nil for a generic
// card that succeeds.
func cardFor(token string) (*tender.CardDetails, *TestCard, bool) {
	if c, ok := byToken[token]; ok {
		return &tender.CardDetails{Brand: c.Brand, Last4: c.Number[len(c.Number)-4:],
			ExpMonth: testExpMonth, ExpYear: testExpYear, Funding: "credit", Country: "US"}, c, true
	}
	return parseToken(token)
}

// CardFor returns the public details of a payment method token this
// sandbox understands: Stripe's pm_card_* test tokens and the tokens of
// Tokenize. The details are what a receipt may show: brand, last four
// digits, expiry, funding and country — never the number.
func CardFor(token string) (*tender.CardDetails, bool) {
	card, _, ok := cardFor(token)
	return card, ok
}

// Tokenize checks a raw test card as a card form would (number length and
// Luhn check, brand, expiry not past, 3-4 digit CVC) and returns a token for
// it and its public details. The token encodes the card's behaviour (which
// test card it is) and its public details — never the number or the CVC —
// so that it needs no storage and the number is gone once Tokenize returns.
// Errors are *tender.Error with Stripe's codes and params (card[number],
// card[exp_month], card[exp_year], card[cvc]). Spaces and dashes in the
// number are ignored, as shoppers type them.
func Tokenize(number string, expMonth, expYear int, cvc string, now time.Time) (string, *tender.CardDetails, error) {
	number = strings.NewReplacer(" ", "", "-", "").Replace(number)
	if number == "" {
		return "", nil, tender.MissingParam("card[number]")
	}
	if len(number) < 12 || len(number) > 19 || !allDigits(number) {
		return "", nil, cardError(codeInvalidNumber, "card[number]", "Your card number is invalid.")
	}
	if !luhn(number) {
		return "", nil, cardError(codeIncorrectNumber, "card[number]", msgIncorrectNumber)
	}
	if expMonth < 1 || expMonth > 12 {
		return "", nil, cardError(codeInvalidExpMonth, "card[exp_month]", "Your card's expiration month is invalid.")
	}
	if expYear >= 0 && expYear < 100 {
		expYear += 2000 // a two-digit year, as printed on cards
	}
	// A card is valid through the last day of its expiry month.
	if expYear < now.Year() || (expYear == now.Year() && expMonth < int(now.Month())) || expYear > now.Year()+50 {
		return "", nil, cardError(codeInvalidExpYear, "card[exp_year]", "Your card's expiration year is invalid.")
	}
	if cvc == "" {
		return "", nil, tender.MissingParam("card[cvc]")
	}
	if len(cvc) < 3 || len(cvc) > 4 || !allDigits(cvc) {
		return "", nil, cardError(codeInvalidCVC, "card[cvc]", "Your card's security code is invalid.")
	}

	behavior, brand := behaviorGeneric, brandOf(number)
	if c, ok := byNumber[number]; ok && c.Token != "" {
		behavior, brand = behaviorOf(c), c.Brand
	}
	card := &tender.CardDetails{Brand: brand, Last4: number[len(number)-4:], ExpMonth: expMonth, ExpYear: expYear,
		Funding: "credit", Country: "US"}
	token := tokenPrefix + behavior + "_" + brand + "_" + card.Last4 + "_" +
		twoDigits(expMonth) + strconv.Itoa(expYear) + "_" + randomSuffix()
	return token, card, nil
}

// parseToken reads a token made by Tokenize:
// pm_sbx_<behaviour>_<brand>_<last4>_<MMYYYY>_<random>. It is strict, since
// the details it returns end up on receipts and dashboards.
func parseToken(token string) (*tender.CardDetails, *TestCard, bool) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		return nil, nil, false
	}
	parts := strings.Split(token[len(tokenPrefix):], "_")
	if len(parts) != 5 {
		return nil, nil, false
	}
	behavior, brand, last4, exp, suffix := parts[0], parts[1], parts[2], parts[3], parts[4]
	var tc *TestCard
	if behavior != behaviorGeneric {
		var ok bool
		if tc, ok = byBehavior[behavior]; !ok {
			return nil, nil, false
		}
	}
	switch brand {
	case "visa", "mastercard", "amex", "discover", "unknown":
	default:
		return nil, nil, false
	}
	if len(last4) != 4 || !allDigits(last4) || len(exp) != 6 || !allDigits(exp) || suffix == "" || len(suffix) > 32 {
		return nil, nil, false
	}
	for i := 0; i < len(suffix); i++ {
		if strings.IndexByte(suffixAlphabet, suffix[i]) < 0 {
			return nil, nil, false
		}
	}
	month, _ := strconv.Atoi(exp[:2])
	year, _ := strconv.Atoi(exp[2:])
	if month < 1 || month > 12 {
		return nil, nil, false
	}
	return &tender.CardDetails{Brand: brand, Last4: last4, ExpMonth: month, ExpYear: year, Funding: "credit", Country: "US"}, tc, true
}

// brandOf detects a brand from the number's prefix (the IIN ranges Stripe's
// test numbers use).
func brandOf(n string) string {
	p2, _ := strconv.Atoi(n[:2])
	p4, _ := strconv.Atoi(n[:4])
	switch {
	case n[0] == '4':
		return "visa"
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return "mastercard"
	case p2 == 34 || p2 == 37:
		return "amex"
	case p4 == 6011 || p2 == 65:
		return "discover"
	}
	return "unknown"
}

// luhn reports whether the digits pass the Luhn checksum.
func luhn(n string) bool {
	sum := 0
	double := false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

const suffixAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// randomSuffix makes each tokenization a distinct token, as Stripe's
// PaymentMethods are distinct objects.
func randomSuffix() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = suffixAlphabet[b[i]&31]
	}
	return string(b[:])
}

func cardError(code, param, message string) *tender.Error {
	return &tender.Error{Type: tender.CardError, Code: code, Param: param, Message: message}
}
