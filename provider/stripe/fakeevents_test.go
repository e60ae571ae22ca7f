package stripe

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/internal/stripefake"
)

// The fake's Stripe-side changes (an asynchronous payment settling, 3-D
// Secure completed, a dashboard capture) and the events it builds about
// them read the same through the provider's webhook parsing as through
// Retrieve: what Tender learns by webhook and by reconciliation agree.
func TestFakeStripeSideChanges(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		pm       string
		capture  bool
		change   func(f *stripefake.Fake, ref string) error
		event    string
		status   tender.ProviderStatus
		captured int64
		decline  string
	}{
		{"async settles", "pm_card_processing", true, func(f *stripefake.Fake, ref string) error { return f.SettleAsync(ref) },
			"payment_intent.succeeded", tender.ProviderSucceeded, 5000, ""},
		{"async settles a hold", "pm_card_processing", false, func(f *stripefake.Fake, ref string) error { return f.SettleAsync(ref) },
			"payment_intent.amount_capturable_updated", tender.ProviderRequiresCapture, 0, ""},
		{"async fails", "pm_card_processing", true, func(f *stripefake.Fake, ref string) error { return f.FailAsync(ref, "do_not_honor") },
			"payment_intent.payment_failed", tender.ProviderFailed, 0, "do_not_honor"},
		{"3-D Secure passed", "pm_card_threeDSecure2Required", true, func(f *stripefake.Fake, ref string) error { return f.Authenticate(ref, true) },
			"payment_intent.succeeded", tender.ProviderSucceeded, 5000, ""},
		{"3-D Secure failed", "pm_card_threeDSecure2Required", true, func(f *stripefake.Fake, ref string) error { return f.Authenticate(ref, false) },
			"payment_intent.payment_failed", tender.ProviderFailed, 0, ""},
		{"captured from the dashboard", "pm_card_visa", false, func(f *stripefake.Fake, ref string) error { return f.Capture(ref) },
			"payment_intent.succeeded", tender.ProviderSucceeded, 5000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t)
			res, err := e.authorize(t, "k1", func(r *tender.AuthorizeRequest) { r.PaymentMethod, r.Capture = tt.pm, tt.capture })
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.change(e.f, res.Reference); err != nil {
				t.Fatal(err)
			}
			if err := tt.change(e.f, res.Reference); err == nil {
				t.Fatal("the same change twice was accepted")
			}
			payload, err := e.f.Event(tt.event, res.Reference)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			ev, err := VerifyWebhook(payload, SignWebhook(payload, whsec, now), whsec, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.p.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: res.Reference})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []*tender.ProviderResult{ev.Apply.Payment, got} {
				if r.Status != tt.status || r.Reference != res.Reference || r.AmountCaptured != tt.captured {
					t.Fatalf("event %+v, retrieve %+v; want %s captured %d", ev.Apply.Payment, got, tt.status, tt.captured)
				}
				if tt.decline != "" && (r.Error == nil || r.Error.DeclineCode != tt.decline) {
					t.Fatalf("error %+v, want decline %s", r.Error, tt.decline)
				}
			}
			if ev.Type != tt.event || ev.Livemode || ev.Metadata[MetaPaymentIntent] != "tpi_k1" || ev.Metadata[MetaCharge] != "tch_k1" {
				t.Fatalf("event %+v", ev)
			}
			// Each call builds a new event; the same bytes are a redelivery.
			again, _ := e.f.Event(tt.event, res.Reference)
			if ev2, _ := PeekWebhook(again); ev2 == nil || ev2.ID == ev.ID {
				t.Fatalf("two events with id %s", ev.ID)
			}
		})
	}
}

func TestFakeRefundEvents(t *testing.T) {
	e := newFakeEnv(t)
	ctx := context.Background()
	paid, err := e.authorize(t, "k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	re, err := e.p.Refund(ctx, &tender.RefundRequest{ProviderCall: testCall(keyA, "acct_A", "r1"), Refund: "tre_1",
		Reference: paid.Reference, Amount: 1500, Currency: usd()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, err := e.f.Event("refund.created", re.Reference)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := VerifyWebhook(payload, SignWebhook(payload, whsec, now), whsec, now)
	if err != nil {
		t.Fatal(err)
	}
	wantRefund(t, ev.Apply, re.Reference, paid.Reference, tender.RefundSucceeded)
	pi, _ := e.f.PaymentIntent(paid.Reference)
	payload, err = e.f.Event("charge.refunded", pi.LatestCharge)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = VerifyWebhook(payload, SignWebhook(payload, whsec, now), whsec, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Refunds) != 1 || ev.PaymentIntentRef != paid.Reference {
		t.Fatalf("charge.refunded %+v", ev)
	}
	wantRefund(t, ev.Apply, re.Reference, paid.Reference, tender.RefundSucceeded)
	if _, err := e.f.Event("charge.refunded", "ch_nope"); err == nil {
		t.Fatal("an event about an unknown object")
	}
}

// Each key sees only its account, and a publishable key is refused on the
// secret endpoints, as at Stripe.
func TestFakeKeys(t *testing.T) {
	e := newFakeEnv(t)
	e.f.AddAccount("B", keyB, pkB)
	ctx := context.Background()
	paid, err := e.authorize(t, "k1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.p.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyB, "acct_B", ""), Reference: paid.Reference})
	if !errors.Is(err, tender.ErrNotFound) {
		t.Fatalf("merchant B read merchant A's PaymentIntent: %v", err)
	}
	_, err = e.p.Refund(ctx, &tender.RefundRequest{ProviderCall: testCall(keyB, "acct_B", "r1"), Reference: paid.Reference, Amount: 100})
	mustTenderError(t, err, tender.InvalidRequestError, tender.CodeResourceMissing)
	if pi, _ := e.f.PaymentIntent(paid.Reference); pi.AmountRefunded != 0 || pi.Account != "A" {
		t.Fatalf("A's payment after B's refund: %+v", pi)
	}
	// A rolled key: the new one reaches the same account, the old one is refused.
	const rolled = "sk_test_51AaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa00rolledA"
	e.f.AddAccount("A", rolled, "")
	e.f.RemoveKey(keyA)
	if _, err := e.p.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: testCall(rolled, "acct_A", ""), Reference: paid.Reference}); err != nil {
		t.Fatalf("rolled key: %v", err)
	}
	_, err = e.p.Retrieve(ctx, &tender.RetrieveRequest{ProviderCall: testCall(keyA, "acct_A", ""), Reference: paid.Reference})
	mustTenderError(t, err, tender.InvalidRequestError, CodeInvalidCredentials)
	// The publishable key is known but not a secret key: Stripe refuses it
	// (the provider itself never sends one: see TestBadKeys).
	req, _ := http.NewRequest("GET", e.f.URL+"/v1/balance", nil)
	req.Header.Set("Authorization", "Bearer "+pkA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reqs := e.f.Requests(); resp.StatusCode != 401 || reqs[len(reqs)-1].Account != "" {
		t.Fatalf("publishable key on /v1/balance: %d, %+v", resp.StatusCode, reqs[len(reqs)-1])
	}
}
