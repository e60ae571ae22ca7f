package stripe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/internal/stripefake"
)

// fakeEnv is a fake Stripe with merchant A's account ("A") and a provider.
type fakeEnv struct {
	f    *stripefake.Fake
	p    *Provider
	logs *syncBuffer
}

func newFakeEnv(t *testing.T, opts ...func(*Options)) *fakeEnv {
	t.Helper()
	f := newFake(t)
	f.AddAccount("A", keyA, pkA)
	p, logs := newTestProvider(t, f.URL, opts...)
	return &fakeEnv{f: f, p: p, logs: logs}
}

func (e *fakeEnv) authorize(t *testing.T, idem string, mod func(*tender.AuthorizeRequest)) (*tender.ProviderResult, error) {
	t.Helper()
	req := &tender.AuthorizeRequest{ProviderCall: testCall(keyA, "acct_A", idem), PaymentIntent: "tpi_" + idem,
		Charge: "tch_" + idem, Amount: 5000, Currency: usd(), PaymentMethod: "pm_card_visa", Capture: true,
		Description: "Order 42", Metadata: map[string]string{"order_id": "42"}}
	if mod != nil {
		mod(req)
	}
	return e.p.Authorize(context.Background(), req)
}

// lastRequest is the last request to path (suffix match).
func (e *fakeEnv) lastRequest(t *testing.T, pathSuffix string) stripefake.Request {
	t.Helper()
	reqs := e.f.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if strings.HasSuffix(reqs[i].Path, pathSuffix) {
			return reqs[i]
		}
	}
	t.Fatalf("no request to …%s", pathSuffix)
	return stripefake.Request{}
}

func mustTenderError(t *testing.T, err error, typ tender.ErrorType, code string) *tender.Error {
	t.Helper()
	te, ok := tender.AsError(err)
	if !ok {
		t.Fatalf("error = %v (%T), want a *tender.Error %s/%s", err, err, typ, code)
	}
	if te.Type != typ || te.Code != code {
		t.Fatalf("error = %s/%s (%q), want %s/%s", te.Type, te.Code, te.Message, typ, code)
	}
	return te
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*tender.AuthorizeRequest)
		status tender.ProviderStatus
		check  func(t *testing.T, res *tender.ProviderResult, req stripefake.Request)
	}{
		{"automatic capture", nil, tender.ProviderSucceeded, func(t *testing.T, res *tender.ProviderResult, req stripefake.Request) {
			if res.AmountCaptured != 5000 || res.AmountCapturable != 0 {
				t.Errorf("captured %d capturable %d, want 5000 0", res.AmountCaptured, res.AmountCapturable)
			}
			if got := req.Form.Get("capture_method"); got != "automatic" {
				t.Errorf("capture_method = %q", got)
			}
		}},
		{"manual capture", func(r *tender.AuthorizeRequest) { r.Capture = false }, tender.ProviderRequiresCapture,
			func(t *testing.T, res *tender.ProviderResult, req stripefake.Request) {
				if res.AmountCapturable != 5000 || res.AmountCaptured != 0 {
					t.Errorf("capturable %d captured %d, want 5000 0", res.AmountCapturable, res.AmountCaptured)
				}
				if got := req.Form.Get("capture_method"); got != "manual" {
					t.Errorf("capture_method = %q", got)
				}
			}},
		{"processing", func(r *tender.AuthorizeRequest) { r.PaymentMethod = "pm_card_processing" }, tender.ProviderProcessing, nil},
		{"save method", func(r *tender.AuthorizeRequest) { r.SaveMethod = true; r.ReturnURL = "https://shop.example/return" },
			tender.ProviderSucceeded, func(t *testing.T, res *tender.ProviderResult, req stripefake.Request) {
				if req.Form.Get("setup_future_usage") != "off_session" || req.Form.Get("return_url") != "https://shop.example/return" {
					t.Errorf("form = %v", req.Form)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t)
			res, err := e.authorize(t, "k1", tt.mod)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status {
				t.Fatalf("status = %s, want %s (%+v)", res.Status, tt.status, res)
			}
			if !strings.HasPrefix(res.Reference, "pi_") || !strings.HasPrefix(res.PaymentMethod, "pm_") {
				t.Errorf("reference %q payment method %q", res.Reference, res.PaymentMethod)
			}
			req := e.lastRequest(t, "/v1/payment_intents")
			if req.IdempotencyKey != "k1" {
				t.Errorf("Idempotency-Key = %q, want k1", req.IdempotencyKey)
			}
			if req.Form.Get("confirm") != "true" || req.Form.Get("payment_method") != "pm_card_visa" && tt.name != "processing" ||
				req.Form.Get("metadata[tender_payment_intent]") != "tpi_k1" || req.Form.Get("metadata[tender_charge]") != "tch_k1" ||
				req.Form.Get("metadata[order_id]") != "42" || req.Form.Get("description") != "Order 42" {
				t.Errorf("request form = %v", req.Form)
			}
			if tt.status == tender.ProviderSucceeded || tt.status == tender.ProviderRequiresCapture {
				want := &tender.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034, Funding: "credit", Country: "US", Fingerprint: "fp4242"}
				if res.Card == nil || *res.Card != *want {
					t.Errorf("card = %+v, want %+v", res.Card, want)
				}
			}
			if tt.check != nil {
				tt.check(t, res, req)
			}
		})
	}
}

func TestAuthorizeRepeatedIsReplayed(t *testing.T) {
	e := newFakeEnv(t)
	first, err := e.authorize(t, "same", nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.authorize(t, "same", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Reference != second.Reference || e.f.Created("A") != 1 {
		t.Fatalf("repeat made %s then %s; %d created", first.Reference, second.Reference, e.f.Created("A"))
	}
}

func TestDeclines(t *testing.T) {
	tests := []struct {
		pm, code, decline, last4 string
		offSession               bool
	}{
		{"pm_card_chargeDeclined", "card_declined", "generic_decline", "0002", false},
		{"pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", "9995", false},
		{"pm_card_threeDSecure2Required", "authentication_required", "authentication_required", "3220", true},
	}
	for _, tt := range tests {
		t.Run(tt.pm, func(t *testing.T) {
			e := newFakeEnv(t)
			res, err := e.authorize(t, "k1", func(r *tender.AuthorizeRequest) { r.PaymentMethod = tt.pm; r.OffSession = tt.offSession })
			if err != nil {
				t.Fatalf("a decline must be a result, not an error: %v", err)
			}
			if res.Status != tender.ProviderFailed || res.Error == nil || res.Error.Code != tt.code || res.Error.DeclineCode != tt.decline ||
				res.Error.Message == "" {
				t.Fatalf("result = %+v error %+v", res, res.Error)
			}
			if !strings.HasPrefix(res.Reference, "pi_") || res.Card == nil || res.Card.Last4 != tt.last4 {
				t.Fatalf("reference %q card %+v", res.Reference, res.Card)
			}
			// Asked later, Stripe tells the same from last_payment_error.
			got, err := e.p.Retrieve(context.Background(), &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: res.Reference})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tender.ProviderFailed || got.Error.Code != tt.code || got.Error.DeclineCode != tt.decline {
				t.Fatalf("retrieve = %+v %+v", got, got.Error)
			}
		})
	}
}

func TestThreeDSecure(t *testing.T) {
	tests := []struct {
		name, returnURL string
		check           func(t *testing.T, na *tender.NextAction)
	}{
		{"with return_url", "https://shop.example/back", func(t *testing.T, na *tender.NextAction) {
			if na.Type != "redirect_to_url" || na.RedirectToURL == nil || !strings.Contains(na.RedirectToURL.URL, "/3ds/pi_") ||
				na.RedirectToURL.ReturnURL != "https://shop.example/back" {
				t.Fatalf("next action = %+v %+v", na, na.RedirectToURL)
			}
		}},
		{"for Stripe.js", "", func(t *testing.T, na *tender.NextAction) {
			if na.Type != "use_stripe_sdk" || na.UseStripeSDK["type"] != "three_d_secure_redirect" || na.UseStripeSDK["source"] != "src_fake" {
				t.Fatalf("next action = %+v", na)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t)
			res, err := e.authorize(t, "k1", func(r *tender.AuthorizeRequest) {
				r.PaymentMethod, r.ReturnURL = "pm_card_threeDSecure2Required", tt.returnURL
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tender.ProviderRequiresAction || res.NextAction == nil {
				t.Fatalf("result = %+v", res)
			}
			tt.check(t, res.NextAction)
		})
	}
}

func TestCapturePartial(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	hold, err := e.authorize(t, "auth", func(r *tender.AuthorizeRequest) { r.Capture = false })
	if err != nil || hold.Status != tender.ProviderRequiresCapture {
		t.Fatalf("hold = %+v, %v", hold, err)
	}
	capture := &tender.CaptureRequest{ProviderCall: testCall(keyA, "acct_A", "cap1"), Reference: hold.Reference, Amount: 3000, Currency: usd()}
	res, err := e.p.Capture(ctx, capture)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != tender.ProviderSucceeded || res.AmountCaptured != 3000 || res.Reference != hold.Reference {
		t.Fatalf("capture = %+v", res)
	}
	if req := e.lastRequest(t, "/capture"); req.Form.Get("amount_to_capture") != "3000" || req.IdempotencyKey != "cap1" {
		t.Fatalf("capture request = %+v", req)
	}
	// The same capture again (recovery) gets the same answer.
	again, err := e.p.Capture(ctx, capture)
	if err != nil || again.Status != tender.ProviderSucceeded || again.AmountCaptured != 3000 {
		t.Fatalf("repeated capture = %+v, %v", again, err)
	}
	// Another capture is Stripe's refusal: definite.
	capture.IdempotencyKey = "cap2"
	_, err = e.p.Capture(ctx, capture)
	mustTenderError(t, err, tender.InvalidRequestError, "payment_intent_unexpected_state")
	// Capturing more than held.
	hold2, _ := e.authorize(t, "auth2", func(r *tender.AuthorizeRequest) { r.Capture = false })
	_, err = e.p.Capture(ctx, &tender.CaptureRequest{ProviderCall: testCall(keyA, "acct_A", "cap3"), Reference: hold2.Reference, Amount: 9000})
	mustTenderError(t, err, tender.InvalidRequestError, "amount_too_large")
}

func TestCancel(t *testing.T) {
	tests := []struct {
		reason, sent string
	}{
		{"requested_by_customer", "requested_by_customer"},
		{"abandoned", "abandoned"},
		{"changed_my_mind", ""}, // not one of Stripe's: not sent
		{"", ""},
	}
	for _, tt := range tests {
		t.Run("reason="+tt.reason, func(t *testing.T) {
			e := newFakeEnv(t)
			hold, err := e.authorize(t, "auth", func(r *tender.AuthorizeRequest) { r.Capture = false })
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.p.Cancel(context.Background(), &tender.CancelRequest{ProviderCall: testCall(keyA, "acct_A", "cancel"),
				Reference: hold.Reference, Reason: tt.reason})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tender.ProviderCanceled || res.Reference != hold.Reference {
				t.Fatalf("cancel = %+v", res)
			}
			if got := e.lastRequest(t, "/cancel").Form.Get("cancellation_reason"); got != tt.sent {
				t.Fatalf("cancellation_reason sent = %q, want %q", got, tt.sent)
			}
		})
	}
	t.Run("captured", func(t *testing.T) {
		e := newFakeEnv(t)
		paid, _ := e.authorize(t, "auth", nil)
		_, err := e.p.Cancel(context.Background(), &tender.CancelRequest{ProviderCall: testCall(keyA, "acct_A", "cancel"), Reference: paid.Reference})
		mustTenderError(t, err, tender.InvalidRequestError, "payment_intent_unexpected_state")
	})
}

func TestRefunds(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	paid, err := e.authorize(t, "auth", nil) // 5000 captured
	if err != nil {
		t.Fatal(err)
	}
	refund := func(idem string, amount int64, reason string) (*tender.RefundResult, error) {
		return e.p.Refund(ctx, &tender.RefundRequest{ProviderCall: testCall(keyA, "acct_A", idem), Refund: "tre_" + idem,
			Reference: paid.Reference, Amount: amount, Currency: usd(), Reason: reason})
	}
	steps := []struct {
		idem   string
		amount int64
		reason string
		code   string // "" = succeeds
	}{
		{"r1", 2000, "requested_by_customer", ""},
		{"r2", 2000, "because", ""},              // not a Stripe reason: not sent
		{"r3", 2000, "", "amount_too_large"},     // 1000 left
		{"r4", 1000, "duplicate", ""},            // all refunded
		{"r5", 1, "", "charge_already_refunded"}, // nothing left
	}
	var first *tender.RefundResult
	for _, s := range steps {
		res, err := refund(s.idem, s.amount, s.reason)
		if s.code != "" {
			mustTenderError(t, err, tender.InvalidRequestError, s.code)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.idem, err)
		}
		if res.Status != tender.RefundSucceeded || !strings.HasPrefix(res.Reference, "re_") {
			t.Fatalf("%s: %+v", s.idem, res)
		}
		req := e.lastRequest(t, "/v1/refunds")
		wantReason := s.reason
		if wantReason == "because" {
			wantReason = ""
		}
		if req.IdempotencyKey != s.idem || req.Form.Get("payment_intent") != paid.Reference || req.Form.Get("amount") != fmt.Sprint(s.amount) ||
			req.Form.Get("reason") != wantReason || req.Form.Get("metadata[tender_refund]") != "tre_"+s.idem {
			t.Fatalf("%s: request %+v", s.idem, req)
		}
		if first == nil {
			first = res
		}
	}
	// The fake never refunded more than was captured.
	if pi, _ := e.f.PaymentIntent(paid.Reference); pi.AmountRefunded != 5000 || pi.AmountReceived != 5000 {
		t.Fatalf("refunded %d of %d, want 5000 of 5000", pi.AmountRefunded, pi.AmountReceived)
	}
	// Recovery repeats r1 with its key: the same refund.
	again, err := refund("r1", 2000, "requested_by_customer")
	if err != nil || again.Reference != first.Reference {
		t.Fatalf("repeat = %+v, %v; want %s", again, err, first.Reference)
	}
	got, err := e.p.RetrieveRefund(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: first.Reference})
	if err != nil || got.Status != tender.RefundSucceeded || got.Reference != first.Reference {
		t.Fatalf("retrieve refund = %+v, %v", got, err)
	}
	_, err = e.p.RetrieveRefund(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: "re_nope"})
	if !errors.Is(err, tender.ErrNotFound) {
		t.Fatalf("unknown refund: %v", err)
	}
	_, err = e.p.RetrieveRefund(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", "r9")})
	if !errors.Is(err, tender.ErrNotFound) {
		t.Fatalf("refund without reference: %v", err)
	}
}

func TestSavedCardOffSession(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	attach := &tender.AttachRequest{ProviderCall: testCall(keyA, "acct_A", "save1"), Customer: "tcus_1",
		Email: "jane@example.com", Name: "Jane Doe", PaymentMethod: "pm_card_visa"}
	saved, err := e.p.AttachPaymentMethod(ctx, attach)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(saved.CustomerRef, "cus_") || !strings.HasPrefix(saved.PaymentMethod, "pm_") || saved.Card == nil || saved.Card.Last4 != "4242" {
		t.Fatalf("attach = %+v", saved)
	}
	if req := e.lastRequest(t, "/v1/customers"); req.IdempotencyKey != "save1:customer" || req.Form.Get("email") != "jane@example.com" ||
		req.Form.Get("name") != "Jane Doe" || req.Form.Get("metadata[tender_customer]") != "tcus_1" {
		t.Fatalf("customer request = %+v", req)
	}
	if req := e.lastRequest(t, "/attach"); req.IdempotencyKey != "save1:attach" || req.Form.Get("customer") != saved.CustomerRef {
		t.Fatalf("attach request = %+v", req)
	}
	// Repeated: the same customer and payment method, nothing new.
	again, err := e.p.AttachPaymentMethod(ctx, attach)
	if err != nil || *again.Card != *saved.Card || again.CustomerRef != saved.CustomerRef || again.PaymentMethod != saved.PaymentMethod {
		t.Fatalf("repeat = %+v, %v", again, err)
	}
	// A second card for the same customer: no new customer.
	second, err := e.p.AttachPaymentMethod(ctx, &tender.AttachRequest{ProviderCall: testCall(keyA, "acct_A", "save2"),
		CustomerRef: saved.CustomerRef, PaymentMethod: "pm_card_mastercard"})
	if err != nil || second.CustomerRef != saved.CustomerRef || second.Card.Brand != "mastercard" {
		t.Fatalf("second card = %+v, %v", second, err)
	}
	if customers := len(e.f.Customers("A")); customers != 1 {
		t.Fatalf("%d customers, want 1", customers)
	}
	card, err := e.p.DescribePaymentMethod(ctx, &tender.DescribeRequest{ProviderCall: testCall(keyA, "acct_A", ""), PaymentMethod: saved.PaymentMethod})
	if err != nil || card.Last4 != "4242" || card.Brand != "visa" {
		t.Fatalf("describe = %+v, %v", card, err)
	}

	// Charged later, without the customer.
	res, err := e.authorize(t, "renewal", func(r *tender.AuthorizeRequest) {
		r.PaymentMethod, r.Customer, r.OffSession = saved.PaymentMethod, saved.CustomerRef, true
	})
	if err != nil || res.Status != tender.ProviderSucceeded || res.PaymentMethod != saved.PaymentMethod {
		t.Fatalf("off-session charge = %+v, %v", res, err)
	}
	if req := e.lastRequest(t, "/v1/payment_intents"); req.Form.Get("off_session") != "true" || req.Form.Get("customer") != saved.CustomerRef {
		t.Fatalf("off-session request = %v", req.Form)
	}

	// Detached, it can no longer be charged: Stripe's refusal is definite.
	if err := e.p.DetachPaymentMethod(ctx, &tender.DetachRequest{ProviderCall: testCall(keyA, "acct_A", "detach1"), PaymentMethod: saved.PaymentMethod}); err != nil {
		t.Fatal(err)
	}
	_, err = e.authorize(t, "renewal2", func(r *tender.AuthorizeRequest) {
		r.PaymentMethod, r.OffSession = saved.PaymentMethod, true
	})
	mustTenderError(t, err, tender.InvalidRequestError, "")
}

func TestInvalidRequests(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	_, err := e.authorize(t, "k1", func(r *tender.AuthorizeRequest) { r.PaymentMethod = "pm_bogus" })
	te := mustTenderError(t, err, tender.InvalidRequestError, tender.CodeResourceMissing)
	if te.Param != "payment_method" || !strings.Contains(te.Message, "pm_bogus") {
		t.Fatalf("error = %+v", te)
	}
	_, err = e.p.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: "pi_nope"})
	if !errors.Is(err, tender.ErrNotFound) {
		t.Fatalf("retrieve unknown = %v", err)
	}
	_, err = e.p.Capture(ctx, &tender.CaptureRequest{ProviderCall: testCall(keyA, "acct_A", "c"), Reference: "pi_nope", Amount: 1})
	mustTenderError(t, err, tender.InvalidRequestError, tender.CodeResourceMissing)
}

func TestBadKeys(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	unknown := testCall("sk_test_51ZzZzZzZzZzZzZzZzZzZzZzZzZzZzZzZzZzZzZz00revoked", "acct_A", "k1")
	_, err := e.p.Authorize(ctx, &tender.AuthorizeRequest{ProviderCall: unknown, Amount: 5000, Currency: usd(), PaymentMethod: "pm_card_visa", Capture: true})
	te := mustTenderError(t, err, tender.InvalidRequestError, CodeInvalidCredentials)
	if te.Message != "Stripe rejected this merchant's Stripe key; reconnect Stripe." {
		t.Fatalf("message = %q", te.Message)
	}
	if strings.Contains(err.Error(), "00revoked") {
		t.Fatalf("error text has the key: %s", err)
	}
	_, err = e.p.Refund(ctx, &tender.RefundRequest{ProviderCall: unknown, Reference: "pi_x", Amount: 1})
	mustTenderError(t, err, tender.InvalidRequestError, CodeInvalidCredentials)

	// Keys that must not be sent at all.
	before := len(e.f.Requests())
	for _, tc := range []struct {
		name     string
		key      string
		livemode bool
	}{
		{"live key in test mode", "sk_live_51AaAaAaAaAa", false},
		{"test key in live mode", keyA, true},
		{"publishable key as secret", pkA, false},
		{"no key", "", false},
	} {
		call := testCall(tc.key, "acct_A", "k2")
		call.Livemode = tc.livemode
		_, err := e.p.Authorize(ctx, &tender.AuthorizeRequest{ProviderCall: call, Amount: 5000, Currency: usd(), PaymentMethod: "pm_card_visa"})
		mustTenderError(t, err, tender.InvalidRequestError, CodeInvalidCredentials)
	}
	if n := len(e.f.Requests()); n != before {
		t.Fatalf("%d requests sent with keys of the wrong kind", n-before)
	}
}

func TestFaultsAreUnknownOutcomes(t *testing.T) {
	ops := []struct {
		name string
		call func(p *Provider, ref string) (any, error)
	}{
		{"authorize", func(p *Provider, _ string) (any, error) {
			return p.Authorize(context.Background(), &tender.AuthorizeRequest{ProviderCall: testCall(keyA, "acct_A", "fault-auth"),
				Amount: 5000, Currency: usd(), PaymentMethod: "pm_card_visa", Capture: true})
		}},
		{"capture", func(p *Provider, ref string) (any, error) {
			return p.Capture(context.Background(), &tender.CaptureRequest{ProviderCall: testCall(keyA, "acct_A", "fault-cap"), Reference: ref, Amount: 1000})
		}},
		{"refund", func(p *Provider, ref string) (any, error) {
			return p.Refund(context.Background(), &tender.RefundRequest{ProviderCall: testCall(keyA, "acct_A", "fault-ref"), Reference: ref, Amount: 1000})
		}},
		{"retrieve", func(p *Provider, ref string) (any, error) {
			return p.Retrieve(context.Background(), &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: ref})
		}},
	}
	for _, mode := range []stripefake.Fault{stripefake.Fault500, stripefake.Fault429, stripefake.FaultHang, stripefake.FaultReset,
		stripefake.FaultGarbage, stripefake.FaultDrop} {
		for _, op := range ops {
			t.Run(string(mode)+"/"+op.name, func(t *testing.T) {
				e := newFakeEnv(t, noRetries, func(o *Options) { o.HTTPClient.Timeout = 300 * time.Millisecond })
				hold, err := e.authorize(t, "setup", func(r *tender.AuthorizeRequest) { r.Capture = false })
				if err != nil {
					t.Fatal(err)
				}
				e.f.FailNext(mode, 1)
				res, err := op.call(e.p, hold.Reference)
				if !isUnknown(err) {
					t.Fatalf("%s: got %+v, %v (%T); want a plain error", mode, res, err, err)
				}
				if strings.Contains(err.Error(), "fakeClientSecret") {
					t.Fatalf("error text has a client secret: %s", err)
				}
			})
		}
	}
}

func TestTimeoutByContext(t *testing.T) {
	e := newFakeEnv(t, noRetries)
	e.f.FailNext("hang", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-e.f.Hung() // the request reached Stripe and hangs: give up on it
		cancel()
	}()
	_, err := e.p.Authorize(ctx, &tender.AuthorizeRequest{ProviderCall: testCall(keyA, "acct_A", "k1"), Amount: 5000, Currency: usd(),
		PaymentMethod: "pm_card_visa", Capture: true})
	if !isUnknown(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// The SDK retries a lost answer itself, with the same key: Stripe replays.
func TestNetworkRetryUsesTheSameKey(t *testing.T) {
	e := newFakeEnv(t) // default: one retry
	e.f.FailNext("drop", 1)
	res, err := e.authorize(t, "k1", nil)
	if err != nil || res.Status != tender.ProviderSucceeded {
		t.Fatalf("authorize = %+v, %v", res, err)
	}
	var keys []string
	for _, r := range e.f.Requests() {
		keys = append(keys, r.IdempotencyKey)
	}
	if len(keys) != 2 || keys[0] != "k1" || keys[1] != "k1" || e.f.Created("A") != 1 {
		t.Fatalf("requests with keys %v, %d created; want two with k1 and one PaymentIntent", keys, e.f.Created("A"))
	}
}

func TestRetrieveByKey(t *testing.T) {
	retrieve := func(p *Provider, idem string) (*tender.ProviderResult, error) {
		return p.Retrieve(context.Background(), &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", idem)})
	}
	t.Run("lost answer, same process", func(t *testing.T) {
		e := newFakeEnv(t, noRetries)
		e.f.FailNext("drop", 1) // Stripe charges; the answer never arrives
		_, err := e.authorize(t, "k1", nil)
		if !isUnknown(err) {
			t.Fatalf("lost answer: %v", err)
		}
		if n := e.f.Created("A"); n != 1 {
			t.Fatalf("%d created", n)
		}
		res, err := retrieve(e.p, "k1")
		if err != nil || res.Status != tender.ProviderSucceeded || res.AmountCaptured != 5000 {
			t.Fatalf("retrieve = %+v, %v", res, err)
		}
		pi, ok := e.f.PaymentIntent(res.Reference)
		ok = ok && pi.Account == "A"
		last := e.lastRequest(t, "/v1/payment_intents")
		if !ok || !last.Replayed || last.IdempotencyKey != "k1" || e.f.Created("A") != 1 {
			t.Fatalf("retrieve: ref %s known %v, replayed %v, %d created; want the first PaymentIntent replayed, one charge",
				res.Reference, ok, last.Replayed, e.f.Created("A"))
		}
	})
	t.Run("lost decline", func(t *testing.T) {
		e := newFakeEnv(t, noRetries)
		e.f.FailNext("drop", 1)
		if _, err := e.authorize(t, "k1", func(r *tender.AuthorizeRequest) { r.PaymentMethod = "pm_card_chargeDeclined" }); !isUnknown(err) {
			t.Fatal(err)
		}
		res, err := retrieve(e.p, "k1")
		if err != nil || res.Status != tender.ProviderFailed || res.Error.DeclineCode != "generic_decline" || e.f.Created("A") != 1 {
			t.Fatalf("retrieve = %+v, %v", res, err)
		}
	})
	t.Run("request never arrived", func(t *testing.T) {
		e := newFakeEnv(t, noRetries)
		e.f.FailNext("reset", 1)
		if _, err := e.authorize(t, "k1", nil); !isUnknown(err) {
			t.Fatal(err)
		}
		if n := e.f.Created("A"); n != 0 {
			t.Fatalf("%d created", n)
		}
		res, err := retrieve(e.p, "k1") // performed now, once
		if err != nil || res.Status != tender.ProviderSucceeded || e.f.Created("A") != 1 {
			t.Fatalf("retrieve = %+v, %v", res, err)
		}
	})
	t.Run("after a restart, with a ledger", func(t *testing.T) {
		f := newFake(t)
		f.AddAccount("A", keyA, pkA)
		ledger := newMemLedger()
		withLedger := func(o *Options) { o.Ledger = ledger; o.NetworkRetries = -1 }
		p1, _ := newTestProvider(t, f.URL, withLedger)
		f.FailNext("drop", 1)
		_, err := p1.Authorize(context.Background(), &tender.AuthorizeRequest{ProviderCall: testCall(keyA, "acct_A", "k1"),
			PaymentIntent: "tpi_1", Charge: "tch_1", Amount: 5000, Currency: usd(), PaymentMethod: "pm_card_visa", Capture: true,
			Metadata: map[string]string{"order_id": "42"}})
		if !isUnknown(err) {
			t.Fatal(err)
		}
		p2, _ := newTestProvider(t, f.URL, withLedger) // a new process
		res, err := retrieve(p2, "k1")
		if err != nil || res.Status != tender.ProviderSucceeded || f.Created("A") != 1 {
			t.Fatalf("retrieve = %+v, %v, %d created", res, err, f.Created("A"))
		}
		// A key that was never sent: definitely not found.
		if _, err := retrieve(p2, "never"); !errors.Is(err, tender.ErrNotFound) {
			t.Fatalf("never sent: %v", err)
		}
		// No credentials in the ledger.
		for k, v := range ledger.m {
			if strings.Contains(string(v), keyA) {
				t.Fatalf("ledger record %s holds the secret key", k)
			}
		}
		// Past Stripe's 24 h window, re-sending could charge twice: refused.
		p2.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
		if _, err := retrieve(p2, "k1"); !isUnknown(err) || errors.Is(err, tender.ErrNotFound) {
			t.Fatalf("stale record: %v", err)
		}
	})
	t.Run("after a restart, without a ledger", func(t *testing.T) {
		e := newFakeEnv(t)
		p2, _ := newTestProvider(t, e.f.URL)
		_, err := retrieve(p2, "k1")
		if !isUnknown(err) || errors.Is(err, tender.ErrNotFound) {
			t.Fatalf("without a record nobody can tell: %v", err)
		}
	})
	t.Run("another merchant's key finds nothing", func(t *testing.T) {
		e := newFakeEnv(t)
		e.f.AddAccount("B", keyB, pkB)
		if _, err := e.authorize(t, "k1", nil); err != nil {
			t.Fatal(err)
		}
		_, err := e.p.Retrieve(context.Background(), &tender.RetrieveRequest{ProviderCall: testCall(keyB, "acct_B", "k1")})
		if err == nil {
			t.Fatal("merchant B's retrieve found merchant A's request")
		}
	})
}

// Two merchants' payments, concurrently: every request carries its own
// merchant's key and lands in that merchant's account.
func TestPerRequestIsolation(t *testing.T) {
	f := newFake(t)
	f.AddAccount("A", keyA, pkA)
	f.AddAccount("B", keyB, pkB)
	p, _ := newTestProvider(t, f.URL)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		merchant, key := "acct_A", keyA
		if i%2 == 1 {
			merchant, key = "acct_B", keyB
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := p.Authorize(context.Background(), &tender.AuthorizeRequest{ProviderCall: testCall(key, merchant, fmt.Sprintf("iso-%d", i)),
				PaymentIntent: fmt.Sprintf("%s-pi-%d", merchant, i), Amount: int64(1000 + i), Currency: usd(), PaymentMethod: "pm_card_visa", Capture: true})
			if err == nil && res.Status != tender.ProviderSucceeded {
				err = fmt.Errorf("status %s", res.Status)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, acct := range []string{"A", "B"} {
		pis := f.PaymentIntents(acct)
		for _, pi := range pis {
			if !strings.HasPrefix(pi.Metadata[MetaPaymentIntent], "acct_"+acct+"-") {
				t.Errorf("account %s holds %s's payment %s", acct, pi.Metadata[MetaPaymentIntent], pi.ID)
			}
		}
		if len(pis) != 10 || f.Created(acct) != 10 {
			t.Errorf("account %s has %d payments (%d created), want 10", acct, len(pis), f.Created(acct))
		}
	}
	for _, r := range f.Requests() {
		want := map[string]string{"A": keyA, "B": keyB}[r.Account]
		if r.Key != want {
			t.Errorf("request %s %s landed in account %q with another key", r.Method, r.Path, r.Account)
		}
		md := r.Form.Get("metadata[tender_payment_intent]")
		if !strings.HasPrefix(md, "acct_"+r.Account+"-") {
			t.Errorf("request for %s carried key of account %s", md, r.Account)
		}
	}
}

func TestValidate(t *testing.T) {
	const rkA = "rk_test_51AaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa00restrictA"
	tests := []struct {
		name     string
		livemode bool
		creds    tender.Credentials
		fault    stripefake.Fault
		code     string // "" = valid; "unknown" = a plain error
		contains string
		sent     bool
	}{
		{"valid", false, tender.Credentials{"secret_key": keyA, "publishable_key": pkA, "webhook_secret": "whsec_abc"}, "", "", "", true},
		{"valid restricted key without balance permission", false, tender.Credentials{"secret_key": rkA, "publishable_key": pkA}, "", "", "", true},
		{"unknown key", false, tender.Credentials{"secret_key": "sk_test_51ZzZzZzZzZzZzZzZzZz00nope", "publishable_key": pkA}, "",
			CodeInvalidCredentials, "Stripe rejected the secret key: Invalid API Key provided", true},
		{"modes differ", false, tender.Credentials{"secret_key": keyA, "publishable_key": "pk_live_51Aa"}, "", CodeInvalidCredentials, "same mode", false},
		{"live key in test mode", false, tender.Credentials{"secret_key": "sk_live_51Aa", "publishable_key": "pk_live_51Aa"}, "", CodeInvalidCredentials, "live key", false},
		{"not a webhook secret", false, tender.Credentials{"secret_key": keyA, "publishable_key": pkA, "webhook_secret": "sk_test_x"}, "", CodeInvalidCredentials, "whsec_", false},
		{"publishable key is not one", false, tender.Credentials{"secret_key": keyA, "publishable_key": "sk_test_51Aa"}, "", CodeInvalidCredentials, "pk_", false},
		{"Stripe down", false, tender.Credentials{"secret_key": keyA, "publishable_key": pkA}, "500", "unknown", "", true},
		{"Stripe unreachable", false, tender.Credentials{"secret_key": keyA, "publishable_key": pkA}, "reset", "unknown", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t, noRetries)
			e.f.AddRestrictedKey("A", rkA)
			if tt.fault != "" {
				e.f.FailNext(tt.fault, 1)
			}
			err := e.p.Info().Validate(context.Background(), tt.livemode, tt.creds)
			switch tt.code {
			case "":
				if err != nil {
					t.Fatal(err)
				}
			case "unknown":
				if !isUnknown(err) {
					t.Fatalf("err = %v, want a plain error", err)
				}
			default:
				te := mustTenderError(t, err, tender.InvalidRequestError, tt.code)
				if !strings.Contains(te.Message, tt.contains) {
					t.Fatalf("message %q does not say %q", te.Message, tt.contains)
				}
			}
			if sent := len(e.f.Requests()) > 0; sent != tt.sent {
				t.Fatalf("sent to Stripe: %v, want %v", sent, tt.sent)
			}
		})
	}
}

// The provider's logs, through every kind of outcome, never hold a
// secret key (every test's logs are also checked when it ends).
func TestNoSecretsInLogs(t *testing.T) {
	e := newFakeEnv(t, noRetries)
	ctx := context.Background()
	e.authorize(t, "ok", nil)
	e.authorize(t, "declined", func(r *tender.AuthorizeRequest) { r.PaymentMethod = "pm_card_chargeDeclined" })
	e.authorize(t, "bad-pm", func(r *tender.AuthorizeRequest) { r.PaymentMethod = "pm_bogus" })
	e.f.FailNext("500", 1)
	e.authorize(t, "fault", nil)
	e.p.Authorize(ctx, &tender.AuthorizeRequest{ProviderCall: testCall(keyB, "acct_B", "unknown-key"), Amount: 5000, Currency: usd(),
		PaymentMethod: "pm_card_visa"})
	e.p.Info().Validate(ctx, false, tender.Credentials{"secret_key": keyB, "publishable_key": pkA})
	logs := e.logs.String()
	if !strings.Contains(logs, "stripe authorize") || !strings.Contains(logs, "source=stripe-go") {
		t.Fatalf("expected provider and SDK logs, got:\n%s", logs)
	}
	assertNoSecrets(t, logs)
	if strings.Contains(logs, "sk_test_51") {
		t.Fatalf("logs hold a key prefix with its secret part:\n%s", logs)
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"Invalid API Key provided: sk_test_51Abc":       "Invalid API Key provided: sk_test_[redacted]",
		"key rk_live_XyZ1 and pk_test_Q":                "key rk_live_[redacted] and pk_test_[redacted]",
		"secret pi_123_secret_abcDEF here":              "secret pi_123_secret_[redacted] here",
		"whsec_abc123 leaked":                           "whsec_[redacted] leaked",
		"Invalid API Key provided: sk_test_****1234":    "Invalid API Key provided: sk_test_****1234",
		"No such PaymentMethod: 'pm_card_visa' (param)": "No such PaymentMethod: 'pm_card_visa' (param)",
	}
	for in, want := range tests {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
