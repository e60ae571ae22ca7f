package storefront_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/stripefake"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
	"github.com/tenderhq/tender/provider/stripe"
)

// TestSeed000StripeCreateIntent follows seed 000's Stripe flow: the
// storefront gets Stripe's client secret and the store's publishable key,
// Stripe.js confirms in the browser, Stripe's webhook completes the order.
func TestSeed000StripeCreateIntent(t *testing.T) {
	fake := stripefake.New()
	defer fake.Close()
	const sk, pk, whsec = "sk_test_storefront0000000000000000000000", "pk_test_storefront0000000000000000000000", "whsec_storefront0000000000000000"
	fake.AddAccount("shop", sk, pk)
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			s := testserver.Start(t, testserver.Options{Kind: kind, Env: map[string]string{"TENDER_STRIPE_API_URL": fake.URL}})
			key := s.Merchant.TestSecretKey
			ok(t)(do(t, s, key, "PUT", "/v1/provider_configs/stripe", map[string]any{"credentials": map[string]any{
				"publishable_key": pk, "secret_key": sk, "webhook_secret": whsec}}))
			order := ok(t)(do(t, s, key, "POST", "/v1/checkout/sessions", map[string]any{"amount": 4000, "currency": "usd", "success_url": "https://shop.example/ok"}))
			got := ok(t)(do(t, s, s.Merchant.TestPublishableKey, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order["id"], "provider": "stripe"}))
			// Seed 000's Stripe response.
			if got["provider"] != "stripe" || num(got["amount"]) != 4000 || got["currency"] != "usd" || got["publishable_key"] != pk ||
				!strings.HasPrefix(got["payment_intent_id"].(string), "pi_") || !strings.HasPrefix(got["client_secret"].(string), got["payment_intent_id"].(string)+"_secret_") {
				t.Fatalf("create-intent %v", got)
			}
			again := ok(t)(do(t, s, s.Merchant.TestPublishableKey, "POST", "/api/v1/payments/create-intent", map[string]any{"order_id": order["id"], "provider": "stripe"}))
			if again["client_secret"] != got["client_secret"] {
				t.Fatalf("asking again started another payment: %v", again)
			}
			stripePI := got["payment_intent_id"].(string)
			tenderPI := ok(t)(do(t, s, key, "GET", "/v1/payment_intents/"+got["tender_payment_intent"].(string), nil))
			if tenderPI["status"] != "requires_action" {
				t.Fatalf("tender intent before the browser confirmed: %v", tenderPI["status"])
			}
			// Stripe.js confirms; Stripe sends its webhook.
			if err := fake.ConfirmClientSide(stripePI, "pm_card_visa"); err != nil {
				t.Fatal(err)
			}
			payload, err := fake.Event("payment_intent.succeeded", stripePI)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"Content-Type": {"application/json"}, "Stripe-Signature": {stripe.SignWebhook(payload, whsec, time.Now())}}
			r := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/webhooks/stripe/" + s.Merchant.ID, Raw: payload, Header: h})
			if r.Status != 200 || !strings.Contains(string(r.Body), `"applied":true`) {
				t.Fatalf("webhook: %d %s", r.Status, r.Body)
			}
			sess := ok(t)(do(t, s, key, "GET", "/v1/checkout/sessions/"+order["id"].(string), nil))
			if sess["status"] != "complete" || sess["payment_status"] != "paid" {
				t.Fatalf("order after Stripe's webhook %v", sess)
			}
		})
	}
}
