package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender"
)

var usd = tender.MustCurrency("usd")

const merchant = "mer_test"

// notifier records Notify calls; it fails the next `fail` of them.
type notifier struct {
	mu     sync.Mutex
	events []tender.ProviderEvent
	calls  int
	fail   int
}

func (n *notifier) Notify(_ context.Context, ev tender.ProviderEvent) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	if n.fail > 0 {
		n.fail--
		return errors.New("engine unavailable")
	}
	n.events = append(n.events, ev)
	return nil
}

func (n *notifier) setFail(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fail = k
}

// snapshot returns the delivered events and the number of calls.
func (n *notifier) snapshot() ([]tender.ProviderEvent, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]tender.ProviderEvent(nil), n.events...), n.calls
}

type env struct {
	t      *testing.T
	ledger *memLedger
	clock  *fakeClock
	notify *notifier
	sb     *Sandbox
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ledger: newMemLedger(), clock: newFakeClock(), notify: &notifier{}}
	e.sb = e.restart()
	return e
}

// restart makes a new Sandbox on the same ledger, as a new process would.
func (e *env) restart() *Sandbox {
	return New(e.ledger, Options{BaseURL: "https://tender.test/", Notify: e.notify.Notify, Now: e.clock.Now,
		AsyncDelay: 3 * time.Second, PollInterval: 5 * time.Millisecond})
}

func call(key string) tender.ProviderCall {
	return tender.ProviderCall{MerchantID: merchant, IdempotencyKey: key}
}

func authReq(key, pm string, capture bool) *tender.AuthorizeRequest {
	return &tender.AuthorizeRequest{ProviderCall: call(key), PaymentIntent: "pi_test", Charge: "ch_test",
		Amount: 1000, Currency: usd, PaymentMethod: pm, Capture: capture, ReturnURL: "https://shop.example/return?order=42"}
}

func (e *env) authorize(key, pm string, capture bool) *tender.ProviderResult {
	e.t.Helper()
	res, err := e.sb.Authorize(context.Background(), authReq(key, pm, capture))
	if err != nil {
		e.t.Fatalf("Authorize(%s): %v", pm, err)
	}
	return res
}

func (e *env) retrieve(ref string) *tender.ProviderResult {
	e.t.Helper()
	res, err := e.sb.Retrieve(context.Background(), &tender.RetrieveRequest{ProviderCall: call("retrieve"), Reference: ref})
	if err != nil {
		e.t.Fatalf("Retrieve(%s): %v", ref, err)
	}
	return res
}

func (e *env) payments() int {
	e.t.Helper()
	n, err := e.ledger.LedgerCount(context.Background(), Key, "payment:")
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) step() {
	e.t.Helper()
	if err := e.sb.step(context.Background()); err != nil {
		e.t.Fatalf("step: %v", err)
	}
}

// wantError checks that err is a *tender.Error of type typ and code.
func wantError(t *testing.T, err error, typ tender.ErrorType, code string) *tender.Error {
	t.Helper()
	te, ok := tender.AsError(err)
	if !ok {
		t.Fatalf("error = %v, want *tender.Error %s/%s", err, typ, code)
	}
	if te.Type != typ || te.Code != code {
		t.Fatalf("error = %s/%s (%q), want %s/%s", te.Type, te.Code, te.Message, typ, code)
	}
	return te
}

// checkOutcome checks an authorize result against the test card's documented outcome.
func checkOutcome(t *testing.T, tc *TestCard, capture, offSession bool, res *tender.ProviderResult) {
	t.Helper()
	if !strings.HasPrefix(res.Reference, "sbx_") || !tender.ValidID(res.Reference, "sbx") {
		t.Errorf("Reference = %q, want an sbx_ id", res.Reference)
	}
	if res.Card == nil || res.Card.Brand != tc.Brand || res.Card.Last4 != tc.Number[len(tc.Number)-4:] {
		t.Errorf("Card = %+v, want %s ending %s", res.Card, tc.Brand, tc.Number[len(tc.Number)-4:])
	}
	wantFail := func(code, decline, msg string) {
		t.Helper()
		if res.Status != tender.ProviderFailed || res.Error == nil {
			t.Fatalf("Status = %s, Error = %+v; want failed", res.Status, res.Error)
		}
		if res.Error.Code != code || res.Error.DeclineCode != decline || res.Error.Message != msg {
			t.Errorf("Error = %+v, want %s/%s %q", res.Error, code, decline, msg)
		}
		if res.AmountCaptured != 0 || res.AmountCapturable != 0 || res.NextAction != nil {
			t.Errorf("failed result carries amounts or an action: %+v", res)
		}
	}
	switch tc.Outcome {
	case OutcomeSucceeds:
		if capture && (res.Status != tender.ProviderSucceeded || res.AmountCaptured != 1000 || res.AmountCapturable != 0) {
			t.Errorf("result = %s captured %d capturable %d, want succeeded 1000", res.Status, res.AmountCaptured, res.AmountCapturable)
		}
		if !capture && (res.Status != tender.ProviderRequiresCapture || res.AmountCapturable != 1000 || res.AmountCaptured != 0) {
			t.Errorf("result = %s captured %d capturable %d, want requires_capture 1000", res.Status, res.AmountCaptured, res.AmountCapturable)
		}
		if res.Error != nil || res.NextAction != nil {
			t.Errorf("success carries Error %+v NextAction %+v", res.Error, res.NextAction)
		}
	case OutcomeDeclined:
		wantFail(tc.Code, tc.DeclineCode, tc.Message)
	case OutcomeAuthenticate:
		if offSession {
			wantFail("authentication_required", "authentication_required", "This payment requires authentication.")
			return
		}
		if res.Status != tender.ProviderRequiresAction || res.NextAction == nil || res.NextAction.Type != "redirect_to_url" {
			t.Fatalf("result = %s %+v, want requires_action redirect_to_url", res.Status, res.NextAction)
		}
		r := res.NextAction.RedirectToURL
		if r == nil || r.URL != "https://tender.test/sandbox/3ds/"+res.Reference || r.ReturnURL != "https://shop.example/return?order=42" {
			t.Errorf("redirect_to_url = %+v", r)
		}
	case OutcomeAsync:
		if res.Status != tender.ProviderProcessing || res.AmountCaptured != 0 {
			t.Errorf("result = %s captured %d, want processing", res.Status, res.AmountCaptured)
		}
	default:
		t.Fatalf("unexpected outcome %s", tc.Outcome)
	}
}

func TestTestCards(t *testing.T) {
	e := newEnv(t)
	n := 0
	for i := range TestCards {
		tc := &TestCards[i]
		if tc.Outcome == OutcomeInvalidNumber {
			continue // no token: covered by TestTokenizeErrors
		}
		tokenized, card, err := Tokenize(tc.Number, 12, 2030, "123", e.clock.Now())
		if err != nil {
			t.Fatalf("Tokenize(%s): %v", tc.Number, err)
		}
		if card.Brand != tc.Brand {
			t.Errorf("Tokenize(%s) brand = %s, want %s", tc.Number, card.Brand, tc.Brand)
		}
		tokens := append([]string{tc.Token, tokenized}, tc.Aliases...)
		for _, pm := range tokens {
			for _, mode := range []struct {
				name                string
				capture, offSession bool
			}{{"capture", true, false}, {"manual", false, false}, {"offsession", true, true}} {
				t.Run(tc.Number+"/"+pm+"/"+mode.name, func(t *testing.T) {
					n++
					req := authReq(fmt.Sprintf("key-%d", n), pm, mode.capture)
					req.OffSession = mode.offSession
					res, err := e.sb.Authorize(context.Background(), req)
					if err != nil {
						t.Fatalf("Authorize: %v", err)
					}
					checkOutcome(t, tc, mode.capture, mode.offSession, res)
					// Retrieve agrees with what Authorize said.
					got := e.retrieve(res.Reference)
					if got.Status != res.Status || got.AmountCaptured != res.AmountCaptured || got.AmountCapturable != res.AmountCapturable {
						t.Errorf("Retrieve = %+v, Authorize said %+v", got, res)
					}
				})
			}
		}
	}
	if got := e.payments(); got != n {
		t.Errorf("payments = %d, want one per authorize (%d)", got, n)
	}
}

// TestGenericCards: any other Luhn-valid number succeeds, with its brand.
func TestGenericCards(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ number, brand string }{
		{"4012888888881881", "visa"},
		{"5105105105105100", "mastercard"},
		{withCheckDigit("222300000000000"), "mastercard"},
		{"378282246310005", "amex"},
		{"6011111111111117", "discover"},
		{withCheckDigit("650000000000000"), "discover"},
		{withCheckDigit("300000000000000"), "unknown"},
	} {
		t.Run(c.number, func(t *testing.T) {
			tok, card, err := Tokenize(c.number, 1, 2031, "1234", e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if card.Brand != c.brand || card.Last4 != c.number[len(c.number)-4:] || card.Funding != "credit" || card.Country != "US" {
				t.Errorf("card = %+v", card)
			}
			res := e.authorize("generic-"+c.number, tok, true)
			if res.Status != tender.ProviderSucceeded || res.Card.Brand != c.brand {
				t.Errorf("result = %s %+v", res.Status, res.Card)
			}
		})
	}
}

func withCheckDigit(s string) string {
	for d := '0'; d <= '9'; d++ {
		if luhn(s + string(d)) {
			return s + string(d)
		}
	}
	panic("unreachable")
}

func TestTokenizeErrors(t *testing.T) {
	now := newFakeClock().Now() // March 2026
	for _, c := range []struct {
		name     string
		number   string
		month    int
		year     int
		cvc      string
		typ      tender.ErrorType
		code     string
		param    string
		expMonth int
		expYear  int
	}{
		{name: "luhn", number: "4242424242424241", month: 12, year: 2030, cvc: "123", typ: tender.CardError, code: "incorrect_number", param: "card[number]"},
		{name: "short number", number: "4242", month: 12, year: 2030, cvc: "123", typ: tender.CardError, code: "invalid_number", param: "card[number]"},
		{name: "letters", number: "4242abcd42424242", month: 12, year: 2030, cvc: "123", typ: tender.CardError, code: "invalid_number", param: "card[number]"},
		{name: "no number", number: "", month: 12, year: 2030, cvc: "123", typ: tender.InvalidRequestError, code: tender.CodeParameterMissing, param: "card[number]"},
		{name: "month 13", number: "4242424242424242", month: 13, year: 2030, cvc: "123", typ: tender.CardError, code: "invalid_expiry_month", param: "card[exp_month]"},
		{name: "month 0", number: "4242424242424242", month: 0, year: 2030, cvc: "123", typ: tender.CardError, code: "invalid_expiry_month", param: "card[exp_month]"},
		{name: "past year", number: "4242424242424242", month: 12, year: 2025, cvc: "123", typ: tender.CardError, code: "invalid_expiry_year", param: "card[exp_year]"},
		{name: "past month this year", number: "4242424242424242", month: 2, year: 2026, cvc: "123", typ: tender.CardError, code: "invalid_expiry_year", param: "card[exp_year]"},
		{name: "far future", number: "4242424242424242", month: 2, year: 2099, cvc: "123", typ: tender.CardError, code: "invalid_expiry_year", param: "card[exp_year]"},
		{name: "short cvc", number: "4242424242424242", month: 12, year: 2030, cvc: "12", typ: tender.CardError, code: "invalid_cvc", param: "card[cvc]"},
		{name: "long cvc", number: "4242424242424242", month: 12, year: 2030, cvc: "12345", typ: tender.CardError, code: "invalid_cvc", param: "card[cvc]"},
		{name: "letter cvc", number: "4242424242424242", month: 12, year: 2030, cvc: "12a", typ: tender.CardError, code: "invalid_cvc", param: "card[cvc]"},
		{name: "no cvc", number: "4242424242424242", month: 12, year: 2030, cvc: "", typ: tender.InvalidRequestError, code: tender.CodeParameterMissing, param: "card[cvc]"},
		// Accepted:
		{name: "this month", number: "4242424242424242", month: 3, year: 2026, cvc: "123", expMonth: 3, expYear: 2026},
		{name: "two-digit year", number: "4242 4242 4242 4242", month: 7, year: 30, cvc: "1234", expMonth: 7, expYear: 2030},
		{name: "dashes", number: "4242-4242-4242-4242", month: 7, year: 2030, cvc: "123", expMonth: 7, expYear: 2030},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, card, err := Tokenize(c.number, c.month, c.year, c.cvc, now)
			if c.code == "" {
				if err != nil {
					t.Fatalf("Tokenize: %v", err)
				}
				if card.ExpMonth != c.expMonth || card.ExpYear != c.expYear || card.Last4 != "4242" {
					t.Errorf("card = %+v", card)
				}
				if got, ok := CardFor(tok); !ok || *got != *card {
					t.Errorf("CardFor(%s) = %+v, %v; want %+v", tok, got, ok, card)
				}
				return
			}
			if tok != "" || card != nil {
				t.Errorf("Tokenize returned %q %+v with an error", tok, card)
			}
			te := wantError(t, err, c.typ, c.code)
			if te.Param != c.param || te.Message == "" {
				t.Errorf("error param = %q message %q, want param %s", te.Param, te.Message, c.param)
			}
			if c.code == "incorrect_number" && te.Message != "Your card number is incorrect." {
				t.Errorf("message = %q", te.Message)
			}
		})
	}
}

// TestCardForNoNumber: a token and the details it yields show at most the
// last four digits.
func TestCardForNoNumber(t *testing.T) {
	now := newFakeClock().Now()
	for _, tc := range TestCards {
		if tc.Outcome == OutcomeInvalidNumber {
			continue
		}
		tok, _, err := Tokenize(tc.Number, 12, 2030, "123", now)
		if err != nil {
			t.Fatal(err)
		}
		hidden := tc.Number[:len(tc.Number)-4]
		for _, token := range []string{tc.Token, tok} {
			if strings.Contains(token, tc.Number) || strings.Contains(token, hidden) || strings.Contains(token, "123_") {
				t.Errorf("token %q exposes the number or CVC", token)
			}
			card, ok := CardFor(token)
			if !ok {
				t.Fatalf("CardFor(%q) not found", token)
			}
			b, _ := json.Marshal(card)
			if strings.Contains(string(b), hidden) || card.Last4 != tc.Number[len(tc.Number)-4:] || card.Fingerprint != "" {
				t.Errorf("CardFor(%q) = %s", token, b)
			}
		}
	}
	for _, bad := range []string{"", "pm_card_unknown", "pm_card_", "4242424242424242", "pm_sbx_", "pm_sbx_bogus_visa_4242_122030_abc",
		"pm_sbx_visa_jcb_4242_122030_abc", "pm_sbx_visa_visa_42a2_122030_abc", "pm_sbx_visa_visa_4242_132030_abc",
		"pm_sbx_visa_visa_4242_122030_", "pm_sbx_visa_visa_4242_122030_ABC", "pm_sbx_visa_visa_4242_122030_abc_def",
		"pm_sbx_visa_visa_4242_12203_abc", "pm_sbx_visa_visa_4242_122030_a<b"} {
		if card, ok := CardFor(bad); ok {
			t.Errorf("CardFor(%q) = %+v, want not found", bad, card)
		}
	}
}

func TestUnknownPaymentMethod(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ pm, message string }{
		{"pm_card_bogus", "No such PaymentMethod: 'pm_card_bogus'"},
		{"", "No such PaymentMethod: ''"},
		{"4242424242424242", "No such PaymentMethod."}, // a card number is never echoed
	} {
		_, err := e.sb.Authorize(context.Background(), authReq("unknown-"+c.pm, c.pm, true))
		te := wantError(t, err, tender.InvalidRequestError, tender.CodeResourceMissing)
		if te.Param != "payment_method" || te.Message != c.message {
			t.Errorf("error = %+v, want param payment_method, %q", te, c.message)
		}
	}
	if n := e.payments(); n != 0 {
		t.Errorf("payments = %d after refused authorizations", n)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t)
	live := authReq("live", "pm_card_visa", true)
	live.Livemode = true
	_, err := e.sb.Authorize(context.Background(), live)
	wantError(t, err, tender.InvalidRequestError, "livemode_not_supported")

	zero := authReq("zero", "pm_card_visa", true)
	zero.Amount = 0
	_, err = e.sb.Authorize(context.Background(), zero)
	wantError(t, err, tender.InvalidRequestError, tender.CodeParameterInvalidInt)

	if _, err := e.sb.Authorize(context.Background(), authReq("", "pm_card_visa", true)); err == nil {
		t.Error("authorize without an idempotency key succeeded")
	}
	if n := e.payments(); n != 0 {
		t.Errorf("payments = %d after refused authorizations", n)
	}
}

func TestAuthorizeIdempotent(t *testing.T) {
	e := newEnv(t)
	for _, pm := range []string{"pm_card_visa", "pm_card_chargeDeclined", "pm_card_threeDSecure2Required", "pm_card_async"} {
		first := e.authorize("idem-"+pm, pm, true)
		again := e.authorize("idem-"+pm, pm, true)
		restarted, err := e.restart().Authorize(context.Background(), authReq("idem-"+pm, pm, true))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*tender.ProviderResult{again, restarted} {
			if r.Reference != first.Reference || r.Status != first.Status {
				t.Errorf("%s: repeat = %s %s, first = %s %s", pm, r.Reference, r.Status, first.Reference, first.Status)
			}
		}
	}
	if n := e.payments(); n != 4 {
		t.Errorf("payments = %d, want 4", n)
	}
	// Another merchant's identical key is another payment.
	other := authReq("idem-pm_card_visa", "pm_card_visa", true)
	other.MerchantID = "mer_other"
	res, err := e.sb.Authorize(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.payments(); n != 5 {
		t.Errorf("payments = %d, want 5 (another merchant's key)", n)
	}
	_, err = e.sb.Retrieve(context.Background(), &tender.RetrieveRequest{ProviderCall: call("x"), Reference: res.Reference})
	if !errors.Is(err, tender.ErrNotFound) {
		t.Errorf("Retrieve of another merchant's payment: %v, want ErrNotFound", err)
	}
}

func TestAuthorizeConcurrentSameKey(t *testing.T) {
	e := newEnv(t)
	const n = 20
	refs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each goroutine as its own process would: a Sandbox of its own.
			res, err := e.restart().Authorize(context.Background(), authReq("same-key", "pm_card_visa", true))
			if err != nil {
				t.Error(err)
				return
			}
			refs[i] = res.Reference
		})
	}
	wg.Wait()
	for _, r := range refs {
		if r != refs[0] {
			t.Fatalf("references differ: %v", refs)
		}
	}
	if got := e.payments(); got != 1 {
		t.Errorf("payments = %d, want 1", got)
	}
}

func TestCapture(t *testing.T) {
	for _, c := range []struct {
		name     string
		amount   int64
		wantCode string // "" = succeeds
	}{
		{"full", 1000, ""},
		{"partial", 400, ""},
		{"one cent", 1, ""},
		{"more than capturable", 1001, tender.CodeParameterInvalidInt},
		{"zero", 0, tender.CodeParameterInvalidInt},
		{"negative", -5, tender.CodeParameterInvalidInt},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			ref := e.authorize("auth", "pm_card_visa", false).Reference
			req := &tender.CaptureRequest{ProviderCall: call("cap"), Reference: ref, Amount: c.amount, Currency: usd}
			res, err := e.sb.Capture(context.Background(), req)
			if c.wantCode != "" {
				wantError(t, err, tender.InvalidRequestError, c.wantCode)
				if got := e.retrieve(ref); got.Status != tender.ProviderRequiresCapture || got.AmountCapturable != 1000 {
					t.Errorf("after refused capture: %s capturable %d", got.Status, got.AmountCapturable)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tender.ProviderSucceeded || res.AmountCaptured != c.amount || res.AmountCapturable != 0 {
				t.Errorf("capture = %s captured %d capturable %d", res.Status, res.AmountCaptured, res.AmountCapturable)
			}
			// The same capture again answers the same; another is refused.
			again, err := e.sb.Capture(context.Background(), req)
			if err != nil || again.AmountCaptured != c.amount {
				t.Errorf("repeated capture = %+v, %v", again, err)
			}
			_, err = e.sb.Capture(context.Background(), &tender.CaptureRequest{ProviderCall: call("cap2"), Reference: ref, Amount: 1, Currency: usd})
			wantError(t, err, tender.InvalidRequestError, tender.CodeUnexpectedState)
			if got := e.retrieve(ref); got.AmountCaptured != c.amount {
				t.Errorf("Retrieve captured = %d", got.AmountCaptured)
			}
		})
	}

	e := newEnv(t)
	captured := e.authorize("captured", "pm_card_visa", true).Reference
	_, err := e.sb.Capture(context.Background(), &tender.CaptureRequest{ProviderCall: call("c"), Reference: captured, Amount: 1000})
	wantError(t, err, tender.InvalidRequestError, tender.CodeUnexpectedState)
	_, err = e.sb.Capture(context.Background(), &tender.CaptureRequest{ProviderCall: call("c"), Reference: "sbx_missing", Amount: 1000})
	wantError(t, err, tender.InvalidRequestError, tender.CodeResourceMissing)
	if !errors.Is(err, tender.ErrNotFound) {
		t.Errorf("capture of unknown payment: errors.Is(ErrNotFound) false: %v", err)
	}
	held := e.authorize("held", "pm_card_visa", false).Reference
	_, err = e.sb.Capture(context.Background(), &tender.CaptureRequest{ProviderCall: call("c"), Reference: held, Amount: 1000,
		Currency: tender.MustCurrency("eur")})
	wantError(t, err, tender.InvalidRequestError, tender.CodeInvalidCurrency)
}

func TestCancel(t *testing.T) {
	for _, c := range []struct {
		name     string
		pm       string
		capture  bool
		wantCode string
	}{
		{"requires_capture", "pm_card_visa", false, ""},
		{"requires_action", "pm_card_threeDSecure2Required", true, ""},
		{"processing", "pm_card_async", true, ""},
		{"succeeded", "pm_card_visa", true, tender.CodeUnexpectedState},
		{"failed", "pm_card_chargeDeclined", true, tender.CodeUnexpectedState},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.authorize("auth", c.pm, c.capture)
			req := &tender.CancelRequest{ProviderCall: call("cancel"), Reference: first.Reference, Reason: "requested_by_customer"}
			res, err := e.sb.Cancel(context.Background(), req)
			if c.wantCode != "" {
				wantError(t, err, tender.InvalidRequestError, c.wantCode)
				if got := e.retrieve(first.Reference); got.Status != first.Status {
					t.Errorf("status after refused cancel = %s, want %s", got.Status, first.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tender.ProviderCanceled || res.AmountCapturable != 0 || res.NextAction != nil {
				t.Errorf("cancel = %+v", res)
			}
			// Idempotent, and nothing revives it: not time, not Run.
			if again, err := e.sb.Cancel(context.Background(), req); err != nil || again.Status != tender.ProviderCanceled {
				t.Errorf("second cancel = %+v, %v", again, err)
			}
			e.clock.Advance(time.Hour)
			e.step()
			if got := e.retrieve(first.Reference); got.Status != tender.ProviderCanceled {
				t.Errorf("status after an hour = %s", got.Status)
			}
			if _, calls := e.notify.snapshot(); calls != 0 {
				t.Errorf("Notify called %d times for a canceled payment", calls)
			}
		})
	}
}

func TestRefunds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref := e.authorize("auth", "pm_card_visa", false).Reference
	if _, err := e.sb.Refund(ctx, &tender.RefundRequest{ProviderCall: call("re-early"), Reference: ref, Amount: 100, Currency: usd}); err == nil {
		t.Fatal("refund of an uncaptured payment succeeded")
	}
	if _, err := e.sb.Capture(ctx, &tender.CaptureRequest{ProviderCall: call("cap"), Reference: ref, Amount: 900, Currency: usd}); err != nil {
		t.Fatal(err)
	}

	refunds := map[string]string{} // key → refund reference
	for i, c := range []struct {
		amount   int64
		wantCode string
	}{
		{300, ""},
		{0, tender.CodeParameterInvalidInt},
		{601, tender.CodeAmountTooLarge}, // 600 left
		{500, ""},
		{100, ""}, // exactly the captured amount now
		{1, tender.CodeAmountTooLarge},
	} {
		key := fmt.Sprintf("re-%d", i)
		res, err := e.sb.Refund(ctx, &tender.RefundRequest{ProviderCall: call(key), Reference: ref, Amount: c.amount, Currency: usd})
		if c.wantCode != "" {
			wantError(t, err, tender.InvalidRequestError, c.wantCode)
			continue
		}
		if err != nil {
			t.Fatalf("refund %d: %v", c.amount, err)
		}
		if res.Status != tender.RefundSucceeded || !tender.ValidID(res.Reference, "sbx_re") {
			t.Errorf("refund = %+v", res)
		}
		refunds[key] = res.Reference
	}

	// Repeating a key returns the first refund and refunds nothing more,
	// even after a restart.
	sb2 := e.restart()
	again, err := sb2.Refund(ctx, &tender.RefundRequest{ProviderCall: call("re-0"), Reference: ref, Amount: 300, Currency: usd})
	if err != nil || again.Reference != refunds["re-0"] {
		t.Errorf("repeated refund = %+v, %v; want %s", again, err, refunds["re-0"])
	}
	for key, rref := range refunds {
		for _, req := range []*tender.RetrieveRequest{
			{ProviderCall: call(key)},
			{ProviderCall: call("other"), Reference: rref},
		} {
			got, err := sb2.RetrieveRefund(ctx, req)
			if err != nil || got.Reference != rref || got.Status != tender.RefundSucceeded {
				t.Errorf("RetrieveRefund(%+v) = %+v, %v", req.Reference, got, err)
			}
		}
	}
	for _, req := range []*tender.RetrieveRequest{
		{ProviderCall: call("never")},
		{ProviderCall: call("x"), Reference: "sbx_re_missing"},
		{ProviderCall: call("re-2")}, // claimed but refused: never made
	} {
		if _, err := sb2.RetrieveRefund(ctx, req); !errors.Is(err, tender.ErrNotFound) {
			t.Errorf("RetrieveRefund(%+v) error = %v, want ErrNotFound", req, err)
		}
	}
	_, err = e.sb.Refund(ctx, &tender.RefundRequest{ProviderCall: call("re-missing"), Reference: "sbx_missing", Amount: 1})
	if !errors.Is(err, tender.ErrNotFound) {
		t.Errorf("refund of an unknown payment: %v", err)
	}
}

func TestRefundsConcurrent(t *testing.T) {
	for _, sameKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("sameKey=%v", sameKey), func(t *testing.T) {
			e := newEnv(t)
			ref := e.authorize("auth", "pm_card_visa", true).Reference
			var wg sync.WaitGroup
			var mu sync.Mutex
			var sum int64
			refs := map[string]bool{}
			for i := range 20 {
				wg.Go(func() {
					key := fmt.Sprintf("re-%d", i)
					if sameKey {
						key = "re"
					}
					res, err := e.restart().Refund(context.Background(), &tender.RefundRequest{ProviderCall: call(key), Reference: ref, Amount: 150, Currency: usd})
					if err != nil {
						wantError(t, err, tender.InvalidRequestError, tender.CodeAmountTooLarge)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if !refs[res.Reference] {
						refs[res.Reference] = true
						sum += 150
					}
				})
			}
			wg.Wait()
			want, wantRefs := int64(900), 6 // 6 × 150 ≤ 1000 < 7 × 150
			if sameKey {
				want, wantRefs = 150, 1
			}
			if sum != want || len(refs) != wantRefs {
				t.Errorf("refunded %d in %d refunds, want %d in %d", sum, len(refs), want, wantRefs)
			}
		})
	}
}

func TestRetrieve(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.authorize("auth-key", "pm_card_visa", false)
	byKey, err := e.sb.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: call("auth-key")})
	if err != nil || byKey.Reference != res.Reference || byKey.Status != tender.ProviderRequiresCapture {
		t.Errorf("Retrieve by key = %+v, %v", byKey, err)
	}
	if byRef := e.retrieve(res.Reference); byRef.Reference != res.Reference || byRef.Card.Last4 != "4242" {
		t.Errorf("Retrieve by reference = %+v", byRef)
	}
	for _, req := range []*tender.RetrieveRequest{
		{ProviderCall: call("unknown-key")},
		{ProviderCall: call("x"), Reference: "sbx_unknown"},
		{ProviderCall: tender.ProviderCall{MerchantID: "mer_other", IdempotencyKey: "auth-key"}},
		{ProviderCall: tender.ProviderCall{MerchantID: "mer_other"}, Reference: res.Reference},
	} {
		if _, err := e.sb.Retrieve(ctx, req); !errors.Is(err, tender.ErrNotFound) {
			t.Errorf("Retrieve(%+v) error = %v, want ErrNotFound", req, err)
		}
	}
}

func TestContextCanceled(t *testing.T) {
	e := newEnv(t)
	ref := e.authorize("auth", "pm_card_visa", false).Reference
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []func() error{
		func() error { _, err := e.sb.Authorize(ctx, authReq("k", "pm_card_visa", true)); return err },
		func() error {
			_, err := e.sb.Capture(ctx, &tender.CaptureRequest{ProviderCall: call("k"), Reference: ref, Amount: 1})
			return err
		},
		func() error {
			_, err := e.sb.Cancel(ctx, &tender.CancelRequest{ProviderCall: call("k"), Reference: ref})
			return err
		},
		func() error {
			_, err := e.sb.Refund(ctx, &tender.RefundRequest{ProviderCall: call("k"), Reference: ref, Amount: 1})
			return err
		},
		func() error {
			_, err := e.sb.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: call("k"), Reference: ref})
			return err
		},
		func() error {
			_, err := e.sb.RetrieveRefund(ctx, &tender.RetrieveRequest{ProviderCall: call("k")})
			return err
		},
	}
	for i, f := range calls {
		if err := f(); !errors.Is(err, context.Canceled) {
			t.Errorf("call %d: error = %v, want context.Canceled", i, err)
		}
	}
	if got := e.retrieve(ref); got.Status != tender.ProviderRequiresCapture {
		t.Errorf("status = %s", got.Status)
	}
}

func TestAsyncSettles(t *testing.T) {
	for _, capture := range []bool{true, false} {
		t.Run(fmt.Sprintf("capture=%v", capture), func(t *testing.T) {
			e := newEnv(t)
			res := e.authorize("auth", "pm_card_async", capture)
			if res.Status != tender.ProviderProcessing {
				t.Fatalf("status = %s", res.Status)
			}
			e.clock.Advance(3*time.Second - time.Millisecond)
			e.step()
			if got := e.retrieve(res.Reference); got.Status != tender.ProviderProcessing {
				t.Errorf("status before AsyncDelay = %s", got.Status)
			}
			if _, calls := e.notify.snapshot(); calls != 0 {
				t.Fatalf("notified before AsyncDelay")
			}

			e.clock.Advance(time.Millisecond)
			// A restarted process settles it: the schedule is in the ledger.
			e.sb = e.restart()
			e.step()
			events, _ := e.notify.snapshot()
			if len(events) != 1 {
				t.Fatalf("events = %d, want 1", len(events))
			}
			ev := events[0]
			want := tender.ProviderRequiresCapture
			if capture {
				want = tender.ProviderSucceeded
			}
			if ev.Provider != Key || ev.MerchantID != merchant || ev.Livemode || ev.Reference != res.Reference ||
				ev.Payment == nil || ev.Payment.Status != want || ev.Payment.Reference != res.Reference {
				t.Errorf("event = %+v payment %+v", ev, ev.Payment)
			}
			if capture && ev.Payment.AmountCaptured != 1000 || !capture && ev.Payment.AmountCapturable != 1000 {
				t.Errorf("event amounts = %+v", ev.Payment)
			}
			if got := e.retrieve(res.Reference); got.Status != want {
				t.Errorf("Retrieve = %s, want %s", got.Status, want)
			}
			e.clock.Advance(time.Hour)
			e.step()
			if events, calls := e.notify.snapshot(); len(events) != 1 || calls != 1 {
				t.Errorf("after another step: %d events, %d calls", len(events), calls)
			}
		})
	}
}

// TestAsyncSettledByRead: a read after AsyncDelay already sees the
// settlement, and Run still delivers it, once.
func TestAsyncSettledByRead(t *testing.T) {
	e := newEnv(t)
	ref := e.authorize("auth", "pm_card_async", false).Reference
	e.clock.Advance(5 * time.Second)
	if got := e.retrieve(ref); got.Status != tender.ProviderRequiresCapture {
		t.Fatalf("Retrieve = %s", got.Status)
	}
	if _, err := e.sb.Capture(context.Background(), &tender.CaptureRequest{ProviderCall: call("cap"), Reference: ref, Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	e.step()
	events, calls := e.notify.snapshot()
	if calls != 1 || events[0].Payment.Status != tender.ProviderSucceeded {
		t.Errorf("events = %+v (%d calls)", events, calls)
	}
}

func TestNotifyRetried(t *testing.T) {
	e := newEnv(t)
	ref := e.authorize("auth", "pm_card_async", true).Reference
	e.notify.setFail(3)
	e.clock.Advance(3 * time.Second)

	// Each row: advance the clock, step, and the number of Notify calls so far.
	for i, s := range []struct {
		advance time.Duration
		calls   int
	}{
		{0, 1},                       // settles; delivery fails (1)
		{0, 1},                       // not due again yet
		{999 * time.Millisecond, 1},  // backoff 1s
		{time.Millisecond, 2},        // fails (2)
		{1999 * time.Millisecond, 2}, // backoff 2s
		{time.Millisecond, 3},        // fails (3)
		{4 * time.Second, 4},         // backoff 4s: delivered
		{time.Hour, 4},               // done
	} {
		e.clock.Advance(s.advance)
		e.step()
		if _, calls := e.notify.snapshot(); calls != s.calls {
			t.Fatalf("row %d: Notify calls = %d, want %d", i, calls, s.calls)
		}
	}
	events, _ := e.notify.snapshot()
	if len(events) != 1 || events[0].Reference != ref || events[0].Payment.Status != tender.ProviderSucceeded {
		t.Errorf("events = %+v", events)
	}
	if due, _ := e.ledger.LedgerDue(context.Background(), Key, e.clock.Now().Add(24*time.Hour), 10); len(due) != 0 {
		t.Errorf("still due: %v", due)
	}
}

func TestBackoff(t *testing.T) {
	for tries, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		6: 32 * time.Second, 7: time.Minute, 8: time.Minute, 100: time.Minute} {
		if got := backoff(tries); got != want {
			t.Errorf("backoff(%d) = %s, want %s", tries, got, want)
		}
	}
}

// TestRun: Run does the steps on its own and stops with its context.
func TestRun(t *testing.T) {
	e := newEnv(t)
	e.authorize("auth", "pm_card_async", true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		e.sb.Run(ctx)
		close(done)
	}()
	e.clock.Advance(3 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if events, _ := e.notify.snapshot(); len(events) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not settle the async payment")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestInfo(t *testing.T) {
	info := New(newMemLedger(), Options{}).Info()
	c := info.Capabilities
	if info.Key != "sandbox" || info.Name != "Sandbox" || info.Description != "Tender's test processor: Stripe's test cards, no real money" {
		t.Errorf("info = %+v", info)
	}
	if !info.Modes.Test || info.Modes.Live || info.Modes.NeedsConfig {
		t.Errorf("modes = %+v", info.Modes)
	}
	if !c.SupportsWebhook || !c.SupportsRefund || !c.SupportsPartialRefund || !c.SupportsManualCapture || !c.SupportsSavedCards ||
		!c.SupportsRedirect || c.RequiresClientSide || c.SupportedCurrencies != nil {
		t.Errorf("capabilities = %+v", c)
	}
}
