package stripe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender"
)

const whsec = "whsec_test_0123456789abcdef"

// stripeSign builds a Stripe-Signature the way Stripe does, independently
// of the code under test: t=…,v1=hex(HMAC-SHA256(secret, "t.payload")).
func stripeSign(payload []byte, secret string, t time.Time) string {
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), sig(payload, secret, t))
}

func sig(payload []byte, secret string, t time.Time) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t.Unix(), payload)
	return hex.EncodeToString(mac.Sum(nil))
}

func event(typ, object string) []byte {
	return []byte(`{"id":"evt_1","object":"event","api_version":"2020-08-27","type":"` + typ +
		`","livemode":false,"created":1700000000,"data":{"object":` + object + `}}`)
}

const piSucceeded = `{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":5000,"amount_received":5000,
"amount_capturable":0,"payment_method":"pm_1","metadata":{"tender_payment_intent":"tpi_1","tender_charge":"tch_1"},
"latest_charge":"ch_1","some_future_field":{"x":[1,2]}}`

func TestVerifyWebhook(t *testing.T) {
	now := time.Unix(1700000100, 0)
	payload := event("payment_intent.succeeded", piSucceeded)
	tests := []struct {
		name    string
		payload []byte
		header  string
		secret  string
		want    error
	}{
		{"valid", payload, stripeSign(payload, whsec, now), whsec, nil},
		{"valid, 299 s old", payload, stripeSign(payload, whsec, now.Add(-299*time.Second)), whsec, nil},
		{"two v1, the second valid (secret being rolled)", payload,
			fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), sig(payload, "whsec_old", now), sig(payload, whsec, now)), whsec, nil},
		{"with a v0 and spaces", payload, fmt.Sprintf("t=%d, v1=%s, v0=abc", now.Unix(), sig(payload, whsec, now)), whsec, nil},
		{"wrong secret", payload, stripeSign(payload, "whsec_other", now), whsec, ErrWebhookBadSignature},
		{"tampered payload", []byte(strings.Replace(string(payload), "5000", "9000", 1)), stripeSign(payload, whsec, now), whsec, ErrWebhookBadSignature},
		{"missing header", payload, "", whsec, ErrWebhookNoSignature},
		{"stale: 301 s old", payload, stripeSign(payload, whsec, now.Add(-301*time.Second)), whsec, ErrWebhookTimestamp},
		{"future: 301 s ahead", payload, stripeSign(payload, whsec, now.Add(301*time.Second)), whsec, ErrWebhookTimestamp},
		{"no timestamp", payload, "v1=" + sig(payload, whsec, now), whsec, ErrWebhookBadHeader},
		{"two timestamps", payload, fmt.Sprintf("t=1,t=%d,v1=%s", now.Unix(), sig(payload, whsec, now)), whsec, ErrWebhookBadHeader},
		{"garbage header", payload, "garbage", whsec, ErrWebhookBadHeader},
		{"v0 only", payload, fmt.Sprintf("t=%d,v0=%s", now.Unix(), sig(payload, whsec, now)), whsec, ErrWebhookBadSignature},
		{"signature not hex", payload, fmt.Sprintf("t=%d,v1=zz", now.Unix()), whsec, ErrWebhookBadSignature},
		{"no secret configured", payload, stripeSign(payload, "", now), "", ErrWebhookNoSecret},
		{"signed but not an event", []byte(`{"object":"payment_intent"}`), stripeSign([]byte(`{"object":"payment_intent"}`), whsec, now), whsec, ErrWebhookPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := VerifyWebhook(tt.payload, tt.header, tt.secret, now)
			if tt.want != nil {
				if !errors.Is(err, tt.want) || ev != nil {
					t.Fatalf("got %+v, %v; want %v", ev, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID != "evt_1" || ev.Type != "payment_intent.succeeded" || ev.Apply == nil {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

func TestSignWebhookMatchesStripe(t *testing.T) {
	now := time.Unix(1700000000, 0)
	p := event("payment_intent.succeeded", piSucceeded)
	if got, want := SignWebhook(p, whsec, now), stripeSign(p, whsec, now); got != want {
		t.Fatalf("SignWebhook = %s, want %s", got, want)
	}
}

func TestWebhookEvents(t *testing.T) {
	tests := []struct {
		typ, object string
		check       func(t *testing.T, ev *WebhookEvent)
	}{
		{"payment_intent.succeeded", piSucceeded, func(t *testing.T, ev *WebhookEvent) {
			p := wantPayment(t, ev, "pi_1", tender.ProviderSucceeded)
			if p.AmountCaptured != 5000 || p.PaymentMethod != "pm_1" {
				t.Fatalf("payment = %+v", p)
			}
		}},
		{"payment_intent.payment_failed", `{"id":"pi_2","object":"payment_intent","status":"requires_payment_method",
			"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"stolen_card","message":"Your card was declined."},
			"metadata":{"tender_charge":"tch_2"}}`, func(t *testing.T, ev *WebhookEvent) {
			p := wantPayment(t, ev, "pi_2", tender.ProviderFailed)
			if p.Error == nil || p.Error.Code != "card_declined" || p.Error.DeclineCode != "stolen_card" || p.Error.Message != "Your card was declined." {
				t.Fatalf("error = %+v", p.Error)
			}
		}},
		{"payment_intent.canceled", `{"id":"pi_3","object":"payment_intent","status":"canceled"}`, func(t *testing.T, ev *WebhookEvent) {
			wantPayment(t, ev, "pi_3", tender.ProviderCanceled)
		}},
		{"payment_intent.requires_action", `{"id":"pi_4","object":"payment_intent","status":"requires_action",
			"next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3ds","return_url":"https://shop/back"}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				p := wantPayment(t, ev, "pi_4", tender.ProviderRequiresAction)
				if p.NextAction == nil || p.NextAction.RedirectToURL == nil || p.NextAction.RedirectToURL.URL != "https://hooks.stripe.com/3ds" {
					t.Fatalf("next action = %+v", p.NextAction)
				}
			}},
		{"payment_intent.requires_action", `{"id":"pi_4b","object":"payment_intent","status":"requires_action",
			"next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{"type":"three_d_secure_redirect","stripe_js":"https://js"}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				p := wantPayment(t, ev, "pi_4b", tender.ProviderRequiresAction)
				if p.NextAction.Type != "use_stripe_sdk" || p.NextAction.UseStripeSDK["stripe_js"] != "https://js" {
					t.Fatalf("next action = %+v", p.NextAction)
				}
			}},
		{"payment_intent.amount_capturable_updated", `{"id":"pi_5","object":"payment_intent","status":"requires_capture","amount_capturable":700}`,
			func(t *testing.T, ev *WebhookEvent) {
				if p := wantPayment(t, ev, "pi_5", tender.ProviderRequiresCapture); p.AmountCapturable != 700 {
					t.Fatalf("capturable = %d", p.AmountCapturable)
				}
			}},
		{"payment_intent.processing", `{"id":"pi_6","object":"payment_intent","status":"processing"}`, func(t *testing.T, ev *WebhookEvent) {
			wantPayment(t, ev, "pi_6", tender.ProviderProcessing)
		}},
		{"payment_intent.created", `{"id":"pi_7","object":"payment_intent","status":"requires_payment_method"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Apply != nil || ev.PaymentIntentRef != "pi_7" {
				t.Fatalf("ignored type applied: %+v", ev.Apply)
			}
		}},
		{"charge.refunded", `{"id":"ch_1","object":"charge","payment_intent":"pi_1","metadata":{"tender_charge":"tch_1"},
			"refunds":{"object":"list","data":[
				{"id":"re_2","object":"refund","status":"pending","amount":300,"created":1700000200,"payment_intent":"pi_1"},
				{"id":"re_1","object":"refund","status":"succeeded","amount":200,"created":1700000100,"payment_intent":"pi_1"}]}}`,
			func(t *testing.T, ev *WebhookEvent) {
				if ev.ObjectID != "ch_1" || ev.PaymentIntentRef != "pi_1" || ev.Metadata[MetaCharge] != "tch_1" || len(ev.Refunds) != 2 {
					t.Fatalf("event = %+v", ev)
				}
				wantRefund(t, ev.Apply, "re_2", "pi_1", tender.RefundPending) // the latest
				wantRefund(t, &ev.Refunds[1], "re_1", "pi_1", tender.RefundSucceeded)
			}},
		{"charge.refunded", `{"id":"ch_2","object":"charge","payment_intent":"pi_2"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Apply != nil || len(ev.Refunds) != 0 || ev.PaymentIntentRef != "pi_2" { // newer API versions: no refunds list
				t.Fatalf("event = %+v", ev)
			}
		}},
		{"refund.updated", `{"id":"re_3","object":"refund","status":"failed","failure_reason":"expired_or_canceled_card","amount":100,
			"payment_intent":"pi_1","charge":"ch_1","metadata":{"tender_refund":"tre_3"}}`, func(t *testing.T, ev *WebhookEvent) {
			r := wantRefund(t, ev.Apply, "re_3", "pi_1", tender.RefundFailed)
			if r.FailureReason != "expired_or_canceled_card" || ev.Metadata[MetaRefund] != "tre_3" || ev.PaymentIntentRef != "pi_1" {
				t.Fatalf("refund = %+v, event %+v", r, ev)
			}
		}},
		{"refund.created", `{"id":"re_4","object":"refund","status":"succeeded","payment_intent":"pi_1"}`, func(t *testing.T, ev *WebhookEvent) {
			wantRefund(t, ev.Apply, "re_4", "pi_1", tender.RefundSucceeded)
		}},
		{"charge.refund.updated", `{"id":"re_5","object":"refund","status":"canceled","payment_intent":"pi_1"}`, func(t *testing.T, ev *WebhookEvent) {
			if r := wantRefund(t, ev.Apply, "re_5", "pi_1", tender.RefundFailed); r.FailureReason != "canceled" {
				t.Fatalf("refund = %+v", r)
			}
		}},
		{"customer.created", `{"id":"cus_1","object":"customer"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Apply != nil || ev.ObjectID != "cus_1" {
				t.Fatalf("event = %+v", ev)
			}
		}},
	}
	now := time.Unix(1700000100, 0)
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			payload := event(tt.typ, tt.object)
			ev, err := VerifyWebhook(payload, stripeSign(payload, whsec, now), whsec, now)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Created != time.Unix(1700000000, 0).UTC() || ev.Livemode {
				t.Fatalf("event = %+v", ev)
			}
			tt.check(t, ev)
		})
	}
}

func wantPayment(t *testing.T, ev *WebhookEvent, ref string, status tender.ProviderStatus) *tender.ProviderResult {
	t.Helper()
	a := ev.Apply
	if a == nil || a.Payment == nil || a.Refund != nil || a.Provider != Key || a.Reference != ref || a.Payment.Reference != ref ||
		a.Payment.Status != status || ev.PaymentIntentRef != ref || ev.ObjectID != ref {
		t.Fatalf("apply = %+v (payment %+v), want %s %s", a, a.Payment, ref, status)
	}
	return a.Payment
}

func wantRefund(t *testing.T, a *tender.ProviderEvent, ref, pi, status string) *tender.RefundResult {
	t.Helper()
	if a == nil || a.Refund == nil || a.Payment != nil || a.Provider != Key || a.Reference != ref || a.PaymentReference != pi ||
		a.Refund.Reference != ref || a.Refund.Status != status {
		t.Fatalf("apply = %+v, want refund %s of %s %s", a, ref, pi, status)
	}
	return a.Refund
}

func TestPeekWebhook(t *testing.T) {
	tests := []struct {
		typ, object, objectID, pi string
		metadata                  map[string]string
	}{
		{"payment_intent.succeeded", piSucceeded, "pi_1", "pi_1", map[string]string{MetaPaymentIntent: "tpi_1", MetaCharge: "tch_1"}},
		{"charge.refunded", `{"id":"ch_1","object":"charge","payment_intent":{"id":"pi_9","object":"payment_intent"},"metadata":{"tender_charge":"tch_9"}}`,
			"ch_1", "pi_9", map[string]string{MetaCharge: "tch_9"}},
		{"refund.updated", `{"id":"re_1","object":"refund","payment_intent":"pi_8","metadata":{"tender_refund":"tre_1"}}`,
			"re_1", "pi_8", map[string]string{MetaRefund: "tre_1"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ev, err := PeekWebhook(event(tt.typ, tt.object))
			if err != nil {
				t.Fatal(err)
			}
			if ev.ObjectID != tt.objectID || ev.PaymentIntentRef != tt.pi || fmt.Sprint(ev.Metadata) != fmt.Sprint(tt.metadata) {
				t.Fatalf("peek = %+v", ev)
			}
			if ev.Apply != nil || ev.Refunds != nil {
				t.Fatal("an unverified event must carry nothing to apply")
			}
		})
	}
	for _, bad := range []string{``, `{`, `{"object":"event"}`, `{"id":"evt_1","object":"v2.core.event","type":"x","data":{"object":{}}}`} {
		if _, err := PeekWebhook([]byte(bad)); !errors.Is(err, ErrWebhookPayload) {
			t.Errorf("PeekWebhook(%q) = %v", bad, err)
		}
	}
}
